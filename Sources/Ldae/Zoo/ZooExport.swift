import Foundation

/// `ldae-zoo export`: a Hugging Face / timm style folder for one zoo version:
///   config.json        timm's hub config: architecture, num_classes 0, model_args, pretrained_cfg (input size,
///                      mean = std = 0.5, i.e. x/127.5 - 1)
///   model.safetensors  the encoder only, timm VisionTransformer names and shapes
///   README.md          the model card
///   ldae_features.py   the recommended features (and a classifier's logits) from timm in one call, config.json's
///                      `ldae_readout` (ZooExport+Readout.swift)
/// A classifier entry (`ldae-zoo finetune`) exports its encoder and head: with the pooled head the folder is timm's
/// VisionTransformer(num_classes=C) (`head.weight`, `head.bias`, config `num_classes` and `label_names`); a readout
/// head goes to ldae_head.safetensors, applied by `ldae_features.ldae_logits`.
/// The folder is built beside `out` and renamed into place, so a reader never sees half of it.
public enum ZooExport {
    /// timm's registered name whose defaults the model_args override (any vit_* name works).
    public static let timmArchitecture = "vit_tiny_patch16_224"

    public struct TimmConfig: Codable {
        public var architecture: String
        public var numClasses: Int
        public var numFeatures: Int
        public var globalPool: String
        public var modelArgs: ModelArgs
        public var pretrainedCfg: PretrainedCfg
        /// A classifier's label names, in logit order (nil for an encoder).
        public var labelNames: [String]? = nil
        /// The recommended features and the function that computes them (ZooExport+Readout.swift).
        public var ldaeReadout: Readout? = nil
        public var ldaeClassifier: ClassifierHead? = nil
    }
    public struct ModelArgs: Codable {
        public var imgSize: Int, patchSize: Int, embedDim: Int, depth: Int, numHeads: Int, mlpRatio: Double
        public var classToken: Bool, globalPool: String, fcNorm: Bool, numClasses: Int
    }
    public struct PretrainedCfg: Codable {
        public var tag: String
        public var inputSize: [Int]
        public var fixedInputSize: Bool
        public var interpolation: String
        public var cropPct: Double
        public var mean: [Double]
        public var std: [Double]
        public var numClasses: Int
        public var firstConv: String
        public var classifier: String
        public var license: String
        public var labelNames: [String]? = nil
    }

    public static func config(_ m: Manifest) -> TimmConfig {
        let c = m.model
        // a classifier with the pooled head is timm's classifier (num_classes C); a readout head stays beside it
        let k = m.classifier.map { $0.head.kind == .pooled ? $0.head.classes : 0 } ?? 0
        var t = TimmConfig(architecture: timmArchitecture, numClasses: k, numFeatures: c.encoderWidth, globalPool: "avg",
                           modelArgs: ModelArgs(imgSize: c.imageSize, patchSize: c.patchSize, embedDim: c.encoderWidth,
                                                depth: c.encoderDepth, numHeads: c.encoderHeads, mlpRatio: Double(c.mlpRatio),
                                                classToken: false, globalPool: "avg", fcNorm: false, numClasses: k),
                           pretrainedCfg: PretrainedCfg(tag: "ldae_\(m.name)_\(m.version)", inputSize: [3, c.imageSize, c.imageSize],
                                                        fixedInputSize: true, interpolation: "bicubic", cropPct: 1.0,
                                                        mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], numClasses: k,
                                                        firstConv: "patch_embed.proj", classifier: "head", license: "other"))
        t.ldaeReadout = readout(m)
        if let ci = m.classifier {
            t.labelNames = ci.classNames; t.pretrainedCfg.labelNames = ci.classNames
            t.ldaeClassifier = ClassifierHead(head: ci.head.kind.rawValue, classes: ci.head.classes, labelNames: ci.classNames,
                                              headFile: ci.head.kind == .pooled ? nil : headFile, function: "ldae_features.ldae_logits")
        }
        return t
    }

    /// Writes the export of `ref` to `out` (which must not exist yet, or be an earlier export: `overwrite`).
    @discardableResult
    public static func export(store: ZooStore, ref: String, out: String, overwrite: Bool = false) throws -> (files: [String], tensors: Int) {
        let zm = try ZooModel(store: store, ref: ref)
        let m = zm.manifest
        // a classifier: its encoder and head (the pooled head as timm's `head`; a readout head in a file of its own)
        let zc = m.isClassifier ? try ZooClassifier(store: store, ref: ref, command: "export") : nil
        guard m.model.timeCond == .none else {
            throw LdaeError("\(zm.ref) conditions every block on the noise level (time_cond adaln): timm's VisionTransformer cannot load it")
        }
        guard m.model.numClasses == nil else {
            throw LdaeError("\(zm.ref) conditions every block on a class label (class conditioning, adaLN): timm's VisionTransformer cannot load it")
        }
        if FileUtil.exists(out) {
            guard overwrite, FileUtil.exists(out + "/config.json"), FileUtil.exists(out + "/model.safetensors") else {
                throw LdaeError("already exists (use --force to replace an earlier export)", file: out)
            }
        }
        let encoderNames = Set(zm.model.tensors.filter(\.encoder).map(\.name))
        var tensors = zm.model.exportTensors().filter { encoderNames.contains($0.name) }
        var head: [Safetensors.Tensor] = []
        if let zc {
            tensors = zc.classifier.exportTensors()
            if zc.info.head.kind != .pooled {
                head = tensors.filter { $0.name.hasPrefix("head.") }.map { Safetensors.Tensor(String($0.name.dropFirst(5)), shape: $0.shape, values: $0.values) }
                tensors = tensors.filter { !$0.name.hasPrefix("head.") }
            }
        }
        let tmp = out.hasSuffix("/") ? String(out.dropLast()) + ".tmp-\(getpid())" : out + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        try FileUtil.makeDirectory(tmp)
        do {
            try Safetensors.write(tensors, metadata: ["format": "pt", "ldae_ref": zm.ref], dtype: .f32, to: tmp + "/model.safetensors")
            let cfg = config(m)
            try JSON.write(cfg, to: tmp + "/config.json")
            if !head.isEmpty { try Safetensors.write(head, metadata: ["format": "pt", "ldae_ref": zm.ref], dtype: .f32, to: tmp + "/" + headFile) }
            try AtomicFile.write(Data(python(m, readout: cfg.ldaeReadout!, classifier: cfg.ldaeClassifier).utf8), to: tmp + "/" + pythonFile)
            let card = m.isClassifier ? ClassifierCard.render(m, evals: ClassifierEvalRecord.readAll(zm.dir + "/" + ZooStore.evalsFile))
                : ModelCard.render(m, evals: EvalRecord.readAll(zm.dir + "/" + ZooStore.evalsFile).records)
            try AtomicFile.write(Data(card.utf8), to: tmp + "/" + ModelCard.fileName)
            if FileUtil.exists(out) { try FileManager.default.removeItem(atPath: out) }
            guard rename(tmp, out) == 0 else { throw LdaeError("cannot rename the export into place (\(String(cString: strerror(errno))))", file: out) }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        return (["config.json", "model.safetensors", ModelCard.fileName, pythonFile] + (head.isEmpty ? [] : [headFile]), tensors.count)
    }
}
