// Part of the C boundary for HDF5 (System/HDF5.swift has the errors, element types and the lock).
import CHDF5
import Foundation

/// Datasets: create, write, read (whole or by rows), strings.
extension H5File {
    public func hasDataset(_ name: String) -> Bool { H5.sync { H5Lexists(id, name, ldae_h5p_default()) > 0 } }

    /// Creates a dataset of `shape`, chunked along the first axis by `chunk` rows when given,
    /// with optional gzip level.
    public func createDataset<T: H5Scalar>(_ name: String, _ type: T.Type, shape: [Int],
                                           chunkRows: Int? = nil, gzip: Int? = nil) throws -> H5Dataset {
        try H5.sync {
            var dims = shape.map { hsize_t($0) }
            let space = try H5.check(H5Screate_simple(Int32(dims.count), &dims, nil), "H5Screate_simple", path)
            defer { H5Sclose(space) }
            let dcpl = H5Pcreate(ldae_h5p_dataset_create())
            defer { H5Pclose(dcpl) }
            H5Pset_obj_track_times(dcpl, false)
            if let rows = chunkRows, shape.allSatisfy({ $0 > 0 }) {
                var c = dims
                c[0] = hsize_t(max(1, min(rows, shape[0])))
                try H5.check(H5Pset_chunk(dcpl, Int32(c.count), &c), "H5Pset_chunk '\(name)'", path)
                if let g = gzip { try H5.check(H5Pset_deflate(dcpl, UInt32(g)), "H5Pset_deflate '\(name)'", path) }
            }
            let d = try H5.check(H5Dcreate2(id, name, T.h5type, space, ldae_h5p_default(), dcpl, ldae_h5p_default()),
                                 "H5Dcreate2 '\(name)'", path)
            return H5Dataset(id: d, name: name, file: path, shape: shape)
        }
    }

    /// Creates and fills a whole dataset in one call.
    public func write<T: H5Scalar>(_ name: String, _ values: [T], shape: [Int], chunkRows: Int? = nil, gzip: Int? = nil) throws {
        require(values.count == shape.reduce(1, *), "dataset \(name): \(values.count) values for shape \(shape)")
        let d = try createDataset(name, T.self, shape: shape, chunkRows: chunkRows, gzip: gzip)
        defer { d.close() }
        if !values.isEmpty { try values.withUnsafeBytes { try d.write(rowStart: 0, rows: shape[0], from: $0.baseAddress!) } }
        try d.finish()
    }

    /// Writes a 1-D dataset of variable-length UTF-8 strings (h5py reads them as bytes, `.asstr()` as str).
    public func writeStrings(_ name: String, _ values: [String]) throws {
        try H5.sync {
            var dims = [hsize_t(values.count)]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let t = H5.stringType(); defer { H5Tclose(t) }
            let dcpl = H5Pcreate(ldae_h5p_dataset_create())
            defer { H5Pclose(dcpl) }
            H5Pset_obj_track_times(dcpl, false)
            let d = try H5.check(H5Dcreate2(id, name, t, space, ldae_h5p_default(), dcpl, ldae_h5p_default()),
                                 "H5Dcreate2 '\(name)'", path)
            var open = true
            defer { if open { H5Dclose(d) } }
            if !values.isEmpty {
                let cstrs = values.map { strdup($0) }
                defer { cstrs.forEach { free($0) } }
                var ptrs: [UnsafePointer<CChar>?] = cstrs.map { UnsafePointer($0) }
                try H5.check(H5Dwrite(d, t, ldae_h5s_all(), ldae_h5s_all(), ldae_h5p_default(), &ptrs), "H5Dwrite '\(name)'", path)
            }
            open = false
            try H5.check(H5Dclose(d), "H5Dclose '\(name)'", path)
        }
    }

    public func readStrings(_ name: String) throws -> [String] {
        try H5.sync {
            let d = try H5.check(H5Dopen2(id, name, ldae_h5p_default()), "H5Dopen2 '\(name)'", path)
            defer { H5Dclose(d) }
            let space = H5Dget_space(d); defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            if n == 0 { return [] }
            let ft = H5Dget_type(d); defer { H5Tclose(ft) }
            if H5Tis_variable_str(ft) > 0 {
                let mt = H5.stringType(); defer { H5Tclose(mt) }
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                try H5.check(H5Dread(d, mt, ldae_h5s_all(), ldae_h5s_all(), ldae_h5p_default(), &ptrs), "H5Dread '\(name)'", path)
                let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
                H5Dvlen_reclaim(mt, space, ldae_h5p_default(), &ptrs)
                return out
            } else {
                let size = H5Tget_size(ft)
                var buf = [UInt8](repeating: 0, count: size * n)
                try H5.check(H5Dread(d, ft, ldae_h5s_all(), ldae_h5s_all(), ldae_h5p_default(), &buf), "H5Dread '\(name)'", path)
                return (0..<n).map { i in
                    let slice = buf[(i * size)..<((i + 1) * size)]
                    return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        }
    }

    public func dataset(_ name: String) throws -> H5Dataset {
        try H5.sync {
            guard H5Lexists(id, name, ldae_h5p_default()) > 0 else { throw LdaeError("missing dataset '\(name)'", file: path) }
            let d = try H5.check(H5Dopen2(id, name, ldae_h5p_default()), "H5Dopen2 '\(name)'", path)
            let space = H5Dget_space(d); defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            H5Sget_simple_extent_dims(space, &dims, nil)
            return H5Dataset(id: d, name: name, file: path, shape: dims.prefix(rank).map { Int(clamping: $0) })
        }
    }

    /// Reads a whole dataset as `T` (converted by HDF5 if stored differently) with its shape.
    public func read<T: H5Scalar & Numeric>(_ name: String, as: T.Type) throws -> (values: [T], shape: [Int]) {
        let d = try dataset(name)
        defer { d.close() }
        guard let n = Checked.count(d.shape) else {
            throw LdaeError("dataset '\(name)' has an impossible shape \(d.shape)", file: path)
        }
        try d.requireStored()
        var out = [T](repeating: 0, count: n)
        if n > 0 { try out.withUnsafeMutableBytes { try d.read(rowStart: 0, rows: d.shape.first ?? 1, into: $0.baseAddress!, as: T.self) } }
        return (out, d.shape)
    }
}

/// An open dataset; reads and writes whole rows (hyperslabs along the first axis).
public final class H5Dataset: @unchecked Sendable {
    let id: hid_t
    public let name: String
    public let file: String
    public let shape: [Int]
    private var closed = false

    init(id: hid_t, name: String, file: String, shape: [Int]) {
        self.id = id; self.name = name; self.file = file; self.shape = shape
    }

    public func close() { H5.sync { if !closed { closed = true; H5Dclose(id) } } }
    deinit { close() }

    /// Closes a dataset being written, reporting a failure (HDF5 may hold its last chunks until then).
    public func finish() throws {
        try H5.sync {
            guard !closed else { return }
            closed = true
            try H5.check(H5Dclose(id), "H5Dclose '\(name)'", file)
        }
    }

    /// Refuses a dataset that declares more data than the file can hold: a damaged or crafted file can declare any
    /// shape in a few bytes (a dataset never written reads as zeros), and readers allocate what it declares. Data is
    /// stored as is or deflated (at most ~1032:1), and ldae writes every dataset whole; so above 64 MB the declared
    /// bytes must be at most 1100 times those stored (H5Dget_storage_size, and no more than the file's size).
    public func requireStored() throws {
        guard let n = Checked.count(shape), let declared = Checked.bytes(n, elementDescription.size) else {
            throw LdaeError("dataset '\(name)' has an impossible shape \(shape)", file: file)
        }
        guard declared > 64 << 20 else { return }
        let stored = min(Int(clamping: H5.sync { H5Dget_storage_size(id) }), FileUtil.size(file) ?? 0)
        guard declared / 1100 <= stored else {
            throw LdaeError("dataset '\(name)' declares shape \(shape) (\(declared) bytes) but the file stores \(stored) bytes of it (damaged, or not written by ldae)", file: file)
        }
    }

    /// The stored element type's class and size, e.g. ("integer", 1).
    public var elementDescription: (isInteger: Bool, isFloat: Bool, size: Int, signed: Bool) {
        H5.sync {
            let t = H5Dget_type(id); defer { H5Tclose(t) }
            let c = H5Tget_class(t)
            return (c == H5T_INTEGER, c == H5T_FLOAT, H5Tget_size(t), H5Tget_sign(t) == H5T_SGN_2)
        }
    }

    private func selection(rowStart: Int, rows: Int) throws -> (file: hid_t, mem: hid_t) {
        guard Checked.inside(start: rowStart, length: rows, total: shape.first ?? 0) else {
            throw LdaeError("rows \(rowStart)..<\(rowStart + rows) out of range for dataset '\(name)' of \(shape.first ?? 0) rows", file: file)
        }
        let fs = H5Dget_space(id)
        var start = [hsize_t](repeating: 0, count: shape.count)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(rowStart); count[0] = hsize_t(rows)
        do { try H5.check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nil, &count, nil), "H5Sselect_hyperslab '\(name)'", file) } catch {
            H5Sclose(fs); throw error
        }
        let ms = H5Screate_simple(Int32(count.count), &count, nil)
        return (fs, ms)
    }

    /// Writes `rows` rows starting at `rowStart` from a buffer of the dataset's declared element type.
    public func write(rowStart: Int, rows: Int, from buffer: UnsafeRawPointer) throws {
        try H5.sync {
            let t = H5Dget_type(id); defer { H5Tclose(t) }
            let nt = H5Tget_native_type(t, H5T_DIR_ASCEND); defer { H5Tclose(nt) }
            let (fs, ms) = try selection(rowStart: rowStart, rows: rows)
            defer { H5Sclose(fs); H5Sclose(ms) }
            try H5.check(H5Dwrite(id, nt, ms, fs, ldae_h5p_default(), buffer), "H5Dwrite '\(name)'", file)
        }
    }

    /// Reads rows into a buffer of `T` (HDF5 converts from the stored type).
    public func read<T: H5Scalar>(rowStart: Int, rows: Int, into buffer: UnsafeMutableRawPointer, as: T.Type) throws {
        try H5.sync {
            let (fs, ms) = try selection(rowStart: rowStart, rows: rows)
            defer { H5Sclose(fs); H5Sclose(ms) }
            try H5.check(H5Dread(id, T.h5type, ms, fs, ldae_h5p_default(), buffer), "H5Dread '\(name)'", file)
        }
    }

    /// Reads an arbitrary sorted list of rows (a point/hyperslab union), e.g. a shuffled batch within a shard.
    public func read<T: H5Scalar>(rowList: [Int], into buffer: UnsafeMutableRawPointer, as: T.Type) throws {
        if rowList.isEmpty { return }
        try H5.sync {
            let fs = H5Dget_space(id); defer { H5Sclose(fs) }
            var start = [hsize_t](repeating: 0, count: shape.count)
            var count = shape.map { hsize_t($0) }
            count[0] = 1
            for (i, r) in rowList.enumerated() {
                guard r >= 0 && r < shape[0] else { throw LdaeError("row \(r) out of range for '\(name)'", file: file) }
                start[0] = hsize_t(r)
                try H5.check(H5Sselect_hyperslab(fs, i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, &start, nil, &count, nil),
                             "H5Sselect_hyperslab '\(name)'", file)
            }
            var mc = shape.map { hsize_t($0) }
            mc[0] = hsize_t(rowList.count)
            let ms = H5Screate_simple(Int32(mc.count), &mc, nil); defer { H5Sclose(ms) }
            try H5.check(H5Dread(id, T.h5type, ms, fs, ldae_h5p_default(), buffer), "H5Dread '\(name)'", file)
        }
    }
}
