/* Unit tests for liveness_detect on a synthetic model with the real tensor names and shapes:
 * the plan accepts it and rejects a missing tensor or a wrong shape; the anchor grid; weighted
 * NMS; and runs on odd image sizes (1x1, very wide, very tall) with the tile pass forced.
 * Detection quality on real images is tests/liveness/detect.sh. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_detect.h"
#include "unit.h"

#define MAXT 96

struct spec {
	char name[64];
	uint32_t ndim, dims[4];
};

static struct spec specs[MAXT];
static int nspecs;

static void add(const char *layer, const char *part, uint32_t ndim, uint32_t d0, uint32_t d1,
		uint32_t d2, uint32_t d3)
{
	struct spec *s = &specs[nspecs++];
	snprintf(s->name, sizeof(s->name), "%s/%s", layer, part);
	s->ndim = ndim;
	s->dims[0] = d0;
	s->dims[1] = d1;
	s->dims[2] = d2;
	s->dims[3] = d3;
}

static void make_specs(void)
{
	static const uint32_t ch[17] = {24, 24, 28, 32, 36, 42, 48, 56, 64,
					72, 80, 88, 96, 96, 96, 96, 96};
	char n[32];

	nspecs = 0;
	add("conv2d", "Kernel", 4, 5, 5, 3, 24);
	add("conv2d", "Bias", 1, 24, 0, 0, 0);
	for (int i = 0; i < 16; i++) {
		if (i == 0)
			snprintf(n, sizeof(n), "depthwise_conv2d");
		else
			snprintf(n, sizeof(n), "depthwise_conv2d_%d", i);
		add(n, "Kernel", 4, 1, 3, 3, ch[i]);
		add(n, "Bias", 1, ch[i], 0, 0, 0);
		snprintf(n, sizeof(n), "conv2d_%d", i + 1);
		add(n, "Kernel", 4, 1, 1, ch[i], ch[i + 1]);
		add(n, "Bias", 1, ch[i + 1], 0, 0, 0);
	}
	add("classificator_8", "Kernel", 4, 1, 1, 88, 2);
	add("classificator_8", "Bias", 1, 2, 0, 0, 0);
	add("regressor_8", "Kernel", 4, 1, 1, 88, 32);
	add("regressor_8", "Bias", 1, 32, 0, 0, 0);
	add("classificator_16", "Kernel", 4, 1, 1, 96, 6);
	add("classificator_16", "Bias", 1, 6, 0, 0, 0);
	add("regressor_16", "Kernel", 4, 1, 1, 96, 96);
	add("regressor_16", "Bias", 1, 96, 0, 0, 0);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t align64(size_t n)
{
	return (n + 63) / 64 * 64;
}

static size_t count_of(const struct spec *s)
{
	size_t c = 1;
	for (uint32_t d = 0; d < s->ndim; d++)
		c *= s->dims[d];
	return c;
}

static int load_specs(struct liveness_model **ret)
{
	size_t data0 = align64(128 + 128 * (size_t)nspecs), len = data0, off;
	uint32_t rng = 99;
	uint8_t *b;
	int rc;

	for (int i = 0; i < nspecs; i++)
		len = align64(len + 4 * count_of(&specs[i]));
	b = calloc(1, len);
	if (!b)
		abort();
	memcpy(b, "SHNN\r\n\x1a\n", 8);
	put32(b + 8, 1);
	put32(b + 12, (uint32_t)nspecs);
	put64(b + 16, data0);
	put64(b + 24, len);
	off = data0;
	for (int i = 0; i < nspecs; i++) {
		uint8_t *e = b + 128 + 128 * (size_t)i;
		size_t c = count_of(&specs[i]);
		memcpy(e, specs[i].name, strlen(specs[i].name));
		put32(e + 64, 1);
		put32(e + 68, specs[i].ndim);
		for (int d = 0; d < 4; d++)
			put32(e + 72 + 4 * d, specs[i].dims[d]);
		put64(e + 88, off);
		put64(e + 96, 4 * c);
		for (size_t k = 0; k < c; k++) {
			rng = rng * 1664525u + 1013904223u;
			float v = ((float)(rng >> 8) / (float)(1u << 24) - 0.5f) * 0.3f;
			memcpy(b + off + 4 * k, &v, 4);
		}
		off = align64(off + 4 * c);
	}
	rc = liveness_model_load_mem(b, len, ret);
	free(b);
	return rc;
}

static int detector_for_specs(struct liveness_model **m, struct liveness_detector **d)
{
	int rc = load_specs(m);
	if (rc < 0)
		return rc;
	rc = liveness_detector_new(*m, d);
	if (rc < 0) {
		liveness_model_free(*m);
		*m = NULL;
	}
	return rc;
}

static void test_plan(void)
{
	struct liveness_model *m;
	struct liveness_detector *d;

	make_specs();
	CHECK_INT(nspecs, 74);
	REQUIRE(detector_for_specs(&m, &d) == 0);
	liveness_detector_free(d);
	liveness_detector_free(NULL);
	liveness_model_free(m);
	make_specs();
	specs[8].dims[3] = 29; /* conv2d_2 with 29 outputs: the next block expects 28 */
	CHECK_INT(detector_for_specs(&m, &d), -EBADMSG);
	make_specs();
	nspecs--; /* no regressor_16/Bias */
	CHECK_INT(detector_for_specs(&m, &d), -ENOENT);
}

static void test_anchors(void)
{
	static float a[LIVENESS_DETECT_ANCHORS][2];
	CHECK_INT(liveness_detect_anchors(a, LIVENESS_DETECT_ANCHORS), 896);
	CHECK(a[0][0] == 0.5f / 16 && a[0][1] == 0.5f / 16);
	CHECK(a[1][0] == a[0][0] && a[1][1] == a[0][1]); /* two anchors per 16x16 cell */
	CHECK(a[2][0] == 1.5f / 16 && a[2][1] == 0.5f / 16);
	CHECK(a[511][0] == 15.5f / 16 && a[511][1] == 15.5f / 16);
	CHECK(a[512][0] == 0.5f / 8 && a[512][1] == 0.5f / 8);
	CHECK(a[517][0] == 0.5f / 8 && a[518][0] == 1.5f / 8); /* six per 8x8 cell */
	CHECK(a[895][0] == 7.5f / 8 && a[895][1] == 7.5f / 8);
	CHECK_INT(liveness_detect_anchors(a, 10), 896); /* counts past max, writes only 10 */
}

static struct liveness_face face(float x, float y, float s, float score)
{
	struct liveness_face f = {.x = x, .y = y, .w = s, .h = s, .score = score};
	for (int k = 0; k < LIVENESS_DETECT_KEYPOINTS; k++) {
		f.kp[k][0] = x + (float)k;
		f.kp[k][1] = y;
	}
	return f;
}

static void test_nms(void)
{
	struct liveness_face cand[4], out[4];
	int n;

	/* two overlapping (IoU 0.82) merge, weighted by score; the far one stays */
	cand[0] = face(10, 10, 100, 0.6f);
	cand[1] = face(200, 200, 50, 0.7f);
	cand[2] = face(20, 10, 100, 0.9f);
	n = liveness_detect_nms(cand, 3, 0.3f, out, 4);
	REQUIRE(n == 2);
	CHECK(out[0].score == 0.9f);
	CHECK(fabsf(out[0].x - (0.9f * 20 + 0.6f * 10) / 1.5f) < 1e-4f);
	CHECK(fabsf(out[0].kp[2][0] - ((0.9f * 22 + 0.6f * 12) / 1.5f)) < 1e-4f);
	CHECK(out[1].score == 0.7f && out[1].x == 200.0f);
	/* max limits the output; no candidates gives none */
	cand[0] = face(0, 0, 10, 0.9f);
	cand[1] = face(100, 0, 10, 0.8f);
	CHECK_INT(liveness_detect_nms(cand, 2, 0.3f, out, 1), 1);
	CHECK_INT(liveness_detect_nms(cand, 0, 0.3f, out, 4), 0);
}

static void run_size(const struct liveness_detector *d, struct liveness_detect_ws *ws, uint32_t w,
		     uint32_t h, const struct liveness_detect_opts *o)
{
	struct liveness_rgb img = {malloc((size_t)w * h * 3), w, h};
	struct liveness_face faces[8];

	REQUIRE(img.px);
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		img.px[i] = (uint8_t)(i * 31);
	int n = liveness_detect_run(d, ws, &img, o, faces, 8);
	CHECK(n >= 0 && n <= 8);
	free(img.px);
}

static void test_run_sizes(void)
{
	struct liveness_model *m;
	struct liveness_detector *d;
	struct liveness_detect_ws *ws;
	struct liveness_detect_opts never = LIVENESS_DETECT_OPTS_DEFAULT;
	struct liveness_rgb empty = {0};
	struct liveness_face faces[2];

	never.min_score = 2.0f; /* nothing passes: forces the tile pass */
	never.small_min_score = 2.0f;
	make_specs();
	REQUIRE(detector_for_specs(&m, &d) == 0);
	REQUIRE(liveness_detect_ws_new(d, &ws) == 0);
	run_size(d, ws, 1, 1, &never);
	run_size(d, ws, 1000, 3, &never);
	run_size(d, ws, 3, 700, &never);
	run_size(d, ws, 300, 200, &never);
	run_size(d, ws, 64, 64, NULL);
	CHECK_INT(liveness_detect_run(d, ws, &empty, NULL, faces, 2), -EINVAL);
	liveness_detect_ws_free(ws);
	liveness_detect_ws_free(NULL);
	liveness_detector_free(d);
	liveness_model_free(m);
}

UNIT_MAIN("liveness_detect", UNIT_CASE(test_plan), UNIT_CASE(test_anchors), UNIT_CASE(test_nms),
	  UNIT_CASE(test_run_sizes))
