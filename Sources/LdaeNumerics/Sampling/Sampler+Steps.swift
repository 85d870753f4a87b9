import Foundation

extension DiffusionSampler {
    // MARK: steps

    /// The model at level `lv` on latents z [b, T, d]: (x0hat, epshat) in the latent and x0hat in pixels [b, T, D].
    public func predict(_ z: [Float], batch b: Int, at lv: Level, denoiser: Denoiser) -> (x0: [Float], eps: [Float], pixels: [Float]) {
        let n = b * geometry.tokens
        let x = toPixels(z, rows: n)
        var out = [Float](repeating: 0, count: n * geometry.tokenDim)
        let tf = [Float](repeating: Float(max(lv.t, 1) - 1) / Float(timesteps), count: b)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in tf.withUnsafeBufferPointer { tp in
            denoiser(xp.baseAddress!, timeConditioned ? tp.baseAddress! : nil, b, op.baseAddress!)
        } } }
        let g = Float(lv.gamma), s = Float(lv.sigma)
        var x0: [Float], eps: [Float], pixels: [Float]
        switch prediction {
        case .cleanImage:
            pixels = out
            x0 = toLatent(out, rows: n)
            eps = []
        case .noise:
            eps = toLatent(out, rows: n, centered: false)
            let gi = 1 / max(g, 1e-3)
            x0 = (0..<z.count).map { (z[$0] - s * eps[$0]) * gi }
            pixels = toPixels(x0, rows: n)
        }
        if clipX0 {
            for k in pixels.indices { pixels[k] = min(1, max(-1, pixels[k])) }
            x0 = toLatent(pixels, rows: n)
            eps = []
        }
        if eps.isEmpty { eps = s > 0 ? (0..<z.count).map { (z[$0] - g * x0[$0]) / s } : [Float](repeating: 0, count: z.count) }
        return (x0, eps, pixels)
    }

    /// One reverse step z_t -> z_s (s less noisy) in place; noise xi [b, T, d] (nil = zeros). Returns x0hat in pixels.
    @discardableResult
    public func reverseStep(_ z: inout [Float], batch b: Int, from t: Level, to s: Level, method: Method, eta: Double,
                            noise: [Float]?, denoiser: Denoiser) -> [Float] {
        let p = predict(z, batch: b, at: t, denoiser: denoiser)
        let xi = noise ?? [Float](repeating: 0, count: z.count)
        switch method {
        case .ddpm:
            let (cz, cx, v) = Self.posterior(from: t, to: s)
            let a = Float(cz), c = Float(cx), sd = Float(v.squareRoot())
            for k in z.indices { z[k] = a * z[k] + c * p.x0[k] + sd * xi[k] }
        case .ddim:
            let (cx, ce, cn) = Self.ddim(from: t, to: s, eta: eta)
            let a = Float(cx), e = Float(ce), c = Float(cn)
            for k in z.indices { z[k] = a * p.x0[k] + e * p.eps[k] + c * xi[k] }
        }
        return p.pixels
    }

    /// Samples n images: pixel-scaled patches [n, T, D]. `start`: latents z_{t_S} [n, T, d] (e.g. from `invert`)
    /// instead of prior draws. `progress` advances by one per image and step.
    public func generate(count n: Int, timesteps ts: [Int], method: Method, eta: Double = 0, seed: UInt64 = 0,
                         batch: Int = 64, start: [Float]? = nil, progress: ProgressLine? = nil, denoiser: Denoiser) throws -> [Float] {
        try checkTimesteps(ts)
        guard eta >= 0 && eta <= 1 else { throw LdaeError("DDIM eta must be in [0, 1], got \(eta)") }
        let L = geometry.tokens * latentDim, V = geometry.valuesPerImage, d = latentDim
        require(start == nil || start!.count == n * L)
        let noisy = method == .ddpm || eta > 0
        var result = [Float](repeating: 0, count: n * V)
        BLAS.withOneThread {
            var b0 = 0
            while b0 < n {
                let b = min(max(1, batch), n - b0)
                var rngs = (b0..<(b0 + b)).map { RNG(seed: seed, stream: UInt64($0)) }
                func draw() -> [Float] { rngs.indices.flatMap { i in (0..<L).map { _ in Float(rngs[i].normal()) } } }
                let top = level(ts.last!)
                var z: [Float]
                if let start { z = Array(start[(b0 * L)..<((b0 + b) * L)]) } else {
                    z = draw()
                    for k in z.indices {
                        let i = k % d
                        let sd = (top.gamma * top.gamma * Double(priorVariance[i]) + top.sigma * top.sigma).squareRoot()
                        z[k] = Float(top.gamma) * priorMean[i] + Float(sd) * z[k]
                    }
                }
                for i in stride(from: ts.count - 1, through: 0, by: -1) {
                    let s = level(i > 0 ? ts[i - 1] : 0)
                    let x0 = reverseStep(&z, batch: b, from: level(ts[i]), to: s, method: method, eta: eta,
                                         noise: noisy && i > 0 ? draw() : nil, denoiser: denoiser)
                    if i == 0 { result.replaceSubrange((b0 * V)..<((b0 + b) * V), with: x0) }
                    progress?.advance(b)
                }
                b0 += b
            }
        }
        return result
    }

    /// DDIM (eta = 0) inversion of clean pixel-scaled images x0 [n, T, D] to latents z_{t_S} [n, T, d].
    public func invert(_ x0: [Float], count n: Int, timesteps ts: [Int], batch: Int = 64, progress: ProgressLine? = nil,
                       denoiser: Denoiser) throws -> [Float] {
        try checkTimesteps(ts)
        let V = geometry.valuesPerImage, T = geometry.tokens, L = T * latentDim
        require(x0.count == n * V)
        var result = [Float](repeating: 0, count: n * L)
        BLAS.withOneThread {
            var b0 = 0
            while b0 < n {
                let b = min(max(1, batch), n - b0)
                var z = toLatent(Array(x0[(b0 * V)..<((b0 + b) * V)]), rows: b * T)
                var cur = level(0)
                for t in ts {
                    let next = level(t)
                    let (x0hat, eps): ([Float], [Float])
                    if cur.sigma > 0 {
                        let p = predict(z, batch: b, at: cur, denoiser: denoiser); (x0hat, eps) = (p.x0, p.eps)
                    } else {
                        // z = z0 exactly; the model at the next level gives the noise direction
                        let p = predict(z, batch: b, at: next, denoiser: denoiser); (x0hat, eps) = (z, p.eps)
                    }
                    let g = Float(next.gamma), s = Float(next.sigma)
                    for k in z.indices { z[k] = g * x0hat[k] + s * eps[k] }
                    cur = next
                    progress?.advance(b)
                }
                result.replaceSubrange((b0 * L)..<((b0 + b) * L), with: z)
                b0 += b
            }
        }
        return result
    }
}

extension DiffusionSampler {
    /// A zoo model as the denoiser (`LDAEModel.reconstruct`, the fast inference path).
    public static func denoiser(_ model: LDAEModel) -> Denoiser {
        { x, t, b, out in model.reconstruct(x, t: t, batch: b, out: out) }
    }
}
