/* lsvc_decide — from engine measurements to the API's answer (docs/liveness.md, "The service:
 * decisions"): which inputs are unusable (Code 419: not loaded, not decoded, no face, several
 * faces), then the SubCode by the engine's precedence (liveness_outcome_decide: 205 attack,
 * 204 poor capture or photo, 203 no usable reference, 204 mismatch, 200), the scores,
 * billability (SubCodes 200-206 of a decision) and a detail document for support. Pure
 * functions on plain structs: no engine state, no I/O. */
#ifndef SHIREN_LIVENESS_LSVC_DECIDE_H
#define SHIREN_LIVENESS_LSVC_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_photinus.h"
#include "liveness/liveness_quality.h"
#include "liveness/liveness_silent.h"

#define LSVC_DESC_DIM	 128
#define LSVC_DETAIL_MAX	 4096
#define LSVC_MESSAGE_MAX 320

/* What the decisions need from one analysed image. */
struct lsvc_face {
	int64_t photo_id;
	const char *role; /* "face", "reference", "source", "target", "frame" */
	/* 0, or why the image has no analysis: a load error (-ENOENT, -ESTALE, -EBADMSG from
	 * lsvc_load) or a decode error (liveness_image.h codes; -ENOMEM is a failure, not a bad
	 * input). Set load_failed for the former. */
	int err;
	bool load_failed;
	uint32_t w, h;
	int detections;	  /* detector output, best first */
	int faces;	  /* faces counted by the quality gate (comparable size to the main one) */
	bool has_face;	  /* the main face was measured */
	unsigned reasons; /* liveness_quality reason bits (= q.reasons) */
	float quality;	  /* 0..100 (= q.score) */
	float yaw, pitch, roll, iod;
	struct liveness_quality q;
	bool has_descriptor;
	float descriptor[LSVC_DESC_DIM];
	/* The silent single-image check, when it was run. */
	bool has_silent;
	struct liveness_silent_result silent;
};

/* A frame-sequence liveness check, as evaluated by the engine. */
struct lsvc_capture {
	const char *method; /* "action", "photinus", "action+photinus" */
	struct liveness_plan plan;
	int frames;
	int undecodable; /* frames that did not decode (counted as frames without a face) */
	bool passed;
	unsigned reasons; /* liveness_live_reason bits of all checks */
	float score;	  /* 0..100 */
	int best;	  /* index of the frame kept as the face photo, -1 none */
	bool has_action, has_photinus;
	struct liveness_action_result action;
	struct liveness_photinus_result photinus;
};

enum lsvc_outcome_kind {
	LSVC_DECIDED = 0, /* code "200": passed / sub_code are the decision */
	LSVC_UNUSABLE,	  /* code "419": an input image cannot be used */
	LSVC_TIMEOUT,	  /* code "500": the deadline passed */
	LSVC_FAILED,	  /* code "500": could not be computed */
};

struct lsvc_outcome {
	enum lsvc_outcome_kind kind;
	const char *code; /* "200", "419", "500" (static) */
	bool passed;
	int sub_code; /* 200..206 for decisions, 0 otherwise */
	bool billable;
	double verify_score;		/* 0..100, negative: not measured */
	double liveness_score;		/* 0..100, negative: not measured */
	double quality_score;		/* 0..100, negative: not measured */
	double distance;		/* descriptor distance, NAN when none */
	int64_t face_photo_id;		/* the captured face kept for DescribeFaceVerify, 0: none */
	char message[LSVC_MESSAGE_MAX]; /* the API Message ("success" for Code 200) */
	char why[128];			/* short reason for logs and detail ("different_person") */
};

void lsvc_outcome_init(struct lsvc_outcome *o);
void lsvc_outcome_timeout(struct lsvc_outcome *o, int64_t late_ms);
void lsvc_outcome_failed(struct lsvc_outcome *o, const char *why, const char *message);

/* True (and o set to Code 419 with a message naming `what`) when f cannot be used: it did not
 * load or decode, has no face, or shows several faces of comparable size (the main face is
 * ambiguous). A decode that ran out of memory sets a failure instead. */
bool lsvc_decide_unusable(const struct lsvc_face *f, const char *what, struct lsvc_outcome *o);

/* CompareFaceVerify: the two main faces, same person below LIVENESS's distance threshold. */
void lsvc_decide_compare(const struct lsvc_face *src, const struct lsvc_face *tgt,
			 struct lsvc_outcome *o);
/* ContrastFaceVerify: the face photo against the reference on record (NULL: none, or it is
 * unusable: SubCode 203); `liveness` when the Model asks for a liveness check (anything but
 * NO_LIVENESS), which applies the quality gates of a live photo (204) and the silent check
 * (205) after the comparison. */
void lsvc_decide_contrast(const struct lsvc_face *face, const struct lsvc_face *ref, bool liveness,
			  struct lsvc_outcome *o);
/* LivenessFaceVerify: the silent check of one photo (the quality gates of a live photo, 204,
 * then the forensic score, 205). */
void lsvc_decide_liveness(const struct lsvc_face *face, struct lsvc_outcome *o);
/* FaceCapture: the challenge over the frames, then the best frame against ref when the product
 * compares (needs_ref; ref NULL: none on record, 203). */
void lsvc_decide_capture(const struct lsvc_capture *cap, const struct lsvc_face *best,
			 const struct lsvc_face *ref, bool needs_ref, struct lsvc_outcome *o);

/* The quality reasons that make a live photo poor (everything but no face / several faces). */
unsigned lsvc_poor_reasons(unsigned reasons);

/* The detail document (JSON object) of an outcome and its images; NUL-terminated, bounded by
 * cap (a truncated document is replaced by a minimal one). Returns the length. */
size_t lsvc_detail_json(const struct lsvc_outcome *o, const struct lsvc_face *const *faces,
			size_t nfaces, const struct lsvc_capture *cap, char *buf, size_t cap_len);

/* The API text for an image decode error ("is truncated", ...). */
const char *lsvc_decode_problem(int err);

#endif
