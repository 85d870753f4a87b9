import Foundation

/// The files of `ldae-zoo features ... --out F.npy`: F.npy, F.labels.npy (when labeled) and, for a part
/// (`--part i/n`), F.part.json.
public enum FeatureFiles {
    static func stem(_ features: String) -> String { features.hasSuffix(".npy") ? String(features.dropLast(4)) : features }
    public static func labels(for features: String) -> String { stem(features) + ".labels.npy" }
    public static func sidecar(for features: String) -> String { stem(features) + ".part.json" }
}

/// What one part of `ldae-zoo features ... --part i/n` holds (its sidecar F.part.json, format "ldae-features-part"):
/// the features of images image_start..<image_end of the images_total the unsplit command extracts, with the
/// model, data and settings they came from. `FeatureMerge` joins the n parts into the unsplit command's files.
public struct FeaturePart: SplitPart, Codable, Sendable, Equatable {
    public var format = FormatName.featuresPart
    public var formatVersion = FormatVersion.featuresPart
    public var part: Int
    public var parts: Int
    public var imageStart: Int
    public var imageEnd: Int
    public var imagesTotal: Int
    /// NAME@vN and the sha256 of its weights file (a zoo elsewhere may hold another NAME@vN).
    public var model: String
    public var weightsSHA256: String
    /// The shard index sha256 (ShardSet.indexSHA256) of the images.
    public var indexSHA256: String
    public var layers: String
    public var pooling: String
    public var flipTTA: Bool
    public var featureT: Int
    public var width: Int
    public var labeled: Bool

    enum CodingKeys: String, CodingKey {
        case format, formatVersion, part, parts, imageStart, imageEnd, imagesTotal, model, weightsSHA256 = "weightsSha256"
        case indexSHA256 = "indexSha256", layers, pooling, flipTTA = "flipTta", featureT, width, labeled
    }

    public init(part: Int, parts: Int, images: Range<Int>, imagesTotal: Int, model: String, weightsSHA256: String,
                indexSHA256: String, layers: String, pooling: String, flipTTA: Bool, featureT: Int, width: Int, labeled: Bool) {
        self.part = part; self.parts = parts; imageStart = images.lowerBound; imageEnd = images.upperBound
        self.imagesTotal = imagesTotal; self.model = model; self.weightsSHA256 = weightsSHA256; self.indexSHA256 = indexSHA256
        self.layers = layers; self.pooling = pooling; self.flipTTA = flipTTA; self.featureT = featureT; self.width = width
        self.labeled = labeled
    }


    /// The fields every part of one split shares, by name (all but the part and its images).
    var settings: [(String, String)] {
        [("model", model), ("weights_sha256", weightsSHA256), ("index_sha256", indexSHA256), ("images_total", "\(imagesTotal)"),
         ("layers", layers), ("pooling", pooling), ("flip_tta", "\(flipTTA)"), ("feature_t", "\(featureT)"),
         ("width", "\(width)"), ("labeled", "\(labeled)")]
    }

    /// The sidecar of part file `features`, checked: format, version, the part's range.
    public static func load(features: String) throws -> FeaturePart {
        let side = FeatureFiles.sidecar(for: features)
        guard FileUtil.exists(side) else {
            throw LdaeError("has no \(URL(fileURLWithPath: side).lastPathComponent) beside it: not written by `ldae-zoo features --part i/n`", file: features)
        }
        let p = try JSON.read(FeaturePart.self, path: side)
        guard p.format == FormatName.featuresPart, p.formatVersion == FormatVersion.featuresPart else {
            throw LdaeError("not a features part record (format \(p.format) v\(p.formatVersion), expected \(FormatName.featuresPart) v\(FormatVersion.featuresPart))", file: side)
        }
        guard p.parts >= 1, p.part >= 0, p.part < p.parts, p.imagesTotal >= 0,
              ImageFolder.partRange(count: p.imagesTotal, part: p.part, of: p.parts) == p.imageStart..<max(p.imageStart, p.imageEnd) else {
            throw LdaeError("images \(p.imageStart)..<\(p.imageEnd) are not part \(p.partName) of \(p.imagesTotal) images", file: side)
        }
        return p
    }
}
