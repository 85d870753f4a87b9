// The C boundary for HDF5. All HDF5 calls in ldae go through this file, under one lock
// (Debian's build is thread-safe, but the lock keeps multi-call sequences and the per-thread error stack together).
import CHDF5
import Foundation

/// An HDF5 failure: which call failed, on which file/object, and HDF5's own innermost message. When the
/// failure comes from the operating system (HDF5 reports an errno: a full disk, a read-only file system),
/// it reads as one line naming the file and the system's reason, e.g. "x.h5: cannot write (No space left on device)".
public struct HDF5Error: Error, CustomStringConvertible {
    public var file: String
    public let call: String
    public let detail: String
    /// The errno HDF5 reported for the system call that failed, if any.
    public let systemError: Int32?

    init(file: String, call: String, detail: String, systemError: Int32? = nil) {
        self.file = file; self.call = call; self.detail = detail; self.systemError = systemError
    }

    public var description: String {
        if let e = systemError {
            let verb = call.hasPrefix("H5Fopen") ? "cannot open" : call.hasPrefix("H5Dread") || call.hasPrefix("H5Aread") ? "cannot read" : "cannot write"
            return "\(file): \(verb) (\(String(cString: strerror(e))))"
        }
        return "\(file): HDF5 \(call) failed" + (detail.isEmpty ? "" : ": \(detail)")
    }
}

/// Element types that map to HDF5 native types.
public protocol H5Scalar { static var h5type: hid_t { get } }
extension UInt8: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_uint8() } }
extension Int8: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_int8() } }
extension UInt16: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_uint16() } }
extension Int32: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_int32() } }
extension Int64: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_int64() } }
extension Float: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_float() } }
extension Double: H5Scalar { public static var h5type: hid_t { ldae_h5t_native_double() } }

enum H5 {
    static let lock = NSRecursiveLock()
    nonisolated(unsafe) static var initialized = false

    static func sync<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        if !initialized { ldae_h5_init(); initialized = true }
        ldae_h5_silence()   // per thread
        return try body()
    }

    /// HDF5's error stack, innermost message last, then cleared.
    static func messages() -> [String] {
        final class Box { var msgs: [String] = [] }
        let box = Box()
        let cb: H5E_walk2_t = { _, desc, data in
            if let desc = desc, let d = desc.pointee.desc, let data = data {
                Unmanaged<Box>.fromOpaque(data).takeUnretainedValue().msgs.append(String(cString: d))
            }
            return 0
        }
        H5Ewalk2(ldae_h5e_default(), H5E_WALK_DOWNWARD, cb, Unmanaged.passUnretained(box).toOpaque())
        H5Eclear2(ldae_h5e_default())
        return box.msgs
    }

    /// The error for a failed call: HDF5's innermost message (the most specific one), and the errno its file
    /// driver reports ("..., errno = 28, error message = 'No space left on device', ...") when there is one.
    static func error(_ call: String, _ file: String) -> HDF5Error {
        let msgs = messages()
        var sys: Int32? = nil
        for m in msgs {
            guard let r = m.range(of: "errno = ") else { continue }
            if let v = Int32(m[r.upperBound...].prefix { $0.isNumber }), v > 0 { sys = v }
        }
        let last = msgs.last ?? ""
        return HDF5Error(file: file, call: call, detail: sys == nil ? last : String(last.prefix { $0 != "," }), systemError: sys)
    }

    @discardableResult
    static func check(_ r: hid_t, _ call: String, _ file: String) throws -> hid_t {
        if r < 0 { throw error(call, file) }
        return r
    }
    static func check(_ r: herr_t, _ call: String, _ file: String) throws {
        if r < 0 { throw error(call, file) }
    }

    static func stringType() -> hid_t {
        let t = H5Tcopy(ldae_h5t_c_s1())
        H5Tset_size(t, ldae_h5t_variable())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }
}

/// An open HDF5 file. Create/open, attributes on the root group, datasets.
///
/// Closing a file being written is where a full disk shows: HDF5 flushes its metadata then, and when that
/// fails, H5Fclose fails and leaves the file half torn down in the library (closing it again, or the
/// library's own cleanup at exit, dereferences freed state: a segfault). So a written file is flushed first,
/// and a file that cannot be completed is `discard`ed: its objects closed, its space given back (its contents
/// are thrown away: it is a temporary), then closed, exactly once.
public final class H5File: @unchecked Sendable {
    public let path: String
    let id: hid_t
    private var closed = false
    /// Created by this process (writable): closing flushes, failures discard.
    private let created: Bool

    private init(id: hid_t, path: String, created: Bool) { self.id = id; self.path = path; self.created = created }

    /// Creates (truncates) a file. Files are HDF5 1.10-compatible (default library version bounds).
    /// Prefer `write(atomically:)`, which writes a temporary and renames it, discarding it on failure.
    public static func create(_ path: String) throws -> H5File {
        try H5.sync {
            // No object timestamps: the same content always gives byte-identical files.
            let fcpl = H5Pcreate(ldae_h5p_file_create())
            defer { H5Pclose(fcpl) }
            H5Pset_obj_track_times(fcpl, false)
            let id = try H5.check(H5Fcreate(path, ldae_h5f_acc_trunc(), fcpl, ldae_h5p_default()), "H5Fcreate", path)
            return H5File(id: id, path: path, created: true)
        }
    }

    /// Writes `path` atomically: `body` fills a temporary file, which is closed (flushed) and renamed into
    /// place; on any failure it is discarded and removed, and the error names `path`.
    public static func write(atomically path: String, _ body: (H5File) throws -> Void) throws {
        try AtomicFile.write(to: path) { tmp in
            let f = try H5File.create(tmp)
            do {
                try body(f)
                try f.close()
            } catch {
                f.discard()
                throw error
            }
        }
    }

    public static func open(_ path: String, writable: Bool = false) throws -> H5File {
        guard FileManager.default.fileExists(atPath: path) else { throw LdaeError("no such file", file: path) }
        return try H5.sync {
            if H5Fis_hdf5(path) <= 0 { H5Eclear2(ldae_h5e_default()); throw LdaeError("not an HDF5 file (truncated or another format)", file: path) }
            let id = try H5.check(H5Fopen(path, writable ? ldae_h5f_acc_rdwr() : ldae_h5f_acc_rdonly(), ldae_h5p_default()), "H5Fopen", path)
            return H5File(id: id, path: path, created: false)
        }
    }

    /// Closes the file; for a written one, flushes first and checks it, so that a failure (a full disk) is
    /// reported while the file can still be discarded cleanly.
    public func close() throws {
        try H5.sync {
            guard !closed else { return }
            if created && H5Fflush(id, H5F_SCOPE_LOCAL) < 0 {
                let e = H5.error("H5Fflush", path)
                discard()
                throw e
            }
            closed = true
            try H5.check(H5Fclose(id), "H5Fclose", path)
        }
    }

    /// Gives up a file being written (the error path): closes every object still open in it, truncates it
    /// to nothing so that the metadata HDF5 writes on closing finds space, then closes it, once. Idempotent;
    /// errors are cleared, not reported (the caller reports the failure that led here).
    public func discard() {
        H5.sync {
            guard !closed else { return }
            closed = true
            let kinds = UInt32(H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL)
            let n = H5Fget_obj_count(id, kinds)
            if n > 0 {
                var ids = [hid_t](repeating: -1, count: n)
                let got = H5Fget_obj_ids(id, kinds, n, &ids)
                for o in ids.prefix(max(0, got)) where o >= 0 {
                    switch H5Iget_type(o) {
                    case H5I_DATASET: H5Dclose(o)
                    case H5I_GROUP: H5Gclose(o)
                    case H5I_DATATYPE: H5Tclose(o)
                    case H5I_ATTR: H5Aclose(o)
                    default: break
                    }
                }
            }
            if created {
                let fd = Glibc.open(path, O_WRONLY)
                if fd >= 0 { _ = ftruncate(fd, 0); Glibc.close(fd) }
            }
            H5Fclose(id)
            H5Eclear2(ldae_h5e_default())
        }
    }

    deinit { if created { discard() } else if !closed { H5.sync { _ = H5Fclose(id) } } }

    // MARK: attributes (root group)

    private func writeAttribute(_ name: String, type: hid_t, _ body: (hid_t, hid_t) -> herr_t) throws {
        try H5.sync {
            if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let a = try H5.check(H5Acreate2(id, name, type, space, ldae_h5p_default(), ldae_h5p_default()), "H5Acreate2 '\(name)'", path)
            defer { H5Aclose(a) }
            try H5.check(body(a, type), "H5Awrite '\(name)'", path)
        }
    }

    public func setAttribute(_ name: String, _ value: String) throws {
        let t = H5.sync { H5.stringType() }
        defer { _ = H5.sync { H5Tclose(t) } }
        try value.withCString { cs in
            try writeAttribute(name, type: t) { a, t in
                var p: UnsafePointer<CChar>? = cs
                return H5Awrite(a, t, &p)
            }
        }
    }

    public func setAttribute(_ name: String, _ value: Int) throws {
        var v = Int64(value)
        try writeAttribute(name, type: Int64.h5type) { a, t in H5Awrite(a, t, &v) }
    }

    public func setAttribute(_ name: String, _ value: Double) throws {
        var v = value
        try writeAttribute(name, type: Double.h5type) { a, t in H5Awrite(a, t, &v) }
    }

    public func hasAttribute(_ name: String) -> Bool { H5.sync { H5Aexists(id, name) > 0 } }

    public func stringAttribute(_ name: String) throws -> String? {
        try H5.sync {
            guard H5Aexists(id, name) > 0 else { return nil }
            let a = try H5.check(H5Aopen(id, name, ldae_h5p_default()), "H5Aopen '\(name)'", path)
            defer { H5Aclose(a) }
            let ft = H5Aget_type(a)
            defer { H5Tclose(ft) }
            guard H5Tget_class(ft) == H5T_STRING else { throw LdaeError("attribute '\(name)' is not a string", file: path) }
            if H5Tis_variable_str(ft) > 0 {
                let mt = H5.stringType(); defer { H5Tclose(mt) }
                var p: UnsafeMutablePointer<CChar>? = nil
                try H5.check(H5Aread(a, mt, &p), "H5Aread '\(name)'", path)
                defer { if let p { H5free_memory(p) } }
                return p.map { String(cString: $0) } ?? ""
            } else {
                let n = H5Tget_size(ft)
                var buf = [CChar](repeating: 0, count: n + 1)
                try H5.check(H5Aread(a, ft, &buf), "H5Aread '\(name)'", path)
                return String(nulTerminated: buf)
            }
        }
    }

    public func intAttribute(_ name: String) throws -> Int? {
        try H5.sync {
            guard H5Aexists(id, name) > 0 else { return nil }
            let a = try H5.check(H5Aopen(id, name, ldae_h5p_default()), "H5Aopen '\(name)'", path)
            defer { H5Aclose(a) }
            var v: Int64 = 0
            try H5.check(H5Aread(a, Int64.h5type, &v), "H5Aread '\(name)'", path)
            return Int(v)
        }
    }

    public func doubleAttribute(_ name: String) throws -> Double? {
        try H5.sync {
            guard H5Aexists(id, name) > 0 else { return nil }
            let a = try H5.check(H5Aopen(id, name, ldae_h5p_default()), "H5Aopen '\(name)'", path)
            defer { H5Aclose(a) }
            var v: Double = 0
            try H5.check(H5Aread(a, Double.h5type, &v), "H5Aread '\(name)'", path)
            return v
        }
    }

    // MARK: datasets

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
        precondition(values.count == shape.reduce(1, *), "dataset \(name): \(values.count) values for shape \(shape)")
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
            return H5Dataset(id: d, name: name, file: path, shape: dims.prefix(rank).map { Int($0) })
        }
    }

    /// Reads a whole dataset as `T` (converted by HDF5 if stored differently) with its shape.
    public func read<T: H5Scalar & Numeric>(_ name: String, as: T.Type) throws -> (values: [T], shape: [Int]) {
        let d = try dataset(name)
        defer { d.close() }
        let n = d.shape.reduce(1, *)
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

    /// The stored element type's class and size, e.g. ("integer", 1).
    public var elementDescription: (isInteger: Bool, isFloat: Bool, size: Int, signed: Bool) {
        H5.sync {
            let t = H5Dget_type(id); defer { H5Tclose(t) }
            let c = H5Tget_class(t)
            return (c == H5T_INTEGER, c == H5T_FLOAT, H5Tget_size(t), H5Tget_sign(t) == H5T_SGN_2)
        }
    }

    private func selection(rowStart: Int, rows: Int) throws -> (file: hid_t, mem: hid_t) {
        guard rowStart >= 0, rows >= 0, rowStart + rows <= (shape.first ?? 0) else {
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
