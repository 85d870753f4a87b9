/* JPEG decoding and writing with libjpeg, which reports errors by longjmp (Swift cannot catch it): every function
   returns a status code and a message instead. */
#include "ldae_codecs.h"
#include "codecs_private.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

void ldae_free(void *p) { free(p); }

/* ---------- JPEG ---------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int warnings;
    int truncated;           /* "premature end of JPEG file": the data stops before the image does */
} ldae_jpeg_err;

static void jpeg_error_exit_cb(j_common_ptr cinfo) {
    ldae_jpeg_err *e = (ldae_jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
    ldae_jpeg_err *e = (ldae_jpeg_err *)cinfo->err;
    if (level < 0) {                       /* corrupt-data warnings: counted, not fatal */
        e->warnings++; cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
    }
}

static void jpeg_output_message_cb(j_common_ptr cinfo) { (void)cinfo; }

static uint16_t rd16(const uint8_t *p, int le) { return le ? (uint16_t)(p[0] | (p[1] << 8)) : (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
              : (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

/* EXIF orientation from an APP1 payload; 1 when absent or malformed (never fatal). */
static int exif_orientation(const uint8_t *d, size_t n) {
    if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = d + 6; size_t tn = n - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1; else if (t[0] == 'M' && t[1] == 'M') le = 0; else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if ((size_t)ifd + 2 > tn) return 1;
    uint16_t count = rd16(t + ifd, le);
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)ifd + 2 + (size_t)i * 12;
        if (off + 12 > tn) return 1;
        if (rd16(t + off, le) == 0x0112) {
            uint16_t type = rd16(t + off + 2, le);
            if (type != 3) return 1;
            uint16_t v = rd16(t + off + 8, le);
            return (v >= 1 && v <= 8) ? v : 1;
        }
    }
    return 1;
}

int ldae_jpeg_decode(const uint8_t *data, size_t len, int min_side, uint64_t max_pixels,
                     ldae_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    ldae_jpeg_err jerr;
    uint8_t *volatile pixels = NULL;
    JSAMPROW volatile row = NULL;
    memset(out, 0, sizeof(*out));
    memset(&jerr, 0, sizeof(jerr));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_cb;
    jerr.pub.emit_message = jpeg_emit_message_cb;
    jerr.pub.output_message = jpeg_output_message_cb;
    if (setjmp(jerr.jump)) {
        set_err(err, errlen, jerr.message[0] ? jerr.message : "JPEG decode error");
        jpeg_destroy_decompress(&cinfo);
        free(pixels); free(row);
        return LDAE_ERR_DECODE;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    out->source_width = (int)cinfo.image_width;
    out->source_height = (int)cinfo.image_height;
    if (max_pixels && (uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height > max_pixels) {
        char m[160];
        snprintf(m, sizeof m, "image is %ux%u, above the pixel limit %llu", cinfo.image_width,
                 cinfo.image_height, (unsigned long long)max_pixels);
        set_err(err, errlen, m);
        jpeg_destroy_decompress(&cinfo);
        return LDAE_ERR_TOO_LARGE;
    }
    out->orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) { out->orientation = exif_orientation(m->data, m->data_length); break; }
    }
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: out->source_kind = LDAE_KIND_JPEG_GRAY; cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK: out->source_kind = LDAE_KIND_JPEG_CMYK; cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    case JCS_YCCK: out->source_kind = LDAE_KIND_JPEG_YCCK; cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default: out->source_kind = LDAE_KIND_JPEG_RGB; cinfo.out_color_space = JCS_RGB; break;
    }
    /* Reduced DCT scale: keep the shorter side >= min_side. */
    if (min_side > 0) {
        unsigned shorter = cinfo.image_width < cinfo.image_height ? cinfo.image_width : cinfo.image_height;
        unsigned denom = 1;
        while (denom < 8 && (shorter + 2 * denom - 1) / (2 * denom) >= (unsigned)min_side) denom *= 2;
        cinfo.scale_num = 1;
        cinfo.scale_denom = denom;
    }
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, nc = cinfo.output_components;
    pixels = (uint8_t *)malloc((size_t)w * h * 3);
    row = (JSAMPROW)malloc((size_t)w * nc);
    if (!pixels || !row) {
        jpeg_destroy_decompress(&cinfo); free(pixels); free(row);
        set_err(err, errlen, "out of memory"); return LDAE_ERR_NOMEM;
    }
    /* Adobe CMYK JPEGs (Photoshop) store inverted values. */
    int inverted = cmyk && cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        uint8_t *dst = pixels + (size_t)y * w * 3;
        JSAMPROW rows[1] = { cmyk ? row : dst };   /* RGB rows are decoded in place */
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                /* now c,m,y,k hold (255 - ink): rgb = (255-ink) * (255-k_ink) / 255 */
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) {          /* libjpeg pads a truncated file with gray: refuse it, as Pillow does */
        set_err(err, errlen, "truncated file (premature end of JPEG data)");
        jpeg_destroy_decompress(&cinfo); free(pixels); free(row);
        return LDAE_ERR_DECODE;
    }
    out->warnings = jerr.warnings;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->pixels = pixels; out->width = w; out->height = h;
    return LDAE_OK;
}

typedef struct { struct jpeg_error_mgr pub; jmp_buf jump; char message[JMSG_LENGTH_MAX]; } ldae_jpeg_werr;
static void jpeg_werror_exit_cb(j_common_ptr cinfo) {
    ldae_jpeg_werr *e = (ldae_jpeg_werr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

int ldae_jpeg_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                    int quality, int progressive, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    ldae_jpeg_werr jerr;
    FILE *volatile f = fopen(path, "wb");
    if (!f) { set_err(err, errlen, "cannot open file for writing"); return LDAE_ERR_IO; }
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_werror_exit_cb;
    if (setjmp(jerr.jump)) {
        set_err(err, errlen, jerr.message);
        jpeg_destroy_compress(&cinfo); fclose(f); return LDAE_ERR_DECODE;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)width; cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels == 5 ? 4 : channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels >= 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    if (channels == 5) jpeg_set_colorspace(&cinfo, JCS_YCCK);   /* 4 = CMYK, 5 = CMYK stored as YCCK */
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * cinfo.input_components);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(f) != 0) { set_err(err, errlen, "write failed"); return LDAE_ERR_IO; }
    return LDAE_OK;
}
