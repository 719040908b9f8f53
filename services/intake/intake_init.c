/* intake_init — InitFaceVerify: validate, obtain the reference photo (inline Base64, a URL
 * downloaded on the worker pool, or an earlier passed CertifyId), then in one transaction claim
 * the nonce, check the scene, insert the verification idempotently on (tenant, OuterOrderNo),
 * check the metering block, store the photo and the H5 session (sealed), and enqueue
 * VerifyRequested (products compared with the authority photo) and a UsageEvent. */
#include <errno.h>
#include <stddef.h>
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
	struct intake_batch_item item;
	struct intake_init_req q;
	uint8_t fingerprint[32];
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	uint8_t *img; /* reference image bytes (inline or downloaded) */
	size_t img_len;
	struct intake_image_info info;
	struct intake_biz biz;
	/* batched path, between its phases */
	char vid[24];	   /* the new verification's id */
	char photo_id[24]; /* the reference photo's id, "" without one */
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

/* The scene is missing (`product` NULL) or runs another product. */
/* A business refusal found by a shared check (intake_store.c). */
static int refused(struct init_state *st, const struct intake_biz *b)
{
	st->biz = *b;
	return BIZ_REFUSED;
}

static int scene_refusal(struct init_state *st, const char *product)
{
	intake_biz_scene(&st->biz, st->q.scene_id, product, st->q.product_code);
	return BIZ_REFUSED;
}

static int scene_check(PGconn *c, struct intake_req *r, struct init_state *st, char *model,
		       size_t model_cap)
{
	struct intake_biz b;
	int rc = intake_store_scene(c, r, st->q.scene_id, st->q.product_code, st->q.model, model,
				    model_cap, &b);
	return rc > 0 ? refused(st, &b) : rc;
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

/* The verification row's inputs that are computed on the worker: sealed personal data, the
 * CertNo lookup hash, the options document. */
struct sealed_inputs {
	uint8_t *name_enc, *no_enc, *pii_enc;
	size_t name_len, no_len, pii_len;
	uint8_t no_hash[32];
	bool has_no_hash;
	char options[OPTIONS_JSON_SIZE];
};

static void sealed_done(struct sealed_inputs *si)
{
	free(si->name_enc);
	free(si->no_enc);
	free(si->pii_enc);
	crypto_wipe(si->no_hash, sizeof(si->no_hash));
	si->name_enc = si->no_enc = si->pii_enc = NULL;
}

static int seal_inputs(struct intake_req *r, struct init_state *st, struct sealed_inputs *si)
{
	const struct intake_init_req *q = &st->q;
	char *pii = pii_json(&r->params);
	int rc = pii ? 0 : -ENOMEM;
	memset(si, 0, offsetof(struct sealed_inputs, options));
	if (rc == 0)
		rc = intake_store_seal_field(r, st->certify_id, "cert_name", q->cert_name,
					     &si->name_enc, &si->name_len);
	if (rc == 0)
		rc = intake_store_seal_field(r, st->certify_id, "cert_no", q->cert_no, &si->no_enc,
					     &si->no_len);
	if (rc == 0)
		rc = intake_store_seal_field(r, st->certify_id, "pii", pii, &si->pii_enc,
					     &si->pii_len);
	if (rc == 0 && q->cert_no) {
		rc = intake_store_cert_hash(r->srv, q->cert_type, q->cert_no, si->no_hash);
		si->has_no_hash = rc == 0;
	}
	if (pii) {
		crypto_wipe(pii, strlen(pii));
		free(pii);
	}
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "sealing personal data: %s",
			 strerror(-rc));
		sealed_done(si);
		return rc;
	}
	options_json(&r->params, si->options, sizeof(si->options));
	return 0;
}

static const char *const ref_kinds[] = {NULL, "inline", "url", "certify_id", NULL};

static int insert_verification(PGconn *c, struct intake_req *r, struct init_state *st,
			       const char *model, char *ret_id, size_t id_cap)
{
	const struct intake_init_req *q = &st->q;
	struct sealed_inputs si;
	char scene[24];
	PGresult *res = NULL;
	int rc = seal_inputs(r, st, &si);
	if (rc < 0)
		return rc;
	snprintf(scene, sizeof(scene), "%lld", (long long)q->scene_id);
	const char *p[18] = {st->certify_id,
			     r->tenant_id,
			     scene,
			     q->outer_order_no,
			     (const char *)st->fingerprint,
			     q->product_code,
			     model,
			     q->cert_name || q->cert_no ? q->cert_type : NULL,
			     (const char *)si.name_enc,
			     (const char *)si.no_enc,
			     si.has_no_hash ? (const char *)si.no_hash : NULL,
			     (const char *)si.pii_enc,
			     si.options,
			     q->callback_url,
			     q->callback_token,
			     q->return_url,
			     ref_kinds[q->ref_kind],
			     "InitFaceVerify"};
	int len[18] = {
		0, 0, 0, 0, 32, 0, 0, 0, (int)si.name_len, (int)si.no_len, 32, (int)si.pii_len};
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
	PQclear(res);
	sealed_done(&si);
	return rc;
}

/* A retry of an earlier request: its CertifyId, and the CertifyUrl token from its sealed
 * copy `token_hex` (bytea text, NULL when the first request asked for no URL). */
static int reuse(struct intake_req *r, struct init_state *st, const char *certify_id,
		 const char *token_hex, const char *url_style)
{
	uint8_t *tok_enc = NULL, *tok = NULL;
	size_t tok_enc_len = 0, tok_len = 0;
	char aad[64];
	int rc = 0;
	st->reused = true;
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", certify_id);
	if (!token_hex)
		return 0;
	snprintf(aad, sizeof(aad), "h5_sessions:%s", st->out_certify_id);
	rc = intake_store_bytea(token_hex, &tok_enc, &tok_enc_len);
	if (rc == 0)
		rc = intake_store_open(r->srv, aad, tok_enc, tok_enc_len, &tok, &tok_len);
	if (rc < 0 || tok_len != TOKEN_LEN) {
		snprintf(r->log_err, sizeof(r->log_err), "h5 token of %s does not open",
			 st->out_certify_id);
		rc = rc < 0 ? rc : -EBADMSG;
	} else {
		memcpy(st->token, tok, TOKEN_LEN + 1);
		snprintf(st->url_style, sizeof(st->url_style), "%s", url_style);
	}
	if (tok) {
		crypto_wipe(tok, tok_len);
		free(tok);
	}
	free(tok_enc);
	return rc;
}

static int conflict(struct init_state *st, const char *certify_id)
{
	intake_biz_order_conflict(&st->biz, st->q.outer_order_no, certify_id);
	return BIZ_REFUSED;
}

/* The OuterOrderNo is taken: the same request again (same fingerprint) gets the first answer,
 * another request is refused. */
static int existing(PGconn *c, struct intake_req *r, struct init_state *st)
{
	PGresult *res = NULL;
	const char *p[2] = {r->tenant_id, st->q.outer_order_no};
	int rc = intake_store_exec(c, r,
				   "SELECT v.certify_id, v.request_hash, h.token_enc, h.url_style "
				   "FROM verifications v "
				   "LEFT JOIN h5_sessions h ON h.certify_id = v.certify_id "
				   "WHERE v.tenant_id = $1::uuid AND v.outer_order_no = $2",
				   2, p, &res);
	if (rc == 0)
		rc = intake_store_same_request(r, res, 1, st->fingerprint, st->q.outer_order_no,
					       &st->biz);
	if (rc > 0)
		rc = BIZ_REFUSED;
	else if (rc == 0)
		rc = reuse(r, st, PQgetvalue(res, 0, 0),
			   PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
			   PQgetvalue(res, 0, 3));
	PQclear(res);
	return rc;
}

static int blocked(struct init_state *st)
{
	intake_biz_blocked(&st->biz, st->q.product_code);
	return BIZ_REFUSED;
}

static int blocked_check(PGconn *c, struct intake_req *r, struct init_state *st)
{
	struct intake_biz b;
	int rc = intake_store_blocked(c, r, st->q.product_code, &b);
	return rc > 0 ? refused(st, &b) : rc;
}

static int reference_by_certify_id(PGconn *c, struct intake_req *r, struct init_state *st,
				   const char *vid)
{
	struct intake_biz b;
	int64_t id = 0;
	int rc = intake_store_passed_photo(c, r, st->q.ref_certify_id, "reference", &id, &b);
	if (rc > 0)
		return refused(st, &b);
	if (rc < 0)
		return rc;
	char idt[24];
	snprintf(idt, sizeof(idt), "%lld", (long long)id);
	const char *u[2] = {idt, vid};
	return intake_store_exec(c, r, "UPDATE verifications SET ref_photo_id = $1 WHERE id = $2",
				 2, u, NULL);
}

/* The reference photo as stored in row `id`: sealed (AAD photos:<id>), its SHA-256 and the
 * text parameters of the row ($3..$7 of the photo INSERT). */
struct photo_row {
	uint8_t *sealed;
	size_t sealed_len;
	uint8_t sha[32];
	char w[12], h[12], size[24];
};

static int photo_prepare(struct intake_req *r, struct init_state *st, const char *id,
			 struct photo_row *ret)
{
	char aad[48];
	snprintf(aad, sizeof(aad), "photos:%s", id);
	int rc = intake_store_seal(r->srv, aad, st->img, st->img_len, &ret->sealed,
				   &ret->sealed_len);
	if (rc == 0)
		rc = crypto_hash(CRYPTO_HASH_SHA256, st->img, st->img_len, ret->sha);
	snprintf(ret->w, sizeof(ret->w), "%u", st->info.width);
	snprintf(ret->h, sizeof(ret->h), "%u", st->info.height);
	snprintf(ret->size, sizeof(ret->size), "%zu", st->img_len);
	return rc;
}

/* Parameters $1..$9 of the photo INSERT (id, verification id, then the row). */
static void photo_params(const struct init_state *st, const struct photo_row *ph, const char *id,
			 const char *vid, const char *p[9], int len[9], int fmt[9])
{
	const char *v[9] = {id,
			    vid,
			    st->q.ref_kind == INTAKE_REF_INLINE ? "inline" : "url",
			    st->info.mime,
			    ph->w,
			    ph->h,
			    ph->size,
			    (const char *)ph->sha,
			    (const char *)ph->sealed};
	for (int i = 0; i < 9; i++) {
		p[i] = v[i];
		len[i] = i == 7 ? 32 : i == 8 ? (int)ph->sealed_len : 0;
		fmt[i] = i >= 7;
	}
}

#define SQL_PHOTO_INSERT                                                               \
	"INSERT INTO photos (id, verification_id, kind, source, mime, width, height, " \
	"size_bytes, sha256, data_enc) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, "   \
	"$2::bigint, 'reference', $3, $4, $5::int, $6::int, $7::int, $8, $9)"

static int store_photo(PGconn *c, struct intake_req *r, struct init_state *st, const char *vid)
{
	PGresult *res = NULL;
	struct photo_row ph = {0};
	char id[24];
	const char *p[9];
	int len[9], fmt[9];
	int rc = intake_store_exec(c, r, "SELECT nextval(pg_get_serial_sequence('photos', 'id'))",
				   0, NULL, &res);
	if (rc < 0)
		goto out;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	if ((rc = photo_prepare(r, st, id, &ph)) < 0)
		goto out;
	photo_params(st, &ph, id, vid, p, len, fmt);
	rc = intake_store_execb(c, r, SQL_PHOTO_INSERT, 9, p, len, fmt, NULL);
	if (rc == 0) {
		const char *u[2] = {id, vid};
		rc = intake_store_exec(c, r,
				       "UPDATE verifications SET ref_photo_id = $1::bigint WHERE "
				       "id = $2::bigint",
				       2, u, NULL);
	}
out:
	PQclear(res);
	free(ph.sealed);
	return rc;
}

/* A new CertifyUrl token into st->token (and its style), with what the h5_sessions row keeps:
 * the token's SHA-256 and its sealed copy (heap, *ret_sealed). */
static int session_prepare(struct intake_req *r, struct init_state *st, uint8_t hash[32],
			   uint8_t **ret_sealed, size_t *ret_len)
{
	uint8_t raw[TOKEN_BYTES];
	char b64[64], aad[64]; /* 45 bytes of Base64 for 32 */
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
		rc = intake_store_seal(r->srv, aad, st->token, k, ret_sealed, ret_len);
	crypto_wipe(raw, sizeof(raw));
	crypto_wipe(b64, sizeof(b64));
	return rc;
}

static int store_session(PGconn *c, struct intake_req *r, struct init_state *st)
{
	uint8_t hash[32], *sealed = NULL;
	size_t sealed_len = 0;
	char ttl[24];
	int rc = session_prepare(r, st, hash, &sealed, &sealed_len);
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
	free(sealed);
	return rc;
}

/* The messages an InitFaceVerify causes (packed, heap payloads). */
struct init_msg {
	const char *topic;
	const char *key; /* points into the state or the request */
	uint8_t *buf;
	size_t len;
	char message_id[37];
};

static void msgs_done(struct init_msg *m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i].buf);
}

/* VerifyRequested (products compared with the authority photo) and the UsageEvent; *ret_n
 * of them in m[]. */
static int msgs_build(struct intake_req *r, struct init_state *st, const char *vid,
		      struct init_msg m[2], int *ret_n)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	struct envelope_buf eb;
	int product = intake_valid_product_value(st->q.product_code);
	int rc = 0, n = 0;
	*ret_n = 0;
	if (st->q.needs_authority) {
		Shiren__V1__VerifyRequested v = SHIREN__V1__VERIFY_REQUESTED__INIT;
		if ((rc = envelope_new(&env, &eb, r->tenant_id, r->request_id, INTAKE_SOURCE)) < 0)
			return rc;
		v.envelope = &env;
		v.certify_id = st->certify_id;
		v.product = (Shiren__V1__Product)product;
		v.scene_id = st->q.scene_id;
		v.verification_id = strtoll(vid, NULL, 10);
		m[n] = (struct init_msg){.topic = TOPIC_VERIFY_REQUESTED, .key = st->certify_id};
		m[n].len = shiren__v1__verify_requested__get_packed_size(&v);
		if (!(m[n].buf = malloc(m[n].len)))
			return -ENOMEM;
		shiren__v1__verify_requested__pack(&v, m[n].buf);
		memcpy(m[n].message_id, eb.message_id, sizeof(m[n].message_id));
		*ret_n = ++n;
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
	m[n] = (struct init_msg){.topic = TOPIC_USAGE, .key = r->tenant_id};
	m[n].len = shiren__v1__usage_event__get_packed_size(&u);
	if (!(m[n].buf = malloc(m[n].len)))
		return -ENOMEM;
	shiren__v1__usage_event__pack(&u, m[n].buf);
	memcpy(m[n].message_id, eb.message_id, sizeof(m[n].message_id));
	*ret_n = ++n;
	return 0;
}

static int emit(PGconn *c, struct intake_req *r, struct init_state *st, const char *vid)
{
	struct init_msg m[2];
	int n = 0;
	int rc = msgs_build(r, st, vid, m, &n);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = outbox_enqueue(c, INTAKE_SOURCE, m[i].topic, m[i].key, strlen(m[i].key),
				    m[i].buf, m[i].len, m[i].message_id, r->log_err,
				    sizeof(r->log_err));
	msgs_done(m, n);
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

/* ---- the batched path ----
 * Phase one, one statement for the batch's InitFaceVerify requests: for each, the scene, an
 * earlier verification with the same OuterOrderNo (and its H5 token), the metering block;
 * then, only for the requests whose answer is a CertifyId, the nonce claim, and only for a
 * claimed new order the verification and its H5 session. A refused request writes nothing, as
 * the rolled-back transaction of the step-by-step path; the decision order is that path's
 * (nonce, scene, product, OuterOrderNo, block). A photo id is drawn for a new verification
 * with a reference photo. Phase two, for the new verifications: the outbox rows (they carry
 * the verification id) and the photos. An OuterOrderNo inserted concurrently by another
 * transaction makes the verification INSERT fail on the unique key: the batch then falls back
 * to the step-by-step path, which waits for it and answers as a retry. */
static const struct intake_stmt STMT_INIT = {
	"intake_init",
	"WITH q AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], "
	"$5::bigint[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[], "
	"$12::bytea[], $13::bytea[], $14::bytea[], $15::bytea[], $16::jsonb[], $17::text[], "
	"$18::text[], $19::text[], $20::text[], $21::smallint[], $22::bytea[], $23::bytea[], "
	"$24::text[], $25::text[], $26::boolean[]) WITH ORDINALITY AS q(akid, nonce, ts, tenant, "
	"scene, product_code, model, ord, fp, cid, cert_type, name_enc, no_enc, no_hash, pii_enc, "
	"options, callback_url, callback_token, return_url, ref_kind, product, token_hash, "
	"token_enc, url_type, url_style, want_photo, i)), "
	"r AS (SELECT q.*, sc.product_code AS scene_product, sc.model AS scene_model, "
	"ex.certify_id AS ex_cid, ex.request_hash = q.fp AS ex_same, h.token_enc AS ex_token, "
	"h.url_style AS ex_style, EXISTS (SELECT 1 FROM metering_blocked b WHERE "
	"b.tenant_id = q.tenant AND b.product = q.product) AS blocked FROM q "
	"LEFT JOIN scenes sc ON sc.id = q.scene AND sc.tenant_id = q.tenant "
	"LEFT JOIN verifications ex ON ex.tenant_id = q.tenant AND ex.outer_order_no = q.ord "
	"LEFT JOIN h5_sessions h ON h.certify_id = ex.certify_id), "
	"g AS (SELECT * FROM r WHERE scene_product = product_code AND CASE WHEN ex_cid IS NOT "
	"NULL THEN ex_same ELSE NOT blocked END), "
	"n AS (INSERT INTO intake_nonces (access_key_id, nonce, expires_at) SELECT akid, nonce, "
	"to_timestamp(ts) + make_interval(secs => $27::int) FROM g ON CONFLICT DO NOTHING "
	"RETURNING access_key_id, nonce), "
	"v AS (INSERT INTO verifications (certify_id, tenant_id, scene_id, outer_order_no, "
	"request_hash, product_code, model, cert_type, cert_name_enc, cert_no_enc, cert_no_hash, "
	"pii_enc, options, callback_url, callback_token, return_url, ref_kind, action) "
	"SELECT g.cid, g.tenant, g.scene, g.ord, g.fp, g.product_code, "
	"coalesce(g.model, g.scene_model), g.cert_type, g.name_enc, g.no_enc, g.no_hash, "
	"g.pii_enc, g.options, g.callback_url, g.callback_token, g.return_url, g.ref_kind, "
	"'InitFaceVerify' FROM g JOIN n ON n.access_key_id = g.akid AND n.nonce = g.nonce "
	"WHERE g.ex_cid IS NULL ORDER BY g.i RETURNING id, certify_id), "
	"h5 AS (INSERT INTO h5_sessions (certify_id, token_hash, token_enc, url_type, url_style, "
	"expires_at) SELECT g.cid, g.token_hash, g.token_enc, g.url_type, g.url_style, "
	"now() + make_interval(secs => $28::bigint) FROM g JOIN v ON v.certify_id = g.cid "
	"WHERE g.token_hash IS NOT NULL) "
	"SELECT EXISTS (SELECT 1 FROM n WHERE n.access_key_id = r.akid AND n.nonce = r.nonce), "
	"CASE WHEN v.id IS NOT NULL THEN false ELSE EXISTS (SELECT 1 FROM intake_nonces x WHERE "
	"x.access_key_id = r.akid AND x.nonce = r.nonce) END, r.scene_product, r.blocked, v.id, "
	"r.ex_cid, r.ex_same, r.ex_token, r.ex_style, CASE WHEN v.id IS NOT NULL AND "
	"r.want_photo THEN nextval(pg_get_serial_sequence('photos', 'id')) END "
	"FROM r LEFT JOIN v ON v.certify_id = r.cid ORDER BY r.i"};
enum {
	I_CLAIMED,
	I_NONCE_SEEN,
	I_SCENE_PRODUCT,
	I_BLOCKED,
	I_VID,
	I_EX_CID,
	I_EX_SAME,
	I_EX_TOKEN,
	I_EX_STYLE,
	I_PHOTO_ID,
	I_COLS
};
#define INIT_ARRAYS 26

static const struct intake_stmt STMT_OUTBOX = {"intake_outbox", OUTBOX_INSERT_MANY_SQL};
static const struct intake_stmt STMT_PHOTO = {
	"intake_init_photo",
	"WITH p AS (" SQL_PHOTO_INSERT " RETURNING id) UPDATE verifications SET ref_photo_id = "
	"(SELECT id FROM p) WHERE id = $2::bigint"};

static const struct intake_stmt *const init_stmts[] = {&STMT_INIT, &STMT_OUTBOX, &STMT_PHOTO, NULL};

/* Appends request `r`'s row to the phase-one arrays (sealing and hashing on the way). */
static int init_row(struct intake_req *r, struct intake_arr *a, char *keep)
{
	struct init_state *st = r->state;
	const struct intake_init_req *q = &st->q;
	struct sealed_inputs si;
	uint8_t token_hash[32], *token_enc = NULL;
	size_t token_len = 0;
	char ts[24], num[24];
	const char *np[4];
	int rc = intake_valid_init_fingerprint(&r->params, r->srv->k_fingerprint, st->fingerprint);
	if (rc < 0) {
		snprintf(r->log_err, sizeof(r->log_err), "fingerprint: %s", strerror(-rc));
		return rc;
	}
	if ((rc = seal_inputs(r, st, &si)) < 0)
		return rc;
	st->token[0] = '\0';
	if (q->certify_url_type &&
	    (rc = session_prepare(r, st, token_hash, &token_enc, &token_len)) < 0) {
		sealed_done(&si);
		return rc;
	}
	intake_store_nonce_params(r, ts, keep, np);
	intake_arr_text(&a[0], np[0]);
	intake_arr_text(&a[1], np[1]);
	intake_arr_text(&a[2], np[2]);
	intake_arr_text(&a[3], r->tenant_id);
	intake_arr_int(&a[4], q->scene_id);
	intake_arr_text(&a[5], q->product_code);
	intake_arr_text(&a[6], q->model);
	intake_arr_text(&a[7], q->outer_order_no);
	intake_arr_bytea(&a[8], st->fingerprint, 32);
	intake_arr_text(&a[9], st->certify_id);
	intake_arr_text(&a[10], q->cert_name || q->cert_no ? q->cert_type : NULL);
	intake_arr_bytea(&a[11], si.name_enc, si.name_len);
	intake_arr_bytea(&a[12], si.no_enc, si.no_len);
	intake_arr_bytea(&a[13], si.has_no_hash ? si.no_hash : NULL, 32);
	intake_arr_bytea(&a[14], si.pii_enc, si.pii_len);
	intake_arr_text(&a[15], si.options);
	intake_arr_text(&a[16], q->callback_url);
	intake_arr_text(&a[17], q->callback_token);
	intake_arr_text(&a[18], q->return_url);
	intake_arr_text(&a[19], ref_kinds[q->ref_kind]);
	snprintf(num, sizeof(num), "%d", intake_valid_product_value(q->product_code));
	intake_arr_text(&a[20], num);
	intake_arr_bytea(&a[21], token_enc ? token_hash : NULL, 32);
	intake_arr_bytea(&a[22], token_enc, token_len);
	intake_arr_text(&a[23], token_enc ? q->certify_url_type : NULL);
	intake_arr_text(&a[24], token_enc ? q->certify_url_style : NULL);
	intake_arr_text(&a[25], st->img ? "t" : "f");
	free(token_enc);
	sealed_done(&si);
	return 0;
}

static int init_send(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen)
{
	struct intake_arr a[INIT_ARRAYS];
	const char *p[INIT_ARRAYS + 2];
	char keep[16] = "", ttl[24];
	int rc = 0;
	for (int k = 0; k < INIT_ARRAYS; k++)
		intake_arr_init(&a[k]);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((rc = init_row(it[i]->r, a, keep)) < 0)
			snprintf(err, errlen, "%s", it[i]->r->log_err);
	for (int k = 0; rc == 0 && k < INIT_ARRAYS; k++)
		if (!(p[k] = intake_arr_end(&a[k]))) {
			snprintf(err, errlen, "init: arrays over their cap or out of memory");
			rc = -ENOMEM;
		}
	snprintf(ttl, sizeof(ttl), "%lld", (long long)it[0]->r->srv->cfg->certify_url_ttl_s);
	p[INIT_ARRAYS] = keep;
	p[INIT_ARRAYS + 1] = ttl;
	if (rc == 0)
		rc = intake_store_send(c, &STMT_INIT, INIT_ARRAYS + 2, p, NULL, NULL, err, errlen);
	for (int k = 0; k < INIT_ARRAYS; k++) {
		if (a[k].buf)
			crypto_wipe(a[k].buf, a[k].cap);
		intake_arr_free(&a[k]);
	}
	return rc < 0 ? rc : 1;
}

static bool col_true(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* One request's answer from its phase-one row (the step-by-step path's decision order). */
static int init_decide(struct intake_req *r, const PGresult *v, int row, bool *ret_more)
{
	struct init_state *st = r->state;
	bool claimed = col_true(v, row, I_CLAIMED);
	*ret_more = false;
	if (col_true(v, row, I_NONCE_SEEN))
		return -EALREADY;
	if (PQgetisnull(v, row, I_SCENE_PRODUCT) ||
	    strcmp(PQgetvalue(v, row, I_SCENE_PRODUCT), st->q.product_code) != 0)
		return scene_refusal(st, PQgetisnull(v, row, I_SCENE_PRODUCT)
						 ? NULL
						 : PQgetvalue(v, row, I_SCENE_PRODUCT));
	if (!PQgetisnull(v, row, I_EX_CID)) {
		if (!col_true(v, row, I_EX_SAME))
			return conflict(st, PQgetvalue(v, row, I_EX_CID));
		if (!claimed)
			return -EALREADY;
		st->token[0] = '\0';
		return reuse(r, st, PQgetvalue(v, row, I_EX_CID),
			     PQgetisnull(v, row, I_EX_TOKEN) ? NULL
							     : PQgetvalue(v, row, I_EX_TOKEN),
			     PQgetvalue(v, row, I_EX_STYLE));
	}
	if (col_true(v, row, I_BLOCKED))
		return blocked(st);
	if (!claimed || PQgetisnull(v, row, I_VID))
		return -EALREADY;
	snprintf(st->vid, sizeof(st->vid), "%s", PQgetvalue(v, row, I_VID));
	snprintf(st->photo_id, sizeof(st->photo_id), "%s",
		 PQgetisnull(v, row, I_PHOTO_ID) ? "" : PQgetvalue(v, row, I_PHOTO_ID));
	snprintf(st->out_certify_id, sizeof(st->out_certify_id), "%s", st->certify_id);
	*ret_more = true;
	return 0;
}

static int init_recv(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen)
{
	PGresult *v = NULL;
	int rc = intake_store_result(c, &v, err, errlen);
	if (rc < 0)
		return rc;
	if ((size_t)PQntuples(v) != n || PQnfields(v) != I_COLS) {
		snprintf(err, errlen, "init: %d rows for %zu requests", PQntuples(v), n);
		PQclear(v);
		return -EPROTO;
	}
	for (size_t i = 0; i < n && rc >= 0; i++) {
		it[i]->rc = init_decide(it[i]->r, v, (int)i, &it[i]->more);
		if (it[i]->rc < 0 && it[i]->rc != -EALREADY) {
			rc = it[i]->rc;
			snprintf(err, errlen, "%s", it[i]->r->log_err);
		}
	}
	PQclear(v);
	return rc < 0 ? rc : 0;
}

/* Outbox rows of every new verification (one statement), then each one's photo. */
static int init_send2(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen)
{
	struct intake_arr a[5];
	const char *p[9];
	int rc = 0, sent = 0;
	for (int k = 0; k < 5; k++)
		intake_arr_init(&a[k]);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct intake_req *r = it[i]->r;
		struct init_state *st = r->state;
		struct init_msg m[2];
		int nm = 0;
		if ((rc = msgs_build(r, st, st->vid, m, &nm)) < 0)
			snprintf(err, errlen, "messages: %s", strerror(-rc));
		for (int k = 0; k < nm; k++) {
			intake_arr_text(&a[0], INTAKE_SOURCE);
			intake_arr_text(&a[1], m[k].topic);
			intake_arr_bytea(&a[2], m[k].key, strlen(m[k].key));
			intake_arr_bytea(&a[3], m[k].buf, m[k].len);
			intake_arr_text(&a[4], m[k].message_id);
		}
		msgs_done(m, nm);
	}
	for (int k = 0; rc == 0 && k < 5; k++)
		if (!(p[k] = intake_arr_end(&a[k]))) {
			snprintf(err, errlen, "outbox: arrays over their cap or out of memory");
			rc = -ENOMEM;
		}
	if (rc == 0 &&
	    (rc = intake_store_send(c, &STMT_OUTBOX, 5, p, NULL, NULL, err, errlen)) == 0)
		sent++;
	for (int k = 0; k < 5; k++)
		intake_arr_free(&a[k]);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct intake_req *r = it[i]->r;
		struct init_state *st = r->state;
		struct photo_row ph = {0};
		int len[9], fmt[9];
		if (!st->photo_id[0])
			continue;
		rc = photo_prepare(r, st, st->photo_id, &ph);
		if (rc == 0) {
			photo_params(st, &ph, st->photo_id, st->vid, p, len, fmt);
			rc = intake_store_send(c, &STMT_PHOTO, 9, p, len, fmt, err, errlen);
		}
		free(ph.sealed);
		sent += rc == 0;
	}
	return rc < 0 ? rc : sent;
}

static int init_recv2(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = intake_store_result(c, &res, err, errlen); /* the outbox rows */
	PQclear(res);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct init_state *st = it[i]->r->state;
		if (st->photo_id[0]) {
			rc = intake_store_result(c, &res, err, errlen);
			PQclear(res);
		}
		it[i]->rc = 0;
	}
	return rc;
}

static int init_slow(PGconn *c, struct intake_req *r)
{
	struct init_state *st = r->state;
	st->reused = false;
	st->token[0] = st->url_style[0] = st->out_certify_id[0] = '\0';
	st->vid[0] = st->photo_id[0] = '\0';
	return tx_work(c, r);
}

/* The same OuterOrderNo of the same tenant: one verification row, so not in one statement. */
static bool init_clash(const struct intake_req *a, const struct intake_req *b)
{
	const struct init_state *x = a->state, *y = b->state;
	return strcmp(x->q.outer_order_no, y->q.outer_order_no) == 0 &&
	       strcmp(a->tenant_id, b->tenant_id) == 0;
}

static const struct intake_batch_ops init_ops = {
	.stmts = init_stmts,
	.send = init_send,
	.recv = init_recv,
	.send2 = init_send2,
	.recv2 = init_recv2,
	.slow = init_slow,
	.clash = init_clash,
	.notify = true,
};

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
		(void)intake_req_batch(r, &st->item, &init_ops, tx_done);
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
	else if (st->q.ref_kind == INTAKE_REF_CERTIFY_ID) /* rare: the step-by-step path */
		(void)intake_req_pg(r, tx_work, tx_done);
	else
		(void)intake_req_batch(r, &st->item, &init_ops, tx_done);
}
