// Per-thread scratch: one small table per thread behind a pthread key, so the buffers are freed by the key's
// destructor when a worker thread exits (a bare _Thread_local pointer would leak them).
#include "scratch.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    float *buf[LDAE_SCRATCH_SLOTS];
    size_t cap[LDAE_SCRATCH_SLOTS];
} table_t;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void destroy(void *p) {
    table_t *t = p;
    for (int i = 0; i < LDAE_SCRATCH_SLOTS; i++) free(t->buf[i]);
    free(t);
}

static void make_key(void) {
    if (pthread_key_create(&key, destroy) != 0) abort();
}

float *ldae_thread_scratch(int slot, size_t floats) {
    pthread_once(&once, make_key);
    table_t *t = pthread_getspecific(key);
    if (t == NULL) {
        t = calloc(1, sizeof(table_t));
        if (t == NULL || pthread_setspecific(key, t) != 0) abort();
    }
    if (t->cap[slot] < floats) {
        free(t->buf[slot]);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        t->buf[slot] = aligned_alloc(64, bytes);
        if (t->buf[slot] == NULL) abort();  // out of memory for kernel scratch: not recoverable here
        t->cap[slot] = floats;
    }
    return t->buf[slot];
}
