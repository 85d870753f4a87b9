import Foundation

/// A training checkpoint: one safetensors file (`checkpoint.safetensors` in the run folder), written atomically,
/// readable by numpy/safetensors without our code. Tensors (F32, internal layout):
///   `params.<name>`, `adam_m.<name>`, `adam_v.<name>` and, when EMA is on, `ema.<name>`
/// for every model tensor; `__metadata__` (strings): format, format_version, step (updates done), total_steps,
/// adam_step, seed, model_config and train_config (JSON), last_loss, data_index_sha256, rng, precision (the linear
/// layers' matrix products, "fp32" or "bf16"; absent in checkpoints written before it was recorded: fp32). There is no mutable
/// RNG state: every random draw of step s comes from RNG(seed, stream: f(s)), so (seed, step) is the RNG state.
public struct Checkpoint {
    /// Where a named tensor lives in the flat buffers.
    public struct Slot: Sendable {
        public let name: String; public let shape: [Int]; public let offset: Int; public let count: Int
        public init(name: String, shape: [Int], offset: Int, count: Int) { self.name = name; self.shape = shape; self.offset = offset; self.count = count }
    }

    public static let fileName = "checkpoint.safetensors"

    public var step: Int
    public var totalSteps: Int
    public var adamStep: Int
    public var seed: UInt64
    public var params: [Float]
    public var adamM: [Float]
    public var adamV: [Float]
    public var ema: [Float]?
    public var modelConfig: ModelConfig
    public var trainConfig: TrainConfig
    public var lastLoss: Double
    public var dataIndexSHA256: String
    /// Training seconds so far (for the log's `seconds` across resumes).
    public var trainSeconds: Double = 0
    /// CPU seconds of the training steps so far (across resumes; 0 in checkpoints written before it was recorded).
    public var cpuSeconds: Double = 0
    /// The precision of the linear layers' products in the steps so far (`ExecutionPlan.resolvedPrecision`).
    public var precision: Precision = .fp32
    /// How the steps so far were run (metadata `provenance`, JSON; nil in checkpoints written before it was recorded).
    public var provenance: Provenance? = nil

    public init(step: Int, totalSteps: Int, adamStep: Int, seed: UInt64, params: [Float], adamM: [Float], adamV: [Float], ema: [Float]?,
                modelConfig: ModelConfig, trainConfig: TrainConfig, lastLoss: Double, dataIndexSHA256: String, trainSeconds: Double = 0) {
        self.step = step; self.totalSteps = totalSteps; self.adamStep = adamStep; self.seed = seed
        self.params = params; self.adamM = adamM; self.adamV = adamV; self.ema = ema
        self.modelConfig = modelConfig; self.trainConfig = trainConfig; self.lastLoss = lastLoss; self.dataIndexSHA256 = dataIndexSHA256
        self.trainSeconds = trainSeconds
    }

    public func save(_ path: String, slots: [Slot]) throws {
        var tensors: [Safetensors.Tensor] = []
        func add(_ prefix: String, _ buf: [Float]) {
            for s in slots { tensors.append(Safetensors.Tensor(prefix + "." + s.name, shape: s.shape, values: Array(buf[s.offset..<(s.offset + s.count)]))) }
        }
        add("params", params); add("adam_m", adamM); add("adam_v", adamV)
        if let ema { add("ema", ema) }
        let meta: [String: String] = [
            "format": FormatName.checkpoint, "format_version": String(FormatVersion.checkpoint),
            "step": String(step), "total_steps": String(totalSteps), "adam_step": String(adamStep), "seed": String(seed),
            "model_config": String(decoding: try JSON.encode(modelConfig, pretty: false), as: UTF8.self),
            "train_config": String(decoding: try JSON.encode(trainConfig, pretty: false), as: UTF8.self),
            "last_loss": String(lastLoss), "train_seconds": String(trainSeconds), "cpu_seconds": String(cpuSeconds), "data_index_sha256": dataIndexSHA256,
            "rng": "xoshiro256** streams derived from (seed, step); no mutable state",
            "precision": precision.rawValue,
        ].merging(provenance.map { ["provenance": String(decoding: (try? JSON.encode($0, pretty: false)) ?? Data(), as: UTF8.self)] } ?? [:]) { a, _ in a }
        try Safetensors.write(tensors, metadata: meta, dtype: .f32, to: path)
    }

    /// Loads and checks a checkpoint against the model's tensor layout (every tensor present with its shape).
    public static func load(_ path: String, slots: [Slot], parameterCount: Int) throws -> Checkpoint {
        guard FileUtil.exists(path) else { throw LdaeError("no checkpoint to resume from (run without --resume to start fresh)", file: path) }
        let (tensors, _, meta) = try Safetensors.read(path)
        guard meta["format"] == FormatName.checkpoint else {
            throw LdaeError("not an ldae checkpoint (format '\(meta["format"] ?? "missing")')", file: path)
        }
        guard meta["format_version"] == String(FormatVersion.checkpoint) else {
            throw LdaeError("checkpoint format_version \(meta["format_version"] ?? "missing") is not supported (this build reads \(FormatVersion.checkpoint))", file: path)
        }
        func int(_ k: String) throws -> Int {
            guard let s = meta[k], let v = Int(s) else { throw LdaeError("corrupt checkpoint: metadata '\(k)' missing or not an integer", file: path) }
            return v
        }
        func json<T: Decodable>(_ k: String, _ t: T.Type) throws -> T {
            guard let s = meta[k] else { throw LdaeError("corrupt checkpoint: metadata '\(k)' missing", file: path) }
            return try JSON.decode(t, from: Data(s.utf8), file: path)
        }
        func gather(_ prefix: String, required: Bool) throws -> [Float]? {
            var buf = [Float](repeating: 0, count: parameterCount)
            for s in slots {
                guard let t = tensors[prefix + "." + s.name] else {
                    if required { throw LdaeError("corrupt checkpoint: tensor '\(prefix).\(s.name)' is missing", file: path) }
                    return nil
                }
                guard t.shape == s.shape else {
                    throw LdaeError("checkpoint tensor '\(prefix).\(s.name)' has shape \(t.shape), the model expects \(s.shape)", file: path)
                }
                for i in 0..<s.count { buf[s.offset + i] = t.values[i] }
            }
            return buf
        }
        guard let seed = UInt64(meta["seed"] ?? "") else { throw LdaeError("corrupt checkpoint: metadata 'seed' missing", file: path) }
        var ck = Checkpoint(step: try int("step"), totalSteps: try int("total_steps"), adamStep: try int("adam_step"), seed: seed,
                          params: try gather("params", required: true)!, adamM: try gather("adam_m", required: true)!,
                          adamV: try gather("adam_v", required: true)!,
                          ema: try gather("ema", required: tensors.keys.contains { $0.hasPrefix("ema.") }),
                          modelConfig: try json("model_config", ModelConfig.self), trainConfig: try json("train_config", TrainConfig.self),
                          lastLoss: Double(meta["last_loss"] ?? "") ?? .nan, dataIndexSHA256: meta["data_index_sha256"] ?? "",
                          trainSeconds: Double(meta["train_seconds"] ?? "") ?? 0)
        ck.cpuSeconds = Double(meta["cpu_seconds"] ?? "") ?? 0
        if let p = meta["precision"] {
            guard let v = Precision(rawValue: p), v != .auto else {
                throw LdaeError("corrupt checkpoint: metadata 'precision' is '\(p)', not fp32 or bf16", file: path)
            }
            ck.precision = v
        }
        if let p = meta["provenance"] { ck.provenance = try JSON.decode(Provenance.self, from: Data(p.utf8), file: path) }
        return ck
    }
}
