/* lsvc_job — one liveness job as a worker handles it: the LivenessJob message checked and
 * classified, its input images loaded from PostgreSQL and opened (lsvc_load.c), the engine run
 * (lsvc_run.c) into an outcome, and the outcome stored with its messages (lsvc_store.c).
 *
 * Ownership: a struct lsvc_job belongs to the worker thread handling it; lsvc_job_done frees
 * everything it points to (the unpacked message, the image bytes, the detail text). */
#ifndef SHIREN_LIVENESS_LSVC_JOB_H
#define SHIREN_LIVENESS_LSVC_JOB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liveness/lsvc_decide.h"
#include "shiren/v1/verify.pb-c.h"

struct lsvc;
struct liveness_worker;

#define LSVC_CERTIFY_ID_LEN 32
#define LSVC_ACTION_MAX	    64

/* The action that created a job decides what the worker does. */
enum lsvc_kind {
	LSVC_KIND_CONTRAST = 1, /* ContrastFaceVerify: one face photo vs the reference on record */
	LSVC_KIND_LIVENESS,	/* LivenessFaceVerify: silent check of one face photo */
	LSVC_KIND_COMPARE,	/* CompareFaceVerify: source vs target photo */
	LSVC_KIND_CAPTURE,	/* FaceCapture: H5 frames + challenge (+ reference) */
};

/* enum lsvc_kind for an action name, or 0. */
int lsvc_kind_of(const char *action);

/* Checks a received job before it is queued: certify_id 32 lower-case hex, a known action,
 * tenant (the envelope's) a UUID, at most max_images images with ids > 0 and known kinds, the
 * kinds the action needs. -EINVAL with err filled (the message is dead-lettered). */
int lsvc_job_check(const Shiren__V1__LivenessJob *j, const char *tenant, int64_t max_images,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

struct lsvc_image {
	int64_t photo_id;
	const char *kind; /* points into the unpacked message */
	int64_t t_ms;
	uint8_t *bytes; /* opened image file, heap, or NULL */
	size_t len;
	/* 0, or why there are no bytes: -ENOENT (no such photo of this tenant), -ESTALE (purged
	 * or deleted), -EBADMSG (does not open under the master key). */
	int load_err;
};

struct lsvc_job {
	int64_t id; /* liveness_jobs.id */
	char certify_id[LSVC_CERTIFY_ID_LEN + 1];
	char action[LSVC_ACTION_MAX + 1];
	char tenant_id[40];
	char trace_id[64];
	int attempts; /* including this claim */
	int64_t deadline_ms;
	int64_t produced_at_ms; /* the job's envelope time */
	bool synchronous;
	enum lsvc_kind kind;
	Shiren__V1__LivenessJob *msg;
	struct lsvc_image *images;
	size_t nimages;
};

/* Parses the stored payload into j->msg and j->images (bytes not loaded). -EBADMSG. */
int lsvc_job_parse(struct lsvc_job *j, const uint8_t *payload, size_t len)
	__attribute__((warn_unused_result));
void lsvc_job_done(struct lsvc_job *j); /* frees what j points to; accepts a zeroed job */

/* ---- lsvc_load.c ---- */
/* Loads and opens every image of j (one query; the photos must belong to verifications of the
 * job's tenant). Missing, purged or unopenable photos are marked in load_err, not errors.
 * Returns 0, -ENOMEM, or the pg error (-EIO/-ECONNRESET) with err filled. */
int lsvc_load_images(PGconn *c, const struct lsvc *s, struct lsvc_job *j, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* ---- lsvc_run.c ---- */
/* Runs the engine for j on worker workspace w and decides. Never fails: every problem becomes
 * an outcome (unusable input, timeout at the deadline, failure). w2 (may be NULL) is a second
 * workspace: a two-image job analyses its second image on a helper thread with it. `detail`
 * (detail_cap bytes) receives the outcome's detail document (JSON object text). */
void lsvc_run(const struct lsvc *s, struct liveness_worker *w, struct liveness_worker *w2,
	      const struct lsvc_job *j, struct lsvc_outcome *ret, char *detail, size_t detail_cap);

/* ---- lsvc_store.c ---- */
/* In one transaction: mark the job done (if it still is queued), insert the result, enqueue
 * VerifyCompleted and UsageEvent in the outbox. *ret_stored is false when the job had
 * already been done (nothing written). 0, or the pg error with err filled (rolled back). */
int lsvc_store_result(PGconn *c, const struct lsvc_job *j, const struct lsvc_outcome *o,
		      const char *detail, int64_t compute_ms, bool *ret_stored, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

#endif
