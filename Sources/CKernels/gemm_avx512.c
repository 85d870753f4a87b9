// The AVX-512 GEMMs, fp32 (ldae_sgemm512_ex) and bf16 inputs with fp32 accumulation (ldae_sbgemm_ex), the contract
// of ldae_sgemm_ex (gemm.c) with its extras. BLIS-style like gemm.c:
//   for jc (NC5 columns of C): pack all of op(B)[.., jc..] into NR5-wide panels (or take them prepacked)
//     for ic (MC5 rows) / for pc (KC5 of the reduction): pack op(A) into MR5-tall panels (A is always packed here:
//     bf16 needs the conversion, fp32 the 12-row panels), column sums on the way
//       for each 12 x 32 tile: the micro-kernel, 24 zmm accumulators; fp32: one FMA per step and half tile,
//       bf16: one vdpbf16ps per pair of steps (two products added into each fp32 lane).
// alpha is applied in the write-back (alpha * acc + bias, then + beta * C, times mul_c, then GELU), in fp32. The
// functions are compiled for AVX-512 only (target attributes), so the library still runs on AVX2-only CPUs; callers
// check ldae_kernels_avx512() / ldae_kernels_avx512bf16() first.
#include "ldae_kernels.h"
#include "pack_avx512.h"
#include "scratch.h"

#include <cpuid.h>

// ---- run-time detection: the instructions (cpuid leaf 7) and the OS saving the opmask and zmm state (xgetbv)

static int os_saves_zmm(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;   // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
}

int ldae_kernels_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        int ok = ldae_kernels_avx2() && __get_cpuid_count(7, 0, &a, &b, &c, &d);
        ok = ok && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) && os_saves_zmm();
        cached = ok;
    }
    return cached;
}

int ldae_kernels_avx512bf16(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a0, b, c, d, a1 = 0;
        int ok = ldae_kernels_avx512() && __get_cpuid_count(7, 0, &a0, &b, &c, &d) && a0 >= 1;
        ok = ok && __get_cpuid_count(7, 1, &a1, &b, &c, &d) && (a1 & (1u << 5));   // AVX512_BF16
        cached = ok;
    }
    return cached;
}

LDAE_BF16 void ldae_bf16_round_avx512(const float *x, float *out, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = ldae_mask16(n - i);
        __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
        __m512 v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

// ---- the micro-kernels

// C tile [mr x nr] (mr <= 12, nr <= 32) from the accumulators: alpha * acc + bias, + beta * C (beta 0: C not read),
// times the mul tile, stored; then g tile = gelu(C tile) (may be C). Tiles share ldc. Masked, so edges take the same
// arithmetic as full tiles.
LDAE_AVX512_INLINE void store_tile(__m512 acc[MR5][2], float *c, long ldc, float alpha, float beta, long mr, long nr,
                                   const float *bias, const float *mul, float *g) {
    const __mmask16 mk[2] = {ldae_mask16(nr), ldae_mask16(nr - 16)};
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 bb[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    if (bias) { bb[0] = _mm512_maskz_loadu_ps(mk[0], bias); bb[1] = _mm512_maskz_loadu_ps(mk[1], bias + 16); }
    for (long r = 0; r < MR5; r++) {
        if (r >= mr) break;
        for (int h = 0; h < 2; h++) {
            if (!mk[h]) continue;
            long o = r * ldc + h * 16;
            __m512 v = alpha == 1 ? acc[r][h] : _mm512_mul_ps(va, acc[r][h]);
            if (bias) v = _mm512_add_ps(v, bb[h]);
            if (beta == 1) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[h], c + o), v);
            else if (beta != 0) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[h], c + o), v);
            if (mul) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk[h], mul + o));
            _mm512_mask_storeu_ps(c + o, mk[h], v);
            if (g) _mm512_mask_storeu_ps(g + o, mk[h], ldae_gelu16(v));
        }
    }
}

LDAE_AVX512_INLINE void prefetch_tile(const float *c, long ldc, long mr) {
    for (long r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + NR5 - 1), _MM_HINT_T0);
    }
}

// a: a packed panel [kc][12] floats; b: a packed panel [kc][32] floats.
LDAE_AVX512 static void kernel_f32(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta,
                                   long mr, long nr, const float *bias, const float *mul, float *g) {
    prefetch_tile(c, ldc, mr);
    __m512 acc[MR5][2];
    for (int r = 0; r < MR5; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++, a += MR5, b += NR5) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        for (int r = 0; r < MR5; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    store_tile(acc, c, ldc, alpha, beta, mr, nr, bias, mul, g);
}

// a: a packed panel [kp][12] pair words; b: a packed panel [kp][32] pair words.
LDAE_BF16 static void kernel_bf16(long kp, const unsigned *a, const unsigned *b, float *c, long ldc, float alpha,
                                  float beta, long mr, long nr, const float *bias, const float *mul, float *g) {
    prefetch_tile(c, ldc, mr);
    __m512 acc[MR5][2];
    for (int r = 0; r < MR5; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long p = 0; p < kp; p++, a += MR5, b += NR5) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
        for (int r = 0; r < MR5; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[r]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        }
    }
    store_tile(acc, c, ldc, alpha, beta, mr, nr, bias, mul, g);
}

// ---- the packed layout of op(B) [k, n]: column blocks of NC5, each [round32(nc) / 32 panels][words(k)][32], the
// reduction blocks one after another (block pc at words(pc) * round32(nc)); words(k) = k (fp32) or ceil(k / 2) (bf16,
// every block but the last even). Block jc starts at jc * words(k).

static long cols32(long n) { return (n + NR5 - 1) / NR5 * NR5; }
static long words(int bf16, long k) { return bf16 ? (k + 1) / 2 : k; }

static long packed_size(int bf16, long k, long n) {
    long full = n / NC5 * NC5;
    return (full + cols32(n - full)) * words(bf16, k);
}

static void pack_b_block(int bf16, int trans_b, const float *b, long ldb, long k, long jc, long nc, float *dst) {
    const long KC = k <= KC5_WHOLE ? k : KC5_SPLIT;
    long ncp = cols32(nc);
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        ldae_pack_b512(bf16, trans_b, b, ldb, pc, kc, jc, nc, dst + words(bf16, pc) * ncp);
    }
}

static void pack_b_all(int bf16, int trans_b, long k, long n, const float *b, long ldb, float *dst) {
    for (long jc = 0; jc < n; jc += NC5)
        pack_b_block(bf16, trans_b, b, ldb, k, jc, n - jc < NC5 ? n - jc : NC5, dst + jc * words(bf16, k));
}

long ldae_sgemm512_packed_b_size(long k, long n) { return packed_size(0, k, n); }
long ldae_sbgemm_packed_b_size(long k, long n) { return packed_size(1, k, n); }
void ldae_sgemm512_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst) { pack_b_all(0, trans_b, k, n, b, ldb, dst); }
void ldae_sbgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *dst) { pack_b_all(1, trans_b, k, n, b, ldb, dst); }

// ---- the driver

static void gemm512(int bf16, int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, float beta, float *c, long ldc, const ldae_gemm_extras *extras) {
    static const ldae_gemm_extras none = {0};
    const ldae_gemm_extras *x = extras ? extras : &none;
    const float *bias = x->bias, *mul_c = x->mul_c, *packed_b = x->packed_b;
    float *colsum_a = x->colsum_a, *gelu_out = x->gelu_out;
    if (k <= 0 || alpha == 0 || n <= 0) {   // no product: the same early outs as ldae_sgemm_ex
        ldae_sgemm_ex(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras);
        return;
    }
    if (m <= 0) return;
    const long KC = k <= KC5_WHOLE ? k : KC5_SPLIT, kw = words(bf16, k);
    long nc_max = n < NC5 ? n : NC5;
    float *pa = ldae_thread_scratch(LDAE_SCRATCH_GEMM_A, (size_t)MC5 * (size_t)words(bf16, KC));
    float *scratch_b = packed_b ? NULL : ldae_thread_scratch(LDAE_SCRATCH_GEMM_B, (size_t)cols32(nc_max) * (size_t)kw);
    for (long jc = 0; jc < n; jc += NC5) {
        long nc = n - jc < NC5 ? n - jc : NC5, ncp = cols32(nc);
        const float *pb = packed_b ? packed_b + jc * kw : scratch_b;
        if (!packed_b) pack_b_block(bf16, trans_b, b, ldb, k, jc, nc, scratch_b);
        for (long ic = 0; ic < m; ic += MC5) {
            long mc = m - ic < MC5 ? m - ic : MC5;
            for (long pc = 0; pc < k; pc += KC) {
                long kc = k - pc < KC ? k - pc : KC, kcw = words(bf16, kc);
                float bt = pc == 0 ? beta : 1;                            // later reduction blocks accumulate
                const float *bs = pc == 0 && bias ? bias + jc : NULL;     // the bias is added once
                float *gl = gelu_out && pc + kc >= k ? gelu_out : NULL;   // GELU of the final values only
                const float *ml = mul_c && pc + kc >= k ? mul_c : NULL;    // and the product with mul_c
                ldae_pack_a512(bf16, trans_a, a, lda, ic, mc, pc, kc, pa, jc == 0 ? colsum_a : NULL);
                const float *pbk = pb + words(bf16, pc) * ncp;
                for (long jr = 0; jr < nc; jr += NR5) {
                    long nr = nc - jr < NR5 ? nc - jr : NR5;
                    for (long ir = 0; ir < mc; ir += MR5) {
                        long mr = mc - ir < MR5 ? mc - ir : MR5;
                        long off = (ic + ir) * ldc + jc + jr;
                        const float *at = pa + ir * kcw, *bt_ = pbk + jr * kcw;
                        if (bf16)
                            kernel_bf16(kcw, (const unsigned *)at, (const unsigned *)bt_, c + off, ldc, alpha, bt, mr, nr,
                                        bs ? bs + jr : NULL, ml ? ml + off : NULL, gl ? gl + off : NULL);
                        else
                            kernel_f32(kcw, at, bt_, c + off, ldc, alpha, bt, mr, nr, bs ? bs + jr : NULL,
                                       ml ? ml + off : NULL, gl ? gl + off : NULL);
                    }
                }
            }
        }
    }
}

void ldae_sgemm512_ex(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                      const float *b, long ldb, float beta, float *c, long ldc, const ldae_gemm_extras *extras) {
    gemm512(0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras);
}

void ldae_sbgemm_ex(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, float beta, float *c, long ldc, const ldae_gemm_extras *extras) {
    gemm512(1, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras);
}
