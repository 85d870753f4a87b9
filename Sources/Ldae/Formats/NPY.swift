import Foundation

/// numpy `.npy`: written as format 1.0 (float32 / int32 arrays, C order); read in formats 1.x-3.x (below).
public enum NPY {
    public static func encode(_ values: [Float], shape: [Int]) -> Data { encode(raw: values, descr: "<f4", shape: shape) }
    public static func encode(_ values: [Int32], shape: [Int]) -> Data { encode(raw: values, descr: "<i4", shape: shape) }

    static func encode<T>(raw values: [T], descr: String, shape: [Int]) -> Data {
        require(shape.reduce(1, *) == values.count)
        var d = header(descr: descr, shape: shape)
        values.withUnsafeBytes { d.append(contentsOf: $0) }
        return d
    }

    /// The .npy v1.0 header of a C-order array (`descr` e.g. "<f4"), padded to 64 bytes; the data follows it.
    public static func header(descr: String, shape: [Int]) -> Data {
        let shapeStr = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeStr), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Swift.Array("NUMPY".utf8) + [1, 0])
        var hl = UInt16(header.utf8.count).littleEndian
        withUnsafeBytes(of: &hl) { d.append(contentsOf: $0) }
        d.append(contentsOf: Swift.Array(header.utf8))
        return d
    }

    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        try AtomicFile.write(encode(values, shape: shape), to: path)
    }
}

/// Reading: numpy .npy files (format 1.x/2.x, C order, little-endian float32/float64/int32/int64) - the features and
/// labels `ldae-zoo features` writes, or any a user brings to `ldae-zoo probe`.
extension NPY {
    public struct Array: Sendable {
        public var shape: [Int]
        public var values: [Double]
    }

    /// What a .npy header says: element type, shape, where the data starts and the element size.
    public struct Header: Sendable {
        public var descr: String
        public var shape: [Int]
        public var dataOffset: Int
        public var elementSize: Int
        /// Elements in the array (checked for overflow when parsed).
        public var count: Int
    }

    /// The header of a .npy file, read without its data (headers longer than 128 KB are refused as truncated).
    public static func header(_ path: String) throws -> Header {
        guard FileUtil.exists(path) else { throw LdaeError("no such file", file: path) }
        guard let h = FileHandle(forReadingAtPath: path) else { throw LdaeError.system("cannot read", file: path) }
        defer { try? h.close() }
        return try parseHeader((try h.read(upToCount: 1 << 17)) ?? Data(), path: path)
    }

    /// Parses the header at the start of `d` (the file, or at least its header).
    static func parseHeader(_ d: Data, path: String) throws -> Header {
        guard d.count >= 10, d.prefix(6) == Data([0x93] + Swift.Array("NUMPY".utf8)) else {
            throw LdaeError("not a .npy file (bad magic)", file: path)
        }
        let major = d[d.startIndex + 6]
        guard (1...3).contains(major) else { throw LdaeError("not a .npy file (format version \(major) is not 1, 2 or 3)", file: path) }
        let hlen: Int, hstart: Int
        if major == 1 { hlen = Int(d[d.startIndex + 8]) | Int(d[d.startIndex + 9]) << 8; hstart = 10 }
        else {
            guard d.count >= 12 else { throw LdaeError("not a .npy file (truncated header)", file: path) }
            hlen = (0..<4).reduce(0) { $0 | Int(d[d.startIndex + 8 + $1]) << (8 * $1) }; hstart = 12
        }
        guard d.count >= hstart + hlen else { throw LdaeError("not a .npy file (truncated header)", file: path) }
        let header = String(decoding: d[(d.startIndex + hstart)..<(d.startIndex + hstart + hlen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'") else { throw LdaeError("npy header has no descr", file: path) }
        let rest = descrField[descrField.index(after: q1)...]
        guard let q2 = rest.firstIndex(of: "'") else { throw LdaeError("npy header has a malformed descr", file: path) }
        let descr = String(rest[..<q2])
        if let fo = field("fortran_order"), fo.hasPrefix("True") { throw LdaeError("Fortran-order arrays are not supported (save with np.ascontiguousarray)", file: path) }
        guard let sf = field("shape"), sf.hasPrefix("("), let close = sf.firstIndex(of: ")") else {
            throw LdaeError("npy header has no shape", file: path)
        }
        // "(3, 4)", "(5,)", "()": integers separated by commas, a trailing comma allowed
        var items = sf[sf.index(after: sf.startIndex)..<close].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if items.last == "" { items.removeLast() }
        let dims = items.map { Int($0) }
        guard dims.allSatisfy({ $0 != nil }) else {
            throw LdaeError("npy header has a malformed shape '\(sf[...close])'", file: path)
        }
        let shape = dims.map { $0! }
        guard let n = Checked.count(shape) else { throw LdaeError("npy header has an impossible shape \(shape)", file: path) }
        let esize: Int
        switch descr { case "<f4", "<i4": esize = 4; case "<f8", "<i8": esize = 8
        default: throw LdaeError("unsupported dtype '\(descr)' (float32/float64/int32/int64 little-endian)", file: path) }
        return Header(descr: descr, shape: shape, dataOffset: hstart + hlen, elementSize: esize, count: n)
    }

    public static func read(_ path: String) throws -> Array {
        let d = try FileUtil.read(path)
        let h = try parseHeader(d, path: path)
        let (descr, shape, n, start) = (h.descr, h.shape, h.count, h.dataOffset)
        guard let bytes = Checked.bytes(n, h.elementSize), Checked.inside(start: start, length: bytes, total: d.count) else { throw LdaeError("truncated: \(d.count - start) data bytes for shape \(shape) of \(descr)", file: path) }
        var vals = [Double](repeating: 0, count: n)
        d.withUnsafeBytes { raw in
            let p = raw.baseAddress! + start
            for i in 0..<n {
                switch descr {
                case "<f4": vals[i] = Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                case "<f8": vals[i] = Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case "<i4": vals[i] = Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                default: vals[i] = Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                }
            }
        }
        return Array(shape: shape, values: vals)
    }

    /// Features F.npy [n, f] and labels F.labels.npy [n] (or `labels` when given).
    public static func readFeatures(_ path: String, labels lpath: String? = nil) throws -> (x: [Float], y: [Int32], dim: Int) {
        let f = try read(path)
        guard f.shape.count == 2 else { throw LdaeError("features must be 2-D [n, dim], got shape \(f.shape)", file: path) }
        let lp = lpath ?? FeatureFiles.labels(for: path)
        let l = try read(lp)
        guard l.shape == [f.shape[0]] else { throw LdaeError("labels have shape \(l.shape), features \(f.shape)", file: lp) }
        return (f.values.map { Float($0) }, l.values.map { Int32($0) }, f.shape[1])
    }
}

