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
    public var weightsDtype: WeightsDType = .f32
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
        try TrainOptions.knobs.validate(self, what: "run")
        guard memoryBudget >= 0 else { throw LdaeError("invalid run: the memory budget must be >= 0") }
    }

    /// The run's own knobs (`ldae-train`'s options that are neither recipe nor architecture). Those without a field
    /// here are read by ldae-train's main: the data and the model it builds the options from, the execution plan.
    public static let knobs: [Knob<TrainOptions>] = {
        let data = TrainHelp.data, opt = TrainHelp.optimization, run = TrainHelp.run
        return [
            .custom(flag: "data", "DIR", help: "shard folder from ldae-prep (repeatable)", section: data),
            .text(\.pcaPath, flag: "pca", "FILE", help: "PCA basis from ldae-fit-pca (needed by --tokenizer pca)", section: data),
            .text(\.tokenizerPath, flag: "tokenizer-file", "FILE", help: "a tokenizer from ldae-fit-tokenizer (patch-ae, patch-vae, conv-vae) or a pca.h5: sets --tokenizer and, for a fitted one, --latent-dim from the file; its sha256 is recorded", section: data,
                  step: MethodStep(values: "(none)", changes: "a fitted tokenizer (`patch-ae`, `patch-vae`, `conv-vae`; below) or a `pca.h5`", paper: "table 2")),
            .custom(flag: "config", "C", help: "model preset (\(ModelPreset.choices); image and patch size taken from the shards) or a JSON file", section: data, helpDefault: .text("tiny")),
            .custom(flag: "class-cond", help: "class conditioning (DiT, the paper's starting point): a label embedding added to the adaLN conditioning, labels from the shards (the validation split's are never read); features use the null label", section: data,
                    step: MethodStep(changes: "the class label enters every block by adaLN (below)", paper: "removing it: 57.5 -> 62.5")),
            .optionalInt(\.steps, flag: "steps", "N", .atLeast(1), help: "total steps (overrides --epochs)", section: opt),
            .custom(flag: "threads", "N", help: "worker and BLAS threads", section: opt, helpDefault: .text("all cores")),
            .custom(flag: "portable-kernels", help: "the portable kernels (OpenBLAS, Swift SIMD) even on a CPU with AVX2+FMA", section: opt),
            .custom(flag: "precision", Precision.choices, help: "the linear layers' and attention's matrix products: bf16 = bf16 inputs with fp32 accumulation on AVX512-BF16 CPUs (an error elsewhere); fp32 master weights, AdamW, norms, softmax, GELU and reductions either way; auto = bf16 where the CPU has it, else fp32. Recorded in the checkpoint and the zoo entry; a --resume in another precision than the checkpoint's is refused", section: opt, helpDefault: .text("fp32")),
            .text(\.name, flag: "name", "NAME", help: "the zoo name (required)", section: run, default: .none),
            .text(\.outDir, flag: "out", "DIR", help: "run folder (checkpoint, log, loss curve)", section: run, default: .text("runs/NAME")),
            .switch(\.resume, key: nil, flag: "resume", to: true, help: "continue from DIR/checkpoint.safetensors (the same losses as an uninterrupted run)", section: run),
            .optionalInt(\.stopAfter, flag: "stop-after", "N", .atLeast(0), help: "stop (with a checkpoint) once N steps are done", section: run),
            .text(\.zoo, flag: "zoo", "DIR", help: "zoo root (default: $LDAE_ZOO or the repository's zoo/)", section: run),
            .choice(\.weightsDtype, key: nil, flag: "weights-dtype", help: "how the published weights are stored", section: run),
            .switch(\.publish, key: nil, flag: "no-publish", to: false, help: "train and checkpoint only", section: run),
            .custom(flag: "memory-budget-mb", "M", help: "hold the shards in memory up to M MB, else stream them", section: run, helpDefault: .text("1024")),
            .switch(\.quiet, key: nil, flag: "quiet", to: true, help: "no progress lines", section: run),
        ]
    }()
}

extension TrainOptions {
    /// docs/method.md's table of the options that are steps of the paper's deconstruction (a test keeps the two the
    /// same): the knobs of the recipe, the architecture and the run that carry a `MethodStep`.
    public static var methodTable: String {
        let rows = TrainConfig.knobs.methodRows(defaults: TrainConfig()) + ModelConfig.knobs.methodRows(defaults: ModelConfig())
            + knobs.methodRows(defaults: TrainOptions(data: [], pcaPath: nil, model: ModelConfig(), train: TrainConfig(), name: "NAME"))
        return (["| option | values (default first) | what it changes | paper |", "|---|---|---|---|"] + rows).joined(separator: "\n")
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
