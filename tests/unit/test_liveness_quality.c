/* Unit tests for liveness_quality: each gate and the score on hand-made inputs (the score is
 * exactly 50 at a threshold), then, with the real models and the Debian face images, the gates
 * respond monotonically to degradation ladders built from grace_hopper and astronaut:
 * darkening (gain), Gaussian blur, downscaling, and a synthetic head turn (cylindrical
 * reprojection, tests/liveness/synth.h). LIVENESS_VERBOSE=1 prints the ladders. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../liveness/synth.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_quality.h"
#include "test_liveness_real.h"
#include "unit.h"

#define CS LIVENESS_EMBED_SIZE

static uint8_t chip[CS * CS * 3];

static void fill_chip(int base, int amp)
{
	for (int y = 0; y < CS; y++)
		for (int x = 0; x < CS; x++)
			memset(chip + ((size_t)y * CS + (size_t)x) * 3,
			       base + ((x / 2 + y / 2) % 2 ? amp : -amp), 3);
}

static void good_inputs(struct liveness_face *f, struct liveness_mesh *m,
			struct liveness_face_info *fi)
{
	memset(f, 0, sizeof(*f));
	memset(fi, 0, sizeof(*fi));
	f->w = f->h = 200;
	f->score = 0.9f;
	m->score = 0.99f;
	fi->iod = 90;
	fi->ear = 0.3f;
	fill_chip(128, 30);
}

static void test_gates(void)
{
	struct liveness_face f[2];
	struct liveness_mesh mesh;
	struct liveness_face_info fi;
	struct liveness_quality q;

	good_inputs(&f[0], &mesh, &fi);
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, 0);
	CHECK(q.score > 90 && q.faces == 1);
	CHECK(fabsf(q.region.luma_mean - 128) < 1 && q.region.sharpness > 1);

	liveness_quality_assess(NULL, f, 0, NULL, NULL, NULL, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_NO_FACE);
	CHECK(q.score == 0);
	mesh.score = 0.2f; /* the mesh does not see a face in the detection */
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_NO_FACE);

	good_inputs(&f[0], &mesh, &fi);
	f[1] = f[0];
	f[1].w = f[1].h = 100; /* half the size: counts */
	liveness_quality_assess(NULL, f, 2, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_SEVERAL_FACES);
	f[1].w = f[1].h = 60; /* a small face in the background does not */
	liveness_quality_assess(NULL, f, 2, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, 0);

	fi.iod = 39.9f;
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_TOO_SMALL);
	CHECK(q.s_size < 50 && q.score == q.s_size);
	fi.iod = 40; /* exactly at the threshold: passes with a sub-score of 50 */
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, 0);
	CHECK(fabsf(q.s_size - 50) < 1e-4f);

	good_inputs(&f[0], &mesh, &fi);
	fill_chip(40, 10);
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_TOO_DARK);
	fill_chip(225, 20);
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_OVEREXPOSED);
	fill_chip(128, 0);
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_BLURRED);
	CHECK(q.region.sharpness == 0);

	good_inputs(&f[0], &mesh, &fi);
	fi.yaw = -26;
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_NOT_FRONTAL);
	fi.yaw = 0;
	fi.roll = 31;
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_NOT_FRONTAL);
	fi.roll = 0;
	fi.ear = 0.1f;
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_EYES_CLOSED);
	fi.ear = NAN; /* never passes by accident */
	liveness_quality_assess(NULL, f, 1, &mesh, &fi, chip, &q);
	CHECK_INT(q.reasons, LIVENESS_Q_EYES_CLOSED);

	CHECK_STR(liveness_quality_reason_name(LIVENESS_Q_TOO_DARK), "too_dark");
	CHECK_STR(liveness_quality_reason_name(LIVENESS_Q_EYES_CLOSED), "eyes_closed");
	CHECK_STR(liveness_quality_reason_name(3), "unknown");
}

/* ---- ladders on real images ---- */

enum ladder { L_DARK, L_BLUR, L_SMALL, L_TURN };
static const char *const ladder_names[] = {"darken gain", "blur sigma", "downscale", "turn deg"};
static const float steps[4][7] = {
	{1.0f, 0.8f, 0.6f, 0.45f, 0.35f, 0.25f, 0.15f},
	{0.0f, 0.7f, 1.4f, 2.0f, 2.8f, 4.0f, 6.0f}, /* x face size (inter-ocular / 90 px) */
	{1.0f, 0.8f, 0.6f, 0.45f, 0.35f, 0.28f, 0.22f},
	{0.0f, 8.0f, 16.0f, 24.0f, 32.0f, 40.0f, 50.0f}, /* the cylinder model ends near 50 */
};
static const unsigned ladder_gate[4] = {LIVENESS_Q_TOO_DARK, LIVENESS_Q_BLURRED,
					LIVENESS_Q_TOO_SMALL, LIVENESS_Q_NOT_FRONTAL};

static float measure(enum ladder l, const struct liveness_quality *q)
{
	switch (l) {
	case L_DARK:
		return q->region.luma_mean;
	case L_BLUR:
		return q->region.sharpness;
	case L_SMALL:
		return q->iod;
	default:
		return fabsf(q->yaw);
	}
}

static float subscore(enum ladder l, const struct liveness_quality *q)
{
	switch (l) {
	case L_DARK:
		return q->s_illum;
	case L_BLUR:
		return q->s_blur;
	case L_SMALL:
		return q->s_size;
	default:
		return q->s_pose;
	}
}

static int render(enum ladder l, float v, const struct liveness_rgb *img,
		  const struct liveness_face_info *fi, struct liveness_rgb *out)
{
	int rc;
	switch (l) {
	case L_DARK:
		rc = sy_copy(img, out);
		if (rc == 0)
			sy_gain(out, v);
		return rc;
	case L_BLUR:
		rc = sy_copy(img, out);
		return rc == 0 ? sy_blur(out, v * fi->iod / 90.0f) : rc;
	case L_SMALL:
		return sy_scale(img, v, out);
	default:
		return sy_turn(img, fi, v, out);
	}
}

static void ladder(struct liveness_engine *e, struct liveness_worker *w,
		   const struct liveness_rgb *img, const char *name, enum ladder l)
{
	static struct liveness_analysis a;
	struct liveness_face_info base;
	float prev_m = 0, prev_s = 0;
	int flips = 0, prev_fail = 0, verbose = getenv("LIVENESS_VERBOSE") != NULL;

	REQUIRE(liveness_analyze(e, w, img, NULL, 0, &a) == 0 && a.has_face);
	base = a.info;
	for (int i = 0; i < 7; i++) {
		struct liveness_rgb d = {0};
		REQUIRE(render(l, steps[l][i], img, &base, &d) == 0);
		REQUIRE(liveness_analyze(e, w, &d, NULL, 0, &a) == 0);
		free(d.px);
		/* a face blurred or shrunk past detection is a "no face" failure; allowed only in
		 * the second half of a ladder, and the measure then counts as 0 */
		CHECK(a.has_face || (i >= 4 && l != L_DARK && l != L_TURN));
		float m = a.has_face ? measure(l, &a.quality) : 0;
		float s = a.has_face ? subscore(l, &a.quality) : 0;
		int fail = !a.has_face || (a.quality.reasons & ladder_gate[l]) != 0;
		if (verbose)
			printf("  %s %s %.2f: measure %.3f subscore %.1f score %.1f reasons 0x%x\n",
			       name, ladder_names[l], (double)steps[l][i], (double)m, (double)s,
			       (double)a.quality.score, a.quality.reasons);
		if (i > 0) {
			/* the measure moves one way, the sub-score never improves */
			if (l == L_TURN)
				CHECK(m > prev_m);
			else /* at the measure's noise floor, a tie within 2% */
				CHECK(m < prev_m || m <= 0.05f || m <= prev_m * 1.02f);
			CHECK(s <= prev_s + 1e-3f);
			flips += fail != prev_fail;
		} else {
			CHECK(!fail);
		}
		prev_m = m;
		prev_s = s;
		prev_fail = fail;
	}
	CHECK(prev_fail && flips == 1); /* passes at the start, fails at the end, flips once */
}

static void test_ladders(void)
{
	struct lt_engine probe;
	struct liveness_engine *e;
	struct liveness_worker *w;
	const char *dir = getenv("SHIREN_MODEL_DIR");
	static const char *const imgs[2] = {LT_HOPPER, LT_ASTRONAUT};

	if (lt_engine_open(&probe, "liveness_quality.test_ladders") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	lt_engine_done(&probe);
	REQUIRE(liveness_engine_open(dir && *dir ? dir : "build/models", &e) == 0);
	REQUIRE(liveness_worker_new(e, &w) == 0);
	for (int i = 0; i < 2; i++) {
		struct liveness_rgb img = {0};
		REQUIRE(lt_image(imgs[i], &img) == 0);
		for (int l = 0; l < 4; l++)
			ladder(e, w, &img, i ? "astronaut" : "hopper", (enum ladder)l);
		liveness_rgb_done(&img);
	}
	liveness_worker_free(w);
	liveness_engine_free(e);
}

UNIT_MAIN("liveness_quality", UNIT_CASE(test_gates), UNIT_CASE(test_ladders))
