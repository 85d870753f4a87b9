import Foundation
import Ldae

// ldae-prep: `images` (Images.swift) and `merge`.

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
  --stop-after-shards N     stop with an error once N shards are written, leaving OUT as a killed run would
                            (to try --resume)
  --quiet                   no progress lines

merge: joins the folders written by `--part i/n` runs (all n of them, any order) into OUT: one index.json,
  shards hard-linked (copied only across file systems), in the same image order as a single run.

examples:
  ldae-prep images data/cifar10-jpg/train --out shards/train
  ldae-prep images data/cifar10-jpg/test --out shards/test --class-names shards/train/index.json
"""

/// `ldae-prep merge PART_DIR... --out OUT`.
func runMerge(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["out"], flags: [])
    if a.wantsHelp { print(usage); return }
    guard let out = a.string("out") else { throw UsageError("merge needs --out OUT") }
    guard !a.positionals.isEmpty else { throw UsageError("merge needs the part folders to join") }
    let idx = try PrepMerge.run(parts: a.positionals, out: out)
    print("ldae-prep: \(out): merged \(a.positionals.count) part(s): \(formatCount(idx.total)) images in \(idx.shards.count) shard(s), \(idx.skipped.count) skipped")
}

runCommand("ldae-prep") {
    let argv = Array(CommandLine.arguments.dropFirst())
    switch argv.first {
    case nil, "--help", "-h", "help": print(usage)
    case "images": try runImages(Array(argv.dropFirst()))
    case "merge": try runMerge(Array(argv.dropFirst()))
    case let sub?: throw UsageError("unknown command '\(sub)' (expected images or merge)")
    }
}
