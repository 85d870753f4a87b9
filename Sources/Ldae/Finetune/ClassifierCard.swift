import Foundation

/// The model card of a classifier entry (`README.md` in its version folder and in its export), generated from the
/// manifest and the classifier lines of evals.jsonl.
public enum ClassifierCard {
    public static func render(_ m: Manifest, evals: [ClassifierEvalRecord]) -> String {
        guard let c = m.classifier else { return "" }
        let a = m.model, r = c.recipe, h = c.head
        func pct(_ v: Double) -> String { String(format: "%.1f", 100 * v) }
        var s: [String] = []
        s.append("# \(m.name) \(m.version)")
        s.append("")
        s.append("An image classifier over \(c.classNames.count) classes: a ViT encoder "
                 + (c.initFrom == .random ? "initialised at random (the from-scratch baseline) with the architecture of `\(c.parent)`"
                    : "pretrained by l-DAE (`\(c.initEntry ?? c.parent)`)")
                 + " and a linear head, fine-tuned end to end with labels by ldae on CPU.")
        s.append("")
        s.append("## Model")
        s.append("- Encoder: timm `VisionTransformer(img_size=\(a.imageSize), patch_size=\(a.patchSize), embed_dim=\(a.encoderWidth), depth=\(a.encoderDepth), "
                 + "num_heads=\(a.encoderHeads), mlp_ratio=\(a.mlpRatio), class_token=False, global_pool='avg', fc_norm=False)`; position "
                 + "embedding initialised \(a.posEmbed.rawValue), fine-tuned; \(m.encoderParameterCount) parameters.")
        if h.kind == .pooled {
            s.append("- Head: `head` Linear(\(h.features), \(h.classes)) on the mean of the final tokens after the encoder's norm: the whole "
                     + "classifier is timm's `VisionTransformer(..., num_classes=\(h.classes))`.")
        } else {
            s.append("- Head: Linear(\(h.features), \(h.classes)) on the \(h.pooling.rawValue) pooling of the tokens at layer"
                     + "\(h.layers.count > 1 ? "s" : "") \(h.layers.map(\.description).joined(separator: ", ")) (the parent's recommended readout); "
                     + "blocks above it are unused. In an export: `ldae_features.py`'s `ldae_logits`.")
        }
        s.append("- Labels (logit order): " + c.classNames.enumerated().map { "\($0) \($1)" }.joined(separator: ", ") + ".")
        s.append("- Input: \(a.imageSize)x\(a.imageSize) RGB scaled as \(PixelScaling.name) (timm mean = std = 0.5); image files are prepared as the "
                 + "training shards were (resize \(c.preprocess.resize), \(c.preprocess.filter) filter).")
        s.append("")
        s.append("## Data and recipe")
        let held = (r.valFraction ?? 0) > 0 ? "; \(pct(r.valFraction ?? 0))% held out as the validation split (val_seed \(r.valSeed ?? 0)), never trained on" : ""
        s.append("- Data: \(m.data.images) images from \(m.data.sources.joined(separator: ", ")) (index sha256 \(m.data.indexSHA256.prefix(12))...)\(held).")
        s.append(String(format: "- Recipe: %d steps (%.1f epochs) of batch %d; AdamW (beta2 %g, weight decay %g) at base lr %g per 256 with layer-wise decay %g, "
                        + "warmup %g epochs then cosine to %g; label smoothing %g, drop path %g, clip %@; flips %@, crop %@; seed %llu.",
                        m.steps, m.epochs, r.batchSize, r.beta2, r.weightDecay, r.baseLR, r.layerDecay, r.warmupEpochs, r.minLR, r.labelSmoothing,
                        r.dropPath, r.gradClip > 0 ? "\(r.gradClip)" : "off", r.flip ? "on" : "off",
                        r.crop.rawValue + (r.crop == .pad ? " \(r.cropPadding)" : ""), r.seed))
        s.append(String(format: "- Compute: %.1f CPU-minutes of training over every process (%.1f of validation), %.1f wall minutes; final training loss %.4f.",
                        c.cpuSeconds / 60, c.evalCpuSeconds / 60, m.trainSeconds / 60, m.finalLoss))
        if let p = m.provenance { s.append("- Provenance: " + p.summary + ".") }
        s.append("")
        s.append("## Validation curve")
        if c.valCurve.isEmpty {
            s.append("No validation split was held out.")
        } else {
            s.append("")
            s.append("| step | epoch | CPU-minutes | val top-1 | val top-5 | val loss |")
            s.append("|---|---|---|---|---|---|")
            let pts = c.valCurve.count <= 12 ? c.valCurve : stride(from: 0, to: c.valCurve.count, by: max(1, c.valCurve.count / 10)).map { c.valCurve[$0] } + [c.valCurve.last!]
            for p in pts {
                s.append(String(format: "| %d | %.1f | %.1f | %@ | %@ | %.3f |", p.step, p.epoch, p.cpuSeconds / 60, pct(p.top1), pct(p.top5), p.loss))
            }
            s.append("")
            s.append("`val_curve.png`, `val_curve.jsonl` (every point).")
        }
        s.append("")
        s.append("## Evaluation")
        if evals.isEmpty { s.append("Not evaluated yet: `ldae-zoo eval \(m.name)@\(m.version) --test TEST` (top-1, top-5, confusion matrix).") }
        for split in ["test", "val"] {
            guard let e = evals.last(where: { $0.split == split }) else { continue }
            s.append("- \(split == "test" ? "Test set" : "Validation split") (\(e.date.prefix(10)), \(e.data.used) images): top-1 **\(pct(e.top1))**, "
                     + "top-5 \(pct(e.top5))" + (e.figure.map { "; confusion matrix `\($0)`" } ?? "") + ".")
        }
        s.append("")
        s.append("## Use")
        s.append("```sh")
        s.append("ldae-zoo predict \(m.name)@\(m.version) IMAGES_OR_SHARDS --out preds.csv     # path, top-k labels and probabilities")
        s.append("ldae-zoo export \(m.name)@\(m.version) --out \(m.name)-timm")
        s.append("```")
        s.append("```python")
        s.append("import sys; sys.path.insert(0, '\(m.name)-timm')   # after ldae-zoo export")
        s.append("from ldae_features import load_model, ldae_logits")
        s.append("m = load_model('\(m.name)-timm')     # timm VisionTransformer" + (h.kind == .pooled ? "(num_classes=\(h.classes))" : " (encoder; the head is ldae_head.safetensors)"))
        s.append("logits = ldae_logits(m, x)           # x: [B, 3, \(a.imageSize), \(a.imageSize)] in [-1, 1]; [B, \(h.classes)] in label order")
        s.append("```")
        s.append("")
        s.append("Generated by ldae from manifest.json and evals.jsonl.")
        return s.joined(separator: "\n") + "\n"
    }
}
