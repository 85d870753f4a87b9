/// Shape and loss weight of the convolutional VAE tokenizer (`ConvVAE`). Serialised with snake_case keys
/// (image_size, patch_size, channels, latent_dim, width, kl_weight); the last three may be left out (defaults).
public struct ConvVAEConfig: Codable, Equatable, Sendable {
    /// S: images are S x S.
    public var imageSize: Int
    /// p: the net downsamples by p (log2(p) stride-2 stages), one latent vector per p x p patch. One of 2, 4, 8, 16.
    public var patchSize: Int
    public var channels: Int = 3
    /// d: latent channels per patch-grid cell.
    public var latentDim: Int
    /// w: base channel count. A feature map at resolution level r (S / 2^r) has width * 2^min(r, 1) channels:
    /// w at full resolution, 2w at every downsampled level (encoder and decoder alike).
    public var width: Int = 32
    /// Weight of the KL term. The loss is MSE (mean over all B*T*D pixel values) + klWeight * KL, the KL a mean over
    /// all B*T*d latent elements of 0.5 (mu^2 + exp(lv) - 1 - lv): per latent element against per pixel value.
    public var klWeight: Double = 1e-4

    public init(imageSize: Int, patchSize: Int, channels: Int = 3, latentDim: Int, width: Int = 32, klWeight: Double = 1e-4) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
        self.latentDim = latentDim; self.width = width; self.klWeight = klWeight
    }

    enum CodingKeys: String, CodingKey { case imageSize, patchSize, channels, latentDim, width, klWeight }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        latentDim = try c.decode(Int.self, forKey: .latentDim)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? 3
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? 32
        klWeight = try c.decodeIfPresent(Double.self, forKey: .klWeight) ?? 1e-4
    }

    /// The patch sizes the net supports (powers of 2: log2(p) stride-2 stages).
    public static let patchSizes = [2, 4, 8, 16]

    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    public var tokenDim: Int { patchSize * patchSize * channels }
    /// log2(p): the stride-2 stages of the encoder (and upsampling stages of the decoder).
    public var stages: Int { patchSize.trailingZeroBitCount }
    public var geometry: PatchGeometry { PatchGeometry(imageSize: imageSize, patchSize: patchSize, channels: channels) }

    /// Impossible or unsupported shapes are one clear error naming the value.
    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid conv-vae config: \(s)") }
        guard ConvVAEConfig.patchSizes.contains(patchSize) else {
            throw bad("patch_size \(patchSize) is not one of 2, 4, 8, 16 (a power of 2: one stride-2 stage per factor 2)")
        }
        guard imageSize > 0, imageSize <= 4096, imageSize % patchSize == 0 else {
            throw bad("image_size \(imageSize) is not a multiple of patch_size \(patchSize) in 1...4096")
        }
        guard channels >= 1, channels <= 64 else { throw bad("channels \(channels) must be in 1...64") }
        guard latentDim >= 1, latentDim <= 4096 else { throw bad("latent_dim \(latentDim) must be in 1...4096") }
        guard width >= 1, width <= 4096 else { throw bad("width \(width) must be in 1...4096") }
        guard klWeight >= 0, klWeight.isFinite else { throw bad("kl_weight \(klWeight) must be finite and >= 0") }
    }
}
