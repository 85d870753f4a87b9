import Foundation

extension DiffusionSampler {
    /// The sampler for a zoo entry: its training config's schedule, target and tokenizer, prior from its PCA basis
    /// (`pca`: the entry's basis; for pixel-tokenizer entries trained with --pca, that basis if given).
    public init(zoo zm: ZooModel, pca: PCABasis? = nil) throws {
        let tc = zm.manifest.training
        guard !tc.tokenizer.isFitted else {
            throw LdaeError("\(zm.ref) was trained on a \(tc.tokenizer.rawValue) tokenizer; sampling supports the pca and pixel tokenizers (their latent prior is Gaussian by construction)")
        }
        let objective = try LDAEObjective(config: tc, pca: zm.pca, geometry: zm.manifest.model.geometry)
        self.init(objective: objective, schedule: NoiseSchedule(tc), model: zm.manifest.model)
        if let p = zm.pca ?? pca { usePrior(pca: p) }
    }
}
