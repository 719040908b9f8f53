/* liveness_action — evaluates an action challenge (blink, open mouth, turn left / right, in a
 * server-drawn order) over a frame sequence. Every action is detected relative to the person's
 * own baseline (the first frames): a blink is a brief change of the eyes' appearance (their
 * normalised correlation with the baseline eyes drops) while the eye aspect ratio falls, both
 * recovering quickly, an open mouth a rise of the mouth ratio, a turn a yaw change held for a few frames.
 * Actions must appear in the challenge order; the common sequence checks (liveness_seq.h:
 * timestamps, one face throughout, identity continuity) apply. Pure function. */
#ifndef SHIREN_LIVENESS_ACTION_H
#define SHIREN_LIVENESS_ACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_challenge.h"
#include "liveness/liveness_observe.h"
#include "liveness/liveness_seq.h"

struct liveness_action_limits {
	int64_t baseline_ms;  /* baseline: frames in the first 400 ms (at least 3 face frames) */
	float blink_change;   /* closed: eye appearance distance >= 0.30 ... */
	float blink_ear;      /* ... with the EAR at most 0.97 x baseline; */
	float blink_recover;  /* reopened: appearance distance <= 0.15 ... */
	int64_t blink_max_ms; /* ... within 800 ms of closing */
	float mouth_rise;     /* open: MAR above baseline + 0.10 */
	float turn_deg;	      /* turned: yaw changed by 12 degrees */
	int hold_frames;      /* mouth and turns: for 2 consecutive face frames */
};

#define LIVENESS_ACTION_LIMITS_DEFAULT                           \
	((struct liveness_action_limits){.baseline_ms = 400,     \
					 .blink_change = 0.30f,  \
					 .blink_ear = 0.97f,     \
					 .blink_recover = 0.15f, \
					 .blink_max_ms = 800,    \
					 .mouth_rise = 0.10f,    \
					 .turn_deg = 12.0f,      \
					 .hold_frames = 2})
/* risk escalation (plan.strict): deeper blinks, wider mouth, larger turns */
#define LIVENESS_ACTION_LIMITS_STRICT                            \
	((struct liveness_action_limits){.baseline_ms = 400,     \
					 .blink_change = 0.40f,  \
					 .blink_ear = 0.94f,     \
					 .blink_recover = 0.15f, \
					 .blink_max_ms = 800,    \
					 .mouth_rise = 0.14f,    \
					 .turn_deg = 16.0f,      \
					 .hold_frames = 2})

struct liveness_action_found {
	bool found;
	int frame;	/* where it peaked (-1 if not found) */
	int64_t t_ms;	/* its time */
	float strength; /* blink: eye appearance distance; mouth: MAR - base; turn: |yaw change| */
	float score;	/* 0..100, 50 at the detection threshold */
};

struct liveness_action_result {
	bool passed;
	unsigned reasons; /* enum liveness_live_reason bits */
	float score;	  /* 0..100: the weakest of the actions and identity; 0 if a sequence
			     check failed */
	struct liveness_seq_result seq;
	float base_ear, base_mar, base_yaw;
	float base_eyes[2][LIVENESS_EYE_PATCH]; /* mean normalised eye patches */
	int n_actions;
	struct liveness_action_found acts[LIVENESS_MAX_ACTIONS];
};

/* lim / slim NULL: defaults (the strict action limits when c->plan.strict). */
void liveness_action_eval(const struct liveness_challenge *c, const struct liveness_obs *obs, int n,
			  const struct liveness_action_limits *lim,
			  const struct liveness_seq_limits *slim,
			  struct liveness_action_result *ret);

/* One action searched from frame `from` on, against the given baselines (exposed for tests).
 * Returns the frame after the action ended (where the next search starts), or -1. */
int liveness_action_find(enum liveness_action a, const struct liveness_obs *obs, int n, int from,
			 const struct liveness_action_result *base,
			 const struct liveness_action_limits *l, struct liveness_action_found *ret);

#endif
