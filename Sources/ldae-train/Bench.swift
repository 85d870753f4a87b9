import Ldae

/// `ldae-train bench`: the training-step benchmark of the tiny config, or with --kernels the per-kernel timings.
func runBench(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["batch", "steps", "threads", "warmup"], flags: ["kernels", "portable-kernels"])
    if a.wantsHelp { print(benchUsage); return }
    let batch = try a.int("batch", default: 128), steps = try a.int("steps", default: 5)
    let plan = try executionPlan(a)
    if a.flag("kernels") {
        ModelBenchmark.kernels(batch: batch, reps: steps, plan: plan)
        return
    }
    try TrainBench.run(batch: batch, steps: steps, warmup: try a.int("warmup", default: 1), plan: plan)
}

/// --threads and --portable-kernels as the run's plan; --threads also sets OpenBLAS's own thread count.
func executionPlan(_ a: Arguments) throws -> ExecutionPlan {
    let threads = try a.int("threads", default: 0)   // 0 or less: every core
    BLAS.setThreads(threads)
    return ExecutionPlan(threads: threads, fastKernels: !a.flag("portable-kernels"))
}
