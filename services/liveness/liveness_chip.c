/* liveness_chip — bilinear affine resampling of RGB8 images into face chips. */
#include "liveness/liveness_chip.h"

#include <math.h>
#include <string.h>

static void sample(const struct liveness_rgb *img, float sx, float sy, uint8_t *dst)
{
	/* fast path: all four neighbours inside; the same terms in the same order as below
	 * (a zero weight adds exactly 0), so results are bit-identical */
	if (sx >= 0.0f && sy >= 0.0f && sx < (float)(img->w - 1) && sy < (float)(img->h - 1)) {
		int x0 = (int)sx, y0 = (int)sy;
		float ax = sx - (float)x0, ay = sy - (float)y0;
		const size_t stride = (size_t)img->w * 3;
		const uint8_t *p = img->px + (size_t)y0 * stride + (size_t)x0 * 3;
		const float w00 = (1.0f - ay) * (1.0f - ax), w01 = (1.0f - ay) * ax;
		const float w10 = ay * (1.0f - ax), w11 = ay * ax;
		for (int c = 0; c < 3; c++) {
			float v = 0.0f;
			v += w00 * (float)p[c];
			v += w01 * (float)p[3 + c];
			v += w10 * (float)p[stride + c];
			v += w11 * (float)p[stride + 3 + c];
			v += 0.5f;
			dst[c] = v >= 255.0f ? 255 : (uint8_t)v;
		}
		return;
	}
	float fx = floorf(sx), fy = floorf(sy);
	float ax = sx - fx, ay = sy - fy;
	float acc[3] = {0.0f, 0.0f, 0.0f};

	/* outside by more than a pixel: black; also keeps the int conversions below in range */
	if (!(sx > -1.0f && sy > -1.0f && sx < (float)img->w && sy < (float)img->h)) {
		dst[0] = dst[1] = dst[2] = 0;
		return;
	}
	int x0 = (int)fx, y0 = (int)fy;
	for (int j = 0; j < 2; j++) {
		int yy = y0 + j;
		float wy = j ? ay : 1.0f - ay;
		if (yy < 0 || yy >= (int)img->h || wy == 0.0f)
			continue;
		for (int i = 0; i < 2; i++) {
			int xx = x0 + i;
			float w = wy * (i ? ax : 1.0f - ax);
			if (xx < 0 || xx >= (int)img->w || w == 0.0f)
				continue;
			const uint8_t *p = img->px + ((size_t)yy * img->w + (size_t)xx) * 3;
			for (int c = 0; c < 3; c++)
				acc[c] += w * (float)p[c];
		}
	}
	for (int c = 0; c < 3; c++) {
		float v = acc[c] + 0.5f;
		dst[c] = v >= 255.0f ? 255 : (uint8_t)v;
	}
}

void liveness_chip_warp(const struct liveness_rgb *img, const float m[6], uint8_t *out, int ow,
			int oh)
{
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++)
			sample(img, m[0] * (float)x + m[1] * (float)y + m[2],
			       m[3] * (float)x + m[4] * (float)y + m[5],
			       out + ((size_t)y * (size_t)ow + (size_t)x) * 3);
}

/* Sum of the nearest source pixel at (sx, sy) (pixel-centre coordinates) into acc; outside
 * adds black. */
static void add_nearest(const struct liveness_rgb *img, float sx, float sy, uint32_t *acc)
{
	if (!(sx > -0.5f && sy > -0.5f && sx < (float)img->w - 0.5f && sy < (float)img->h - 0.5f))
		return;
	const uint8_t *p =
		img->px + ((size_t)(int)(sy + 0.5f) * img->w + (size_t)(int)(sx + 0.5f)) * 3;
	acc[0] += p[0];
	acc[1] += p[1];
	acc[2] += p[2];
}

/* ss >= 2: the footprint is covered densely, so each of the ss x ss sub-samples takes its
 * nearest source pixel (a box filter); three times cheaper than bilinear sub-samples. */
void liveness_chip_warp_aa(const struct liveness_rgb *img, const float m[6], uint8_t *out, int ow,
			   int oh, int ss)
{
	ss = ss < 1 ? 1 : ss > 8 ? 8 : ss;
	if (ss == 1) {
		liveness_chip_warp(img, m, out, ow, oh);
		return;
	}
	const uint32_t n = (uint32_t)(ss * ss), half = n / 2;
	float off[8];
	for (int i = 0; i < ss; i++)
		off[i] = ((float)i + 0.5f) / (float)ss - 0.5f;
	for (int y = 0; y < oh; y++) {
		for (int x = 0; x < ow; x++) {
			uint32_t acc[3] = {0, 0, 0};
			for (int j = 0; j < ss; j++) {
				float fy = (float)y + off[j];
				for (int i = 0; i < ss; i++) {
					float fx = (float)x + off[i];
					add_nearest(img, m[0] * fx + m[1] * fy + m[2],
						    m[3] * fx + m[4] * fy + m[5], acc);
				}
			}
			uint8_t *dst = out + ((size_t)y * (size_t)ow + (size_t)x) * 3;
			for (int c = 0; c < 3; c++)
				dst[c] = (uint8_t)((acc[c] + half) / n);
		}
	}
}

void liveness_chip_box(const struct liveness_rgb *img, float x, float y, float w, float h, int size,
		       uint8_t *out)
{
	float side = w > h ? w : h;
	float s = side / (float)size;
	float x0 = x + w / 2.0f - side / 2.0f, y0 = y + h / 2.0f - side / 2.0f;
	/* destination pixel centre (i + 0.5) * s in box coordinates, minus the source half pixel */
	const float m[6] = {s, 0.0f, x0 + 0.5f * s - 0.5f, 0.0f, s, y0 + 0.5f * s - 0.5f};

	liveness_chip_warp(img, m, out, size, size);
}

/* Mean of the source pixels [x0, x1) x [y0, y1). */
static void area_mean(const struct liveness_rgb *img, int x0, int x1, int y0, int y1, uint8_t *dst)
{
	uint32_t acc[3] = {0, 0, 0};
	uint32_t n = (uint32_t)(x1 - x0) * (uint32_t)(y1 - y0);

	for (int y = y0; y < y1; y++) {
		const uint8_t *p = img->px + ((size_t)y * img->w + (size_t)x0) * 3;
		for (int x = x0; x < x1; x++, p += 3) {
			acc[0] += p[0];
			acc[1] += p[1];
			acc[2] += p[2];
		}
	}
	for (int c = 0; c < 3; c++)
		dst[c] = (uint8_t)((acc[c] + n / 2) / n);
}

static int span_lo(float f, int lim)
{
	int v = (int)floorf(f);
	return v < 0 ? 0 : v > lim - 1 ? lim - 1 : v;
}

void liveness_chip_letterbox(const struct liveness_rgb *img, uint32_t rx, uint32_t ry, uint32_t rw,
			     uint32_t rh, int size, uint8_t *out,
			     struct liveness_letterbox *ret_map)
{
	struct liveness_letterbox map;
	uint32_t big;
	int cw, ch;

	/* clip the rectangle to the image; an empty one becomes the top-left pixel */
	rx = rx < img->w ? rx : img->w - 1;
	ry = ry < img->h ? ry : img->h - 1;
	rw = rw < 1 ? 1 : rw > img->w - rx ? img->w - rx : rw;
	rh = rh < 1 ? 1 : rh > img->h - ry ? img->h - ry : rh;
	big = rw > rh ? rw : rh;
	cw = (int)lroundf((float)rw * (float)size / (float)big);
	ch = (int)lroundf((float)rh * (float)size / (float)big);

	cw = cw < 1 ? 1 : cw;
	ch = ch < 1 ? 1 : ch;
	map.sx = (float)rw / (float)cw;
	map.sy = (float)rh / (float)ch;
	map.ox = (size - cw) / 2;
	map.oy = (size - ch) / 2;
	map.x0 = (float)rx;
	map.y0 = (float)ry;
	memset(out, 0, (size_t)size * (size_t)size * 3);
	for (int y = 0; y < ch; y++) {
		uint8_t *row = out + ((size_t)(y + map.oy) * (size_t)size + (size_t)map.ox) * 3;
		if (map.sx <= 1.0f && map.sy <= 1.0f) {
			/* clamped to the rectangle: its edge pixels are replicated, not faded */
			float fy = fminf(fmaxf(((float)y + 0.5f) * map.sy - 0.5f, 0.0f),
					 (float)rh - 1);
			for (int x = 0; x < cw; x++) {
				float fx = fminf(fmaxf(((float)x + 0.5f) * map.sx - 0.5f, 0.0f),
						 (float)rw - 1);
				sample(img, map.x0 + fx, map.y0 + fy, row + (size_t)x * 3);
			}
			continue;
		}
		int y0 = (int)ry + span_lo((float)y * map.sy, (int)rh);
		int y1 = (int)ry + span_lo((float)(y + 1) * map.sy - 1e-3f, (int)rh) + 1;
		for (int x = 0; x < cw; x++) {
			int x0 = (int)rx + span_lo((float)x * map.sx, (int)rw);
			int x1 = (int)rx + span_lo((float)(x + 1) * map.sx - 1e-3f, (int)rw) + 1;
			area_mean(img, x0, x1, y0, y1, row + (size_t)x * 3);
		}
	}
	*ret_map = map;
}
