import Foundation

/// A fitted tokenizer, one HDF5 file (docs/formats.md, "Tokenizer files"):
///   attributes  format "ldae-tokenizer", format_version, kind, latent_dim, patch_size, channels, image_size,
///               pixel_scaling, index_sha256 (the shards it was fit on), settings (JSON), tensors (JSON list of the
///               weights' names), latent_scale, recon_mse, steps_done, complete (0 in a fit's checkpoint)
///   datasets    w.NAME float32 (every weight tensor, in its own shape), latent_variance [d], loss_curve [n, 3]
///               (step, reconstruction MSE, KL), and in a checkpoint adam_m, adam_v [P]
public struct TokenizerFile: Sendable {
    public var settings: TokenizerFitSettings
    public var patchSize: Int
    public var channels: Int
    public var imageSize: Int
    public var indexSHA256: String
    /// The weights by name, in order.
    public var tensors: [(name: String, shape: [Int], values: [Float])]
    /// The factor the encoder's output is multiplied by before noise (conv-vae; 1 for the linear kinds).
    public var latentScale: Double = 1
    public var latentVariance: [Float]
    /// [n, 3]: step, reconstruction MSE, KL.
    public var lossCurve: [Float] = []
    public var reconMSE: Double = .nan
    public var stepsDone: Int = 0
    public var complete: Bool = true
    /// Adam's state in a checkpoint.
    public var adamM: [Float]? = nil
    public var adamV: [Float]? = nil

    public var kind: TokenizerKind { settings.kind }
    public var latentDim: Int { settings.latentDim }

    public init(settings: TokenizerFitSettings, geometry g: PatchGeometry, indexSHA256: String,
                tensors: [(name: String, shape: [Int], values: [Float])]) {
        self.settings = settings; patchSize = g.patchSize; channels = g.channels; imageSize = g.imageSize
        self.indexSHA256 = indexSHA256; self.tensors = tensors
        latentVariance = [Float](repeating: 1, count: settings.latentDim)
    }

    /// The tensor `name`, checked against `shape`; a missing or misshapen one names the file's problem.
    public func tensor(_ name: String, shape: [Int]) throws -> [Float] {
        guard let t = tensors.first(where: { $0.name == name }) else { throw LdaeError("tokenizer file has no weight w.\(name)") }
        guard t.shape == shape, t.values.count == shape.reduce(1, *) else {
            throw LdaeError("tokenizer weight w.\(name) has shape \(t.shape), expected \(shape)")
        }
        return t.values
    }

    public func save(_ path: String) throws {
        try H5File.write(atomically: path) { f in
            try f.setAttribute("format", FormatName.tokenizer)
            try f.setAttribute("format_version", FormatVersion.tokenizer)
            try f.setAttribute("kind", kind.rawValue)
            try f.setAttribute("latent_dim", latentDim)
            try f.setAttribute("patch_size", patchSize)
            try f.setAttribute("channels", channels)
            try f.setAttribute("image_size", imageSize)
            try f.setAttribute("pixel_scaling", PixelScaling.name)
            try f.setAttribute("index_sha256", indexSHA256)
            try f.setAttribute("settings", String(decoding: try JSON.encode(settings, pretty: false), as: UTF8.self))
            try f.setAttribute("latent_scale", latentScale)
            try f.setAttribute("recon_mse", reconMSE)
            try f.setAttribute("steps_done", stepsDone)
            try f.setAttribute("complete", complete ? 1 : 0)
            try f.setAttribute("tensors", String(decoding: try JSON.encode(tensors.map(\.name), pretty: false), as: UTF8.self))
            for t in tensors { try f.write("w." + t.name, t.values, shape: t.shape) }
            try f.write("latent_variance", latentVariance, shape: [latentVariance.count])
            try f.write("loss_curve", lossCurve, shape: [lossCurve.count / 3, 3])
            if let m = adamM, let v = adamV {
                try f.write("adam_m", m, shape: [m.count])
                try f.write("adam_v", v, shape: [v.count])
            }
        }
    }

    /// Whether `path` is a PCA basis (format "ldae-pca") rather than a tokenizer file.
    static func isPCA(_ path: String) throws -> Bool {
        let f = try H5File.open(path)
        defer { try? f.close() }
        return try f.stringAttribute("format") == FormatName.pca
    }

    public static func load(_ path: String) throws -> TokenizerFile {
        let f = try H5File.open(path)
        defer { try? f.close() }
        func bad(_ s: String) -> LdaeError { LdaeError(s, file: path) }
        let fmt = try f.stringAttribute("format")
        guard fmt == FormatName.tokenizer else {
            throw bad("not an ldae tokenizer (format attribute is '\(fmt ?? "missing")', expected '\(FormatName.tokenizer)' or '\(FormatName.pca)')")
        }
        let v = try f.intAttribute("format_version") ?? -1
        guard v == FormatVersion.tokenizer else { throw bad("tokenizer format_version \(v) is not supported (this build reads \(FormatVersion.tokenizer))") }
        guard let kw = try f.stringAttribute("kind"), let kind = TokenizerKind(rawValue: kw), kind.isFitted else {
            throw bad("kind '\(try f.stringAttribute("kind") ?? "missing")' is not a fitted tokenizer (\(TokenizerKind.allCases.filter(\.isFitted).map(\.rawValue).joined(separator: ", ")))")
        }
        guard let sj = try f.stringAttribute("settings") else { throw bad("the settings attribute is missing") }
        let settings = try JSON.decode(TokenizerFitSettings.self, from: Data(sj.utf8), file: path)
        guard settings.kind == kind else { throw bad("kind '\(kind.rawValue)' disagrees with its settings ('\(settings.kind.rawValue)')") }
        do { try settings.validate() } catch let e as LdaeError { throw bad(e.reason) }
        let p = try f.intAttribute("patch_size") ?? 0, c = try f.intAttribute("channels") ?? 0, s = try f.intAttribute("image_size") ?? 0
        guard p >= 1, c >= 1, c <= 64, s >= p, s % p == 0, s <= 4096 else { throw bad("impossible geometry: image_size \(s), patch_size \(p), channels \(c)") }
        guard (try f.intAttribute("latent_dim")) == settings.latentDim else { throw bad("latent_dim disagrees with its settings") }
        guard (try f.stringAttribute("pixel_scaling")) == PixelScaling.name else { throw bad("pixel scaling is not '\(PixelScaling.name)'") }
        guard let nj = try f.stringAttribute("tensors") else { throw bad("the tensors attribute (the weights' names) is missing") }
        let names = try JSON.decode([String].self, from: Data(nj.utf8), file: path)
        guard Set(names).count == names.count, names.count <= 1000 else { throw bad("the tensors attribute lists \(names.count) names, some twice or too many") }
        for n in names where !f.hasDataset("w." + n) { throw bad("weight w.\(n) is listed but missing") }
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for n in names {
            let (vals, shape) = try f.read("w." + n, as: Float.self)
            tensors.append((n, shape, vals))
        }
        var t = TokenizerFile(settings: settings, geometry: PatchGeometry(imageSize: s, patchSize: p, channels: c),
                              indexSHA256: try f.stringAttribute("index_sha256") ?? "", tensors: tensors)
        t.latentScale = try f.doubleAttribute("latent_scale") ?? 1
        guard t.latentScale > 0, t.latentScale.isFinite else { throw bad("latent_scale \(t.latentScale) must be a positive number") }
        t.reconMSE = try f.doubleAttribute("recon_mse") ?? .nan
        t.stepsDone = try f.intAttribute("steps_done") ?? 0
        t.complete = (try f.intAttribute("complete") ?? 1) != 0
        let (lv, lvs) = try f.read("latent_variance", as: Float.self)
        guard lvs == [settings.latentDim], lv.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw bad("latent_variance has shape \(lvs) or bad values, expected [\(settings.latentDim)] non-negative") }
        t.latentVariance = lv
        if f.hasDataset("loss_curve") { t.lossCurve = try f.read("loss_curve", as: Float.self).values }
        if f.hasDataset("adam_m") && f.hasDataset("adam_v") {
            t.adamM = try f.read("adam_m", as: Float.self).values
            t.adamV = try f.read("adam_v", as: Float.self).values
        }
        for x in t.tensors where !x.values.allSatisfy({ $0.isFinite }) { throw bad("weight w.\(x.name) holds non-finite values") }
        return t
    }
}
