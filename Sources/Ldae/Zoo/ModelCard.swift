import Foundation

/// The model card: `README.md` in a zoo version folder (and in an export), generated from manifest.json and
/// evals.jsonl. Like evals.jsonl it is derived, not hashed: `ldae-zoo eval` and `recommend` rewrite it.
public enum ModelCard {
    public static let fileName = "README.md"

    public static func render(_ m: Manifest, evals: [EvalRecord]) -> String {
        let c = m.model, t = m.training
        func pct(_ v: Double) -> String { String(format: "%.1f", 100 * v) }
        var s: [String] = []
        s.append("# \(m.name) \(m.version)")
        s.append("")
        s.append("A ViT encoder pretrained without labels by **l-DAE** (latent denoising autoencoder; Chen, Liu, Xie, He, "
                 + "*Deconstructing Denoising Diffusion Models for Self-Supervised Learning*, 2024) with ldae on CPU.")
        s.append("")
        s.append("## Model")
        s.append("- Encoder: timm `VisionTransformer(img_size=\(c.imageSize), patch_size=\(c.patchSize), embed_dim=\(c.encoderWidth), "
                 + "depth=\(c.encoderDepth), num_heads=\(c.encoderHeads), mlp_ratio=\(c.mlpRatio), class_token=False, "
                 + "global_pool='avg', fc_norm=False, num_classes=0)`; \(c.posEmbed.rawValue) positional embedding; "
                 + "\(m.encoderParameterCount) parameters.")
        s.append("- Decoder (used in pretraining only): \(c.decoderWidth) x \(c.decoderDepth) blocks, \(c.decoderHeads) heads"
                 + (c.timeCond == .adaln ? "; every block told the noise level by adaLN (not loadable as a plain timm ViT)" : "")
                 + (c.numClasses != nil ? "; every block told the class label by adaLN (class conditioning; features use the null label)." : "."))
        s.append("- Input: \(c.imageSize)x\(c.imageSize) RGB scaled as \(PixelScaling.name) (timm mean = std = 0.5), weights \(m.weightsDtype).")
        let feats = m.features ?? Manifest.FeatureSpec(layers: [.final])
        let fw = feats.pooling.width(of: feats.layers, config: c)
        s.append("- **Recommended features** (what `ldae-zoo features \(m.name)` writes): \(feats.pooling.rawValue) pooling of the tokens at "
                 + "layer\(feats.layers.count > 1 ? "s" : "") \(feats.layers.map(\.description).joined(separator: ", ")) "
                 + "(\(fw) values)" + (feats.flipTTA == true ? ", averaged with the mirror image's" : "")
                 + (feats.chosenBy.isEmpty ? "." : "; \(feats.chosenBy)."))
        s.append("")
        s.append("## Data and recipe")
        let held = t.valFraction > 0 ? "; \(pct(t.valFraction))% held out as the validation split (val_seed \(t.valSeed)), never trained on" : ""
        s.append("- Data: \(m.data.images) images from \(m.data.sources.joined(separator: ", ")) (index sha256 \(m.data.indexSHA256.prefix(12))...)\(held); "
                 + "\(m.data.classNames.count) classes (" + (c.numClasses != nil ? String(format: "**labels used in pretraining**: class conditioning, label dropout %.2f; the validation split's labels unused", t.labelDropout) : "labels unused in pretraining") + ").")
        let fitted = m.tokenizer.kind.isFitted
            ? " (fitted by ldae-fit-tokenizer, d = \(m.tokenizer.latentDim) per patch, file \(m.tokenizer.file ?? "?") sha256 \((m.tokenizer.sha256 ?? "?").prefix(12))...)" : ""
        s.append("- Tokenizer: \(m.tokenizer.kind.rawValue)" + (m.tokenizer.kind == .pca ? " (d = \(m.tokenizer.latentDim) of \(c.tokenDim)\(m.tokenizer.pcaSHA256.map { ", pca.h5 sha256 \($0.prefix(12))..." } ?? ""))" : fitted) + ".")
        // the recipe's knobs as they are keyed in manifest.json (`TrainConfig.knobs`), those that change nothing left out
        s.append("- Recipe: " + TrainConfig.knobs.cardLine("recipe", t) + ".")
        s.append("- Augmentation: " + TrainConfig.knobs.cardLine("augmentation", t) + ".")
        s.append(String(format: "- Optimisation: %d steps (%.1f epochs) of AdamW, base_lr per 256 images: ", m.steps, m.epochs)
                 + TrainConfig.knobs.cardLine("optimisation", t) + (t.ema > 0 ? "; the published weights are the EMA" : "") + ".")
        s.append(String(format: "- Compute: %.1f training minutes (wall)%@%@, %@; final loss %.4f.", m.trainSeconds / 60,
                        m.trainCpuSeconds.map { String(format: ", %.1f CPU-minutes", $0 / 60) } ?? "",
                        m.provenance.map { " on \($0.ranksByThreads) ranks x threads" + (m.cpu.map { " (\($0))" } ?? "") }
                            ?? m.threads.map { " on \($0) threads" + (m.cpu.map { " (\($0))" } ?? "") } ?? "",
                        m.computePrecision.summary, m.finalLoss))
        if let p = m.provenance { s.append("- Provenance: " + p.summary + ".") }
        s.append("")
        s.append("## Evaluation")
        if evals.isEmpty {
            s.append("Not evaluated yet: `ldae-zoo eval \(m.name)@\(m.version) --train TRAIN --test TEST --baseline pixels --baseline random --baseline kmeans`.")
        }
        // the newest record of each split
        for split in [EvalSplit.test, .val] {
            guard let r = evals.last(where: { ($0.split ?? .test) == split }) else { continue }
            let ks = r.settings.knnStandardize == true ? ", k-NN on standardised features" : ""
            s.append("")
            s.append("**\(split == .test ? "Test set" : "Validation split")** (\(r.date.prefix(10))): probe trained on \(r.train.used) images, "
                     + "evaluated on \(r.test.used); features: layers \((r.layers ?? [.final]).map(\.description).joined(separator: ",")), "
                     + "\((r.pooling ?? .mean).rawValue) pooling\(ks).")
            s.append("")
            s.append("| features | dim | linear top-1 | k-NN top-1 (k=\(r.settings.knn.k)) |")
            s.append("|---|---|---|---|")
            for e in [r.metrics] + r.baselines.keys.sorted().map({ r.baselines[$0]! }) {
                s.append("| \(e.features == "encoder" ? "this model" : e.features) | \(e.featureDim) | \(pct(e.linearProbe.top1)) | \(pct(e.knn.top1)) |")
            }
            if let k = r.baselines.values.compactMap(\.kmeans).first {
                let ks = k.settings
                s.append("")
                s.append("kmeans (Coates, Lee & Ng 2011): K = \(ks.centroids) centroids of normalised"
                         + (ks.whiten ? ", ZCA-whitened (eps \(ks.whitenEps))" : "") + " \(ks.patchSize)x\(ks.patchSize) patches, "
                         + "\(ks.activation.rawValue) activation at every position, \(ks.pool)x\(ks.pool) sum pooling; k-means on \(k.patches) "
                         + "patches of the \(k.images) training images only (\(k.iterations) iterations, seed \(k.seed); "
                         + String(format: "fit %.0f s).", k.fitSeconds))
            }
            if let pl = r.perLayer {
                s.append("")
                s.append("Per layer: " + pl.map { "\($0.features) \(pct($0.linearProbe.top1))/\(pct($0.knn.top1))" }.joined(separator: ", ")
                         + " (linear/k-NN).")
            }
        }
        s.append("")
        s.append("Probe: features standardised with the training side's statistics, multinomial logistic regression (L-BFGS), "
                 + "weight decay picked on a held-out 10% of the probe's training side; k-NN: cosine similarity, votes exp(sim/0.07) (DINO).")
        s.append("")
        s.append("## Use")
        s.append("Intended for research: frozen features for linear probes, k-NN retrieval or fine-tuning on images like its data "
                 + "(\(c.imageSize)x\(c.imageSize)). It was trained on a CPU budget; it is not a general-purpose backbone.")
        s.append("")
        s.append("```sh")
        s.append("ldae-zoo features \(m.name)@\(m.version) SHARDS --out feats.npy      # the recommended features, float32 [N, \(fw)]")
        s.append("ldae-zoo export \(m.name)@\(m.version) --out \(m.name)-timm              # config.json + model.safetensors + this card")
        s.append("```")
        s.append("```python")
        s.append("import timm  # after ldae-zoo export")
        s.append("m = timm.create_model('vit_tiny_patch16_224', pretrained=True, pretrained_cfg_overlay=dict(file='\(m.name)-timm/model.safetensors'),")
        s.append("                      img_size=\(c.imageSize), patch_size=\(c.patchSize), embed_dim=\(c.encoderWidth), depth=\(c.encoderDepth), num_heads=\(c.encoderHeads), mlp_ratio=\(c.mlpRatio),")
        s.append("                      class_token=False, global_pool='avg', fc_norm=False, num_classes=0)")
        s.append("feats = m(x)            # x: [B, 3, \(c.imageSize), \(c.imageSize)] in [-1, 1]; the final layer's mean-pooled tokens")
        s.append("tokens = m.forward_features(x)   # [B, \(c.tokens), \(c.encoderWidth)] after the final norm")
        s.append("import sys; sys.path.insert(0, '\(m.name)-timm'); from ldae_features import ldae_features")
        s.append("f = ldae_features(m, x)          # the recommended features above, [B, \(fw)] (`ldae_readout` in config.json)")
        s.append("```")
        s.append("")
        s.append("Generated by ldae from manifest.json and evals.jsonl.")
        return s.joined(separator: "\n") + "\n"
    }

    /// Rewrites the card of the entry in `dir` (atomically).
    public static func write(dir: String) throws {
        let m = try JSON.read(Manifest.self, path: dir + "/" + ZooStore.manifestFile)
        if m.isClassifier {   // a classifier's card (Finetune/ClassifierCard.swift)
            let evals = ClassifierEvalRecord.readAll(dir + "/" + ZooStore.evalsFile)
            try AtomicFile.write(Data(ClassifierCard.render(m, evals: evals).utf8), to: dir + "/" + fileName)
            return
        }
        let evals = EvalRecord.readAll(dir + "/" + ZooStore.evalsFile).records
        try AtomicFile.write(Data(render(m, evals: evals).utf8), to: dir + "/" + fileName)
    }
}
