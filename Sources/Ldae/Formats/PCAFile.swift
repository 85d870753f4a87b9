import Foundation

/// `pca.h5` (docs/formats.md): the basis, its eigenvalues and the fit's record as HDF5 datasets and attributes.
extension PCABasis {
    public func save(_ path: String) throws {
        let D = dim
        try H5File.write(atomically: path) { f in
            try f.setAttribute("format", FormatName.pca)
            try f.setAttribute("format_version", FormatVersion.pca)
            try f.setAttribute("patch_size", patchSize)
            try f.setAttribute("channels", channels)
            try f.setAttribute("pixel_scaling", pixelScaling)
            try f.setAttribute("sample_count", sampleCount)
            try f.setAttribute("index_sha256", indexSHA256)
            if let id = fitIdentity { try f.setAttribute("fit_identity", id) }
            try f.write("mean", mean, shape: [D])
            try f.write("components", components, shape: [D, D])
            try f.write("eigenvalues", eigenvalues, shape: [D])
            try f.write("explained_variance_ratio", explainedVarianceRatio, shape: [D])
        }
    }

    public static func load(_ path: String) throws -> PCABasis {
        let f = try H5File.open(path)
        defer { try? f.close() }
        let fmt = try f.stringAttribute("format")
        guard fmt == FormatName.pca else {
            throw LdaeError("not an ldae PCA basis (format attribute is '\(fmt ?? "missing")', expected '\(FormatName.pca)')", file: path)
        }
        let v = try f.intAttribute("format_version") ?? -1
        guard v == FormatVersion.pca else {
            throw LdaeError("PCA format_version \(v) is not supported (this build reads \(FormatVersion.pca))", file: path)
        }
        let (mean, ms) = try f.read("mean", as: Float.self)
        let (comp, cs) = try f.read("components", as: Float.self)
        let (ev, es) = try f.read("eigenvalues", as: Float.self)
        let D = mean.count
        guard ms == [D], cs == [D, D], es == [D] else {
            throw LdaeError("inconsistent shapes: mean \(ms), components \(cs), eigenvalues \(es)", file: path)
        }
        let p = try f.intAttribute("patch_size") ?? 0, c = try f.intAttribute("channels") ?? 0
        guard p >= 1, c >= 1, Checked.count([p, p, c]) == D else {
            throw LdaeError("patch_size \(p) x channels \(c) does not match D = \(D)", file: path)
        }
        var b = PCABasis(mean: mean, components: comp, eigenvalues: ev, patchSize: p, channels: c,
                         sampleCount: try f.intAttribute("sample_count") ?? 0, indexSHA256: try f.stringAttribute("index_sha256") ?? "")
        b.pixelScaling = try f.stringAttribute("pixel_scaling") ?? PixelScaling.name
        b.fitIdentity = try f.stringAttribute("fit_identity")
        guard b.pixelScaling == PixelScaling.name else {
            throw LdaeError("pixel scaling '\(b.pixelScaling)' is not the one this build uses ('\(PixelScaling.name)')", file: path)
        }
        return b
    }
}
