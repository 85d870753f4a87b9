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
    public var posEmbed: PosEmbedKind = .sincos
    public var timeCond: TimeCond = .none
    /// Class conditioning (DiT): the number of classes C when on; a label embedding [C + 1, W] (the last row the null
    /// label) is added to the adaLN conditioning. nil (absent from the JSON): off, the paper's final recipe.
    public var numClasses: Int? = nil

    public init() {}

    /// Whether the blocks carry adaLN modulation: timestep conditioning, class conditioning or both.
    public var conditioned: Bool { timeCond == .adaln || numClasses != nil }

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
        if let c = numClasses { guard c >= 1 && c <= 100_000 else { throw bad("num_classes must be in 1...100000, got \(c)") } }
        if posEmbed == .sincos { guard encoderWidth % 4 == 0, decoderWidth % 4 == 0 else { throw bad("sincos positional embedding needs widths divisible by 4") } }
    }
}

/// Named presets (`--config NAME`); image and patch size come from the shards. Adding a preset is one case and
/// one row of `shape`.
public enum ModelPreset: String, MethodOption {
    case micro, tiny, small
    /// The CIFAR-scale encoder of the zoo: 96 x 4 (3 heads), decoder 64 x 2.
    case vit96
    /// The same encoder with a decoder as deep and wide as it (the paper splits its network in the middle).
    case vit96sym = "vit96-sym"

    /// (encoder width, depth, heads, decoder width, depth, heads, mlp ratio)
    var shape: (Int, Int, Int, Int, Int, Int, Int) {
        switch self {
        case .micro: return (32, 2, 2, 32, 1, 2, 2)
        case .tiny: return (192, 12, 3, 128, 4, 4, 4)     // the reference config of the benchmarks
        case .small: return (384, 12, 6, 256, 4, 8, 4)
        case .vit96: return (96, 4, 3, 64, 2, 4, 4)
        case .vit96sym: return (96, 4, 3, 96, 4, 3, 4)
        }
    }

    public var config: ModelConfig {
        var c = ModelConfig()
        (c.encoderWidth, c.encoderDepth, c.encoderHeads, c.decoderWidth, c.decoderDepth, c.decoderHeads, c.mlpRatio) = shape
        return c
    }
}

/// Whether the network is told the noise level.
public enum TimeCond: String, MethodOption {
    /// The encoder stays a plain timm ViT (the paper's final recipe).
    case none
    /// t enters every block through adaptive LayerNorm (DiT).
    case adaln
}

/// Positional embeddings of the encoder and the decoder.
public enum PosEmbedKind: String, MethodOption {
    /// Fixed 2-D sin-cos (MAE).
    case sincos
    /// Learned, initialised trunc-normal(0.02).
    case learned
}

extension ModelConfig {
    /// `ldae-train`'s architecture overrides, applied over the preset or the JSON file.
    public static var flags: [ConfigFlag<ModelConfig>] {
        [.choice("time-cond", \.timeCond),
         .int("encoder-width", \.encoderWidth), .int("encoder-depth", \.encoderDepth), .int("encoder-heads", \.encoderHeads),
         .int("decoder-width", \.decoderWidth), .int("decoder-depth", \.decoderDepth), .int("decoder-heads", \.decoderHeads),
         .int("mlp-ratio", \.mlpRatio)]
    }
}
