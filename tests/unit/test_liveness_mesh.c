/* Unit tests for liveness_mesh on a synthetic model with the real tensor names and shapes
 * (random weights): the plan accepts it and rejects a missing tensor or a wrong shape, the
 * forward pass is finite and deterministic, ROI geometry round-trips, and the anti-aliased warp
 * keeps flat images flat. Network parity with the real weights is tests/liveness/mesh.sh; real
 * landmarks are checked in test_liveness_face.c. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_mesh.h"
#include "test_liveness_real.h"
#include "unit.h"

#define MAXT 128

static struct lt_spec specs[MAXT];
static int nspecs;

static void add(const char *layer, int num, const char *part, uint32_t ndim, uint32_t d0,
		uint32_t d1, uint32_t d2, uint32_t d3)
{
	struct lt_spec *s = &specs[nspecs++];
	snprintf(s->name, sizeof(s->name), "%s_%d/%s", layer, num, part);
	s->ndim = ndim;
	s->dims[0] = d0;
	s->dims[1] = d1;
	s->dims[2] = d2;
	s->dims[3] = d3;
}

static void add_block(int dw, int pw, int act, uint32_t cin, uint32_t cout)
{
	add("depthwise_conv2d", dw, "Kernel", 4, 1, 3, 3, cin);
	add("depthwise_conv2d", dw, "Bias", 1, cin, 0, 0, 0);
	add("conv2d", pw, "Kernel", 4, 1, 1, cin, cout);
	add("conv2d", pw, "Bias", 1, cout, 0, 0, 0);
	add("p_re_lu", act, "Alpha", 3, 1, 1, cout, 0);
}

static void make_specs(void)
{
	static const uint32_t ch[18] = {16,  16,  16,  32,  32,	 32,  64,  64,	64,
					128, 128, 128, 128, 128, 128, 128, 128, 128};
	nspecs = 0;
	add("conv2d", 1, "Kernel", 4, 3, 3, 3, 16);
	add("conv2d", 1, "Bias", 1, 16, 0, 0, 0);
	add("p_re_lu", 1, "Alpha", 3, 1, 1, 16, 0);
	for (int k = 1; k <= 17; k++)
		add_block(k, k + 1, k + 1, ch[k - 1], ch[k]);
	add("conv2d", 19, "Kernel", 4, 1, 1, 128, 32);
	add("conv2d", 19, "Bias", 1, 32, 0, 0, 0);
	add("p_re_lu", 19, "Alpha", 3, 1, 1, 32, 0);
	add_block(18, 20, 20, 32, 32);
	add("conv2d", 21, "Kernel", 4, 3, 3, 32, 1404);
	add("conv2d", 21, "Bias", 1, 1404, 0, 0, 0);
	add_block(23, 28, 26, 128, 128);
	add("conv2d", 29, "Kernel", 4, 1, 1, 128, 32);
	add("conv2d", 29, "Bias", 1, 32, 0, 0, 0);
	add("p_re_lu", 27, "Alpha", 3, 1, 1, 32, 0);
	add_block(24, 30, 28, 32, 32);
	add("conv2d", 31, "Kernel", 4, 3, 3, 32, 1);
	add("conv2d", 31, "Bias", 1, 1, 0, 0, 0);
}

static int mesher_for_specs(struct liveness_model **m, struct liveness_mesher **t)
{
	int rc = lt_model_build(specs, nspecs, 7, 0.1f, 0, m);
	if (rc < 0)
		return rc;
	rc = liveness_mesher_new(*m, t);
	if (rc < 0) {
		liveness_model_free(*m);
		*m = NULL;
	}
	return rc;
}

static void test_plan(void)
{
	struct liveness_model *m;
	struct liveness_mesher *t;

	make_specs();
	CHECK_INT(nspecs, 113);
	REQUIRE(mesher_for_specs(&m, &t) == 0);
	liveness_mesher_free(t);
	liveness_mesher_free(NULL);
	liveness_model_free(m);
	make_specs();
	specs[5].dims[3] = 17; /* conv2d_2 with 17 outputs: the next block expects 16 */
	CHECK_INT(mesher_for_specs(&m, &t), -EBADMSG);
	make_specs();
	nspecs--; /* no conv2d_31/Bias */
	CHECK_INT(mesher_for_specs(&m, &t), -ENOENT);
	make_specs();
	specs[2].dims[2] = 15; /* p_re_lu_1 alpha of the wrong width */
	CHECK_INT(mesher_for_specs(&m, &t), -EBADMSG);
}

static void test_forward(void)
{
	static uint8_t chip[LIVENESS_MESH_INPUT * LIVENESS_MESH_INPUT * 3];
	static float a[1404], b[1404];
	struct liveness_model *m;
	struct liveness_mesher *t;
	struct liveness_mesh_ws *w1, *w2;
	struct liveness_mesh mesh;
	float fa, fb;
	int finite = 1;

	make_specs();
	REQUIRE(mesher_for_specs(&m, &t) == 0);
	REQUIRE(liveness_mesh_ws_new(t, &w1) == 0);
	REQUIRE(liveness_mesh_ws_new(t, &w2) == 0);
	for (size_t i = 0; i < sizeof(chip); i++)
		chip[i] = (uint8_t)(i * 7 + i / 577);
	liveness_mesh_forward(t, w1, chip, a, &fa);
	liveness_mesh_forward(t, w2, chip, b, &fb);
	for (int i = 0; i < 1404; i++)
		finite &= isfinite(a[i]);
	CHECK(finite && isfinite(fa));
	CHECK(memcmp(a, b, sizeof(a)) == 0 && fa == fb);

	struct liveness_rgb img = {malloc(300 * 200 * 3), 300, 200};
	REQUIRE(img.px);
	memset(img.px, 90, 300 * 200 * 3);
	struct liveness_roi roi = {150, 100, 120, 0.3f};
	CHECK_INT(liveness_mesh_run(t, w1, &img, &roi, &mesh), 0);
	CHECK(mesh.score >= 0.0f && mesh.score <= 1.0f && mesh.roi.side == 120);
	struct liveness_roi bad = {150, 100, 0, 0};
	CHECK_INT(liveness_mesh_run(t, w1, &img, &bad, &mesh), -EINVAL);
	bad = (struct liveness_roi){NAN, 100, 50, 0};
	CHECK_INT(liveness_mesh_run(t, w1, &img, &bad, &mesh), -EINVAL);
	struct liveness_rgb empty = {0};
	CHECK_INT(liveness_mesh_run(t, w1, &empty, &roi, &mesh), -EINVAL);
	free(img.px);
	liveness_mesh_ws_free(w1);
	liveness_mesh_ws_free(w2);
	liveness_mesh_ws_free(NULL);
	liveness_mesher_free(t);
	liveness_model_free(m);
}

/* Continuous image position of chip point (u, v) (continuous chip coordinates). */
static void chip_to_image(const float *m, float u, float v, float *x, float *y)
{
	/* the matrix works on pixel-centre coordinates on both sides */
	*x = m[0] * (u - 0.5f) + m[1] * (v - 0.5f) + m[2] + 0.5f;
	*y = m[3] * (u - 0.5f) + m[4] * (v - 0.5f) + m[5] + 0.5f;
}

static void test_roi(void)
{
	struct liveness_face f = {.x = 100, .y = 50, .w = 80, .h = 60, .score = 0.9f};
	struct liveness_roi roi;
	struct liveness_mesh mesh;
	float m[6], x, y;

	/* right eye (image left) at (120, 80), left eye 40 px right and 40 px lower: 45 deg */
	f.kp[LIVENESS_KP_RIGHT_EYE][0] = 120;
	f.kp[LIVENESS_KP_RIGHT_EYE][1] = 80;
	f.kp[LIVENESS_KP_LEFT_EYE][0] = 160;
	f.kp[LIVENESS_KP_LEFT_EYE][1] = 120;
	liveness_mesh_roi_from_face(&f, &roi);
	CHECK(fabsf(roi.cx - 140) < 1e-4f && fabsf(roi.cy - 80) < 1e-4f);
	CHECK(fabsf(roi.side - 120) < 1e-4f);
	CHECK(fabsf(roi.angle - (float)M_PI / 4) < 1e-5f);

	/* chip centre -> ROI centre; chip x axis along the ROI angle, side preserved */
	liveness_mesh_roi_matrix(&roi, 192, m);
	chip_to_image(m, 96, 96, &x, &y);
	CHECK(fabsf(x - 140) < 1e-3f && fabsf(y - 80) < 1e-3f);
	chip_to_image(m, 192, 96, &x, &y);
	CHECK(fabsf(x - (140 + 60 * cosf((float)M_PI / 4))) < 1e-3f);
	CHECK(fabsf(y - (80 + 60 * sinf((float)M_PI / 4))) < 1e-3f);

	/* a mesh whose points fill a square rotated by 0.2 rad: the tracking ROI recovers it */
	const float a = 0.2f, c = cosf(a), s = sinf(a);
	for (int i = 0; i < LIVENESS_MESH_POINTS; i++) {
		float u = (float)(i % 22) * 10 - 105, v = (float)(i / 22) * 10 - 105;
		mesh.pt[i][0] = 300 + c * u - s * v;
		mesh.pt[i][1] = 200 + s * u + c * v;
		mesh.pt[i][2] = 0;
	}
	/* the eye-corner points that level the ROI lie on one chip row */
	mesh.pt[LIVENESS_MESH_R_EYE_OUTER][0] = 300 - c * 50;
	mesh.pt[LIVENESS_MESH_R_EYE_OUTER][1] = 200 - s * 50;
	mesh.pt[LIVENESS_MESH_L_EYE_OUTER][0] = 300 + c * 50;
	mesh.pt[LIVENESS_MESH_L_EYE_OUTER][1] = 200 + s * 50;
	liveness_mesh_roi_from_mesh(&mesh, &roi);
	CHECK(fabsf(roi.angle - a) < 1e-4f);
	CHECK(fabsf(roi.cx - 300) < 0.5f && fabsf(roi.cy - 200) < 0.5f);
	CHECK(fabsf(roi.side - 1.5f * 210) < 1.0f);
}

static void test_warp_aa(void)
{
	struct liveness_rgb img = {malloc(64 * 64 * 3), 64, 64};
	uint8_t a[16 * 16 * 3], b[16 * 16 * 3];
	const float m[6] = {4, 0, 1.5f, 0, 4, 1.5f};
	int flat = 1;

	REQUIRE(img.px);
	memset(img.px, 77, 64 * 64 * 3);
	liveness_chip_warp_aa(&img, m, a, 16, 16, 4);
	for (size_t i = 0; i < sizeof(a); i++)
		flat &= a[i] == 77;
	CHECK(flat);
	/* a one-pixel checkerboard averages to grey instead of aliasing to black or white */
	for (size_t i = 0; i < 64 * 64; i++)
		memset(img.px + 3 * i, ((i % 64) + (i / 64)) % 2 ? 255 : 0, 3);
	liveness_chip_warp_aa(&img, m, a, 16, 16, 4);
	CHECK(a[3 * (8 * 16 + 8)] > 100 && a[3 * (8 * 16 + 8)] < 155);
	/* ss = 1 (and out-of-range values clamped to it) is the plain warp */
	liveness_chip_warp_aa(&img, m, a, 16, 16, 0);
	liveness_chip_warp(&img, m, b, 16, 16);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	free(img.px);
}

UNIT_MAIN("liveness_mesh", UNIT_CASE(test_plan), UNIT_CASE(test_forward), UNIT_CASE(test_roi),
	  UNIT_CASE(test_warp_aa))
