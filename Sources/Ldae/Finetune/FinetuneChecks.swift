import Foundation

/// The checks `ldae-zoo finetune`, `predict` and `eval` make before any work, each failing with one line that names
/// the file and the reason.
public enum FinetuneChecks {
    /// The starting weights' entry must have the parent's encoder (size, patch, width, depth, heads, MLP ratio; the
    /// position embedding's kind may differ: fine-tuning learns it either way).
    public static func sameArchitecture(_ m: Manifest, as parent: Manifest, file: String) throws {
        let a = m.model, b = parent.model
        func enc(_ c: ModelConfig) -> String {
            "\(c.imageSize)px patch \(c.patchSize), width \(c.encoderWidth), depth \(c.encoderDepth), \(c.encoderHeads) heads, mlp x\(c.mlpRatio)"
        }
        guard a.imageSize == b.imageSize, a.patchSize == b.patchSize, a.channels == b.channels, a.encoderWidth == b.encoderWidth,
              a.encoderDepth == b.encoderDepth, a.encoderHeads == b.encoderHeads, a.mlpRatio == b.mlpRatio else {
            throw LdaeError("--init \(m.name)@\(m.version) has another architecture than \(parent.name)@\(parent.version): encoder \(enc(a)) vs \(enc(b))", file: file)
        }
        guard a.timeCond == .none, a.numClasses == nil else {
            throw LdaeError("--init \(m.name)@\(m.version) conditions its blocks by adaLN: not a plain ViT encoder", file: file)
        }
    }

    /// The head `--head` asks for on the parent's encoder: pooled (timm's), or the parent's recommended features.
    public static func headSpec(_ kind: FinetuneHead, parent m: Manifest, classes: Int, file: String) throws -> HeadSpec {
        let enc = Classifier.encoderConfig(m.model)
        let spec: HeadSpec
        switch kind {
        case .pooled: spec = .pooled(classes: classes, config: enc)
        case .readout:
            let f = m.features ?? Manifest.FeatureSpec(layers: [.final])
            if let l = f.layers.first(where: \.isDecoder) {
                throw LdaeError("--head readout: \(m.name)@\(m.version) recommends decoder layer \(l), which a classifier does not keep; use --head pooled", file: file)
            }
            spec = HeadSpec(kind: .readout, layers: f.layers, pooling: f.pooling, classes: classes, config: enc)
        }
        do { try spec.validate(enc) } catch let e as LdaeError { throw LdaeError(e.reason, file: file) }
        return spec
    }

    /// Whether to load the starting entry's head: when it is a classifier (and not `--new-head`), its head must be
    /// this run's, over the same labels in the same order.
    public static func reusesHead(_ m: Manifest, spec: HeadSpec, classNames: [String], newHead: Bool, file: String) throws -> Bool {
        guard let c = m.classifier, !newHead else { return false }
        guard c.head.classes == spec.classes, c.classNames == classNames else {
            throw LdaeError("\(m.name)@\(m.version)'s head has \(c.head.classes) classes (\(names(c.classNames))) but the training shards have \(spec.classes) (\(names(classNames))); pass --new-head to start a new head", file: file)
        }
        guard c.head.layers == spec.layers, c.head.pooling == spec.pooling else {
            throw LdaeError("\(m.name)@\(m.version)'s head reads \(c.head.features) features (\(c.head.kind.rawValue)) but this run's reads \(spec.features) (\(spec.kind.rawValue)); pass --new-head to start a new head", file: file)
        }
        return true
    }

    static func names(_ n: [String]) -> String { n.prefix(4).joined(separator: ", ") + (n.count > 4 ? ", ..." : "") }

    /// Every image of `indices` has a label in 0..<classes: else the shard and row of the first that has none.
    public static func labelled(_ indices: [Int], labels: [Int32], classes: Int, shards: ShardSet, what: String) throws {
        guard let i = indices.first(where: { labels[$0] < 0 || Int(labels[$0]) >= classes }) else { return }
        let (s, row) = shards.locate(i)
        throw LdaeError("image \(row) (a \(what) image) has label \(labels[i]), outside 0..<\(classes): fine-tuning needs every image labelled", file: shards.shards[s].path)
    }

    /// The classifier's labels must be the shards' class names, in order (for eval and predict of labelled shards).
    public static func sameClasses(_ c: ClassifierInfo, ref: String, shards: ShardSet) throws {
        guard shards.labeled else { return }
        guard c.classNames == shards.classNames else {
            let onlyC = c.classNames.filter { !shards.classNames.contains($0) }, onlyS = shards.classNames.filter { !c.classNames.contains($0) }
            let diff = onlyC.isEmpty && onlyS.isEmpty ? "the same names in another order"
                : "only in the classifier: [\(names(onlyC))], only in the shards: [\(names(onlyS))]"
            throw LdaeError("the shards' classes differ from \(ref)'s labels (\(shards.classNames.count) vs \(c.classNames.count) classes; \(diff))", file: shards.sources[0])
        }
    }

    /// A note when validation images were seen (without labels) in pretraining.
    static func splitNote(_ pm: Manifest, recipe r: FinetuneConfig, data: ShardSet) -> String? {
        guard pm.data.indexSHA256 == data.indexSHA256, let f = r.valFraction, f > 0 else { return nil }
        let t = pm.training
        if t.valFraction == 0 { return "\(pm.name)@\(pm.version) was pretrained on every image of these shards: the validation images were seen in pretraining (without labels)" }
        if t.valFraction != f || t.valSeed != r.valSeed { return "\(pm.name)@\(pm.version) held out val_fraction \(t.valFraction) (seed \(t.valSeed)) but this run holds out \(f) (seed \(r.valSeed ?? 0)): some validation images were seen in pretraining" }
        return nil
    }
}
