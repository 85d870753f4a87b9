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

#ifdef __cplusplus
}
#endif
#endif
