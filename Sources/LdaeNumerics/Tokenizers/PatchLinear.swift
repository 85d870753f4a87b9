import Foundation

/// `patch-ae` and `patch-vae` (the paper's patch-wise AE and VAE): per patch, a linear encoder and decoder.
///
/// Shapes (N = B*T patches, D = p*p*C, d latent):
///   c   = x - mean                         [N, D]   mean: the patch mean of the fit's first sample (frozen)
///   mu  = c We^T + be                      [N, d]   encoder.weight We [d, D], encoder.bias be [d]
///   lv  = c Wv^T + bv  (vae)               [N, d]   logvar.weight Wv [d, D], logvar.bias bv [d]; clamped to [-30, 20]
///   z   = mu + exp(lv / 2) eps  (vae; ae: z = mu)
///   xh  = z Wd^T + bd + mean               [N, D]   decoder.weight Wd [D, d], decoder.bias bd [D]
///   loss = mean((xh - x)^2) + kl_weight * mean(0.5 (mu^2 + exp(lv) - 1 - lv))
/// No orthogonality constraint: the latent's scale and rotation are whatever the fit reaches. For the denoiser the
/// latent is normalised by the decoder's column norms (`model`), so one unit of latent noise is one unit of pixel
/// noise, as with PCA.
public final class PatchLinear: TrainableTokenizer {
    public let variational: Bool
    public let D: Int, d: Int, T: Int
    public let klWeight: Float
    let initPCA: Bool
    public let parameterCount: Int
    public let params: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let layout: [TokenizerTensor]
    let mean: Int, we: Int, be: Int, wv: Int, bv: Int, wd: Int, bd: Int

    public init(_ s: TokenizerFitSettings, geometry g: PatchGeometry) throws {
        variational = s.kind == .patchVAE
        D = g.tokenDim; d = s.latentDim; T = g.tokens
        guard d <= D else { throw LdaeError("latent_dim \(d) must be at most the patch dimension \(D)") }
        klWeight = variational ? Float(s.klWeight) : 0
        initPCA = s.initPCA
        var l: [TokenizerTensor] = [], off = 0
        func add(_ n: String, _ shape: [Int], trainable: Bool = true) -> Int {
            l.append(TokenizerTensor(name: n, shape: shape, offset: off, trainable: trainable)); off += shape.reduce(1, *); return off - shape.reduce(1, *)
        }
        mean = add("mean", [D], trainable: false)
        we = add("encoder.weight", [d, D]); be = add("encoder.bias", [d])
        if variational { wv = add("logvar.weight", [d, D]); bv = add("logvar.bias", [d]) } else { wv = -1; bv = -1 }
        wd = add("decoder.weight", [D, d]); bd = add("decoder.bias", [D])
        layout = l; parameterCount = off
        params = .allocate(capacity: off); params.initialize(repeating: 0, count: off)
        grads = .allocate(capacity: off); grads.initialize(repeating: 0, count: off)
        // PyTorch's nn.Linear default: uniform(+-1/sqrt(fan_in)) for weights; biases zero here
        var rng = RNG(seed: s.seed, stream: 0x544F_4B45_4E00_0000)
        for (w, fanIn, n) in [(we, D, d * D), (wd, d, D * d)] + (variational ? [(wv, D, d * D)] : []) {
            let bound = 1 / Double(fanIn).squareRoot()
            for i in 0..<n { params[w + i] = Float((rng.uniform() * 2 - 1) * bound) }
        }
        if variational { for k in 0..<d { params[bv + k] = -4 } }   // start with a small posterior variance
    }
    deinit { params.deallocate(); grads.deallocate() }

    /// The patch mean of the sample; with init_pca the encoder and decoder start at its top-d PCA basis.
    public func prepare(_ x: UnsafePointer<Float>, batch: Int) throws {
        let N = batch * T
        require(N > 0)
        var m = [Double](repeating: 0, count: D)
        for i in 0..<N { for j in 0..<D { m[j] += Double(x[i * D + j]) } }
        for j in 0..<D { params[mean + j] = Float(m[j] / Double(N)) }
        guard initPCA else { return }
        var cov = [Double](repeating: 0, count: D * D)
        for i in 0..<N { for a in 0..<D { let ca = Double(x[i * D + a]) - m[a] / Double(N)
            for b in a..<D { cov[a * D + b] += ca * (Double(x[i * D + b]) - m[b] / Double(N)) } } }
        let (_, vecs) = try LAPACK.symmetricEigen(cov, n: D)   // ascending: the top d are the last rows
        for k in 0..<d {
            let row = D - 1 - k
            for j in 0..<D {
                let v = Float(vecs[row * D + j])
                params[we + k * D + j] = v
                params[wd + j * d + k] = v
            }
        }
    }

    public func lossAndGradient(_ x: UnsafePointer<Float>, batch: Int, rng: inout RNG) -> (mse: Double, kl: Double) {
        let N = batch * T, p = params, g = grads
        g.update(repeating: 0, count: parameterCount)
        var c = [Float](repeating: 0, count: N * D)
        for i in 0..<N { for j in 0..<D { c[i * D + j] = x[i * D + j] - p[mean + j] } }
        var mu = [Float](repeating: 0, count: N * d), lv = [Float](repeating: 0, count: variational ? N * d : 0)
        BLAS.sgemm(transA: false, transB: true, m: N, n: d, k: D, alpha: 1, a: c, lda: D, b: p + we, ldb: D, beta: 0, c: &mu, ldc: d)
        for i in 0..<N { for k in 0..<d { mu[i * d + k] += p[be + k] } }
        var z = mu, eps = [Float](repeating: 0, count: variational ? N * d : 0)
        var kl = 0.0
        if variational {
            BLAS.sgemm(transA: false, transB: true, m: N, n: d, k: D, alpha: 1, a: c, lda: D, b: p + wv, ldb: D, beta: 0, c: &lv, ldc: d)
            for i in 0..<(N * d) {
                let l = min(max(lv[i] + p[bv + i % d], -30), 20)
                lv[i] = l
                let e = Float(rng.normal())
                eps[i] = e
                z[i] = mu[i] + Foundation.exp(l / 2) * e
                kl += 0.5 * Double(mu[i] * mu[i] + Foundation.exp(l) - 1 - l)
            }
            kl /= Double(N * d)
        }
        var xh = [Float](repeating: 0, count: N * D)   // first xh - mean - bd, then the residual dxh
        BLAS.sgemm(transA: false, transB: true, m: N, n: D, k: d, alpha: 1, a: z, lda: d, b: p + wd, ldb: d, beta: 0, c: &xh, ldc: D)
        var mse = 0.0
        let s = Float(2) / Float(N * D)
        for i in 0..<N { for j in 0..<D {
            let r = xh[i * D + j] + p[bd + j] - c[i * D + j]   // xh - x
            mse += Double(r * r)
            xh[i * D + j] = s * r                             // dL/dxh
            g[bd + j] += s * r
        } }
        mse /= Double(N * D)
        // dWd [D, d] = dxh^T z; dz [N, d] = dxh Wd
        BLAS.sgemm(transA: true, transB: false, m: D, n: d, k: N, alpha: 1, a: xh, lda: D, b: z, ldb: d, beta: 1, c: g + wd, ldc: d)
        var dz = [Float](repeating: 0, count: N * d)
        BLAS.sgemm(transA: false, transB: false, m: N, n: d, k: D, alpha: 1, a: xh, lda: D, b: p + wd, ldb: d, beta: 0, c: &dz, ldc: d)
        var dlv = [Float](repeating: 0, count: variational ? N * d : 0)
        if variational {
            let kw = klWeight / Float(N * d)
            for i in 0..<(N * d) {
                let raw = lv[i]   // clamped value; the clamp's gradient is 0 outside
                let inside: Float = raw > -30 && raw < 20 ? 1 : 0
                dlv[i] = inside * (dz[i] * eps[i] * 0.5 * Foundation.exp(raw / 2) + kw * 0.5 * (Foundation.exp(raw) - 1))
                dz[i] += kw * mu[i]
            }
            BLAS.sgemm(transA: true, transB: false, m: d, n: D, k: N, alpha: 1, a: dlv, lda: d, b: c, ldb: D, beta: 1, c: g + wv, ldc: D)
            for i in 0..<N { for k in 0..<d { g[bv + k] += dlv[i * d + k] } }
        }
        // dWe [d, D] = dmu^T c; dbe = column sums of dmu (dmu = dz)
        BLAS.sgemm(transA: true, transB: false, m: d, n: D, k: N, alpha: 1, a: dz, lda: d, b: c, ldb: D, beta: 1, c: g + we, ldc: D)
        for i in 0..<N { for k in 0..<d { g[be + k] += dz[i * d + k] } }
        return (mse, kl)
    }
}
