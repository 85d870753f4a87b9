// Multi-head self-attention core (timm Attention without the qkv/proj linears):
//   qkv [B, T, 3C] rows = (q for all heads | k for all heads | v for all heads); head h uses columns h*hd..<(h+1)*hd
//   att[b, h] = softmax(Q_bh K_bh^T / sqrt(hd))   [B, H, T, T]
//   out[b, t, h*hd..<(h+1)*hd] = att[b, h] V_bh    out [B, T, C]
// Parallel over the B*H (batch, head) pairs. With the fast kernels each chunk of pairs is one call into the AVX2 C
// kernel (Sources/CKernels/attention.c: direct 6x16 FMA tiles, AVX2 softmax), whose products take the bf16 GEMM on a
// bf16 plan (`gemmCode`; softmax and its backward stay fp32); otherwise each pair is three (forward) or four
// (backward) small single-threaded sgemms plus the Swift softmax below.

public enum Attention {
    /// The products' GEMM in CKernels/attention.c (ldae_attention_forward_ex): 2 = bf16 on a bf16 plan (1.6-1.8x the
    /// direct AVX2 tiles on AVX512-BF16: docs/benchmarks.md), else 0 = the direct AVX2 tiles in fp32 (the AVX-512 fp32
    /// GEMM, 1, was within 1.1-1.2x of them at these sizes and is left to `ldae-train bench --kernels`).
    static func gemmCode(_ plan: ExecutionPlan) -> Int32 { plan.gemm == .bf16 ? 2 : 0 }

    /// att: where to keep the probabilities [B, H, T, T] for backward; nil = per-worker scratch (inference).
    public static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?,
                               qkv: UnsafePointer<Float>, b nb: Int, t nt: Int, c: Int, heads: Int, plan: ExecutionPlan) {
        let hd = c / heads, c3 = 3 * c, tt = nt * nt
        if plan.usesFastKernels {
            let g = gemmCode(plan)
            plan.chunks(nb * heads) { p0, p1 in
                FastKernels.attentionForward(gemm: g, out: out, att: att, qkv: qkv, b: nb, t: nt, c: c, heads: heads, p0: p0, p1: p1)
            }
            return
        }
        let scale = 1 / Float(hd).squareRoot()
        let scratch: UnsafeMutablePointer<Float>? = att == nil ? .allocate(capacity: plan.workers * tt) : nil
        defer { scratch?.deallocate() }
        plan.chunksIndexed(nb * heads) { k, p0, p1 in
            for p in p0..<p1 {
                let b = p / heads, h = p % heads
                let q = qkv + b * nt * c3 + h * hd
                let kk = q + c, v = q + 2 * c
                let a = att.map { $0 + p * tt } ?? (scratch! + k * tt)
                // a[T, T] = scale * Q K^T
                BLAS.sgemm(transA: false, transB: true, m: nt, n: nt, k: hd, alpha: scale,
                           a: q, lda: c3, b: kk, ldb: c3, beta: 0, c: a, ldc: nt)
                for i in 0..<nt { softmaxRow(a + i * nt, nt) }
                // out_bh[T, hd] = a V
                BLAS.sgemm(transA: false, transB: false, m: nt, n: hd, k: nt, alpha: 1,
                           a: a, lda: nt, b: v, ldb: c3, beta: 0, c: out + b * nt * c + h * hd, ldc: c)
            }
        }
    }

    @inline(__always)
    static func softmaxRow(_ r: UnsafeMutablePointer<Float>, _ n: Int) {
        var mx = -Float.infinity
        for j in 0..<n { mx = max(mx, r[j]) }
        for j in 0..<n { r[j] = VMath.exp(r[j] - mx) }
        let inv = 1 / VMath.sum(r, n)
        for j in 0..<n { r[j] *= inv }
    }

    /// Backward from dout [B, T, C] into dqkv [B, T, 3C] (ADDS; overwrite: = instead), using the saved att.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                                b nb: Int, t nt: Int, c: Int, heads: Int, overwrite: Bool = false, plan: ExecutionPlan) {
        let hd = c / heads, c3 = 3 * c, tt = nt * nt
        let scale = 1 / Float(hd).squareRoot()
        if plan.usesFastKernels {
            let g = gemmCode(plan)
            plan.chunks(nb * heads) { p0, p1 in
                FastKernels.attentionBackward(gemm: g, dqkv: dqkv, dout: dout, qkv: qkv, att: att, b: nb, t: nt, c: c,
                                              heads: heads, p0: p0, p1: p1, overwrite: overwrite)
            }
            return
        }
        let beta: Float = overwrite ? 0 : 1
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.workers * tt)
        defer { scratch.deallocate() }
        plan.chunksIndexed(nb * heads) { k, p0, p1 in
            let da = scratch + k * tt
            for p in p0..<p1 {
                let b = p / heads, h = p % heads
                let off = b * nt * c3 + h * hd
                let q = qkv + off, kk = q + c, v = q + 2 * c
                let dq = dqkv + off, dk = dq + c, dv = dq + 2 * c
                let a = att + p * tt
                let dO = dout + b * nt * c + h * hd
                // dA[T, T] = dO V^T ; dV += A^T dO
                BLAS.sgemm(transA: false, transB: true, m: nt, n: nt, k: hd, alpha: 1,
                           a: dO, lda: c, b: v, ldb: c3, beta: 0, c: da, ldc: nt)
                BLAS.sgemm(transA: true, transB: false, m: nt, n: hd, k: nt, alpha: 1,
                           a: a, lda: nt, b: dO, ldb: c, beta: beta, c: dv, ldc: c3)
                // softmax backward: dS = A * (dA - rowsum(dA * A)), times the score scale
                for i in 0..<nt {
                    let ar = a + i * nt, dr = da + i * nt
                    let s = VMath.dot(ar, dr, nt)
                    let s8 = F8(repeating: s)
                    var j = 0
                    while j + 8 <= nt { VMath.store(VMath.load(ar + j) * (VMath.load(dr + j) - s8) * scale, dr + j); j += 8 }
                    while j < nt { dr[j] = ar[j] * (dr[j] - s) * scale; j += 1 }
                }
                // dQ += dS K ; dK += dS^T Q
                BLAS.sgemm(transA: false, transB: false, m: nt, n: hd, k: nt, alpha: 1,
                           a: da, lda: nt, b: kk, ldb: c3, beta: beta, c: dq, ldc: c3)
                BLAS.sgemm(transA: true, transB: false, m: nt, n: hd, k: nt, alpha: 1,
                           a: da, lda: nt, b: q, ldb: c3, beta: beta, c: dk, ldc: c3)
            }
        }
    }

    // MARK: naive reference (loops, Double)
    public static func forwardNaive(out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                                    b nb: Int, t nt: Int, c: Int, heads: Int) {
        let hd = c / heads, c3 = 3 * c
        let scale = 1 / Double(hd).squareRoot()
        var s = [Double](repeating: 0, count: nt)
        for b in 0..<nb {
            for h in 0..<heads {
                for i in 0..<nt {
                    var mx = -Double.infinity
                    for j in 0..<nt {
                        var d = 0.0
                        for e in 0..<hd { d += Double(qkv[(b * nt + i) * c3 + h * hd + e]) * Double(qkv[(b * nt + j) * c3 + c + h * hd + e]) }
                        s[j] = d * scale; mx = max(mx, s[j])
                    }
                    var z = 0.0
                    for j in 0..<nt { s[j] = _exp(s[j] - mx); z += s[j] }
                    for e in 0..<hd {
                        var o = 0.0
                        for j in 0..<nt { o += s[j] / z * Double(qkv[(b * nt + j) * c3 + 2 * c + h * hd + e]) }
                        out[(b * nt + i) * c + h * hd + e] = Float(o)
                    }
                }
            }
        }
    }
}

import Foundation
@inline(__always) func _exp(_ x: Double) -> Double { Foundation.exp(x) }
