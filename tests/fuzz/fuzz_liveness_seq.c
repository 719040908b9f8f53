/* libFuzzer harness for the frame-sequence evaluators: the observations a client's frames turn
 * into (its timestamps above all) are untrusted. Arbitrary bytes become a challenge seed and
 * plan, and a series of observations (timestamps anywhere in int64, non-finite measurements,
 * faces appearing and vanishing); the action and photinus evaluators and the outcome mapping
 * must return without crashing, with scores in 0..100 and well-formed JSON. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_outcome.h"
#include "liveness/liveness_photinus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN 64

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint32_t u32(struct reader *r)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		v = v << 8 | (r->n ? *r->p : 0);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

/* Mostly plausible values, sometimes extreme or not finite. */
static float val(struct reader *r, float scale)
{
	uint32_t v = u32(r);
	switch (v & 15) {
	case 0:
		return NAN;
	case 1:
		return INFINITY;
	case 2:
		return -1e30f;
	default:
		return scale * (float)(v >> 8) / (float)(1u << 24);
	}
}

static struct liveness_obs obs[MAXN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = {data, size};
	uint8_t seed[LIVENESS_SEED_LEN] = {0};
	struct liveness_plan plan;
	struct liveness_challenge c;
	struct liveness_action_result ar;
	struct liveness_photinus_result pr;
	struct liveness_quality q;
	struct liveness_silent_result sr;
	static char json[LIVENESS_OUTCOME_JSON_MAX];
	int n;

	for (int i = 0; i < LIVENESS_SEED_LEN && r.n; i++, r.n--)
		seed[i] = *r.p++;
	liveness_plan_for((enum liveness_scene_model)(u32(&r) % 7), u32(&r) & 1, &plan);
	plan.photinus = true;
	plan.n_colours = plan.n_colours < 2 ? 8 : plan.n_colours;
	if (plan.n_actions == 0)
		plan.n_actions = 1;
	if (liveness_challenge_draw(&plan, seed, &c) != 0)
		return 0;
	n = (int)(u32(&r) % (MAXN + 1));
	int64_t t = (int64_t)(int32_t)u32(&r);
	for (int i = 0; i < n; i++) {
		struct liveness_obs *o = &obs[i];
		memset(o, 0, sizeof(*o));
		uint32_t k = u32(&r);
		t += (k & 1) ? (int64_t)(int32_t)u32(&r) * 1000000 : (int64_t)(k >> 24);
		o->t_ms = t;
		o->face = (k >> 1) & 1;
		o->faces = (int)((k >> 2) & 3);
		o->ear = val(&r, 0.5f);
		o->mar = val(&r, 1.0f);
		o->yaw = val(&r, 90.0f) - 45.0f;
		o->pitch = val(&r, 90.0f) - 45.0f;
		o->iod = val(&r, 200.0f);
		o->eye_mid[0] = val(&r, 1000.0f);
		o->eye_mid[1] = val(&r, 1000.0f);
		for (int g = 0; g < LIVENESS_N_REGIONS; g++)
			for (int ch = 0; ch < 3; ch++)
				o->rgb[g][ch] = val(&r, 255.0f);
		for (int e = 0; e < 2; e++)
			for (int p = 0; p < LIVENESS_EYE_PATCH; p += 37)
				o->eye_patch[e][p] = val(&r, 2.0f);
		o->has_descriptor = (k >> 4) & 1;
		for (int d = 0; d < LIVENESS_EMBED_DIM; d += 11)
			o->descriptor[d] = val(&r, 0.2f);
	}
	liveness_action_eval(&c, obs, n, NULL, NULL, &ar);
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &pr);
	if (!(ar.score >= 0 && ar.score <= 100) || !(pr.score >= 0 && pr.score <= 100))
		__builtin_trap();
	memset(&q, 0, sizeof(q));
	q.score = val(&r, 100.0f);
	q.reasons = u32(&r) & 0xff;
	memset(&sr, 0, sizeof(sr));
	sr.score = val(&r, 100.0f);
	sr.passed = sr.score >= 50;
	struct liveness_outcome_in in = {.plan = &plan,
					 .quality = &q,
					 .action = &ar,
					 .photinus = &pr,
					 .silent = &sr,
					 .compared = true,
					 .distance = val(&r, 2.0f)};
	int len = liveness_outcome_json(&in, json, sizeof(json));
	if (len <= 0 || json[0] != '{' || json[len - 1] != '}' || strlen(json) != (size_t)len)
		__builtin_trap();
	return 0;
}
