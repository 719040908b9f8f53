/* Unit tests for liveness_challenge and liveness_action: Model parsing and plans, seeded
 * drawing (deterministic, distinct actions, no colour twice in a row, JSON), the action
 * detectors on hand-made observation series (baseline, order, absent actions, the sequence
 * checks), and, with the real models, synthetic performances rendered from astronaut
 * (tests/liveness/synth.h): the challenged actions are detected, absent ones are not. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../liveness/synth.h"
#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_check.h"
#include "liveness/liveness_engine.h"
#include "test_liveness_real.h"
#include "unit.h"

static void test_models(void)
{
	enum liveness_scene_model m;
	struct liveness_plan p;

	CHECK(liveness_scene_model_parse(NULL, &m) == 0 && m == LIVENESS_SCENE_LIVENESS);
	CHECK(liveness_scene_model_parse("", &m) == 0 && m == LIVENESS_SCENE_LIVENESS);
	CHECK(liveness_scene_model_parse("PHOTINUS_LIVENESS", &m) == 0 &&
	      m == LIVENESS_SCENE_PHOTINUS);
	CHECK(liveness_scene_model_parse("FRONT_CAMERA_LIVENESS", &m) == 0 &&
	      m == LIVENESS_SCENE_FRONT_CAMERA);
	CHECK_INT(liveness_scene_model_parse("liveness", &m), -EINVAL);
	CHECK_STR(liveness_scene_model_name(LIVENESS_SCENE_MULTI_ACTION), "MULTI_ACTION");

	liveness_plan_for(LIVENESS_SCENE_LIVENESS, false, &p);
	CHECK(p.n_actions == 1 && p.blink_first && !p.photinus && !p.silent && !p.strict);
	liveness_plan_for(LIVENESS_SCENE_LIVENESS, true, &p); /* escalates to a flash */
	CHECK(p.n_actions == 2 && p.photinus && p.n_colours == 12 && p.strict);
	liveness_plan_for(LIVENESS_SCENE_PHOTINUS, false, &p);
	CHECK(p.n_actions == 1 && p.photinus && p.n_colours == 8);
	liveness_plan_for(LIVENESS_SCENE_MULTI_ACTION, false, &p);
	CHECK(p.n_actions == 2 &&
	      p.pool == ((1u << LIVENESS_ACT_TURN_LEFT) | (1u << LIVENESS_ACT_TURN_RIGHT)));
	liveness_plan_for(LIVENESS_SCENE_FRONT_CAMERA, true, &p);
	CHECK(p.silent && p.strict && p.n_actions == 0 && !p.photinus);
	liveness_plan_for(LIVENESS_SCENE_MOVE_PHOTINUS, false, &p);
	CHECK(p.photinus && p.n_actions == 1 && !p.blink_first);
}

static void test_draw(void)
{
	uint8_t seed[LIVENESS_SEED_LEN] = {1, 2, 3};
	struct liveness_challenge a, b, c;
	struct liveness_plan p;
	char json[LIVENESS_CHALLENGE_JSON_MAX];
	int differ = 0;

	liveness_plan_for(LIVENESS_SCENE_MULTI_FAPTCHA, true, &p); /* 4 actions */
	p.photinus = true;
	p.n_colours = 16;
	REQUIRE(liveness_challenge_draw(&p, seed, &a) == 0);
	REQUIRE(liveness_challenge_draw(&p, seed, &b) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(a.n_actions == 4 && a.actions[0] == LIVENESS_ACT_BLINK);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			CHECK(a.actions[i] != a.actions[j]);
	CHECK(a.n_colours == 16 && a.start_ms[0] == 0);
	for (int i = 0; i < 16; i++) {
		CHECK(a.dur_ms[i] >= 200 && a.dur_ms[i] <= 300 && a.dur_ms[i] % 20 == 0);
		CHECK((unsigned)a.colours[i] < LIVENESS_N_COLOURS);
		if (i)
			CHECK(a.colours[i] != a.colours[i - 1] &&
			      a.start_ms[i] == a.start_ms[i - 1] + a.dur_ms[i - 1]);
	}
	CHECK(a.flash_ms == a.start_ms[15] + a.dur_ms[15]);
	CHECK(liveness_challenge_colour_at(&a, -1) == -1 &&
	      liveness_challenge_colour_at(&a, 0) == 0 &&
	      liveness_challenge_colour_at(&a, a.flash_ms - 1) == 15 &&
	      liveness_challenge_colour_at(&a, a.flash_ms) == -1);
	seed[0] = 9;
	REQUIRE(liveness_challenge_draw(&p, seed, &c) == 0);
	for (int i = 0; i < 16; i++)
		differ |= c.colours[i] != a.colours[i] || c.dur_ms[i] != a.dur_ms[i];
	CHECK(differ);
	REQUIRE(liveness_challenge_draw(&p, NULL, &c) == 0); /* CSPRNG seed */
	CHECK(memcmp(c.seed, a.seed, LIVENESS_SEED_LEN) != 0);

	int n = liveness_challenge_json(&a, json, sizeof(json));
	REQUIRE(n > 0);
	CHECK(strncmp(json, "{\"actions\":[\"blink\",", 20) == 0);
	CHECK(strstr(json, "\"flash\":[{\"rgb\":\"#") != NULL && strstr(json, "\"flashMs\":"));
	CHECK_INT(liveness_challenge_json(&a, json, 40), -ENOSPC);
	p.n_actions = 5;
	CHECK_INT(liveness_challenge_draw(&p, seed, &c), -EINVAL);
}

/* ---- detectors on hand-made series ---- */

static struct liveness_obs obs[64];

static void still(int n)
{
	memset(obs, 0, sizeof(obs));
	for (int i = 0; i < n; i++) {
		obs[i].t_ms = 1000 + 66 * i;
		obs[i].face = true;
		obs[i].faces = 1;
		obs[i].ear = 0.30f + 0.005f * (float)(i % 3);
		for (int e = 0; e < 2; e++) /* open eyes: one pattern, slightly noisy */
			for (int k = 0; k < LIVENESS_EYE_PATCH; k++)
				obs[i].eye_patch[e][k] = sinf(0.37f * (float)k) +
							 0.05f * (float)((k * 7 + i) % 5 - 2);
		obs[i].mar = 0.10f;
		obs[i].yaw = 2;
		obs[i].eye_mid[0] = 300;
		obs[i].eye_mid[1] = 200;
		obs[i].iod = 80;
	}
	/* descriptors: all equal (same person) */
	for (int i = 0; i < n; i++) {
		obs[i].has_descriptor = true;
		for (int k = 0; k < LIVENESS_EMBED_DIM; k++)
			obs[i].descriptor[k] = 0.01f * (float)(k % 7);
	}
}

/* closed eyes: lower EAR, another appearance */
static void close_eyes(int i)
{
	obs[i].ear = 0.25f;
	for (int e = 0; e < 2; e++)
		for (int k = 0; k < LIVENESS_EYE_PATCH; k++)
			obs[i].eye_patch[e][k] = cosf(1.3f * (float)k);
}

static void blink_at(int i)
{
	close_eyes(i);
	close_eyes(i + 1);
}

static void hold(int from, int to, float yaw, float mar)
{
	for (int i = from; i <= to; i++) {
		obs[i].yaw += yaw;
		obs[i].mar += mar;
	}
}

static struct liveness_challenge challenge(int n, const enum liveness_action *a)
{
	struct liveness_challenge c;
	memset(&c, 0, sizeof(c));
	c.n_actions = n;
	memcpy(c.actions, a, (size_t)n * sizeof(*a));
	return c;
}

static void test_detect(void)
{
	static const enum liveness_action seq[3] = {LIVENESS_ACT_BLINK, LIVENESS_ACT_TURN_LEFT,
						    LIVENESS_ACT_MOUTH};
	struct liveness_challenge c = challenge(3, seq);
	struct liveness_action_result r;

	still(40);
	blink_at(10);
	hold(16, 20, 22, 0);
	hold(26, 30, 0, 0.35f);
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(r.passed && r.reasons == 0);
	CHECK(r.acts[0].found && (r.acts[0].frame == 10 || r.acts[0].frame == 11));
	CHECK(r.acts[1].found && r.acts[1].frame >= 16 && r.acts[1].frame <= 20);
	CHECK(r.acts[2].found && r.acts[2].frame >= 26);
	CHECK(r.score >= 50 && fabsf(r.base_ear - 0.305f) < 0.006f && r.base_yaw == 2);

	/* order matters: the mouth before the turn is not the challenge */
	static const enum liveness_action swapped[3] = {LIVENESS_ACT_BLINK, LIVENESS_ACT_MOUTH,
							LIVENESS_ACT_TURN_LEFT};
	c = challenge(3, swapped);
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(!r.passed && r.reasons == LIVENESS_R_ACTION_MISSING && !r.acts[2].found);
	CHECK(r.score < 50);

	/* absent actions are not found: a right turn is not a left one, a one-frame turn is not
	 * held, and closing the eyes for good is not a blink */
	static const enum liveness_action right[1] = {LIVENESS_ACT_TURN_RIGHT};
	c = challenge(1, right);
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(!r.passed && !r.acts[0].found);
	still(40);
	hold(15, 15, -25, 0);
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(!r.acts[0].found);
	static const enum liveness_action blink[1] = {LIVENESS_ACT_BLINK};
	c = challenge(1, blink);
	still(40);
	for (int i = 20; i < 40; i++)
		close_eyes(i);
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(!r.acts[0].found);
	/* a face lost for a frame is not a blink either */
	still(40);
	obs[20].face = false;
	obs[20].ear = 0;
	liveness_action_eval(&c, obs, 40, NULL, NULL, &r);
	CHECK(!r.acts[0].found && (r.reasons & LIVENESS_R_ACTION_MISSING));
}

static void test_sequence_checks(void)
{
	static const enum liveness_action blink[1] = {LIVENESS_ACT_BLINK};
	struct liveness_challenge c = challenge(1, blink);
	struct liveness_action_result r;

	still(30);
	blink_at(12);
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	REQUIRE(r.passed);
	obs[5].t_ms = obs[4].t_ms; /* not strictly increasing */
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(!r.passed && (r.reasons & LIVENESS_R_BAD_TIMESTAMPS) && r.score == 0);
	still(30);
	blink_at(12);
	obs[20].t_ms = obs[19].t_ms + 900; /* a hole in the capture */
	for (int i = 21; i < 30; i++)
		obs[i].t_ms = obs[i - 1].t_ms + 66;
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons & LIVENESS_R_BAD_TIMESTAMPS);
	still(30);
	blink_at(12);
	obs[25].faces = 2;
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_SEVERAL_FACES);
	still(30);
	blink_at(12);
	for (int i = 15; i < 30; i++)
		obs[i].eye_mid[0] += 200; /* another face swapped in */
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_TRACK_JUMP);
	still(30);
	blink_at(12);
	for (int k = 0; k < LIVENESS_EMBED_DIM; k++)
		obs[29].descriptor[k] += k % 2 ? 0.06f : -0.06f; /* distance 0.68 */
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_IDENTITY && fabs(r.seq.distance - 0.06 * sqrt(128)) < 1e-3);
	CHECK(r.seq.id_frames[0] == 0 && r.seq.id_frames[2] == 29);
	still(30);
	blink_at(12);
	obs[29].has_descriptor = false;
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons == LIVENESS_R_IDENTITY);
	still(5);
	liveness_action_eval(&c, obs, 5, NULL, NULL, &r);
	CHECK(r.reasons & LIVENESS_R_TOO_FEW_FRAMES);
	still(30);
	obs[0].face = false;
	liveness_action_eval(&c, obs, 30, NULL, NULL, &r);
	CHECK(r.reasons & LIVENESS_R_FACE_LOST);
	CHECK_STR(liveness_live_reason_name(LIVENESS_R_LATE), "late_response");
	CHECK_STR(liveness_live_reason_name(LIVENESS_R_IDENTITY), "identity_changed");
}

/* ---- synthetic performances on a real face ---- */

static int perform(struct liveness_engine *e, struct liveness_worker *w,
		   const struct liveness_rgb *base, const struct liveness_analysis *a0,
		   const enum liveness_action *acts, int n, struct liveness_obs *o, int max)
{
	struct liveness_rgb frames[64];
	int64_t t[64];
	int k = 0, rc = 0, total = sy_perf_ms(acts, n);

	for (int ms = 0; ms <= total && k < max && rc == 0; ms += 100, k++) { /* 10 fps */
		struct sy_pose p = sy_perf_at(acts, n, (float)ms);
		t[k] = ms;
		rc = sy_frame(base, &a0->mesh, &a0->info, p, 77u + (uint32_t)k, &frames[k]);
	}
	if (rc == 0)
		rc = liveness_seq_observe(e, w, frames, t, k, o);
	for (int i = 0; i < k; i++)
		free(frames[i].px);
	return rc < 0 ? rc : k;
}

static void test_synthetic(void)
{
	static struct liveness_obs o[64];
	static struct liveness_analysis a0;
	struct lt_engine probe;
	struct liveness_engine *e;
	struct liveness_worker *w;
	struct liveness_rgb img = {0};
	struct liveness_action_result r;
	const char *dir = getenv("SHIREN_MODEL_DIR");
	static const enum liveness_action asked[3] = {LIVENESS_ACT_BLINK, LIVENESS_ACT_TURN_LEFT,
						      LIVENESS_ACT_MOUTH};
	int n;

	if (lt_engine_open(&probe, "liveness_action.test_synthetic") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	lt_engine_done(&probe);
	REQUIRE(liveness_engine_open(dir && *dir ? dir : "build/models", &e) == 0);
	REQUIRE(liveness_worker_new(e, &w) == 0);
	struct liveness_rgb full = {0};
	REQUIRE(lt_image(LT_ASTRONAUT, &full) == 0);
	REQUIRE(sy_crop(&full, 65, 0, 320, 300, &img) == 0); /* the face and some background */
	liveness_rgb_done(&full);
	REQUIRE(liveness_analyze(e, w, &img, NULL, 0, &a0) == 0 && a0.has_face);
	struct liveness_challenge c = challenge(3, asked);

	n = perform(e, w, &img, &a0, asked, 3, o, 64);
	REQUIRE(n > 20);
	liveness_action_eval(&c, o, n, NULL, NULL, &r);
	if (getenv("LIVENESS_VERBOSE"))
		for (int i = 0; i < n; i++)
			printf("  t %4lld ear %.3f eyes %.3f mar %.3f yaw %6.2f\n",
			       (long long)o[i].t_ms, (double)o[i].ear,
			       (double)liveness_eye_distance(o[i].eye_patch, o[0].eye_patch),
			       (double)o[i].mar, (double)o[i].yaw);
	CHECK(r.passed);
	CHECK(r.acts[0].found && r.acts[1].found && r.acts[2].found);
	CHECK(r.seq.distance < 0.4);

	/* performed: a right turn and a blink; asked: blink, left, mouth */
	static const enum liveness_action other[2] = {LIVENESS_ACT_TURN_RIGHT, LIVENESS_ACT_BLINK};
	n = perform(e, w, &img, &a0, other, 2, o, 64);
	liveness_action_eval(&c, o, n, NULL, NULL, &r);
	CHECK(!r.passed && r.acts[0].found && !r.acts[1].found && !r.acts[2].found);
	/* a still face (a photo): nothing found (the first 1.5 s of that performance) */
	liveness_action_eval(&c, o, 6, NULL, NULL, &r);
	CHECK(!r.passed && !r.acts[0].found && r.score < 50);
	free(img.px);
	liveness_worker_free(w);
	liveness_engine_free(e);
}

/* liveness_check_run end to end: a rendered performance against its challenge, compared with
 * the base photo's descriptor (same person; a mismatching reference is test_liveness_outcome's
 * business), and the same frames against another challenge. */
static void test_check(void)
{
	static struct liveness_analysis a0;
	static struct liveness_check chk;
	static char json[LIVENESS_OUTCOME_JSON_MAX];
	static const enum liveness_action acts[2] = {LIVENESS_ACT_BLINK, LIVENESS_ACT_TURN_RIGHT};
	struct liveness_rgb frames[40], full = {0}, img = {0};
	int64_t t[40];
	struct lt_engine probe;
	struct liveness_engine *e;
	struct liveness_worker *w;
	const char *dir = getenv("SHIREN_MODEL_DIR");
	int n = 0, len;

	if (lt_engine_open(&probe, "liveness_action.test_check") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	lt_engine_done(&probe);
	REQUIRE(liveness_engine_open(dir && *dir ? dir : "build/models", &e) == 0);
	REQUIRE(liveness_worker_new(e, &w) == 0);
	REQUIRE(lt_image(LT_ASTRONAUT, &full) == 0);
	REQUIRE(sy_crop(&full, 65, 0, 320, 300, &img) == 0);
	REQUIRE(liveness_analyze(e, w, &img, NULL, LIVENESS_WANT_DESCRIPTOR, &a0) == 0);
	REQUIRE(a0.has_descriptor);
	struct liveness_challenge c = challenge(2, acts);
	liveness_plan_for(LIVENESS_SCENE_MULTI_ACTION, false, &c.plan);
	for (int ms = 0; ms <= sy_perf_ms(acts, 2) && n < 40; ms += 100, n++) {
		t[n] = ms;
		REQUIRE(sy_frame(&img, &a0.mesh, &a0.info, sy_perf_at(acts, 2, (float)ms),
				 5u + (uint32_t)n, &frames[n]) == 0);
	}
	len = liveness_check_run(e, w, &c, frames, t, n, a0.descriptor, false, &chk, json,
				 sizeof(json));
	CHECK(len > 0 && chk.outcome.passed && chk.outcome.sub_code == 200 && chk.compared);
	CHECK(chk.distance < 0.3 && chk.best_frame > 0 && chk.best_frame < n - 1);
	CHECK(strncmp(json, "{\"code\":\"200\",\"passed\":\"T\",\"subCode\":\"200\"", 41) == 0);
	/* the same frames for another challenge: an attack */
	static const enum liveness_action other[2] = {LIVENESS_ACT_BLINK, LIVENESS_ACT_MOUTH};
	struct liveness_challenge c2 = challenge(2, other);
	liveness_plan_for(LIVENESS_SCENE_MOVE_ACTION, false, &c2.plan);
	CHECK(liveness_check_run(e, w, &c2, frames, t, n, NULL, false, &chk, NULL, 0) == 0);
	CHECK(chk.outcome.sub_code == 205 && chk.outcome.attack);
	CHECK_INT(liveness_check_run(e, w, &c2, frames, NULL, n, NULL, false, &chk, NULL, 0),
		  -EINVAL);
	for (int i = 0; i < n; i++)
		free(frames[i].px);
	free(img.px);
	liveness_rgb_done(&full);
	liveness_worker_free(w);
	liveness_engine_free(e);
}

UNIT_MAIN("liveness_action", UNIT_CASE(test_models), UNIT_CASE(test_draw), UNIT_CASE(test_detect),
	  UNIT_CASE(test_sequence_checks), UNIT_CASE(test_synthetic), UNIT_CASE(test_check))
