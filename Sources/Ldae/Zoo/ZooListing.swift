import Foundation

/// What `ldae-zoo list` shows for one version: read without failing, damaged entries marked.
public struct ZooListEntry: Codable, Sendable {
    public var name: String
    public var version: String
    public var path: String
    public var date: String?
    public var architecture: String?
    public var parameters: Int?
    public var dataImages: Int?
    public var dataIndexSHA256: String?
    public var tokenizer: String?
    public var latentDim: Int?
    public var steps: Int?
    public var finalLoss: Double?
    public var evaluations: Int
    public var bestLinearProbeTop1: Double?
    public var bestKNNTop1: Double?
    /// nil when the entry verifies; else the reason (missing file, sha256 mismatch, unreadable manifest).
    public var damaged: String?
}

public enum ZooListing {
    /// "vit 192x12 / dec 128x4" (+ " adaln" when time-conditioned).
    public static func architecture(_ m: ModelConfig) -> String {
        "vit \(m.encoderWidth)x\(m.encoderDepth) / dec \(m.decoderWidth)x\(m.decoderDepth)" + (m.timeCond == .adaln ? " adaln" : "") + (m.numClasses != nil ? " class-cond" : "")
    }

    /// 1234 -> "1.2K", 5_500_000 -> "5.50M".
    public static func humanCount(_ n: Int) -> String {
        if n >= 1_000_000 { return String(format: "%.2fM", Double(n) / 1e6) }
        if n >= 1_000 { return String(format: "%.1fK", Double(n) / 1e3) }
        return "\(n)"
    }

    /// Every version of every model in the store (or of `name` only), oldest first within a name.
    public static func entries(_ store: ZooStore, name: String? = nil, verify: Bool = true) -> [ZooListEntry] {
        var out: [ZooListEntry] = []
        for n in name.map({ [$0] }) ?? store.names() {
            for v in store.versions(n) {
                let dir = store.path(n, v)
                var e = ZooListEntry(name: n, version: "v\(v)", path: dir, evaluations: 0)
                if let m = try? JSON.read(Manifest.self, path: dir + "/" + ZooStore.manifestFile) {
                    e.date = m.created; e.parameters = m.parameterCount
                    e.architecture = m.classifier.map { "vit \(m.model.encoderWidth)x\(m.model.encoderDepth) + head \($0.head.classes)" } ?? architecture(m.model)
                    e.dataImages = m.data.images; e.dataIndexSHA256 = m.data.indexSHA256; e.tokenizer = m.tokenizer.kind.rawValue
                    e.latentDim = m.tokenizer.kind == .pca || m.tokenizer.kind.isFitted ? m.tokenizer.latentDim : nil
                    e.steps = m.steps; e.finalLoss = m.finalLoss
                }
                do { _ = try store.load("\(n)@v\(v)", verify: verify) } catch { e.damaged = "\(error)" }
                let (recs, _) = EvalRecord.readAll(dir + "/" + ZooStore.evalsFile)
                e.evaluations = recs.count + ClassifierEvalRecord.readAll(dir + "/" + ZooStore.evalsFile).count
                e.bestLinearProbeTop1 = recs.map { $0.metrics.linearProbe.top1 }.max()
                e.bestKNNTop1 = recs.map { $0.metrics.knn.top1 }.max()
                out.append(e)
            }
        }
        return out
    }

    static func pct(_ v: Double?) -> String { v.map { String(format: "%.1f", 100 * $0) } ?? "-" }

    /// A fixed-width text table with a header.
    public static func table(_ header: [String], _ rows: [[String]], rightAlign: Set<Int> = []) -> String {
        var w = header.map { $0.count }
        for r in rows { for (i, c) in r.enumerated() where i < w.count { w[i] = max(w[i], c.count) } }
        func fmt(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                let padN = w[i] - c.count
                return rightAlign.contains(i) ? String(repeating: " ", count: padN) + c : c + String(repeating: " ", count: padN)
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([fmt(header), fmt(w.map { String(repeating: "-", count: $0) })] + rows.map(fmt)).joined(separator: "\n")
    }

    /// The `list` table. Damaged entries get "DAMAGED" in the status column and the reason below the table.
    public static func render(_ entries: [ZooListEntry]) -> String {
        if entries.isEmpty { return "(the zoo is empty)" }
        let header = ["name", "version", "date", "architecture", "params", "data", "latent d", "steps", "final loss", "best lp/knn top-1", "status"]
        let rows: [[String]] = entries.map { e in
            [e.name, e.version, e.date.map { String($0.prefix(19)).replacingOccurrences(of: "T", with: " ") } ?? "-",
             e.architecture ?? "-", e.parameters.map(humanCount) ?? "-", e.dataImages.map(String.init) ?? "-",
             e.latentDim.map(String.init) ?? (e.tokenizer ?? "-"), e.steps.map(String.init) ?? "-",
             e.finalLoss.map { String(format: "%.4f", $0) } ?? "-",
             e.evaluations == 0 ? "-" : "\(pct(e.bestLinearProbeTop1)) / \(pct(e.bestKNNTop1))",
             e.damaged == nil ? "ok" : "DAMAGED"]
        }
        var s = table(header, rows, rightAlign: [4, 5, 7, 8])
        for e in entries { if let d = e.damaged { s += "\n\(e.name)@\(e.version): \(d)" } }
        return s
    }

    /// `show`: the manifest and the evaluation history, readable.
    public static func show(_ m: Manifest, dir: String, verified: String?) -> String {
        var L: [String] = []
        L.append("\(m.name)@\(m.version)   \(dir)")
        L.append("  created        \(m.created)")
        L.append("  status         \(verified.map { "DAMAGED: \($0)" } ?? "ok (sha256 of \(m.files.count) files verified)")")
        let c = m.model
        L.append("  architecture   \(architecture(c)) (heads \(c.encoderHeads)/\(c.decoderHeads), mlp x\(c.mlpRatio), pos \(c.posEmbed.rawValue), time \(c.timeCond.rawValue)\(c.numClasses.map { ", class-conditioned on \($0) labels" } ?? ""))")
        L.append("  input          \(c.imageSize)px, patch \(c.patchSize) -> \(c.tokens) tokens of \(c.tokenDim)")
        L.append("  parameters     \(m.parameterCount) (encoder \(m.encoderParameterCount)), weights \(m.weightsDtype)")
        L.append("  tokenizer      \(m.tokenizer.kind.rawValue)" + (m.tokenizer.kind == .pca || m.tokenizer.kind.isFitted ? " d=\(m.tokenizer.latentDim)" : "") + (m.tokenizer.sha256.map { " (\(m.tokenizer.file ?? "") \($0.prefix(12))...)" } ?? "") + ", scaling \(m.tokenizer.pixelScaling)")
        let t = m.training
        L.append("  objective      schedule \(t.schedule.rawValue), noise \(t.noiseLevels.rawValue), target \(t.target.rawValue), residual weight \(t.residualWeight), loss weighting \(t.lossWeighting)")
        L.append("  optimiser      batch \(t.batchSize), base lr \(t.baseLR), warmup \(t.warmupEpochs), wd \(t.weightDecay), seed \(m.seed)")
        L.append("  data           \(m.data.images) images, \(m.data.classNames.count) classes, index sha256 \(m.data.indexSHA256.prefix(16))...")
        for s in m.data.sources { L.append("                 \(s)") }
        L.append("  trained        \(m.steps) steps, \(String(format: "%.2f", m.epochs)) epochs, final loss \(String(format: "%.5f", m.finalLoss)), \(ProgressLine.formatDuration(m.trainSeconds))")
        if let p = m.provenance {
            L.append("  processes      \(p.ranksByThreads) (ranks x threads), launcher \(p.launcher), hosts \(p.hosts.joined(separator: ", "))")
            L.append(String(format: "  cpu time       %.1f CPU-minutes over every process (per rank since step %d: %@ s), %.1f wall minutes",
                            p.cpuSecondsTotal / 60, p.perRankSinceStep, p.cpuSecondsPerRank.map { String(format: "%.0f", $0) }.joined(separator: " + "), p.wallSeconds / 60))
            L.append("  machine        \(p.cpuModel ?? "unknown CPU"); \(p.cpuFlags.joined(separator: " ")); kernels \(p.kernels), precision \(p.precision.rawValue)")
            L.append("  built          ldae \(p.ldaeVersion)")
            L.append("  command        \(p.commandLine)")
        }
        L.append("  files")
        for (f, sha) in m.files.sorted(by: { $0.key < $1.key }) { L.append("    \(f)  \(sha.prefix(16))...") }
        if !m.notes.isEmpty { L.append("  notes          \(m.notes)") }
        let (recs, bad) = EvalRecord.readAll(dir + "/" + ZooStore.evalsFile)
        L.append("")
        L.append("evaluations (\(recs.count)\(bad > 0 ? ", \(bad) unreadable lines" : ""))")
        if !recs.isEmpty {
            let header = ["date", "test data", "n train/test", "lp top-1", "lp top-5", "knn top-1", "pixels lp", "random lp", "kmeans lp", "psnr model (noisy)"]
            let rows: [[String]] = recs.map { r in
                let dn = r.denoising?.levels.map { String(format: "%.1f(%.1f)", $0.psnrModel, $0.psnrNoisy) }.joined(separator: " ") ?? "-"
                return [String(r.date.prefix(19)).replacingOccurrences(of: "T", with: " "), String(r.test.indexSHA256.prefix(12)),
                        "\(r.train.used)/\(r.test.used)", pct(r.metrics.linearProbe.top1), pct(r.metrics.linearProbe.top5),
                        pct(r.metrics.knn.top1), pct(r.baselines[Evaluation.Baseline.pixels.rawValue]?.linearProbe.top1), pct(r.baselines[Evaluation.Baseline.random.rawValue]?.linearProbe.top1),
                        pct(r.baselines[Evaluation.Baseline.kmeans.rawValue]?.linearProbe.top1), dn]
            }
            L.append(table(header, rows, rightAlign: [3, 4, 5, 6, 7, 8]))
        }
        return L.joined(separator: "\n")
    }
}
