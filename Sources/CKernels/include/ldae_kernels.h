// ldae's own hot loops in C, compiled for AVX2+FMA behind a runtime CPU check (the Swift side is SSE-only,
// since a -target-cpu flag would be unsafe on unknown machines). Every function here has a plain reference
// (the *_ref functions, or the Swift naive kernels) that the tests compare against.
#ifndef LDAE_KERNELS_H
#define LDAE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs the AVX2+FMA paths below (checked once); 0 means callers must use their fallback.
int ldae_kernels_avx2(void);

/// Single-threaded SGEMM, row-major: C[m,n] = alpha * op(A) op(B) + beta * C.
/// op(A) is [m,k] (A stored [m,lda] or, when trans_a, [k,lda]); op(B) is [k,n] (B stored [k,ldb] or, when
/// trans_b, [n,ldb]). beta == 0 never reads C (so C may hold garbage or NaN). Requires ldae_kernels_avx2().
void ldae_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha,
                const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc);

/// The optional extras of ldae_sgemm_ex (each NULL: none; a NULL extras pointer: none at all).
typedef struct {
    /// bias[n]: C[m,n] = alpha * op(A) op(B) + beta * C + bias, added in the kernel's write-back (a linear layer's
    /// output is written once and never read).
    const float *bias;
    /// colsum_a[k]: colsum_a[p] += sum over i of op(A)[i, p] (without alpha), taken while A is packed or, for an A
    /// read in place, block by block just before the micro-kernels read it (a linear layer's bias gradient comes
    /// with its input gradient, without another pass over dout from memory).
    float *colsum_a;
    /// gelu_out [m, n], row stride ldc: gelu_out = gelu(C) of the final C, from the kernel's registers (fc1 + GELU in
    /// one pass over the output). May equal c (GELU in place).
    float *gelu_out;
    /// mul_c [m, n], row stride ldc: C = (alpha * op(A) op(B) + beta * C + bias) * mul_c elementwise, in the
    /// write-back (the MLP's input gradient times GELU's derivative without another pass); before gelu_out. Must not
    /// overlap c.
    const float *mul_c;
    /// op(B) already packed by ldae_sgemm_pack_b (same k and n): b, ldb and trans_b are then ignored (a layer's
    /// weight packed once per forward, not once per chunk of rows).
    const float *packed_b;
} ldae_gemm_extras;

/// ldae_sgemm with the extras above (NULL: none).
void ldae_sgemm_ex(int trans_a, int trans_b, long m, long n, long k, float alpha,
                   const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                   const ldae_gemm_extras *extras);

/// Floats of ldae_sgemm_pack_b's output for op(B) [k, n].
long ldae_sgemm_packed_b_size(long k, long n);

/// Packs op(B) [k, n] (B stored [k, ldb] or, when trans_b, [n, ldb]) into dst (ldae_sgemm_packed_b_size floats,
/// 32-byte aligned), the layout ldae_sgemm_ex packs into on every call, for its extras.packed_b.
void ldae_sgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst);

/// The contract of ldae_sgemm_ex with bias only (no colsum_a, gelu_out, mul_c), as three plain loops with double accumulation (the test reference).
void ldae_sgemm_ref(int trans_a, int trans_b, long m, long n, long k, float alpha,
                    const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                    const float *bias);

// ---- gemm_avx512.c: the same contract (extras included) on AVX-512: 12x32 tiles of zmm accumulators, both operands
// packed, alpha applied in the write-back. Compiled with target attributes, so the library still loads and runs on
// AVX2-only CPUs; call only after the check.

/// 1 when this CPU (and the OS: xgetbv) runs AVX-512 F/BW/VL code, the ldae_sgemm512 functions (checked once).
int ldae_kernels_avx512(void);

/// 1 when it also has AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16): the ldae_sbgemm functions (checked once).
int ldae_kernels_avx512bf16(void);

/// The contract of ldae_sgemm_ex in fp32 on AVX-512 (requires ldae_kernels_avx512()). extras.packed_b must come from
/// ldae_sgemm512_pack_b (its own layout: panels of 32 columns), 64-byte aligned.
void ldae_sgemm512_ex(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                      const ldae_gemm_extras *extras);
/// Floats of ldae_sgemm512_pack_b's output for op(B) [k, n].
long ldae_sgemm512_packed_b_size(long k, long n);
/// op(B) [k, n] packed for ldae_sgemm512_ex's extras.packed_b (dst 64-byte aligned).
void ldae_sgemm512_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst);

/// bf16 compute (requires ldae_kernels_avx512bf16()): the contract of ldae_sgemm_ex with op(A) and op(B) rounded to
/// bf16 (round to nearest even, as ldae_bf16_round) while they are packed, the products accumulated in fp32
/// (vdpbf16ps: two products per lane and instruction), C, bias, beta, mul_c and gelu_out in fp32, colsum_a summed
/// in fp32 from the values before rounding. extras.packed_b must come from ldae_sbgemm_pack_b, 64-byte aligned.
/// Equals ldae_sbgemm_ref up to the order of the fp32 additions (and vdpbf16ps flushing denormal results to zero).
void ldae_sbgemm_ex(int trans_a, int trans_b, long m, long n, long k, float alpha,
                    const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                    const ldae_gemm_extras *extras);
/// Floats (4-byte words, each a pair of bf16) of ldae_sbgemm_pack_b's output for op(B) [k, n].
long ldae_sbgemm_packed_b_size(long k, long n);
/// op(B) [k, n] rounded to bf16 and packed for ldae_sbgemm_ex's extras.packed_b (dst 64-byte aligned).
void ldae_sbgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst);

/// out[n] = x[n] rounded to bf16 by the CPU's vcvtneps2bf16 (requires ldae_kernels_avx512bf16()): the tests compare
/// it with ldae_bf16_round bit for bit.
void ldae_bf16_round_avx512(const float *x, float *out, long n);

// ---- bf16_ref.c: the portable definition of the bf16 numerics (any CPU).

/// x rounded to the nearest bf16 (ties to even), returned as the fp32 of that value: NaN stays NaN (quiet), +-inf
/// stays, denormals become a zero of the same sign (as vcvtne2ps2bf16), values past the largest bf16 round to inf.
float ldae_bf16_round(float x);

/// The reference of ldae_sbgemm_ex, every extra honoured but packed_b (b is read): for each element,
/// s = sum over p of bf16(op(A)[i,p]) * bf16(op(B)[p,j]) in fp32 in order of p, then
/// C = (alpha * s + bias + beta * C) * mul_c, gelu_out = gelu(C) (libm erff); colsum_a in fp32.
void ldae_sbgemm_ref(int trans_a, int trans_b, long m, long n, long k, float alpha,
                     const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                     const ldae_gemm_extras *extras);

// ---- elementwise.c: GELU, exact erf form (same erf/exp approximations as the Swift VMath). Single-threaded over
// [0, n), any n (the n % 8 tail by masked loads/stores). Require ldae_kernels_avx2().

/// out[n] = gelu(inp[n]) = 0.5 inp (1 + erf(inp / sqrt 2)); out may alias inp.
void ldae_gelu_forward(float *out, const float *inp, long n);

/// out[n] = gelu(x[n]), then x[n] = gelu'(x[n]) in place: one erf for both (bit-identical to ldae_gelu_forward and
/// the derivative of ldae_gelu_backward_inplace).
void ldae_gelu_forward_grad(float *out, float *x, long n);

/// d[n] *= gelu'(inp[n])   (the backward into a fresh gradient buffer, in place).
void ldae_gelu_backward_inplace(float *d, const float *inp, long n);

/// dinp[n] += dout[n] * gelu'(inp[n])   (ADDS).
void ldae_gelu_backward(float *dinp, const float *inp, const float *dout, long n);

// ---- attention.c: multi-head self-attention core over qkv [B, T, 3C] (timm layout: q | k | v, head h in columns
// h*hd..<(h+1)*hd of each, hd = C / NH, scale = 1 / sqrt(hd)), for the (batch, head) pairs p in [p0, p1),
// p = b * NH + h. Single-threaded (the caller splits the pairs over its threads; pairs write disjoint slices).
// Any T, C, NH with C % NH == 0. Require ldae_kernels_avx2().

/// out [B, T, C]: out[b, :, h*hd..] = softmax(scale Q_bh K_bh^T) V_bh (written, not added).
/// att [B, NH, T, T]: the probabilities, kept for backward; NULL = per-thread scratch (inference).
void ldae_attention_forward(float *out, float *att, const float *qkv, long B, long T, long C, long NH,
                            long p0, long p1);

/// dqkv [B, T, 3C] from dout [B, T, C], qkv [B, T, 3C] and the saved att [B, NH, T, T]:
/// dP = dO V^T; dV += P^T dO; dS = P * (dP - rowsum(dP * P)) * scale; dQ += dS K; dK += dS^T Q.
/// ADDS into dqkv; overwrite != 0: = instead (dqkv may then hold garbage).
void ldae_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                             long B, long T, long C, long NH, long p0, long p1, int overwrite);

/// The two passes above with each product on ldae's AVX-512 GEMMs: gemm 0 = the direct AVX2 tiles (the functions
/// above), 1 = ldae_sgemm512_ex (requires ldae_kernels_avx512()), 2 = ldae_sbgemm_ex, bf16 products with fp32
/// accumulation (requires ldae_kernels_avx512bf16()); the softmax and its backward in fp32 either way.
void ldae_attention_forward_ex(int gemm, float *out, float *att, const float *qkv, long B, long T, long C, long NH,
                               long p0, long p1);
void ldae_attention_backward_ex(int gemm, float *dqkv, const float *dout, const float *qkv, const float *att, long B,
                                long T, long C, long NH, long p0, long p1, int overwrite);

#ifdef __cplusplus
}
#endif
#endif
