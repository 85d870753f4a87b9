import Foundation

/// A fine-tuning checkpoint: `checkpoint.safetensors` in the run folder, written atomically, readable by
/// numpy/safetensors without ldae. Tensors (F32, ldae's internal layout: patch_embed.proj.weight [W, p*p*3]):
/// `params.<name>`, `adam_m.<name>`, `adam_v.<name>` for every encoder tensor and for `head.weight` [C, F] and
/// `head.bias` [C]. `__metadata__` (strings): format `ldae-finetune-checkpoint`, format_version, step, total_steps,
/// adam_step, model_config, recipe, head and class_names (JSON), parent, init_entry, data_index_sha256, last_loss,
/// train_seconds, cpu_seconds, eval_cpu_seconds, precision, provenance (JSON). As in pretraining, every random draw
/// of step s comes from RNG(seed, stream: f(s)): (seed, step) is the whole random state.
public struct FinetuneCheckpoint {
    public static let fileName = "checkpoint.safetensors"

    public var step = 0, totalSteps = 0, adamStep = 0
    /// [encoderParameterCount] each: the encoder's parameters and AdamW moments, in the model's flat layout.
    public var encoder: [Float] = [], encoderM: [Float] = [], encoderV: [Float] = []
    /// [C * F + C] each: the head's.
    public var head: [Float] = [], headM: [Float] = [], headV: [Float] = []
    public var modelConfig = ModelConfig()
    public var recipe = FinetuneConfig()
    public var spec: HeadSpec
    public var classNames: [String] = []
    public var parent = "", initEntry = "", dataIndexSHA256 = ""
    public var lastLoss = Double.nan, trainSeconds = 0.0, cpuSeconds = 0.0, evalCpuSeconds = 0.0
    public var precision: Precision = .fp32
    public var provenance: Provenance? = nil

    public init(spec: HeadSpec) { self.spec = spec }

    /// Where each tensor is: the classifier's encoder tensors (offsets into `encoder`), then the head's two (offsets
    /// into `head`).
    static func slots(_ c: Classifier) -> (encoder: [Checkpoint.Slot], head: [Checkpoint.Slot]) {
        let C = c.spec.classes, F = c.spec.features
        return (c.encoderTensors.map { Checkpoint.Slot(name: $0.name, shape: $0.shape, offset: $0.offset, count: $0.count) },
                [Checkpoint.Slot(name: "head.weight", shape: [C, F], offset: 0, count: C * F),
                 Checkpoint.Slot(name: "head.bias", shape: [C], offset: C * F, count: C)])
    }

    public func save(_ path: String, classifier c: Classifier) throws {
        let (es, hs) = FinetuneCheckpoint.slots(c)
        var tensors: [Safetensors.Tensor] = []
        for (prefix, e, h) in [("params", encoder, head), ("adam_m", encoderM, headM), ("adam_v", encoderV, headV)] {
            for s in es { tensors.append(.init(prefix + "." + s.name, shape: s.shape, values: Array(e[s.offset..<(s.offset + s.count)]))) }
            for s in hs { tensors.append(.init(prefix + "." + s.name, shape: s.shape, values: Array(h[s.offset..<(s.offset + s.count)]))) }
        }
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try JSON.encode(v, pretty: false), as: UTF8.self) }
        var meta: [String: String] = [
            "format": FormatName.finetuneCheckpoint, "format_version": String(FormatVersion.finetuneCheckpoint),
            "step": String(step), "total_steps": String(totalSteps), "adam_step": String(adamStep),
            "model_config": try json(modelConfig), "recipe": try json(recipe), "head": try json(spec), "class_names": try json(classNames),
            "parent": parent, "init_entry": initEntry, "data_index_sha256": dataIndexSHA256, "last_loss": String(lastLoss),
            "train_seconds": String(trainSeconds), "cpu_seconds": String(cpuSeconds), "eval_cpu_seconds": String(evalCpuSeconds),
            "precision": precision.rawValue, "rng": "xoshiro256** streams derived from (seed, step); no mutable state",
        ]
        if let p = provenance { meta["provenance"] = try json(p) }
        try Safetensors.write(tensors, metadata: meta, dtype: .f32, to: path)
    }

    /// Reads and checks a checkpoint against the classifier's layout (every tensor present with its shape).
    public static func load(_ path: String, classifier c: Classifier) throws -> FinetuneCheckpoint {
        guard FileUtil.exists(path) else { throw LdaeError("no checkpoint to resume from (run without --resume to start fresh)", file: path) }
        let (tensors, _, meta) = try Safetensors.read(path)
        guard meta["format"] == FormatName.finetuneCheckpoint else {
            throw LdaeError("not an ldae fine-tuning checkpoint (format '\(meta["format"] ?? "missing")')", file: path)
        }
        guard meta["format_version"] == String(FormatVersion.finetuneCheckpoint) else {
            throw LdaeError("fine-tuning checkpoint format_version \(meta["format_version"] ?? "missing") is not supported (this build reads \(FormatVersion.finetuneCheckpoint))", file: path)
        }
        func int(_ k: String) throws -> Int {
            guard let s = meta[k], let v = Int(s) else { throw LdaeError("corrupt checkpoint: metadata '\(k)' missing or not an integer", file: path) }
            return v
        }
        func json<T: Decodable>(_ k: String, _ t: T.Type) throws -> T {
            guard let s = meta[k] else { throw LdaeError("corrupt checkpoint: metadata '\(k)' missing", file: path) }
            return try JSON.decode(t, from: Data(s.utf8), file: path)
        }
        func gather(_ prefix: String, _ slots: [Checkpoint.Slot], count: Int) throws -> [Float] {
            var buf = [Float](repeating: 0, count: count)
            for s in slots {
                guard let t = tensors[prefix + "." + s.name] else { throw LdaeError("corrupt checkpoint: tensor '\(prefix).\(s.name)' is missing", file: path) }
                guard t.shape == s.shape, t.values.count == s.count else {
                    throw LdaeError("checkpoint tensor '\(prefix).\(s.name)' has shape \(t.shape), the classifier expects \(s.shape)", file: path)
                }
                for i in 0..<s.count { buf[s.offset + i] = t.values[i] }
            }
            return buf
        }
        let (es, hs) = slots(c)
        var ck = FinetuneCheckpoint(spec: try json("head", HeadSpec.self))
        ck.step = try int("step"); ck.totalSteps = try int("total_steps"); ck.adamStep = try int("adam_step")
        ck.modelConfig = try json("model_config", ModelConfig.self); ck.recipe = try json("recipe", FinetuneConfig.self)
        ck.classNames = try json("class_names", [String].self)
        guard ck.spec == c.spec else {
            throw LdaeError("cannot resume: the checkpoint's head (\(ck.spec.classes) classes of \(ck.spec.features) features, \(ck.spec.kind.rawValue)) is not this run's (\(c.spec.classes) of \(c.spec.features), \(c.spec.kind.rawValue))", file: path)
        }
        let E = c.model.encoderParameterCount
        ck.encoder = try gather("params", es, count: E); ck.encoderM = try gather("adam_m", es, count: E); ck.encoderV = try gather("adam_v", es, count: E)
        ck.head = try gather("params", hs, count: c.headCount); ck.headM = try gather("adam_m", hs, count: c.headCount)
        ck.headV = try gather("adam_v", hs, count: c.headCount)
        ck.parent = meta["parent"] ?? ""; ck.initEntry = meta["init_entry"] ?? ""; ck.dataIndexSHA256 = meta["data_index_sha256"] ?? ""
        ck.lastLoss = Double(meta["last_loss"] ?? "") ?? .nan
        ck.trainSeconds = Double(meta["train_seconds"] ?? "") ?? 0; ck.cpuSeconds = Double(meta["cpu_seconds"] ?? "") ?? 0
        ck.evalCpuSeconds = Double(meta["eval_cpu_seconds"] ?? "") ?? 0
        guard let p = Precision(rawValue: meta["precision"] ?? ""), p != .auto else {
            throw LdaeError("corrupt checkpoint: metadata 'precision' is '\(meta["precision"] ?? "missing")', not fp32 or bf16", file: path)
        }
        ck.precision = p
        if let p = meta["provenance"] { ck.provenance = try JSON.decode(Provenance.self, from: Data(p.utf8), file: path) }
        return ck
    }
}
