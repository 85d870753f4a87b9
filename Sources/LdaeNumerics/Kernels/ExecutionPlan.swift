import Foundation

/// How ldae's numeric code runs on this machine: how many threads the kernels split their loops over, whether they
/// take ldae's C kernels (AVX2+FMA, AVX-512) and in which precision the linear layers multiply, how the model cuts a
/// batch into chunks, and whether a training step times its phases. One value, given to `LDAEModel`, `TrainStep` and `Trainer` when they are made and passed down to every
/// kernel call; nothing here is read from the environment or changed behind a caller's back.
///
/// None of it changes results beyond float rounding: each row's arithmetic is the same however the work is split,
/// and the fast and portable kernels agree to within their tests' tolerances. The exception is `precision` .bf16,
/// which rounds the linear layers' inputs to bf16 (to within its own tolerances, `BF16GEMMTests`).
public struct ExecutionPlan: Sendable, Equatable {
    /// Threads the kernels split their loops over and the model its chunks (values below 1 mean 1).
    public var threads: Int
    /// Take ldae's AVX2+FMA C kernels (Sources/CKernels) where the CPU has them; otherwise, or when false, the
    /// portable path (OpenBLAS sgemm, Swift SIMD loops). `usesFastKernels` is what the kernels read.
    public var fastKernels: Bool
    /// With the fast kernels, take the AVX-512 fp32 GEMM (12x32 tiles) for the linear layers where the CPU has
    /// AVX-512; false: the AVX2 one (to compare them). `gemm` is what the linear layers read.
    public var avx512: Bool
    /// The linear layers' matrix products: .bf16 takes the AVX512-BF16 kernel where the CPU has it (the caller
    /// resolves a request first, `Precision.resolve`: .auto is resolved at init), .fp32 the fp32 kernels.
    public var precision: Precision
    /// Tokens per chunk of the model's forward and backward: each core runs the whole network on a chunk at a time
    /// with the kernels single-threaded inside, so a chunk's activations stay in its caches from layer to layer and
    /// there is no barrier per layer (`ChunkPlan`). At 1024 tokens the largest buffer of the tiny config (the MLP's
    /// hidden layer, 1024 x 768 floats) is 3 MB. 0 or less: the whole batch layer by layer, each kernel split over
    /// the threads.
    public var chunkTokens: Int
    /// The forward's last chunks shrink down to this many tokens (`ChunkPlan.guided`); `chunkTokens` or more gives
    /// equal chunks throughout.
    public var minChunkTokens: Int
    /// At most this many small chunks at the end of the chunked backward, handed to whichever core is free, each
    /// with a gradient buffer of its own (parameterCount floats; `ChunkPlan.backward`). 0: fixed shares only.
    public var backwardTailChunks: Int
    /// `TrainStep` adds each phase's wall time to `phaseSeconds` (for `ldae-train bench`).
    public var timesPhases: Bool

    /// threads 0: every core of this machine. precision .auto: bf16 where the CPU and the kernels allow it.
    public init(threads: Int = 0, fastKernels: Bool = true, avx512: Bool = true, precision: Precision = .fp32,
                chunkTokens: Int = 1024, minChunkTokens: Int = 256, backwardTailChunks: Int = 4, timesPhases: Bool = false) {
        self.threads = threads > 0 ? threads : ExecutionPlan.cores
        self.fastKernels = fastKernels
        self.avx512 = avx512
        self.precision = precision == .auto ? ((try? Precision.resolve(.auto, fastKernels: fastKernels)) ?? .fp32) : precision
        self.chunkTokens = chunkTokens
        self.minChunkTokens = minChunkTokens
        self.backwardTailChunks = backwardTailChunks
        self.timesPhases = timesPhases
    }

    /// Every core, the fast kernels where the CPU has them, fp32, the default chunking.
    public static let automatic = ExecutionPlan()

    /// The cores this process may use.
    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The thread count the loops use (at least 1).
    @inline(__always)
    public var workers: Int { max(1, threads) }

    /// Whether the kernels take the AVX2+FMA C paths: asked for, and the CPU has them (checked at run time).
    @inline(__always)
    public var usesFastKernels: Bool { fastKernels && FastKernels.available }

    /// The GEMM of the linear layers: portable without the fast kernels; bf16 when asked for and the CPU has it;
    /// else AVX-512 fp32 where allowed and present; else AVX2.
    public var gemm: GEMMKernel {
        guard usesFastKernels else { return .portable }
        if precision == .bf16 && GEMMKernel.bf16.available { return .bf16 }
        return avx512 && GEMMKernel.avx512.available ? .avx512 : .avx2
    }

    /// The precision the linear layers really run in (what checkpoints, manifests and cards record).
    public var resolvedPrecision: Precision { gemm.precision }

    /// The same plan on one thread: for work already split over the cores at a coarser level (the model's chunks),
    /// where every kernel then runs inline.
    public var serial: ExecutionPlan {
        var p = self
        p.threads = 1
        return p
    }
}
