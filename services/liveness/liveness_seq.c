/* liveness_seq — sequence bookkeeping shared by the action and photinus checks. */
#include "liveness/liveness_seq.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *liveness_live_reason_name(unsigned bit)
{
	static const char *const names[LIVENESS_N_LIVE_REASONS] = {
		"bad_timestamps", "too_few_frames", "too_long",		"face_lost",
		"several_faces",  "track_jump",	    "identity_changed", "action_missing",
		"no_response",	  "wrong_sequence", "late_response",	"flat_response",
		"silent_risk",	  "quality",
	};
	for (int i = 0; i < LIVENESS_N_LIVE_REASONS; i++)
		if (bit == 1u << i)
			return names[i];
	return "unknown";
}

int liveness_seq_pick(const struct liveness_obs *obs, int n, int ret_idx[3])
{
	int first = -1, last = -1, mid = -1, k = 0;
	float best = INFINITY;

	for (int i = 0; i < n; i++)
		if (obs[i].face) {
			if (first < 0)
				first = i;
			last = i;
		}
	for (int i = n / 3; i < n - n / 3; i++) {
		float f = fabsf(obs[i].yaw) + fabsf(obs[i].pitch);
		if (obs[i].face && f < best) {
			best = f;
			mid = i;
		}
	}
	if (first >= 0)
		ret_idx[k++] = first;
	if (mid >= 0 && mid != first && mid != last)
		ret_idx[k++] = mid;
	if (last >= 0 && last != first)
		ret_idx[k++] = last;
	return k;
}

static void check_time(const struct liveness_obs *obs, int n, const struct liveness_seq_limits *l,
		       struct liveness_seq_result *r)
{
	if (n < l->min_frames)
		r->reasons |= LIVENESS_R_TOO_FEW_FRAMES;
	for (int i = 1; i < n; i++) {
		int64_t gap = obs[i].t_ms - obs[i - 1].t_ms;
		if (gap <= 0 || gap > l->max_gap_ms)
			r->reasons |= LIVENESS_R_BAD_TIMESTAMPS;
	}
	if (n > 0 && obs[n - 1].t_ms - obs[0].t_ms > l->max_duration_ms)
		r->reasons |= LIVENESS_R_TOO_LONG;
}

static void check_track(const struct liveness_obs *obs, int n, const struct liveness_seq_limits *l,
			struct liveness_seq_result *r)
{
	int prev = -1;
	for (int i = 0; i < n; i++) {
		if (!obs[i].face)
			continue;
		r->face_frames++;
		if (obs[i].faces > 1)
			r->reasons |= LIVENESS_R_SEVERAL_FACES;
		if (prev >= 0) {
			const struct liveness_obs *a = &obs[prev], *b = &obs[i];
			float iod = fmaxf(a->iod, 1.0f);
			float move = hypotf(b->eye_mid[0] - a->eye_mid[0],
					    b->eye_mid[1] - a->eye_mid[1]);
			if (move > l->max_jump * iod * (float)(i - prev) ||
			    fabsf(b->iod - a->iod) > l->max_scale_jump * iod)
				r->reasons |= LIVENESS_R_TRACK_JUMP;
		}
		prev = i;
	}
	if (n == 0 || (float)(n - r->face_frames) > l->max_lost * (float)n || !obs[0].face ||
	    !obs[n - 1].face)
		r->reasons |= LIVENESS_R_FACE_LOST;
}

void liveness_seq_check(const struct liveness_obs *obs, int n,
			const struct liveness_seq_limits *lim, struct liveness_seq_result *ret)
{
	const struct liveness_seq_limits def = LIVENESS_SEQ_LIMITS_DEFAULT;
	const struct liveness_seq_limits *l = lim ? lim : &def;
	int k;

	memset(ret, 0, sizeof(*ret));
	ret->frames = n;
	ret->distance = NAN;
	check_time(obs, n, l, ret);
	check_track(obs, n, l, ret);
	k = liveness_seq_pick(obs, n, ret->id_frames);
	for (int i = k; i < 3; i++)
		ret->id_frames[i] = -1;
	for (int i = 0; i < k; i++) {
		if (!obs[ret->id_frames[i]].has_descriptor) {
			ret->distance = NAN;
			break;
		}
		for (int j = i + 1; j < k; j++) {
			double d = liveness_embed_distance(obs[ret->id_frames[i]].descriptor,
							   obs[ret->id_frames[j]].descriptor);
			if (isnan(ret->distance) || d > ret->distance)
				ret->distance = d;
		}
	}
	if (k < 2 || !(ret->distance < l->max_distance))
		ret->reasons |= LIVENESS_R_IDENTITY;
	ret->s_identity =
		k < 2 ? 0.0f
		      : liveness_ramp((float)ret->distance, (float)(2 * l->max_distance),
				      (float)l->max_distance, (float)(l->max_distance / 2));
}

int liveness_seq_observe(const struct liveness_engine *e, struct liveness_worker *w,
			 const struct liveness_rgb *frames, const int64_t *t_ms, int n,
			 struct liveness_obs *obs)
{
	struct liveness_analysis *a = malloc(sizeof(*a));
	int idx[3], k, rc = 0;

	if (!a)
		return -ENOMEM;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = liveness_analyze(e, w, &frames[i], NULL, LIVENESS_NO_SMALL_FACES, a);
		if (rc == 0)
			liveness_observe(&frames[i], a, t_ms[i], &obs[i]);
	}
	k = rc == 0 ? liveness_seq_pick(obs, n, idx) : 0;
	for (int i = 0; i < k && rc == 0; i++) {
		rc = liveness_analyze(e, w, &frames[idx[i]], NULL,
				      LIVENESS_NO_SMALL_FACES | LIVENESS_WANT_DESCRIPTOR, a);
		if (rc == 0 && a->has_descriptor) {
			obs[idx[i]].has_descriptor = true;
			memcpy(obs[idx[i]].descriptor, a->descriptor, sizeof(a->descriptor));
		}
	}
	free(a);
	return rc;
}
