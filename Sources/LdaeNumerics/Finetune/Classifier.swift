import Foundation

/// A ViT classifier: the encoder of an `LDAEModel` (its decoder trimmed to nothing, `encoderConfig`) and a linear
/// head on the pooled tokens `spec` names. The encoder's parameters and gradients are the model's flat buffers; the
/// head's are two more (weight [C, F] then bias [C]). Passes are in Classifier+Passes.swift, drop path in
/// DropPath.swift, weights in and out here.
///
/// Exported, the encoder has timm's VisionTransformer names and the head is `head.weight` / `head.bias`: with the
/// pooled head, `VisionTransformer(..., class_token=False, global_pool='avg', fc_norm=False, num_classes=C)`.
public final class Classifier {
    public let model: LDAEModel
    public let spec: HeadSpec
    public let headParams: UnsafeMutablePointer<Float>
    public let headGrads: UnsafeMutablePointer<Float>
    /// Drop-path rate of each encoder block (timm: linspace(0, rate, depth)).
    public let dropRates: [Double]
    /// Encoder blocks the passes run (`HeadSpec.depthNeeded`).
    let depth: Int
    /// The distinct layers the head reads, each with its offsets in a feature row (a layer may be listed twice).
    let taps: [(layer: FeatureLayer, offsets: [Int])]
    let T: Int, W: Int, D: Int

    // training activations (Classifier+Passes.swift)
    let arena = Arena()
    var acts: Acts? = nil
    var actsBatch = 0
    var lastBatch = 0
    var hasForward = false
    /// The chunked backward's per-core and per-tail-chunk gradients (as `LDAEModel.backward`).
    var workerGrads: UnsafeMutablePointer<Float>? = nil
    var workerGradsCount = 0

    public var headCount: Int { spec.parameterCount }
    public var config: ModelConfig { model.config }
    static let headStream: UInt64 = 0x4845_4144_0000_0000

    /// The architecture of a classifier made from an entry of configuration `c`: the same encoder, no decoder (the
    /// smallest one `ModelConfig` allows, never run; the passes and the exported weights leave it out).
    public static func encoderConfig(_ c: ModelConfig) -> ModelConfig {
        var e = c
        e.decoderDepth = 0; e.decoderWidth = 4; e.decoderHeads = 1
        return e
    }

    /// A classifier with MAE's initialisation from `seed` (the encoder's as pretraining's; the head's weight
    /// trunc-normal with std 2e-5, bias 0, as MAE's fine-tuning). dropPath: the largest block's rate.
    public init(config: ModelConfig, spec: HeadSpec, dropPath: Double = 0, seed: UInt64 = 0, plan: ExecutionPlan = .automatic) throws {
        guard config.timeCond == .none, config.numClasses == nil else {
            throw LdaeError("a classifier's encoder is a plain ViT: this one is conditioned on \(config.timeCond == .adaln ? "the noise level" : "a class label") (adaLN) in every block")
        }
        let enc = Classifier.encoderConfig(config)
        try spec.validate(enc)
        guard dropPath >= 0 && dropPath < 1 else { throw LdaeError("drop_path must be in [0, 1), got \(dropPath)") }
        model = try LDAEModel(config: enc, seed: seed, plan: plan)
        self.spec = spec
        T = enc.tokens; W = enc.encoderWidth; D = enc.tokenDim
        depth = spec.depthNeeded(enc)
        let L = enc.encoderDepth
        dropRates = (0..<L).map { L > 1 ? dropPath * Double($0) / Double(L - 1) : 0 }
        var list: [(FeatureLayer, [Int])] = [], off = 0
        for l in spec.layers {
            if let i = list.firstIndex(where: { $0.0 == l }) { list[i].1.append(off) } else { list.append((l, [off])) }
            off += spec.pooling.factor * W
        }
        taps = list.map { (layer: $0.0, offsets: $0.1) }
        headParams = LDAEModel.allocateAligned(spec.parameterCount)
        headGrads = LDAEModel.allocateAligned(spec.parameterCount)
        var rng = RNG(seed: seed, stream: Classifier.headStream)
        for i in 0..<(spec.classes * spec.features) {
            var v = rng.normal()
            while abs(v) > 2 { v = rng.normal() }
            headParams[i] = Float(2e-5 * v)
        }
    }

    deinit {
        LDAEModel.deallocateAligned(headParams); LDAEModel.deallocateAligned(headGrads)
        LDAEModel.deallocateAligned(workerGrads); arena.free()
    }

    public func zeroGrad() {
        model.zeroGrad()
        headGrads.update(repeating: 0, count: headCount)
    }

    /// The encoder tensors the classifier trains (every one of the encoder, the positional embedding included:
    /// fine-tuning learns it, as timm's and MAE's), in parameter order.
    public var encoderTensors: [LDAEModel.TensorInfo] { model.tensors.filter(\.encoder) }

    // MARK: weights

    /// The encoder in timm's names and layout, then `head.weight` [C, F] and `head.bias` [C].
    public func exportTensors() -> [NamedTensor] {
        let names = Set(encoderTensors.map(\.name))
        let C = spec.classes, F = spec.features
        return model.exportTensors().filter { names.contains($0.name) } + [
            NamedTensor("head.weight", shape: [C, F], values: Array(UnsafeBufferPointer(start: headParams, count: C * F))),
            NamedTensor("head.bias", shape: [C], values: Array(UnsafeBufferPointer(start: headParams + C * F, count: C))),
        ]
    }

    /// Loads the encoder (every encoder tensor, checked as `LDAEModel.load`) and, when `head` is true, the head (its
    /// shape must be this classifier's: [C, F] and [C]). Errors name the tensor.
    public func load(_ dict: [String: NamedTensor], head: Bool) throws {
        try model.loadEncoder(dict)
        guard head else { return }
        let C = spec.classes, F = spec.features
        for (name, shape) in [("head.weight", [C, F]), ("head.bias", [C])] {
            guard let t = dict[name] else { throw LdaeError("weights: missing tensor '\(name)'") }
            guard t.shape == shape, t.values.count == shape.reduce(1, *) else {
                throw LdaeError("weights: tensor '\(name)' has shape \(t.shape) but the head has \(C) classes of \(F) features (\(shape))")
            }
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) { throw LdaeError("weights: tensor '\(name)' has a non-finite value at index \(bad)") }
        }
        dict["head.weight"]!.values.withUnsafeBufferPointer { headParams.update(from: $0.baseAddress!, count: C * F) }
        dict["head.bias"]!.values.withUnsafeBufferPointer { (headParams + C * F).update(from: $0.baseAddress!, count: C) }
    }
}

extension LDAEModel {
    /// Strict load of the encoder's tensors only (a classifier's weights have no decoder): every encoder tensor
    /// present with its exported shape and finite values; other names are ignored.
    public func loadEncoder(_ dict: [String: NamedTensor]) throws {
        let enc = tensors.filter(\.encoder)
        for info in enc {
            guard let t = dict[info.name] else { throw LdaeError("weights: missing tensor '\(info.name)'") }
            let shape = exportShape(info)
            guard t.shape == shape, t.values.count == info.count else {
                throw LdaeError("weights: tensor '\(info.name)' has shape \(t.shape), expected \(shape)")
            }
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw LdaeError("weights: tensor '\(info.name)' has a non-finite value at index \(bad)")
            }
        }
        for info in enc {
            var v = dict[info.name]!.values
            if info.name == "patch_embed.proj.weight" { v = patchWeightFromConv(v) }
            v.withUnsafeBufferPointer { (params + info.offset).update(from: $0.baseAddress!, count: info.count) }
        }
    }
}
