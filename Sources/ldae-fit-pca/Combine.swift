import Foundation
import Ldae

/// `ldae-fit-pca combine PART.h5... --out pca.h5 [--data SHARDS]...`: the basis of all n parts' sums, the same
/// file as one run over everything, with the variance table and the figures.
func runCombine(_ argv: [String]) throws {
    let args = try Arguments(argv, options: ["out", "data", "threads"], flags: ["figures", "no-figures"])
    if args.wantsHelp { print(usage); return }
    guard !args.positionals.isEmpty else { throw UsageError("combine needs the part files (written by --part i/n --partial PART.h5)") }
    guard let out = args.string("out") else { throw UsageError("combine needs --out pca.h5") }
    let figures = try figuresWanted(args)
    try setThreads(args)
    let lock = try lockOutput(out, command: "ldae-fit-pca combine")
    defer { lock.release() }
    let (basis, ref) = try PCACombine.basis(args.positionals)
    // The shards, for the reconstruction figure: they must be the data the parts were summed from.
    var set: ShardSet? = nil
    if !args.strings("data").isEmpty {
        let s = try ShardSet(args.strings("data"))
        guard s.indexSHA256 == ref.indexSHA256 else {
            throw LdaeError("--data is not the data set the parts were summed from (shard index sha256 \(s.indexSHA256.prefix(12))..., the parts have \(ref.indexSHA256.prefix(12))...)", file: s.sources[0])
        }
        set = s
    }
    try basis.save(out)
    printVarianceTable(basis)
    print("wrote \(out) (combined \(ref.parts) part\(ref.parts == 1 ? "" : "s"): \(basis.sampleCount) patches of \(ref.imagesTotal) images;"
          + " shard index sha256 \(ref.indexSHA256.prefix(12))...)")
    guard figures else { return }
    try writeFigures(basis, set, out: out)
    if set == nil { print("no reconstruction figure: give the shard folders with --data to draw it") }
}
