// Every on-disk format ldae writes, declared in one place with its version (as ffcv's types.py).
// Readers check the name and version on open and fail with a message naming the file.

public enum FormatName {
    /// HDF5 shard written by `ldae-prep` (see ShardFormat).
    public static let shard = "ldae-shard"
    /// `index.json` beside the shards.
    public static let index = "ldae-index"
    /// PCA basis `pca.h5` written by `ldae-fit-pca`.
    public static let pca = "ldae-pca"
    /// Training checkpoint (safetensors with metadata).
    public static let checkpoint = "ldae-checkpoint"
    /// Zoo `manifest.json`.
    public static let manifest = "ldae-manifest"
    /// One part's exact PCA sums, `ldae-fit-pca --part i/n --partial OUT.h5` (PCAPartialSums).
    public static let pcaPart = "ldae-pca-part"
    /// The sidecar `F.part.json` of `ldae-zoo features --part i/n` (FeaturePart).
    public static let featuresPart = "ldae-features-part"
    /// A fitted tokenizer written by `ldae-fit-tokenizer` (TokenizerFile).
    public static let tokenizer = "ldae-tokenizer"
    /// A fine-tuning checkpoint, `ldae-zoo finetune` (FinetuneCheckpoint).
    public static let finetuneCheckpoint = "ldae-finetune-checkpoint"
    /// One `ldae-zoo eval` line of a classifier entry's evals.jsonl (ClassifierEvalRecord).
    public static let classifierEval = "ldae-classifier-eval"
}

public enum FormatVersion {
    public static let shard = 1
    public static let index = 1
    public static let pca = 1
    public static let checkpoint = 1
    public static let manifest = 1
    public static let pcaPart = 1
    public static let featuresPart = 1
    public static let tokenizer = 1
    public static let finetuneCheckpoint = 1
    public static let classifierEval = 1
}

/// Shard layout (HDF5, 1.10-compatible):
/// - `patches` uint8 [N, T, D], T = (S/p)^2 tokens row-major, D = p*p*C in (row, col, channel) order
/// - `labels` int32 [N] (-1 unlabeled), `class_names` vlen str [K], `paths` vlen str [N] (relative to the input)
/// - root attributes: format, format_version, image_size, patch_size, channels, resize, alpha_background,
///   png_gamma ("ignore": PNG samples as stored, as Pillow; "srgb": converted from a gAMA chunk's gamma)
public enum ShardFormat {
    public static let patches = "patches"
    public static let labels = "labels"
    public static let classNames = "class_names"
    public static let paths = "paths"
    public static func fileName(_ i: Int) -> String { "shard-" + String(repeating: "0", count: max(0, 5 - String(i).count)) + String(i) + ".h5" }
    public static let indexFile = "index.json"
}
