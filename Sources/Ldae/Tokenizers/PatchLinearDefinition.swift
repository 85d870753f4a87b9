import Foundation

/// patch-ae and patch-vae (`PatchLinear`) as `ldae-fit-tokenizer` fits them and the objective reads their file.
struct PatchLinearDefinition: TokenizerDefinition {
    let variational: Bool
    var kind: TokenizerKind { variational ? .patchVAE : .patchAE }
    var summary: String {
        variational ? "linear encoder (mean, log-variance) and decoder per patch, reconstruction + KL; the mean is the latent"
                    : "linear encoder and decoder per patch trained on reconstruction alone (no KL, no orthogonality)"
    }
    var scalesLatent: Bool { false }

    func trainable(_ s: TokenizerFitSettings, geometry: PatchGeometry) throws -> any TrainableTokenizer {
        try PatchLinear(s, geometry: geometry)
    }

    /// The encoder's mean head and the decoder, each latent component rescaled so that its decoder column has unit
    /// length (z_k * |w_k|, w_k / |w_k|: the same map, one unit of latent noise = one unit of pixel noise).
    func model(_ f: TokenizerFile) throws -> TokenizerModel {
        let d = f.latentDim, D = f.patchSize * f.patchSize * f.channels
        let mean = try f.tensor("mean", shape: [D])
        var we = try f.tensor("encoder.weight", shape: [d, D]), be = try f.tensor("encoder.bias", shape: [d])
        let wd = try f.tensor("decoder.weight", shape: [D, d]), bd = try f.tensor("decoder.bias", shape: [D])
        var dec = [Float](repeating: 0, count: d * D)   // rows = the decoder's columns
        for k in 0..<d {
            let n = (0..<D).reduce(0.0) { $0 + Double(wd[$1 * d + k] * wd[$1 * d + k]) }.squareRoot()
            guard n > 1e-12 else { throw LdaeError("the decoder's column \(k) is zero (latent component \(k) decodes to nothing)") }
            for j in 0..<D { dec[k * D + j] = Float(Double(wd[j * d + k]) / n) }
            for j in 0..<D { we[k * D + j] = Float(Double(we[k * D + j]) * n) }
            be[k] = Float(Double(be[k]) * n)
        }
        let out = (0..<D).map { mean[$0] + bd[$0] }
        return .linear(try LinearCodec(encoder: we, encoderBias: be, decoder: dec, meanIn: mean, meanOut: out,
                                       latentVariance: f.latentVariance))
    }
}
