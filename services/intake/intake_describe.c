/* intake_describe — DescribeFaceVerify (the result: Passed, SubCode, MaterialInfo as a JSON
 * string, the captured face as Base64 while it is younger than the retention window) and
 * DeleteFaceVerifyResult (wipes the personal data of a CertifyId: name, ID number, contact
 * data, photos, H5 session; the outcome itself stays). Both run in one transaction with the
 * nonce claim; the response is built on the worker (it may hold a 1.4 MB photo). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "intake/intake_material.h"
#include "intake/intake_server.h"

#define BIZ_REFUSED 1

struct describe_state {
	struct intake_describe_req q;
	struct intake_delete_req d;
	struct intake_biz biz;
	char *result; /* ResultObject JSON text */
	size_t result_len;
};

static void state_free(void *p)
{
	struct describe_state *st = p;
	free(st->result);
	free(st);
}

static int refuse(struct describe_state *st, const char *code, const char *msg)
{
	st->biz.code = code;
	snprintf(st->biz.message, sizeof(st->biz.message), "%s", msg);
	return BIZ_REFUSED;
}

static double score(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? -1.0 : strtod(PQgetvalue(res, 0, col), NULL);
}

/* The face photo as Base64 when it is still kept; *ret stays NULL otherwise. */
static int load_photo(PGconn *c, struct intake_req *r, const char *photo_id, char **ret,
		      size_t *ret_len, char *mime, size_t mime_cap)
{
	char keep[24], aad[48];
	PGresult *res = NULL;
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	*ret = NULL;
	snprintf(keep, sizeof(keep), "%lld", (long long)r->srv->cfg->photo_retention_s);
	const char *p[2] = {photo_id, keep};
	int rc = intake_store_exec(c, r,
				   "SELECT mime, data_enc FROM photos WHERE id = $1::bigint AND "
				   "data_enc IS NOT NULL AND created_at > now() - "
				   "make_interval(secs => $2::bigint)",
				   2, p, &res);
	if (rc < 0 || PQntuples(res) == 0)
		goto out;
	snprintf(mime, mime_cap, "%s", PQgetvalue(res, 0, 0));
	snprintf(aad, sizeof(aad), "photos:%s", photo_id);
	rc = intake_store_bytea(PQgetvalue(res, 0, 1), &blob, &blen);
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
	PQclear(res);
	return rc;
}

static int build_result(struct describe_state *st, const PGresult *v, const char *pic,
			size_t pic_len, const char *mime)
{
	char sub[16];
	struct intake_material m = {.sub_code = (int)strtol(PQgetvalue(v, 0, 4), NULL, 10),
				    .verify_score = score(v, 5),
				    .liveness_score = score(v, 6),
				    .quality_score = score(v, 7),
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
	size_t cap = (size_t)ml * 2 + 512;
	st->result = malloc(cap);
	if (!st->result) {
		free(mat);
		return -ENOMEM;
	}
	snprintf(sub, sizeof(sub), "%d", m.sub_code);
	struct json_writer w;
	json_writer_init(&w, st->result, cap);
	json_obj_begin(&w);
	json_key_str(&w, "Passed", strcmp(PQgetvalue(v, 0, 3), "t") == 0 ? "T" : "F");
	json_key_str(&w, "SubCode", sub);
	json_key(&w, "MaterialInfo");
	json_strn(&w, mat, (size_t)ml);
	if (!PQgetisnull(v, 0, 10))
		json_key_str(&w, "DeviceToken", PQgetvalue(v, 0, 10));
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
		return refuse(st, "404", "The scene does not exist for this account.");
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
		rc = refuse(st, "406", "Invalid CertifyId: no verification of this scene has it.");
		goto out;
	}
	if (strcmp(PQgetvalue(v, 0, 2), "completed") != 0) {
		rc = refuse(st, "424",
			    "No verification result yet: the face capture has not been completed "
			    "(not started, abandoned or still processing).");
		goto out;
	}
	const char *u[1] = {PQgetvalue(v, 0, 0)};
	rc = intake_store_exec(c, r,
			       "UPDATE verifications SET described_at = now() WHERE id = "
			       "$1::bigint AND described_at IS NULL",
			       1, u, NULL);
	bool deleted = strcmp(PQgetvalue(v, 0, 8), "t") == 0;
	if (rc == 0 && st->q.want_picture && !deleted && !PQgetisnull(v, 0, 9))
		rc = load_photo(c, r, PQgetvalue(v, 0, 9), &pic, &pic_len, mime, sizeof(mime));
	if (rc == 0)
		rc = build_result(st, v, pic, pic_len, mime);
out:
	free(pic);
	PQclear(v);
	return rc;
}

static int describe_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, describe_body, r->state);
}

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
	(void)intake_req_pg(r, describe_work, done);
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
