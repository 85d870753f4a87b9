import Foundation

// The conv VAE's training pass: forward with the reparameterisation, the loss, and the backward into `grads`.
//
//   loss = MSE + klWeight * KL
//   MSE  = mean over the B*T*D values of (x_hat - x)^2
//   KL   = mean over the B*T*d latent elements of 0.5 (mu^2 + exp(lv) - 1 - lv)     (lv the clamped log-variance)
//   z    = mu + exp(lv / 2) * eps,  eps ~ N(0, 1) from the caller's rng in [B, T, d] order

extension ConvVAE {
    /// One training pass on patchified x [B, T, D]: zeroes `grads`, then writes d loss / d params into them.
    /// Returns the reconstruction MSE and the KL mean (the loss is mse + klWeight * kl). Does not update params.
    public func lossAndGradient(_ x: UnsafePointer<Float>, batch: Int, rng: inout RNG) -> (mse: Double, kl: Double) {
        require(batch >= 1, "conv-vae: batch must be >= 1")
        grads.update(repeating: 0, count: parameterCount)
        let a = activations(batch: batch)
        unpatchify(x, into: a.img, batch: batch)
        forwardEncoder(a, batch: batch)
        let nz = batch * g * g * d
        for i in 0..<nz {
            let e = Float(rng.normal())
            a.eps[i] = e
            a.z[i] = a.mean[i] + Foundation.exp(0.5 * a.logvar[i]) * e
        }
        forwardDecoder(a, z: a.z, batch: batch)

        // MSE and its gradient at the decoder output (same values as the patchified x_hat - x, in NHWC order)
        let nx = size(batch, level: 0, C)
        let scale = 2 / Float(nx)
        var se = 0.0
        for i in 0..<nx {
            let diff = a.out[i] - a.img[i]
            se += Double(diff) * Double(diff)
            a.gA[i] = scale * diff
        }
        let mse = se / Double(nx)

        // decoder, from its output down to z: g holds the gradient at the current activation
        var (gr, other) = (a.gA, a.gB)
        func zero(_ p: Buf, _ n: Int) { p.update(repeating: 0, count: n) }
        zero(other, size(batch, level: 0, ch(0)))
        convBackward(decOut, dinp: other, dout: gr, inp: a.decAct[0], batch: batch, a)
        swap(&gr, &other)                                                             // d decAct[0]
        for r in 0..<L {
            AdaLN.siluBackwardInPlace(gr, x: a.decPre[r], n: size(batch, level: r, ch(r)))   // d decPre[r]
            zero(other, size(batch, level: r, ch(r + 1)))
            convBackward(decUp[L - 1 - r], dinp: other, dout: gr, inp: a.up[r], batch: batch, a)
            swap(&gr, &other)                                                         // d up[r]
            zero(other, size(batch, level: r + 1, ch(r + 1)))
            Upsample2x.backward(dinp: other, dout: gr, batch: batch, h: S >> (r + 1), w: S >> (r + 1), c: ch(r + 1))
            swap(&gr, &other)                                                         // d decAct[r + 1]
        }
        AdaLN.siluBackwardInPlace(gr, x: a.decPre[L], n: size(batch, level: L, ch(L)))      // d decPre[L]
        zero(a.dz, nz)
        convBackward(decIn, dinp: a.dz, dout: gr, inp: a.z, batch: batch, a)          // d z

        // reparameterisation and KL -> d head (mean | raw logvar per cell)
        let kw = Float(config.klWeight) / Float(nz)
        var klSum = 0.0
        for cell in 0..<(batch * g * g) {
            let h = a.head + cell * 2 * d, dh = a.dhead + cell * 2 * d
            for j in 0..<d {
                let i = cell * d + j
                let mu = a.mean[i], lv = a.logvar[i], std = Foundation.exp(0.5 * lv), v = std * std
                klSum += 0.5 * (Double(mu) * Double(mu) + Double(v) - 1 - Double(lv))
                dh[j] = a.dz[i] + kw * mu
                let inside = h[d + j] >= -30 && h[d + j] <= 20                        // the clamp passes the gradient
                dh[d + j] = inside ? a.dz[i] * 0.5 * std * a.eps[i] + kw * 0.5 * (v - 1) : 0
            }
        }
        let kl = klSum / Double(nz)

        // encoder, from its head down to the image
        zero(other, size(batch, level: L, ch(L)))
        convBackward(encOut, dinp: other, dout: a.dhead, inp: a.encAct[L], batch: batch, a)
        swap(&gr, &other)                                                             // d encAct[L]
        for r in stride(from: L, through: 1, by: -1) {
            AdaLN.siluBackwardInPlace(gr, x: a.encPre[r], n: size(batch, level: r, ch(r)))  // d encPre[r]
            zero(other, size(batch, level: r - 1, ch(r - 1)))
            convBackward(encDown[r - 1], dinp: other, dout: gr, inp: a.encAct[r - 1], batch: batch, a)
            swap(&gr, &other)                                                         // d encAct[r - 1]
        }
        AdaLN.siluBackwardInPlace(gr, x: a.encPre[0], n: size(batch, level: 0, ch(0)))     // d encPre[0]
        convBackward(encIn, dinp: nil, dout: gr, inp: a.img, batch: batch, a)
        return (mse, kl)
    }
}
