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
