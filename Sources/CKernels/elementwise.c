// GELU, exact erf form (torch nn.GELU() default): gelu(x) = 0.5 x (1 + erf(x / sqrt 2)),
// gelu'(x) = Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi).
// Single-threaded over [0, n); the Swift caller (GELU.swift) splits the range over the cores.
// 8 lanes a step; the last n % 8 elements by masked loads and stores, so every element takes the same math.
// Requires ldae_kernels_avx2().
#include "ldae_kernels.h"
#include "vmath_avx2.h"

LDAE_AVX2_INLINE __m256 gelu_grad8(__m256 x) {
    __m256 cdf = _mm256_fmadd_ps(ldae_erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f))),
                                 _mm256_set1_ps(0.5f), _mm256_set1_ps(0.5f));
    __m256 pdf = _mm256_mul_ps(ldae_exp8(_mm256_mul_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(-0.5f))),
                               _mm256_set1_ps(0.39894228040143268f));
    return _mm256_fmadd_ps(x, pdf, cdf);
}

// out[n] = gelu(inp[n]); out may alias inp.
LDAE_AVX2 void ldae_gelu_forward(float *out, const float *inp, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu8(_mm256_loadu_ps(inp + i)));
    if (i < n) {
        __m256i m = ldae_tail_mask(n - i);
        _mm256_maskstore_ps(out + i, m, gelu8(_mm256_maskload_ps(inp + i, m)));
    }
}

// out[n] = gelu(x[n]) and x[n] = gelu'(x[n]) in place, one erf for both (the backward's recompute of the
// activation, and the derivative kept for the input gradient's GEMM to multiply by).
LDAE_AVX2_INLINE void gelu_forward_grad8(float *out, float *x, __m256i m) {
    __m256 v = _mm256_maskload_ps(x, m);
    _mm256_maskstore_ps(out, m, gelu8(v));       // the two share the erf after inlining
    _mm256_maskstore_ps(x, m, gelu_grad8(v));
}

LDAE_AVX2 void ldae_gelu_forward_grad(float *out, float *x, long n) {
    const __m256i all = _mm256_set1_epi32(-1);
    long i = 0;
    for (; i + 8 <= n; i += 8) gelu_forward_grad8(out + i, x + i, all);
    if (i < n) gelu_forward_grad8(out + i, x + i, ldae_tail_mask(n - i));
}

// d[n] *= gelu'(inp[n]).
LDAE_AVX2 void ldae_gelu_backward_inplace(float *d, const float *inp, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_loadu_ps(d + i), gelu_grad8(_mm256_loadu_ps(inp + i))));
    if (i < n) {
        __m256i m = ldae_tail_mask(n - i);
        __m256 g = gelu_grad8(_mm256_maskload_ps(inp + i, m));
        _mm256_maskstore_ps(d + i, m, _mm256_mul_ps(_mm256_maskload_ps(d + i, m), g));
    }
}

// dinp[n] += dout[n] * gelu'(inp[n]).
LDAE_AVX2 void ldae_gelu_backward(float *dinp, const float *inp, const float *dout, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = gelu_grad8(_mm256_loadu_ps(inp + i));
        _mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(_mm256_loadu_ps(dout + i), g, _mm256_loadu_ps(dinp + i)));
    }
    if (i < n) {
        __m256i m = ldae_tail_mask(n - i);
        __m256 g = gelu_grad8(_mm256_maskload_ps(inp + i, m));
        __m256 r = _mm256_fmadd_ps(_mm256_maskload_ps(dout + i, m), g, _mm256_maskload_ps(dinp + i, m));
        _mm256_maskstore_ps(dinp + i, m, r);
    }
}
