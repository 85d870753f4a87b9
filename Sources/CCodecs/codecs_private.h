/* Private to CCodecs: what jpeg.c and png.c share. */
#ifndef LDAE_CODECS_PRIVATE_H
#define LDAE_CODECS_PRIVATE_H
#include <stddef.h>
#include <stdio.h>

static inline void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) { snprintf(err, errlen, "%s", msg); }
}

#endif
