/* Unit tests for liveness_photinus. Hand-made observation series check the arithmetic (lag,
 * gains, colour order, relief, reasons); then, with the real models, responses rendered on
 * astronaut (tests/liveness/synth.h: Lambertian screen light on an ellipsoid head with a nose
 * bump, sensor noise, exposure drift): the live response passes; a static photo, a uniformly
 * tinted flat screen, a replay (that live response submitted for another drawn sequence) and a
 * late response (the same frames 600 ms late) fail, each for its own reason. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../liveness/synth.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_photinus.h"
#include "test_liveness_real.h"
#include "unit.h"

#define MAXF 96

static struct liveness_obs obs[MAXF];

static void draw(struct liveness_challenge *c, uint8_t s0, int colours)
{
	struct liveness_plan p;
	uint8_t seed[LIVENESS_SEED_LEN] = {s0, 7, 7};
	liveness_plan_for(LIVENESS_SCENE_PHOTINUS, false, &p);
	p.n_actions = 0;
	p.n_colours = colours;
	if (liveness_challenge_draw(&p, seed, c) != 0)
		abort();
}

/* A face that reflects the screen with region gains (nose, cheeks, rest) and lag. */
static int fake(const struct liveness_challenge *c, float g_nose, float g_cheek, float g_rest,
		float g_bg, int lag)
{
	int n = 0;
	for (int t = -300; t <= c->flash_ms + 300 && n < MAXF; t += 50, n++) {
		struct liveness_obs *o = &obs[n];
		float rgb[3] = {0, 0, 0};
		int k = liveness_challenge_colour_at(c, t - lag);
		memset(o, 0, sizeof(*o));
		o->t_ms = t;
		o->face = true;
		o->faces = 1;
		o->iod = 80;
		o->eye_mid[0] = 100;
		o->eye_mid[1] = 100;
		o->has_descriptor = true;
		if (k >= 0)
			liveness_colour_rgb(c->colours[k], rgb);
		for (int r = 0; r < LIVENESS_N_REGIONS; r++) {
			float g = r == LIVENESS_REG_NOSE				   ? g_nose
				  : r == LIVENESS_REG_CHEEK_R || r == LIVENESS_REG_CHEEK_L ? g_cheek
				  : r == LIVENESS_REG_BACKGROUND			   ? g_bg
											   : g_rest;
			static const float albedo[3] = {180, 130, 110};
			for (int ch = 0; ch < 3; ch++)
				o->rgb[r][ch] = albedo[ch] * (1 + g * rgb[ch]) *
						(1 + 0.004f * (float)((t / 50 + ch + r) % 3 - 1));
		}
	}
	return n;
}

static void test_arithmetic(void)
{
	struct liveness_challenge c, other;
	struct liveness_photinus_result r;
	int n;

	draw(&c, 1, 8);
	n = fake(&c, 0.30f, 0.18f, 0.2f, 0.01f, 80);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(r.passed && r.reasons == 0 && r.score >= 50);
	CHECK(abs(r.lag_ms - 80) <= 20 && r.corr > 0.9f);
	CHECK(r.segments == 8 && r.recognised == 8);
	CHECK(r.relief > 0.4f && r.bg_ratio < 0.1f);
	CHECK(fabsf(r.gain[LIVENESS_REG_NOSE] / r.gain[LIVENESS_REG_FACE] - 1.5f) < 0.1f);

	/* the same response for another drawn sequence: wrong sequence */
	draw(&other, 2, 8);
	liveness_photinus_eval(&other, obs, n, NULL, NULL, &r);
	CHECK(!r.passed && (r.reasons & LIVENESS_R_WRONG_SEQUENCE));
	/* uniform response everywhere, background included: flat */
	n = fake(&c, 0.2f, 0.2f, 0.2f, 0.2f, 80);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_FLAT && fabsf(r.relief) < 0.05f && r.bg_ratio > 0.9f);
	/* no response */
	n = fake(&c, 0, 0, 0, 0, 80);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_NO_RESPONSE && r.score < 50);
	/* 600 ms late */
	n = fake(&c, 0.30f, 0.18f, 0.2f, 0.01f, 600);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_LATE && abs(r.late_lag_ms - 600) <= 30);
	/* early by more than the window is not late; 150 ms early is accepted (clock skew) */
	n = fake(&c, 0.30f, 0.18f, 0.2f, 0.01f, -150);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(r.passed);
	n = fake(&c, 0.30f, 0.18f, 0.2f, 0.01f, 80);
	obs[10].t_ms = obs[9].t_ms; /* the common checks apply */
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	CHECK(!r.passed && (r.reasons & LIVENESS_R_BAD_TIMESTAMPS) && r.score == 0);
}

/* ---- rendered responses ---- */

static int respond(struct liveness_engine *e, struct liveness_worker *w,
		   const struct liveness_rgb *base, const struct liveness_face_info *fi,
		   const struct liveness_challenge *c, enum sy_flash kind, float lag,
		   struct liveness_obs *o)
{
	struct liveness_rgb frames[MAXF] = {0};
	int64_t t[MAXF] = {0};
	int n = 0, rc = 0;

	for (int ms = -267; ms <= c->flash_ms + 300 && n < MAXF && rc == 0; ms += 67, n++) {
		t[n] = ms;
		rc = sy_flash_frame(base, fi, c, kind, (float)ms, lag, 0.25f, 991u + (uint32_t)n,
				    &frames[n]);
	}
	if (rc == 0)
		rc = liveness_seq_observe(e, w, frames, t, n, o);
	for (int i = 0; i < n; i++)
		free(frames[i].px);
	return rc < 0 ? rc : n;
}

static void test_rendered(void)
{
	static struct liveness_obs o[MAXF];
	static struct liveness_analysis a0;
	struct lt_engine probe;
	struct liveness_engine *e;
	struct liveness_worker *w;
	struct liveness_rgb full = {0}, img = {0};
	struct liveness_challenge c, other;
	struct liveness_photinus_result r;
	const char *dir = getenv("SHIREN_MODEL_DIR");
	int verbose = getenv("LIVENESS_VERBOSE") != NULL, n;

	if (lt_engine_open(&probe, "liveness_photinus.test_rendered") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	lt_engine_done(&probe);
	REQUIRE(liveness_engine_open(dir && *dir ? dir : "build/models", &e) == 0);
	REQUIRE(liveness_worker_new(e, &w) == 0);
	REQUIRE(lt_image(LT_ASTRONAUT, &full) == 0);
	REQUIRE(sy_crop(&full, 65, 0, 320, 300, &img) == 0);
	liveness_rgb_done(&full);
	REQUIRE(liveness_analyze(e, w, &img, NULL, 0, &a0) == 0 && a0.has_face);
	draw(&c, 3, 6); /* six colours keep the test short */
	draw(&other, 4, 6);

	n = respond(e, w, &img, &a0.info, &c, SY_FLASH_LIVE, 90, o);
	REQUIRE(n > 30);
	liveness_photinus_eval(&c, o, n, NULL, NULL, &r);
	if (verbose)
		printf("  live: corr %.3f lag %d order %d/%d gain %.4f relief %.3f bg %.3f "
		       "score %.1f reasons 0x%x\n",
		       (double)r.corr, r.lag_ms, r.recognised, r.segments,
		       (double)r.gain[LIVENESS_REG_FACE], (double)r.relief, (double)r.bg_ratio,
		       (double)r.score, r.reasons);
	CHECK(r.passed);
	/* replay: this response submitted for another drawn sequence */
	liveness_photinus_eval(&other, o, n, NULL, NULL, &r);
	CHECK(!r.passed && (r.reasons & LIVENESS_R_WRONG_SEQUENCE));
	/* late: frames whose content trails the flash by 600 ms more (a relayed or re-rendered
	 * reply), i.e. the same frames stamped 600 ms later */
	for (int i = 0; i < n; i++)
		o[i].t_ms += 600;
	liveness_photinus_eval(&c, o, n, NULL, NULL, &r);
	CHECK(!r.passed && (r.reasons & LIVENESS_R_LATE));

	n = respond(e, w, &img, &a0.info, &c, SY_FLASH_FLAT, 90, o);
	liveness_photinus_eval(&c, o, n, NULL, NULL, &r);
	if (verbose)
		printf("  flat: corr %.3f relief %.3f bg %.3f reasons 0x%x\n", (double)r.corr,
		       (double)r.relief, (double)r.bg_ratio, r.reasons);
	CHECK(!r.passed && r.reasons == LIVENESS_R_FLAT);
	n = respond(e, w, &img, &a0.info, &c, SY_FLASH_NONE, 90, o);
	liveness_photinus_eval(&c, o, n, NULL, NULL, &r);
	if (verbose)
		printf("  static: corr %.3f gain %.4f reasons 0x%x\n", (double)r.corr,
		       (double)r.gain[LIVENESS_REG_FACE], r.reasons);
	CHECK(!r.passed && (r.reasons & (LIVENESS_R_NO_RESPONSE | LIVENESS_R_WRONG_SEQUENCE)));
	free(img.px);
	liveness_worker_free(w);
	liveness_engine_free(e);
}

UNIT_MAIN("liveness_photinus", UNIT_CASE(test_arithmetic), UNIT_CASE(test_rendered))
