/* liveness_img — test helper for the liveness service tests: decodes an image with the engine's
 * decoder and writes a transformed JPEG, so "the same person" can be shown from one real photo
 * (Python has no imaging library in the test environment).
 *
 *   liveness_img IN OUT [--scale F] [--quality Q] [--bright F] [--tile N] [--flip]
 *
 * --scale F    resize by F (bilinear; 0.1..4)
 * --quality Q  JPEG quality 1..100 (default 90)
 * --bright F   multiply every channel by F (clamped)
 * --tile N     N x N copies of the (scaled) image side by side: a picture with several faces
 * --flip       mirror left-right
 * Exit 0, or 1 with a message on stderr. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */

#include "liveness/liveness_image.h"

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	uint8_t *b = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			uint8_t *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return -ENOMEM;
			}
			b = nb;
		}
		size_t n = fread(b + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	*ret = b;
	*ret_len = len;
	return 0;
}

static uint8_t clamp(float v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5f);
}

static uint8_t *scale(const struct liveness_rgb *in, float f, uint32_t *ow, uint32_t *oh)
{
	uint32_t w = (uint32_t)(in->w * f + 0.5f), h = (uint32_t)(in->h * f + 0.5f);
	if (w < 1)
		w = 1;
	if (h < 1)
		h = 1;
	uint8_t *out = malloc((size_t)w * h * 3);
	if (!out)
		return NULL;
	for (uint32_t y = 0; y < h; y++) {
		float sy = ((float)y + 0.5f) / f - 0.5f;
		int y0 = sy < 0 ? 0 : (int)sy;
		int y1 = y0 + 1 < (int)in->h ? y0 + 1 : y0;
		float fy = sy - (float)y0;
		if (fy < 0)
			fy = 0;
		for (uint32_t x = 0; x < w; x++) {
			float sx = ((float)x + 0.5f) / f - 0.5f;
			int x0 = sx < 0 ? 0 : (int)sx;
			int x1 = x0 + 1 < (int)in->w ? x0 + 1 : x0;
			float fx = sx - (float)x0;
			if (fx < 0)
				fx = 0;
			for (int c = 0; c < 3; c++) {
				float a = in->px[((size_t)y0 * in->w + x0) * 3 + c];
				float b = in->px[((size_t)y0 * in->w + x1) * 3 + c];
				float d = in->px[((size_t)y1 * in->w + x0) * 3 + c];
				float e = in->px[((size_t)y1 * in->w + x1) * 3 + c];
				float top = a + (b - a) * fx, bot = d + (e - d) * fx;
				out[((size_t)y * w + x) * 3 + c] = clamp(top + (bot - top) * fy);
			}
		}
	}
	*ow = w;
	*oh = h;
	return out;
}

static int write_jpeg(const char *path, const uint8_t *px, uint32_t w, uint32_t h, int quality)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < h) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * 3);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return fclose(f) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	float f = 1.0f, bright = 1.0f;
	int quality = 90, tile = 1;
	int flip = 0;
	if (argc < 3) {
		fprintf(stderr, "usage: liveness_img IN OUT [--scale F] [--quality Q] [--bright F] "
				"[--tile N] [--flip]\n");
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--flip") == 0) {
			flip = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "liveness_img: %s needs a value\n", argv[i]);
			return 1;
		}
		char *end = NULL;
		double v = strtod(argv[i + 1], &end);
		if (!end || *end) {
			fprintf(stderr, "liveness_img: bad value %s\n", argv[i + 1]);
			return 1;
		}
		if (strcmp(argv[i], "--scale") == 0 && v >= 0.1 && v <= 4)
			f = (float)v;
		else if (strcmp(argv[i], "--quality") == 0 && v >= 1 && v <= 100)
			quality = (int)v;
		else if (strcmp(argv[i], "--bright") == 0 && v > 0 && v <= 4)
			bright = (float)v;
		else if (strcmp(argv[i], "--tile") == 0 && v >= 1 && v <= 4)
			tile = (int)v;
		else {
			fprintf(stderr, "liveness_img: bad option %s %s\n", argv[i], argv[i + 1]);
			return 1;
		}
		i++;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	struct liveness_rgb img;
	int rc = read_file(argv[1], &buf, &len);
	if (rc == 0)
		rc = liveness_image_decode(buf, len, NULL, &img);
	if (rc < 0) {
		fprintf(stderr, "liveness_img: %s: %s\n", argv[1], liveness_image_strerror(rc));
		return 1;
	}
	free(buf);
	uint32_t w, h;
	uint8_t *px = scale(&img, f, &w, &h);
	liveness_rgb_done(&img);
	if (!px)
		return 1;
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		px[i] = clamp(px[i] * bright);
	if (flip)
		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w / 2; x++)
				for (int c = 0; c < 3; c++) {
					uint8_t *a = &px[((size_t)y * w + x) * 3 + c];
					uint8_t *b = &px[((size_t)y * w + (w - 1 - x)) * 3 + c];
					uint8_t t = *a;
					*a = *b;
					*b = t;
				}
	uint32_t tw = w * (uint32_t)tile, th = h * (uint32_t)tile;
	uint8_t *out = px;
	if (tile > 1) {
		out = malloc((size_t)tw * th * 3);
		if (!out)
			return 1;
		for (uint32_t y = 0; y < th; y++)
			for (uint32_t x = 0; x < tw; x++)
				memcpy(&out[((size_t)y * tw + x) * 3],
				       &px[((size_t)(y % h) * w + (x % w)) * 3], 3);
		free(px);
	}
	rc = write_jpeg(argv[2], out, tw, th, quality);
	free(out);
	if (rc < 0) {
		fprintf(stderr, "liveness_img: %s: %s\n", argv[2], strerror(-rc));
		return 1;
	}
	return 0;
}
