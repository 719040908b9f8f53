/* liveness_seq — what every frame-sequence check (action, photinus) requires, and the reasons
 * a liveness check fails: strictly increasing timestamps within bounds, a single face present
 * throughout without jumps, and identity continuity (descriptor distance between the first,
 * a frontal middle and the last frame). Also the driver that turns decoded frames into
 * observations (liveness_observe.h) with descriptors on exactly the frames the identity check
 * uses. */
#ifndef SHIREN_LIVENESS_SEQ_H
#define SHIREN_LIVENESS_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_engine.h"
#include "liveness/liveness_observe.h"

/* Failure reasons of a liveness check, a bit set (docs/liveness.md, "Liveness reasons"). */
enum liveness_live_reason {
	LIVENESS_R_BAD_TIMESTAMPS = 1u << 0, /* not strictly increasing, or a gap too long */
	LIVENESS_R_TOO_FEW_FRAMES = 1u << 1,
	LIVENESS_R_TOO_LONG = 1u << 2,
	LIVENESS_R_FACE_LOST = 1u << 3,	    /* frames without a face */
	LIVENESS_R_SEVERAL_FACES = 1u << 4, /* more than one face in a frame */
	LIVENESS_R_TRACK_JUMP = 1u << 5,    /* the face jumped between frames */
	LIVENESS_R_IDENTITY = 1u << 6,	    /* not the same person throughout */
	LIVENESS_R_ACTION_MISSING = 1u << 7,
	LIVENESS_R_NO_RESPONSE = 1u << 8,    /* photinus: no colour response on the face */
	LIVENESS_R_WRONG_SEQUENCE = 1u << 9, /* photinus: the response follows other colours */
	LIVENESS_R_LATE = 1u << 10,	     /* photinus: the response lags too much */
	LIVENESS_R_FLAT = 1u << 11,	     /* photinus: a flat, uniform response */
	LIVENESS_R_SILENT_RISK = 1u << 12,   /* silent: forensic cues above the limit */
	LIVENESS_R_QUALITY = 1u << 13,	     /* the best frame fails a quality gate */
};
#define LIVENESS_N_LIVE_REASONS 14

const char *liveness_live_reason_name(unsigned bit);

struct liveness_seq_limits {
	int min_frames;		 /* 8 */
	int64_t max_duration_ms; /* 15000 */
	int64_t max_gap_ms;	 /* 500: no longer hole in the capture */
	float max_lost;		 /* fraction of frames without a face (0.1) */
	float max_jump;		 /* eye-midpoint move between frames, in inter-ocular units (0.8) */
	float max_scale_jump;	 /* relative change of inter-ocular distance between frames (0.3) */
	double max_distance;	 /* identity: descriptor distance (LIVENESS_EMBED_THRESHOLD) */
};

#define LIVENESS_SEQ_LIMITS_DEFAULT                             \
	((struct liveness_seq_limits){.min_frames = 8,          \
				      .max_duration_ms = 15000, \
				      .max_gap_ms = 500,        \
				      .max_lost = 0.1f,         \
				      .max_jump = 0.8f,         \
				      .max_scale_jump = 0.3f,   \
				      .max_distance = LIVENESS_EMBED_THRESHOLD})

struct liveness_seq_result {
	unsigned reasons;
	int frames, face_frames;
	double distance; /* largest pairwise distance of the identity frames (NAN: none) */
	int id_frames[3];
	float s_identity; /* 0..100, 50 at max_distance */
};

/* Indices of the identity frames: first and last frame with a face, and the most frontal one
 * (smallest |yaw| + |pitch|) in the middle third. Returns how many (0..3; duplicates are not
 * repeated). */
int liveness_seq_pick(const struct liveness_obs *obs, int n, int ret_idx[3]);

/* The common checks over n observations; lim NULL: defaults. Frames at ret->id_frames must
 * carry descriptors for the identity check (missing ones fail it). */
void liveness_seq_check(const struct liveness_obs *obs, int n,
			const struct liveness_seq_limits *lim, struct liveness_seq_result *ret);

/* Analyses n frames (images with capture times) into obs (n entries, caller-owned), with
 * descriptors on the liveness_seq_pick frames. lim: quality limits for the per-frame analysis
 * (NULL: defaults). -EINVAL (empty frame), -ENOMEM. */
__attribute__((warn_unused_result)) int liveness_seq_observe(const struct liveness_engine *e,
							     struct liveness_worker *w,
							     const struct liveness_rgb *frames,
							     const int64_t *t_ms, int n,
							     struct liveness_obs *obs);

#endif
