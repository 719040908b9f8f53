/* Unit tests for liveness_silent: the spectral peak measure on generated patches (noise, a
 * fine grating, JPEG-like block patterns, which are excluded), then, with the real models,
 * grace_hopper and astronaut pass while synthetic screen replays of them (display sub-pixel
 * grid aliased by a rotated camera, tests/liveness/synth.h) and an 8x8-blocky recompression
 * of hopper do not. LOW ASSURANCE: these are the only attacks it is shown to see. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../liveness/synth.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_silent.h"
#include "test_liveness_real.h"
#include "unit.h"

#define N 128

static void test_moire(void)
{
	static float p[N * N];
	uint32_t s = 5;

	for (int i = 0; i < N * N; i++)
		p[i] = 128 + 20 * sy_noise(&s);
	float noise = liveness_silent_moire(p, N);
	for (int y = 0; y < N; y++)
		for (int x = 0; x < N; x++)
			p[y * N + x] +=
				15 * sinf(2 * (float)M_PI * (0.31f * (float)x + 0.07f * (float)y));
	float grating = liveness_silent_moire(p, N);
	if (getenv("LIVENESS_VERBOSE"))
		printf("  noise %.2f grating %.2f\n", (double)noise, (double)grating);
	CHECK(noise < 1.0f && grating > 1.4f);
	/* 8x8 block edges put energy at multiples of 1/8 cycle: excluded */
	s = 5;
	for (int i = 0; i < N * N; i++)
		p[i] = 128 + 20 * sy_noise(&s) + (((i % N) / 8 + (i / N) / 8) % 2 ? 6.0f : -6.0f);
	CHECK(liveness_silent_moire(p, N) < 1.2f);
	CHECK(liveness_silent_moire(p, 100) == 0.0f); /* not a power of two */
}

static void eval(struct liveness_engine *e, struct liveness_worker *w,
		 const struct liveness_rgb *img, struct liveness_silent_result *r)
{
	static struct liveness_analysis a;
	memset(r, 0, sizeof(*r));
	if (liveness_analyze(e, w, img, NULL, 0, &a) == 0)
		liveness_silent_eval(img, &a, false, NULL, r);
	if (getenv("LIVENESS_VERBOSE"))
		printf("  moire %.2f block %.2f washed %.2f score %.0f\n", (double)r->moire,
		       (double)r->block, (double)r->washed, (double)r->score);
}

static void test_real(void)
{
	static const char *const imgs[2] = {LT_HOPPER, LT_ASTRONAUT};
	struct lt_engine probe;
	struct liveness_engine *e;
	struct liveness_worker *w;
	struct liveness_silent_result r;
	const char *dir = getenv("SHIREN_MODEL_DIR");

	if (lt_engine_open(&probe, "liveness_silent.test_real") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	lt_engine_done(&probe);
	REQUIRE(liveness_engine_open(dir && *dir ? dir : "build/models", &e) == 0);
	REQUIRE(liveness_worker_new(e, &w) == 0);
	for (int i = 0; i < 2; i++) {
		struct liveness_rgb img = {0}, rep = {0};
		REQUIRE(lt_image(imgs[i], &img) == 0);
		eval(e, w, &img, &r);
		CHECK(r.passed && r.score == 100);
		REQUIRE(sy_recapture(&img, 1.5f, 5, &rep) == 0);
		eval(e, w, &rep, &r);
		CHECK(!r.passed && r.c_moire == 1.0f);
		free(rep.px);
		if (i == 0) { /* heavy recompression: luma averaged over 8x8 blocks */
			for (uint32_t by = 0; by + 8 <= img.h; by += 8)
				for (uint32_t bx = 0; bx + 8 <= img.w; bx += 8)
					for (int c = 0; c < 3; c++) {
						int sum = 0;
						for (int k = 0; k < 64; k++)
							sum += img.px[((by + k / 8) * img.w + bx +
								       k % 8) *
									      3 +
								      c];
						for (int k = 0; k < 64; k++)
							img.px[((by + k / 8) * img.w + bx + k % 8) *
								       3 +
							       c] = (uint8_t)((sum + 32) / 64);
					}
			eval(e, w, &img, &r);
			CHECK(!r.passed && r.c_block == 1.0f);
		}
		liveness_rgb_done(&img);
	}
	liveness_worker_free(w);
	liveness_engine_free(e);
}

UNIT_MAIN("liveness_silent", UNIT_CASE(test_moire), UNIT_CASE(test_real))
