/* liveness_observe — what the sequence checks (action, photinus) need from each frame: time,
 * face presence and count, openness ratios, pose, where the eyes are, the mean colour of five
 * face regions and of the background, and optionally the descriptor. Observations are plain
 * values, so the sequence evaluators are pure functions testable without images. */
#ifndef SHIREN_LIVENESS_OBSERVE_H
#define SHIREN_LIVENESS_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_embed.h"
#include "liveness/liveness_engine.h"

/* Regions of the aligned chip (docs/liveness.md, "Photinus"): forehead, nose, the subject's
 * right and left cheeks, chin, the whole face ellipse; then the image background (border
 * strips away from the face). */
enum liveness_region {
	LIVENESS_REG_FOREHEAD = 0,
	LIVENESS_REG_NOSE,
	LIVENESS_REG_CHEEK_R,
	LIVENESS_REG_CHEEK_L,
	LIVENESS_REG_CHIN,
	LIVENESS_REG_FACE,
	LIVENESS_REG_BACKGROUND,
};
#define LIVENESS_N_REGIONS 7

/* Eye patches of the aligned chip (around the template eye centres), luma normalised to zero
 * mean and unit variance: blink detection compares them with the person's own open eyes. */
#define LIVENESS_EYE_PW	   28
#define LIVENESS_EYE_PH	   14
#define LIVENESS_EYE_PATCH (LIVENESS_EYE_PW * LIVENESS_EYE_PH)

struct liveness_obs {
	int64_t t_ms; /* capture time, client clock (ms); sequences must be strictly increasing */
	bool face;    /* a face was found and measured */
	int faces;    /* quality.faces */
	float presence, ear, mar, yaw, pitch, roll;
	float eye_mid[2], iod;			/* image pixels */
	float rgb[LIVENESS_N_REGIONS][3];	/* mean R, G, B 0..255 */
	float eye_patch[2][LIVENESS_EYE_PATCH]; /* subject's right, left */
	bool has_descriptor;
	float descriptor[LIVENESS_EMBED_DIM];
};

/* Fills *ret from an analysis of img taken at t_ms. */
void liveness_observe(const struct liveness_rgb *img, const struct liveness_analysis *a,
		      int64_t t_ms, struct liveness_obs *ret);

/* Appearance distance of two observations' eye patches: 1 - the mean normalised correlation
 * of the two eyes (0 identical, ~1 unrelated). */
float liveness_eye_distance(const float (*a)[LIVENESS_EYE_PATCH],
			    const float (*b)[LIVENESS_EYE_PATCH]);

/* Mean colour of the region of an aligned 150x150 chip (not BACKGROUND). */
void liveness_region_mean(const uint8_t *chip, enum liveness_region r, float ret_rgb[3]);

#endif
