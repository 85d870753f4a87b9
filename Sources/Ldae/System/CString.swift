extension String {
    /// A string the C side wrote into a fixed buffer: up to the first NUL, or the whole buffer if it has none
    /// (never reads past it). Error messages from the codecs, fixed-length HDF5 string attributes.
    init(nulTerminated buf: [CChar]) {
        self = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
