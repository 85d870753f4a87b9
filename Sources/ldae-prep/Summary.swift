import Foundation
import Ldae

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
