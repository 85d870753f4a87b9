#ifndef LDAE_CODECS_H
#define LDAE_CODECS_H
#include <stddef.h>
#include <stdint.h>

/* Decoded 8-bit RGB image, row-major (row, col, channel). Free `pixels` with ldae_free. */
typedef struct {
    uint8_t *pixels;
    int width, height;        /* after DCT scaling, before EXIF orientation */
    int orientation;          /* EXIF orientation 1..8 (1 when absent or malformed) */
    int warnings;             /* libjpeg "corrupt data" warnings seen while decoding */
    int source_width, source_height; /* full-resolution size in the file */
    int source_kind;          /* see LDAE_KIND_* */
} ldae_image;

enum {
    LDAE_KIND_JPEG_RGB = 1, LDAE_KIND_JPEG_GRAY = 2, LDAE_KIND_JPEG_CMYK = 3, LDAE_KIND_JPEG_YCCK = 4,
    LDAE_KIND_PNG = 10
};

enum { LDAE_OK = 0, LDAE_ERR_DECODE = 1, LDAE_ERR_TOO_LARGE = 2, LDAE_ERR_NOMEM = 3, LDAE_ERR_IO = 4 };

/* Decode a JPEG held in memory to RGB.
   min_side: the smallest shorter side the caller needs; the decoder picks the largest DCT scale
   (1/1, 1/2, 1/4, 1/8) that keeps the shorter side >= min_side (0 = full size).
   max_pixels: refuse images whose full-resolution width*height exceeds this (decompression bombs).
   On error returns non-zero and writes a message into err. */
int ldae_jpeg_decode(const uint8_t *data, size_t len, int min_side, uint64_t max_pixels,
                     ldae_image *out, char *err, size_t errlen);

/* Decode a PNG held in memory to RGB (any color type, bit depth, palette, tRNS, interlace).
   Samples are taken as stored (16-bit ones by their high byte, v >> 8, as Pillow); a gAMA chunk is ignored, as Pillow
   does, unless apply_gamma (then samples are converted from the file's gamma to sRGB, as libpng's
   simplified API does). Alpha is composited on the background (bg_r, bg_g, bg_b). Memory: nothing is
   allocated for pixels that max_pixels refuses or that the data cannot hold (see ldae_png_max_ratio). */
int ldae_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, int apply_gamma,
                    uint8_t bg_r, uint8_t bg_g, uint8_t bg_b,
                    ldae_image *out, char *err, size_t errlen);

/* The same decode before compositing: 8-bit RGBA (alpha 255 where the file has none). For tests. */
int ldae_png_decode_rgba(const uint8_t *data, size_t len, uint64_t max_pixels, int apply_gamma,
                         ldae_image *out, char *err, size_t errlen);

/* The largest ratio of filtered pixel bytes to file bytes a PNG can have (deflate's limit is ~1032:1). */
uint64_t ldae_png_max_ratio(void);

/* Write 8-bit pixels (channels 1 = gray, 3 = RGB, 4 = RGBA) to a PNG file. */
int ldae_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                   char *err, size_t errlen);

/* Encode RGB (channels 3) or gray (channels 1) pixels to a baseline JPEG file (for tests/tools).
   channels 4 = CMYK samples written as CMYK, 5 = the same 4-sample CMYK input written as YCCK; libjpeg adds
   an Adobe marker and stores the samples as given (Adobe convention: 255 = no ink). */
int ldae_jpeg_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                    int quality, int progressive, char *err, size_t errlen);

void ldae_free(void *p);

#endif
