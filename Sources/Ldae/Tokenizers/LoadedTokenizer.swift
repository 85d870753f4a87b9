import Foundation

/// A tokenizer loaded from a file: `pca.h5` (ldae-fit-pca) or a tokenizer file (ldae-fit-tokenizer), with the
/// file's sha256 for the checkpoint, the manifest and the model card.
public struct LoadedTokenizer: Sendable {
    public let path: String
    public let kind: TokenizerKind
    public let sha256: String
    /// The PCA basis (pca files).
    public let pca: PCABasis?
    /// The fitted tokenizer (other kinds).
    public let file: TokenizerFile?

    /// Reads either kind of file; checks it against the shards' patch geometry.
    public static func load(_ path: String, geometry g: PatchGeometry) throws -> LoadedTokenizer {
        let sha = try SHA256.hex(file: path)
        if try TokenizerFile.isPCA(path) {
            let basis = try PCABasis.load(path)
            guard basis.patchSize == g.patchSize, basis.channels == g.channels else {
                throw LdaeError("PCA basis has patch_size \(basis.patchSize) x \(basis.channels) channels but the shards have patch_size \(g.patchSize) x \(g.channels)", file: path)
            }
            return LoadedTokenizer(path: path, kind: .pca, sha256: sha, pca: basis, file: nil)
        }
        let f = try TokenizerFile.load(path)
        guard f.patchSize == g.patchSize, f.channels == g.channels else {
            throw LdaeError("tokenizer has patch_size \(f.patchSize) x \(f.channels) channels but the shards have patch_size \(g.patchSize) x \(g.channels)", file: path)
        }
        if f.kind.needsImageSize && f.imageSize != g.imageSize {
            throw LdaeError("\(f.kind.rawValue) tokenizer was fit on \(f.imageSize)px images but the shards have \(g.imageSize)px (fit one on these shards)", file: path)
        }
        return LoadedTokenizer(path: path, kind: f.kind, sha256: sha, pca: nil, file: f)
    }

    /// The kind of a tokenizer file and its latent size (nil for pca, whose d is chosen at training), without loading
    /// its weights.
    public static func peek(_ path: String) throws -> (kind: TokenizerKind, latentDim: Int?) {
        if try TokenizerFile.isPCA(path) { return (.pca, nil) }
        let f = try TokenizerFile.load(path)
        return (f.kind, f.latentDim)
    }

    /// The objective's view with latent dimension d (pca: the top d components; a fitted tokenizer: its own d).
    public func model(latentDim d: Int) throws -> TokenizerModel {
        if let pca {
            guard d >= 1 && d <= pca.dim else { throw LdaeError("latent_dim \(d) must be in 1...\(pca.dim) (the patch dimension)", file: path) }
            return .linear(LinearCodec(pca: pca, d: d))
        }
        let f = file!
        guard d == f.latentDim else {
            throw LdaeError("latent_dim \(d) differs from the tokenizer's d = \(f.latentDim) (fit another tokenizer, or leave --latent-dim out)", file: path)
        }
        do { return try TokenizerRegistry.definition(f.kind).model(f) } catch let e as LdaeError { throw LdaeError(e.reason, file: path) }
    }
}
