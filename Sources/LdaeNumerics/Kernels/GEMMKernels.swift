// The GEMMs a linear layer can take, one contract (`FastKernels.sgemm`'s: C = alpha op(A) op(B) + beta C + bias,
// times mulC, colsumA, geluOut, packedB), chosen by the ExecutionPlan (`ExecutionPlan.gemm`) and checked against the
// CPU at run time: OpenBLAS + loops, ldae's AVX2 6x16 kernel (CKernels/gemm.c), its AVX-512 12x32 fp32 kernel and
// its AVX512-BF16 kernel (CKernels/gemm_avx512.c; bf16 inputs, fp32 accumulation), and the portable bf16
// reference that defines the bf16 numerics on every CPU (CKernels/bf16_ref.c).
import CKernels

public enum GEMMKernel: String, Sendable, CaseIterable {
    case portable, avx2, avx512, bf16

    /// Whether this CPU runs it (checked once per process).
    public var available: Bool {
        switch self {
        case .portable: return true
        case .avx2: return FastKernels.available
        case .avx512: return GEMMKernel.hasAVX512
        case .bf16: return GEMMKernel.hasBF16
        }
    }
    private static let hasAVX512 = ldae_kernels_avx512() != 0
    private static let hasBF16 = ldae_kernels_avx512bf16() != 0

    /// The number format of its products.
    public var precision: Precision { self == .bf16 ? .bf16 : .fp32 }

    /// The single-threaded GEMM (the caller has checked `available`). packedB: from `packB` of the same kernel.
    @inline(__always)
    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                     bias: UnsafePointer<Float>? = nil, colsumA: UnsafeMutablePointer<Float>? = nil,
                     geluOut: UnsafeMutablePointer<Float>? = nil, mulC: UnsafePointer<Float>? = nil,
                     packedB: UnsafePointer<Float>? = nil) {
        var x = ldae_gemm_extras(bias: bias, colsum_a: colsumA, gelu_out: geluOut, mul_c: mulC, packed_b: packedB)
        let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
        switch self {
        case .portable, .avx2:
            FastKernels.sgemm(fast: self == .avx2, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, colsumA: colsumA, geluOut: geluOut,
                              mulC: mulC, packedB: packedB)
        case .avx512: ldae_sgemm512_ex(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &x)
        case .bf16: ldae_sbgemm_ex(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &x)
        }
    }

    /// Whether `packB` exists for it (the portable path reads B as it is).
    public var packs: Bool { self != .portable }

    /// Floats (4-byte words) of `packB`'s output for op(B) [k, n].
    public func packedBSize(k: Int, n: Int) -> Int {
        switch self {
        case .portable: return 0
        case .avx2: return ldae_sgemm_packed_b_size(k, n)
        case .avx512: return ldae_sgemm512_packed_b_size(k, n)
        case .bf16: return ldae_sbgemm_packed_b_size(k, n)
        }
    }

    /// op(B) [k, n] packed once into dst (`packedBSize` floats, 64-byte aligned) for `gemm(packedB:)` of this kernel.
    public func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
        let tb: Int32 = transB ? 1 : 0
        switch self {
        case .portable: return
        case .avx2: ldae_sgemm_pack_b(tb, k, n, b, ldb, dst)
        case .avx512: ldae_sgemm512_pack_b(tb, k, n, b, ldb, dst)
        case .bf16: ldae_sbgemm_pack_b(tb, k, n, b, ldb, dst)
        }
    }
}

/// The bf16 numerics, defined in portable C (any CPU).
public enum BF16 {
    /// x rounded to the nearest bf16 (ties to even; denormals to a signed zero, NaN quiet), as an fp32 value.
    public static func round(_ x: Float) -> Float { ldae_bf16_round(x) }

    /// The same rounding by the CPU's vcvtneps2bf16 (requires `GEMMKernel.bf16.available`).
    public static func roundByCPU(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        ldae_bf16_round_avx512(x, &out, x.count)
        return out
    }

    /// The reference of `GEMMKernel.bf16.gemm` (every extra but packedB): both inputs rounded by `round`, products
    /// summed in fp32 in order of the reduction, the epilogue in fp32.
    public static func gemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                                     colsumA: UnsafeMutablePointer<Float>? = nil, geluOut: UnsafeMutablePointer<Float>? = nil,
                                     mulC: UnsafePointer<Float>? = nil) {
        var x = ldae_gemm_extras(bias: bias, colsum_a: colsumA, gelu_out: geluOut, mul_c: mulC, packed_b: nil)
        ldae_sbgemm_ref(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &x)
    }
}
