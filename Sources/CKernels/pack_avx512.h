// Packing of the AVX-512 GEMMs' operands (private to CKernels; pack_avx512.c). bf16 != 0 needs
// ldae_kernels_avx512bf16(), else ldae_kernels_avx512().
#ifndef LDAE_PACK_AVX512_H
#define LDAE_PACK_AVX512_H

#include "avx512_common.h"

/// Rows [i0, i0+mc) x reduction [p0, p0+kc) of op(A) (A stored [m, lda], or [k, lda] when trans) into panels of
/// MR5 rows at dst: panel i at dst + i * MR5 * steps 32-bit words (steps = kc, or ceil(kc / 2) pairs for bf16), word
/// [step][row]; zero rows past mc, a zero upper half in the last pair of an odd kc. colsum (NULL: none):
/// colsum[p0 + p] += sum over the packed rows of op(A)[i, p], in fp32 from the values before rounding.
void ldae_pack_a512(int bf16, int trans, const float *a, long lda, long i0, long mc, long p0, long kc,
                    void *dst, float *colsum);

/// Reduction [p0, p0+kc) x columns [j0, j0+nc) of op(B) (B stored [k, ldb], or [n, ldb] when trans) into panels of
/// NR5 columns at dst (64-byte aligned): panel j at dst + j * NR5 * steps words, word [step][column]; zero columns
/// past nc.
void ldae_pack_b512(int bf16, int trans, const float *b, long ldb, long p0, long kc, long j0, long nc, void *dst);

#endif
