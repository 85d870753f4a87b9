import Foundation

/// What the ranks of a training job agree on, at the points the trainer reaches together. In one process
/// (`SingleProcess`) each returns what that process alone has.
extension Communicator {
    /// End of a trainer's setup: the first collective (`settle`: a rank whose setup failed has reported it by now);
    /// then every rank must read the same shards (`shards`) and run the same command (`identity`); then every rank
    /// takes rank 0's state (weights, AdamW's moments, EMA, step, clocks: a fresh start, or the checkpoint rank 0
    /// resumed from, whatever the number of ranks that wrote it).
    public func joinTraining(shards: ShardSet, identity: () throws -> String, state: inout TrainState, model: LDAEModel,
                             optimizer: AdamW, ema: inout [Float]?) throws {
        try settle(nil)
        guard isDistributed else { return }
        try checkSame("index sha256 " + shards.indexSHA256) { r, theirs, ours in
            "rank \(r) of \(size) reads a different shard set than rank 0 (\(theirs.dropFirst(13).prefix(12))... vs \(ours.dropFirst(13).prefix(12))... in \(shards.sources[0])): every rank must see the same --data shards (a shared file system, or identical copies)"
        }
        try checkSame(try identity()) { r, _, _ in
            "rank \(r) of \(size) was started with other options than rank 0 (model, recipe, --steps, --resume or the resolved --precision differ): every rank must run the same command (--precision auto resolves per machine)"
        }
        var scalars = [Double(state.step), Double(optimizer.step), state.lastLoss, state.trainSeconds, state.cpuSeconds]
        try broadcast(&scalars)
        state.step = Int(scalars[0]); optimizer.step = Int(scalars[1]); state.lastLoss = scalars[2]
        state.trainSeconds = scalars[3]; state.cpuSeconds = scalars[4]
        try broadcast(UnsafeMutableRawPointer(model.params), bytes: model.parameterCount * MemoryLayout<Float>.size)
        try broadcast(&optimizer.m)
        try broadcast(&optimizer.v)
        if ema != nil { try broadcast(&ema!) }
    }

    /// After each step: each rank's CPU seconds of the step (index = rank), and the largest pending signal any rank
    /// has seen (SIGINT / SIGTERM from mpirun, srun or scancel reach every rank, not necessarily in the same step), so
    /// that every rank stops after the same step.
    public func endOfStep(cpu: Double) throws -> (perRank: [Double], signal: Int32) {
        var v = [Double](repeating: 0, count: size)
        v[rank] = cpu
        try allreduceSum(&v)
        return (v, try allreduceMax(TrainSignals.pending))
    }

    /// The host name of every rank, each host once, in rank order (the provenance's `hosts`).
    public func gatherHosts() throws -> [String] {
        var seen: [String] = []
        for h in try allgather(Array(host.utf8)).map({ String(decoding: $0, as: UTF8.self) }) where !seen.contains(h) { seen.append(h) }
        return seen
    }

    /// At every checkpoint: the ranks' weights are the same (they apply the same update to the same summed gradient;
    /// this catches an MPI whose allreduce gives ranks different bits). A 64-bit hash of the bits.
    public func checkSameWeights(_ params: UnsafePointer<Float>, count: Int, step: Int) throws {
        guard isDistributed else { return }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        let p = UnsafeRawPointer(params).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        try checkSame(String(h, radix: 16)) { r, _, _ in
            "the weights of rank \(r) of \(size) differ from rank 0's after step \(step) (the MPI library gave the ranks different sums?); training stopped, the last checkpoint is intact"
        }
    }
}
