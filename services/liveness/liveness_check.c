/* liveness_check — the per-verification driver over the engine, evaluators and outcome. */
#include "liveness/liveness_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int sequence(const struct liveness_engine *e, struct liveness_worker *w,
		    const struct liveness_challenge *c, const struct liveness_rgb *frames,
		    const int64_t *t_ms, int n, struct liveness_check *ret)
{
	struct liveness_obs *obs = calloc((size_t)n, sizeof(*obs));
	int idx[3], k, rc;

	if (!obs)
		return -ENOMEM;
	rc = liveness_seq_observe(e, w, frames, t_ms, n, obs);
	if (rc == 0) {
		if (c->plan.n_actions > 0)
			liveness_action_eval(c, obs, n, NULL, NULL, &ret->action);
		if (c->plan.photinus)
			liveness_photinus_eval(c, obs, n, NULL, NULL, &ret->photinus);
		/* the photo: the most frontal frame of the middle third, else the first face */
		k = liveness_seq_pick(obs, n, idx);
		ret->best_frame = k == 3 ? idx[1] : k > 0 ? idx[0] : 0;
	}
	free(obs);
	return rc;
}

int liveness_check_run(const struct liveness_engine *e, struct liveness_worker *w,
		       const struct liveness_challenge *c, const struct liveness_rgb *frames,
		       const int64_t *t_ms, int n, const float *reference, bool reference_unusable,
		       struct liveness_check *ret, char *json, size_t cap)
{
	const struct liveness_plan *p = &c->plan;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!frames || n < 1 || (!p->silent && !t_ms))
		return -EINVAL;
	if (n > LIVENESS_MAX_FRAMES)
		return -E2BIG;
	if (!p->silent && (rc = sequence(e, w, c, frames, t_ms, n, ret)) < 0)
		return rc;
	rc = liveness_analyze(e, w, &frames[ret->best_frame], NULL, LIVENESS_WANT_DESCRIPTOR,
			      &ret->best);
	if (rc < 0)
		return rc;
	if (p->silent)
		liveness_silent_eval(&frames[0], &ret->best, p->strict, NULL, &ret->silent);
	if (reference && ret->best.has_descriptor && !reference_unusable) {
		ret->compared = true;
		ret->distance = liveness_embed_distance(ret->best.descriptor, reference);
	}
	struct liveness_outcome_in in = {
		.plan = p,
		.quality = &ret->best.quality,
		.action = p->n_actions > 0 ? &ret->action : NULL,
		.photinus = p->photinus ? &ret->photinus : NULL,
		.silent = p->silent ? &ret->silent : NULL,
		.compared = ret->compared,
		.distance = ret->distance,
		.reference_unusable = reference_unusable,
	};
	if ((rc = liveness_outcome_decide(&in, &ret->outcome)) < 0)
		return rc;
	return json ? liveness_outcome_json(&in, json, cap) : 0;
}
