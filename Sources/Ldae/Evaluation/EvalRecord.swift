import Foundation

/// One evaluation of a zoo entry: one JSON line appended to `zoo/NAME/vN/evals.jsonl`.
/// Which images an evaluation probed on: the test set (`--test`), or the split held out of the training images (`--val`).
public enum EvalSplit: String, Codable, Sendable { case test, val }

public struct EvalRecord: Codable, Sendable {
    public struct DataRef: Codable, Sendable {
        public var indexSHA256: String
        public var sources: [String]
        public var images: Int          // images in the shard set
        public var used: Int            // images evaluated (after --max-train / --max-test)
        public init(indexSHA256: String, sources: [String], images: Int, used: Int) {
            self.indexSHA256 = indexSHA256; self.sources = sources; self.images = images; self.used = used
        }
    }
    /// Probe and k-NN results of one feature extractor (the model or a baseline).
    public struct EncoderMetrics: Codable, Sendable {
        public var features: String       // "encoder", "pixels", "random", "kmeans"
        public var featureDim: Int
        public var linearProbe: LinearProbe.Result
        public var knn: KNNClassifier.Result
        public var featureSeconds: Double
        /// The `kmeans` baseline's fit: settings, seed, patches, k-means iterations, fit time (nil for other rows).
        public var kmeans: KMeansFeatures.FitRecord? = nil
        public init(features: String, featureDim: Int, linearProbe: LinearProbe.Result, knn: KNNClassifier.Result, featureSeconds: Double) {
            self.features = features; self.featureDim = featureDim; self.linearProbe = linearProbe; self.knn = knn
            self.featureSeconds = featureSeconds
        }
    }
    /// Denoising PSNR (dB, [0, 1] pixels, mean over images) at one noise level.
    public struct DenoiseLevel: Codable, Sendable {
        public var t: Int
        public var sigma: Double
        public var gamma: Double
        public var psnrNoisy: Double
        public var psnrModel: Double
        /// The model output projected to the top d PCA components (the part the loss weights fully; pca tokenizer).
        public var psnrModelProjected: Double?
        public init(t: Int, sigma: Double, gamma: Double, psnrNoisy: Double, psnrModel: Double, psnrModelProjected: Double? = nil) {
            self.t = t; self.sigma = sigma; self.gamma = gamma; self.psnrNoisy = psnrNoisy; self.psnrModel = psnrModel
            self.psnrModelProjected = psnrModelProjected
        }
    }
    public struct Denoising: Codable, Sendable {
        public var images: Int
        /// PCA-only ceiling: PSNR of the clean image projected to the top d components (nil for pixel tokenizers).
        public var psnrPCACeiling: Double?
        public var levels: [DenoiseLevel]
        public var figure: String?
        public init(images: Int, psnrPCACeiling: Double?, levels: [DenoiseLevel], figure: String?) {
            self.images = images; self.psnrPCACeiling = psnrPCACeiling; self.levels = levels; self.figure = figure
        }
    }
    public struct Settings: Codable, Sendable {
        public var featureT: Int
        public var batch: Int
        public var maxTrain: Int?
        public var maxTest: Int?
        public var seed: UInt64
        public var probe: LinearProbe.Settings
        public var knn: KNNClassifier.Settings
        public var denoiseT: [Int]
        public var denoiseImages: Int
        /// k-NN on features standardised with the train split's statistics (every row alike).
        public var knnStandardize: Bool? = nil
        /// Features averaged over each image and its mirror.
        public var flipTTA: Bool? = nil
        enum CodingKeys: String, CodingKey {
            case featureT, batch, maxTrain, maxTest, seed, probe, knn, denoiseT, denoiseImages, knnStandardize, flipTTA = "flipTta"
        }
        public init(featureT: Int, batch: Int, maxTrain: Int?, maxTest: Int?, seed: UInt64, probe: LinearProbe.Settings,
                    knn: KNNClassifier.Settings, denoiseT: [Int], denoiseImages: Int) {
            self.featureT = featureT; self.batch = batch; self.maxTrain = maxTrain; self.maxTest = maxTest; self.seed = seed
            self.probe = probe; self.knn = knn; self.denoiseT = denoiseT; self.denoiseImages = denoiseImages
        }
    }

    public var format: String = "ldae-eval"
    public var formatVersion: Int = 1
    public var model: String              // "NAME@vN"
    public var date: String
    public var seconds: Double
    public var train: DataRef
    public var test: DataRef
    public var classNames: [String]
    public var metrics: EncoderMetrics
    public var baselines: [String: EncoderMetrics]
    public var denoising: Denoising?
    public var settings: Settings
    /// Which data the numbers come from: "test" (the --test shards) or "val" (held out of --train; see `HoldOut`).
    /// Missing in records written before the split existed: those used --test.
    public var split: EvalSplit? = nil
    /// The held-out split's fraction and seed when split is val.
    public var valFraction: Double? = nil
    public var valSeed: UInt64? = nil
    /// The layers of `metrics` (nil: the final norm).
    public var layers: [FeatureLayer]? = nil
    /// The pooling of `metrics` and `perLayer` (nil: mean).
    public var pooling: FeaturePooling? = nil
    /// --all-layers: one row per layer of the model, in network order (`features` is the layer name).
    public var perLayer: [EncoderMetrics]? = nil

    public init(model: String, seconds: Double, train: DataRef, test: DataRef, classNames: [String],
                metrics: EncoderMetrics, baselines: [String: EncoderMetrics], denoising: Denoising?, settings: Settings) {
        self.model = model; self.seconds = seconds; self.train = train; self.test = test; self.classNames = classNames
        self.metrics = metrics; self.baselines = baselines; self.denoising = denoising; self.settings = settings
        self.date = ISO8601DateFormatter().string(from: Date())
    }

    /// Reads an evals.jsonl leniently: records that do not decode (other versions, a torn last line) are counted, not fatal.
    public static func readAll(_ path: String) -> (records: [EvalRecord], unreadable: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        var recs: [EvalRecord] = [], bad = 0
        for line in data.split(separator: 0x0A) where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
            if let r = try? JSON.decode(EvalRecord.self, from: Data(line), file: path) { recs.append(r) }
            else if !ClassifierEvalRecord.isOne(Data(line)) { bad += 1 }   // a classifier's lines are not probe records
        }
        return (recs, bad)
    }
}
