// Multi-head self-attention core (timm Attention without the qkv/proj linears), for a range of (batch, head) pairs:
//   qkv [B, T, 3C] rows = (q all heads | k all heads | v all heads); head h uses columns h*hd..<(h+1)*hd, hd = C/NH
//   forward:  P = softmax(scale Q K^T) [T, T] per pair (kept in att [B, NH, T, T]),  out[b, :, h*hd..] = P V
//   backward: dP = dO V^T; dV += P^T dO; dS = P * (dP - rowsum(dP * P)) * scale; dQ += dS K; dK += dS^T Q
// Each product is one small GEMM done here directly rather than by ldae_sgemm, which packs both operands on every
// call, too much overhead for products this small (docs/benchmarks.md): the right-hand operand is copied (transposed when needed, 8x8 register blocks) into a zero-padded,
// aligned [k][n16] panel, the left-hand one is broadcast straight from its strided rows, and a 6x16 register tile
// (12 ymm accumulators) runs the k loop of FMAs; column tails by masked loads/stores, so the padding is never stored.
// Single-threaded; the Swift caller (Attention.swift) splits the pairs over the cores. Requires ldae_kernels_avx2().
#include "ldae_kernels.h"
#include "scratch.h"
#include "transpose_avx2.h"
#include "vmath_avx2.h"

#include <math.h>
#include <stdlib.h>

enum { MR = 6, NR = 16 };

// Per-thread scratch (scratch.h): the panels, and the probabilities when att is NULL.
static float *scratch(size_t floats) { return ldae_thread_scratch(LDAE_SCRATCH_ATTENTION, floats); }

static long round16(long x) { return (x + NR - 1) / NR * NR; }

// dst[rows, ldd] = src[rows, lds] for cols columns, zero in [cols, ldd).
static void pack_rows(float *dst, long ldd, const float *src, long lds, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        long c = 0;
        for (; c < cols; c++) dst[r * ldd + c] = src[r * lds + c];
        for (; c < ldd; c++) dst[r * ldd + c] = 0;
    }
}

// 8x8 block transpose: d[c * ldd + r] = alpha * s[r * lds + c] for r, c < 8.
LDAE_AVX2_INLINE void transpose8x8(float *d, long ldd, const float *s, long lds, __m256 alpha) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * lds);
    ldae_transpose8(r);
    for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + i * ldd, _mm256_mul_ps(alpha, r[i]));
}

// dst[cols, ldd] = alpha * transpose(src[rows, lds]) (cols columns of src), zero in [rows, ldd).
// 8x8 register blocks, the edges by scalar loops.
LDAE_AVX2 static void pack_transposed(float *dst, long ldd, const float *src, long lds, long rows, long cols,
                                      float alpha) {
    const long r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    const __m256 va = _mm256_set1_ps(alpha);
    for (long r = 0; r < r8; r += 8)
        for (long c = 0; c < c8; c += 8) transpose8x8(dst + c * ldd + r, ldd, src + r * lds + c, lds, va);
    for (long r = 0; r < rows; r++)
        for (long c = r < r8 ? c8 : 0; c < cols; c++) dst[c * ldd + r] = alpha * src[r * lds + c];
    for (long c = 0; c < cols; c++)
        for (long r = rows; r < ldd; r++) dst[c * ldd + r] = 0;
}

// C tile [mr, nr] (mr <= MR, nr <= NR) (= or +=) sum_p A[i, p] B[p, 0..NR):
// A element (i, p) at a[i * ars + p * acs]; b rows [k][ldb] readable for 16 columns (a packed panel, zero past the
// valid columns, or, when n % 16 == 0, the operand's own strided rows; unaligned loads).
LDAE_AVX2_INLINE void tile(const int mr, long k, const float *a, long ars, long acs, const float *b, long ldb,
                           float *c, long ldc, long nr, int accumulate) {
    __m256 c0[MR], c1[MR];
    for (int r = 0; r < mr; r++) { c0[r] = _mm256_setzero_ps(); c1[r] = _mm256_setzero_ps(); }
    for (long p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(b + p * ldb), b1 = _mm256_loadu_ps(b + p * ldb + 8);
        const float *ap = a + p * acs;
        for (int r = 0; r < mr; r++) {
            __m256 x = _mm256_broadcast_ss(ap + r * ars);
            c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
        }
    }
    if (nr == NR) {
        for (int r = 0; r < mr; r++) {
            float *row = c + r * ldc;
            if (accumulate) {
                c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(row));
                c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(row + 8));
            }
            _mm256_storeu_ps(row, c0[r]);
            _mm256_storeu_ps(row + 8, c1[r]);
        }
    } else {
        __m256i m0 = ldae_tail_mask(nr < 8 ? nr : 8), m1 = ldae_tail_mask(nr > 8 ? nr - 8 : 0);
        for (int r = 0; r < mr; r++) {
            float *row = c + r * ldc;
            if (accumulate) {
                c0[r] = _mm256_add_ps(c0[r], _mm256_maskload_ps(row, m0));
                c1[r] = _mm256_add_ps(c1[r], _mm256_maskload_ps(row + 8, m1));
            }
            _mm256_maskstore_ps(row, m0, c0[r]);
            _mm256_maskstore_ps(row + 8, m1, c1[r]);
        }
    }
}

// C[m, n] (= or, when accumulate, +=) A B: A element (i, p) at a[i * ars + p * acs] (row-major: ars = lda, acs = 1;
// transposed: ars = 1, acs = lda); b [k][ldb]: the panel from pack_rows / pack_transposed (ldb = round16(n)), or the
// operand itself when n % 16 == 0 (see rhs); C row-major [m, ldc].
LDAE_AVX2 static void small_gemm(long m, long n, long k, const float *a, long ars, long acs, const float *b, long ldb,
                                 float *c, long ldc, int accumulate) {
    // Row tiles outer: the 6 rows of A stay in L1 while the whole panel (k x n16 floats, 16 KB at 64 x 64) streams.
    long i = 0;
    for (; i + MR <= m; i += MR)
        for (long j = 0; j < n; j += NR)
            tile(MR, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc, n - j < NR ? n - j : NR, accumulate);
    if (i == m) return;
    const float *ai = a + i * ars;
    for (long j = 0; j < n; j += NR) {
        long nr = n - j < NR ? n - j : NR;
        float *ci = c + i * ldc + j;
        switch (m - i) {
            case 1: tile(1, k, ai, ars, acs, b + j, ldb, ci, ldc, nr, accumulate); break;
            case 2: tile(2, k, ai, ars, acs, b + j, ldb, ci, ldc, nr, accumulate); break;
            case 3: tile(3, k, ai, ars, acs, b + j, ldb, ci, ldc, nr, accumulate); break;
            case 4: tile(4, k, ai, ars, acs, b + j, ldb, ci, ldc, nr, accumulate); break;
            default: tile(5, k, ai, ars, acs, b + j, ldb, ci, ldc, nr, accumulate); break;
        }
    }
}

// The right-hand operand src[k, n] (row stride lds) as small_gemm's b: src itself when n % 16 == 0 (every 16-column
// tile full, so no read past the valid columns), else packed into panel [k][round16(n)]. Returns b; *ldb its stride.
static const float *rhs(float *panel, const float *src, long lds, long k, long n, long *ldb) {
    if (n % NR == 0) { *ldb = lds; return src; }
    *ldb = round16(n);
    pack_rows(panel, *ldb, src, lds, k, n);
    return panel;
}

LDAE_AVX2_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

LDAE_AVX2_INLINE float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// r[n] = softmax(r[n]) in place (max-subtracted).
LDAE_AVX2 static void softmax_row(float *r, long n) {
    long tail = n % 8, full = n - tail;
    __m256i m = ldae_tail_mask(tail);
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mx = ninf;
    for (long j = 0; j < full; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(r + j));
    if (tail) mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(r + full, m), _mm256_castsi256_ps(m)));
    __m256 vmax = _mm256_set1_ps(hmax8(mx));
    __m256 sum = _mm256_setzero_ps();
    for (long j = 0; j < full; j += 8) {
        __m256 e = ldae_exp8(_mm256_sub_ps(_mm256_loadu_ps(r + j), vmax));
        _mm256_storeu_ps(r + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (tail) {
        __m256 e = _mm256_and_ps(ldae_exp8(_mm256_sub_ps(_mm256_maskload_ps(r + full, m), vmax)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(r + full, m, e);
        sum = _mm256_add_ps(sum, e);
    }
    __m256 inv = _mm256_set1_ps(1.0f / hsum8(sum));
    for (long j = 0; j < full; j += 8) _mm256_storeu_ps(r + j, _mm256_mul_ps(_mm256_loadu_ps(r + j), inv));
    if (tail) _mm256_maskstore_ps(r + full, m, _mm256_mul_ps(_mm256_maskload_ps(r + full, m), inv));
}

// d[n] = p[n] * (d[n] - dot(p, d)) * scale in place (softmax backward, with the score scale folded in).
LDAE_AVX2 static void softmax_backward_row(float *d, const float *p, long n, float scale) {
    long tail = n % 8, full = n - tail;
    __m256i m = ldae_tail_mask(tail);
    __m256 acc = _mm256_setzero_ps();
    for (long j = 0; j < full; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + j), _mm256_loadu_ps(d + j), acc);
    if (tail) acc = _mm256_fmadd_ps(_mm256_maskload_ps(p + full, m), _mm256_maskload_ps(d + full, m), acc);
    __m256 s = _mm256_set1_ps(hsum8(acc)), vs = _mm256_set1_ps(scale);
    for (long j = 0; j < full; j += 8) {
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p + j), _mm256_sub_ps(_mm256_loadu_ps(d + j), s)), vs);
        _mm256_storeu_ps(d + j, v);
    }
    if (tail) {
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(p + full, m),
                                               _mm256_sub_ps(_mm256_maskload_ps(d + full, m), s)), vs);
        _mm256_maskstore_ps(d + full, m, v);
    }
}

// Prefetch the cache lines holding src[0..<hd].
LDAE_AVX2_INLINE void prefetch_row(const float *src, long hd) {
    for (long c = 0; c < hd; c += 16) _mm_prefetch((const char *)(src + c), _MM_HINT_T0);
    _mm_prefetch((const char *)(src + hd - 1), _MM_HINT_T0);
}

LDAE_AVX2 void ldae_attention_forward(float *out, float *att, const float *qkv, long B, long T, long C, long NH,
                                      long p0, long p1) {
    (void)B;
    const long hd = C / NH, C3 = 3 * C, tp = round16(T), hdp = round16(hd);
    const float scale = 1.0f / sqrtf((float)hd);
    // scratch: kt [hd][tp] | vp [T][hdp] | s [T][T] (only when att is NULL)
    float *kt = scratch((size_t)(hd * tp + T * hdp + (att ? 0 : T * T)));
    float *vp = kt + hd * tp;
    for (long pair = p0; pair < p1; pair++) {
        const long b = pair / NH, h = pair % NH;
        const float *q = qkv + b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
        float *s = att ? att + pair * T * T : vp + T * hdp;
        pack_transposed(kt, tp, k, C3, T, hd, scale);  // kt[e][j] = scale * K[j][e]
        long ldv;
        const float *vb = rhs(vp, v, C3, T, hd, &ldv);
        small_gemm(T, T, hd, q, C3, 1, kt, tp, s, T, 0);           // s[T, T] = scale Q K^T
        // While the softmax runs, fetch the next pair's q, k, v rows (the hardware prefetcher misses the strided rows).
        const float *nq = pair + 1 < p1 ? qkv + (pair + 1) / NH * T * C3 + (pair + 1) % NH * hd : NULL;
        for (long i = 0; i < T; i++) {
            if (nq) {
                const float *r = nq + i * C3;
                prefetch_row(r, hd); prefetch_row(r + C, hd); prefetch_row(r + 2 * C, hd);
            }
            softmax_row(s + i * T, T);
        }
        small_gemm(T, hd, T, s, T, 1, vb, ldv, out + b * T * C + h * hd, C, 0);  // out_bh[T, hd] = P V
    }
}

LDAE_AVX2 void ldae_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                                       long B, long T, long C, long NH, long p0, long p1, int overwrite) {
    (void)B;
    const long hd = C / NH, C3 = 3 * C, tp = round16(T), hdp = round16(hd);
    const float scale = 1.0f / sqrtf((float)hd);
    const int acc = !overwrite;
    // scratch: vt [hd][tp] | dop, kp, qp [T][hdp] each | da [T][T]
    float *vt = scratch((size_t)(hd * tp + 3 * T * hdp + T * T));
    float *dop = vt + hd * tp, *kp = dop + T * hdp, *qp = kp + T * hdp, *da = qp + T * hdp;
    for (long pair = p0; pair < p1; pair++) {
        const long b = pair / NH, h = pair % NH;
        const long off = b * T * C3 + h * hd;
        const float *q = qkv + off, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
        const float *p = att + pair * T * T;
        const float *dO = dout + b * T * C + h * hd;
        pack_transposed(vt, tp, v, C3, T, hd, 1.0f);  // vt[e][j] = V[j][e]
        long ldo, ldk, ldq;
        const float *ob = rhs(dop, dO, C, T, hd, &ldo), *kb = rhs(kp, k, C3, T, hd, &ldk), *qb = rhs(qp, q, C3, T, hd, &ldq);
        small_gemm(T, T, hd, dO, C, 1, vt, tp, da, T, 0);     // dP[T, T] = dO V^T
        small_gemm(T, hd, T, p, 1, T, ob, ldo, dv, C3, acc);  // dV (+)= P^T dO
        // dS, scaled; meanwhile fetch the next pair's q, k, v and dO rows
        const long nb = (pair + 1) / NH, nh = (pair + 1) % NH;
        for (long i = 0; i < T; i++) {
            if (pair + 1 < p1) {
                const float *r = qkv + (nb * T + i) * C3 + nh * hd;
                prefetch_row(r, hd); prefetch_row(r + C, hd); prefetch_row(r + 2 * C, hd);
                prefetch_row(dout + (nb * T + i) * C + nh * hd, hd);
            }
            softmax_backward_row(da + i * T, p + i * T, T, scale);
        }
        small_gemm(T, hd, T, da, T, 1, kb, ldk, dq, C3, acc);  // dQ (+)= dS K
        small_gemm(T, hd, T, da, 1, T, qb, ldq, dk, C3, acc);  // dK (+)= dS^T Q
    }
}

// ---- the same passes with each product on ldae's AVX-512 GEMM (gemm 1: fp32, ldae_sgemm512_ex; gemm 2: bf16 inputs,
// ldae_sbgemm_ex), the softmax and its backward as above in fp32. Products in the order and with the operands of the
// direct passes; alpha = scale on Q K^T and in the softmax backward as there.

typedef void (*gemm_ex_fn)(int, int, long, long, long, float, const float *, long, const float *, long, float, float *,
                           long, const ldae_gemm_extras *);

static gemm_ex_fn gemm_of(int gemm) { return gemm == 2 ? ldae_sbgemm_ex : ldae_sgemm512_ex; }

LDAE_AVX2 static void attention_forward_gemm(int gemm, float *out, float *att, const float *qkv, long T, long C, long NH,
                                             long p0, long p1) {
    const long hd = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    gemm_ex_fn g = gemm_of(gemm);
    float *sbuf = att ? NULL : scratch((size_t)(T * T));
    for (long pair = p0; pair < p1; pair++) {
        const long b = pair / NH, h = pair % NH;
        const float *q = qkv + b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
        float *s = att ? att + pair * T * T : sbuf;
        g(0, 1, T, T, hd, scale, q, C3, k, C3, 0, s, T, NULL);                       // s[T, T] = scale Q K^T
        for (long i = 0; i < T; i++) softmax_row(s + i * T, T);
        g(0, 0, T, hd, T, 1, s, T, v, C3, 0, out + b * T * C + h * hd, C, NULL);     // out_bh[T, hd] = P V
    }
}

LDAE_AVX2 static void attention_backward_gemm(int gemm, float *dqkv, const float *dout, const float *qkv, const float *att,
                                              long T, long C, long NH, long p0, long p1, int overwrite) {
    const long hd = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd), beta = overwrite ? 0 : 1;
    gemm_ex_fn g = gemm_of(gemm);
    float *da = scratch((size_t)(T * T));
    for (long pair = p0; pair < p1; pair++) {
        const long b = pair / NH, h = pair % NH;
        const long off = b * T * C3 + h * hd;
        const float *q = qkv + off, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
        const float *p = att + pair * T * T, *dO = dout + b * T * C + h * hd;
        g(0, 1, T, T, hd, 1, dO, C, v, C3, 0, da, T, NULL);       // dP[T, T] = dO V^T
        g(1, 0, T, hd, T, 1, p, T, dO, C, beta, dv, C3, NULL);    // dV (+)= P^T dO
        for (long i = 0; i < T; i++) softmax_backward_row(da + i * T, p + i * T, T, scale);
        g(0, 0, T, hd, T, 1, da, T, k, C3, beta, dq, C3, NULL);   // dQ (+)= dS K
        g(1, 0, T, hd, T, 1, da, T, q, C3, beta, dk, C3, NULL);   // dK (+)= dS^T Q
    }
}

void ldae_attention_forward_ex(int gemm, float *out, float *att, const float *qkv, long B, long T, long C, long NH,
                               long p0, long p1) {
    if (gemm == 0) ldae_attention_forward(out, att, qkv, B, T, C, NH, p0, p1);
    else attention_forward_gemm(gemm, out, att, qkv, T, C, NH, p0, p1);
}

void ldae_attention_backward_ex(int gemm, float *dqkv, const float *dout, const float *qkv, const float *att, long B,
                                long T, long C, long NH, long p0, long p1, int overwrite) {
    if (gemm == 0) ldae_attention_backward(dqkv, dout, qkv, att, B, T, C, NH, p0, p1, overwrite);
    else attention_backward_gemm(gemm, dqkv, dout, qkv, att, T, C, NH, p0, p1, overwrite);
}
