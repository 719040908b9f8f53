/* liveness_photinus — evaluates a colour-flash challenge: the screen showed a server-drawn
 * sequence of colours; the light the face reflects must follow it. Per frame, the chromaticity
 * of five face regions and of the background (log RGB minus its mean over the channels, minus
 * its mean over the sequence) is correlated with the drawn sequence's chromaticity over a
 * small lag search; the colours must come in the drawn order, the response must be strong
 * enough, timely, and shaped by a 3-D face: the nose (facing the screen, nearest to it)
 * responds more than the cheeks, and the far background hardly at all, where a flat print or
 * a screen held to the camera responds uniformly (docs/liveness.md, "Photinus").
 *
 * Frame times are on the client clock, in ms from the start of the flash (the first colour's
 * onset), the same clock that timed the colours. Pure function. */
#ifndef SHIREN_LIVENESS_PHOTINUS_H
#define SHIREN_LIVENESS_PHOTINUS_H

#include <stdbool.h>

#include "liveness/liveness_challenge.h"
#include "liveness/liveness_observe.h"
#include "liveness/liveness_seq.h"

struct liveness_photinus_limits {
	int lag_min_ms, lag_max_ms; /* accepted response lag: -200 .. +200 ms */
	int late_max_ms;	    /* lags searched to diagnose a late response: up to 1200 ms */
	float min_corr;		    /* normalised correlation with the drawn sequence: 0.6 */
	float min_order;	    /* fraction of colour segments recognised: 0.75 */
	float min_gain;		    /* face response, log units per unit of colour: 0.015 */
	float min_relief;	    /* (nose - mean cheek) / face response: 0.10 */
	float max_bg_ratio;	    /* background / face response: 0.5 */
	int edge_ms;		    /* segment frames this close to a colour change are skipped */
};

#define LIVENESS_PHOTINUS_LIMITS_DEFAULT                         \
	((struct liveness_photinus_limits){.lag_min_ms = -200,   \
					   .lag_max_ms = 200,    \
					   .late_max_ms = 1200,  \
					   .min_corr = 0.6f,     \
					   .min_order = 0.75f,   \
					   .min_gain = 0.015f,   \
					   .min_relief = 0.10f,  \
					   .max_bg_ratio = 0.5f, \
					   .edge_ms = 50})
/* risk escalation (plan.strict) */
#define LIVENESS_PHOTINUS_LIMITS_STRICT                          \
	((struct liveness_photinus_limits){.lag_min_ms = -150,   \
					   .lag_max_ms = 150,    \
					   .late_max_ms = 1200,  \
					   .min_corr = 0.7f,     \
					   .min_order = 0.85f,   \
					   .min_gain = 0.02f,    \
					   .min_relief = 0.15f,  \
					   .max_bg_ratio = 0.4f, \
					   .edge_ms = 50})

struct liveness_photinus_result {
	bool passed;
	unsigned reasons; /* enum liveness_live_reason bits */
	float score;	  /* 0..100, the weakest of the sub-scores, 50 at each threshold */
	struct liveness_seq_result seq;
	int frames_used;
	int lag_ms;	 /* best lag inside the window */
	float corr;	 /* correlation at that lag */
	int late_lag_ms; /* best lag beyond the window, and its correlation */
	float late_corr;
	float gain[LIVENESS_N_REGIONS]; /* response per region at lag_ms */
	float relief, bg_ratio;
	int segments, recognised; /* colour segments with frames, and those classified right */
};

/* lim / slim NULL: defaults (strict when c->plan.strict). */
void liveness_photinus_eval(const struct liveness_challenge *c, const struct liveness_obs *obs,
			    int n, const struct liveness_photinus_limits *lim,
			    const struct liveness_seq_limits *slim,
			    struct liveness_photinus_result *ret);

#endif
