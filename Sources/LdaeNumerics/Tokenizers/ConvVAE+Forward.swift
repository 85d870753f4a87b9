import Foundation

// The conv VAE's activation buffers (one arena layout, sized per batch, grown as needed) and its forward passes.
// Shapes: B batch, S image side, S_r = S / 2^r, ch(r) channels at level r, L = log2(p), g = S / p, T = g * g,
// all activations NHWC.

extension ConvVAE {
    typealias Buf = UnsafeMutablePointer<Float>

    struct Acts {
        var img: Buf                // [B, S, S, C] the encoder's input (x unpatchified)
        var encPre: [Buf]           // r = 0...L: [B, S_r, S_r, ch(r)] conv_in (r = 0) / down.(r-1) output before SiLU
        var encAct: [Buf]           // r = 0...L: the same after SiLU
        var head: Buf               // [B, g, g, 2d] conv_out: per cell d means, then d raw log-variances
        var mean, logvar: Buf       // [B, T, d] (logvar clamped to [-30, 20])
        var eps, z: Buf             // [B, T, d] the reparameterisation's noise and sample
        var decPre: [Buf]           // r = 0...L: [B, S_r, S_r, ch(r)] conv_in (r = L) / up.(L-1-r) output before SiLU
        var decAct: [Buf]           // r = 0...L: the same after SiLU
        var up: [Buf]               // r = 0..<L: [B, S_r, S_r, ch(r+1)] decAct[r+1] upsampled (up.(L-1-r)'s input)
        var out: Buf                // [B, S, S, C] decoder output
        // the backward's
        var gA, gB: Buf             // [B * max over the above of S_r^2 * channels] gradient ping-pong
        var dz: Buf                 // [B, T, d]
        var dhead: Buf              // [B, g, g, 2d]
        var scratch: UnsafeMutableBufferPointer<Float>   // the convs' im2col chunks (largest Conv2D.scratchCount)
    }

    /// Floats of one activation at level r with c channels.
    func size(_ batch: Int, level r: Int, _ c: Int) -> Int { batch * (S >> r) * (S >> r) * c }

    /// The buffers for `batch` images, carved from the arena (reallocated only when a larger batch needs more).
    func activations(batch: Int) -> Acts {
        let cells = batch * g * g
        var largest = size(batch, level: 0, C)
        for r in 0...L { largest = max(largest, size(batch, level: r, ch(r))) }
        for r in 0..<L { largest = max(largest, size(batch, level: r, ch(r + 1))) }
        let layers = [encIn, encOut, decIn, decOut] + encDown + decUp
        let scratchCount = layers.map {
            Conv2D.scratchCount(batch: batch, inC: $0.inC, h: $0.side, w: $0.side, kernel: $0.kernel, stride: $0.stride, pad: $0.pad)
        }.max() ?? 0
        return arena.carve { a in
            Acts(img: a.take(size(batch, level: 0, C)),
                 encPre: (0...L).map { a.take(size(batch, level: $0, ch($0))) },
                 encAct: (0...L).map { a.take(size(batch, level: $0, ch($0))) },
                 head: a.take(cells * 2 * d), mean: a.take(cells * d), logvar: a.take(cells * d),
                 eps: a.take(cells * d), z: a.take(cells * d),
                 decPre: (0...L).map { a.take(size(batch, level: $0, ch($0))) },
                 decAct: (0...L).map { a.take(size(batch, level: $0, ch($0))) },
                 up: (0..<L).map { a.take(size(batch, level: $0, ch($0 + 1))) },
                 out: a.take(size(batch, level: 0, C)),
                 gA: a.take(largest), gB: a.take(largest), dz: a.take(cells * d), dhead: a.take(cells * 2 * d),
                 scratch: UnsafeMutableBufferPointer(start: a.take(scratchCount), count: scratchCount))
        }
    }

    /// out = layer(inp) over `batch` images.
    func conv(_ l: ConvP, out: Buf, inp: UnsafePointer<Float>, batch: Int, _ a: Acts) {
        Conv2D.forward(out: out, inp: inp, weight: params + l.w, bias: params + l.b, batch: batch, inC: l.inC,
                       outC: l.outC, h: l.side, w: l.side, kernel: l.kernel, stride: l.stride, pad: l.pad, scratch: a.scratch)
    }

    /// Backward of `conv`, adding into the layer's gradients and (unless nil) into dinp.
    func convBackward(_ l: ConvP, dinp: Buf?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, batch: Int, _ a: Acts) {
        Conv2D.backward(dinp: dinp, dweight: grads + l.w, dbias: grads + l.b, dout: dout, inp: inp, weight: params + l.w,
                        batch: batch, inC: l.inC, outC: l.outC, h: l.side, w: l.side, kernel: l.kernel,
                        stride: l.stride, pad: l.pad, scratch: a.scratch)
    }

    /// a.img [B, S, S, C] -> encPre/encAct, head, mean and clamped logvar.
    func forwardEncoder(_ a: Acts, batch: Int) {
        conv(encIn, out: a.encPre[0], inp: a.img, batch: batch, a)
        AdaLN.silu(out: a.encAct[0], x: a.encPre[0], n: size(batch, level: 0, ch(0)))
        for i in 0..<L {
            conv(encDown[i], out: a.encPre[i + 1], inp: a.encAct[i], batch: batch, a)
            AdaLN.silu(out: a.encAct[i + 1], x: a.encPre[i + 1], n: size(batch, level: i + 1, ch(i + 1)))
        }
        conv(encOut, out: a.head, inp: a.encAct[L], batch: batch, a)
        for cell in 0..<(batch * g * g) {
            let h = a.head + cell * 2 * d, m = a.mean + cell * d, lv = a.logvar + cell * d
            for j in 0..<d { m[j] = h[j]; lv[j] = min(max(h[d + j], -30), 20) }
        }
    }

    /// z [B, g, g, d] -> decPre/decAct/up, a.out [B, S, S, C].
    func forwardDecoder(_ a: Acts, z: UnsafePointer<Float>, batch: Int) {
        conv(decIn, out: a.decPre[L], inp: z, batch: batch, a)
        AdaLN.silu(out: a.decAct[L], x: a.decPre[L], n: size(batch, level: L, ch(L)))
        for j in 0..<L {
            let r = L - 1 - j
            Upsample2x.forward(out: a.up[r], inp: a.decAct[r + 1], batch: batch, h: S >> (r + 1), w: S >> (r + 1), c: ch(r + 1))
            conv(decUp[j], out: a.decPre[r], inp: a.up[r], batch: batch, a)
            AdaLN.silu(out: a.decAct[r], x: a.decPre[r], n: size(batch, level: r, ch(r)))
        }
        conv(decOut, out: a.out, inp: a.decAct[0], batch: batch, a)
    }
}
