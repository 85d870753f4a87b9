// 8-lane float exp and erf for the AVX2+FMA kernels (private to CKernels): the same approximations as the Swift
// VMath.exp / VMath.erf (Sources/Ldae/Kernels/VectorMath.swift), so the fast and portable paths agree to a few ulp
// (they differ only by FMA contraction). Callers must be compiled with target("avx2,fma") and run on such a CPU.
#ifndef LDAE_VMATH_AVX2_H
#define LDAE_VMATH_AVX2_H

#include <immintrin.h>

#define LDAE_AVX2 __attribute__((target("avx2,fma")))
#define LDAE_AVX2_INLINE static inline __attribute__((target("avx2,fma"), always_inline))

/// exp(x): Cody-Waite reduction x = n ln2 + r, degree-6 polynomial (Cephes expf), 2^n by exponent bits.
/// Inputs clamped to [-87.3, 88.3]. Relative error < 4e-7.
LDAE_AVX2_INLINE __m256 ldae_exp8(__m256 x) {
    const __m256 magic = _mm256_set1_ps(12582912.0f);  // 1.5 * 2^23: round to nearest in the low mantissa bits
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 fx = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(fx, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
    __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/// erf(x): odd/even rational approximation on [-4, 4] (Eigen's generic_fast_erf_float); +-1 beyond.
/// Max absolute error < 4e-7.
LDAE_AVX2_INLINE __m256 ldae_erf8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
    p = _mm256_mul_ps(x, p);
    __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
    return _mm256_div_ps(p, q);
}

/// gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), exact-erf form (torch nn.GELU() default).
LDAE_AVX2_INLINE __m256 gelu8(__m256 x) {
    __m256 cdf = _mm256_fmadd_ps(ldae_erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f))),
                                 _mm256_set1_ps(0.5f), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(x, cdf);
}

/// Mask of the first `count` lanes (0 <= count <= 8), for maskload / maskstore of a row's tail.
LDAE_AVX2_INLINE __m256i ldae_tail_mask(long count) {
    static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - count));
}

#endif
