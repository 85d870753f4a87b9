// 2-D convolution over NHWC activations (channels last: a pixel's channels are contiguous, as in a patchified image),
// square kernels, zero padding. Weight [OC, kernel, kernel, C] (each output channel's filter in (ky, kx, c) order:
// torch's [OC, C, kh, kw] is the permutation (0, 2, 3, 1) of it), bias [OC].
//
// The fast path lowers the conv to one matrix product per chunk of output pixels (im2col): the chunk's rows
// col [rows, K], K = kernel * kernel * C, each the input patch under one output pixel in the weight's (ky, kx, c)
// order, then out[rows, OC] = col @ weight^T (BLAS.sgemm). Chunks run over the output pixels of the whole batch
// (about 1 MB of col each, so it stays in cache between its fill and the product). A 1x1, stride 1, unpadded conv
// is the plain product on the input. Single-threaded: OpenBLAS's own threads are the caller's choice.

public enum Conv2D {
    /// Output side: (h + 2 pad - kernel) / stride + 1.
    @inline(__always)
    public static func outputSize(_ h: Int, kernel: Int, stride: Int, pad: Int) -> Int {
        (h + 2 * pad - kernel) / stride + 1
    }

    /// Output pixels per im2col chunk for K = kernel * kernel * inC columns (about 2^18 floats of col).
    @inline(__always)
    static func chunkRows(k: Int, pixels: Int) -> Int { min(pixels, max(16, (1 << 18) / max(1, k))) }

    /// Whether the conv is the plain product on the input (no im2col).
    @inline(__always)
    static func isPointwise(kernel: Int, stride: Int, pad: Int) -> Bool { kernel == 1 && stride == 1 && pad == 0 }

    /// Floats of scratch `forward` and `backward` use (two col chunks; 0 for a pointwise conv).
    public static func scratchCount(batch: Int, inC: Int, h: Int, w: Int, kernel: Int, stride: Int, pad: Int) -> Int {
        if isPointwise(kernel: kernel, stride: stride, pad: pad) { return 0 }
        let pixels = batch * outputSize(h, kernel: kernel, stride: stride, pad: pad) * outputSize(w, kernel: kernel, stride: stride, pad: pad)
        let k = kernel * kernel * inC
        return 2 * chunkRows(k: k, pixels: pixels) * k
    }

    /// out[B, Ho, Wo, OC] = conv(inp[B, h, w, C], weight[OC, kernel, kernel, C]) + bias[OC]  (overwritten)
    /// scratch: at least `scratchCount(...)` floats (nil: allocated here).
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               batch: Int, inC: Int, outC: Int, h: Int, w: Int, kernel: Int, stride: Int, pad: Int,
                               scratch: UnsafeMutableBufferPointer<Float>? = nil) {
        let g = Geometry(batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad)
        let k = g.k
        if isPointwise(kernel: kernel, stride: stride, pad: pad) {
            BLAS.sgemm(transA: false, transB: true, m: g.pixels, n: outC, k: k, alpha: 1, a: inp, lda: k,
                       b: weight, ldb: k, beta: 0, c: out, ldc: outC)
        } else {
            withScratch(scratch, batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad) { col in
                let step = chunkRows(k: k, pixels: g.pixels)
                for r0 in Swift.stride(from: 0, to: g.pixels, by: step) {
                    let rows = min(step, g.pixels - r0)
                    im2col(col, inp, g, r0: r0, rows: rows)
                    BLAS.sgemm(transA: false, transB: true, m: rows, n: outC, k: k, alpha: 1, a: col, lda: k,
                               b: weight, ldb: k, beta: 0, c: out + r0 * outC, ldc: outC)
                }
            }
        }
        if let bias {
            for r in 0..<g.pixels {
                let o = out + r * outC
                for j in 0..<outC { o[j] += bias[j] }
            }
        }
    }

    /// Backward of `forward`, ADDING into the gradients:
    ///   dinp[B, h, w, C] += d out / d inp (nil: skipped, e.g. the network's input)
    ///   dweight[OC, kernel, kernel, C] += sum over output pixels of dout (x) col
    ///   dbias[OC] += sum over output pixels of dout
    /// dout [B, Ho, Wo, OC]; inp and weight as given to `forward`.
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                batch: Int, inC: Int, outC: Int, h: Int, w: Int, kernel: Int, stride: Int, pad: Int,
                                scratch: UnsafeMutableBufferPointer<Float>? = nil) {
        let g = Geometry(batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad)
        let k = g.k
        if let dbias {
            for r in 0..<g.pixels {
                let d = dout + r * outC
                for j in 0..<outC { dbias[j] += d[j] }
            }
        }
        if isPointwise(kernel: kernel, stride: stride, pad: pad) {
            BLAS.sgemm(transA: true, transB: false, m: outC, n: k, k: g.pixels, alpha: 1, a: dout, lda: outC,
                       b: inp, ldb: k, beta: 1, c: dweight, ldc: k)
            if let dinp {
                BLAS.sgemm(transA: false, transB: false, m: g.pixels, n: k, k: outC, alpha: 1, a: dout, lda: outC,
                           b: weight, ldb: k, beta: 1, c: dinp, ldc: k)
            }
            return
        }
        withScratch(scratch, batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad) { col in
            let step = chunkRows(k: k, pixels: g.pixels)
            let dcol = col + step * k
            for r0 in Swift.stride(from: 0, to: g.pixels, by: step) {
                let rows = min(step, g.pixels - r0)
                let d = dout + r0 * outC
                im2col(col, inp, g, r0: r0, rows: rows)
                BLAS.sgemm(transA: true, transB: false, m: outC, n: k, k: rows, alpha: 1, a: d, lda: outC,
                           b: col, ldb: k, beta: 1, c: dweight, ldc: k)
                if let dinp {
                    BLAS.sgemm(transA: false, transB: false, m: rows, n: k, k: outC, alpha: 1, a: d, lda: outC,
                               b: weight, ldb: k, beta: 0, c: dcol, ldc: k)
                    col2imAdd(dinp, dcol, g, r0: r0, rows: rows)
                }
            }
        }
    }

    // MARK: im2col

    /// Sizes of one conv, for the col loops.
    struct Geometry {
        let batch, c, h, w, kernel, stride, pad, ho, wo: Int
        init(batch: Int, inC: Int, h: Int, w: Int, kernel: Int, stride: Int, pad: Int) {
            require(batch >= 0 && inC > 0 && h > 0 && w > 0 && kernel > 0 && stride > 0 && pad >= 0,
                    "conv2d: bad sizes (batch \(batch), inC \(inC), \(h)x\(w), kernel \(kernel), stride \(stride), pad \(pad))")
            self.batch = batch; c = inC; self.h = h; self.w = w; self.kernel = kernel; self.stride = stride; self.pad = pad
            ho = Conv2D.outputSize(h, kernel: kernel, stride: stride, pad: pad)
            wo = Conv2D.outputSize(w, kernel: kernel, stride: stride, pad: pad)
            require(ho > 0 && wo > 0, "conv2d: kernel \(kernel) larger than the padded \(h)x\(w) input")
        }
        var k: Int { kernel * kernel * c }
        var pixels: Int { batch * ho * wo }
    }

    /// Calls body with `scratch` (checked large enough) or a fresh allocation of `scratchCount` floats.
    static func withScratch(_ scratch: UnsafeMutableBufferPointer<Float>?, batch: Int, inC: Int, h: Int, w: Int,
                            kernel: Int, stride: Int, pad: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        let need = scratchCount(batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad)
        if let scratch, let base = scratch.baseAddress {
            require(scratch.count >= need, "conv2d: scratch of \(scratch.count) floats, \(need) needed")
            body(base)
            return
        }
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, need))
        defer { p.deallocate() }
        body(p)
    }

    /// The kernel columns [lo, hi) of output column ox that fall inside the input, and the first input column.
    @inline(__always)
    static func validColumns(_ g: Geometry, ox: Int) -> (ix0: Int, lo: Int, hi: Int) {
        let ix0 = ox * g.stride - g.pad
        let lo = min(g.kernel, max(0, -ix0)), hi = max(lo, min(g.kernel, g.w - ix0))
        return (ix0, lo, hi)
    }

    /// col[rows, K] = the input patches under output pixels r0 ..< r0 + rows (pixel r = (b, oy, ox) row-major).
    static func im2col(_ col: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ g: Geometry, r0: Int, rows: Int) {
        let c = g.c, kc = g.kernel * c, k = g.k, plane = g.ho * g.wo
        for r in r0..<(r0 + rows) {
            let b = r / plane, oy = (r % plane) / g.wo, ox = r % g.wo
            let (ix0, lo, hi) = validColumns(g, ox: ox)
            let dst = col + (r - r0) * k
            for ky in 0..<g.kernel {
                let iy = oy * g.stride - g.pad + ky
                let d = dst + ky * kc
                if iy < 0 || iy >= g.h { d.update(repeating: 0, count: kc); continue }
                if lo > 0 { d.update(repeating: 0, count: lo * c) }
                if hi > lo { (d + lo * c).update(from: inp + ((b * g.h + iy) * g.w + ix0 + lo) * c, count: (hi - lo) * c) }
                if hi < g.kernel { (d + hi * c).update(repeating: 0, count: (g.kernel - hi) * c) }
            }
        }
    }

    /// The transpose of im2col, adding: dinp[B, h, w, C] += each row of dcol[rows, K] at its input patch.
    static func col2imAdd(_ dinp: UnsafeMutablePointer<Float>, _ dcol: UnsafePointer<Float>, _ g: Geometry, r0: Int, rows: Int) {
        let c = g.c, kc = g.kernel * c, k = g.k, plane = g.ho * g.wo
        for r in r0..<(r0 + rows) {
            let b = r / plane, oy = (r % plane) / g.wo, ox = r % g.wo
            let (ix0, lo, hi) = validColumns(g, ox: ox)
            if hi <= lo { continue }
            let src = dcol + (r - r0) * k
            for ky in 0..<g.kernel {
                let iy = oy * g.stride - g.pad + ky
                if iy < 0 || iy >= g.h { continue }
                let s = src + ky * kc + lo * c
                let d = dinp + ((b * g.h + iy) * g.w + ix0 + lo) * c
                for i in 0..<((hi - lo) * c) { d[i] += s[i] }
            }
        }
    }

    // MARK: naive reference (direct loops, Double accumulation)

    /// The same as `forward`, by the definition.
    public static func forwardReference(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                        batch: Int, inC: Int, outC: Int, h: Int, w: Int, kernel: Int, stride: Int, pad: Int) {
        let g = Geometry(batch: batch, inC: inC, h: h, w: w, kernel: kernel, stride: stride, pad: pad)
        for b in 0..<batch { for oy in 0..<g.ho { for ox in 0..<g.wo { for o in 0..<outC {
            var s = Double(bias?[o] ?? 0)
            for ky in 0..<kernel { for kx in 0..<kernel {
                let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                for c in 0..<inC {
                    s += Double(inp[((b * h + iy) * w + ix) * inC + c]) * Double(weight[((o * kernel + ky) * kernel + kx) * inC + c])
                }
            } }
            out[((b * g.ho + oy) * g.wo + ox) * outC + o] = Float(s)
        } } } }
    }
}
