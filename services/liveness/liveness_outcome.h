/* liveness_outcome — maps the engine's results to the API's answer (API.md §5.2 SubCode,
 * §7 MaterialInfo): Passed, SubCode, and the MaterialInfo document, serialised as a JSON
 * string (the SDK requires a string), plus diagnostics for the service's own records. A pure
 * function over plain structs; the mapping rules are in docs/liveness.md ("Outcome"). */
#ifndef SHIREN_LIVENESS_OUTCOME_H
#define SHIREN_LIVENESS_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_photinus.h"
#include "liveness/liveness_quality.h"
#include "liveness/liveness_silent.h"

#define LIVENESS_OUTCOME_JSON_MAX 4096 /* liveness_outcome_json never needs more */

/* Everything the decision uses; NULL pointers are checks that did not run. */
struct liveness_outcome_in {
	const struct liveness_plan *plan;		 /* what the scene asked for (required) */
	const struct liveness_quality *quality;		 /* the photo / best frame (required) */
	const struct liveness_action_result *action;	 /* when plan->n_actions > 0 */
	const struct liveness_photinus_result *photinus; /* when plan->photinus */
	const struct liveness_silent_result *silent;	 /* when plan->silent */
	bool compared;		 /* a reference face was compared (PV_FV, ID_PRO, ...) */
	double distance;	 /* descriptor distance to it */
	bool reference_unusable; /* the reference photo has no usable face */
};

struct liveness_outcome {
	int code;	    /* top-level Code: 200, or 419 (the supplied photo is unusable) */
	bool passed;	    /* Passed T/F */
	int sub_code;	    /* 200, 203, 204, 205 (0 when code != 200) */
	bool attack;	    /* faceAttack */
	float attack_score; /* faceAttackScore 0..1: 1 - liveness score / 100 (not a probability) */
	float liveness_score; /* 0..100 */
	const char *reason;   /* first failing reason, snake_case; "ok" */
};

/* Decides (fills *ret). Returns 0, or -EINVAL when plan or quality is missing or a check the
 * plan requires did not run. */
__attribute__((warn_unused_result)) int
liveness_outcome_decide(const struct liveness_outcome_in *in, struct liveness_outcome *ret);

/* Decides and writes {"code":"200","passed":"T","subCode":"200","materialInfo":"<JSON text
 * as a string>","diagnostics":{...}} into buf. Returns the length, -EINVAL as above, or
 * -ENOSPC (LIVENESS_OUTCOME_JSON_MAX always suffices). */
__attribute__((warn_unused_result)) int liveness_outcome_json(const struct liveness_outcome_in *in,
							      char *buf, size_t cap);

#endif
