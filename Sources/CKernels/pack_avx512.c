// Packing of the AVX-512 GEMMs' operands (gemm_avx512.c), fp32 and bf16, every layout vectorised (masked loads
// for the edges, zeros past them):
//   A: panels of MR5 = 12 rows, [kc][12] floats (fp32) or [ceil(kc / 2)][12] pair words (bf16: word = the bf16 of
//      reduction steps 2p and 2p + 1 of one row, the operand vdpbf16ps broadcasts), column sums of the fp32 values
//      (before any rounding) taken on the way;
//   B: panels of NR5 = 32 columns, [kc][32] floats or [ceil(kc / 2)][32] pair words.
// A row-major A and a transposed B go through an in-register 16x16 transpose; a transposed A and a row-major B do
// not need one.
#include "pack_avx512.h"

// ---- A

// One panel of a row-major A: rows [0, rows) at s + r * lda (rows <= 12), reduction [0, kc).
LDAE_AVX512 static void pack_a_rows_f32(const float *s, long lda, long rows, long kc, float *d, float *colsum) {
    for (long p = 0; p < kc; p += 16) {
        __mmask16 m = ldae_mask16(kc - p);
        __m512i r[16];
        __m512 sum = _mm512_setzero_ps();
        for (int i = 0; i < 16; i++) {
            __m512 v = i < rows ? _mm512_maskz_loadu_ps(m, s + i * lda + p) : _mm512_setzero_ps();
            sum = _mm512_add_ps(sum, v);
            r[i] = _mm512_castps_si512(v);
        }
        if (colsum) _mm512_mask_storeu_ps(colsum + p, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, colsum + p), sum));
        ldae_transpose16(r);
        long steps = kc - p < 16 ? kc - p : 16;
        for (long q = 0; q < steps; q++) _mm512_mask_storeu_epi32(d + (p + q) * MR5, 0x0FFF, r[q]);
    }
}

LDAE_BF16 static void pack_a_rows_bf16(const float *s, long lda, long rows, long kc, unsigned *d, float *colsum) {
    for (long p = 0; p < kc; p += 32) {
        __mmask16 m0 = ldae_mask16(kc - p), m1 = ldae_mask16(kc - p - 16);
        __m512i r[16];
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        for (int i = 0; i < 16; i++) {
            __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
            if (i < rows) { v0 = _mm512_maskz_loadu_ps(m0, s + i * lda + p); v1 = _mm512_maskz_loadu_ps(m1, s + i * lda + p + 16); }
            sum0 = _mm512_add_ps(sum0, v0); sum1 = _mm512_add_ps(sum1, v1);
            r[i] = ldae_bf16_consecutive(v0, v1);
        }
        if (colsum) {
            _mm512_mask_storeu_ps(colsum + p, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, colsum + p), sum0));
            _mm512_mask_storeu_ps(colsum + p + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, colsum + p + 16), sum1));
        }
        ldae_transpose16(r);
        long pairs = (kc - p + 1) / 2 < 16 ? (kc - p + 1) / 2 : 16;
        for (long q = 0; q < pairs; q++) _mm512_mask_storeu_epi32(d + (p / 2 + q) * MR5, 0x0FFF, r[q]);
    }
}

// One panel of a transposed A: row i of op(A) is column i0 + i of the stored [k, lda] (rows <= 12 contiguous floats
// per reduction step).
LDAE_AVX512 static void pack_a_cols_f32(const float *s, long lda, long rows, long kc, float *d, float *colsum) {
    __mmask16 m = ldae_mask16(rows);
    for (long p = 0; p < kc; p++) {
        __m512 v = _mm512_maskz_loadu_ps(m, s + p * lda);
        if (colsum) colsum[p] += _mm512_reduce_add_ps(v);
        _mm512_mask_storeu_ps(d + p * MR5, 0x0FFF, v);
    }
}

LDAE_BF16 static void pack_a_cols_bf16(const float *s, long lda, long rows, long kc, unsigned *d, float *colsum) {
    __mmask16 m = ldae_mask16(rows);
    for (long p = 0; p < kc; p += 2) {
        __m512 v0 = _mm512_maskz_loadu_ps(m, s + p * lda);
        __m512 v1 = p + 1 < kc ? _mm512_maskz_loadu_ps(m, s + (p + 1) * lda) : _mm512_setzero_ps();
        if (colsum) {
            colsum[p] += _mm512_reduce_add_ps(v0);
            if (p + 1 < kc) colsum[p + 1] += _mm512_reduce_add_ps(v1);
        }
        _mm512_mask_storeu_epi32(d + (p / 2) * MR5, 0x0FFF, ldae_bf16_pairs(v0, v1));
    }
}

LDAE_AVX512 void ldae_pack_a512(int bf16, int trans, const float *a, long lda, long i0, long mc, long p0, long kc,
                                void *dst, float *colsum) {
    long steps = bf16 ? (kc + 1) / 2 : kc;   // 32-bit words per row of a panel
    for (long ip = 0; ip < mc; ip += MR5) {
        long rows = mc - ip < MR5 ? mc - ip : MR5;
        float *cs = colsum ? colsum + p0 : NULL;
        float *df = (float *)dst + ip * steps;
        if (trans) {
            const float *s = a + p0 * lda + i0 + ip;
            if (bf16) pack_a_cols_bf16(s, lda, rows, kc, (unsigned *)df, cs); else pack_a_cols_f32(s, lda, rows, kc, df, cs);
        } else {
            const float *s = a + (i0 + ip) * lda + p0;
            if (bf16) pack_a_rows_bf16(s, lda, rows, kc, (unsigned *)df, cs); else pack_a_rows_f32(s, lda, rows, kc, df, cs);
        }
    }
}

// ---- B

// One panel of a row-major B: columns [0, cols) (cols <= 32) of rows p at s + p * ldb.
LDAE_AVX512 static void pack_b_rows_f32(const float *s, long ldb, long cols, long kc, float *d) {
    __mmask16 m0 = ldae_mask16(cols), m1 = ldae_mask16(cols - 16);
    for (long p = 0; p < kc; p++) {
        _mm512_store_ps(d + p * NR5, _mm512_maskz_loadu_ps(m0, s + p * ldb));
        _mm512_store_ps(d + p * NR5 + 16, _mm512_maskz_loadu_ps(m1, s + p * ldb + 16));
    }
}

LDAE_BF16 static void pack_b_rows_bf16(const float *s, long ldb, long cols, long kc, unsigned *d) {
    __mmask16 m0 = ldae_mask16(cols), m1 = ldae_mask16(cols - 16);
    for (long p = 0; p < kc; p += 2) {
        const float *x0 = s + p * ldb, *x1 = x0 + ldb;
        int two = p + 1 < kc;
        __m512 a0 = _mm512_maskz_loadu_ps(m0, x0), a1 = _mm512_maskz_loadu_ps(m1, x0 + 16);
        __m512 b0 = two ? _mm512_maskz_loadu_ps(m0, x1) : _mm512_setzero_ps();
        __m512 b1 = two ? _mm512_maskz_loadu_ps(m1, x1 + 16) : _mm512_setzero_ps();
        _mm512_store_si512(d + (p / 2) * NR5, ldae_bf16_pairs(a0, b0));
        _mm512_store_si512(d + (p / 2) * NR5 + 16, ldae_bf16_pairs(a1, b1));
    }
}

// One panel of a transposed B: column c of op(B) stored as the row s + c * ldb (cols <= 32), 16 columns and 16
// reduction steps (bf16: 16 pairs) per transpose.
LDAE_AVX512 static void pack_b_cols_f32(const float *s, long ldb, long cols, long kc, float *d) {
    for (long h = 0; h < 2; h++) {
        for (long p = 0; p < kc; p += 16) {
            __mmask16 m = ldae_mask16(kc - p);
            __m512i r[16];
            for (long c = 0; c < 16; c++)
                r[c] = h * 16 + c < cols ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, s + (h * 16 + c) * ldb + p))
                                         : _mm512_setzero_si512();
            ldae_transpose16(r);
            long steps = kc - p < 16 ? kc - p : 16;
            for (long q = 0; q < steps; q++) _mm512_store_si512(d + (p + q) * NR5 + h * 16, r[q]);
        }
    }
}

LDAE_BF16 static void pack_b_cols_bf16(const float *s, long ldb, long cols, long kc, unsigned *d) {
    for (long h = 0; h < 2; h++) {
        for (long p = 0; p < kc; p += 32) {
            __mmask16 m0 = ldae_mask16(kc - p), m1 = ldae_mask16(kc - p - 16);
            __m512i r[16];
            for (long c = 0; c < 16; c++) {
                const float *x = s + (h * 16 + c) * ldb + p;
                r[c] = h * 16 + c < cols ? ldae_bf16_consecutive(_mm512_maskz_loadu_ps(m0, x), _mm512_maskz_loadu_ps(m1, x + 16))
                                         : _mm512_setzero_si512();
            }
            ldae_transpose16(r);
            long pairs = (kc - p + 1) / 2 < 16 ? (kc - p + 1) / 2 : 16;
            for (long q = 0; q < pairs; q++) _mm512_store_si512(d + (p / 2 + q) * NR5 + h * 16, r[q]);
        }
    }
}

LDAE_AVX512 void ldae_pack_b512(int bf16, int trans, const float *b, long ldb, long p0, long kc, long j0, long nc, void *dst) {
    long steps = bf16 ? (kc + 1) / 2 : kc;
    for (long jp = 0; jp < nc; jp += NR5) {
        long cols = nc - jp < NR5 ? nc - jp : NR5;
        float *df = (float *)dst + jp * steps;
        if (trans) {
            const float *s = b + (j0 + jp) * ldb + p0;
            if (bf16) pack_b_cols_bf16(s, ldb, cols, kc, (unsigned *)df); else pack_b_cols_f32(s, ldb, cols, kc, df);
        } else {
            const float *s = b + p0 * ldb + j0 + jp;
            if (bf16) pack_b_rows_bf16(s, ldb, cols, kc, (unsigned *)df); else pack_b_rows_f32(s, ldb, cols, kc, df);
        }
    }
}
