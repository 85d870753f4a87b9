/// The method's options as types: one enum per choice, its cases the only values a config can hold. Each is
/// `String`-backed, so the JSON (manifests, checkpoints, `--config FILE.json`) holds the same words as before, and
/// the command line's choice lists and error messages come from `allCases`.
///
/// Adding a choice is adding a case here; the compiler then points at every `switch` that must handle it.
public protocol MethodOption: RawRepresentable, Codable, CaseIterable, Sendable, Hashable where RawValue == String {}

extension MethodOption {
    /// "a|b|c", for usage text.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
    /// "a, b or c", for error messages.
    public static var choiceList: String {
        let all = allCases.map(\.rawValue)
        return all.count <= 1 ? all.joined() : all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    /// Decodes the word; any other is an error listing the choices (never a silent default).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Self(rawValue: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not one of \(Self.choiceList)")
        }
        self = v
    }
}

/// What the noise is added to (the paper's tokenizer step).
public enum TokenizerKind: String, MethodOption {
    /// The top-d PCA coordinates of each patch (l-DAE).
    case pca
    /// Pixels (a classical denoising autoencoder).
    case pixel
    /// A linear encoder and decoder per patch trained to reconstruct patches (`ldae-fit-tokenizer`), no KL.
    case patchAE = "patch-ae"
    /// The same with a Gaussian posterior per patch and a KL term; its mean is the latent.
    case patchVAE = "patch-vae"
    /// A small convolutional VAE over the whole image, one d-vector per patch-grid cell.
    case convVAE = "conv-vae"
}

/// Which noise levels the encoder sees during training.
public enum NoiseLevels: String, MethodOption {
    /// t drawn uniformly per image (the paper's final recipe).
    case multi
    /// One fixed sigma (`single_sigma`) for every image.
    case single
}

/// What the network predicts.
public enum PredictionTarget: String, MethodOption {
    /// The clean image x0 (l-DAE).
    case image
    /// The noise, mapped to pixels (DDPM's epsilon prediction).
    case noise
}

/// How the latent is scaled before noise is added; the inverse scale is applied on the way back to pixels.
/// Equivalently: the noise on PCA component i has standard deviation sigma * s_i.
public enum LatentScale: String, MethodOption {
    /// s_i = 1: noise of the same size on every component (the paper's form).
    case none
    /// s_i = sqrt(eigenvalue_i): every component gets the same signal-to-noise ratio.
    case whiten
    /// s_i = sqrt(mean of the d kept eigenvalues): one factor, so the latent has unit average variance (as DiT's
    /// VAE scale factor).
    case global
}

/// Random crops applied to the decoded training image, before the horizontal flip.
public enum CropAugmentation: String, MethodOption {
    case none
    /// Pad by `crop_padding` pixels on every side (black), then crop the original size at a random offset
    /// (the usual CIFAR augmentation).
    case pad
    /// Random-resized crop: an area fraction in [crop_scale_min, 1] of the image, aspect ratio in [3/4, 4/3],
    /// resized back to the image size bilinearly (timm/torchvision RandomResizedCrop).
    case rrc
}

/// Whether the network is told the noise level.
public enum TimeCond: String, MethodOption {
    /// The encoder stays a plain timm ViT (the paper's final recipe).
    case none
    /// t enters every block through adaptive LayerNorm (DiT).
    case adaln
}

/// Positional embeddings of the encoder and the decoder.
public enum PosEmbedKind: String, MethodOption {
    /// Fixed 2-D sin-cos (MAE).
    case sincos
    /// Learned, initialised trunc-normal(0.02).
    case learned
}

extension Arguments {
    /// The value of `--name` as a method option, `d` when absent; a value that is no case is a usage error
    /// listing the cases.
    public func choice<T: MethodOption>(_ name: String, default d: T) throws -> T {
        guard let s = string(name) else { return d }
        guard let v = T(rawValue: s) else { throw UsageError("--\(name) must be one of \(T.choiceList), got '\(s)'") }
        return v
    }
}
