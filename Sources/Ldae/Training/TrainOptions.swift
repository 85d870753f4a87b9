import Foundation

/// Everything `ldae-train` needs besides the recipe (TrainConfig) and the architecture (ModelConfig).
public struct TrainOptions {
    public var data: [String]
    public var pcaPath: String?
    /// A tokenizer file (`ldae-fit-tokenizer`, or a pca.h5): the tokenizer of `train.tokenizer`, recorded by sha256.
    public var tokenizerPath: String? = nil
    public var model: ModelConfig
    public var train: TrainConfig
    /// Total optimizer steps; nil = epochs * steps per epoch.
    public var steps: Int? = nil
    public var name: String
    /// Run folder (checkpoint, log, loss curve); default `runs/NAME`.
    public var outDir: String
    public var resume = false
    /// Publish a finished run (what `ldae-train` does after `Trainer.run` unless --no-publish: `ZooPublisher`), to
    /// the zoo at `zoo` (nil: $LDAE_ZOO, else the repository's), its weights stored as `weightsDtype`.
    public var publish = true
    public var zoo: String? = nil
    public var weightsDtype: Safetensors.DType = .f32
    /// Bytes of uint8 patches the loader may hold in memory (else it streams shard by shard).
    public var memoryBudget = 1 << 30
    /// Stop (checkpoint, like an interrupt) once this many steps are done: for tests and staged runs.
    public var stopAfter: Int? = nil
    public var quiet = false
    /// Threads, kernels and chunking of the model and the optimizer (recorded in the manifest as `threads`).
    public var plan = ExecutionPlan.automatic
    /// The command line that started the run (recorded in the provenance).
    public var commandLine = ""
    /// MPI: a barrier before each gradient allreduce, so that waiting for the slowest rank is measured apart
    /// (`LDAE_MPI_WAIT_TIMING=1`, for `tools/bench mpi`; `TrainStep.measureWait`).
    public var measureWait = false

    public init(data: [String], pcaPath: String?, model: ModelConfig, train: TrainConfig, name: String, outDir: String? = nil) {
        self.data = data; self.pcaPath = pcaPath; self.model = model; self.train = train; self.name = name
        self.outDir = outDir ?? "runs/" + name
    }

    /// Every range check of a run: the recipe's, the architecture's, and the run's own numbers.
    public func validate() throws {
        try train.validate()
        try model.validate()
        if let s = steps, s < 1 { throw LdaeError("invalid run: steps must be >= 1, got \(s)") }
        if let s = stopAfter, s < 0 { throw LdaeError("invalid run: stop_after must be >= 0, got \(s)") }
        guard memoryBudget >= 0 else { throw LdaeError("invalid run: the memory budget must be >= 0") }
    }
}

/// One line of `train_log.jsonl`.
public struct TrainLogLine: Codable, Sendable {
    public var step: Int          // 0-based index of the update
    public var epoch: Int
    public var loss: Double
    public var lr: Double
    public var gradNorm: Double
    public var imagesPerS: Double
    public var seconds: Double    // training time so far (across resumes)
    public var cpuSeconds: Double? = nil   // CPU seconds of the process's training steps so far (across resumes; MPI: all ranks)
    public var allreduceSeconds: Double? = nil   // MPI: this step's gradient allreduce on rank 0 (absent in one process)
    public var waitSeconds: Double? = nil        // MPI: this step's wait for the slowest rank on rank 0 (see StepDistribution)
}

public struct TrainResult {
    public enum Stop: Equatable { case finished, signal(Int32), stopAfter }
    public var stop: Stop
    /// Steps done (updates applied).
    public var steps: Int
    public var totalSteps: Int
    /// Losses of the steps run in this call, in order.
    public var losses: [Double]
    public var finalLoss: Double
    public var checkpoint: String
}
