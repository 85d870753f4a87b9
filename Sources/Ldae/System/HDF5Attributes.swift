// Part of the C boundary for HDF5 (System/HDF5.swift has the errors, element types and the lock).
import CHDF5
import Foundation

/// Attributes on the root group.
extension H5File {
    fileprivate func writeAttribute(_ name: String, type: hid_t, _ body: (hid_t, hid_t) -> herr_t) throws {
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
        try withAttribute(name) { a -> String in
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

    public func intAttribute(_ name: String) throws -> Int? { try numberAttribute(name, as: Int64.self).map { Int($0) } }

    public func doubleAttribute(_ name: String) throws -> Double? { try numberAttribute(name, as: Double.self) }

    /// A scalar attribute read as T (HDF5 converts from the stored type), nil when absent.
    private func numberAttribute<T: H5Scalar & Numeric>(_ name: String, as: T.Type) throws -> T? {
        try withAttribute(name) { a in
            var v: T = 0
            try H5.check(withUnsafeMutableBytes(of: &v) { H5Aread(a, T.h5type, $0.baseAddress) }, "H5Aread '\(name)'", path)
            return v
        }
    }

    /// body(the open attribute), nil when the root group has no attribute of that name.
    private func withAttribute<R>(_ name: String, _ body: (hid_t) throws -> R) throws -> R? {
        try H5.sync {
            guard H5Aexists(id, name) > 0 else { return nil }
            let a = try H5.check(H5Aopen(id, name, ldae_h5p_default()), "H5Aopen '\(name)'", path)
            defer { H5Aclose(a) }
            return try body(a)
        }
    }
}
