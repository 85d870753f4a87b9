import Foundation

/// How ldae's numeric code runs on this machine: how many threads the kernels split their loops over, whether they
/// take ldae's AVX2+FMA C kernels, how the model cuts a batch into chunks, and whether a training step times its
/// phases. One value, given to `LDAEModel`, `TrainStep` and `Trainer` when they are made and passed down to every
/// kernel call; nothing here is read from the environment or changed behind a caller's back.
///
/// None of it changes results beyond float rounding: each row's arithmetic is the same however the work is split,
/// and the fast and portable kernels agree to within their tests' tolerances.
public struct ExecutionPlan: Sendable, Equatable {
    /// Threads the kernels split their loops over and the model its chunks (values below 1 mean 1).
    public var threads: Int
    /// Take ldae's AVX2+FMA C kernels (Sources/CKernels) where the CPU has them; otherwise, or when false, the
    /// portable path (OpenBLAS sgemm, Swift SIMD loops). `usesFastKernels` is what the kernels read.
    public var fastKernels: Bool
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

    /// threads 0: every core of this machine.
    public init(threads: Int = 0, fastKernels: Bool = true, chunkTokens: Int = 1024, minChunkTokens: Int = 256,
                backwardTailChunks: Int = 4, timesPhases: Bool = false) {
        self.threads = threads > 0 ? threads : ExecutionPlan.cores
        self.fastKernels = fastKernels
        self.chunkTokens = chunkTokens
        self.minChunkTokens = minChunkTokens
        self.backwardTailChunks = backwardTailChunks
        self.timesPhases = timesPhases
    }

    /// Every core, the fast kernels where the CPU has them, the default chunking.
    public static let automatic = ExecutionPlan()

    /// The cores this process may use.
    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The thread count the loops use (at least 1).
    @inline(__always)
    public var workers: Int { max(1, threads) }

    /// Whether the kernels take the AVX2+FMA C paths: asked for, and the CPU has them (checked at run time).
    @inline(__always)
    public var usesFastKernels: Bool { fastKernels && FastKernels.available }

    /// The same plan on one thread: for work already split over the cores at a coarser level (the model's chunks),
    /// where every kernel then runs inline.
    public var serial: ExecutionPlan {
        var p = self
        p.threads = 1
        return p
    }
}
