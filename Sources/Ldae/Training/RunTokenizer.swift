import Foundation

/// What a run adds its noise to (docs/method.md, "Tokenizers"): the file of `--tokenizer-file`, the basis of
/// `--pca`, or pixels, checked against the shards' patch geometry, and the objective on it.
public struct RunTokenizer: Sendable {
    /// The PCA basis of the pca tokenizer (published with the model as pca.h5); nil for the others.
    public let pca: PCABasis?
    /// The file given with --tokenizer-file (its sha256 goes into the checkpoint and the manifest).
    public let file: LoadedTokenizer?
    public let objective: LDAEObjective

    /// `note` gets the run's remarks (a tokenizer fit on other shards).
    public init(_ o: TrainOptions, shards: ShardSet, note: (String) -> Void) throws {
        let tc = o.train, g = shards.geometry
        if let tp = o.tokenizerPath {
            let t = try LoadedTokenizer.load(tp, geometry: g)
            guard t.kind == tc.tokenizer else {
                throw LdaeError("--tokenizer \(tc.tokenizer.rawValue) but this is a \(t.kind.rawValue) tokenizer file (leave --tokenizer out to take the file's)", file: tp)
            }
            if let fi = t.file, fi.indexSHA256 != shards.indexSHA256 {
                note("ldae-train: note: \(tp) was fit on other shards (index sha256 \(fi.indexSHA256.prefix(12))...)")
            }
            file = t
        } else { file = nil }
        if let t = file, t.kind != .pca {
            pca = nil   // --pca is not used by another tokenizer (and not published with it)
        } else if let t = file, let p = t.pca {
            pca = p
        } else if tc.tokenizer == .pca || o.pcaPath != nil {
            guard let p = o.pcaPath else { throw LdaeError("the pca tokenizer needs --pca pca.h5 (from ldae-fit-pca); use --tokenizer pixel for a pixel-space DAE") }
            let basis = try PCABasis.load(p)
            guard basis.patchSize == g.patchSize, basis.channels == g.channels else {
                throw LdaeError("PCA basis has patch_size \(basis.patchSize) but the shards (\(shards.sources[0])) have patch_size \(g.patchSize)", file: p)
            }
            pca = basis
        } else { pca = nil }
        do {
            if let t = file {
                objective = try LDAEObjective(config: tc, tokenizer: try t.model(latentDim: tc.latentDim), geometry: g)
            } else {
                objective = try LDAEObjective(config: tc, pca: pca, geometry: g)
            }
        } catch let e as LdaeError {
            throw LdaeError(e.reason, file: e.file ?? o.tokenizerPath ?? o.pcaPath)
        }
    }
}
