/* intake_init — InitFaceVerify: validate, obtain the reference photo (inline Base64, a URL
 * downloaded on the worker pool, or an earlier passed CertifyId), then in one transaction claim
 * the nonce, check the scene, insert the verification idempotently on (tenant, OuterOrderNo),
 * check the metering block, store the photo and the H5 session (sealed), and enqueue
 * VerifyRequested (products compared with the authority photo) and a UsageEvent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/envelope.h"
#include "common/json.h"
#include "common/outbox.h"
#include "intake/intake_fetch.h"
#include "intake/intake_image.h"
#include "intake/intake_server.h"
#include "shiren/v1/metering.pb-c.h"
#include "shiren/v1/verify.pb-c.h"

#define TOKEN_BYTES	  32
#define TOKEN_LEN	  43 /* Base64url of 32 bytes, no padding */
#define MIN_IMAGE_SIDE	  32
#define MAX_IMAGE_SIDE	  8192
#define BIZ_REFUSED	  1 /* intake_store_tx body: refuse with st->biz, roll back */
#define OPTIONS_JSON_SIZE 8192

struct init_state {
	struct intake_init_req q;
	uint8_t fingerprint[32];
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	uint8_t *img; /* reference image bytes (inline or downloaded) */
	size_t img_len;
	struct intake_image_info info;
	struct intake_biz biz;
	/* outputs */
	bool reused;
	char out_certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	char token[TOKEN_LEN + 1];
	char url_style[2];
};

static void state_free(void *p)
{
	struct init_state *st = p;
	free(st->img);
	crypto_wipe(st->token, sizeof(st->token));
	free(st);
}

static int biz(struct init_state *st, const char *code, const char *msg)
{
	st->biz.code = code;
	snprintf(st->biz.message, sizeof(st->biz.message), "%s", msg);
	return BIZ_REFUSED;
}

static void random_hex(char *out, size_t nbytes)
{
	uint8_t b[32];
	if (crypto_random(b, nbytes) < 0)
		memset(b, 0, nbytes); /* the unique key then refuses the row: never a silent dup */
	crypto_hex(b, nbytes, out);
}

/* ---- reference image (worker pool) ---- */

static int check_image(struct init_state *st, const char *what)
{
	char msg[256];
	int rc = intake_image_probe(st->img, st->img_len, &st->info);
	if (rc == -EINVAL) {
		snprintf(msg, sizeof(msg), "%s is not a JPEG or PNG image.", what);
		return biz(st, "419", msg);
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s is a damaged %s (its header does not parse).", what,
			 st->info.type == INTAKE_IMAGE_PNG ? "PNG" : "JPEG");
		return biz(st, "419", msg);
	}
	if (st->info.width < MIN_IMAGE_SIDE || st->info.height < MIN_IMAGE_SIDE ||
	    st->info.width > MAX_IMAGE_SIDE || st->info.height > MAX_IMAGE_SIDE) {
		snprintf(msg, sizeof(msg),
			 "%s is %ux%u pixels; each side must be %d to %d pixels (640x480 to "
			 "1920x1080 recommended).",
			 what, st->info.width, st->info.height, MIN_IMAGE_SIDE, MAX_IMAGE_SIDE);
		return biz(st, "419", msg);
	}
	return 0;
}

static int image_work(struct intake_req *r)
{
	struct init_state *st = r->state;
	const struct intake_cfg *cfg = r->srv->cfg;
	char msg[256];
	if (st->q.ref_kind == INTAKE_REF_INLINE) {
		switch (intake_image_b64_decode(st->q.picture, st->q.picture_len,
						(size_t)cfg->fetch_max_bytes, &st->img,
						&st->img_len)) {
		case INTAKE_B64_OK:
			break;
		case INTAKE_B64_EMPTY:
			return biz(st, "419", "FaceContrastPicture is empty.");
		case INTAKE_B64_DATA_URL:
			return biz(st, "419",
				   "FaceContrastPicture must be the Base64 text only, without a "
				   "\"data:...;base64,\" prefix.");
		case INTAKE_B64_INVALID:
			return biz(st, "419", "FaceContrastPicture is not valid Base64.");
		case INTAKE_B64_TOO_LARGE:
			snprintf(msg, sizeof(msg), "The image is larger than %lld bytes.",
				 (long long)cfg->fetch_max_bytes);
			return biz(st, "421", msg);
		case INTAKE_B64_NO_MEMORY:
			return -ENOMEM;
		}
		return check_image(st, "FaceContrastPicture");
	}
	struct intake_fetch_opts o = {.timeout_ms = (long)cfg->fetch_timeout_ms,
				      .max_bytes = (size_t)cfg->fetch_max_bytes,
				      .allow_private = cfg->fetch_allow_private};
	char err[200];
	int rc = intake_fetch_url(st->q.picture_url, &o, &st->img, &st->img_len, err, sizeof(err));
	snprintf(r->log_err, sizeof(r->log_err), "%s", err);
	switch (rc) {
	case 0:
		r->log_err[0] = '\0';
		return check_image(st, "The image at FaceContrastPictureUrl");
	case -ETIMEDOUT:
		snprintf(msg, sizeof(msg),
			 "Downloading FaceContrastPictureUrl took longer than %lld ms.",
			 (long long)cfg->fetch_timeout_ms);
		return biz(st, "422", msg);
	case -EFBIG:
		snprintf(msg, sizeof(msg),
			 "The image at FaceContrastPictureUrl is larger than %lld bytes.",
			 (long long)cfg->fetch_max_bytes);
		return biz(st, "421", msg);
	case -ENOMEM:
		return rc;
	default:
		snprintf(msg, sizeof(msg), "FaceContrastPictureUrl could not be downloaded: %s.",
			 err);
		return biz(st, "419", msg);
	}
}

/* ---- the transaction (pool worker) ---- */

static int scene_check(PGconn *c, struct intake_req *r, struct init_state *st, char *model,
		       size_t model_cap)
{
	char scene[24], msg[256];
	PGresult *res = NULL;
	snprintf(scene, sizeof(scene), "%lld", (long long)st->q.scene_id);
	const char *p[2] = {scene, r->tenant_id};
	int rc = intake_store_exec(c, r,
				   "SELECT product_code, model FROM scenes WHERE id = $1::bigint "
				   "AND tenant_id = $2::uuid",
				   2, p, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 0) {
		snprintf(msg, sizeof(msg),
			 "Scene %s does not exist for this account (create it with `shirenctl "
			 "scene create`).",
			 scene);
		rc = biz(st, "404", msg);
	} else if (strcmp(PQgetvalue(res, 0, 0), st->q.product_code) != 0) {
		snprintf(msg, sizeof(msg),
			 "Invalid parameter ProductCode: scene %s runs %s, not %s.", scene,
			 PQgetvalue(res, 0, 0), st->q.product_code);
		rc = biz(st, "401", msg);
	} else {
		snprintf(model, model_cap, "%s", st->q.model ? st->q.model : PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

/* Seals `text` (may be NULL) under AAD "verifications:<certify_id>:<what>". */
static int seal_field(struct intake_req *r, const char *certify_id, const char *what,
		      const char *text, uint8_t **ret, size_t *ret_len)
{
	char aad[96];
	*ret = NULL;
	*ret_len = 0;
	if (!text)
		return 0;
	snprintf(aad, sizeof(aad), "verifications:%s:%s", certify_id, what);
	return intake_store_seal(r->srv, aad, text, strlen(text), ret, ret_len);
}

static void json_opt(struct json_writer *w, const struct intake_params *p, const char *name)
{
	const char *v = intake_params_get(p, name);
	if (v && *v)
		json_key_str(w, name, v);
}

/* Non-personal options for the H5 page and liveness (verifications.options). */
static void options_json(const struct intake_params *p, char *buf, size_t cap)
{
	static const char *const names[] = {"CertifyUrlType",
					    "CertifyUrlStyle",
					    "Crop",
					    "ProcedurePriority",
					    "AppQualityCheck",
					    "CameraSelection",
					    "SuitableType",
					    "RarelyCharacters",
					    "ReadImg",
					    "Mode",
					    "VideoEvidence",
					    "FaceGuardOutput",
					    "UiCustomUrl",
					    "NeedMultiFaceCheck",
					    "EnableBeauty",
					    "H5DegradeConfirmBtn",
					    "VoluntaryCustomizedContent"};
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_opt(&w, p, names[i]);
	json_obj_end(&w);
	if (json_writer_truncated(&w))
		snprintf(buf, cap, "{}");
}

/* Personal fields other than CertName/CertNo, sealed as one JSON object. */
static char *pii_json(const struct intake_params *p)
{
	static const char *const names[] = {"Mobile", "Ip",	  "UserId",	  "MetaInfo",
					    "AuthId", "Birthday", "ValidityDate", "ReturnUrl"};
	size_t cap = 256;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = intake_params_get(p, names[i]);
		cap += v ? strlen(v) * 6 + 32 : 0;
	}
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_opt(&w, p, names[i]);
	json_obj_end(&w);
	return buf;
}

static int insert_verification(PGconn *c, struct intake_req *r, struct init_state *st,
			       const char *model, char *ret_id, size_t id_cap)
{
	const struct intake_init_req *q = &st->q;
	uint8_t *name_enc = NULL, *no_enc = NULL, *pii_enc = NULL, no_hash[32];
	size_t name_len = 0, no_len = 0, pii_len = 0;
	char scene[24], options[OPTIONS_JSON_SIZE];
	char *pii = pii_json(&r->params);
	PGresult *res = NULL;
	int rc = pii ? 0 : -ENOMEM;
	if (rc == 0)
		rc = seal_field(r, st->certify_id, "cert_name", q->cert_name, &name_enc, &name_len);
	if (rc == 0)
		rc = seal_field(r, st->certify_id, "cert_no", q->cert_no, &no_enc, &no_len);
	if (rc == 0)
		rc = seal_field(r, st->certify_id, "pii", pii, &pii_enc, &pii_len);
	if (rc == 0 && q->cert_no) {
		char in[96];
		int n = snprintf(in, sizeof(in), "%s:%s", q->cert_type, q->cert_no);
		rc = crypto_hmac(CRYPTO_HASH_SHA256, r->srv->k_cert_no, 32, in, (size_t)n, no_hash);
		crypto_wipe(in, sizeof(in));
	}
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "sealing personal data: %s",
			 strerror(-rc));
		goto out;
	}
	snprintf(scene, sizeof(scene), "%lld", (long long)q->scene_id);
	options_json(&r->params, options, sizeof(options));
	static const char *const kinds[] = {NULL, "inline", "url", "certify_id", NULL};
	const char *p[18] = {st->certify_id,
			     r->tenant_id,
			     scene,
			     q->outer_order_no,
			     (const char *)st->fingerprint,
			     q->product_code,
			     model,
			     q->cert_name || q->cert_no ? q->cert_type : NULL,
			     (const char *)name_enc,
			     (const char *)no_enc,
			     q->cert_no ? (const char *)no_hash : NULL,
			     (const char *)pii_enc,
			     options,
			     q->callback_url,
			     q->callback_token,
			     q->return_url,
			     kinds[q->ref_kind],
			     "InitFaceVerify"};
	int len[18] = {0, 0, 0, 0, 32, 0, 0, 0, (int)name_len, (int)no_len, 32, (int)pii_len};
	int fmt[18] = {0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
	rc = intake_store_execb(
		c, r,
		"INSERT INTO verifications (certify_id, tenant_id, scene_id, outer_order_no, "
		"request_hash, product_code, model, cert_type, cert_name_enc, cert_no_enc, "
		"cert_no_hash, pii_enc, options, callback_url, callback_token, return_url, "
		"ref_kind, action) VALUES ($1, $2::uuid, $3::bigint, $4, $5, $6, $7, $8, $9, $10, "
		"$11, $12, $13::jsonb, $14, $15, $16, $17, $18) "
		"ON CONFLICT (tenant_id, outer_order_no) DO NOTHING RETURNING id",
		18, p, len, fmt, &res);
	if (rc == 0) {
		if (PQntuples(res) == 1)
			snprintf(ret_id, id_cap, "%s", PQgetvalue(res, 0, 0));
		else
			ret_id[0] = '\0';
	}
out:
	PQclear(res);
	free(name_enc);
	free(no_enc);
	free(pii_enc);
	if (pii) {
		crypto_wipe(pii, strlen(pii));
		free(pii);
	}
	crypto_wipe(no_hash, sizeof(no_hash));
	return rc;
}

/* The OuterOrderNo is taken: the same request again (same fingerprint) gets the first answer,
 * another request is refused. */
static int existing(PGconn *c, struct intake_req *r, struct init_state *st)
{
	PGresult *res = NULL;
	uint8_t *hash = NULL, *tok_enc = NULL, *tok = NULL;
	size_t hash_len = 0, tok_enc_len = 0, tok_len = 0;
	const char *p[2] = {r->tenant_id, st->q.outer_order_no};
	int rc = intake_store_exec(c, r,
				   "SELECT v.certify_id, v.request_hash, h.token_enc, h.url_style "
				   "FROM verifications v "
				   "LEFT JOIN h5_sessions h ON h.certify_id = v.certify_id "
				   "WHERE v.tenant_id = $1::uuid AND v.outer_order_no = $2",
				   2, p, &res);
	if (rc < 0)
		goto out;
	if (PQntuples(res) != 1) { /* deleted in between: cannot happen, rows are kept */
		rc = -EIO;
		snprintf(r->log_err, sizeof(r->log_err), "idempotency row vanished");
		goto out;
	}
	rc = intake_store_bytea(PQgetvalue(res, 0, 1), &hash, &hash_len);
	if (rc < 0)
		goto out;
	if (hash_len != 32 || !crypto_equal(hash, st->fingerprint, 32)) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "OuterOrderNo %s was already used for a different request (CertifyId "
			 "%s); a retry must repeat the same parameters, a new verification needs a "
			 "new OuterOrderNo.",
			 st->q.outer_order_no, PQgetvalue(res, 0, 0));
		rc = biz(st, "401", msg);
		goto out;
	}
	st->reused = true;
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 2)) {
		char aad[64];
		snprintf(aad, sizeof(aad), "h5_sessions:%s", st->out_certify_id);
		rc = intake_store_bytea(PQgetvalue(res, 0, 2), &tok_enc, &tok_enc_len);
		if (rc == 0)
			rc = intake_store_open(r->srv, aad, tok_enc, tok_enc_len, &tok, &tok_len);
		if (rc < 0 || tok_len != TOKEN_LEN) {
			snprintf(r->log_err, sizeof(r->log_err), "h5 token of %s does not open",
				 st->out_certify_id);
			rc = rc < 0 ? rc : -EBADMSG;
			goto out;
		}
		memcpy(st->token, tok, TOKEN_LEN + 1);
		snprintf(st->url_style, sizeof(st->url_style), "%s", PQgetvalue(res, 0, 3));
	}
out:
	if (tok) {
		crypto_wipe(tok, tok_len);
		free(tok);
	}
	free(tok_enc);
	free(hash);
	PQclear(res);
	return rc;
}

static int blocked_check(PGconn *c, struct intake_req *r, struct init_state *st)
{
	char product[8], msg[256];
	PGresult *res = NULL;
	snprintf(product, sizeof(product), "%d", intake_valid_product_value(st->q.product_code));
	const char *p[2] = {r->tenant_id, product};
	int rc = intake_store_exec(c, r,
				   "SELECT 1 FROM metering_blocked WHERE tenant_id = $1::uuid AND "
				   "product = $2::smallint",
				   2, p, &res);
	if (rc == 0 && PQntuples(res) > 0) {
		snprintf(msg, sizeof(msg),
			 "The prepaid calls of ProductCode %s are used up and this account is set "
			 "to refuse further calls: buy a package or switch to postpaid.",
			 st->q.product_code);
		rc = biz(st, "412", msg);
	}
	PQclear(res);
	return rc;
}

static int reference_by_certify_id(PGconn *c, struct intake_req *r, struct init_state *st,
				   const char *vid)
{
	char keep[24], msg[256];
	PGresult *res = NULL;
	snprintf(keep, sizeof(keep), "%lld", (long long)r->srv->cfg->photo_retention_s);
	const char *p[3] = {st->q.ref_certify_id, r->tenant_id, keep};
	int rc = intake_store_exec(
		c, r,
		"SELECT v.passed, v.face_photo_id, p.data_enc IS NOT NULL AND p.created_at > "
		"now() - make_interval(secs => $3::bigint) FROM verifications v "
		"LEFT JOIN photos p ON p.id = v.face_photo_id "
		"WHERE v.certify_id = $1 AND v.tenant_id = $2::uuid",
		3, p, &res);
	if (rc < 0)
		goto out;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		rc = biz(st, "423",
			 "The CertifyId given as reference has not passed verification (state T is "
			 "required).");
		goto out;
	}
	if (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
		snprintf(msg, sizeof(msg),
			 "The face photo of the reference CertifyId is no longer available (photos "
			 "are kept %lld hours).",
			 (long long)r->srv->cfg->photo_retention_s / 3600);
		rc = biz(st, "419", msg);
		goto out;
	}
	const char *u[2] = {PQgetvalue(res, 0, 1), vid};
	rc = intake_store_exec(c, r, "UPDATE verifications SET ref_photo_id = $1 WHERE id = $2", 2,
			       u, NULL);
out:
	PQclear(res);
	return rc;
}

static int store_photo(PGconn *c, struct intake_req *r, struct init_state *st, const char *vid)
{
	PGresult *res = NULL;
	uint8_t *sealed = NULL, sha[32];
	size_t sealed_len = 0;
	char id[24], aad[48], w[12], h[12], size[24];
	int rc = intake_store_exec(c, r, "SELECT nextval(pg_get_serial_sequence('photos', 'id'))",
				   0, NULL, &res);
	if (rc < 0)
		goto out;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	snprintf(aad, sizeof(aad), "photos:%s", id);
	rc = intake_store_seal(r->srv, aad, st->img, st->img_len, &sealed, &sealed_len);
	if (rc == 0)
		rc = crypto_hash(CRYPTO_HASH_SHA256, st->img, st->img_len, sha);
	if (rc < 0)
		goto out;
	snprintf(w, sizeof(w), "%u", st->info.width);
	snprintf(h, sizeof(h), "%u", st->info.height);
	snprintf(size, sizeof(size), "%zu", st->img_len);
	const char *p[9] = {id,
			    vid,
			    st->q.ref_kind == INTAKE_REF_INLINE ? "inline" : "url",
			    st->info.mime,
			    w,
			    h,
			    size,
			    (const char *)sha,
			    (const char *)sealed};
	int len[9] = {0, 0, 0, 0, 0, 0, 0, 32, (int)sealed_len};
	int fmt[9] = {0, 0, 0, 0, 0, 0, 0, 1, 1};
	rc = intake_store_execb(
		c, r,
		"INSERT INTO photos (id, verification_id, kind, source, mime, "
		"width, height, size_bytes, sha256, data_enc) OVERRIDING SYSTEM "
		"VALUE VALUES ($1::bigint, $2::bigint, 'reference', $3, $4, $5::int, "
		"$6::int, $7::int, $8, $9)",
		9, p, len, fmt, NULL);
	if (rc == 0) {
		const char *u[2] = {id, vid};
		rc = intake_store_exec(c, r,
				       "UPDATE verifications SET ref_photo_id = $1::bigint WHERE "
				       "id = $2::bigint",
				       2, u, NULL);
	}
out:
	PQclear(res);
	free(sealed);
	return rc;
}

static int store_session(PGconn *c, struct intake_req *r, struct init_state *st)
{
	uint8_t raw[TOKEN_BYTES], hash[32], *sealed = NULL;
	size_t sealed_len = 0;
	char b64[64], aad[64], ttl[24]; /* 45 bytes of Base64 for 32 */
	int rc = crypto_random(raw, sizeof(raw));
	if (rc < 0)
		return rc;
	crypto_b64_encode(raw, sizeof(raw), b64);
	size_t k = 0; /* Base64url without padding: safe in a URL as is */
	for (size_t i = 0; b64[i] && b64[i] != '='; i++)
		st->token[k++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	st->token[k] = '\0';
	snprintf(st->url_style, sizeof(st->url_style), "%s", st->q.certify_url_style);
	snprintf(aad, sizeof(aad), "h5_sessions:%s", st->certify_id);
	rc = crypto_hash(CRYPTO_HASH_SHA256, st->token, k, hash);
	if (rc == 0)
		rc = intake_store_seal(r->srv, aad, st->token, k, &sealed, &sealed_len);
	if (rc == 0) {
		snprintf(ttl, sizeof(ttl), "%lld", (long long)r->srv->cfg->certify_url_ttl_s);
		const char *p[6] = {st->certify_id,	     (const char *)hash,
				    (const char *)sealed,    st->q.certify_url_type,
				    st->q.certify_url_style, ttl};
		int len[6] = {0, 32, (int)sealed_len};
		int fmt[6] = {0, 1, 1};
		rc = intake_store_execb(
			c, r,
			"INSERT INTO h5_sessions (certify_id, token_hash, token_enc, "
			"url_type, url_style, expires_at) VALUES ($1, $2, $3, $4, "
			"$5, now() + make_interval(secs => $6::bigint))",
			6, p, len, fmt, NULL);
	}
	crypto_wipe(raw, sizeof(raw));
	crypto_wipe(b64, sizeof(b64));
	free(sealed);
	return rc;
}

static int enqueue(PGconn *c, struct intake_req *r, const char *topic, const char *key,
		   const uint8_t *buf, size_t len, const char *message_id)
{
	return outbox_enqueue(c, INTAKE_SOURCE, topic, key, strlen(key), buf, len, message_id,
			      r->log_err, sizeof(r->log_err));
}

static int emit(PGconn *c, struct intake_req *r, struct init_state *st, const char *vid)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	struct envelope_buf eb;
	uint8_t *buf = NULL;
	int product = intake_valid_product_value(st->q.product_code);
	int rc = 0;
	if (st->q.needs_authority) {
		Shiren__V1__VerifyRequested m = SHIREN__V1__VERIFY_REQUESTED__INIT;
		if ((rc = envelope_new(&env, &eb, r->tenant_id, r->request_id, INTAKE_SOURCE)) < 0)
			return rc;
		m.envelope = &env;
		m.certify_id = st->certify_id;
		m.product = (Shiren__V1__Product)product;
		m.scene_id = st->q.scene_id;
		m.verification_id = strtoll(vid, NULL, 10);
		size_t len = shiren__v1__verify_requested__get_packed_size(&m);
		if (!(buf = malloc(len)))
			return -ENOMEM;
		shiren__v1__verify_requested__pack(&m, buf);
		rc = enqueue(c, r, TOPIC_VERIFY_REQUESTED, st->certify_id, buf, len, eb.message_id);
		free(buf);
		if (rc < 0)
			return rc;
	}
	/* Not billable: billing follows the result (SubCode 200-206, liveness). This records the
	 * call for reconciliation (metering counts it as seen). */
	Shiren__V1__UsageEvent u = SHIREN__V1__USAGE_EVENT__INIT;
	char event_id[INTAKE_CERTIFY_ID_LEN + 32];
	if ((rc = envelope_new(&env, &eb, r->tenant_id, r->request_id, INTAKE_SOURCE)) < 0)
		return rc;
	snprintf(event_id, sizeof(event_id), "%s:InitFaceVerify", st->certify_id);
	u.envelope = &env;
	u.event_id = event_id;
	u.certify_id = st->certify_id;
	u.action = "InitFaceVerify";
	u.product = (Shiren__V1__Product)product;
	u.scene_id = st->q.scene_id;
	u.quantity = 1;
	u.billable = false;
	u.sub_code = 0;
	u.occurred_at_ms = envelope_now_ms();
	size_t len = shiren__v1__usage_event__get_packed_size(&u);
	if (!(buf = malloc(len)))
		return -ENOMEM;
	shiren__v1__usage_event__pack(&u, buf);
	rc = enqueue(c, r, TOPIC_USAGE, r->tenant_id, buf, len, eb.message_id);
	free(buf);
	return rc;
}

static int init_body(PGconn *c, struct intake_req *r, void *arg)
{
	struct init_state *st = arg;
	char model[32], vid[24];
	/* Here, on the worker: it hashes the whole request, picture included. */
	int rc = intake_valid_init_fingerprint(&r->params, r->srv->k_fingerprint, st->fingerprint);
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "fingerprint: %s", strerror(-rc));
		return rc;
	}
	rc = scene_check(c, r, st, model, sizeof(model));
	if (rc != 0)
		return rc;
	rc = insert_verification(c, r, st, model, vid, sizeof(vid));
	if (rc != 0)
		return rc;
	if (!vid[0])
		return existing(c, r, st);
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", st->certify_id);
	if ((rc = blocked_check(c, r, st)) != 0)
		return rc;
	if (st->q.ref_kind == INTAKE_REF_CERTIFY_ID)
		rc = reference_by_certify_id(c, r, st, vid);
	else if (st->img)
		rc = store_photo(c, r, st, vid);
	if (rc == 0 && st->q.certify_url_type)
		rc = store_session(c, r, st);
	if (rc == 0)
		rc = emit(c, r, st, vid);
	return rc;
}

static int tx_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, init_body, r->state);
}

/* ---- loop side ---- */

static void reply(struct intake_req *r)
{
	struct init_state *st = r->state;
	char buf[1024], url[768] = "";
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->out_certify_id);
	if (st->token[0]) {
		const char *base = r->srv->public_url;
		if (strcmp(st->url_style, "L") == 0)
			snprintf(url, sizeof(url), "%s/h5/verify?certifyId=%s&token=%s", base,
				 st->out_certify_id, st->token);
		else
			snprintf(url, sizeof(url), "%s/h5/%s", base, st->token);
	}
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key_str(&w, "CertifyId", st->out_certify_id);
	if (url[0])
		json_key_str(&w, "CertifyUrl", url);
	json_obj_end(&w);
	intake_reply_ok(r, buf, json_writer_len(&w));
}

static void tx_done(struct intake_req *r, int rc)
{
	struct init_state *st = r->state;
	if (rc == 0) {
		reply(r);
	} else if (rc == BIZ_REFUSED) {
		r->certify_id[0] = '\0'; /* nothing was created */
		intake_reply_biz(r, &st->biz);
	} else if (rc == -EALREADY)
		intake_reply_gateway(r, INTAKE_ERR_SIGNATURE_NONCE_USED, NULL, NULL);
	else
		intake_reply_failure(r, rc);
}

static void image_done(struct intake_req *r, int rc)
{
	struct init_state *st = r->state;
	if (rc == BIZ_REFUSED) {
		r->certify_id[0] = '\0';
		intake_reply_biz(r, &st->biz);
	} else if (rc < 0) {
		intake_reply_failure(r, rc);
	} else {
		(void)intake_req_pg(r, tx_work, tx_done);
	}
}

void intake_init_handle(struct intake_req *r)
{
	struct intake *s = r->srv;
	struct init_state *st = calloc(1, sizeof(*st));
	if (!st) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	r->state = st;
	r->state_free = state_free;
	struct intake_valid_opts o = {.callback_allow_http = s->cfg->callback_allow_http};
	if (intake_valid_init(&r->params, time(NULL), &o, &st->q, &st->biz) < 0) {
		intake_reply_biz(r, &st->biz);
		return;
	}
	random_hex(st->certify_id, INTAKE_CERTIFY_ID_LEN / 2);
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->certify_id);
	if (st->q.ref_kind == INTAKE_REF_INLINE || st->q.ref_kind == INTAKE_REF_URL)
		(void)intake_req_work(r, image_work, image_done);
	else
		(void)intake_req_pg(r, tx_work, tx_done);
}
