// Per-thread scratch buffers for the kernels (private to CKernels).
#ifndef LDAE_SCRATCH_H
#define LDAE_SCRATCH_H
#include <stddef.h>

enum { LDAE_SCRATCH_GEMM_A = 0, LDAE_SCRATCH_GEMM_B = 1, LDAE_SCRATCH_ATTENTION = 2, LDAE_SCRATCH_SLOTS = 3 };

/// A 64-byte aligned buffer of at least `floats` floats, owned by the calling thread and kept between calls (grown on
/// demand, contents not preserved on growth). Freed when the thread exits. Aborts when out of memory.
float *ldae_thread_scratch(int slot, size_t floats);
#endif
