/* liveness_quality — capture quality gates with reasons and a 0-100 quality score: no face,
 * several faces, face too small, too dark, overexposed, blurred, not frontal, eyes closed.
 * Exposure and blur are measured on the aligned 150x150 descriptor chip (so they are normalised
 * by face size: what is measured is what the descriptor sees), the rest on the detections, the
 * mesh and its pose. Thresholds and their reasons are in docs/liveness.md ("Quality gates").
 * Pure functions; no allocation. */
#ifndef SHIREN_LIVENESS_QUALITY_H
#define SHIREN_LIVENESS_QUALITY_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_face.h"

/* Reasons, a bit set; bit order is the order of importance (the first set bit is "the"
 * reason shown to a user). */
enum liveness_quality_reason {
	LIVENESS_Q_NO_FACE = 1u << 0,
	LIVENESS_Q_SEVERAL_FACES = 1u << 1,
	LIVENESS_Q_TOO_SMALL = 1u << 2,
	LIVENESS_Q_TOO_DARK = 1u << 3,
	LIVENESS_Q_OVEREXPOSED = 1u << 4,
	LIVENESS_Q_BLURRED = 1u << 5,
	LIVENESS_Q_NOT_FRONTAL = 1u << 6,
	LIVENESS_Q_EYES_CLOSED = 1u << 7,
};
#define LIVENESS_Q_REASONS 8

struct liveness_quality_limits {
	float min_presence; /* mesh face flag below: no face (0.5) */
	float other_face;   /* another detection at least this x the main face width: several */
	float min_iod;	    /* inter-ocular distance in image pixels (40) */
	float min_luma;	    /* mean face luma 0..255 (60) */
	float max_luma;	    /* (205) */
	float max_clipped;  /* fraction of face pixels with luma >= 250 (0.20) */
	float min_sharp;    /* std(Laplacian) / (std(luma) + 1) on the chip's face region (0.18) */
	float max_yaw, max_pitch, max_roll; /* degrees (25, 25, 30) */
	float min_ear;			    /* mean eye aspect ratio (0.15) */
};

#define LIVENESS_QUALITY_LIMITS_DEFAULT                         \
	((struct liveness_quality_limits){.min_presence = 0.5f, \
					  .other_face = 0.4f,   \
					  .min_iod = 40.0f,     \
					  .min_luma = 60.0f,    \
					  .max_luma = 205.0f,   \
					  .max_clipped = 0.20f, \
					  .min_sharp = 0.18f,   \
					  .max_yaw = 25.0f,     \
					  .max_pitch = 25.0f,   \
					  .max_roll = 30.0f,    \
					  .min_ear = 0.15f})

/* Statistics of the face region of an aligned chip (an ellipse centred between eyes and
 * mouth). */
struct liveness_region_stats {
	float luma_mean, luma_std; /* Rec. 601 luma, 0..255 */
	float clipped, dark;	   /* fractions with luma >= 250 / <= 5 */
	float sharpness; /* std of the 4-neighbour Laplacian of luma / (std of luma + 1) */
};

struct liveness_quality {
	unsigned reasons; /* enum liveness_quality_reason bits; 0 = all gates passed */
	int faces;	  /* detections counted as faces (see other_face) */
	float presence, iod, yaw, pitch, roll, ear;
	struct liveness_region_stats region;
	/* 0..100 each, 50 exactly at the gate's threshold, 100 when comfortably good; the score
	 * is the smallest of them (0 when there is no face). */
	float s_size, s_illum, s_blur, s_pose, s_eyes;
	float score;
};

/* chip: an aligned LIVENESS_EMBED_SIZE (150) chip (liveness_face_chip). */
void liveness_quality_region(const uint8_t *chip, struct liveness_region_stats *ret);

/* faces: the detections (best first; faces[0] is the one meshed), n of them (0: no face, and
 * mesh/info/chip are ignored and may be NULL). lim NULL: the defaults. */
void liveness_quality_assess(const struct liveness_quality_limits *lim,
			     const struct liveness_face *faces, int n,
			     const struct liveness_mesh *mesh,
			     const struct liveness_face_info *info, const uint8_t *chip,
			     struct liveness_quality *ret);

/* The sub-score shape used by every liveness score: 0 at zero, 50 at thr, 100 at good,
 * linear between, clamped; either direction (good < thr for "lower is better"); NaN gives 0. */
float liveness_ramp(float v, float zero, float thr, float good);

/* Stable snake_case name of one reason bit ("too_dark", ...), "unknown" otherwise. */
const char *liveness_quality_reason_name(unsigned bit);

#endif
