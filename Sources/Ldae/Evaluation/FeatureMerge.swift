import Foundation

/// `ldae-zoo features-merge PART.npy... --out F.npy`: the n parts of one `features --part i/n` split (each once,
/// of the same model, data and settings) joined in part order into the files the unsplit command writes:
/// F.npy float32 [N, width] and F.labels.npy int32 [N]. The data are streamed (memory does not grow with N).
public enum FeatureMerge {
    /// Checks and joins the parts; returns the first part's record (the shared settings) and the rows written.
    @discardableResult
    public static func run(_ paths: [String], out: String) throws -> (reference: FeaturePart, rows: Int) {
        guard !paths.isEmpty else { throw LdaeError("features-merge needs the part files (ldae-zoo features --part i/n)") }
        let real = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        if let same = paths.first(where: { real($0) == real(out) }) {
            throw LdaeError("is one of the parts: choose another --out", file: same)
        }
        let parts = try check(try paths.map { (path: $0, part: try FeaturePart.load(features: $0)) })
        let ref = parts[0].part, rows = parts.map { $0.part.imageEnd - $0.part.imageStart }
        try concatenate(parts.map(\.path), rows: rows, trailing: [ref.width], descr: "<f4", to: out)
        if ref.labeled {
            try concatenate(parts.map { FeatureFiles.labels(for: $0.path) }, rows: rows, trailing: [], descr: "<i4",
                            to: FeatureFiles.labels(for: out))
        }
        return (ref, rows.reduce(0, +))
    }

    /// All n parts once each, with the first file's settings; returned in part order.
    static func check(_ loaded: [(path: String, part: FeaturePart)]) throws -> [(path: String, part: FeaturePart)] {
        try PartSplit.inOrder(loaded, join: "features-merge") { p, r, p0 in
            // (name, this part's value, the first part's value) of every setting that differs
            let differ = zip(p.settings, r.settings).filter { $0.0.1 != $0.1.1 }.map { (name: $0.0.0, this: $0.0.1, first: $0.1.1) }
            guard differ.isEmpty else {
                let what = differ.map { "\($0.name) \($0.this) (\(p0): \($0.first))" }.joined(separator: ", ")
                let data = differ.contains { $0.name == "index_sha256" || $0.name == "images_total" }
                throw LdaeError("features of other \(data ? "data" : "settings"): \(what)")
            }
        }
    }

    /// Streams `inputs` (C-order .npy of `descr`, shapes [rows[k]] + trailing) into one .npy [sum of rows] + trailing,
    /// written atomically.
    static func concatenate(_ inputs: [String], rows: [Int], trailing: [Int], descr: String, to out: String) throws {
        let headers = try inputs.map { try NPY.header($0) }
        for (k, h) in headers.enumerated() {
            guard h.descr == descr, h.shape == [rows[k]] + trailing else {
                throw LdaeError("holds \(h.descr) \(h.shape), but its part record says \(descr) \([rows[k]] + trailing)", file: inputs[k])
            }
            let want = h.dataOffset + h.count * h.elementSize
            guard let size = FileUtil.size(inputs[k]), size == want else {
                throw LdaeError("is \(FileUtil.size(inputs[k]) ?? 0) bytes, expected \(want) for \(descr) \(h.shape) (truncated?)", file: inputs[k])
            }
        }
        try AtomicFile.write(to: out) { tmp in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw LdaeError.system("cannot write", file: tmp) }
            defer { close(fd) }
            let header = [UInt8](NPY.header(descr: descr, shape: [rows.reduce(0, +)] + trailing))
            try header.withUnsafeBytes { try writeAll(fd, $0, path: tmp) }
            var buf = [UInt8](repeating: 0, count: 8 << 20)
            for (k, path) in inputs.enumerated() {
                let src = open(path, O_RDONLY | O_CLOEXEC)
                guard src >= 0 else { throw LdaeError.system("cannot read", file: path) }
                defer { close(src) }
                var at = headers[k].dataOffset, left = headers[k].count * headers[k].elementSize
                while left > 0 {
                    let r = buf.withUnsafeMutableBytes { pread(src, $0.baseAddress!, min($0.count, left), off_t(at)) }
                    if r < 0 && errno == EINTR { continue }
                    guard r >= 0 else { throw LdaeError.system("cannot read", file: path) }
                    guard r > 0 else { throw LdaeError("ended early (changed while merging?)", file: path) }
                    try buf.withUnsafeBytes { try writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<r]), path: tmp) }
                    at += r; left -= r
                }
            }
            guard fsync(fd) == 0 else { throw LdaeError.system("cannot write", file: tmp) }
        }
    }

    static func writeAll(_ fd: Int32, _ b: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < b.count {
            let r = write(fd, b.baseAddress! + done, b.count - done)
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw LdaeError.system("cannot write", file: path) }
            done += r
        }
    }
}
