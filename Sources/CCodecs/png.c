/* PNG decoding and writing with libpng, which reports errors by longjmp (Swift cannot catch it): every function
   returns a status code and a message instead. */
#include "ldae_codecs.h"
#include "codecs_private.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- PNG (libpng's low-level API, errors by longjmp as for JPEG) ----------
   Memory is bounded by design: the pixel limit is checked on the IHDR before anything is allocated, as is
   whether the file can hold the pixels it declares at all (deflate cannot compress beyond ~1032:1); libpng
   allocates at most LDAE_PNG_CHUNK_MAX for any chunk it keeps, and the ancillary chunks we never use (text,
   ICC profiles, EXIF, ...) are skipped as they are read, never stored. */

#define LDAE_PNG_CHUNK_MAX (1u << 20)

typedef struct {
    jmp_buf jump;
    char message[200];
    int warnings;
    const uint8_t *data;
    size_t len, pos;
} ldae_png_ctx;

static void png_error_cb(png_structp png, png_const_charp msg) {
    ldae_png_ctx *c = (ldae_png_ctx *)png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg ? msg : "PNG decode error");
    longjmp(c->jump, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) {
    (void)msg;
    ((ldae_png_ctx *)png_get_error_ptr(png))->warnings++;
}

static void png_read_cb(png_structp png, png_bytep out, size_t n) {
    ldae_png_ctx *c = (ldae_png_ctx *)png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "truncated file (the data ends before the image does)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

uint64_t ldae_png_max_ratio(void) { return 1100; }

/* Refuses a w x h image above max_pixels (LDAE_ERR_TOO_LARGE), or one whose filtered rows (at `depth` bits
   per sample, one sample per pixel at least) cannot come from len bytes of deflate data: truncated. */
static int png_size_check(png_uint_32 w, png_uint_32 h, int depth, size_t len, uint64_t max_pixels,
                          char *err, size_t errlen) {
    char m[200];
    if (max_pixels && (uint64_t)w * h > max_pixels) {
        snprintf(m, sizeof m, "image is %ux%u, above the pixel limit %llu", w, h, (unsigned long long)max_pixels);
        set_err(err, errlen, m);
        return LDAE_ERR_TOO_LARGE;
    }
    uint64_t raw = (uint64_t)h * (1 + ((uint64_t)w * (depth > 0 ? depth : 1) + 7) / 8);
    if (raw > (uint64_t)len * ldae_png_max_ratio()) {
        snprintf(m, sizeof m, "truncated file (%ux%u pixels cannot be held in %zu bytes)", w, h, len);
        set_err(err, errlen, m);
        return LDAE_ERR_DECODE;
    }
    return LDAE_OK;
}

/* The decode shared by ldae_png_decode and ldae_png_decode_rgba: 8-bit RGB or RGBA in out->pixels (RGBA always
   when want_alpha; alpha 255 where the file has none), *channels set to 3 or 4. */
static int png_decode_8bit(const uint8_t *data, size_t len, uint64_t max_pixels, int apply_gamma, int want_alpha,
                           ldae_image *out, int *channels_out, char *err, size_t errlen) {
    ldae_png_ctx ctx;
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    memset(out, 0, sizeof(*out));
    memset(&ctx, 0, sizeof ctx);
    ctx.data = data; ctx.len = len;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
    if (!png) { set_err(err, errlen, "out of memory"); return LDAE_ERR_NOMEM; }
    info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); set_err(err, errlen, "out of memory"); return LDAE_ERR_NOMEM; }
    if (setjmp(ctx.jump)) {
        set_err(err, errlen, ctx.message[0] ? ctx.message : "PNG decode error");
        png_destroy_read_struct(&png, &info, NULL);
        free(buf); free(rows);
        return LDAE_ERR_DECODE;
    }
    /* The IHDR is the first chunk: sizes are checked on it before libpng reads (and skips) what follows. */
    if (len >= 33 && memcmp(data + 12, "IHDR", 4) == 0) {
        png_uint_32 w0 = png_get_uint_32(data + 16), h0 = png_get_uint_32(data + 20);
        int rc = png_size_check(w0, h0, data[24], len, max_pixels, err, errlen);
        if (rc != LDAE_OK) { png_destroy_read_struct(&png, &info, NULL); return rc; }
    }
    png_set_read_fn(png, &ctx, png_read_cb);
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);        /* sizes are checked against max_pixels below */
    png_set_chunk_malloc_max(png, LDAE_PNG_CHUNK_MAX);
    png_set_chunk_cache_max(png, 64);
    static const png_byte unused[] =
        "tEXt\0zTXt\0iTXt\0iCCP\0eXIf\0sPLT\0tIME\0pHYs\0hIST\0sBIT\0cHRM\0bKGD\0oFFs\0pCAL\0sCAL\0sTER\0fRAc\0gIFg\0gIFx\0gIFt\0vpAg\0caNv\0acTL\0fcTL\0fdAT";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);   /* unknown chunks: skipped */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, unused, (int)(sizeof unused / 5));
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    out->source_width = (int)w; out->source_height = (int)h;
    out->source_kind = LDAE_KIND_PNG; out->orientation = 1;
    int rc = png_size_check(w, h, depth, len, max_pixels, err, errlen);
    if (rc != LDAE_OK) { png_destroy_read_struct(&png, &info, NULL); return rc; }
    /* To 8-bit RGB or RGBA, samples as stored: gAMA is ignored unless apply_gamma (then converted to sRGB).
       tRNS becomes alpha before 16 bits become 8, so a 16-bit tRNS colour matches on all 16 bits. */
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);                      /* the high byte, v >> 8, as Pillow */
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (want_alpha) png_set_add_alpha(png, 0xffff, PNG_FILLER_AFTER);   /* only where there is no alpha */
    double file_gamma = 0;
    if (apply_gamma && png_get_gAMA(png, info, &file_gamma) && file_gamma > 0) png_set_gamma(png, PNG_DEFAULT_sRGB, file_gamma);
    int passes = png_set_interlace_handling(png);
    (void)passes;
    png_read_update_info(png, info);
    size_t channels = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || (want_alpha && channels != 4) || stride != (size_t)w * channels)
        png_error(png, "unexpected PNG layout after conversion");
    buf = (uint8_t *)malloc(stride * h > 0 ? stride * h : 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (h > 0 ? h : 1));
    if (!buf || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + (size_t)y * stride;
    png_read_image(png, rows);
    out->pixels = buf; buf = NULL;
    free(rows); rows = NULL;
    out->warnings = ctx.warnings ? 1 : 0;
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)w; out->height = (int)h;
    *channels_out = (int)channels;
    return LDAE_OK;
}

int ldae_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, int apply_gamma,
                    uint8_t bg_r, uint8_t bg_g, uint8_t bg_b,
                    ldae_image *out, char *err, size_t errlen) {
    int channels = 0;
    int rc = png_decode_8bit(data, len, max_pixels, apply_gamma, 0, out, &channels, err, errlen);
    if (rc != LDAE_OK || channels == 3) return rc;
    /* Straight sRGB-space blending on the background, (c*a + bg*(255-a)) / 255 rounded, as Pillow's
       paste/alpha_composite on a solid background. In place: writes at 3i never pass reads at 4i. */
    uint8_t *buf = out->pixels;
    size_t n = (size_t)out->width * out->height;
    const int bg[3] = { bg_r, bg_g, bg_b };
    for (size_t i = 0; i < n; i++) {
        int a = buf[4 * i + 3];
        for (int c = 0; c < 3; c++) buf[3 * i + c] = (uint8_t)((buf[4 * i + c] * a + bg[c] * (255 - a) + 127) / 255);
    }
    uint8_t *shrunk = (uint8_t *)realloc(buf, n * 3 > 0 ? n * 3 : 1);
    if (shrunk) out->pixels = shrunk;
    return LDAE_OK;
}

int ldae_png_decode_rgba(const uint8_t *data, size_t len, uint64_t max_pixels, int apply_gamma,
                         ldae_image *out, char *err, size_t errlen) {
    int channels = 0;
    return png_decode_8bit(data, len, max_pixels, apply_gamma, 1, out, &channels, err, errlen);
}

int ldae_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                   char *err, size_t errlen) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width; img.height = (png_uint_32)height;
    img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, pixels, width * channels, NULL)) {
        set_err(err, errlen, img.message[0] ? img.message : "PNG write error");
        png_image_free(&img);
        return LDAE_ERR_IO;
    }
    png_image_free(&img);
    return LDAE_OK;
}
