// Part of the C boundary for HDF5 (System/HDF5.swift has the errors, element types and the lock).
import CHDF5
import Foundation

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
}
