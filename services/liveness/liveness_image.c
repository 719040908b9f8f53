/* liveness_image — JPEG/PNG to RGB8 for untrusted uploads: size limits enforced from our own
 * header probe before the codec allocates anything, codec errors and corruption warnings
 * turned into error codes via longjmp, EXIF orientation applied last. */
#include "liveness/liveness_image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h> /* after jpeglib.h: its message list depends on jconfig.h */
#include <png.h>

#include "liveness/liveness_exif.h"

#define JPEG_MAX_SCANS	    256 /* progressive files with more scans are refused (CPU DoS) */
#define PNG_CHUNK_MALLOC    ((size_t)8 << 20)
#define PNG_CHUNK_CACHE_MAX 128

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return be16(p) << 16 | be16(p + 2);
}

static bool is_sof(uint8_t m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

/* Walks the marker segments up to the first SOFn frame header. */
static int probe_jpeg(const uint8_t *b, size_t len, uint32_t *w, uint32_t *h)
{
	size_t pos = 2;

	for (;;) {
		uint8_t m;
		size_t seg;

		if (pos >= len)
			return -ENOMSG;
		if (b[pos] != 0xff)
			return -EBADMSG;
		while (pos < len && b[pos] == 0xff)
			pos++;
		if (pos >= len)
			return -ENOMSG;
		m = b[pos++];
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue; /* standalone markers */
		if (m == 0x00 || m == 0xd8 || m == 0xd9 || m == 0xda)
			return -EBADMSG; /* no frame header before data or end */
		if (len - pos < 2)
			return -ENOMSG;
		seg = be16(b + pos);
		if (seg < 2)
			return -EBADMSG;
		if (is_sof(m)) {
			if (seg < 8)
				return -EBADMSG;
			if (len - pos < 7)
				return -ENOMSG;
			*h = be16(b + pos + 3);
			*w = be16(b + pos + 5);
			return *w && *h ? LIVENESS_IMAGE_JPEG : -EBADMSG;
		}
		if (len - pos < seg)
			return -ENOMSG;
		pos += seg;
	}
}

static int probe_png(const uint8_t *b, size_t len, uint32_t *w, uint32_t *h)
{
	if (len < 24)
		return -ENOMSG;
	if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
		return -EBADMSG;
	*w = be32(b + 16);
	*h = be32(b + 20);
	if (*w == 0 || *h == 0 || *w > 0x7fffffffu || *h > 0x7fffffffu)
		return -EBADMSG;
	return LIVENESS_IMAGE_PNG;
}

int liveness_image_probe(const uint8_t *buf, size_t len, uint32_t *ret_w, uint32_t *ret_h)
{
	*ret_w = *ret_h = 0;
	if (!buf || len == 0)
		return -ENODATA;
	if (buf[0] == 0xff && (len == 1 || buf[1] == 0xd8))
		return len < 3 ? -ENOMSG : probe_jpeg(buf, len, ret_w, ret_h);
	if (memcmp(buf, png_sig, len < sizeof(png_sig) ? len : sizeof(png_sig)) == 0)
		return len < sizeof(png_sig) ? -ENOMSG : probe_png(buf, len, ret_w, ret_h);
	return -EMEDIUMTYPE;
}

static bool over_limits(const struct liveness_image_limits *lim, uint32_t w, uint32_t h)
{
	return w > lim->max_width || h > lim->max_height || (uint64_t)w * h > lim->max_pixels;
}

/* ---- JPEG ---- */

struct jpeg_ctx {
	struct jpeg_error_mgr pub; /* first: libjpeg hands us &pub */
	jmp_buf jb;
	int err;
};

static int jpeg_classify(int code)
{
	switch (code) {
	case JERR_OUT_OF_MEMORY:
		return -ENOMEM;
	case JERR_BAD_PRECISION:
	case JERR_CONVERSION_NOTIMPL:
		return -EMEDIUMTYPE;
	default:
		return -EBADMSG;
	}
}

static void jpeg_on_error(j_common_ptr c)
{
	struct jpeg_ctx *x = (struct jpeg_ctx *)(void *)c->err;
	if (!x->err)
		x->err = jpeg_classify(c->err->msg_code);
	longjmp(x->jb, 1);
}

/* Warnings (level -1) that mean damaged data stop the decode; others are ignored, and nothing
 * is printed (library code never logs). */
static void jpeg_on_message(j_common_ptr c, int level)
{
	struct jpeg_ctx *x = (struct jpeg_ctx *)(void *)c->err;
	int code = c->err->msg_code;

	if (level != -1)
		return;
	if (code == JWRN_JPEG_EOF)
		x->err = -ENOMSG;
	else if (code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
		 code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC ||
		 code == JWRN_NOT_SEQUENTIAL || code == JWRN_BOGUS_PROGRESSION)
		x->err = -EBADMSG;
	else
		return;
	longjmp(x->jb, 1);
}

static void jpeg_on_progress(j_common_ptr c)
{
	struct jpeg_ctx *x = (struct jpeg_ctx *)(void *)c->err;
	j_decompress_ptr d = (j_decompress_ptr)c;

	if (c->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
		x->err = -EBADMSG;
		longjmp(x->jb, 1);
	}
}

static int jpeg_orientation(j_decompress_ptr d)
{
	for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
		if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
		    memcmp(m->data, "Exif\0\0", 6) == 0)
			return liveness_exif_orientation_app1(m->data, m->data_length);
	return 1;
}

/* All state that changes after setjmp lives in *out or *x (memory), never in locals. */
static int decode_jpeg(const uint8_t *buf, size_t len, const struct liveness_image_limits *lim,
		       struct liveness_rgb *out, int *orient)
{
	struct jpeg_decompress_struct d;
	struct jpeg_progress_mgr prog;
	struct jpeg_ctx x;

	memset(&x, 0, sizeof(x));
	memset(&prog, 0, sizeof(prog));
	d.err = jpeg_std_error(&x.pub);
	x.pub.error_exit = jpeg_on_error;
	x.pub.emit_message = jpeg_on_message;
	prog.progress_monitor = jpeg_on_progress;
	if (setjmp(x.jb)) {
		jpeg_destroy_decompress(&d);
		free(out->px);
		out->px = NULL;
		return x.err ? x.err : -EBADMSG;
	}
	jpeg_create_decompress(&d);
	d.progress = &prog;
	/* Hard cap on libjpeg's own allocations (coefficient buffers of progressive files). */
	d.mem->max_memory_to_use = (long)(lim->max_pixels > ((uint64_t)1 << 36)
						  ? (uint64_t)1 << 40
						  : lim->max_pixels * 8 + ((uint64_t)32 << 20));
	jpeg_mem_src(&d, buf, (unsigned long)len);
	jpeg_save_markers(&d, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&d, TRUE);
	if (over_limits(lim, d.image_width, d.image_height)) {
		x.err = -E2BIG;
		longjmp(x.jb, 1);
	}
	if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK ||
	    (d.num_components != 1 && d.num_components != 3)) {
		x.err = -EMEDIUMTYPE;
		longjmp(x.jb, 1);
	}
	*orient = jpeg_orientation(&d);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	if (d.output_components != 3 || d.output_width != d.image_width ||
	    d.output_height != d.image_height) {
		x.err = -EBADMSG;
		longjmp(x.jb, 1);
	}
	out->w = d.output_width;
	out->h = d.output_height;
	out->px = malloc((size_t)out->w * out->h * 3);
	if (!out->px) {
		x.err = -ENOMEM;
		longjmp(x.jb, 1);
	}
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = out->px + (size_t)d.output_scanline * out->w * 3;
		if (jpeg_read_scanlines(&d, &row, 1) != 1) {
			x.err = -EBADMSG;
			longjmp(x.jb, 1);
		}
	}
	/* Every scanline is in: a missing EOI or trailing bytes do not matter, so no
	 * jpeg_finish_decompress (it would read on to EOI). */
	jpeg_destroy_decompress(&d);
	return 0;
}

/* ---- PNG ---- */

struct png_ctx {
	jmp_buf jb;
	const uint8_t *buf;
	size_t len, pos;
	int err;
	bool image_done; /* all rows decoded; later trouble (after IDAT) is ignored */
	png_bytep *rows;
};

static void png_on_read(png_structp p, png_bytep dst, size_t n)
{
	struct png_ctx *x = png_get_io_ptr(p);
	if (n > x->len - x->pos) {
		x->err = -ENOMSG;
		png_error(p, "truncated");
	}
	memcpy(dst, x->buf + x->pos, n);
	x->pos += n;
}

static void png_on_error(png_structp p, png_const_charp msg)
{
	struct png_ctx *x = png_get_error_ptr(p);
	(void)msg;
	longjmp(x->jb, 1);
}

static void png_on_warning(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

static void png_setup_transforms(png_structp p, png_infop info)
{
	int ct = png_get_color_type(p, info);
	int depth = png_get_bit_depth(p, info);

	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(p);
	if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(p);
	if (png_get_valid(p, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(p);
	if (depth == 16)
		png_set_strip_16(p);
	if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(p);
	png_set_strip_alpha(p);
	(void)png_set_interlace_handling(p);
	png_read_update_info(p, info);
}

static int png_orientation(png_structp p, png_infop info)
{
	png_uint_32 n = 0;
	png_bytep exif = NULL;
	if (png_get_eXIf_1(p, info, &n, &exif) && exif)
		return liveness_exif_orientation(exif, n);
	return 1;
}

static int decode_png(const uint8_t *buf, size_t len, const struct liveness_image_limits *lim,
		      struct liveness_rgb *out, int *orient)
{
	struct png_ctx x;
	png_structp p;
	png_infop info;

	memset(&x, 0, sizeof(x));
	x.buf = buf;
	x.len = len;
	p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &x, png_on_error, png_on_warning);
	if (!p)
		return -ENOMEM;
	info = png_create_info_struct(p);
	if (!info) {
		png_destroy_read_struct(&p, NULL, NULL);
		return -ENOMEM;
	}
	if (setjmp(x.jb)) {
		if (x.image_done)
			goto done;
		png_destroy_read_struct(&p, &info, NULL);
		free(x.rows);
		free(out->px);
		out->px = NULL;
		return x.err ? x.err : -EBADMSG;
	}
	png_set_read_fn(p, &x, png_on_read);
	png_set_user_limits(p, 0x7fffffff, 0x7fffffff); /* ours were checked by the probe */
	png_set_chunk_cache_max(p, PNG_CHUNK_CACHE_MAX);
	png_set_chunk_malloc_max(p, PNG_CHUNK_MALLOC);
	png_read_info(p, info);
	out->w = png_get_image_width(p, info);
	out->h = png_get_image_height(p, info);
	if (over_limits(lim, out->w, out->h)) {
		x.err = -E2BIG;
		longjmp(x.jb, 1);
	}
	png_setup_transforms(p, info);
	if (png_get_channels(p, info) != 3 || png_get_rowbytes(p, info) != (size_t)out->w * 3) {
		x.err = -EBADMSG;
		longjmp(x.jb, 1);
	}
	out->px = malloc((size_t)out->w * out->h * 3);
	x.rows = malloc((size_t)out->h * sizeof(*x.rows));
	if (!out->px || !x.rows) {
		x.err = -ENOMEM;
		longjmp(x.jb, 1);
	}
	for (uint32_t y = 0; y < out->h; y++)
		x.rows[y] = out->px + (size_t)y * out->w * 3;
	png_read_image(p, x.rows);
	x.image_done = true;
	png_read_end(p, info); /* an eXIf chunk may follow the image data */
done:
	*orient = png_orientation(p, info);
	png_destroy_read_struct(&p, &info, NULL);
	free(x.rows);
	return 0;
}

/* ---- entry points ---- */

int liveness_image_decode(const uint8_t *buf, size_t len, const struct liveness_image_limits *lim,
			  struct liveness_rgb *ret_img)
{
	struct liveness_image_limits def = LIVENESS_IMAGE_LIMITS_DEFAULT;
	struct liveness_rgb img = {0};
	uint32_t w, h;
	int fmt, orient = 1, rc;

	if (!ret_img)
		return -EINVAL;
	memset(ret_img, 0, sizeof(*ret_img));
	if (!buf && len)
		return -EINVAL;
	if (!lim)
		lim = &def;
	if (len == 0)
		return -ENODATA;
	if (len > lim->max_bytes)
		return -EFBIG;
	fmt = liveness_image_probe(buf, len, &w, &h);
	if (fmt < 0)
		return fmt;
	if (over_limits(lim, w, h))
		return -E2BIG;
	if (fmt == LIVENESS_IMAGE_JPEG)
		rc = decode_jpeg(buf, len, lim, &img, &orient);
	else
		rc = decode_png(buf, len, lim, &img, &orient);
	if (rc < 0)
		return rc;
	if (orient != 1) {
		uint8_t *px;
		rc = liveness_exif_apply(img.px, img.w, img.h, orient, &px, &img.w, &img.h);
		free(img.px);
		if (rc < 0)
			return rc;
		img.px = px;
	}
	*ret_img = img;
	return 0;
}

void liveness_rgb_done(struct liveness_rgb *img)
{
	if (!img)
		return;
	free(img->px);
	memset(img, 0, sizeof(*img));
}

const char *liveness_image_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -ENODATA:
		return "empty";
	case -EFBIG:
		return "too_many_bytes";
	case -EMEDIUMTYPE:
		return "unsupported_format";
	case -E2BIG:
		return "too_many_pixels";
	case -ENOMSG:
		return "truncated";
	case -EBADMSG:
		return "corrupt";
	case -ENOMEM:
		return "no_memory";
	case -EINVAL:
		return "invalid_argument";
	default:
		return "error";
	}
}
