/* intake_sync_store — the transaction of a synchronous action (intake_sync_store.h). */
#include "intake/intake_sync_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/envelope.h"
#include "common/json.h"
#include "common/outbox.h"
#include "intake/intake_server.h"
#include "shiren/v1/verify.pb-c.h"

/* A business refusal found by a shared check (intake_store.c). */
static int refused(struct intake_sync_state *st, const struct intake_biz *b)
{
	st->biz = *b;
	return INTAKE_SYNC_BIZ;
}

static int scene_check(PGconn *c, struct intake_req *r, struct intake_sync_state *st)
{
	struct intake_biz b;
	int rc = intake_store_scene(c, r, st->q.scene_id, st->q.product_code, st->q.model,
				    st->model, sizeof(st->model), &b);
	return rc > 0 ? refused(st, &b) : rc;
}

/* Mobile, Ip, UserId and DeviceToken as one sealed JSON object. */
static int seal_pii(struct intake_req *r, struct intake_sync_state *st, uint8_t **ret,
		    size_t *ret_len)
{
	static const char *const names[] = {"Mobile", "Ip", "UserId", "DeviceToken"};
	const char *vals[4] = {st->q.mobile, st->q.ip, st->q.user_id, st->q.device_token};
	size_t cap = 128;
	for (int i = 0; i < 4; i++)
		cap += vals[i] ? strlen(vals[i]) * 6 + 32 : 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	for (int i = 0; i < 4; i++)
		if (vals[i])
			json_key_str(&w, names[i], vals[i]);
	json_obj_end(&w);
	int rc = intake_store_seal_field(r, st->certify_id, "pii", buf, ret, ret_len);
	crypto_wipe(buf, cap);
	free(buf);
	return rc;
}

static int insert_verification(PGconn *c, struct intake_req *r, struct intake_sync_state *st,
			       char *ret_id, size_t id_cap)
{
	const struct intake_sync_req *q = &st->q;
	uint8_t *name_enc = NULL, *no_enc = NULL, *pii_enc = NULL, no_hash[32];
	size_t name_len = 0, no_len = 0, pii_len = 0;
	char scene[24];
	PGresult *res = NULL;
	int rc = intake_store_seal_field(r, st->certify_id, "cert_name", q->cert_name, &name_enc,
					 &name_len);
	if (rc == 0)
		rc = intake_store_seal_field(r, st->certify_id, "cert_no", q->cert_no, &no_enc,
					     &no_len);
	if (rc == 0)
		rc = seal_pii(r, st, &pii_enc, &pii_len);
	if (rc == 0 && q->cert_no)
		rc = intake_store_cert_hash(r->srv, q->cert_type, q->cert_no, no_hash);
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "sealing personal data: %s",
			 strerror(-rc));
		goto out;
	}
	snprintf(scene, sizeof(scene), "%lld", (long long)q->scene_id);
	static const char *const kinds[] = {NULL, "inline", "url", "certify_id", NULL};
	const char *p[14] = {st->certify_id,
			     r->tenant_id,
			     scene,
			     q->outer_order_no,
			     (const char *)st->fingerprint,
			     q->product_code,
			     st->model,
			     q->cert_no ? q->cert_type : NULL,
			     (const char *)name_enc,
			     (const char *)no_enc,
			     q->cert_no ? (const char *)no_hash : NULL,
			     (const char *)pii_enc,
			     kinds[q->images[0].kind],
			     q->action_name};
	int len[14] = {0, 0, 0, 0, 32, 0, 0, 0, (int)name_len, (int)no_len, 32, (int)pii_len};
	int fmt[14] = {0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
	rc = intake_store_execb(
		c, r,
		"INSERT INTO verifications (certify_id, tenant_id, scene_id, outer_order_no, "
		"request_hash, product_code, model, cert_type, cert_name_enc, cert_no_enc, "
		"cert_no_hash, pii_enc, ref_kind, action) VALUES ($1, $2::uuid, $3::bigint, $4, "
		"$5, "
		"$6, $7, $8, $9, $10, $11, $12, $13, $14) "
		"ON CONFLICT (tenant_id, outer_order_no) DO NOTHING RETURNING id",
		14, p, len, fmt, &res);
	if (rc == 0)
		snprintf(ret_id, id_cap, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
out:
	PQclear(res);
	free(name_enc);
	free(no_enc);
	free(pii_enc);
	crypto_wipe(no_hash, sizeof(no_hash));
	return rc;
}

/* The OuterOrderNo is taken: the same request again is answered with the first CertifyId
 * (and its result when there is one), another request is refused. */
static int existing(PGconn *c, struct intake_req *r, struct intake_sync_state *st)
{
	PGresult *res = NULL;
	const char *p[2] = {r->tenant_id, st->q.outer_order_no};
	int rc = intake_store_exec(c, r,
				   "SELECT certify_id, request_hash FROM verifications "
				   "WHERE tenant_id = $1::uuid AND outer_order_no = $2",
				   2, p, &res);
	if (rc == 0)
		rc = intake_store_same_request(r, res, 1, st->fingerprint, st->q.outer_order_no,
					       &st->biz);
	if (rc != 0) {
		PQclear(res);
		return rc > 0 ? INTAKE_SYNC_BIZ : rc;
	}
	st->reused = true;
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", PQgetvalue(res, 0, 0));
	char err[256];
	rc = intake_sync_read_result(c, st->out_certify_id, st->q.action_name, &st->res, err,
				     sizeof(err));
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "%s", err);
		goto out;
	}
	st->have_result = rc > 0;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int blocked_check(PGconn *c, struct intake_req *r, struct intake_sync_state *st)
{
	struct intake_biz b;
	int rc = intake_store_blocked(c, r, st->q.product_code, &b);
	return rc > 0 ? refused(st, &b) : rc;
}

/* The face photo of an earlier passed CertifyId of this tenant (423 / 419 otherwise). */
static int photo_by_certify_id(PGconn *c, struct intake_req *r, struct intake_sync_state *st, int i)
{
	const struct intake_sync_image *in = &st->q.images[i];
	struct intake_biz b;
	int64_t id = 0;
	int rc = intake_store_passed_photo(c, r, in->certify_id, in->param, &id, &b);
	if (rc > 0)
		return refused(st, &b);
	if (rc == 0)
		st->img[i].photo_id = id;
	return rc;
}

static int store_photo(PGconn *c, struct intake_req *r, struct intake_sync_state *st, int i,
		       const char *vid, const char *kind)
{
	const struct intake_image_info *info = &st->img[i].info;
	return intake_store_photo(c, r, vid, kind,
				  st->q.images[i].kind == INTAKE_REF_INLINE ? "inline" : "url",
				  st->img[i].bytes, st->img[i].len, info->mime, info->width,
				  info->height, &st->img[i].photo_id);
}

/* ContrastFaceVerify compares with the identity's reference on record (docs/api.md §5.6): an
 * authority photo first (upstream stores those), else the face photo of this identity's most
 * recent passed verification, within the photo retention window. */
static int reference_on_record(PGconn *c, struct intake_req *r, struct intake_sync_state *st,
			       const char *vid)
{
	uint8_t hash[32];
	char keep[24];
	PGresult *res = NULL;
	int rc = intake_store_cert_hash(r->srv, st->q.cert_type, st->q.cert_no, hash);
	if (rc < 0)
		return rc;
	snprintf(keep, sizeof(keep), "%lld", (long long)r->srv->cfg->photo_retention_s);
	const char *p[4] = {r->tenant_id, (const char *)hash, vid, keep};
	int len[4] = {0, 32, 0, 0}, fmt[4] = {0, 1, 0, 0};
	rc = intake_store_execb(
		c, r,
		"SELECT p.id, p.kind = 'authority' FROM verifications v JOIN photos p ON "
		"p.verification_id = v.id WHERE v.tenant_id = $1::uuid AND v.cert_no_hash = $2 "
		"AND v.id <> $3::bigint AND p.data_enc IS NOT NULL AND p.created_at > now() - "
		"make_interval(secs => $4::bigint) AND (p.kind = 'authority' OR (p.id = "
		"v.face_photo_id AND v.passed)) ORDER BY p.kind = 'authority' DESC, p.created_at "
		"DESC LIMIT 1",
		4, p, len, fmt, &res);
	if (rc == 0 && PQntuples(res) == 1) {
		st->ref_photo_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		st->ref_authority = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		char ref[24];
		snprintf(ref, sizeof(ref), "%lld", (long long)st->ref_photo_id);
		const char *u[2] = {ref, vid};
		PQclear(res);
		return intake_store_exec(c, r,
					 "UPDATE verifications SET ref_photo_id = $1::bigint WHERE "
					 "id = $2::bigint",
					 2, u, NULL);
	}
	PQclear(res);
	return rc;
}

static int emit_job(PGconn *c, struct intake_req *r, struct intake_sync_state *st)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__LivenessJob m = SHIREN__V1__LIVENESS_JOB__INIT;
	Shiren__V1__ImageRef refs[2] = {SHIREN__V1__IMAGE_REF__INIT, SHIREN__V1__IMAGE_REF__INIT};
	Shiren__V1__ImageRef *rp[2] = {&refs[0], &refs[1]};
	struct envelope_buf eb;
	int rc = envelope_new(&env, &eb, r->tenant_id, r->request_id, INTAKE_SOURCE);
	if (rc < 0)
		return rc;
	m.envelope = &env;
	m.certify_id = st->certify_id;
	m.action = (char *)st->q.action_name;
	m.product = (Shiren__V1__Product)intake_valid_product_value(st->q.product_code);
	m.scene_id = st->q.scene_id;
	m.model = SHIREN__V1__LIVENESS_MODEL__LIVENESS_MODEL_SILENT;
	m.scene_model = st->q.action == INTAKE_SYNC_COMPARE ? "NO_LIVENESS" : st->model;
	m.synchronous = true;
	m.deadline_ms = st->deadline_wall_ms;
	m.requested_at_ms = st->wall_t0_ms;
	m.images = rp;
	if (st->q.action == INTAKE_SYNC_COMPARE) {
		refs[0].photo_id = st->img[0].photo_id;
		refs[0].kind = "reference";
		refs[1].photo_id = st->img[1].photo_id;
		refs[1].kind = "face";
		m.n_images = 2;
	} else {
		refs[0].photo_id = st->img[0].photo_id;
		refs[0].kind = "face";
		m.n_images = 1;
		if (st->ref_photo_id) {
			refs[1].photo_id = st->ref_photo_id;
			refs[1].kind = st->ref_authority ? "authority" : "reference";
			m.n_images = 2;
		}
	}
	size_t len = shiren__v1__liveness_job__get_packed_size(&m);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	shiren__v1__liveness_job__pack(&m, buf);
	rc = outbox_enqueue(c, INTAKE_SOURCE, TOPIC_LIVENESS_JOBS, st->certify_id,
			    strlen(st->certify_id), buf, len, eb.message_id, r->log_err,
			    sizeof(r->log_err));
	free(buf);
	return rc;
}

int intake_sync_store_body(PGconn *c, struct intake_req *r, void *arg)
{
	struct intake_sync_state *st = arg;
	char vid[24];
	/* Here, on the worker: it hashes the whole request, pictures included. */
	int rc = intake_sync_fingerprint(st->q.action, &r->params, r->srv->k_fingerprint,
					 st->fingerprint);
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "fingerprint: %s", strerror(-rc));
		return rc;
	}
	if ((rc = scene_check(c, r, st)) != 0)
		return rc;
	if ((rc = insert_verification(c, r, st, vid, sizeof(vid))) != 0)
		return rc;
	if (!vid[0])
		return existing(c, r, st);
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", st->certify_id);
	if ((rc = blocked_check(c, r, st)) != 0)
		return rc;
	for (int i = 0; i < st->q.nimages && rc == 0; i++) {
		const char *kind =
			st->q.action == INTAKE_SYNC_COMPARE && i == 0 ? "reference" : "face";
		if (st->q.images[i].kind == INTAKE_REF_CERTIFY_ID)
			rc = photo_by_certify_id(c, r, st, i);
		else
			rc = store_photo(c, r, st, i, vid, kind);
	}
	if (rc == 0 && st->q.action == INTAKE_SYNC_CONTRAST)
		rc = reference_on_record(c, r, st, vid);
	if (rc == 0)
		rc = emit_job(c, r, st);
	return rc;
}
