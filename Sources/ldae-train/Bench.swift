import Ldae
import LdaeBench

/// `ldae-train bench`: the training-step benchmark of the tiny config, or with --kernels the per-kernel timings.
func runBench(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["batch", "steps", "threads", "warmup", "precision"],
                          flags: ["kernels", "portable-kernels", "no-avx512"])
    if a.wantsHelp { print(benchUsage); return }
    let batch = try a.int("batch", default: 128), steps = try a.int("steps", default: 5)
    let plan = try executionPlan(a)
    if a.flag("kernels") {
        ModelBenchmark.kernels(batch: batch, reps: steps, plan: plan)
        return
    }
    try TrainBench.run(batch: batch, steps: steps, warmup: try a.int("warmup", default: 1), plan: plan)
}

/// --threads, --portable-kernels, --precision (and the bench's --no-avx512) as the run's plan; --threads also sets
/// OpenBLAS's own thread count. --precision bf16 where it cannot run is an error (one line, exit 1), before any work.
func executionPlan(_ a: Arguments) throws -> ExecutionPlan {
    let threads = try a.int("threads", default: 0)   // 0 or less: every core
    let fast = !a.flag("portable-kernels")
    let precision = try Precision.resolve(try a.choice("precision", default: Precision.fp32), fastKernels: fast)
    BLAS.setThreads(threads)
    return ExecutionPlan(threads: threads, fastKernels: fast, avx512: !a.flag("no-avx512"), precision: precision)
}
