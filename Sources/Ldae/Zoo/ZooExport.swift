import Foundation

/// `ldae-zoo export`: a Hugging Face / timm style folder for one zoo version:
///   config.json        timm's hub config: architecture, num_classes 0, model_args, pretrained_cfg (input size,
///                      mean = std = 0.5, i.e. x/127.5 - 1)
///   model.safetensors  the encoder only, timm VisionTransformer names and shapes
///   README.md          the model card
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
    }

    public static func config(_ m: Manifest) -> TimmConfig {
        let c = m.model
        return TimmConfig(architecture: timmArchitecture, numClasses: 0, numFeatures: c.encoderWidth, globalPool: "avg",
                          modelArgs: ModelArgs(imgSize: c.imageSize, patchSize: c.patchSize, embedDim: c.encoderWidth,
                                               depth: c.encoderDepth, numHeads: c.encoderHeads, mlpRatio: Double(c.mlpRatio),
                                               classToken: false, globalPool: "avg", fcNorm: false, numClasses: 0),
                          pretrainedCfg: PretrainedCfg(tag: "ldae_\(m.name)_\(m.version)", inputSize: [3, c.imageSize, c.imageSize],
                                                       fixedInputSize: true, interpolation: "bicubic", cropPct: 1.0,
                                                       mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], numClasses: 0,
                                                       firstConv: "patch_embed.proj", classifier: "head", license: "other"))
    }

    /// Writes the export of `ref` to `out` (which must not exist yet, or be an earlier export: `overwrite`).
    @discardableResult
    public static func export(store: ZooStore, ref: String, out: String, overwrite: Bool = false) throws -> (files: [String], tensors: Int) {
        let zm = try ZooModel(store: store, ref: ref)
        let m = zm.manifest
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
        let tensors = zm.model.exportTensors().filter { encoderNames.contains($0.name) }
        let tmp = out.hasSuffix("/") ? String(out.dropLast()) + ".tmp-\(getpid())" : out + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        try FileUtil.makeDirectory(tmp)
        do {
            try Safetensors.write(tensors, metadata: ["format": "pt", "ldae_ref": zm.ref], dtype: .f32, to: tmp + "/model.safetensors")
            try JSON.write(config(m), to: tmp + "/config.json")
            let evals = EvalRecord.readAll(zm.dir + "/" + ZooStore.evalsFile).records
            try AtomicFile.write(Data(ModelCard.render(m, evals: evals).utf8), to: tmp + "/" + ModelCard.fileName)
            if FileUtil.exists(out) { try FileManager.default.removeItem(atPath: out) }
            guard rename(tmp, out) == 0 else { throw LdaeError("cannot rename the export into place (\(String(cString: strerror(errno))))", file: out) }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        return (["config.json", "model.safetensors", ModelCard.fileName], tensors.count)
    }
}
