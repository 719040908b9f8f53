/* intake_sync — the synchronous server-side actions (ContrastFaceVerify, LivenessFaceVerify,
 * CompareFaceVerify, API.md §3.3-3.5): validate, store the inputs, publish a LivenessJob, and
 * park the HTTP request until its shiren.verify.completed.v1 arrives (docs/api.md §5.6).
 *
 * Waking a parked request: intake's consumer applies the completion and, in the same
 * transaction, NOTIFYs INTAKE_SYNC_CHANNEL with the outcome (a notification is delivered to
 * every intake process after the commit, so the process holding the request need not be the
 * one whose consumer applied it). A listener thread per process (own PostgreSQL connection)
 * hands the notifications to the loop through a pipe; the loop looks the CertifyId up in the
 * waiter registry and answers. A request not woken within SHIREN_INTAKE_SYNC_WAIT_MS reads
 * the result once more from PostgreSQL (a notification lost with a connection is not a lost
 * answer), then answers Code 500 with the CertifyId.
 *
 * Threads: everything runs on the loop thread except the listener. */
#ifndef SHIREN_INTAKE_SYNC_H
#define SHIREN_INTAKE_SYNC_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intake/intake_params.h"
#include "intake/intake_valid.h"

struct intake;
struct intake_req;

#define INTAKE_SYNC_CHANNEL "shiren_verify_completed"
#define INTAKE_SYNC_MSG_MAX 320

/* The outcome of a verification as the synchronous answer needs it. */
struct intake_sync_result {
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	char code[8]; /* "200", "419", "500" */
	bool passed;
	int sub_code;
	double verify_score, liveness_score, quality_score; /* negative: not measured */
	char message[INTAKE_SYNC_MSG_MAX];
};

/* NOTIFY payload of a result: "certify_id|code|passed|sub_code|verify|liveness|quality|message"
 * (scores "%.17g" or empty). Returns the length, or -ENOSPC. */
int intake_sync_payload_format(const struct intake_sync_result *res, char *buf, size_t cap)
	__attribute__((warn_unused_result));
/* Parses such a payload. 0 or -EINVAL. */
int intake_sync_payload_parse(const char *s, struct intake_sync_result *ret)
	__attribute__((warn_unused_result));

/* ---- the actions' requests (intake_sync_valid.c, pure) ---- */

enum intake_sync_action {
	INTAKE_SYNC_CONTRAST = 1,
	INTAKE_SYNC_LIVENESS,
	INTAKE_SYNC_COMPARE,
};

/* One image input: exactly one method (API.md §3: Code 420 for several). */
struct intake_sync_image {
	enum intake_ref_kind kind;
	const char *picture; /* Base64 text (INLINE) */
	size_t picture_len;
	const char *url;	/* URL */
	const char *certify_id; /* CERTIFY_ID */
	const char *param;	/* name of the parameter, for messages: "FaceContrastPicture"... */
};

struct intake_sync_req {
	enum intake_sync_action action;
	const char *action_name;
	int64_t scene_id;
	const char *outer_order_no;
	const char *product_code;
	const char *model;			     /* NULL: the scene's */
	const char *cert_type, *cert_name, *cert_no; /* Contrast */
	const char *device_token, *mobile, *ip, *user_id;
	int nimages;
	/* Contrast/Liveness: [0] the face; Compare: [0] source, [1] target */
	struct intake_sync_image images[2];
};

/* Validates a request of `action` (API.md §3.3-3.5; docs/api.md §5.6 lists the rules and
 * Codes). On failure fills biz and returns -EINVAL. */
int intake_sync_valid(enum intake_sync_action action, const struct intake_params *p, time_t now,
		      struct intake_sync_req *ret, struct intake_biz *biz)
	__attribute__((warn_unused_result));

/* Keyed fingerprint of the request (idempotency on OuterOrderNo), as InitFaceVerify's. */
int intake_sync_fingerprint(enum intake_sync_action action, const struct intake_params *p,
			    const uint8_t key[32], uint8_t ret[32])
	__attribute__((warn_unused_result));

/* ---- intake_sync.c: the handlers ---- */
/* The end marker of a JPEG (EOI) or PNG (IEND) is present near the end of p: the file was
 * not cut short. `type` is enum intake_image_type. */
bool intake_sync_image_complete(const uint8_t *p, size_t n, int type);
void intake_contrast_handle(struct intake_req *r);
void intake_liveness_handle(struct intake_req *r);
void intake_compare_handle(struct intake_req *r);

/* ---- intake_sync_frames.c: the H5 page's frame upload (docs/api.md §5.7) ---- */
/* True for the paths under /h5/ (the CertifyUrl pages), which intake_http hands to
 * intake_h5_handle instead of the API: no signature, no form body. */
bool intake_h5_path(const char *path);
/* POST /h5/<token>/frames; anything else under /h5/ is 404 (the page itself comes later). */
void intake_h5_handle(struct intake_req *r);

/* ---- intake_sync_wait.c: waiters and the listener ---- */
int intake_sync_start(struct intake *s) __attribute__((warn_unused_result));
void intake_sync_stop(struct intake *s); /* accepts a server without one */

/* Parks r until the result of certify_id arrives or `deadline_ms` (intake_now_ms clock)
 * passes; then `done` runs on the loop with the result, or with NULL on timeout (after a
 * last look in PostgreSQL). `done` is not called when the request was answered meanwhile.
 * 0, or -ENOMEM (nothing parked). */
int intake_sync_wait(struct intake_req *r, const char *certify_id, int64_t deadline_ms,
		     void (*done)(struct intake_req *r, const struct intake_sync_result *res))
	__attribute__((warn_unused_result));

/* One more look in PostgreSQL right after parking, for a retried call that found no result in
 * its transaction: a completion applied between that read and the parking would otherwise
 * wake nobody and be found only by the last look at the deadline. Best effort. */
void intake_sync_recheck(struct intake_req *r, const char *certify_id);

/* Reads the stored result of (certify_id, action) from liveness_results, for a retried call
 * and the last look of a timed-out wait. 1 found, 0 none yet, or a negative pg error. Worker
 * side (pool connection). */
int intake_sync_read_result(PGconn *c, const char *certify_id, const char *action,
			    struct intake_sync_result *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
