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

/// Pixel scaling used by PCA, training and evaluation: x/127.5 - 1 maps uint8 to [-1, 1].
public enum PixelScaling {
    public static let name = "x/127.5-1"
    @inline(__always) public static func toFloat(_ v: UInt8) -> Float { Float(v) * (1 / 127.5) - 1 }
    @inline(__always) public static func toByte(_ v: Float) -> UInt8 {
        let x = ((v + 1) * 127.5).rounded()
        return UInt8(max(0, min(255, x)))
    }
    /// Lookup table uint8 -> float for fast conversion.
    public static let table: [Float] = (0..<256).map { toFloat(UInt8($0)) }
}

/// Patchify geometry: an S x S x C image cut into (S/p)^2 patches of p*p*C values, row-major tokens,
/// (row, col, channel) inside a patch. This is the one place the token layout is defined.
public struct PatchGeometry: Codable, Equatable, Sendable {
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public init(imageSize: Int, patchSize: Int, channels: Int = 3) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
    }
    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    public var tokenDim: Int { patchSize * patchSize * channels }
    public var valuesPerImage: Int { tokens * tokenDim }

    /// Offset in a patchified image of pixel (y, x, c).
    @inline(__always) public func patchOffset(y: Int, x: Int, c: Int) -> Int {
        let t = (y / patchSize) * grid + (x / patchSize)
        return t * tokenDim + ((y % patchSize) * patchSize + (x % patchSize)) * channels + c
    }

    /// [S, S, C] image (row, col, channel) -> [T, D] patches.
    public func patchify<T>(_ img: [T]) -> [T] {
        require(img.count == imageSize * imageSize * channels)
        var out = img
        for y in 0..<imageSize { for x in 0..<imageSize { for c in 0..<channels {
            out[patchOffset(y: y, x: x, c: c)] = img[(y * imageSize + x) * channels + c]
        } } }
        return out
    }

    /// [T, D] patches -> [S, S, C] image.
    public func unpatchify<T>(_ p: [T]) -> [T] {
        require(p.count == valuesPerImage)
        var out = p
        for y in 0..<imageSize { for x in 0..<imageSize { for c in 0..<channels {
            out[(y * imageSize + x) * channels + c] = p[patchOffset(y: y, x: x, c: c)]
        } } }
        return out
    }
}
