// Shared pieces of the AVX-512 GEMMs (private to CKernels; gemm_avx512.c): the target attributes, a 16x16 transpose
// of 32-bit lanes, the bf16 conversions and the tile geometry. Functions marked LDAE_AVX512 run on CPUs with
// ldae_kernels_avx512(); those marked LDAE_BF16 also need ldae_kernels_avx512bf16().
#ifndef LDAE_AVX512_COMMON_H
#define LDAE_AVX512_COMMON_H

#include <immintrin.h>

#define LDAE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define LDAE_AVX512_INLINE static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline))
#define LDAE_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define LDAE_BF16_INLINE static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma"), always_inline))

// The micro-tile: MR rows of C x NR = 32 columns (two zmm), 24 accumulators. KC: the reduction block (even, so a
// bf16 pair never straddles two blocks); MC: rows of A per block; NC: columns of B per block.
enum { MR5 = 12, NR5 = 32, KC5_WHOLE = 1024, KC5_SPLIT = 256, MC5 = 144, NC5 = 2048 };

/// r[i] lane j <-> r[j] lane i, for 16 vectors of 16 32-bit lanes (unpack 32, unpack 64, two 128-bit shuffles).
LDAE_AVX512_INLINE void ldae_transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {  // u[4i + q], 128-bit lane L: rows 4i..4i+3 of column 4L + q
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int q = 0; q < 4; q++) {  // column 4L + q = lane L of u[q], u[4 + q], u[8 + q], u[12 + q]
        __m512i lo01 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44), hi01 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xEE);
        __m512i lo23 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44), hi23 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xEE);
        r[0 + q] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(lo01, lo23, 0xDD);
        r[8 + q] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
        r[12 + q] = _mm512_shuffle_i32x4(hi01, hi23, 0xDD);
    }
}

/// gelu(x) on 16 lanes: the same operations as gelu8 (vmath_avx2.h: erf by Eigen's rational approximation on
/// [-4, 4]) lane for lane, so the same bits, at half the instructions (the GEMMs' GELU epilogue).
LDAE_AVX512_INLINE __m512 ldae_gelu16(__m512 v) {
    __m512 x = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.72614225801306e-10f), _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-1.60960333262415e-02f));
    p = _mm512_mul_ps(x, p);
    __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-1.45660718464996e-05f), _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.42647390514189e-02f));
    __m512 cdf = _mm512_fmadd_ps(_mm512_div_ps(p, q), _mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
    return _mm512_mul_ps(v, cdf);
}

/// Mask of the first `count` of 16 lanes (count clamped to [0, 16]).
LDAE_AVX512_INLINE __mmask16 ldae_mask16(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// 16 pair words from two rows of 16 floats: word i = bf16(x0[i]) | bf16(x1[i]) << 16 (round to nearest even; the
/// operand layout of vdpbf16ps, reduction steps 2p and 2p + 1 of one row or column).
LDAE_BF16_INLINE __m512i ldae_bf16_pairs(__m512 x0, __m512 x1) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i t = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);   // bf16 x0[0..16) then x1[0..16)
    return _mm512_permutexvar_epi16(idx, t);
}

/// 16 pair words from 32 consecutive floats of one row (steps 2q and 2q + 1 in word q): no interleave needed.
LDAE_BF16_INLINE __m512i ldae_bf16_consecutive(__m512 lo, __m512 hi) { return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); }

#endif
