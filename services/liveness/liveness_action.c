/* liveness_action — baseline, per-action detectors in challenge order, score. */
#include "liveness/liveness_action.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BASE_MAX 64

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static float median(float *v, int n)
{
	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(float), cmp_float);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void baseline(const struct liveness_obs *obs, int n, const struct liveness_action_limits *l,
		     struct liveness_action_result *r)
{
	float ear[BASE_MAX], mar[BASE_MAX], yaw[BASE_MAX];
	int k = 0;
	int64_t t0 = n > 0 ? obs[0].t_ms : 0;

	memset(r->base_eyes, 0, sizeof(r->base_eyes));

	for (int i = 0; i < n && k < BASE_MAX; i++) {
		if (!obs[i].face)
			continue;
		if (k >= 3 && obs[i].t_ms - t0 > l->baseline_ms)
			break;
		ear[k] = obs[i].ear;
		mar[k] = obs[i].mar;
		for (int e = 0; e < 2; e++)
			for (int p = 0; p < LIVENESS_EYE_PATCH; p++)
				r->base_eyes[e][p] += obs[i].eye_patch[e][p];
		yaw[k] = obs[i].yaw;
		k++;
	}
	r->base_ear = median(ear, k);
	r->base_mar = median(mar, k);
	r->base_yaw = median(yaw, k);
}

/* How far the eyes look from the baseline eyes (the sum of patches correlates like their
 * mean). */
static float eye_change(const struct liveness_obs *o, const struct liveness_action_result *b)
{
	return liveness_eye_distance(o->eye_patch, b->base_eyes);
}

static float ear_ratio(const struct liveness_obs *o, const struct liveness_action_result *b)
{
	return b->base_ear > 0 ? o->ear / b->base_ear : 1.0f;
}

/* Signed excursion of frame i for action a (toward doing it). */
static float excursion(enum liveness_action a, const struct liveness_obs *o,
		       const struct liveness_action_result *b)
{
	switch (a) {
	case LIVENESS_ACT_BLINK:
		return ear_ratio(o, b) <= 1.0f ? eye_change(o, b) : 0.0f;
	case LIVENESS_ACT_MOUTH:
		return o->mar - b->base_mar;
	case LIVENESS_ACT_TURN_LEFT:
		return o->yaw - b->base_yaw;
	default:
		return b->base_yaw - o->yaw;
	}
}

static float threshold(enum liveness_action a, const struct liveness_action_limits *l)
{
	switch (a) {
	case LIVENESS_ACT_BLINK:
		return l->blink_change;
	case LIVENESS_ACT_MOUTH:
		return l->mouth_rise;
	default:
		return l->turn_deg;
	}
}

static int find_blink(const struct liveness_obs *obs, int n, int from,
		      const struct liveness_action_result *b,
		      const struct liveness_action_limits *l, struct liveness_action_found *f)
{
	for (int i = from; i < n; i++) {
		if (!obs[i].face || !(eye_change(&obs[i], b) >= l->blink_change) ||
		    !(ear_ratio(&obs[i], b) <= l->blink_ear))
			continue;
		int peak = i;
		for (int j = i + 1; j < n; j++) {
			if (obs[j].t_ms - obs[i].t_ms > l->blink_max_ms)
				break;
			if (!obs[j].face)
				continue;
			if (eye_change(&obs[j], b) > eye_change(&obs[peak], b))
				peak = j;
			if (eye_change(&obs[j], b) <= l->blink_recover) {
				f->found = true;
				f->frame = peak;
				return j;
			}
		}
	}
	return -1;
}

/* A run of hold_frames consecutive face frames beyond the threshold. */
static int find_held(enum liveness_action a, const struct liveness_obs *obs, int n, int from,
		     const struct liveness_action_result *b, const struct liveness_action_limits *l,
		     struct liveness_action_found *f)
{
	const float thr = threshold(a, l);
	int run = 0, peak = -1;

	for (int i = from; i < n; i++) {
		if (!obs[i].face)
			continue;
		if (excursion(a, &obs[i], b) >= thr) {
			if (peak < 0 || excursion(a, &obs[i], b) > excursion(a, &obs[peak], b))
				peak = i;
			run++;
			continue;
		}
		if (run >= l->hold_frames) {
			f->found = true;
			f->frame = peak;
			return i;
		}
		run = 0;
		peak = -1;
	}
	if (run >= l->hold_frames) {
		f->found = true;
		f->frame = peak;
		return n;
	}
	return -1;
}

int liveness_action_find(enum liveness_action a, const struct liveness_obs *obs, int n, int from,
			 const struct liveness_action_result *base,
			 const struct liveness_action_limits *l, struct liveness_action_found *ret)
{
	int next;
	float best = -INFINITY;

	memset(ret, 0, sizeof(*ret));
	ret->frame = -1;
	next = a == LIVENESS_ACT_BLINK ? find_blink(obs, n, from, base, l, ret)
				       : find_held(a, obs, n, from, base, l, ret);
	if (ret->found) {
		best = excursion(a, &obs[ret->frame], base);
		ret->t_ms = obs[ret->frame].t_ms;
	} else {
		/* the closest it came, for the score */
		for (int i = from; i < n; i++)
			if (obs[i].face)
				best = fmaxf(best, excursion(a, &obs[i], base));
	}
	ret->strength = isfinite(best) ? best : 0.0f;
	float thr = threshold(a, l);
	ret->score = liveness_ramp(ret->strength, 0.0f, thr, 2.0f * thr);
	if (!ret->found && ret->score >= 50.0f)
		ret->score = 49.0f; /* beyond the threshold, but not as the action requires */
	return next;
}

void liveness_action_eval(const struct liveness_challenge *c, const struct liveness_obs *obs, int n,
			  const struct liveness_action_limits *lim,
			  const struct liveness_seq_limits *slim,
			  struct liveness_action_result *ret)
{
	const struct liveness_action_limits def =
		c->plan.strict ? LIVENESS_ACTION_LIMITS_STRICT : LIVENESS_ACTION_LIMITS_DEFAULT;
	const struct liveness_action_limits *l = lim ? lim : &def;
	int from = 0;
	float score;

	memset(ret, 0, sizeof(*ret));
	liveness_seq_check(obs, n, slim, &ret->seq);
	ret->reasons = ret->seq.reasons;
	baseline(obs, n, l, ret);
	score = ret->seq.s_identity;
	ret->n_actions = c->n_actions;
	for (int k = 0; k < c->n_actions; k++) {
		struct liveness_action_found *f = &ret->acts[k];
		int next = liveness_action_find(c->actions[k], obs, n, from, ret, l, f);
		if (f->found)
			from = next;
		else
			ret->reasons |= LIVENESS_R_ACTION_MISSING;
		score = fminf(score, f->score);
	}
	if (ret->reasons & ~(unsigned)(LIVENESS_R_IDENTITY | LIVENESS_R_ACTION_MISSING))
		score = 0.0f;
	ret->score = score;
	ret->passed = ret->reasons == 0 && c->n_actions > 0;
}
