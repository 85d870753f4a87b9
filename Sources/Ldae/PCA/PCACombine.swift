import Foundation

/// `ldae-fit-pca combine PART.h5... --out pca.h5`: the parts of one split (all n, each once, of the same data and
/// settings) added in part order and decomposed. The sums are exact integers, so the result is the basis of one
/// run over everything, bit for bit (and `pca.h5` the same bytes, `fit_identity` included).
public enum PCACombine {
    /// The parts' sums added in part order (0, 1, ...) and the first part, whose provenance they share.
    public static func sums(_ paths: [String]) throws -> (accumulator: CovarianceAccumulator, reference: PCAPartialSums) {
        guard !paths.isEmpty else { throw LdaeError("combine needs the part files (ldae-fit-pca --part i/n --partial)") }
        let loaded = try paths.map { (path: $0, sums: try PCAPartialSums.load($0)) }
        let byPart = try check(loaded)
        let ref = byPart[0].sums
        var acc = CovarianceAccumulator(dim: ref.geometry.tokenDim)
        let D = acc.dim
        for p in byPart {
            let a = p.sums.accumulator
            acc.byteCount += a.byteCount
            for j in 0..<D { acc.byteSum[j] += a.byteSum[j] }
            for i in 0..<D { for j in i..<D { acc.byteGram[i * D + j] += a.byteGram[i * D + j] } }
        }
        let expected = min(ref.maxPatches ?? Int.max, ref.imagesTotal * ref.geometry.tokens)
        guard acc.count == expected else {
            throw LdaeError("the parts hold \(acc.count) patches, but the fit selects \(expected): a part file was not written by this split")
        }
        return (acc, ref)
    }

    /// The combined basis, recording the whole fit's identity.
    public static func basis(_ paths: [String]) throws -> (basis: PCABasis, reference: PCAPartialSums) {
        let (acc, ref) = try sums(paths)
        var b = try PCAFit.basis(acc, patchSize: ref.geometry.patchSize, channels: ref.geometry.channels, indexSHA256: ref.indexSHA256)
        b.fitIdentity = ref.fitIdentity
        return (b, ref)
    }

    /// Checks that the files are the n parts of one split, each once, of the same data and settings as the first
    /// file, and returns them in part order; an error names the file that differs.
    static func check(_ loaded: [(path: String, sums: PCAPartialSums)]) throws -> [(path: String, sums: PCAPartialSums)] {
        try PartSplit.inOrder(loaded.map { (path: $0.path, part: $0.sums) }, join: "combine") { s, r, p0 in
            guard s.geometry == r.geometry else {
                throw LdaeError("other patch size: patch_size \(s.geometry.patchSize), channels \(s.geometry.channels), image_size \(s.geometry.imageSize), but \(p0) has \(r.geometry.patchSize), \(r.geometry.channels), \(r.geometry.imageSize)")
            }
            guard s.indexSHA256 == r.indexSHA256, s.imagesTotal == r.imagesTotal else {
                throw LdaeError("sums of another data set (shard index sha256 \(s.indexSHA256.prefix(12))..., \(s.imagesTotal) images; \(p0) has \(r.indexSHA256.prefix(12))..., \(r.imagesTotal) images)")
            }
            guard s.maxPatches == r.maxPatches, s.seed == r.seed else {
                let opts = { (x: PCAPartialSums) in "--max-patches \(x.maxPatches.map(String.init) ?? "all") --seed \(x.seed)" }
                throw LdaeError("other sampling options (\(opts(s)); \(p0) has \(opts(r)))")
            }
            guard s.fitIdentity == r.fitIdentity else {
                throw LdaeError("other fit settings (\(s.fitIdentity); \(p0) has \(r.fitIdentity))")
            }
        }.map { (path: $0.path, sums: $0.part) }
    }
}
