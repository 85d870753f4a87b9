import Foundation

/// The fine-tuning run's state: checkpoints, resume, the logs, and the MPI hooks (each returns at once in a world of
/// one), as Trainer's and TrainerSync's.
extension Finetuner {
    func checkpoint() -> FinetuneCheckpoint {
        let m = classifier.model, E = m.encoderParameterCount
        var ck = FinetuneCheckpoint(spec: classifier.spec)
        ck.step = step; ck.totalSteps = totalSteps; ck.adamStep = headOptimizer.step
        ck.encoder = Array(UnsafeBufferPointer(start: m.params, count: E))
        ck.encoderM = Array(encoderOptimizer.m[0..<E]); ck.encoderV = Array(encoderOptimizer.v[0..<E])
        ck.head = Array(UnsafeBufferPointer(start: classifier.headParams, count: classifier.headCount))
        ck.headM = headOptimizer.m; ck.headV = headOptimizer.v
        ck.modelConfig = parent.model; ck.recipe = recipe; ck.classNames = classNames
        ck.parent = parentRef; ck.initEntry = initEntry.map { "\($0.name)@\($0.version)" } ?? "random"
        ck.dataIndexSHA256 = shards.indexSHA256
        ck.lastLoss = lastLoss; ck.trainSeconds = trainSeconds; ck.cpuSeconds = cpuSeconds; ck.evalCpuSeconds = evalCpuSeconds
        ck.precision = m.plan.resolvedPrecision
        ck.provenance = provenance()
        return ck
    }

    /// `--resume`: the checkpoint must come from the same command (recipe, head, labels, parent, weights' source,
    /// data, steps, precision); then weights, moments, clocks, and the log and curve lines up to its step.
    func restore() throws {
        let ck = try FinetuneCheckpoint.load(checkpointPath, classifier: classifier)
        var mine = recipe, theirs = ck.recipe
        mine.checkpointEvery = 0; theirs.checkpointEvery = 0
        var diffs: [String] = []
        if ck.modelConfig != parent.model { diffs.append("architecture") }
        if mine != theirs { diffs.append("recipe") }
        if ck.classNames != classNames { diffs.append("class list") }
        if ck.parent != parentRef { diffs.append("parent (\(ck.parent) vs \(parentRef))") }
        if ck.initEntry != (initEntry.map { "\($0.name)@\($0.version)" } ?? "random") { diffs.append("starting weights (\(ck.initEntry))") }
        if ck.totalSteps != totalSteps { diffs.append("total steps (\(ck.totalSteps) vs \(totalSteps))") }
        if ck.dataIndexSHA256 != shards.indexSHA256 { diffs.append("data (index sha256)") }
        guard diffs.isEmpty else {
            throw LdaeError("cannot resume: the checkpoint was made with a different \(diffs.joined(separator: ", "))", file: checkpointPath)
        }
        let precision = classifier.model.plan.resolvedPrecision
        guard ck.precision == precision else {
            throw LdaeError("cannot resume: the checkpoint was trained with --precision \(ck.precision.rawValue) but this run resolves to \(precision.rawValue)", file: checkpointPath)
        }
        guard ck.step <= totalSteps else { throw LdaeError("corrupt checkpoint: step \(ck.step) > total \(totalSteps)", file: checkpointPath) }
        let m = classifier.model, E = m.encoderParameterCount
        ck.encoder.withUnsafeBufferPointer { m.params.update(from: $0.baseAddress!, count: E) }
        ck.head.withUnsafeBufferPointer { classifier.headParams.update(from: $0.baseAddress!, count: classifier.headCount) }
        for i in 0..<E { encoderOptimizer.m[i] = ck.encoderM[i]; encoderOptimizer.v[i] = ck.encoderV[i] }
        headOptimizer.m = ck.headM; headOptimizer.v = ck.headV
        encoderOptimizer.step = ck.adamStep; headOptimizer.step = ck.adamStep
        step = ck.step; lastLoss = ck.lastLoss; trainSeconds = ck.trainSeconds; cpuSeconds = ck.cpuSeconds; evalCpuSeconds = ck.evalCpuSeconds
        if let p = ck.provenance, p.cpuSecondsPerRank.count == world.size {
            cpuPerRank = p.cpuSecondsPerRank; perRankSinceStep = p.perRankSinceStep
        } else { perRankSinceStep = ck.step }
        log = Finetuner.readLines(TrainLogLine.self, logPath).filter { $0.step < step }
        curve = Finetuner.readLines(ValPoint.self, curvePath).filter { $0.step <= step }
    }

    static func readLines<T: Decodable>(_ t: T.Type, _ path: String) -> [T] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        return d.split(separator: 0x0A).compactMap { try? JSON.decode(T.self, from: Data($0), file: path) }
    }

    func saveCheckpoint() throws {
        try checkSameWeights()
        guard world.isRoot else { return }
        try checkpoint().save(checkpointPath, classifier: classifier)
        try writeLogs()
    }

    /// train_log.jsonl and val_curve.jsonl (as the lines so far), the loss curve and the validation curve.
    func writeLogs() throws {
        guard world.isRoot else { return }
        func lines<T: Encodable>(_ v: [T]) throws -> Data {
            var d = Data()
            for l in v { d.append(try JSON.encode(l, pretty: false)); d.append(0x0A) }
            return d
        }
        try AtomicFile.write(try lines(log), to: logPath)
        try AtomicFile.write(try lines(curve), to: curvePath)
        try TrainPlots.lossCurve(log, title: "\(options.name) training loss").write(options.outDir + "/loss_curve.png")
        try FinetunePlots.valCurve(curve, title: "\(options.name) validation top-1 (dark), top-5 (light)").write(options.outDir + "/val_curve.png")
    }

    /// How the steps so far were run (the manifest's and the checkpoint's provenance).
    public func provenance() -> Provenance {
        let p = classifier.model.plan
        return Provenance(worldSize: world.size, threadsPerRank: p.workers, launcher: world.launcher, cpuSecondsTotal: cpuSeconds,
                          cpuSecondsPerRank: cpuPerRank, perRankSinceStep: perRankSinceStep, wallSeconds: trainSeconds,
                          cpuModel: SystemInfo.cpuModel, cpuFlags: SystemInfo.vectorFlags, kernels: p.gemm.rawValue,
                          precision: p.resolvedPrecision, ldaeVersion: LdaeVersion.describe, commandLine: options.commandLine, hosts: hosts)
    }

    // MARK: MPI hooks (Distributed/)

    /// The first collective; then the same shards and options on every rank; then rank 0's state everywhere.
    func joinWorld() throws {
        try world.settle(nil)
        guard world.isDistributed else { return }
        try world.checkSame("index sha256 " + shards.indexSHA256) { r, _, _ in
            "rank \(r) of \(world.size) reads a different shard set than rank 0 (\(shards.sources[0])): every rank must see the same --data shards"
        }
        let identity = String(decoding: try JSON.encode(recipe, pretty: false), as: UTF8.self) + String(decoding: try JSON.encode(classifier.spec, pretty: false), as: UTF8.self)
            + " \(parentRef) steps \(totalSteps) resume \(options.resume) precision \(classifier.model.plan.resolvedPrecision.rawValue)"
        try world.checkSame(identity) { r, _, _ in
            "rank \(r) of \(world.size) was started with other options than rank 0 (parent, recipe, head, --steps or --resume differ): every rank must run the same command"
        }
        var scalars = [Double(step), Double(headOptimizer.step), lastLoss, trainSeconds, cpuSeconds, evalCpuSeconds]
        try world.broadcast(&scalars)
        step = Int(scalars[0]); headOptimizer.step = Int(scalars[1]); encoderOptimizer.step = headOptimizer.step
        lastLoss = scalars[2]; trainSeconds = scalars[3]; cpuSeconds = scalars[4]; evalCpuSeconds = scalars[5]
        let m = classifier.model
        try world.broadcast(UnsafeMutableRawPointer(m.params), bytes: m.parameterCount * MemoryLayout<Float>.size)
        try world.broadcast(UnsafeMutableRawPointer(classifier.headParams), bytes: classifier.headCount * MemoryLayout<Float>.size)
        try world.broadcast(&encoderOptimizer.m); try world.broadcast(&encoderOptimizer.v)
        try world.broadcast(&headOptimizer.m); try world.broadcast(&headOptimizer.v)
    }

    /// Each rank's CPU seconds of the step and the largest pending signal any rank has seen.
    func endOfStep(cpu: Double) throws -> (perRank: [Double], signal: Int32?) {
        guard world.isDistributed else { return ([cpu], nil) }
        var v = [Double](repeating: 0, count: world.size)
        v[world.rank] = cpu
        try world.allreduceSum(&v)
        return (v, try world.allreduceMax(TrainSignals.pending))
    }

    func gatherHosts() throws -> [String] {
        guard world.isDistributed else { return [world.host] }
        var seen: [String] = []
        for h in try world.allgather(Array(world.host.utf8)).map({ String(decoding: $0, as: UTF8.self) }) where !seen.contains(h) { seen.append(h) }
        return seen
    }

    /// At every checkpoint: every rank holds the same encoder and head (a 64-bit hash of the bits).
    func checkSameWeights() throws {
        guard world.isDistributed else { return }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for (p, n) in [(UnsafeRawPointer(classifier.model.params), classifier.model.encoderParameterCount), (UnsafeRawPointer(classifier.headParams), classifier.headCount)] {
            let u = p.assumingMemoryBound(to: UInt32.self)
            for i in 0..<n { h = (h ^ UInt64(u[i])) &* 0x0000_0100_0000_01B3 }
        }
        try world.checkSame(String(h, radix: 16)) { r, _, _ in
            "the weights of rank \(r) of \(world.size) differ from rank 0's after step \(step); training stopped, the last checkpoint is intact"
        }
    }
}
