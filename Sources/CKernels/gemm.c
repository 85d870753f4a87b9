// SGEMM for the model's shapes (8192 x 192..768 x 192..768), BLIS-style:
//   for jc (NC columns of C): pack all of B[.., jc..] into NR-wide panels, a KC block after another
//     for ic (MC rows of C) / for pc (KC of the reduction): pack alpha * A[ic.., pc..] into MR-tall panels
//       for each MR x NR tile: the 6x16 AVX2 micro-kernel (12 ymm accumulators, k-loop of FMAs).
// Transposes are absorbed by the packing, so one micro-kernel serves NN, NT, TN and TT; a row-major, unscaled A is
// not packed at all (the micro-kernel reads its rows in place), and B may come prepacked (ldae_sgemm_pack_b).
// Buffers: the packed panels live in per-thread scratch, grown on demand and kept (no malloc per call).
#include "ldae_kernels.h"
#include "scratch.h"
#include "transpose_avx2.h"
#include "vmath_avx2.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// KC: the reduction block. Up to KC_WHOLE the reduction is one block, so a C tile is written once for the model's K
// of 192..768; beyond it, blocks of KC_SPLIT.
enum { MR = 6, NR = 16, KC_WHOLE = 1024, KC_SPLIT = 256, MC = 144, NC = 2048 };

int ldae_kernels_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

// Packing scratch (scratch.h): A block [MC/MR panels][KC][MR], B [NC/NR panels][K][NR].

// Packs one full panel of MR = 6 rows of a row-major A (row r at s + r * lda, reduction [0, kc)) into d[kc][6]:
// 8 reduction steps at a time, the 6 rows (and two zero rows) transposed in registers; column sums of the rows added
// into colsum[0, kc) (NULL: none) before alpha is applied.
__attribute__((target("avx2,fma")))
static void pack_a6_rows(const float *s, long lda, long kc, float alpha, float *d, float *colsum) {
    const __m256 va = _mm256_set1_ps(alpha);
    long p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int i = 0; i < MR; i++) r[i] = _mm256_loadu_ps(s + i * lda + p);
        if (colsum) {
            __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r[0], r[1]), _mm256_add_ps(r[2], r[3])),
                                     _mm256_add_ps(r[4], r[5]));
            _mm256_storeu_ps(colsum + p, _mm256_add_ps(_mm256_loadu_ps(colsum + p), t));
        }
        if (alpha != 1)
            for (int i = 0; i < MR; i++) r[i] = _mm256_mul_ps(va, r[i]);
        r[6] = r[7] = _mm256_setzero_ps();
        ldae_transpose8(r);
        for (int j = 0; j < 8; j++) {  // lanes 0..5 of r[j] = reduction step p + j: 4 + 2 floats
            float *o = d + (p + j) * MR;
            _mm_storeu_ps(o, _mm256_castps256_ps128(r[j]));
            _mm_store_sd((double *)(o + 4), _mm_castps_pd(_mm256_extractf128_ps(r[j], 1)));
        }
    }
    for (; p < kc; p++) {
        float cs = 0;
        for (int i = 0; i < MR; i++) { d[p * MR + i] = alpha * s[i * lda + p]; cs += s[i * lda + p]; }
        if (colsum) colsum[p] += cs;
    }
}

// colsum[0, kc) += the column sums of rows [0, rows) of a row-major A (row r at s + r * lda), for an A read in place
// (not packed): 6 rows at a time, summed in the same order as pack_a6_rows and pack_a's edge loop sum them, so the
// bias gradient has the same bits whether or not A is packed. Run on each A block just before its micro-kernels read
// it, so the rows it brings into cache are used again at once.
__attribute__((target("avx2,fma")))
static void colsum_rows(const float *s, long lda, long rows, long kc, float *colsum) {
    long r0 = 0;
    for (; r0 + MR <= rows; r0 += MR) {
        const float *x = s + r0 * lda;
        long p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(x + lda + p)),
                                                   _mm256_add_ps(_mm256_loadu_ps(x + 2 * lda + p), _mm256_loadu_ps(x + 3 * lda + p))),
                                     _mm256_add_ps(_mm256_loadu_ps(x + 4 * lda + p), _mm256_loadu_ps(x + 5 * lda + p)));
            _mm256_storeu_ps(colsum + p, _mm256_add_ps(_mm256_loadu_ps(colsum + p), t));
        }
        for (; p < kc; p++) {
            float cs = 0;
            for (int i = 0; i < MR; i++) cs += x[i * lda + p];
            colsum[p] += cs;
        }
    }
    for (long r = r0; r < rows; r++)
        for (long p = 0; p < kc; p++) colsum[p] += s[r * lda + p];
}

// Packs one full panel of MR = 6 rows of a transposed A (reduction step p: 6 contiguous floats at s + p * lda) into
// d[kc][6], 4 + 2 floats a step.
__attribute__((target("avx2,fma")))
static void pack_a6_cols(const float *s, long lda, long kc, float alpha, float *d) {
    const __m128 va = _mm_set1_ps(alpha);
    for (long p = 0; p < kc; p++) {
        const float *x = s + p * lda;
        _mm_storeu_ps(d + p * MR, _mm_mul_ps(va, _mm_loadu_ps(x)));
        _mm_store_sd((double *)(d + p * MR + 4), _mm_castps_pd(_mm_mul_ps(va, _mm_castpd_ps(_mm_load_sd((const double *)(x + 4))))));
    }
}

// Packs rows [i0, i0+mc) x reduction [p0, p0+kc) of alpha * op(A) into panels of MR rows:
// dst[panel][k][r] (zero rows past mc). colsum (NULL: none): colsum[p0 + p] += op(A)[i, p] over the packed rows
// (without alpha), while the values are in registers anyway. Full panels by pack_a6_rows (row-major A) and
// pack_a6_cols (transposed A, no column sums).
static void pack_a(int trans, const float *a, long lda, long i0, long mc, long p0, long kc, float alpha,
                   float *dst, float *colsum) {
    for (long ip = 0; ip < mc; ip += MR) {
        long rows = mc - ip < MR ? mc - ip : MR;
        float *d = dst + ip * kc;
        if (trans && rows == MR && !colsum) {
            pack_a6_cols(a + p0 * lda + i0 + ip, lda, kc, alpha, d);
        } else if (trans) {  // element (i, p) at a[p * lda + i]: MR contiguous floats per p
            for (long p = 0; p < kc; p++) {
                const float *s = a + (p0 + p) * lda + i0 + ip;
                long r = 0;
                float cs = 0;
                for (; r < rows; r++) { d[p * MR + r] = alpha * s[r]; cs += s[r]; }
                for (; r < MR; r++) d[p * MR + r] = 0;
                if (colsum) colsum[p0 + p] += cs;
            }
        } else if (rows == MR) {
            pack_a6_rows(a + (i0 + ip) * lda + p0, lda, kc, alpha, d, colsum ? colsum + p0 : NULL);
        } else {      // element (i, p) at a[i * lda + p]: read each row contiguously
            for (long r = 0; r < MR; r++) {
                if (r < rows) {
                    const float *s = a + (i0 + ip + r) * lda + p0;
                    for (long p = 0; p < kc; p++) d[p * MR + r] = alpha * s[p];
                    if (colsum)
                        for (long p = 0; p < kc; p++) colsum[p0 + p] += s[p];
                } else {
                    for (long p = 0; p < kc; p++) d[p * MR + r] = 0;
                }
            }
        }
    }
}

// Packs one full panel of NR = 16 columns of a transposed B (column c stored as the row s + c * ldb, reduction
// [0, kc)) into d[kc][16]: two 8x8 register transposes per 8 reduction steps.
__attribute__((target("avx2,fma")))
static void pack_b16_rows(const float *s, long ldb, long kc, float *d) {
    long p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int h = 0; h < 2; h++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + (h * 8 + i) * ldb + p);
            ldae_transpose8(r);
            for (int j = 0; j < 8; j++) _mm256_store_ps(d + (p + j) * NR + h * 8, r[j]);
        }
    }
    for (; p < kc; p++)
        for (int c = 0; c < NR; c++) d[p * NR + c] = s[c * ldb + p];
}

// Packs reduction [p0, p0+kc) x columns [j0, j0+nc) of op(B) into panels of NR columns:
// dst[panel][k][c] (zero columns past nc). Full panels of a transposed B by pack_b16_rows.
static void pack_b(int trans, const float *b, long ldb, long p0, long kc, long j0, long nc, float *dst) {
    for (long jp = 0; jp < nc; jp += NR) {
        long cols = nc - jp < NR ? nc - jp : NR;
        float *d = dst + jp * kc;
        if (!trans) {  // element (p, j) at b[p * ldb + j]: NR contiguous floats per p
            for (long p = 0; p < kc; p++) {
                const float *s = b + (p0 + p) * ldb + j0 + jp;
                long c = 0;
                if (cols == NR) { memcpy(d + p * NR, s, NR * sizeof(float)); continue; }
                for (; c < cols; c++) d[p * NR + c] = s[c];
                for (; c < NR; c++) d[p * NR + c] = 0;
            }
        } else if (cols == NR) {
            pack_b16_rows(b + (j0 + jp) * ldb + p0, ldb, kc, d);
        } else {       // element (p, j) at b[j * ldb + p]: read each stored row contiguously
            for (long c = 0; c < NR; c++) {
                if (c < cols) {
                    const float *s = b + (j0 + jp + c) * ldb + p0;
                    for (long p = 0; p < kc; p++) d[p * NR + c] = s[p];
                } else {
                    for (long p = 0; p < kc; p++) d[p * NR + c] = 0;
                }
            }
        }
    }
}

// C tile [mr x nr] (mr <= MR, nr <= NR) = beta * C + sum_p A[0..MR, p] (x) b[p][0..NR) (+ bias[0..nr) per row, when
// bias is not NULL), times the mul tile (same ldc) elementwise when mul is not NULL; when g is not NULL also g tile
// (same ldc) = gelu(C tile) (g may be C itself: gelu in place). A: lda == 0, a packed panel a[p][0..MR); else its rows
// in place, row r at a + r * lda (the rows past mr repeat row mr - 1, whose results are not stored).
// The tile's lines are prefetched first (read for beta != 0, or owned for the store): the tile is usually not in
// cache, and the k loop hides the latency.
__attribute__((target("avx2,fma")))
static void kernel_6x16(long kc, const float *a, long lda, const float *b, float *c, long ldc, float beta, long mr,
                        long nr, const float *bias, const float *mul, float *g) {
    for (long r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define LDAE_STEP(A0, A1, A2, A3, A4, A5)                                                                        \
    {                                                                                                              \
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);                                                 \
        __m256 x;                                                                                                  \
        x = _mm256_broadcast_ss(A0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);        \
        x = _mm256_broadcast_ss(A1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);        \
        x = _mm256_broadcast_ss(A2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);        \
        x = _mm256_broadcast_ss(A3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);        \
        x = _mm256_broadcast_ss(A4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);        \
        x = _mm256_broadcast_ss(A5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);        \
        b += NR;                                                                                                   \
    }
    if (lda == 0) {  // packed panel: a[p][0..MR)
        for (long p = 0; p < kc; p++, a += MR) LDAE_STEP(a + 0, a + 1, a + 2, a + 3, a + 4, a + 5)
    } else {         // rows of A in place, row r at a + r * lda; rows past mr read the last valid row (not stored)
        const float *a0 = a, *a1 = a + (mr > 1 ? 1 : 0) * lda, *a2 = a + (mr > 2 ? 2 : mr - 1) * lda,
                    *a3 = a + (mr > 3 ? 3 : mr - 1) * lda, *a4 = a + (mr > 4 ? 4 : mr - 1) * lda,
                    *a5 = a + (mr > 5 ? 5 : mr - 1) * lda;
        for (long p = 0; p < kc; p++) LDAE_STEP(a0 + p, a1 + p, a2 + p, a3 + p, a4 + p, a5 + p)
    }
#undef LDAE_STEP
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (bias != NULL) {
        float bb[NR] __attribute__((aligned(32))) = {0};
        for (long j = 0; j < nr; j++) bb[j] = bias[j];
        __m256 b0 = _mm256_load_ps(bb), b1 = _mm256_load_ps(bb + 8);
        for (long r = 0; r < MR; r++) { acc[r][0] = _mm256_add_ps(acc[r][0], b0); acc[r][1] = _mm256_add_ps(acc[r][1], b1); }
    }
    if (mr == MR && nr == NR) {
        __m256 vb = _mm256_set1_ps(beta);
        for (long r = 0; r < MR; r++) {
            float *row = c + r * ldc;
            __m256 v0 = acc[r][0], v1 = acc[r][1];
            if (beta == 1) {
                v0 = _mm256_add_ps(_mm256_loadu_ps(row), v0);
                v1 = _mm256_add_ps(_mm256_loadu_ps(row + 8), v1);
            } else if (beta != 0) {
                v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), v0);
                v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), v1);
            }
            if (mul) {
                v0 = _mm256_mul_ps(v0, _mm256_loadu_ps(mul + r * ldc));
                v1 = _mm256_mul_ps(v1, _mm256_loadu_ps(mul + r * ldc + 8));
            }
            _mm256_storeu_ps(row, v0);
            _mm256_storeu_ps(row + 8, v1);
            if (g) {
                _mm256_storeu_ps(g + r * ldc, gelu8(v0));
                _mm256_storeu_ps(g + r * ldc + 8, gelu8(v1));
            }
        }
        return;
    }
    float t[MR * NR] __attribute__((aligned(32)));
    for (long r = 0; r < MR; r++) {
        _mm256_store_ps(t + r * NR, acc[r][0]);
        _mm256_store_ps(t + r * NR + 8, acc[r][1]);
    }
    for (long r = 0; r < mr; r++) {
        float *row = c + r * ldc;
        for (long j = 0; j < nr; j++) {
            float v = beta == 0 ? t[r * NR + j] : beta * row[j] + t[r * NR + j];
            if (mul) v *= mul[r * ldc + j];
            row[j] = v;
            t[r * NR + j] = v;
        }
        if (g) {
            _mm256_store_ps(t + r * NR, gelu8(_mm256_load_ps(t + r * NR)));
            _mm256_store_ps(t + r * NR + 8, gelu8(_mm256_load_ps(t + r * NR + 8)));
            for (long j = 0; j < nr; j++) g[r * ldc + j] = t[r * NR + j];
        }
    }
}

void ldae_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha,
                const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc) {
    ldae_sgemm_ex(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
}

// The packed layout of op(B) [k, n]: column blocks of NC, each [round16(nc) / NR panels][k][NR] (reduction blocks of
// KC one after another inside a panel group: block pc at offset pc * round16(nc)). A full block holds NC * k floats,
// so block jc starts at jc * k.
static long packed_cols(long n) { return (n + NR - 1) / NR * NR; }

long ldae_sgemm_packed_b_size(long k, long n) {
    long full = n / NC * NC;
    return full * k + packed_cols(n - full) * k;
}

static void pack_b_block(int trans_b, const float *b, long ldb, long k, long jc, long nc, float *dst) {
    const long KC = k <= KC_WHOLE ? k : KC_SPLIT;
    long ncp = packed_cols(nc);
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        pack_b(trans_b, b, ldb, pc, kc, jc, nc, dst + pc * ncp);
    }
}

void ldae_sgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst) {
    for (long jc = 0; jc < n; jc += NC) pack_b_block(trans_b, b, ldb, k, jc, n - jc < NC ? n - jc : NC, dst + jc * k);
}

void ldae_sgemm_ex(int trans_a, int trans_b, long m, long n, long k, float alpha,
                   const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                   const ldae_gemm_extras *extras) {
    static const ldae_gemm_extras none = {0};
    const ldae_gemm_extras *x = extras ? extras : &none;
    const float *bias = x->bias, *mul_c = x->mul_c, *packed_b = x->packed_b;
    float *colsum_a = x->colsum_a, *gelu_out = x->gelu_out;
    // colsum_a: every element of op(A) is packed once in the first column block (jc == 0) and summed there; when
    // nothing is packed, sum here.
    if (colsum_a && (n <= 0 || k <= 0 || alpha == 0)) {
        for (long i = 0; i < m; i++)
            for (long p = 0; p < k; p++) colsum_a[p] += trans_a ? a[p * lda + i] : a[i * lda + p];
        colsum_a = NULL;
    }
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {  // C = (beta * C (+ bias)) (* mul_c), then gelu_out row by row
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++)
                c[i * ldc + j] = ((beta == 0 ? 0 : beta * c[i * ldc + j]) + (bias ? bias[j] : 0)) *
                                 (mul_c ? mul_c[i * ldc + j] : 1);
            if (gelu_out) ldae_gelu_forward(gelu_out + i * ldc, c + i * ldc, n);
        }
        return;
    }
    // B is packed whole for each NC column block (all of the reduction), so the C tiles of one MC row block
    // stay in cache while the reduction blocks accumulate into them.
    long nc_max = n < NC ? n : NC;
    const long KC = k <= KC_WHOLE ? k : KC_SPLIT;
    // A row-major and unscaled is read in place by the micro-kernel (its broadcasts take 6 rows at stride lda):
    // packing it would copy A for no gain in the k loop. Its column sums, when asked for
    // (a linear layer's bias gradient, with the input gradient), are then taken by colsum_rows, block by block.
    const int direct = !trans_a && alpha == 1;
    float *pa = direct ? NULL : ldae_thread_scratch(LDAE_SCRATCH_GEMM_A, (size_t)MC * (size_t)KC);
    float *scratch_b = packed_b ? NULL : ldae_thread_scratch(LDAE_SCRATCH_GEMM_B, (size_t)packed_cols(nc_max) * (size_t)k);
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        long ncp = packed_cols(nc);
        const float *pb = packed_b ? packed_b + jc * k : scratch_b;
        if (!packed_b) pack_b_block(trans_b, b, ldb, k, jc, nc, scratch_b);
        for (long ic = 0; ic < m; ic += MC) {
            long mc = m - ic < MC ? m - ic : MC;
            for (long pc = 0; pc < k; pc += KC) {
                long kc = k - pc < KC ? k - pc : KC;
                float bt = pc == 0 ? beta : 1;  // later reduction blocks accumulate
                const float *bs = pc == 0 && bias ? bias + jc : NULL;  // the bias is added once
                const float *pbk = pb + pc * ncp;
                float *gl = gelu_out && pc + kc >= k ? gelu_out : NULL;  // GELU of the final values only
                const float *ml = mul_c && pc + kc >= k ? mul_c : NULL;     // and the product with mul_c
                if (!direct) pack_a(trans_a, a, lda, ic, mc, pc, kc, alpha, pa, jc == 0 ? colsum_a : NULL);
                else if (jc == 0 && colsum_a) colsum_rows(a + ic * lda + pc, lda, mc, kc, colsum_a + pc);
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = mc - ir < MR ? mc - ir : MR;
                        long off = (ic + ir) * ldc + jc + jr;
                        const float *at = direct ? a + (ic + ir) * lda + pc : pa + ir * kc;
                        kernel_6x16(kc, at, direct ? lda : 0, pbk + jr * kc, c + off, ldc, bt, mr, nr,
                                    bs ? bs + jr : NULL, ml ? ml + off : NULL, gl ? gl + off : NULL);
                    }
                }
            }
        }
    }
}

void ldae_sgemm_ref(int trans_a, int trans_b, long m, long n, long k, float alpha,
                    const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                    const float *bias) {
    for (long i = 0; i < m; i++) {
        for (long j = 0; j < n; j++) {
            double s = 0;
            for (long p = 0; p < k; p++) {
                double x = trans_a ? a[p * lda + i] : a[i * lda + p];
                double y = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
            }
            double prev = beta == 0 ? 0 : (double)beta * c[i * ldc + j];
            c[i * ldc + j] = (float)(alpha * s + prev + (bias ? bias[j] : 0));
        }
    }
}
