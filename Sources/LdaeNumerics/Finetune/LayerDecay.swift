import Foundation

/// Layer-wise learning-rate decay (BEiT; MAE's `param_groups_lrd`): a tensor's learning rate (and so its decoupled
/// weight decay, which AdamW multiplies by the rate) is scaled by decay^(L + 1 - id), where L is the encoder depth and
/// id its layer: the patch and position embeddings 0, `blocks.i.*` i + 1, everything after the blocks (the final norm,
/// the head) L + 1. The head learns at the full rate, the patch embedding at decay^(L + 1).
public enum LayerDecay {
    /// The layer id of an encoder tensor (or the head) in a `depth`-block encoder.
    public static func layerID(_ name: String, depth: Int) -> Int {
        if name.hasPrefix("patch_embed") || name == "pos_embed" || name == "cls_token" { return 0 }
        if name.hasPrefix("blocks.") {
            let k = name.dropFirst("blocks.".count).prefix { $0.isNumber }
            if let i = Int(k) { return i + 1 }
        }
        return depth + 1
    }

    /// The learning-rate multiplier of tensor `name`.
    public static func scale(_ name: String, depth: Int, decay: Double) -> Double {
        Foundation.pow(decay, Double(depth + 1 - layerID(name, depth: depth)))
    }

    /// The optimizer's segments of a classifier's encoder: every encoder tensor (the fixed sin-cos position embedding
    /// included: fine-tuning learns it), weight decay on linear weights only, with its layer's multiplier.
    public static func encoderSegments(_ c: Classifier, decay: Double) -> [AdamW.Segment] {
        let L = c.config.encoderDepth
        return c.encoderTensors.map { .init(offset: $0.offset, count: $0.count, decay: $0.decay, lrScale: scale($0.name, depth: L, decay: decay)) }
    }

    /// The head's segments: the weight decays, the bias does not; both at the full rate.
    public static func headSegments(_ c: Classifier) -> [AdamW.Segment] {
        let w = c.spec.classes * c.spec.features
        return [.init(offset: 0, count: w, decay: true), .init(offset: w, count: c.spec.classes, decay: false)]
    }
}
