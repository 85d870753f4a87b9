// The C boundary for HDF5: errors, element types and the lock. Every HDF5 call in ldae is in this folder's HDF5*.swift
// files, under one lock (Debian's build is thread-safe, but the lock keeps multi-call sequences and the per-thread
// error stack together).
import CHDF5
import Foundation

/// An HDF5 failure: which call failed, on which file/object, and HDF5's own innermost message. When the
/// failure comes from the operating system (HDF5 reports an errno: a full disk, a read-only file system),
/// it reads as one line naming the file and the system's reason, e.g. "x.h5: cannot write (No space left on device)".
public struct HDF5Error: FileNamingError {
    public var path: String
    public var file: String? { path }
    public func naming(_ file: String) -> HDF5Error { var e = self; e.path = file; return e }
    public let call: String
    public let detail: String
    /// The errno HDF5 reported for the system call that failed, if any.
    public let systemError: Int32?

    init(file: String, call: String, detail: String, systemError: Int32? = nil) {
        self.path = file; self.call = call; self.detail = detail; self.systemError = systemError
    }

    public var description: String {
        if let e = systemError {
            let verb = call.hasPrefix("H5Fopen") ? "cannot open" : call.hasPrefix("H5Dread") || call.hasPrefix("H5Aread") ? "cannot read" : "cannot write"
            return "\(path): \(verb) (\(String(cString: strerror(e))))"
        }
        return "\(path): HDF5 \(call) failed" + (detail.isEmpty ? "" : ": \(detail)")
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
