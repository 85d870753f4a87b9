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

    public init(from decoder: Decoder) throws {
        self.init()
        try ModelConfig.knobs.decode(decoder, into: &self)
    }

    public func encode(to encoder: Encoder) throws { try ModelConfig.knobs.encode(self, to: encoder) }

    /// The architecture's knobs: every key but num_classes is required in a config file; the flags override a preset's
    /// or a file's values (`ldae-train --encoder-width ...`).
    public static let knobs: [Knob<ModelConfig>] = {
        let data = TrainHelp.data
        return [
            .int(\.imageSize, key: "image_size", "S", .atLeast(1), required: true),
            .int(\.patchSize, key: "patch_size", "P", .atLeast(1), required: true),
            .int(\.channels, key: "channels", "C", .within(3...3), required: true),
            .int(\.encoderWidth, key: "encoder_width", flag: "encoder-width", "W", .atLeast(1), help: "the encoder's width (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.encoderDepth, key: "encoder_depth", flag: "encoder-depth", "L", .atLeast(1), help: "the encoder's blocks (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.encoderHeads, key: "encoder_heads", flag: "encoder-heads", "H", .atLeast(1), help: "the encoder's attention heads (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.decoderWidth, key: "decoder_width", flag: "decoder-width", "W", .atLeast(1), help: "the decoder's width (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.decoderDepth, key: "decoder_depth", flag: "decoder-depth", "L", .atLeast(0), help: "the decoder's blocks (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.decoderHeads, key: "decoder_heads", flag: "decoder-heads", "H", .atLeast(1), help: "the decoder's attention heads (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .int(\.mlpRatio, key: "mlp_ratio", flag: "mlp-ratio", "R", .atLeast(1), help: "the MLPs' hidden width over the width (overrides the preset's or the file's)", section: data, default: .none, required: true),
            .choice(\.posEmbed, key: "pos_embed", required: true),
            .choice(\.timeCond, key: "time_cond", flag: "time-cond", help: "time conditioning of every block (none: the encoder stays a plain timm ViT)", section: data,
                    step: MethodStep(changes: "t enters every block by adaptive LayerNorm (DiT)", paper: "DiT keeps it"), required: true),
            .optionalInt(\.numClasses, key: "num_classes", "C", .within(1...100_000)),
        ]
    }()

    /// Whether the blocks carry adaLN modulation: timestep conditioning, class conditioning or both.
    public var conditioned: Bool { timeCond == .adaln || numClasses != nil }

    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    public var tokenDim: Int { patchSize * patchSize * channels }
    public var geometry: PatchGeometry { PatchGeometry(imageSize: imageSize, patchSize: patchSize, channels: channels) }

    /// Impossible shapes are one clear error before any work: each knob's range, then how the shapes fit together.
    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid model config: \(s)") }
        try ModelConfig.knobs.validate(self, what: "model config")
        guard imageSize % patchSize == 0 else { throw bad("image_size \(imageSize) is not a multiple of patch_size \(patchSize)") }
        guard encoderWidth % encoderHeads == 0 else { throw bad("encoder_width \(encoderWidth) is not divisible by encoder_heads \(encoderHeads)") }
        guard decoderWidth % decoderHeads == 0 else { throw bad("decoder_width \(decoderWidth) is not divisible by decoder_heads \(decoderHeads)") }
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
