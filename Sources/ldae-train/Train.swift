import Foundation
import Ldae

/// `ldae-train --data ... --name ...`: parse, train, publish, and say how it stopped.
func runTrain(_ argv: [String], world: Communicator) throws {
    let run = TrainOptions.knobs.declared(), recipe = TrainConfig.knobs.declared(), arch = ModelConfig.knobs.declared()
    let a = try Arguments(argv, options: run.options.union(recipe.options).union(arch.options),
                          flags: run.switches.union(recipe.switches).union(arch.switches))
    if a.wantsHelp { print(usage); return }
    guard a.positionals.isEmpty else { throw UsageError("unexpected argument '\(a.positionals[0])'") }
    let data = a.strings("data")
    guard !data.isEmpty else { throw UsageError("--data SHARDS is required") }
    guard let name = a.string("name") else { throw UsageError("--name NAME is required") }
    guard ZooStore.validName(name) else { throw UsageError("--name '\(name)' is not a valid zoo name (letters, digits, - _ .)") }

    var train = try TrainConfig.knobs.apply(a, to: TrainConfig())   // usage errors before any file is opened
    if let tf = a.string("tokenizer-file") {   // the file says which tokenizer (and, when fitted, its d)
        let (kind, d) = try LoadedTokenizer.peek(tf)
        if a.string("tokenizer") == nil { train.tokenizer = kind }
        if let d, a.string("latent-dim") == nil { train.latentDim = d }
    }
    var o = try TrainOptions.knobs.apply(a, to: TrainOptions(data: data, pcaPath: nil, model: try modelConfig(a, data: data),
                                                             train: train, name: name))
    o.commandLine = SystemInfo.shellLine(["ldae-train"] + argv)
    o.plan = try executionPlan(a)
    o.memoryBudget = try a.int("memory-budget-mb", default: 1024) << 20
    o.measureWait = ProcessInfo.processInfo.environment["LDAE_MPI_WAIT_TIMING"] == "1"

    let trainer = try Trainer(o, world: world)   // every check happens here, before any training
    TrainSignals.install()
    let r = try trainer.run()
    guard world.isRoot else { world.finish(exitStatus(r)) }   // rank 0 alone publishes and reports
    var published: (version: Int, path: String)? = nil
    if r.stop == .finished && o.publish {
        let store = ZooStore.resolve(o.zoo, environment: ProcessInfo.processInfo.environment["LDAE_ZOO"])
        let p = try ZooPublisher.publishOnce(trainer.trainedRun(), folder: trainer.folder, store: store)
        if !p.new && !o.quiet { eprint("ldae-train: this run was already published as \(o.name)@v\(p.version); nothing to do") }
        published = (p.version, p.path)
    }
    report(r, o, published: published)
    world.finish(exitStatus(r))
}

/// --config: a preset takes its image and patch size from the shards; a JSON file is used as is. Then the
/// architecture flags; a bad result names the file it came from.
func modelConfig(_ a: Arguments, data: [String]) throws -> ModelConfig {
    let arg = a.string("config", default: "tiny")
    var mc: ModelConfig
    if let preset = ModelPreset(rawValue: arg) {
        mc = preset.config
        let g = try ShardSet(data).geometry
        mc.imageSize = g.imageSize; mc.patchSize = g.patchSize; mc.channels = g.channels
    } else if arg.hasSuffix(".json") || FileUtil.exists(arg) {
        mc = try JSON.read(ModelConfig.self, path: arg)
    } else {
        throw UsageError("--config must be \(ModelPreset.choiceList) or a JSON file, got '\(arg)'")
    }
    mc = try ModelConfig.knobs.apply(a, to: mc)
    if a.flag("class-cond") {   // DiT's class conditioning: one embedding per class of the shards (+ the null label)
        let s = try ShardSet(data)
        guard s.labeled, !s.classNames.isEmpty else {
            throw LdaeError("--class-cond needs labelled shards (ldae-prep of a class-folder layout); these have no class names", file: s.sources[0])
        }
        mc.numClasses = s.classNames.count
    }
    do { try mc.validate() } catch let e as LdaeError { throw LdaeError(e.reason, file: ModelPreset(rawValue: arg) == nil ? arg : nil) }
    return mc
}

/// 0 when the run finished or stopped at --stop-after, 128 + the signal when interrupted.
func exitStatus(_ r: TrainResult) -> Int32 {
    if case .signal(let sig) = r.stop { return 128 + sig }
    return 0
}

/// The last lines of a run: finished (and published), stopped by --stop-after, or interrupted (exit 128 + signal).
func report(_ r: TrainResult, _ o: TrainOptions, published: (version: Int, path: String)?) {
    switch r.stop {
    case .signal(let sig):
        eprint("ldae-train: interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(r.steps)/\(r.totalSteps); checkpoint saved to \(r.checkpoint); rerun the same command with --resume to continue")
    case .stopAfter:
        print("stopped after step \(r.steps)/\(r.totalSteps) (--stop-after); checkpoint: \(r.checkpoint); continue with --resume")
    case .finished:
        print(String(format: "trained %d steps, final loss %.5f; run folder %@", r.steps, r.finalLoss, o.outDir))
        if let p = published { print("published \(o.name)@v\(p.version) at \(p.path)") }
    }
}
