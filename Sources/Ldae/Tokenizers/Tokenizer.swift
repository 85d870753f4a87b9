import Foundation

/// A tokenizer with a non-linear encoder and decoder over whole images (conv-vae): patchified x [B, T, D] to a
/// latent [B, T, d] (one d-vector per patch-grid cell) and back. The latent is already scaled by the file's
/// `latent_scale` factor.
public protocol ImageCodec: AnyObject, Sendable {
    var latentDim: Int { get }
    /// Variance of each latent component over the data [d], for `--latent-scale`.
    var latentVariance: [Float] { get }
    /// z [B, T, d] of clean images x [B, T, D].
    func encode(_ x: UnsafePointer<Float>, batch: Int, into z: UnsafeMutablePointer<Float>)
    /// x [B, T, D] of latents z [B, T, d].
    func decode(_ z: UnsafePointer<Float>, batch: Int, into x: UnsafeMutablePointer<Float>)
}

/// What the denoiser's noise is added to (docs/method.md, "Tokenizers"): pixels, a linear patch latent, or the
/// latent of an image codec.
public enum TokenizerModel: Sendable {
    case pixel
    case linear(LinearCodec)
    case image(any ImageCodec)

    /// z [images, T, d] and its decoding xr [images, T, D] of clean images x [images, T, D] (T tokens per image);
    /// pixel: z untouched, xr = x.
    public func roundTrip(_ x: UnsafePointer<Float>, images: Int, tokens T: Int, dim D: Int,
                          z: UnsafeMutablePointer<Float>, out xr: UnsafeMutablePointer<Float>) {
        switch self {
        case .pixel: xr.update(from: x, count: images * T * D)
        case .linear(let c): c.encode(x, count: images * T, into: z); c.decode(z, count: images * T, into: xr)
        case .image(let c): c.encode(x, batch: images, into: z); c.decode(z, batch: images, into: xr)
        }
    }

    public var latentDim: Int? {
        switch self {
        case .pixel: return nil
        case .linear(let c): return c.latentDim
        case .image(let c): return c.latentDim
        }
    }
}

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

extension TokenizerKind {
    /// Whether the tokenizer works on whole images (so the image size must match the shards').
    public var needsImageSize: Bool { self == .convVAE }
    /// Whether `ldae-fit-tokenizer` makes it (pca has ldae-fit-pca, pixel needs no file).
    public var isFitted: Bool { self != .pca && self != .pixel }
}
