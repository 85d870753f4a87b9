import Foundation

/// A file written by one part of a split into n (`--part i/n`): `ldae-fit-pca --partial`, `ldae-zoo features --part`.
public protocol SplitPart {
    var part: Int { get }
    var parts: Int { get }
}

extension SplitPart {
    public var partName: String { "\(part)/\(parts)" }
}

public enum PartSplit {
    /// The files of one split, all n parts once each, in part order. The first file is the reference: a file from
    /// a split into another n, one that `sameAsFirst(file's part, first's part, first's path)` rejects (other data or
    /// settings: it throws), a part given twice and a missing part are errors naming the file; `join` names the
    /// command for the message ("combine", "features-merge").
    public static func inOrder<P: SplitPart>(_ loaded: [(path: String, part: P)], join: String,
                                             sameAsFirst: (P, P, String) throws -> Void) throws -> [(path: String, part: P)] {
        guard let (p0, r) = loaded.first else { throw LdaeError("\(join) needs the part files") }
        var byPart: [Int: String] = [:]
        for (path, p) in loaded {
            guard p.parts == r.parts else {
                throw LdaeError("is part \(p.partName), of a split into \(p.parts), but \(p0) is part \(r.partName), of a split into \(r.parts)", file: path)
            }
            do { try sameAsFirst(p, r, p0) } catch let e as LdaeError { throw LdaeError(e.reason, file: path) }
            if let other = byPart[p.part] { throw LdaeError("part \(p.partName) is given twice (also as \(other))", file: path) }
            byPart[p.part] = path
        }
        let missing = (0..<r.parts).filter { byPart[$0] == nil }
        guard missing.isEmpty else {
            let names = missing.map { "\($0)/\(r.parts)" }.joined(separator: ", ")
            throw LdaeError("part\(missing.count > 1 ? "s" : "") \(names) missing: \(join) needs all \(r.parts) part files of the split (got \(loaded.count))")
        }
        return loaded.sorted { $0.part.part < $1.part.part }
    }
}
