/* liveness_check — one call per verification for the service: runs what the challenge's plan
 * requires on the submitted frames (action and/or photinus) or photo (silent), picks the photo
 * the result is about, compares it with an optional reference descriptor, and writes the
 * outcome JSON (liveness_outcome.h). Frames are one sequence with capture timestamps in ms
 * from the flash start (the first colour's onset) on the client clock; without a flash any
 * origin will do. Actions may come before the flash (negative times) or after it. */
#ifndef SHIREN_LIVENESS_CHECK_H
#define SHIREN_LIVENESS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_outcome.h"
#include "liveness/liveness_photinus.h"
#include "liveness/liveness_silent.h"

#define LIVENESS_MAX_FRAMES 300 /* 10 s at 30 fps: longer sequences are refused (-E2BIG) */

struct liveness_check {
	struct liveness_action_result action;
	struct liveness_photinus_result photinus;
	struct liveness_silent_result silent;
	int best_frame;		       /* the frame the result is about (0 for a photo) */
	struct liveness_analysis best; /* its analysis, with the descriptor */
	bool compared;
	double distance; /* to the reference, when given */
	struct liveness_outcome outcome;
};

/* Frames (n >= 1 images, t_ms capture times) against challenge c; photo plans (c->plan.silent)
 * use frames[0] only. reference: a LIVENESS_EMBED_DIM descriptor of the reference face, or
 * NULL; reference_unusable: the caller found no usable face in its reference photo. Fills
 * *ret and, when json is not NULL, the outcome JSON (LIVENESS_OUTCOME_JSON_MAX bytes suffice).
 * Returns the JSON length (0 without json), or -EINVAL, -E2BIG (n), -ENOMEM, -ENOSPC. */
__attribute__((warn_unused_result)) int
liveness_check_run(const struct liveness_engine *e, struct liveness_worker *w,
		   const struct liveness_challenge *c, const struct liveness_rgb *frames,
		   const int64_t *t_ms, int n, const float *reference, bool reference_unusable,
		   struct liveness_check *ret, char *json, size_t cap);

#endif
