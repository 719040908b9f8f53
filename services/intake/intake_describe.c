/* intake_describe — DescribeFaceVerify (the result: Passed, SubCode, MaterialInfo as a JSON
 * string, the captured face as Base64 while it is younger than the retention window) and
 * DeleteFaceVerifyResult (wipes the personal data of a CertifyId: name, ID number, contact
 * data, photos, H5 session; the outcome itself stays). Both run in one transaction with the
 * nonce claim; the response is built on the worker (it may hold a 1.4 MB photo).
 * DescribeFaceVerify normally runs batched (intake_server.h) as one statement that checks,
 * claims the nonce and reads in one go; the step-by-step transaction is its fallback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "intake/intake_material.h"
#include "intake/intake_server.h"

#define BIZ_REFUSED 1
#define MSG_404	    "The scene does not exist for this account."
#define MSG_406	    "Invalid CertifyId: no verification of this scene has it."
#define MSG_424                                                                     \
	"No verification result yet: the face capture has not been completed (not " \
	"started, abandoned or still processing)."

/* What the answer needs from a verification row. */
struct describe_row {
	char id[24];
	char photo_id[24]; /* face_photo_id, "" when none */
	bool passed, deleted;
	int sub_code;
	double verify, liveness, quality; /* negative: not measured */
	char *device_token;		  /* heap copy, NULL when none */
};

struct describe_state {
	struct intake_batch_item item;
	struct intake_describe_req q;
	struct intake_delete_req d;
	struct intake_biz biz;
	struct describe_row row;
	char *result; /* ResultObject JSON text */
	size_t result_len;
};

static void state_free(void *p)
{
	struct describe_state *st = p;
	free(st->row.device_token);
	free(st->result);
	free(st);
}

static int refuse(struct describe_state *st, const char *code, const char *msg)
{
	st->biz.code = code;
	snprintf(st->biz.message, sizeof(st->biz.message), "%s", msg);
	return BIZ_REFUSED;
}

static double score(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1.0 : strtod(PQgetvalue(res, row, col), NULL);
}

/* Opens the sealed photo `hex` (bytea text) of `photo_id` into heap Base64 in *ret. */
static int photo_b64(struct intake_req *r, const char *photo_id, const char *hex, char **ret,
		     size_t *ret_len)
{
	char aad[48];
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	*ret = NULL;
	snprintf(aad, sizeof(aad), "photos:%s", photo_id);
	int rc = intake_store_bytea(hex, &blob, &blen);
	if (rc == 0)
		rc = intake_store_open(r->srv, aad, blob, blen, &plain, &plen);
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "photo %s does not open", photo_id);
		goto out;
	}
	*ret = malloc(crypto_b64_enc_len(plen));
	if (!*ret) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_b64_encode(plain, plen, *ret);
	*ret_len = strlen(*ret);
out:
	if (plain) {
		crypto_wipe(plain, plen);
		free(plain);
	}
	free(blob);
	return rc;
}

/* The face photo as Base64 when it is still kept; *ret stays NULL otherwise. */
static int load_photo(PGconn *c, struct intake_req *r, const char *photo_id, char **ret,
		      size_t *ret_len, char *mime, size_t mime_cap)
{
	char keep[24];
	PGresult *res = NULL;
	*ret = NULL;
	snprintf(keep, sizeof(keep), "%lld", (long long)r->srv->cfg->photo_retention_s);
	const char *p[2] = {photo_id, keep};
	int rc = intake_store_exec(c, r,
				   "SELECT mime, data_enc FROM photos WHERE id = $1::bigint AND "
				   "data_enc IS NOT NULL AND created_at > now() - "
				   "make_interval(secs => $2::bigint)",
				   2, p, &res);
	if (rc == 0 && PQntuples(res) > 0) {
		snprintf(mime, mime_cap, "%s", PQgetvalue(res, 0, 0));
		rc = photo_b64(r, photo_id, PQgetvalue(res, 0, 1), ret, ret_len);
	}
	PQclear(res);
	return rc;
}

/* Columns of a verification row as both paths read it, from column `o` on: id, scene_id,
 * status, passed, sub_code, verify_score, liveness_score, quality_score, deleted,
 * face_photo_id, device_token. */
#define COL_STATUS   2
#define COL_PASSED   3
#define COL_SUB	     4
#define COL_VERIFY   5
#define COL_LIVENESS 6
#define COL_QUALITY  7
#define COL_DELETED  8
#define COL_FACE     9
#define COL_DEVICE   10

/* Copies the columns of row `row` (from column `o` on, COL_*) into *d. */
static int row_take(struct describe_row *d, const PGresult *v, int row, int o)
{
	free(d->device_token);
	*d = (struct describe_row){.passed = strcmp(PQgetvalue(v, row, o + COL_PASSED), "t") == 0,
				   .deleted = strcmp(PQgetvalue(v, row, o + COL_DELETED), "t") == 0,
				   .sub_code =
					   (int)strtol(PQgetvalue(v, row, o + COL_SUB), NULL, 10),
				   .verify = score(v, row, o + COL_VERIFY),
				   .liveness = score(v, row, o + COL_LIVENESS),
				   .quality = score(v, row, o + COL_QUALITY)};
	snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(v, row, o));
	if (!PQgetisnull(v, row, o + COL_FACE))
		snprintf(d->photo_id, sizeof(d->photo_id), "%s", PQgetvalue(v, row, o + COL_FACE));
	if (!PQgetisnull(v, row, o + COL_DEVICE) &&
	    !(d->device_token = strdup(PQgetvalue(v, row, o + COL_DEVICE))))
		return -ENOMEM;
	return 0;
}

/* The photo goes into the answer: asked for, not deleted, and there is one. */
static bool wants_photo(const struct describe_state *st)
{
	return st->q.want_picture && !st->row.deleted && st->row.photo_id[0];
}

static int build_result(struct describe_state *st, const char *pic, size_t pic_len,
			const char *mime)
{
	char sub[16];
	const struct describe_row *d = &st->row;
	struct intake_material m = {.sub_code = d->sub_code,
				    .verify_score = d->verify,
				    .liveness_score = d->liveness,
				    .quality_score = d->quality,
				    .picture_b64 = pic,
				    .picture_b64_len = pic_len,
				    .picture_mime = mime};
	size_t mcap = intake_material_size(&m);
	char *mat = malloc(mcap);
	if (!mat)
		return -ENOMEM;
	long ml = intake_material_render(&m, mat, mcap);
	if (ml < 0) {
		free(mat);
		return (int)ml;
	}
	size_t cap = (size_t)ml * 2 + 512 + (d->device_token ? strlen(d->device_token) * 6 : 0);
	free(st->result);
	st->result = malloc(cap);
	if (!st->result) {
		free(mat);
		return -ENOMEM;
	}
	snprintf(sub, sizeof(sub), "%d", m.sub_code);
	struct json_writer w;
	json_writer_init(&w, st->result, cap);
	json_obj_begin(&w);
	json_key_str(&w, "Passed", d->passed ? "T" : "F");
	json_key_str(&w, "SubCode", sub);
	json_key(&w, "MaterialInfo");
	json_strn(&w, mat, (size_t)ml);
	if (d->device_token)
		json_key_str(&w, "DeviceToken", d->device_token);
	json_obj_end(&w);
	free(mat);
	st->result_len = json_writer_len(&w);
	return json_writer_truncated(&w) ? -ENOSPC : 0;
}

static int scene_exists(PGconn *c, struct intake_req *r, int64_t scene_id, bool *ret)
{
	char scene[24];
	PGresult *res = NULL;
	snprintf(scene, sizeof(scene), "%lld", (long long)scene_id);
	const char *p[2] = {scene, r->tenant_id};
	int rc = intake_store_exec(
		c, r, "SELECT 1 FROM scenes WHERE id = $1::bigint AND tenant_id = $2::uuid", 2, p,
		&res);
	*ret = rc == 0 && PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

static int describe_body(PGconn *c, struct intake_req *r, void *arg)
{
	struct describe_state *st = arg;
	PGresult *v = NULL;
	char *pic = NULL, mime[32] = "";
	size_t pic_len = 0;
	bool scene_ok;
	int rc = scene_exists(c, r, st->q.scene_id, &scene_ok);
	if (rc < 0)
		return rc;
	if (!scene_ok)
		return refuse(st, "404", MSG_404);
	char scene[24];
	snprintf(scene, sizeof(scene), "%lld", (long long)st->q.scene_id);
	const char *p[3] = {st->q.certify_id, r->tenant_id, scene};
	rc = intake_store_exec(c, r,
			       "SELECT id, scene_id, status, passed, sub_code, verify_score, "
			       "liveness_score, quality_score, deleted_at IS NOT NULL, "
			       "face_photo_id, device_token FROM verifications WHERE certify_id = "
			       "$1 AND tenant_id = $2::uuid AND scene_id = $3::bigint",
			       3, p, &v);
	if (rc < 0)
		goto out;
	if (PQntuples(v) == 0) {
		rc = refuse(st, "406", MSG_406);
		goto out;
	}
	if (strcmp(PQgetvalue(v, 0, COL_STATUS), "completed") != 0) {
		rc = refuse(st, "424", MSG_424);
		goto out;
	}
	const char *u[1] = {PQgetvalue(v, 0, 0)};
	rc = intake_store_exec(c, r,
			       "UPDATE verifications SET described_at = now() WHERE id = "
			       "$1::bigint AND described_at IS NULL",
			       1, u, NULL);
	if (rc == 0)
		rc = row_take(&st->row, v, 0, 0);
	if (rc == 0 && wants_photo(st))
		rc = load_photo(c, r, st->row.photo_id, &pic, &pic_len, mime, sizeof(mime));
	if (rc == 0)
		rc = build_result(st, pic, pic_len, mime);
out:
	free(pic);
	PQclear(v);
	return rc;
}

static int describe_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, describe_body, r->state);
}

/* ---- the batched path ----
 * One statement for the batch's Describe requests: reads each one's scene and verification,
 * and claims the nonce only of those whose answer is a result (a refusal writes nothing, as
 * the rolled-back transaction of the step-by-step path), and records described_at for a first
 * Describe. `claimed` false for a request whose answer is a result means its nonce is taken
 * (earlier, or concurrently); for a refused request, `nonce_seen` tells whether its nonce was
 * taken before (that answer comes first, as on the step-by-step path). The face photos of the
 * answers that include one are read after the COMMIT, PHOTO_CHUNK at a time: a photo row is
 * immutable until it is purged, and a batch must not hold 32 photos of 1.4 MB at once. */
#define PHOTO_CHUNK 4
static const struct intake_stmt STMT_DESCRIBE = {
	"intake_describe",
	"WITH q AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], "
	"$5::bigint[], $6::text[]) WITH ORDINALITY AS q(akid, nonce, ts, tenant, scene, cid, i)), "
	"r AS (SELECT q.*, s.id IS NOT NULL AS scene_ok, v.id, v.scene_id, v.status, v.passed, "
	"v.sub_code, v.verify_score, v.liveness_score, v.quality_score, "
	"v.deleted_at IS NOT NULL AS deleted, v.face_photo_id, v.device_token, "
	"v.described_at IS NULL AS undescribed FROM q "
	"LEFT JOIN scenes s ON s.id = q.scene AND s.tenant_id = q.tenant "
	"LEFT JOIN verifications v ON v.certify_id = q.cid AND v.tenant_id = q.tenant AND "
	"v.scene_id = q.scene), "
	"n AS (INSERT INTO intake_nonces (access_key_id, nonce, expires_at) "
	"SELECT akid, nonce, to_timestamp(ts) + make_interval(secs => $7::int) FROM r "
	"WHERE scene_ok AND status = 'completed' ON CONFLICT DO NOTHING "
	"RETURNING access_key_id, nonce), "
	"d AS (UPDATE verifications SET described_at = now() FROM r JOIN n ON "
	"n.access_key_id = r.akid AND n.nonce = r.nonce WHERE verifications.id = r.id AND "
	"r.undescribed AND verifications.described_at IS NULL) "
	"SELECT EXISTS (SELECT 1 FROM n WHERE n.access_key_id = r.akid AND n.nonce = r.nonce), "
	"CASE WHEN r.scene_ok AND r.status = 'completed' THEN false ELSE EXISTS (SELECT 1 FROM "
	"intake_nonces x WHERE x.access_key_id = r.akid AND x.nonce = r.nonce) END, r.scene_ok, "
	"r.id, r.scene_id, r.status, r.passed, r.sub_code, r.verify_score, r.liveness_score, "
	"r.quality_score, r.deleted, r.face_photo_id, r.device_token FROM r ORDER BY r.i"};
#define D_CLAIMED    0
#define D_NONCE_SEEN 1
#define D_SCENE	     2
#define D_ROW	     3 /* the verification's columns (COL_*) start here */

static const struct intake_stmt STMT_PHOTOS = {
	"intake_describe_photos",
	"SELECT id, mime, data_enc FROM photos WHERE id = ANY ($1::bigint[]) AND data_enc IS NOT "
	"NULL AND created_at > now() - make_interval(secs => $2::bigint)"};

static const struct intake_stmt *const describe_stmts[] = {&STMT_DESCRIBE, &STMT_PHOTOS, NULL};

static int describe_send(PGconn *c, struct intake_batch_item **it, size_t n, char *err,
			 size_t errlen)
{
	struct intake_arr a[6];
	const char *p[7], *np[4];
	char ts[24], keep[16], scene[24];
	int rc = 0;
	for (int k = 0; k < 6; k++)
		intake_arr_init(&a[k]);
	for (size_t i = 0; i < n; i++) {
		struct intake_req *r = it[i]->r;
		struct describe_state *st = r->state;
		intake_store_nonce_params(r, ts, keep, np);
		snprintf(scene, sizeof(scene), "%lld", (long long)st->q.scene_id);
		intake_arr_text(&a[0], np[0]);
		intake_arr_text(&a[1], np[1]);
		intake_arr_text(&a[2], np[2]);
		intake_arr_text(&a[3], r->tenant_id);
		intake_arr_text(&a[4], scene);
		intake_arr_text(&a[5], st->q.certify_id);
	}
	for (int k = 0; k < 6; k++)
		if (!(p[k] = intake_arr_end(&a[k])))
			rc = -ENOMEM;
	p[6] = keep;
	if (rc == 0)
		rc = intake_store_send(c, &STMT_DESCRIBE, 7, p, NULL, NULL, err, errlen);
	else
		snprintf(err, errlen, "describe: arrays over their cap or out of memory");
	for (int k = 0; k < 6; k++)
		intake_arr_free(&a[k]);
	return rc < 0 ? rc : 1;
}

static bool is_true(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* One request's answer from its row (the step-by-step path's decision order); *ret_post
 * when the answer waits for its photo. */
static int describe_decide(struct intake_req *r, const PGresult *v, int row, bool *ret_post)
{
	struct describe_state *st = r->state;
	int rc;
	*ret_post = false;
	if (!is_true(v, row, D_CLAIMED)) {
		if (is_true(v, row, D_NONCE_SEEN))
			return -EALREADY;
		if (!is_true(v, row, D_SCENE))
			return refuse(st, "404", MSG_404);
		if (PQgetisnull(v, row, D_ROW))
			return refuse(st, "406", MSG_406);
		if (strcmp(PQgetvalue(v, row, D_ROW + COL_STATUS), "completed") != 0)
			return refuse(st, "424", MSG_424);
		return -EALREADY; /* claimed concurrently */
	}
	if ((rc = row_take(&st->row, v, row, D_ROW)) < 0)
		return rc;
	if (wants_photo(st)) {
		*ret_post = true;
		return 0;
	}
	return build_result(st, NULL, 0, "");
}

static int describe_recv(PGconn *c, struct intake_batch_item **it, size_t n, char *err,
			 size_t errlen)
{
	PGresult *v = NULL;
	int rc = intake_store_result(c, &v, err, errlen);
	if (rc < 0)
		return rc;
	if ((size_t)PQntuples(v) != n) {
		snprintf(err, errlen, "describe: %d rows for %zu requests", PQntuples(v), n);
		PQclear(v);
		return -EPROTO;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		it[i]->rc = describe_decide(it[i]->r, v, (int)i, &it[i]->post);
		if (it[i]->rc < 0 && it[i]->rc != -EALREADY) {
			rc = it[i]->rc;
			snprintf(err, errlen, "%s",
				 it[i]->r->log_err[0] ? it[i]->r->log_err : strerror(-rc));
		}
	}
	PQclear(v);
	return rc;
}

/* After the COMMIT: the photos, PHOTO_CHUNK per statement, each answer built as soon as its
 * photo is read. A photo gone meanwhile (purged, deleted) is left out, as on the step-by-step
 * path when it is gone at its read. */
static int describe_post(PGconn *c, struct intake_batch_item **it, size_t n, char *err,
			 size_t errlen)
{
	char keep[24];
	int lost = 0;
	snprintf(keep, sizeof(keep), "%lld", (long long)it[0]->r->srv->cfg->photo_retention_s);
	for (size_t i0 = 0; i0 < n; i0 += PHOTO_CHUNK) {
		size_t m = n - i0 < PHOTO_CHUNK ? n - i0 : PHOTO_CHUNK;
		struct intake_arr ids;
		PGresult *res = NULL;
		intake_arr_init(&ids);
		for (size_t i = i0; i < i0 + m; i++)
			intake_arr_text(&ids,
					((struct describe_state *)it[i]->r->state)->row.photo_id);
		const char *p[2] = {intake_arr_end(&ids), keep};
		int rc = p[0] ? 0 : -ENOMEM;
		if (rc == 0 &&
		    (rc = intake_store_send(c, &STMT_PHOTOS, 2, p, NULL, NULL, err, errlen)) == 0)
			rc = intake_store_result(c, &res, err, errlen);
		intake_arr_free(&ids);
		for (size_t i = i0; i < i0 + m; i++) {
			struct intake_req *r = it[i]->r;
			struct describe_state *st = r->state;
			char *pic = NULL;
			size_t pic_len = 0;
			const char *mime = "";
			int k = -1;
			if (rc < 0) {
				snprintf(r->log_err, sizeof(r->log_err), "%s", err);
				it[i]->rc = rc;
				continue;
			}
			for (int j = 0; j < PQntuples(res) && k < 0; j++)
				if (strcmp(PQgetvalue(res, j, 0), st->row.photo_id) == 0)
					k = j;
			int brc = 0;
			if (k >= 0) {
				mime = PQgetvalue(res, k, 1);
				brc = photo_b64(r, st->row.photo_id, PQgetvalue(res, k, 2), &pic,
						&pic_len);
			}
			it[i]->rc = brc < 0 ? brc : build_result(st, pic, pic_len, mime);
			free(pic);
		}
		PQclear(res);
		lost |= rc == -ECONNRESET;
	}
	return lost ? -ECONNRESET : 0;
}

static int describe_slow(PGconn *c, struct intake_req *r)
{
	struct describe_state *st = r->state;
	free(st->result);
	st->result = NULL;
	return describe_work(c, r);
}

static const struct intake_batch_ops describe_ops = {
	.stmts = describe_stmts,
	.send = describe_send,
	.recv = describe_recv,
	.post = describe_post,
	.slow = describe_slow,
};

static void done(struct intake_req *r, int rc)
{
	struct describe_state *st = r->state;
	if (rc == 0)
		intake_reply_ok(r, st->result, st->result_len);
	else if (rc == BIZ_REFUSED)
		intake_reply_biz(r, &st->biz);
	else if (rc == -EALREADY)
		intake_reply_gateway(r, INTAKE_ERR_SIGNATURE_NONCE_USED, NULL, NULL);
	else
		intake_reply_failure(r, rc);
}

static struct describe_state *state_new(struct intake_req *r)
{
	struct describe_state *st = calloc(1, sizeof(*st));
	if (!st) {
		intake_reply_failure(r, -ENOMEM);
		return NULL;
	}
	r->state = st;
	r->state_free = state_free;
	return st;
}

void intake_describe_handle(struct intake_req *r)
{
	struct describe_state *st = state_new(r);
	if (!st)
		return;
	if (intake_valid_describe(&r->params, &st->q, &st->biz) < 0) {
		intake_reply_biz(r, &st->biz);
		return;
	}
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->q.certify_id);
	(void)intake_req_batch(r, &st->item, &describe_ops, done);
}

/* ---- DeleteFaceVerifyResult ---- */

static int delete_result(struct describe_state *st, const char *certify_id, bool deleted,
			 const char *reason)
{
	size_t cap = 256;
	st->result = malloc(cap);
	if (!st->result)
		return -ENOMEM;
	struct json_writer w;
	json_writer_init(&w, st->result, cap);
	json_obj_begin(&w);
	json_key_str(&w, "CertifyId", certify_id);
	json_key_str(&w, "DeleteResult", deleted ? "Y" : "N");
	if (reason)
		json_key_str(&w, "FailReason", reason);
	json_obj_end(&w);
	st->result_len = json_writer_len(&w);
	return 0;
}

static int delete_body(PGconn *c, struct intake_req *r, void *arg)
{
	struct describe_state *st = arg;
	PGresult *v = NULL;
	const char *p[2] = {st->d.certify_id, r->tenant_id};
	int rc = intake_store_exec(
		c, r,
		"SELECT id, described_at IS NOT NULL, deleted_at IS NOT NULL FROM "
		"verifications WHERE certify_id = $1 AND tenant_id = $2::uuid "
		"FOR UPDATE",
		2, p, &v);
	if (rc < 0)
		goto out;
	if (PQntuples(v) == 0) {
		rc = refuse(st, "406", "Invalid CertifyId: no verification has this CertifyId.");
		goto out;
	}
	if (strcmp(PQgetvalue(v, 0, 2), "t") == 0) {
		rc = delete_result(st, st->d.certify_id, false, "NOT_DELETE_REPEATEDLY");
		goto out;
	}
	if (st->d.after_query && strcmp(PQgetvalue(v, 0, 1), "t") != 0) {
		rc = delete_result(st, st->d.certify_id, false, "NEED_QUERY_VERIFY_RESULT");
		goto out;
	}
	const char *id[2] = {PQgetvalue(v, 0, 0), st->d.certify_id};
	rc = intake_store_exec(c, r,
			       "UPDATE verifications SET cert_name_enc = NULL, cert_no_enc = NULL, "
			       "cert_no_hash = NULL, pii_enc = NULL, device_token = NULL, "
			       "callback_token = NULL, deleted_at = now() WHERE id = $1::bigint",
			       1, id, NULL);
	if (rc == 0)
		rc = intake_store_exec(c, r,
				       "UPDATE photos SET data_enc = NULL, purged_at = now() WHERE "
				       "verification_id = $1::bigint AND data_enc IS NOT NULL",
				       1, id, NULL);
	if (rc == 0)
		rc = intake_store_exec(c, r, "DELETE FROM h5_sessions WHERE certify_id = $1", 1,
				       id + 1, NULL);
	if (rc == 0)
		rc = delete_result(st, st->d.certify_id, true, NULL);
out:
	PQclear(v);
	return rc;
}

static int delete_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, delete_body, r->state);
}

void intake_delete_handle(struct intake_req *r)
{
	struct describe_state *st = state_new(r);
	if (!st)
		return;
	if (intake_valid_delete(&r->params, &st->d, &st->biz) < 0) {
		intake_reply_biz(r, &st->biz);
		return;
	}
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->d.certify_id);
	(void)intake_req_pg(r, delete_work, done);
}
