import Foundation
import Ldae

/// `ldae-fit-pca SHARDS... --part i/n --partial PART.h5`: the exact sums of one block of the images, for
/// `ldae-fit-pca combine` (Combine.swift).
func runPartial(_ args: Arguments) throws {
    guard let part = try args.part() else { throw UsageError("--partial needs --part i/n (which block of the images to sum)") }
    let (i, n) = part
    guard let out = args.string("partial") else {
        throw UsageError("--part needs --partial PART.h5 (the part's sums; `ldae-fit-pca combine` makes the basis)")
    }
    if args.string("out") != nil { throw UsageError("--partial writes a part's sums, not a basis: give --out to `ldae-fit-pca combine`") }
    if args.flag("figures") { throw UsageError("--partial writes no figures (`ldae-fit-pca combine` does)") }
    guard !args.positionals.isEmpty else { throw UsageError("give at least one shard folder") }
    let (maxPatches, seed) = try samplingOptions(args)
    try setThreads(args)
    let lock = try lockOutput(out)
    defer { lock.release() }
    let set = try ShardSet(args.positionals)
    let range = ImageFolder.partRange(count: set.count, part: i, of: n)
    let g = set.geometry
    eprint("ldae-fit-pca: part \(i)/\(n): images \(range.lowerBound)..<\(range.upperBound) of \(set.count), \(g.tokens) patches"
           + " of D = \(g.tokenDim) each" + (maxPatches.map { ", the whole run's subsample of \($0) patches (seed \(seed))" } ?? ""))
    let resume = args.flag("resume"), resumePath = PCAResumeState.path(for: out)
    let identity = PCAResumeState.identity(set, maxPatches: maxPatches, seed: UInt64(seed))
    if resume && !FileUtil.exists(resumePath) && FileUtil.exists(out), let done = try? PCAPartialSums.load(out),
       done.fitIdentity == identity, done.part == i, done.parts == n {
        eprint("ldae-fit-pca: \(out) is already complete for this part, shards and settings: nothing to do (--resume)")
        return
    }
    if !resume && FileUtil.exists(resumePath) {
        eprint("ldae-fit-pca: \(resumePath) exists from an interrupted run; starting over (--resume continues it)")
    }
    let progress = ProgressLine("fit-pca part \(i)/\(n)", total: range.count, unit: "images")
    let ck = PCACheckpointing(path: resumePath, interval: 30, resume: resume)
    let sums = try PCAPartialSums.accumulate(set, part: i, of: n, maxPatches: maxPatches, seed: UInt64(seed),
                                             progress: progress, checkpointing: ck)
    progress.finish(extra: "\(sums.accumulator.count) patches")
    try sums.save(out)
    try? FileManager.default.removeItem(atPath: resumePath)
    print("wrote \(out): part \(i)/\(n), images \(range.lowerBound)..<\(range.upperBound) of \(set.count), \(sums.accumulator.count) patches"
          + " summed (exact float64 sums; `ldae-fit-pca combine` of all \(n) parts makes the basis)")
}
