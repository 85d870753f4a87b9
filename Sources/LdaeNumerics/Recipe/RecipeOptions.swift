/// The recipe's choices (TrainConfig), one enum each; the words are the JSON's and the command line's.

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

extension TokenizerKind {
    /// Whether the noise goes into a latent (every tokenizer but pixel): `latent_dim` and `latent_scale` apply.
    public var hasLatent: Bool { self != .pixel }
    /// Whether the loss weighs a linear tokenizer's residual components (`residual_weight` applies).
    public var hasResidual: Bool { self == .pca || self == .patchAE || self == .patchVAE }
    /// Whether the tokenizer works on whole images (so the image size must match the shards').
    public var needsImageSize: Bool { self == .convVAE }
    /// Whether `ldae-fit-tokenizer` makes it (pca has ldae-fit-pca, pixel needs no file).
    public var isFitted: Bool { self != .pca && self != .pixel }
}
