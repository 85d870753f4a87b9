// The C boundary for ldae's own AVX2+FMA kernels (Sources/CKernels), with the portable fallback beside each:
// OpenBLAS for SGEMM. Which path runs is the caller's `ExecutionPlan.usesFastKernels`: false on CPUs without
// AVX2+FMA (`available`, detected at run time), or when the plan asks for the portable path.
import CKernels
import Foundation

public enum FastKernels {
    /// Whether this CPU has AVX2 and FMA (the C kernels' instructions).
    public static let available: Bool = ldae_kernels_avx2() != 0

    /// Single-threaded SGEMM, the contract of BLAS.sgemm plus optional fused extras:
    ///   C[m, n] = alpha op(A) op(B) + beta C + bias[n]   (row-major; beta 0 never reads C)
    ///   C *= mulC elementwise (mulC [m, n], row stride ldc, not overlapping C), after the bias
    ///   colsumA[k] += sum over rows i of op(A)[i, p]     (without alpha: a linear layer's bias gradient)
    ///   geluOut[m, n] (row stride ldc) = gelu(C)          (may be c itself)
    ///   packedB: op(B) from `packB` (same k, n), used instead of packing b (the fast path only; b must stay valid)
    /// fast: ldae's packed 6x16 AVX2 kernel (bias added in its write-back, column sums taken while A is packed or
    /// just before it is read in place; the caller has checked `available`); otherwise OpenBLAS (bias copied into C
    /// first, column sums by a loop). `ldae-train bench --kernels` compares the two in one run.
    @inline(__always)
    public static func sgemm(fast: Bool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                             bias: UnsafePointer<Float>? = nil, colsumA: UnsafeMutablePointer<Float>? = nil,
                             geluOut: UnsafeMutablePointer<Float>? = nil, mulC: UnsafePointer<Float>? = nil,
                             packedB: UnsafePointer<Float>? = nil) {
        if fast {
            var x = ldae_gemm_extras(bias: bias, colsum_a: colsumA, gelu_out: geluOut, mul_c: mulC, packed_b: packedB)
            ldae_sgemm_ex(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &x)
            return
        }
        defer {
            if let mulC {
                for r in 0..<m { for j in 0..<n { c[r * ldc + j] *= mulC[r * ldc + j] } }
            }
            if let geluOut {
                for r in 0..<m { for j in 0..<n { geluOut[r * ldc + j] = GELU.value(c[r * ldc + j]) } }
            }
        }
        if let colsumA {
            for i in 0..<m {
                for p in 0..<k { colsumA[p] += transA ? a[p * lda + i] : a[i * lda + p] }
            }
        }
        var beta = beta
        if let bias {
            for r in 0..<m {
                let row = c + r * ldc
                if beta == 0 { row.update(from: bias, count: n) } else {
                    for j in 0..<n { row[j] = beta * row[j] + bias[j] }
                }
            }
            beta = 1
        }
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// Floats `packB` writes for op(B) [k, n].
    public static func packedBSize(k: Int, n: Int) -> Int { ldae_sgemm_packed_b_size(k, n) }

    /// op(B) [k, n] packed once into dst (`packedBSize` floats, 32-byte aligned) for `sgemm(packedB:)`. Fast path
    /// only: callers check `ExecutionPlan.usesFastKernels`.
    public static func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
        ldae_sgemm_pack_b(transB ? 1 : 0, k, n, b, ldb, dst)
    }

    /// The plain-loop reference of `sgemm` (double accumulation), kept beside it for the tests.
    public static func sgemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                      b: UnsafePointer<Float>, ldb: Int,
                                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                      bias: UnsafePointer<Float>? = nil) {
        ldae_sgemm_ref(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
    }

    // MARK: GELU (Sources/CKernels/elementwise.c), single-threaded over one chunk; callers check `ExecutionPlan.usesFastKernels`.

    /// out[n] = gelu(inp[n]) (out may alias inp).
    @inline(__always)
    static func geluForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
        ldae_gelu_forward(out, inp, n)
    }

    /// out[n] = gelu(x[n]), then x[n] = gelu'(x[n]).
    @inline(__always)
    static func geluForwardGrad(out: UnsafeMutablePointer<Float>, x: UnsafeMutablePointer<Float>, n: Int) {
        ldae_gelu_forward_grad(out, x, n)
    }

    /// d[n] *= gelu'(inp[n]).
    @inline(__always)
    static func geluBackwardInPlace(_ d: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
        ldae_gelu_backward_inplace(d, inp, n)
    }

    /// dinp[n] += dout[n] * gelu'(inp[n])  (ADDS).
    @inline(__always)
    static func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                             dout: UnsafePointer<Float>, n: Int) {
        ldae_gelu_backward(dinp, inp, dout, n)
    }

    // MARK: attention core (Sources/CKernels/attention.c), single-threaded over the (batch, head) pairs
    // p0..<p1 (p = b * heads + h); callers check `ExecutionPlan.usesFastKernels` and split the pairs over the cores.

    /// out [B, T, C] = softmax(Q K^T / sqrt(hd)) V per head, from qkv [B, T, 3C]; att [B, H, T, T] keeps the
    /// probabilities (nil: per-thread scratch, inference). gemm: the products' GEMM (0 the direct AVX2 tiles, 1 AVX-512
    /// fp32, 2 bf16; the caller checks the CPU).
    @inline(__always)
    package static func attentionForward(gemm: Int32 = 0, out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?,
                                 qkv: UnsafePointer<Float>, b: Int, t: Int, c: Int, heads: Int, p0: Int, p1: Int) {
        ldae_attention_forward_ex(gemm, out, att, qkv, b, t, c, heads, p0, p1)
    }

    /// dqkv [B, T, 3C] += (overwrite: =) the attention gradient from dout [B, T, C] and the saved att [B, H, T, T].
    @inline(__always)
    package static func attentionBackward(gemm: Int32 = 0, dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                  qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                                  b: Int, t: Int, c: Int, heads: Int, p0: Int, p1: Int, overwrite: Bool) {
        ldae_attention_backward_ex(gemm, dqkv, dout, qkv, att, b, t, c, heads, p0, p1, overwrite ? 1 : 0)
    }
}
