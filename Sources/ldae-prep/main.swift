import Foundation
import Ldae

let usage = """
usage: ldae-prep images DIR --out OUT [options]
       ldae-prep merge PART_DIR... --out OUT

images: converts a folder of images into HDF5 shards + index.json.
  DIR is an ImageFolder layout (one subfolder per class; sorted names = label ids; files found recursively)
  or a flat folder of images (unlabeled, label -1). Hidden files are ignored; JPEG and PNG are recognized by
  their magic bytes, whatever the extension. Every image: EXIF orientation applied, alpha composited on white,
  shorter side resized to S with an antialiasing filter and centre-cropped (or stretched), cut into p x p patches.

  --out OUT                 output folder (shard-00000.h5 ..., index.json written last)
  --size S                  output image size (default 32, at most 4096; buffers must fit in half the memory)
  --patch p                 patch size, divides S (default 4): patches uint8 [N, (S/p)^2, p*p*3]
  --resize crop|stretch     crop: shorter side to S then centre crop (default); stretch: both sides to S
  --filter bicubic|bilinear antialiasing resampling filter (default bicubic)
  --shard-size N            images per shard (default 10000, fewer above 64 px: at most 256 MB per shard;
                            memory use is about 2 x shard-size x S*S*3 bytes)
  --compress none|gzip      gzip (level 4) compresses the datasets (default none)
  --workers N               decoding threads (default: all cores); the output does not depend on it
  --max-pixels N            refuse images above N pixels, a decompression-bomb guard (default 89478485)
  --png-gamma ignore|srgb   a PNG's gAMA chunk: ignore it, samples as stored, the same pixels as Pillow (default);
                            or convert the samples from the file's gamma to sRGB (recorded as attribute png_gamma)
  --on-error skip|fail      skip bad files and record why (default), or stop at the first one
  --max-skip-fraction F     fail when more than this fraction of the files is skipped (default 0.01)
  --class-names FILE        label ids from another split: its index.json (or folder) or a text file, one name a
                            line; a class folder not in the list is an error
  --part i/n                process only part i (0-based, 0..n-1) of the files: a contiguous, deterministic
                            block, e.g. for a SLURM array (--part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)
  --resume                  continue an interrupted run in OUT without redoing its complete shards
  --quiet                   no progress lines

merge: joins the folders written by `--part i/n` runs (all n of them, any order) into OUT: one index.json,
  shards hard-linked (copied only across file systems), in the same image order as a single run.

examples:
  ldae-prep images data/cifar10-jpg/train --out shards/train
  ldae-prep images data/cifar10-jpg/test --out shards/test --class-names shards/train/index.json
"""

func parsePart(_ s: String) throws -> (Int, Int) {
    let p = s.split(separator: "/")
    guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n else {
        throw UsageError("--part expects i/n with 0 <= i < n (0-based), got '\(s)'")
    }
    return (i, n)
}

func formatCount(_ n: Int) -> String {
    let f = NumberFormatter(); f.numberStyle = .decimal; f.groupingSeparator = ","; f.usesGroupingSeparator = true
    return f.string(from: NSNumber(value: n)) ?? "\(n)"
}

func summary(_ r: Prep.Result, out: String) -> String {
    let idx = r.index
    let read = idx.filesRead ?? (idx.total + idx.skipped.count)
    var lines: [String] = []
    let rate = r.elapsed > 0 ? String(format: ", %.0f images/s", Double(r.processedFiles) / r.elapsed) : ""
    lines.append("ldae-prep: \(out): \(formatCount(idx.total)) images in \(idx.shards.count) shard(s), \(idx.imageSize)x\(idx.imageSize) px, patch \(idx.patchSize) -> [N, \(idx.geometry.tokens), \(idx.geometry.tokenDim)] uint8" +
                 (r.elapsed > 0 ? String(format: " (%.1f s%@)", r.elapsed, rate) : ""))
    if r.alreadyComplete { lines.append("  already complete: nothing to do") }
    if r.resumedShards > 0 && !r.alreadyComplete { lines.append("  resumed after \(r.resumedShards) complete shard(s)") }
    lines.append("  read      \(formatCount(read)) files" + (idx.labeled ? " in \(idx.classNames.count) classes" : " (unlabeled)") + (idx.part.map { ", part \($0)" } ?? ""))
    lines.append("  written   \(formatCount(idx.total))")
    let pct = read > 0 ? String(format: "%.2f%%", 100 * Double(idx.skipped.count) / Double(read)) : "0%"
    let by = idx.skippedCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    lines.append("  skipped   \(formatCount(idx.skipped.count)) (\(pct))" + (by.isEmpty ? "" : ": " + by))
    for s in idx.skipped.prefix(5) { lines.append("    \(s.path): \(s.reason)") }
    if idx.skipped.count > 5 { lines.append("    ... \(idx.skipped.count - 5) more in \(out)/index.json") }
    if let w = idx.filesWithWarnings, w > 0 {
        lines.append("  warnings  \(w) file(s) decoded despite \(idx.corruptDataWarnings ?? 0) libjpeg corrupt-data warning(s)")
    }
    if let e = idx.emptyClasses, !e.isEmpty { lines.append("  empty class folder(s): \(e.joined(separator: ", "))") }
    return lines.joined(separator: "\n")
}

runCommand("ldae-prep") {
    var argv = Array(CommandLine.arguments.dropFirst())
    let sub = argv.first
    if sub == nil || sub == "--help" || sub == "-h" || sub == "help" { print(usage); return }
    argv.removeFirst()
    switch sub! {
    case "images":
        let a = try Arguments(argv, options: ["out", "size", "patch", "resize", "filter", "shard-size", "compress", "workers",
                                               "max-pixels", "png-gamma", "on-error", "max-skip-fraction", "class-names", "part"],
                              flags: ["resume", "quiet"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1 else { throw UsageError("images expects one input folder, got \(a.positionals.count)") }
        guard let out = a.string("out") else { throw UsageError("images needs --out OUT") }
        let size = try a.int("size", default: 32), patch = try a.int("patch", default: 4)
        try Prep.checkSizes(imageSize: size, patchSize: patch, shardSize: 1, workers: 1)   // before sizes are multiplied
        let policy = Resize.Policy(rawValue: try a.choice("resize", Resize.Policy.allCases.map { $0.rawValue }, default: "crop"))!
        let filter = ResampleFilter(rawValue: try a.choice("filter", ResampleFilter.allCases.map { $0.rawValue }, default: "bicubic"))!
        let pngGamma = PNGGamma(rawValue: try a.choice("png-gamma", PNGGamma.allCases.map { $0.rawValue }, default: "ignore"))!
        let maxPixels = try a.int("max-pixels", default: 89_478_485)
        guard maxPixels > 0 else { throw UsageError("--max-pixels must be positive") }
        var o = Prep.Options(input: a.positionals[0], out: out,
                             image: .init(geometry: PatchGeometry(imageSize: size, patchSize: patch), policy: policy,
                                          filter: filter, maxPixels: UInt64(maxPixels)))
        o.image.pngGamma = pngGamma
        // Default: 10,000 images, fewer for large images so that a shard's patches stay within 256 MB
        // (the writer holds up to two shards in memory).
        let vpi = PatchGeometry(imageSize: size, patchSize: patch).valuesPerImage
        o.shardSize = try a.int("shard-size", default: max(1, min(10_000, (256 << 20) / vpi)))
        guard o.shardSize > 0 else { throw UsageError("--shard-size must be positive") }
        o.gzip = try a.choice("compress", ["none", "gzip"], default: "none") == "gzip" ? 4 : nil
        o.workers = try a.int("workers", default: ProcessInfo.processInfo.activeProcessorCount)
        guard o.workers >= 1 else { throw UsageError("--workers must be at least 1") }
        o.failOnError = try a.choice("on-error", ["skip", "fail"], default: "skip") == "fail"
        o.maxSkipFraction = try a.double("max-skip-fraction", default: 0.01)
        guard (0...1).contains(o.maxSkipFraction) else { throw UsageError("--max-skip-fraction must be between 0 and 1") }
        if let c = a.string("class-names") {
            o.classNames = try ImageFolder.loadClassNames(c)
            o.classNamesSource = c
        }
        if let p = a.string("part") { o.part = try parsePart(p) }
        o.resume = a.flag("resume")
        o.quiet = a.flag("quiet")
        if let k = ProcessInfo.processInfo.environment["LDAE_PREP_STOP_AFTER_SHARDS"], let v = Int(k) { o.stopAfterShards = v }
        let r = try Prep.run(o)
        print(summary(r, out: out))
    case "merge":
        let a = try Arguments(argv, options: ["out"], flags: [])
        if a.wantsHelp { print(usage); return }
        guard let out = a.string("out") else { throw UsageError("merge needs --out OUT") }
        guard !a.positionals.isEmpty else { throw UsageError("merge needs the part folders to join") }
        let idx = try PrepMerge.run(parts: a.positionals, out: out)
        print("ldae-prep: \(out): merged \(a.positionals.count) part(s): \(formatCount(idx.total)) images in \(idx.shards.count) shard(s), \(idx.skipped.count) skipped")
    default:
        throw UsageError("unknown command '\(sub!)' (expected images or merge)")
    }
}
