/* Unit tests for liveness_image and liveness_exif: round trips through libjpeg/libpng encoders
 * built here, the size limits, every error class (empty, too many bytes, wrong format,
 * truncated, corrupt, huge header) and all eight EXIF orientations. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "liveness/liveness_exif.h"
#include "liveness/liveness_image.h"
#include "unit.h"

struct blob {
	uint8_t *p;
	size_t n, cap;
};

static void blob_put(struct blob *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q)
			abort();
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

/* A w x h test pattern: four quadrants red, green, blue, white. */
static uint8_t *pattern(uint32_t w, uint32_t h)
{
	static const uint8_t col[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
	uint8_t *px = malloc((size_t)w * h * 3);
	if (!px)
		abort();
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			memcpy(px + ((size_t)y * w + x) * 3, col[(y >= h / 2) * 2 + (x >= w / 2)],
			       3);
	return px;
}

/* Minimal big-endian TIFF with one IFD0 entry: orientation o. */
static size_t exif_tiff(uint8_t *t, int o)
{
	static const uint8_t tmpl[26] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0,
					 3,   0,   0, 0,  1, 0, 0, 0, 0, 0, 0,	  0,	0};
	memcpy(t, tmpl, sizeof(tmpl));
	t[19] = (uint8_t)o;
	return sizeof(tmpl);
}

static struct blob make_jpeg(uint32_t w, uint32_t h, int orient, bool progressive)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char *mem = NULL;
	unsigned long memlen = 0;
	uint8_t *px = pattern(w, h);
	struct blob b = {0};

	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &mem, &memlen);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 95, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	if (orient) {
		uint8_t app1[6 + 26] = {'E', 'x', 'i', 'f', 0, 0};
		size_t n = exif_tiff(app1 + 6, orient);
		jpeg_write_marker(&c, JPEG_APP0 + 1, app1, (unsigned)(6 + n));
	}
	while (c.next_scanline < h) {
		JSAMPROW row = px + (size_t)c.next_scanline * w * 3;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	blob_put(&b, mem, memlen);
	free(mem);
	free(px);
	return b;
}

static void png_put(png_structp p, png_bytep d, size_t n)
{
	blob_put(png_get_io_ptr(p), d, n);
}

static void png_nop_flush(png_structp p)
{
	(void)p;
}

/* color_type: PNG_COLOR_TYPE_RGB or _RGB_ALPHA or _GRAY; depth 8 or 16. */
static struct blob make_png(uint32_t w, uint32_t h, int color_type, int depth, bool interlace,
			    int orient)
{
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(p);
	int ch = color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
		 : color_type == PNG_COLOR_TYPE_GRAY	? 1
							: 3;
	size_t bpp = (size_t)ch * (size_t)(depth / 8);
	uint8_t *rgb = pattern(w, h);
	uint8_t *row = malloc(w * bpp);
	struct blob b = {0};

	if (!row || setjmp(png_jmpbuf(p)))
		abort();
	png_set_write_fn(p, &b, png_put, png_nop_flush);
	png_set_IHDR(p, info, w, h, depth, color_type,
		     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (orient) {
		uint8_t t[26];
		exif_tiff(t, orient);
		png_set_eXIf_1(p, info, 26, t);
	}
	png_write_info(p, info);
	int passes = png_set_interlace_handling(p);
	for (int pass = 0; pass < passes; pass++) {
		for (uint32_t y = 0; y < h; y++) {
			for (uint32_t x = 0; x < w; x++) {
				const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
				uint8_t v[4] = {s[0], s[1], s[2], 255};
				if (ch == 1)
					v[0] = (uint8_t)((s[0] + s[1] + s[2]) / 3);
				for (int c = 0; c < ch; c++) {
					uint8_t *d =
						row + x * bpp + (size_t)c * (size_t)(depth / 8);
					d[0] = v[c];
					if (depth == 16)
						d[1] = v[c];
				}
			}
			png_write_row(p, row);
		}
	}
	png_write_end(p, info);
	png_destroy_write_struct(&p, &info);
	free(row);
	free(rgb);
	return b;
}

static bool px_near(const struct liveness_rgb *img, uint32_t x, uint32_t y, const uint8_t *want,
		    int tol)
{
	const uint8_t *p = img->px + ((size_t)y * img->w + x) * 3;
	for (int c = 0; c < 3; c++)
		if (abs((int)p[c] - (int)want[c]) > tol)
			return false;
	return true;
}

static const uint8_t RED[3] = {255, 0, 0}, GREEN[3] = {0, 255, 0}, BLUE[3] = {0, 0, 255},
		     WHITE[3] = {255, 255, 255};

static void test_empty_and_format(void)
{
	struct liveness_rgb img;
	static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
	static const uint8_t text[] = "hello, this is not an image";

	CHECK_INT(liveness_image_decode((const uint8_t *)"", 0, NULL, &img), -ENODATA);
	CHECK(img.px == NULL);
	CHECK_INT(liveness_image_decode(gif, sizeof(gif) - 1, NULL, &img), -EMEDIUMTYPE);
	CHECK_INT(liveness_image_decode(text, sizeof(text) - 1, NULL, &img), -EMEDIUMTYPE);
	CHECK_INT(liveness_image_decode(NULL, 5, NULL, &img), -EINVAL);
	CHECK_STR(liveness_image_strerror(-ENOMSG), "truncated");
	CHECK_STR(liveness_image_strerror(-EBADMSG), "corrupt");
	CHECK_STR(liveness_image_strerror(-E2BIG), "too_many_pixels");
}

static void test_jpeg_roundtrip(void)
{
	for (int prog = 0; prog < 2; prog++) {
		struct blob b = make_jpeg(64, 32, 0, prog);
		struct liveness_rgb img;
		uint32_t w, h;
		REQUIRE(liveness_image_probe(b.p, b.n, &w, &h) == LIVENESS_IMAGE_JPEG);
		CHECK(w == 64 && h == 32);
		REQUIRE(liveness_image_decode(b.p, b.n, NULL, &img) == 0);
		CHECK(img.w == 64 && img.h == 32);
		CHECK(px_near(&img, 8, 8, RED, 12));
		CHECK(px_near(&img, 56, 8, GREEN, 12));
		CHECK(px_near(&img, 8, 24, BLUE, 12));
		CHECK(px_near(&img, 56, 24, WHITE, 12));
		liveness_rgb_done(&img);
		CHECK(img.px == NULL);
		free(b.p);
	}
}

static void test_png_variants(void)
{
	static const int types[] = {PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
	for (int t = 0; t < 2; t++) {
		for (int depth = 8; depth <= 16; depth += 8) {
			for (int il = 0; il < 2; il++) {
				struct blob b = make_png(20, 10, types[t], depth, il, 0);
				struct liveness_rgb img;
				REQUIRE(liveness_image_decode(b.p, b.n, NULL, &img) == 0);
				CHECK(img.w == 20 && img.h == 10);
				CHECK(px_near(&img, 0, 0, RED, 0));
				CHECK(px_near(&img, 19, 0, GREEN, 0));
				CHECK(px_near(&img, 0, 9, BLUE, 0));
				CHECK(px_near(&img, 19, 9, WHITE, 0));
				liveness_rgb_done(&img);
				free(b.p);
			}
		}
	}
	struct blob g = make_png(20, 10, PNG_COLOR_TYPE_GRAY, 8, false, 0);
	struct liveness_rgb img;
	REQUIRE(liveness_image_decode(g.p, g.n, NULL, &img) == 0);
	static const uint8_t gray85[3] = {85, 85, 85};
	CHECK(px_near(&img, 0, 0, gray85, 0));
	liveness_rgb_done(&img);
	free(g.p);
}

static void test_truncated(void)
{
	struct blob j = make_jpeg(64, 64, 0, false);
	struct blob jp = make_jpeg(64, 64, 0, true);
	struct blob p = make_png(64, 64, PNG_COLOR_TYPE_RGB, 8, false, 0);
	struct liveness_rgb img;

	CHECK_INT(liveness_image_decode(j.p, j.n / 2, NULL, &img), -ENOMSG);
	CHECK_INT(liveness_image_decode(j.p, 20, NULL, &img), -ENOMSG); /* inside the header */
	CHECK_INT(liveness_image_decode(j.p, 2, NULL, &img), -ENOMSG);
	CHECK_INT(liveness_image_decode(jp.p, jp.n * 2 / 3, NULL, &img), -ENOMSG);
	CHECK_INT(liveness_image_decode(p.p, p.n / 2, NULL, &img), -ENOMSG);
	CHECK_INT(liveness_image_decode(p.p, 12, NULL, &img), -ENOMSG);
	CHECK_INT(liveness_image_decode(p.p, 40, NULL, &img), -ENOMSG);
	CHECK(img.px == NULL);
	free(j.p);
	free(jp.p);
	free(p.p);
}

/* Offset of the first marker m in a JPEG, or 0. */
static size_t find_marker(const struct blob *b, uint8_t m)
{
	for (size_t i = 2; i + 1 < b->n; i++)
		if (b->p[i] == 0xff && b->p[i + 1] == m)
			return i;
	return 0;
}

static void test_corrupt(void)
{
	struct liveness_rgb img;
	struct blob j = make_jpeg(64, 64, 0, false);
	size_t dht = find_marker(&j, 0xc4), sos = find_marker(&j, 0xda);

	REQUIRE(dht && sos);
	/* Huffman table whose code counts exceed 256: libjpeg's "bogus Huffman table" error */
	memset(j.p + dht + 5, 0xff, 16);
	CHECK_INT(liveness_image_decode(j.p, j.n, NULL, &img), -EBADMSG);
	free(j.p);

	/* garbage entropy-coded data: restart markers where none are expected */
	j = make_jpeg(64, 64, 0, false);
	sos = find_marker(&j, 0xda);
	for (size_t i = sos + 20; i + 2 < j.n; i += 7) {
		j.p[i] = 0xff;
		j.p[i + 1] = 0xd3;
	}
	CHECK_INT(liveness_image_decode(j.p, j.n, NULL, &img), -EBADMSG);
	free(j.p);

	/* PNG: a flipped byte inside IDAT fails its CRC */
	struct blob p = make_png(32, 32, PNG_COLOR_TYPE_RGB, 8, false, 0);
	for (size_t i = 8; i + 8 < p.n; i++) {
		if (memcmp(p.p + i, "IDAT", 4) == 0) {
			p.p[i + 10] ^= 0x55;
			break;
		}
	}
	CHECK_INT(liveness_image_decode(p.p, p.n, NULL, &img), -EBADMSG);
	/* a JPEG whose first segment is not a marker */
	static const uint8_t bad[] = {0xff, 0xd8, 0x12, 0x34, 0x56};
	CHECK_INT(liveness_image_decode(bad, sizeof(bad), NULL, &img), -EBADMSG);
	CHECK(img.px == NULL);
	free(p.p);
}

static void test_limits(void)
{
	struct liveness_rgb img;
	struct liveness_image_limits lim = LIVENESS_IMAGE_LIMITS_DEFAULT;
	struct blob j = make_jpeg(64, 32, 0, false);
	/* SOI, then a baseline frame header claiming 65535 x 65535, nothing more */
	static const uint8_t huge_jpeg[] = {0xff, 0xd8, 0xff, 0xc0, 0, 17,   8,
					    0xff, 0xff, 0xff, 0xff, 3, 1,    0x22,
					    0,	  2,	0x11, 1,    3, 0x11, 1};
	/* signature + IHDR 100000 x 100000 (CRC irrelevant: refused before libpng runs) */
	static const uint8_t huge_png[] = {
		0x89, 'P',  'N',  'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0,
		0x01, 0x86, 0xa0, 0,   0x01, 0x86, 0xa0, 8,    2, 0, 0, 0,  0,	 0,   0,   0};

	CHECK_INT(liveness_image_decode(huge_jpeg, sizeof(huge_jpeg), NULL, &img), -E2BIG);
	CHECK_INT(liveness_image_decode(huge_png, sizeof(huge_png), NULL, &img), -E2BIG);
	lim.max_bytes = j.n - 1;
	CHECK_INT(liveness_image_decode(j.p, j.n, &lim, &img), -EFBIG);
	lim = LIVENESS_IMAGE_LIMITS_DEFAULT;
	lim.max_width = 63;
	CHECK_INT(liveness_image_decode(j.p, j.n, &lim, &img), -E2BIG);
	lim = LIVENESS_IMAGE_LIMITS_DEFAULT;
	lim.max_pixels = 64 * 32 - 1;
	CHECK_INT(liveness_image_decode(j.p, j.n, &lim, &img), -E2BIG);
	lim.max_pixels = 64 * 32;
	CHECK_INT(liveness_image_decode(j.p, j.n, &lim, &img), 0);
	liveness_rgb_done(&img);
	free(j.p);
}

/* Where each quadrant colour of the 40 x 20 pattern lands for every orientation. The stored
 * quadrants are TL red, TR green, BL blue, BR white. */
static void check_orientation(const struct liveness_rgb *img, int o, int tol)
{
	static const uint8_t *const disp[9][4] = {
		[1] = {RED, GREEN, BLUE, WHITE}, [2] = {GREEN, RED, WHITE, BLUE},
		[3] = {WHITE, BLUE, GREEN, RED}, [4] = {BLUE, WHITE, RED, GREEN},
		[5] = {RED, BLUE, GREEN, WHITE}, [6] = {BLUE, RED, WHITE, GREEN},
		[7] = {WHITE, GREEN, BLUE, RED}, [8] = {GREEN, WHITE, RED, BLUE},
	};
	bool swap = o >= 5;
	uint32_t w = swap ? 20 : 40, h = swap ? 40 : 20;

	CHECK(img->w == w && img->h == h);
	if (img->w != w || img->h != h)
		return;
	CHECK(px_near(img, w / 4, h / 4, disp[o][0], tol));
	CHECK(px_near(img, w * 3 / 4, h / 4, disp[o][1], tol));
	CHECK(px_near(img, w / 4, h * 3 / 4, disp[o][2], tol));
	CHECK(px_near(img, w * 3 / 4, h * 3 / 4, disp[o][3], tol));
}

static void test_orientation(void)
{
	for (int o = 1; o <= 8; o++) {
		struct blob p = make_png(40, 20, PNG_COLOR_TYPE_RGB, 8, false, o);
		struct blob j = make_jpeg(40, 20, o, false);
		struct liveness_rgb img;
		REQUIRE(liveness_image_decode(p.p, p.n, NULL, &img) == 0);
		check_orientation(&img, o, 0);
		liveness_rgb_done(&img);
		REQUIRE(liveness_image_decode(j.p, j.n, NULL, &img) == 0);
		check_orientation(&img, o, 40);
		liveness_rgb_done(&img);
		free(p.p);
		free(j.p);
	}
}

static void test_exif_parser(void)
{
	uint8_t t[26];
	exif_tiff(t, 6);
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 6);
	CHECK_INT(liveness_exif_orientation(t, 17), 1); /* entry cut short */
	CHECK_INT(liveness_exif_orientation(NULL, 0), 1);
	t[19] = 9; /* out of range */
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 1);
	t[19] = 3;
	t[7] = 200; /* IFD offset beyond the data */
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 1);
	t[7] = 8;
	t[8] = 0xff; /* 65280 entries claimed */
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 1);
	t[8] = 0;
	t[13] = 4; /* LONG instead of SHORT */
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 1);
	t[13] = 3;
	t[0] = t[1] = 'I'; /* little-endian marker on big-endian data */
	CHECK_INT(liveness_exif_orientation(t, sizeof(t)), 1);
	CHECK_INT(liveness_exif_orientation_app1((const uint8_t *)"Exif", 4), 1);
}

UNIT_MAIN("liveness_image", UNIT_CASE(test_empty_and_format), UNIT_CASE(test_jpeg_roundtrip),
	  UNIT_CASE(test_png_variants), UNIT_CASE(test_truncated), UNIT_CASE(test_corrupt),
	  UNIT_CASE(test_limits), UNIT_CASE(test_orientation), UNIT_CASE(test_exif_parser))
