import Foundation

/// `zoo/NAME/VERSION/manifest.json`: what the entry is, how it was made, and the sha256 of every file.
public struct Manifest: Codable, Sendable {
    public struct Tokenizer: Codable, Sendable {
        public var kind: TokenizerKind
        public var latentDim: Int
        public var patchSize: Int
        public var pcaFile: String?        // "pca.h5" inside the entry
        public var pcaSHA256: String?
        public var pixelScaling: String
        /// A fitted tokenizer's file inside the entry ("tokenizer.h5") and its sha256 (kinds other than pca and pixel).
        public var file: String? = nil
        public var sha256: String? = nil
        public static let fileName = "tokenizer.h5"
        public init(kind: TokenizerKind, latentDim: Int, patchSize: Int, pcaFile: String?, pcaSHA256: String?) {
            self.kind = kind; self.latentDim = latentDim; self.patchSize = patchSize
            self.pcaFile = pcaFile; self.pcaSHA256 = pcaSHA256; self.pixelScaling = PixelScaling.name
        }
        // snake_case JSON: "pca_sha256" decodes to "pcaSha256", so acronym fields need explicit keys
        enum CodingKeys: String, CodingKey { case kind, latentDim, patchSize, pcaFile, pcaSHA256 = "pcaSha256", pixelScaling, file, sha256 = "sha256" }
    }
    public struct DataInfo: Codable, Sendable {
        public var indexSHA256: String
        public var images: Int
        public var sources: [String]
        public var classNames: [String]
        public init(indexSHA256: String, images: Int, sources: [String], classNames: [String]) {
            self.indexSHA256 = indexSHA256; self.images = images; self.sources = sources; self.classNames = classNames
        }
        enum CodingKeys: String, CodingKey { case indexSHA256 = "indexSha256", images, sources, classNames }
    }

    public var format: String = FormatName.manifest
    public var formatVersion: Int = FormatVersion.manifest
    public var name: String
    public var version: String = ""          // set by publish: "v1", "v2", ...
    public var created: String
    public var model: ModelConfig
    public var tokenizer: Tokenizer
    public var training: TrainConfig
    public var data: DataInfo
    public var seed: UInt64
    public var steps: Int
    public var epochs: Double
    public var finalLoss: Double
    public var parameterCount: Int
    public var encoderParameterCount: Int
    public var trainSeconds: Double
    public var weightsDtype: String
    /// sha256 of every file in the entry but manifest.json and evals.jsonl (filled by publish).
    public var files: [String: String] = [:]
    public var notes: String = ""
    /// Worker threads and the CPU model of the training run (nil in entries written before they were recorded).
    public var threads: Int? = nil
    /// CPU seconds of the training steps (every thread), across resumes.
    public var trainCpuSeconds: Double? = nil
    public var cpu: String? = nil
    /// The precision of the linear layers' matrix products in training (nil in entries written before it was
    /// recorded, which all trained in fp32: read it as `computePrecision`).
    public var precision: Precision? = nil
    /// The training precision, fp32 where the manifest does not say.
    public var computePrecision: Precision { precision ?? .fp32 }
    /// How it was trained: processes x threads, CPU seconds over every process, the machine, kernels, the ldae build,
    /// the command line (nil in entries written before it was recorded).
    public var provenance: Provenance? = nil
    /// The features `ldae-zoo features NAME` writes with no flags (nil: token mean after the final norm).
    public var features: FeatureSpec? = nil
    /// A classifier's head, labels, recipe and validation curve (`ldae-zoo finetune`; Finetune/ClassifierRecord.swift);
    /// nil for a pretrained encoder.
    public var classifier: ClassifierInfo? = nil

    /// Which layers' token means, concatenated in this order, make the entry's recommended features.
    public struct FeatureSpec: Codable, Sendable, Equatable {
        public var layers: [FeatureLayer]
        public var pooling: FeaturePooling = .mean
        /// Average each image's features with its mirror's (nil or false: off).
        public var flipTTA: Bool? = nil
        /// snake_case JSON: "flip_tta" decodes to "flipTta", so the acronym needs an explicit key
        enum CodingKeys: String, CodingKey { case layers, pooling, flipTTA = "flipTta", chosenBy }
        /// How the choice was made (e.g. the validation split's table).
        public var chosenBy: String = ""
        public init(layers: [FeatureLayer], pooling: FeaturePooling = .mean, flipTTA: Bool = false, chosenBy: String = "") {
            self.layers = layers; self.pooling = pooling; self.flipTTA = flipTTA ? true : nil; self.chosenBy = chosenBy
        }
    }

    public init(name: String, model: ModelConfig, tokenizer: Tokenizer, training: TrainConfig, data: DataInfo, seed: UInt64,
                steps: Int, epochs: Double, finalLoss: Double, parameterCount: Int, encoderParameterCount: Int,
                trainSeconds: Double, weightsDtype: String) {
        self.name = name; self.model = model; self.tokenizer = tokenizer; self.training = training; self.data = data
        self.seed = seed; self.steps = steps; self.epochs = epochs; self.finalLoss = finalLoss
        self.parameterCount = parameterCount; self.encoderParameterCount = encoderParameterCount
        self.trainSeconds = trainSeconds; self.weightsDtype = weightsDtype
        self.created = ISO8601DateFormatter().string(from: Date())
    }
}
