/* liveness_silent — a LOW-ASSURANCE single-image presentation-attack score from image
 * forensics, for scenes that give the server one photo and no challenge
 * (FRONT_CAMERA_LIVENESS). It looks for what a recapture of a screen or a print tends to leave
 * and a live capture does not:
 *   - moire / screen-grid energy: isolated peaks in the high-frequency spectrum of a native-
 *     resolution face patch (a display's pixel grid aliased by the camera, halftone dots);
 *   - recompression: JPEG 8x8 block-boundary discontinuities far above the image's own
 *     gradient level;
 *   - washed-out reproduction: the face region's contrast and saturation both very low
 *     (a glossy screen or a print under ambient light).
 * It does not see a good print, a high-resolution replay shot without aliasing, a mask, or a
 * deepfake injected into the camera stream; it never claims a live person, only "no such cue
 * found". Limits and their derivation: docs/liveness.md ("Silent"). Pure function. */
#ifndef SHIREN_LIVENESS_SILENT_H
#define SHIREN_LIVENESS_SILENT_H

#include <stdbool.h>

#include "liveness/liveness_engine.h"

struct liveness_silent_limits {
	float moire_warn, moire_fail;	/* spectral peak ratio (log10): cue 0 .. 1 between */
	float block_warn, block_fail;	/* block-boundary gradient ratio */
	float washed_warn, washed_fail; /* (contrast, saturation) washed-out index */
	float pass;			/* score needed to pass: 50 (strict: 65) */
};

#define LIVENESS_SILENT_LIMITS_DEFAULT                        \
	((struct liveness_silent_limits){.moire_warn = 1.3f,  \
					 .moire_fail = 1.7f,  \
					 .block_warn = 1.6f,  \
					 .block_fail = 2.6f,  \
					 .washed_warn = 0.6f, \
					 .washed_fail = 0.9f, \
					 .pass = 50})

struct liveness_silent_result {
	bool passed;
	float score;			  /* 0..100: 100 x (1 - the strongest cue) */
	float moire, block, washed;	  /* raw measurements */
	float c_moire, c_block, c_washed; /* each cue 0 (none) .. 1 (attack-like) */
};

/* img and its analysis (a face must have been found; else score 0, not passed). strict raises
 * the pass score to 65 (risk escalation). lim NULL: defaults. */
void liveness_silent_eval(const struct liveness_rgb *img, const struct liveness_analysis *a,
			  bool strict, const struct liveness_silent_limits *lim,
			  struct liveness_silent_result *ret);

/* The moire measure of a luma patch (n x n, n a power of two 16..256): log10 of the largest
 * high-band spectral magnitude over the band's median, JPEG block frequencies excluded.
 * Exposed for tests. */
float liveness_silent_moire(const float *luma, int n);

#endif
