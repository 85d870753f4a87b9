import Foundation
import Ldae

// The options and output checks the fit, `--partial` and `combine` share.

/// --max-patches and --seed (range-checked).
func samplingOptions(_ args: Arguments) throws -> (maxPatches: Int?, seed: Int) {
    let maxPatches = try args.int("max-patches")
    if let m = maxPatches, m < 2 { throw UsageError("--max-patches must be at least 2, got \(m)") }
    let seed = try args.int("seed", default: 0)
    guard seed >= 0 else { throw UsageError("--seed must be non-negative, got \(seed)") }
    return (maxPatches, seed)
}

/// Whether to write the figures (--figures, the default, or --no-figures).
func figuresWanted(_ args: Arguments) throws -> Bool {
    if args.flag("figures") && args.flag("no-figures") { throw UsageError("--figures and --no-figures contradict each other") }
    return !args.flag("no-figures")
}

/// --threads N: OpenBLAS's thread count.
func setThreads(_ args: Arguments) throws {
    guard let t = try args.int("threads") else { return }
    guard t >= 1 else { throw UsageError("--threads must be at least 1, got \(t)") }
    BLAS.setThreads(t)
}

/// Checks that `out` can be a file in an existing folder and takes its lock (`.NAME.lock` beside it), so that a
/// second writer of the same output fails at once.
func lockOutput(_ out: String, command: String = "ldae-fit-pca") throws -> FolderLock {
    let outDir = URL(fileURLWithPath: out).deletingLastPathComponent().path
    guard FileUtil.isDirectory(outDir) else { throw LdaeError("output folder does not exist", file: outDir) }
    if FileUtil.isDirectory(out) { throw LdaeError("is a folder, expected a file name such as pca.h5", file: out) }
    return try FolderLock.acquire(outDir, command: command, name: "." + URL(fileURLWithPath: out).lastPathComponent + ".lock")
}
