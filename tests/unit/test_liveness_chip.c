/* Unit tests for liveness_chip: exact box crops at scale 1, black outside the image, and the
 * letterbox (shrinking by area, enlarging bilinearly, sub-rectangles) with its coordinate map. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "unit.h"

static struct liveness_rgb gradient(uint32_t w, uint32_t h)
{
	struct liveness_rgb img = {malloc((size_t)w * h * 3), w, h};
	if (!img.px)
		abort();
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *p = img.px + ((size_t)y * w + x) * 3;
			p[0] = (uint8_t)x;
			p[1] = (uint8_t)y;
			p[2] = (uint8_t)(x ^ y);
		}
	return img;
}

static struct liveness_rgb uniform(uint32_t w, uint32_t h, uint8_t v)
{
	struct liveness_rgb img = {malloc((size_t)w * h * 3), w, h};
	if (!img.px)
		abort();
	memset(img.px, v, (size_t)w * h * 3);
	return img;
}

static void test_box_exact(void)
{
	struct liveness_rgb img = gradient(200, 120);
	static uint8_t out[50 * 50 * 3];
	bool same = true;

	liveness_chip_box(&img, 30, 40, 50, 50, 50, out);
	for (int y = 0; y < 50; y++)
		for (int x = 0; x < 50; x++)
			same = same &&
			       memcmp(out + (y * 50 + x) * 3,
				      img.px + ((size_t)(40 + y) * 200 + 30 + x) * 3, 3) == 0;
	CHECK(same);
	/* a non-square box becomes the square of its longer side, centred */
	liveness_chip_box(&img, 30, 45, 50, 40, 50, out);
	CHECK(memcmp(out, img.px + ((size_t)40 * 200 + 30) * 3, 3) == 0);
	free(img.px);
}

static void test_box_outside(void)
{
	struct liveness_rgb img = uniform(100, 100, 200);
	static uint8_t out[40 * 40 * 3];
	static const uint8_t black[3] = {0, 0, 0}, grey[3] = {200, 200, 200};

	liveness_chip_box(&img, -20, -20, 40, 40, 40, out);
	CHECK(memcmp(out, black, 3) == 0);		       /* top-left: outside */
	CHECK(memcmp(out + (39 * 40 + 39) * 3, grey, 3) == 0); /* bottom-right: inside */
	liveness_chip_box(&img, 1000, 1000, 40, 40, 40, out);
	CHECK(memcmp(out + (20 * 40 + 20) * 3, black, 3) == 0);
	free(img.px);
}

static void test_letterbox(void)
{
	static uint8_t out[128 * 128 * 3];
	static const uint8_t black[3] = {0, 0, 0};
	struct liveness_letterbox map;
	struct liveness_rgb wide = uniform(200, 100, 100), tiny = uniform(10, 5, 77);
	struct liveness_rgb g = gradient(256, 256);

	/* shrink: 200x100 -> 128x64 content, 32 black rows above and below */
	liveness_chip_letterbox(&wide, 0, 0, 200, 100, 128, out, &map);
	CHECK(map.ox == 0 && map.oy == 32);
	CHECK(map.sx > 1.56f && map.sx < 1.57f && map.x0 == 0.0f);
	CHECK(memcmp(out + (10 * 128 + 64) * 3, black, 3) == 0);
	CHECK(out[(64 * 128 + 64) * 3] == 100 && out[(95 * 128 + 127) * 3] == 100);
	CHECK(memcmp(out + (96 * 128) * 3, black, 3) == 0);
	/* enlarge: 10x5 -> 128x64, bilinear, uniform stays uniform */
	liveness_chip_letterbox(&tiny, 0, 0, 10, 5, 128, out, &map);
	CHECK(map.oy == 32 && out[(32 * 128) * 3] == 77 && out[(95 * 128 + 127) * 3] == 77);
	/* a 128x128 sub-rectangle at scale 1 is copied exactly */
	liveness_chip_letterbox(&g, 64, 32, 128, 128, 128, out, &map);
	CHECK(map.x0 == 64.0f && map.y0 == 32.0f && map.sx == 1.0f && map.ox == 0);
	CHECK(memcmp(out, g.px + ((size_t)32 * 256 + 64) * 3, 3) == 0);
	CHECK(memcmp(out + (127 * 128 + 127) * 3, g.px + ((size_t)159 * 256 + 191) * 3, 3) == 0);
	/* a rectangle reaching past the image is clipped to it */
	liveness_chip_letterbox(&g, 200, 200, 1000, 1000, 128, out, &map);
	CHECK(map.x0 == 200.0f && map.sx <= 1.0f);
	/* halving: each output pixel is the mean of a 2x2 block */
	liveness_chip_letterbox(&g, 0, 0, 256, 256, 128, out, &map);
	CHECK(map.sx == 2.0f && map.ox == 0 && map.oy == 0);
	CHECK(out[(3 * 128 + 5) * 3] == 11 && out[(3 * 128 + 5) * 3 + 1] == 7); /* 10.5, 6.5 */
	free(wide.px);
	free(tiny.px);
	free(g.px);
}

UNIT_MAIN("liveness_chip", UNIT_CASE(test_box_exact), UNIT_CASE(test_box_outside),
	  UNIT_CASE(test_letterbox))
