// The HDF5 targets' second kind of input: a layout in text, which the target writes as a well-formed HDF5 file
// (with ldae's own writer) before the loaders read it. Raw bytes exercise HDF5's parser of corrupt files and ldae's
// handling of its errors; most byte mutations of an HDF5 file break its structure, and HDF5 1.10 has crashes of its
// own there (docs/fuzzing.md). A layout reaches ldae's checks of what a well-formed file holds: attribute types and
// values, missing or extra datasets, element types, shapes (huge ones too: a dataset written without data is
// filled with zeros and takes no space), JSON in attributes.
//
//   #ldae-h5-layout                           first line
//   a NAME s TEXT...                          string attribute (variable-length UTF-8, the rest of the line)
//   a NAME i INTEGER                          64-bit integer attribute
//   a NAME f NUMBER                           float64 attribute
//   d NAME TYPE DIMS [c ROWS] [z LEVEL] [= V V ...]   dataset: TYPE u8 i8 u16 i32 i64 f32 f64, DIMS "3,4,12" ("-":
//                                             a scalar), chunked by ROWS, gzip LEVEL; the values repeat to fill at
//                                             most 2^16 elements (whole rows), the rest is left unwritten (zeros)
//   s NAME TEXT|TEXT|...                      dataset of variable-length strings
// Lines that do not parse are ignored; a file HDF5 refuses to write is skipped (the input is not interesting).
import Foundation
import Ldae

public enum H5Layout {
    public static let magic = "#ldae-h5-layout"

    /// Whether the input is a layout (else raw file bytes).
    public static func isLayout(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= magic.utf8.count && zip(b, magic.utf8).allSatisfy { $0 == $1 }
    }

    /// Writes the layout in `text` as the HDF5 file `path`; false when HDF5 refuses it.
    public static func write(_ text: String, to path: String) -> Bool {
        unlink(path)
        do {
            let f = try H5File.create(path)
            do {
                for line in text.split(separator: "\n").dropFirst() { try apply(line, f) }
                try f.close()
            } catch {
                f.discard()
                throw error
            }
            return true
        } catch {
            return false
        }
    }

    static func apply(_ line: Substring, _ f: H5File) throws {
        let w = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
        guard w.count >= 3, !w[1].isEmpty else { return }
        let name = w[1]
        switch w[0] {
        case "a":
            guard w.count == 4 else { return }
            switch w[2] {
            case "s": try f.setAttribute(name, w[3])
            case "i": if let v = Int(w[3]) { try f.setAttribute(name, v) }
            case "f": if let v = Double(w[3]) { try f.setAttribute(name, v) }
            default: return
            }
        case "s":
            let rest = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard rest.count == 3 else { return }
            try f.writeStrings(name, rest[2].split(separator: "|", omittingEmptySubsequences: false).map(String.init))
        case "d":
            let all = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard all.count >= 4 else { return }
            let dims = all[3] == "-" ? [] : all[3].split(separator: ",").compactMap { Int($0) }
            guard dims.allSatisfy({ $0 >= 0 }), dims.count <= 8 else { return }
            var chunk: Int? = nil, gzip: Int? = nil, values: [Double] = []
            var i = 4
            while i < all.count {
                if all[i] == "=" { values = all[(i + 1)...].compactMap { Double($0) }; break }
                if i + 1 < all.count, let v = Int(all[i + 1]) {
                    if all[i] == "c" { chunk = max(1, v) } else if all[i] == "z" { gzip = min(9, max(0, v)) }
                }
                i += 2
            }
            switch all[2] {
            case "u8": try dataset(f, name, UInt8.self, dims, chunk, gzip, values) { UInt8(clamping: Int(exactly: $0.rounded()) ?? 0) }
            case "i8": try dataset(f, name, Int8.self, dims, chunk, gzip, values) { Int8(clamping: Int(exactly: $0.rounded()) ?? 0) }
            case "u16": try dataset(f, name, UInt16.self, dims, chunk, gzip, values) { UInt16(clamping: Int(exactly: $0.rounded()) ?? 0) }
            case "i32": try dataset(f, name, Int32.self, dims, chunk, gzip, values) { Int32(clamping: Int(exactly: $0.rounded()) ?? 0) }
            case "i64": try dataset(f, name, Int64.self, dims, chunk, gzip, values) { Int64(exactly: $0.rounded()) ?? 0 }
            case "f32": try dataset(f, name, Float.self, dims, chunk, gzip, values) { Float($0) }
            case "f64": try dataset(f, name, Double.self, dims, chunk, gzip, values) { $0 }
            default: return
            }
        default: return
        }
    }

    static func dataset<T: H5Scalar>(_ f: H5File, _ name: String, _ t: T.Type, _ dims: [Int], _ chunk: Int?, _ gzip: Int?,
                                     _ values: [Double], _ convert: (Double) -> T) throws {
        // Rows written (whole rows, at most 2^16 values); a dataset with values is chunked so that only the chunks
        // written take space in the file (HDF5 allocates a contiguous dataset whole).
        var rows = 0, rowSize = 0
        if !values.isEmpty, !dims.isEmpty, let total = Checked.count(dims), total > 0 {
            rowSize = total / dims[0]
            rows = min(dims[0], (1 << 16) / max(1, rowSize))
        }
        let d = try f.createDataset(name, T.self, shape: dims, chunkRows: dims.isEmpty ? nil : chunk ?? (rows > 0 ? rows : nil), gzip: gzip)
        defer { d.close() }
        guard rows > 0 else { return }
        let buf = (0..<(rows * rowSize)).map { convert(values[$0 % values.count]) }
        try buf.withUnsafeBytes { try d.write(rowStart: 0, rows: rows, from: $0.baseAddress!) }
        try d.finish()
    }
}

extension Fuzz {
    /// The HDF5 file of an input: a layout written by `H5Layout`, or the raw bytes; nil when a layout cannot be
    /// written (skip the input).
    public static func hdf5(_ data: UnsafePointer<UInt8>, _ size: Int, to name: String) -> String? {
        let b = bytes(data, size)
        guard H5Layout.isLayout(b) else { return write(b, to: name) }
        let p = path(name)
        return H5Layout.write(String(decoding: b, as: UTF8.self), to: p) ? p : nil
    }
}
