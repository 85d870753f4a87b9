#!/usr/bin/env bash
# tools/bench peak: this machine's float32 FMA peak (AVX2, 12 independent FMA chains per thread, no memory traffic),
# on 1 thread and on 2: the ceiling for every GFLOP/s figure of `tools/bench train`. Needs a C compiler and an
# AVX2+FMA CPU. Ends with one key=value line.
set -euo pipefail
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cat > "$dir/peak.c" <<'C'
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
enum { N = 100000000 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
__attribute__((target("avx2,fma"))) static void *run(void *out) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(i * 0.001f);
    __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-5f);
    for (long i = 0; i < N; i++)
        for (int j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], x, y);
    float s = 0, t[8];
    for (int j = 0; j < 12; j++) { _mm256_storeu_ps(t, a[j]); s += t[0]; }
    *(float *)out = s;  // keeps the chains live
    return 0;
}
int main(void) {
    float s[2]; pthread_t th[2];
    double t = now(); run(&s[0]); double one = (double)N * 12 * 16 / (now() - t) / 1e9;
    t = now();
    for (int i = 0; i < 2; i++) pthread_create(&th[i], 0, run, &s[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], 0);
    double two = 2.0 * N * 12 * 16 / (now() - t) / 1e9;
    fprintf(stderr, "float32 FMA peak: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on 2 threads (checksum %g)\n", one, two, s[0] + s[1]);
    fflush(stderr);
    printf("fma_peak_1t_gflops=%.1f fma_peak_2t_gflops=%.1f\n", one, two);
    return 0;
}
C
cc -O3 -pthread "$dir/peak.c" -o "$dir/peak"
"$dir/peak"
