import Foundation

/// `conv-vae` (the paper's convolutional VAE tokenizer, without DiT's perceptual and adversarial losses: no
/// pretrained network can be had here): `ConvVAE` fitted by `ldae-fit-tokenizer`, its posterior mean the latent,
/// scaled by the file's `latent_scale` (set after the fit so that scale^2 * sum_k var(z_k) equals the summed
/// variance of the reconstructions: the noise then meets the latent at the signal level an orthonormal tokenizer
/// would have; DiT's VAE uses one such factor, 0.18215).
struct ConvVAEDefinition: TokenizerDefinition {
    var kind: TokenizerKind { .convVAE }
    var summary: String { "small convolutional VAE over the whole image (log2(p) stride-2 stages), reconstruction + KL" }
    var scalesLatent: Bool { true }

    static func config(_ s: TokenizerFitSettings, geometry g: PatchGeometry) throws -> ConvVAEConfig {
        let c = ConvVAEConfig(imageSize: g.imageSize, patchSize: g.patchSize, channels: g.channels, latentDim: s.latentDim,
                              width: s.width, klWeight: s.klWeight)
        try c.validate()
        return c
    }

    func trainable(_ s: TokenizerFitSettings, geometry: PatchGeometry) throws -> any TrainableTokenizer {
        TrainableConvVAE(try ConvVAE(config: try ConvVAEDefinition.config(s, geometry: geometry), seed: s.seed))
    }

    func model(_ f: TokenizerFile) throws -> TokenizerModel {
        let g = PatchGeometry(imageSize: f.imageSize, patchSize: f.patchSize, channels: f.channels)
        let config = try ConvVAEDefinition.config(f.settings, geometry: g)
        // every weight present with its shape before the network is allocated: settings of a damaged or crafted
        // file can ask for gigabytes (width 1024 at p = 16: 367M parameters)
        for t in ConvVAE.layout(config).tensors { _ = try f.tensor(t.name, shape: t.shape) }
        let vae = try ConvVAE(config: config, seed: 0)
        for t in vae.tensors { (vae.params + t.offset).update(from: try f.tensor(t.name, shape: t.shape), count: t.count) }
        return .image(ConvVAECodec(vae, scale: Float(f.latentScale), latentVariance: f.latentVariance))
    }
}

/// The fit's view of a `ConvVAE`.
final class TrainableConvVAE: TrainableTokenizer {
    let vae: ConvVAE
    let layout: [TokenizerTensor]
    init(_ vae: ConvVAE) {
        self.vae = vae
        layout = vae.tensors.map { TokenizerTensor(name: $0.name, shape: $0.shape, offset: $0.offset) }
    }
    var parameterCount: Int { vae.parameterCount }
    var params: UnsafeMutablePointer<Float> { vae.params }
    var grads: UnsafeMutablePointer<Float> { vae.grads }
    func prepare(_ x: UnsafePointer<Float>, batch: Int) throws {}
    func lossAndGradient(_ x: UnsafePointer<Float>, batch: Int, rng: inout RNG) -> (mse: Double, kl: Double) {
        vae.lossAndGradient(x, batch: batch, rng: &rng)
    }
}

/// The objective's view: z = scale * mean(x), x = decode(z / scale). One pass at a time (the VAE's buffers are
/// shared), so calls are serialised by a lock.
final class ConvVAECodec: ImageCodec, @unchecked Sendable {
    let vae: ConvVAE
    let scale: Float
    let latentVariance: [Float]
    private let lock = NSLock()
    init(_ vae: ConvVAE, scale: Float, latentVariance: [Float]) { self.vae = vae; self.scale = scale; self.latentVariance = latentVariance }
    var latentDim: Int { vae.config.latentDim }

    func encode(_ x: UnsafePointer<Float>, batch: Int, into z: UnsafeMutablePointer<Float>) {
        lock.lock(); defer { lock.unlock() }
        let n = batch * vae.config.tokens * latentDim
        var lv = [Float](repeating: 0, count: n)
        lv.withUnsafeMutableBufferPointer { vae.encode(x, batch: batch, mean: z, logvar: $0.baseAddress!) }
        for i in 0..<n { z[i] *= scale }
    }

    func decode(_ z: UnsafePointer<Float>, batch: Int, into x: UnsafeMutablePointer<Float>) {
        lock.lock(); defer { lock.unlock() }
        let n = batch * vae.config.tokens * latentDim
        var u = [Float](repeating: 0, count: n)
        for i in 0..<n { u[i] = z[i] / scale }
        u.withUnsafeBufferPointer { vae.decode($0.baseAddress!, batch: batch, out: x) }
    }
}
