/// What publishing gets of a finished run (`Trainer.trainedRun`): the weights, the files to copy and what the
/// manifest records. The zoo reads this, never the trainer.
public struct TrainedRun {
    public var options: TrainOptions
    public var steps: Int
    public var stepsPerEpoch: Int
    /// The weights users get, in timm layout (the EMA when it is on).
    public var weights: [NamedTensor]
    public var dataIndexSHA256: String
    public var images: Int
    public var sources: [String]
    public var classNames: [String]
    public var patchSize: Int
    /// The PCA basis of the pca tokenizer (its file is copied as pca.h5); the fitted tokenizer's file otherwise.
    public var pca: PCABasis?
    public var tokenizerFile: LoadedTokenizer?
    public var latentDim: Int
    public var logPath: String
    public var curvePath: String
    public var finalLoss: Double
    public var parameterCount: Int
    public var encoderParameterCount: Int
    public var trainSeconds: Double
    public var cpuSeconds: Double
    public var threads: Int
    public var precision: Precision
    public var provenance: Provenance
}
