import Foundation

/// `ldae-zoo predict`: a classifier entry on image files or shards, `batch` images at a time (files decoded by
/// `workers` threads, one `ImageProcessor` each, prepared as the entry's training shards were). A file that cannot be
/// read or decoded is reported with its reason in the output and on stderr, and never stops the run.
///
/// Outputs (written atomically, at the end):
/// - `X.csv`: one row per input in input order: path, true_label (a class folder's or a labelled shard's; else
///   empty), label_1, prob_1, ..., label_k, prob_k (softmax probabilities, best first), error (empty when it worked).
/// - `X.npy`: float32 [N, C] logits of the N inputs that decoded, in input order (label order: the entry's
///   class_names), and `X.rows.csv` beside it: path, row (in X.npy; empty for a failed input), true_label, error.
public enum Predict {
    public enum Format: Sendable, Equatable { case csv(topK: Int), npy }

    public struct Summary: Sendable {
        public var inputs: Int
        public var classified: Int
        public var failed: [(path: String, reason: String)]
        public var seconds: Double
        public var files: [String]
    }

    /// The output format from the file name (.csv or .npy).
    public static func format(_ out: String, topK: Int) throws -> Format {
        if out.hasSuffix(".csv") { guard topK >= 1 else { throw UsageError("--top-k must be >= 1") }; return .csv(topK: topK) }
        if out.hasSuffix(".npy") { return .npy }
        throw UsageError("--out must end in .csv (labels and probabilities) or .npy (logits), got '\(out)'")
    }

    /// The `X.rows.csv` beside an `X.npy`.
    public static func rowsFile(for out: String) -> String { (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + ".rows.csv" }

    public static func run(_ zc: ZooClassifier, _ inputs: PredictInputs, out: String, format: Format, batch: Int, workers: Int,
                           log: ((String) -> Void)? = nil) throws -> Summary {
        let t0 = Date()
        guard batch >= 1, workers >= 1 else { throw UsageError("--batch and --threads must be >= 1") }
        let info = zc.info, C = info.head.classes
        let settings = try info.preprocess.settings(file: zc.dir + "/" + ZooStore.manifestFile)
        let g = settings.geometry, V = g.valuesPerImage
        if let s = inputs.shards {
            guard s.geometry.imageSize == g.imageSize, s.geometry.patchSize == g.patchSize else {
                throw LdaeError("shards have image_size \(s.geometry.imageSize), patch_size \(s.geometry.patchSize) but \(zc.ref) takes \(g.imageSize), \(g.patchSize)", file: s.sources[0])
            }
            try FinetuneChecks.sameClasses(info, ref: zc.ref, shards: s)
        }
        let n = inputs.items.count
        var logits = [Float](repeating: 0, count: n * C)
        var ok = [Bool](repeating: false, count: n), errors = [String?](repeating: nil, count: n)
        let processors = (0..<workers).map { _ in ImageProcessor(settings) }
        let progress = ProgressLine("predict", total: n, unit: "img")
        var u8 = [UInt8](repeating: 0, count: batch * V), x = [Float](repeating: 0, count: batch * V)
        var z = [Float](repeating: 0, count: batch * C)
        let table = PixelScaling.table
        var b0 = 0
        while b0 < n {
            let nb = min(batch, n - b0)
            var got = [String?](repeating: nil, count: nb)   // nil: decoded
            if let s = inputs.shards {
                var i = 0
                while i < nb {   // consecutive rows of one shard are read together
                    let (sh, row) = s.locate(inputs.items[b0 + i].shardIndex!)
                    var j = i + 1
                    while j < nb, inputs.items[b0 + j].shardIndex! == inputs.items[b0 + i].shardIndex! + (j - i),
                          s.locate(inputs.items[b0 + j].shardIndex!).shard == sh { j += 1 }
                    let (p, _) = try s.read(shard: sh, rows: row..<(row + j - i))
                    u8.withUnsafeMutableBufferPointer { d in p.withUnsafeBufferPointer { (d.baseAddress! + i * V).update(from: $0.baseAddress!, count: (j - i) * V) } }
                    i = j
                }
            } else {
                u8.withUnsafeMutableBufferPointer { ub in
                    let base = UncheckedSendable(ub.baseAddress!)
                    let results = UncheckedSendable(UnsafeMutableBufferPointer<String?>.allocate(capacity: nb))
                    results.value.initialize(repeating: nil)
                    defer { results.value.deallocate() }
                    let items = Array(inputs.items[b0..<(b0 + nb)]), procs = UncheckedSendable(processors)
                    DispatchQueue.concurrentPerform(iterations: min(workers, nb)) { w in
                        var i = w
                        while i < nb {
                            let it = items[i]
                            if let e = it.error { results.value[i] = e } else {
                                do { _ = try procs.value[w].process(rawPath: it.file!, into: base.value + i * V) }
                                catch { results.value[i] = (error as? SkipReason)?.description ?? errorLine(error) }
                            }
                            i += min(workers, nb)
                        }
                    }
                    for i in 0..<nb { got[i] = results.value[i] }
                }
            }
            let good = (0..<nb).filter { got[$0] == nil }
            for (k, i) in good.enumerated() { for j in 0..<V { x[k * V + j] = table[Int(u8[i * V + j])] } }
            if !good.isEmpty {
                x.withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { zc.logits(xp.baseAddress!, batch: good.count, out: $0.baseAddress!) } }
            }
            for (k, i) in good.enumerated() {
                ok[b0 + i] = true
                for c in 0..<C { logits[(b0 + i) * C + c] = z[k * C + c] }
            }
            for i in 0..<nb where got[i] != nil {
                errors[b0 + i] = got[i]
                log?("predict: skipped \(inputs.items[b0 + i].path): \(got[i]!)")
            }
            b0 += nb
            progress.advance(nb)
        }
        if isatty(2) != 0 { progress.finish() }   // a plain progress already printed its line at the last image
        let failed = (0..<n).compactMap { i in errors[i].map { (inputs.items[i].path, $0) } }
        var files = [out]
        switch format {
        case .csv(let k):
            try AtomicFile.write(Data(csv(inputs, logits: logits, ok: ok, errors: errors, classNames: info.classNames, topK: min(k, C)).utf8), to: out)
        case .npy:
            let rows = (0..<n).filter { ok[$0] }
            var kept = [Float](); kept.reserveCapacity(rows.count * C)
            for i in rows { kept += logits[(i * C)..<((i + 1) * C)] }
            try AtomicFile.write(NPY.encode(kept, shape: [rows.count, C]), to: out)
            var s = "path,row,true_label,error\n", r = 0
            for i in 0..<n {
                let it = inputs.items[i]
                s += [field(it.path), ok[i] ? "\(r)" : "", field(it.trueLabel ?? ""), field(errors[i] ?? "")].joined(separator: ",") + "\n"
                if ok[i] { r += 1 }
            }
            try AtomicFile.write(Data(s.utf8), to: rowsFile(for: out))
            files.append(rowsFile(for: out))
        }
        return Summary(inputs: n, classified: ok.filter { $0 }.count, failed: failed, seconds: Date().timeIntervalSince(t0), files: files)
    }

    /// The CSV text (RFC 4180 quoting where a field needs it).
    static func csv(_ inputs: PredictInputs, logits: [Float], ok: [Bool], errors: [String?], classNames: [String], topK k: Int) -> String {
        let C = classNames.count
        var s = "path,true_label," + (1...k).map { "label_\($0),prob_\($0)" }.joined(separator: ",") + ",error\n"
        for (i, it) in inputs.items.enumerated() {
            var row = [field(it.path), field(it.trueLabel ?? "")]
            if ok[i] {
                let p = logits.withUnsafeBufferPointer { softmax($0.baseAddress! + i * C, count: C) }
                let order = (0..<C).sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
                for c in order.prefix(k) { row += [field(classNames[c]), String(format: "%.6f", p[c])] }
                row.append("")
            } else {
                row += [String](repeating: "", count: 2 * k) + [field(errors[i] ?? "")]
            }
            s += row.joined(separator: ",") + "\n"
        }
        return s
    }

    static func field(_ v: String) -> String {
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
