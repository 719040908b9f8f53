/* intake_sync_store — the transaction of a synchronous action (intake_sync.h), run on a pool
 * worker after the nonce claim (intake_store_tx): scene, idempotent verification insert on
 * (tenant, OuterOrderNo), metering block, the input photos (sealed) or the photos of earlier
 * CertifyIds, the reference on record for ContrastFaceVerify, and the LivenessJob in the
 * outbox. Private to intake_sync*.c. */
#ifndef SHIREN_INTAKE_SYNC_STORE_H
#define SHIREN_INTAKE_SYNC_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intake/intake_image.h"
#include "intake/intake_sync.h"

struct intake_req;

#define INTAKE_SYNC_BIZ 1 /* the body refused with st->biz (nothing written) */

struct intake_sync_state {
	struct intake_sync_req q;
	uint8_t fingerprint[32];
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];	/* the new verification's */
	char out_certify_id[INTAKE_CERTIFY_ID_LEN + 1]; /* answered: an existing one on a retry */
	struct {
		uint8_t *bytes; /* inline or downloaded image, heap */
		size_t len;
		struct intake_image_info info;
		int64_t photo_id; /* stored, or the earlier CertifyId's face photo */
	} img[2];
	int64_t ref_photo_id; /* Contrast: the reference on record (0: none) */
	bool ref_authority;   /* ... and it is an authority photo */
	char model[32];
	int64_t wall_t0_ms; /* arrival, Unix ms */
	int64_t deadline_wall_ms;
	struct intake_biz biz;
	bool reused;
	bool have_result; /* a retry whose result is stored already */
	struct intake_sync_result res;
};

/* The body for intake_store_tx (arg: the state). 0, INTAKE_SYNC_BIZ, or a negative error
 * with r->log_err filled. */
int intake_sync_store_body(PGconn *c, struct intake_req *r, void *arg)
	__attribute__((warn_unused_result));

#endif
