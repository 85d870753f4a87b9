import Foundation
import Ldae

/// `ldae-prep images DIR --out OUT [options]`: the options as `Prep.Options`, the run, its summary.
func runImages(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["out", "size", "patch", "resize", "filter", "shard-size", "compress", "workers",
                                           "max-pixels", "png-gamma", "on-error", "max-skip-fraction", "class-names", "part",
                                           "stop-after-shards"],
                          flags: ["resume", "quiet"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1 else { throw UsageError("images expects one input folder, got \(a.positionals.count)") }
    guard let out = a.string("out") else { throw UsageError("images needs --out OUT") }
    let o = try prepOptions(a, input: a.positionals[0], out: out)
    let r = try Prep.run(o)
    print(summary(r, out: out))
}

func prepOptions(_ a: Arguments, input: String, out: String) throws -> Prep.Options {
    let size = try a.int("size", default: 32), patch = try a.int("patch", default: 4)
    try Prep.checkSizes(imageSize: size, patchSize: patch, shardSize: 1, workers: 1)   // before sizes are multiplied
    let geometry = PatchGeometry(imageSize: size, patchSize: patch)
    let policy = try a.choice("resize", default: Resize.Policy.crop)
    let filter = try a.choice("filter", default: ResampleFilter.bicubic)
    let maxPixels = try a.int("max-pixels", default: 89_478_485)
    var o = Prep.Options(input: input, out: out,
                         image: .init(geometry: geometry, policy: policy, filter: filter, maxPixels: UInt64(max(0, maxPixels))))
    o.image.pngGamma = try a.choice("png-gamma", default: PNGGamma.ignore)
    // 10,000 images, fewer for large images so that a shard's patches stay within 256 MB (the writer holds up to two
    // shards in memory)
    o.shardSize = try a.int("shard-size", default: max(1, min(10_000, (256 << 20) / geometry.valuesPerImage)))
    o.compress = try a.choice("compress", default: Compression.none)
    o.workers = try a.int("workers", default: ProcessInfo.processInfo.activeProcessorCount)
    o.onError = try a.choice("on-error", default: OnError.skip)
    o.maxSkipFraction = try a.double("max-skip-fraction", default: 0.01)
    if let c = a.string("class-names") {
        o.classNames = try ImageFolder.loadClassNames(c)
        o.classNamesSource = c
    }
    o.part = try a.part()
    o.resume = a.flag("resume")
    o.quiet = a.flag("quiet")
    o.stopAfterShards = try a.int("stop-after-shards")
    try o.validate()
    return o
}

func formatCount(_ n: Int) -> String {
    let f = NumberFormatter(); f.numberStyle = .decimal; f.groupingSeparator = ","; f.usesGroupingSeparator = true
    return f.string(from: NSNumber(value: n)) ?? "\(n)"
}
