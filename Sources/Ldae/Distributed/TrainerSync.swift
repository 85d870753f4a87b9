import Foundation

/// The trainer's MPI hooks (called from Training/Trainer.swift; each returns at once in a world of one).
extension Trainer {
    /// End of setup: the first collective (`Communicator.settle`: a rank whose setup failed has reported it by
    /// now); then every rank must read the same shards with the same options; then every rank takes rank 0's state
    /// (weights, AdamW moments, EMA, step, clocks: a fresh start, or the checkpoint rank 0 resumed from, whatever
    /// the number of ranks that wrote it).
    func joinWorld() throws {
        guard world.usesMPI else { return }
        try world.settle(nil)
        guard world.isDistributed else { return }
        try world.checkSame("index sha256 " + shards.indexSHA256) { r, theirs, ours in
            "rank \(r) of \(world.size) reads a different shard set than rank 0 (\(theirs.dropFirst(13).prefix(12))... vs \(ours.dropFirst(13).prefix(12))... in \(shards.sources[0])): every rank must see the same --data shards (a shared file system, or identical copies)"
        }
        let identity = String(decoding: try JSON.encode(options.model, pretty: false), as: UTF8.self)
            + String(decoding: try JSON.encode(options.train, pretty: false), as: UTF8.self) + " steps \(totalSteps) resume \(options.resume)"
            + " precision \(model.plan.resolvedPrecision.rawValue)"
        try world.checkSame(identity) { r, _, _ in
            "rank \(r) of \(world.size) was started with other options than rank 0 (model, recipe, --steps, --resume or the resolved --precision differ): every rank must run the same command (--precision auto resolves per machine)"
        }
        var scalars = [Double(step), Double(optimizer.step), lastLoss, trainSeconds, cpuSeconds]
        try world.broadcast(&scalars)
        step = Int(scalars[0]); optimizer.step = Int(scalars[1]); lastLoss = scalars[2]; trainSeconds = scalars[3]; cpuSeconds = scalars[4]
        try world.broadcast(UnsafeMutableRawPointer(model.params), bytes: model.parameterCount * MemoryLayout<Float>.size)
        try world.broadcast(&optimizer.m)
        try world.broadcast(&optimizer.v)
        if ema != nil { try world.broadcast(&ema!) }
    }

    /// The step's data parallelism (nil in one process).
    func stepDistribution() -> StepDistribution? {
        guard world.isDistributed else { return nil }
        return StepDistribution(world: world, slice: slice)
    }

    /// After each step: the CPU seconds of the step summed over the ranks, and the largest pending signal any rank
    /// has seen (SIGINT / SIGTERM from mpirun, srun or scancel reach every rank, not necessarily in the same step),
    /// so every rank stops after the same step. signal is nil in one process (the caller reads TrainSignals).
    /// perRank: each rank's CPU seconds of the step (index = rank; one entry in one process).
    func endOfStep(cpu: Double) throws -> (perRank: [Double], signal: Int32?) {
        guard world.isDistributed else { return ([cpu], nil) }
        var v = [Double](repeating: 0, count: world.size)
        v[world.rank] = cpu
        try world.allreduceSum(&v)
        return (v, try world.allreduceMax(TrainSignals.pending))
    }

    /// The host name of every rank, each host once, in rank order (the provenance's `hosts`).
    func gatherHosts() throws -> [String] {
        guard world.isDistributed else { return [world.host] }
        var seen: [String] = []
        for h in try world.allgather(Array(world.host.utf8)).map({ String(decoding: $0, as: UTF8.self) }) where !seen.contains(h) { seen.append(h) }
        return seen
    }

    /// At every checkpoint: the ranks' weights are the same (they apply the same update to the same summed
    /// gradient; this catches an MPI whose allreduce gives ranks different bits). A 64-bit hash of the bits.
    func checkSameWeights() throws {
        guard world.isDistributed else { return }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        let p = UnsafeRawPointer(model.params).assumingMemoryBound(to: UInt32.self)
        for i in 0..<model.parameterCount { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        try world.checkSame(String(h, radix: 16)) { r, _, _ in
            "the weights of rank \(r) of \(world.size) differ from rank 0's after step \(step) (the MPI library gave the ranks different sums?); training stopped, the last checkpoint is intact"
        }
    }
}

extension Communicator {
    /// An error every rank raises at the same point (printed once, by rank 0); the error itself in a world of one.
    public func agreed(_ e: Error) -> Error { isDistributed ? AgreedError(e) : e }
}
