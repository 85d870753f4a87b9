// Nearest-neighbour upsampling by 2 over NHWC activations (the conv VAE's decoder, Tokenizers/ConvVAE.swift).

public enum Upsample2x {
    /// out[B, 2h, 2w, C]: out[b, y, x, :] = inp[b, y / 2, x / 2, :]  (overwritten)
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, batch: Int, h: Int, w: Int, c: Int) {
        require(batch >= 0 && h > 0 && w > 0 && c > 0, "upsample2x: bad sizes")
        for b in 0..<batch {
            for y in 0..<h {
                let src = inp + (b * h + y) * w * c
                let top = out + ((b * 2 * h + 2 * y) * 2 * w) * c
                for x in 0..<w {
                    let s = src + x * c, d = top + 2 * x * c
                    d.update(from: s, count: c)
                    (d + c).update(from: s, count: c)
                }
                (top + 2 * w * c).update(from: top, count: 2 * w * c)   // the second row is the first
            }
        }
    }

    /// Backward, ADDING: dinp[b, y, x, :] += the sum of dout[B, 2h, 2w, C] over the 2x2 block it was copied to.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, batch: Int, h: Int, w: Int, c: Int) {
        require(batch >= 0 && h > 0 && w > 0 && c > 0, "upsample2x: bad sizes")
        for b in 0..<batch {
            for y in 0..<h {
                let dst = dinp + (b * h + y) * w * c
                let top = dout + ((b * 2 * h + 2 * y) * 2 * w) * c, bottom = top + 2 * w * c
                for x in 0..<w {
                    let d = dst + x * c, t = top + 2 * x * c, u = bottom + 2 * x * c
                    for i in 0..<c { d[i] += (t[i] + t[c + i]) + (u[i] + u[c + i]) }
                }
            }
        }
    }
}
