// The portable definition of ldae's bf16 numerics (plain C, any CPU): the rounding of an fp32 value to bf16 as
// vcvtne2ps2bf16 does it, and the reference of ldae_sbgemm_ex built on it (both inputs rounded, products summed in
// fp32). The tests hold the AVX512-BF16 kernel to this reference, and this reference to the fp32 one.
#include "ldae_kernels.h"

#include <math.h>
#include <string.h>

float ldae_bf16_round(float x) {
    unsigned u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
        u = (u | 0x00400000u) & 0xFFFF0000u;        // NaN: quiet, sign and the top of the payload kept
    } else if ((u & 0x7F800000u) == 0) {
        u &= 0x80000000u;                            // zero and denormals: a zero of the same sign
    } else {
        u += 0x7FFFu + ((u >> 16) & 1u);             // round to nearest, ties to even (overflow gives infinity)
        u &= 0xFFFF0000u;
    }
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}

static float gelu_ref(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

void ldae_sbgemm_ref(int trans_a, int trans_b, long m, long n, long k, float alpha,
                     const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc,
                     const ldae_gemm_extras *extras) {
    static const ldae_gemm_extras none = {0};
    const ldae_gemm_extras *x = extras ? extras : &none;
    if (x->colsum_a)
        for (long i = 0; i < m; i++)
            for (long p = 0; p < k; p++) x->colsum_a[p] += trans_a ? a[p * lda + i] : a[i * lda + p];
    for (long i = 0; i < m; i++) {
        for (long j = 0; j < n; j++) {
            float s = 0;
            for (long p = 0; p < k; p++) {
                float u = ldae_bf16_round(trans_a ? a[p * lda + i] : a[i * lda + p]);
                float v = ldae_bf16_round(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
                s += u * v;   // exact product (8-bit significands), rounded sum
            }
            float v = alpha * s + (x->bias ? x->bias[j] : 0);
            if (beta != 0) v += beta * c[i * ldc + j];
            if (x->mul_c) v *= x->mul_c[i * ldc + j];
            c[i * ldc + j] = v;
            if (x->gelu_out) x->gelu_out[i * ldc + j] = gelu_ref(v);
        }
    }
}
