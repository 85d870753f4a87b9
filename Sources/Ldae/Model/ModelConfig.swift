/// Architecture of the l-DAE model: a plain pre-norm ViT encoder (timm layout) and a transformer decoder.
/// Serialised with snake_case keys (manifest.json, checkpoints, `--config FILE.json`).
public struct ModelConfig: Codable, Equatable, Sendable {
    public var imageSize: Int = 32
    public var patchSize: Int = 4
    public var channels: Int = 3
    public var encoderWidth: Int = 192
    public var encoderDepth: Int = 12
    public var encoderHeads: Int = 3
    public var decoderWidth: Int = 128
    public var decoderDepth: Int = 4
    public var decoderHeads: Int = 4
    public var mlpRatio: Int = 4
    /// "sincos" (fixed 2-D sin-cos, MAE) or "learned".
    public var posEmbed: String = "sincos"
    /// "none" (default: the encoder stays a plain timm ViT) or "adaln" (t enters every block, DiT-style).
    public var timeCond: String = "none"

    public init() {}

    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    public var tokenDim: Int { patchSize * patchSize * channels }
    public var geometry: PatchGeometry { PatchGeometry(imageSize: imageSize, patchSize: patchSize, channels: channels) }

    /// Impossible shapes are one clear error before any work.
    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid model config: \(s)") }
        guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0 else { throw bad("image_size \(imageSize) is not a multiple of patch_size \(patchSize)") }
        guard channels == 3 else { throw bad("channels must be 3") }
        guard encoderWidth > 0, encoderHeads > 0, encoderWidth % encoderHeads == 0 else { throw bad("encoder_width \(encoderWidth) is not divisible by encoder_heads \(encoderHeads)") }
        guard decoderWidth > 0, decoderHeads > 0, decoderWidth % decoderHeads == 0 else { throw bad("decoder_width \(decoderWidth) is not divisible by decoder_heads \(decoderHeads)") }
        guard encoderDepth >= 1, decoderDepth >= 0, mlpRatio >= 1 else { throw bad("depths must be >= 1 (encoder) and >= 0 (decoder), mlp_ratio >= 1") }
        guard ["sincos", "learned"].contains(posEmbed) else { throw bad("pos_embed must be sincos or learned, got \(posEmbed)") }
        guard ["none", "adaln"].contains(timeCond) else { throw bad("time_cond must be none or adaln, got \(timeCond)") }
        if posEmbed == "sincos" { guard encoderWidth % 4 == 0, decoderWidth % 4 == 0 else { throw bad("sincos positional embedding needs widths divisible by 4") } }
    }
}

/// Named presets (`--config micro|tiny|small`).
public enum ModelPreset: String, CaseIterable, Sendable {
    case micro, tiny, small

    public var config: ModelConfig {
        var c = ModelConfig()
        switch self {
        case .micro:
            c.encoderWidth = 32; c.encoderDepth = 2; c.encoderHeads = 2
            c.decoderWidth = 32; c.decoderDepth = 1; c.decoderHeads = 2; c.mlpRatio = 2
        case .tiny:
            break // the reference config: 192 x 12 (3 heads) encoder, 128 x 4 (4 heads) decoder
        case .small:
            c.encoderWidth = 384; c.encoderDepth = 12; c.encoderHeads = 6
            c.decoderWidth = 256; c.decoderDepth = 4; c.decoderHeads = 8
        }
        return c
    }
}
