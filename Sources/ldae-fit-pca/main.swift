import Foundation
import Ldae

let usage = """
usage: ldae-fit-pca SHARDS... --out pca.h5 [--max-patches N] [--seed S] [--threads N] [--resume] [--no-figures]
       ldae-fit-pca SHARDS... --part i/n --partial PART.h5 [--max-patches N] [--seed S] [--threads N] [--resume]
       ldae-fit-pca combine PART.h5... --out pca.h5 [--data SHARDS...] [--threads N] [--no-figures]

Fits the patch PCA tokenizer of l-DAE: streams every patch of the shard folders written by ldae-prep
(or a seeded subsample of --max-patches), in the pixel scaling training uses (\(PixelScaling.name)),
accumulates mean and covariance exactly (integer blocks through BLAS ssyrk, summed in float64; memory
does not grow with the number of patches), and decomposes it with LAPACK (dsyevd): all D components,
by descending variance, each with its largest-magnitude entry positive.

  SHARDS              one or more shard folders (or their index.json); they must share patch size and channels
  --out PATH          the basis file to write (HDF5: mean, components, eigenvalues, explained_variance_ratio)
  --max-patches N     use a deterministic subsample of exactly N patches spread over all shards (default: all)
  --seed S            seed of the subsample (default 0)
  --threads N         BLAS threads (default: OpenBLAS's own choice)
  --resume            continue an interrupted run from <out>.resume.h5 (saved every 30 s while fitting,
                      removed on success); the result is identical to an uninterrupted run
  --figures           write the figures (default)
  --no-figures        do not write the figures

Prints the cumulative explained variance at d = 1, 2, 4, ..., D, and writes next to the output
<stem>-eigenpatches.png (the top components as patches) and <stem>-reconstructions.png (images
rebuilt from d = 4, 16, 48 components beside the original).

On several machines (e.g. a SLURM array, --part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT):
  --part i/n          sum only part i (0-based) of the images: a contiguous block in index order, as
                      ldae-prep --part splits files
  --partial PART.h5   write that part's exact sums (count, sum and sum of outer products of v - 128, float64)
                      and their provenance instead of a basis; --resume continues from PART.h5.resume.h5.
                      With --max-patches the subsample is the whole run's: each part replays the draws
                      before its first image, so the parts select exactly the whole run's patches
  combine PART.h5...  checks that all n parts of one split are there, once each, of the same data and
                      settings, adds them in part order and writes the basis: the sums are exact, so the
                      file is the one a single run over everything writes (on the machine that combines).
                      --data SHARDS (the same shard folders; repeat --data for several) adds the
                      reconstruction figure; without it only the eigen-patches are drawn
"""

/// The fit, or the finished basis of an earlier run of the same shards and settings (`--resume`).
func fitOrReuse(_ set: ShardSet, out: String, maxPatches: Int?, seed: UInt64, resume: Bool) throws -> PCABasis {
    let g = set.geometry
    let resumePath = PCAResumeState.path(for: out)
    let identity = PCAResumeState.identity(set, maxPatches: maxPatches, seed: seed)
    if resume && !FileUtil.exists(resumePath) && FileUtil.exists(out), let done = try? PCABasis.load(out), done.fitIdentity == identity {
        eprint("ldae-fit-pca: \(out) is already complete for these shards and settings: nothing to do (--resume)")
        return done
    }
    if !resume && FileUtil.exists(resumePath) {
        eprint("ldae-fit-pca: \(resumePath) exists from an interrupted run; starting over (--resume continues it)")
    }
    let progress = ProgressLine("fit-pca", total: set.count, unit: "images")
    let ck = PCACheckpointing(path: resumePath, interval: 30, resume: resume)
    let acc = try PCAStream.accumulate(set, maxPatches: maxPatches, seed: seed, progress: progress, checkpointing: ck)
    progress.finish(extra: "\(acc.count) patches")
    var b = try PCAFit.basis(acc, patchSize: g.patchSize, channels: g.channels, indexSHA256: set.indexSHA256)
    b.fitIdentity = identity
    try b.save(out)
    try? FileManager.default.removeItem(atPath: resumePath)
    return b
}

/// Cumulative explained variance at d = 1, 2, 4, ..., and D.
func printVarianceTable(_ basis: PCABasis) {
    let D = basis.dim
    var ds: [Int] = [], d = 1
    while d < D { ds.append(d); d *= 2 }
    ds.append(D)
    let total = basis.eigenvalues.reduce(0.0) { $0 + Double($1) }
    print("pixel scaling \(PixelScaling.name), \(basis.sampleCount) patches, total variance \(String(format: "%.6g", total))")
    print("    d  eigenvalue  cumulative explained")
    for d in ds { print(String(format: "%5d  %10.4g  %8.4f", d, Double(basis.eigenvalues[d - 1]), basis.cumulativeExplained(d))) }
}

/// The eigen-patch PNG beside `out`, and the reconstruction PNG when the shards are at hand (`set`).
func writeFigures(_ basis: PCABasis, _ set: ShardSet?, out: String) throws {
    let paths = PCAFigures.figurePaths(for: out), D = basis.dim
    try PCAFigures.eigenpatches(basis).writePNG(paths.eigenpatches)
    print("wrote \(paths.eigenpatches) (top \(min(64, D)) components, 8 per row, grey = 0)")
    guard let set else { return }
    let dims = PCAFigures.reconstructionDims(D)
    try PCAFigures.reconstructions(basis, images: try PCAFigures.sampleImages(set, count: 8), geometry: set.geometry, dims: dims)
        .writePNG(paths.reconstructions)
    print("wrote \(paths.reconstructions) (columns: original, " + dims.map { "d = \($0)" }.joined(separator: ", ") + ")")
}

runCommand("ldae-fit-pca") {
    let argv = Array(CommandLine.arguments.dropFirst())
    if argv.first == "combine" { try runCombine(Array(argv.dropFirst())); return }
    let args = try Arguments(argv, options: ["out", "partial", "part", "max-patches", "seed", "threads"],
                             flags: ["figures", "no-figures", "resume"])
    if args.wantsHelp { print(usage); return }
    if args.string("partial") != nil || args.string("part") != nil { try runPartial(args); return }
    guard !args.positionals.isEmpty else { throw UsageError("give at least one shard folder") }
    guard let out = args.string("out") else { throw UsageError("--out PATH is required") }
    let (maxPatches, seed) = try samplingOptions(args)
    let figures = try figuresWanted(args)
    try setThreads(args)
    let lock = try lockOutput(out)   // one writer per output: a second fit of the same pca.h5 (and its resume file) fails at once
    defer { lock.release() }
    let set = try ShardSet(args.positionals)
    let g = set.geometry, total = set.count * g.tokens, used = min(maxPatches ?? total, total)
    eprint("ldae-fit-pca: \(set.count) images x \(g.tokens) patches of D = \(g.tokenDim) (patch \(g.patchSize), \(g.channels) channels)"
           + (used < total ? ", subsample of \(used) patches (seed \(seed))" : ", all \(total) patches"))
    let start = Date()
    let basis = try fitOrReuse(set, out: out, maxPatches: maxPatches, seed: UInt64(seed), resume: args.flag("resume"))
    let seconds = Date().timeIntervalSince(start)
    printVarianceTable(basis)
    print("wrote \(out) (fit in \(String(format: "%.2f", seconds)) s; shard index sha256 \(set.indexSHA256.prefix(12))...)")
    if figures { try writeFigures(basis, set, out: out) }
}
