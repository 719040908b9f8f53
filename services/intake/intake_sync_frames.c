/* intake_sync_frames — the H5 capture page's frame upload (docs/api.md §5.7): POST
 * /h5/<token>/frames, multipart/form-data with the frames ("frame" parts, JPEG or PNG) and
 * their capture times ("timestamps": comma-separated ms from the challenge start). The
 * one-time token of the CertifyUrl is claimed, the frames are stored as photos (kind
 * 'frame', sealed) and a LivenessJob "FaceCapture" with the scene's Model and the
 * verification's challenge seed goes to the outbox, in one transaction. The result arrives
 * later like any other (DescribeFaceVerify). Bounded: frame count, bytes and sides. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/envelope.h"
#include "common/json.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "intake/intake_image.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"
#include "intake/intake_sync_form.h"
#include "shiren/v1/verify.pb-c.h"

#define TOKEN_LEN      43 /* Base64url of 32 bytes (intake_init.c) */
#define MIN_FRAME_SIDE 64
#define MAX_T_MS       120000
#define REFUSED	       1

struct frame {
	const uint8_t *data; /* into the request body */
	size_t len;
	int64_t t_ms;
	struct intake_image_info info;
	int64_t photo_id;
};

struct frames_state {
	char token[TOKEN_LEN + 1];
	struct intake_form_part *parts;
	struct frame *frames;
	int nframes;
	/* refusal */
	int status;
	const char *code;
	char message[320];
	/* the verification */
	char vid[24], tenant[37], product_code[16], model[32];
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1]; /* copied into the request on the loop */
	bool risk;				    /* the session's escalated-challenge decision */
	int64_t scene_id, ref_photo_id;
	bool ref_authority;
};

static void state_free(void *p)
{
	struct frames_state *st = p;
	free(st->parts);
	free(st->frames);
	free(st);
}

__attribute__((format(printf, 4, 5))) static int refuse(struct frames_state *st, int status,
							const char *code, const char *fmt, ...)
{
	va_list ap;
	st->status = status;
	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return REFUSED;
}

static void reply(struct intake_req *r, int status, const char *code, const char *message,
		  const char *certify_id)
{
	char buf[1024];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key_str(&w, "RequestId", r->request_id);
	json_key_str(&w, "Code", code);
	json_key_str(&w, "Message", message);
	if (certify_id)
		json_key_str(&w, "CertifyId", certify_id);
	json_obj_end(&w);
	intake_reply_json(r, status, code, buf, json_writer_len(&w));
}

/* ---- the body (worker pool) ---- */

static const char *header(const struct intake_req *r, const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

/* The "timestamps" part into t[]: the count, or -1 with the refusal in st. */
static int parse_times(struct frames_state *st, const struct intake_form_part *p, int64_t *t,
		       int max)
{
	int n = 0;
	size_t i = 0;
	while (i < p->len) {
		int64_t v = 0;
		size_t d = 0;
		while (i < p->len && p->data[i] >= '0' && p->data[i] <= '9' && d < 7) {
			v = v * 10 + (p->data[i++] - '0');
			d++;
		}
		if (d == 0 || v > MAX_T_MS || n >= max)
			return -refuse(
				st, 400, "InvalidFrames",
				"timestamps must be at most %d comma-separated integers of 0 "
				"to %d ms.",
				max, MAX_T_MS);
		if (n > 0 && v <= t[n - 1])
			return -refuse(st, 400, "InvalidFrames",
				       "timestamps must increase strictly (frame %d).", n);
		t[n++] = v;
		if (i < p->len && p->data[i++] != ',')
			return -refuse(st, 400, "InvalidFrames",
				       "timestamps must be comma-separated integers.");
	}
	return n;
}

static int check_frame(struct frames_state *st, const struct intake_cfg *cfg, struct frame *f,
		       int i)
{
	if (f->len == 0)
		return refuse(st, 400, "InvalidFrames", "frame %d is empty.", i);
	if (f->len > (size_t)cfg->frame_max_bytes)
		return refuse(st, 400, "InvalidFrames", "frame %d is larger than %lld bytes.", i,
			      (long long)cfg->frame_max_bytes);
	int rc = intake_image_probe(f->data, f->len, &f->info);
	if (rc < 0 || !intake_sync_image_complete(f->data, f->len, f->info.type))
		return refuse(st, 400, "InvalidFrames", "frame %d is not a %s image.", i,
			      rc == -EINVAL ? "JPEG or PNG" : "complete JPEG or PNG");
	if (f->info.width < MIN_FRAME_SIDE || f->info.height < MIN_FRAME_SIDE ||
	    f->info.width > (uint32_t)cfg->frame_max_side ||
	    f->info.height > (uint32_t)cfg->frame_max_side)
		return refuse(st, 400, "InvalidFrames",
			      "frame %d is %ux%u pixels; each side must be %d to %lld.", i,
			      f->info.width, f->info.height, MIN_FRAME_SIDE,
			      (long long)cfg->frame_max_side);
	return 0;
}

static int body_work(struct intake_req *r)
{
	struct frames_state *st = r->state;
	const struct intake_cfg *cfg = r->srv->cfg;
	char boundary[INTAKE_FORM_BOUNDARY_MAX + 1];
	const char *why = NULL;
	int max = (int)cfg->frames_max;
	if (intake_form_boundary(header(r, "Content-Type"), boundary) < 0)
		return refuse(st, 415, "UnsupportedMediaType",
			      "Send the frames as multipart/form-data.");
	st->parts = calloc((size_t)max + 4, sizeof(*st->parts));
	st->frames = calloc((size_t)max, sizeof(*st->frames));
	int64_t *t = calloc((size_t)max, sizeof(*t));
	if (!st->parts || !st->frames || !t) {
		free(t);
		return -ENOMEM;
	}
	int rc = 0,
	    nparts = intake_form_parse(r->body, r->body_len, boundary, st->parts, max + 4, &why);
	int nt = -1;
	if (nparts == -E2BIG)
		rc = refuse(st, 400, "InvalidFrames", "More than %d frames.", max);
	else if (nparts < 0)
		rc = refuse(st, 400, "InvalidFrames", "The multipart body is malformed: %s.", why);
	for (int i = 0; rc == 0 && i < nparts; i++) {
		const struct intake_form_part *p = &st->parts[i];
		if (strcmp(p->name, "frame") == 0) {
			if (st->nframes >= max) {
				rc = refuse(st, 400, "InvalidFrames", "More than %d frames.", max);
				break;
			}
			st->frames[st->nframes].data = p->data;
			st->frames[st->nframes++].len = p->len;
		} else if (strcmp(p->name, "timestamps") == 0 && nt < 0) {
			nt = parse_times(st, p, t, max);
			if (nt < 0)
				rc = REFUSED;
		}
	}
	if (rc == 0 && st->nframes == 0)
		rc = refuse(st, 400, "InvalidFrames", "No \"frame\" part.");
	if (rc == 0 && nt != st->nframes)
		rc = refuse(st, 400, "InvalidFrames",
			    "\"timestamps\" must give one time per frame (%d frames).",
			    st->nframes);
	uint64_t pixels = 0;
	for (int i = 0; rc == 0 && i < st->nframes; i++) {
		st->frames[i].t_ms = t[i];
		rc = check_frame(st, cfg, &st->frames[i], i);
		pixels += (uint64_t)st->frames[i].info.width * st->frames[i].info.height;
	}
	if (rc == 0 && pixels > (uint64_t)cfg->frames_max_pixels)
		rc = refuse(st, 400, "InvalidFrames",
			    "The frames hold %llu pixels, more than %lld: send smaller frames.",
			    (unsigned long long)pixels, (long long)cfg->frames_max_pixels);
	free(t);
	return rc;
}

/* ---- the transaction (pool) ---- */

/* Claims the session and decides its risk once: escalated when the same person (the keyed
 * hash of CertType and CertNo) failed at least $2 verifications of this tenant in the last $3
 * seconds ($2 = 0: never). */
static const char SQL_CLAIM[] =
	"UPDATE h5_sessions h SET used_at = now(), risk = coalesce(h.risk, $2::int > 0 AND "
	"v.cert_no_hash IS NOT NULL AND (SELECT count(*) FROM verifications f WHERE "
	"f.tenant_id = v.tenant_id AND f.cert_no_hash = v.cert_no_hash AND f.passed = false "
	"AND f.completed_at > now() - make_interval(secs => $3::int)) >= $2::int) "
	"FROM verifications v WHERE h.token_hash = $1 "
	"AND v.certify_id = h.certify_id AND h.used_at IS NULL AND h.expires_at > now() AND "
	"v.deleted_at IS NULL AND v.status = 'pending' RETURNING v.id, v.certify_id, "
	"v.tenant_id, v.scene_id, v.product_code, v.model, v.ref_photo_id, (SELECT p.id FROM "
	"photos p WHERE p.verification_id = v.id AND p.kind = 'authority' AND p.data_enc IS NOT "
	"NULL ORDER BY p.id DESC LIMIT 1), h.risk";

static const char SQL_WHY[] = "SELECT h.used_at IS NOT NULL, h.expires_at <= now(), "
			      "v.deleted_at IS NOT NULL OR v.status <> 'pending' FROM "
			      "h5_sessions h JOIN verifications v ON v.certify_id = h.certify_id "
			      "WHERE h.token_hash = $1";

static int claim_session(PGconn *c, struct intake_req *r, struct frames_state *st)
{
	uint8_t hash[32];
	PGresult *res = NULL;
	int rc = crypto_hash(CRYPTO_HASH_SHA256, st->token, TOKEN_LEN, hash);
	if (rc < 0)
		return rc;
	char failures[16], window[16];
	snprintf(failures, sizeof(failures), "%lld", (long long)r->srv->cfg->risk_failures);
	snprintf(window, sizeof(window), "%lld", (long long)r->srv->cfg->risk_window_s);
	const char *p[3] = {(const char *)hash, failures, window};
	int len[3] = {32, 0, 0}, fmt[3] = {1, 0, 0};
	rc = intake_store_execb(c, r, SQL_CLAIM, 3, p, len, fmt, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 1) {
		snprintf(st->vid, sizeof(st->vid), "%s", PQgetvalue(res, 0, 0));
		snprintf(st->certify_id, sizeof(st->certify_id), "%s", PQgetvalue(res, 0, 1));
		snprintf(st->tenant, sizeof(st->tenant), "%s", PQgetvalue(res, 0, 2));
		st->scene_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		snprintf(st->product_code, sizeof(st->product_code), "%s", PQgetvalue(res, 0, 4));
		snprintf(st->model, sizeof(st->model), "%s", PQgetvalue(res, 0, 5));
		if (!PQgetisnull(res, 0, 7)) {
			st->ref_photo_id = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
			st->ref_authority = true;
		} else if (!PQgetisnull(res, 0, 6)) {
			st->ref_photo_id = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
		}
		st->risk = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
		PQclear(res);
		return 0;
	}
	PQclear(res);
	rc = intake_store_execb(c, r, SQL_WHY, 1, p, len, fmt, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = refuse(st, 404, "InvalidToken", "This capture link is not valid.");
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		rc = refuse(st, 409, "TokenUsed", "These frames were already submitted once.");
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		rc = refuse(st, 410, "TokenExpired",
			    "This capture link has expired: start a new verification.");
	else
		rc = refuse(st, 409, "VerificationClosed",
			    "This verification is already completed or deleted.");
	PQclear(res);
	return rc;
}

static int store_frame(PGconn *c, struct intake_req *r, struct frames_state *st, struct frame *f)
{
	return intake_store_photo(c, r, st->vid, "frame", "capture", f->data, f->len, f->info.mime,
				  f->info.width, f->info.height, &f->photo_id);
}

/* The challenge record: a seed only the server can compute (HMAC under a key derived from the
 * master key, over the CertifyId), so the page can be told the same challenge again and the
 * liveness service redraws it (liveness_challenge.h). */
static int challenge_json(const struct intake *s, const char *certify_id, bool risk, char *out,
			  size_t cap)
{
	static const char label[] = "shiren/h5/challenge-seed/v1";
	uint8_t k[32], seed[32];
	char hex[65];
	int rc = crypto_hmac(CRYPTO_HASH_SHA256, s->master, 32, label, sizeof(label) - 1, k);
	if (rc == 0)
		rc = crypto_hmac(CRYPTO_HASH_SHA256, k, 32, certify_id, strlen(certify_id), seed);
	crypto_wipe(k, sizeof(k));
	if (rc < 0)
		return rc;
	crypto_hex(seed, sizeof(seed), hex);
	crypto_wipe(seed, sizeof(seed));
	snprintf(out, cap, "{\"seed\":\"%s\",\"risk\":%s}", hex, risk ? "true" : "false");
	crypto_wipe(hex, sizeof(hex));
	return 0;
}

static int emit_job(PGconn *c, struct intake_req *r, struct frames_state *st)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__LivenessJob m = SHIREN__V1__LIVENESS_JOB__INIT;
	struct envelope_buf eb;
	char challenge[128];
	int n = st->nframes + (st->ref_photo_id ? 1 : 0);
	Shiren__V1__ImageRef *refs = calloc((size_t)n, sizeof(*refs));
	Shiren__V1__ImageRef **rp = calloc((size_t)n, sizeof(*rp));
	uint8_t *buf = NULL;
	int rc = refs && rp ? 0 : -ENOMEM;
	if (rc == 0)
		rc = envelope_new(&env, &eb, st->tenant, r->request_id, INTAKE_SOURCE);
	if (rc == 0)
		rc = challenge_json(r->srv, st->certify_id, st->risk, challenge, sizeof(challenge));
	if (rc < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		shiren__v1__image_ref__init(&refs[i]);
		rp[i] = &refs[i];
		if (i < st->nframes) {
			refs[i].photo_id = st->frames[i].photo_id;
			refs[i].kind = "frame";
			refs[i].t_ms = st->frames[i].t_ms;
		} else {
			refs[i].photo_id = st->ref_photo_id;
			refs[i].kind = st->ref_authority ? "authority" : "reference";
		}
	}
	m.envelope = &env;
	m.certify_id = st->certify_id;
	m.action = "FaceCapture";
	m.product = (Shiren__V1__Product)intake_valid_product_value(st->product_code);
	m.scene_id = st->scene_id;
	m.model = SHIREN__V1__LIVENESS_MODEL__LIVENESS_MODEL_ACTION;
	m.scene_model = st->model;
	m.images = rp;
	m.n_images = (size_t)n;
	m.challenge_json = challenge;
	m.deadline_ms = envelope_now_ms() + r->srv->cfg->capture_timeout_ms;
	m.requested_at_ms = envelope_now_ms();
	size_t len = shiren__v1__liveness_job__get_packed_size(&m);
	buf = malloc(len ? len : 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	shiren__v1__liveness_job__pack(&m, buf);
	rc = outbox_enqueue(c, INTAKE_SOURCE, TOPIC_LIVENESS_JOBS, st->certify_id,
			    strlen(st->certify_id), buf, len, eb.message_id, r->log_err,
			    sizeof(r->log_err));
out:
	crypto_wipe(challenge, sizeof(challenge));
	free(buf);
	free(refs);
	free(rp);
	return rc;
}

static int tx_work(PGconn *c, struct intake_req *r)
{
	struct frames_state *st = r->state;
	int rc = pg_begin(c, r->log_err, sizeof(r->log_err));
	if (rc < 0)
		return rc;
	rc = claim_session(c, r, st);
	for (int i = 0; rc == 0 && i < st->nframes; i++)
		rc = store_frame(c, r, st, &st->frames[i]);
	if (rc == 0)
		rc = emit_job(c, r, st);
	if (rc == 0)
		return pg_commit(c, r->log_err, sizeof(r->log_err));
	pg_rollback(c);
	return rc;
}

/* ---- loop ---- */

static void tx_done(struct intake_req *r, int rc)
{
	struct frames_state *st = r->state;
	/* Learnt from the session on the worker; the request's fields are the loop's. */
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->certify_id);
	if (st->tenant[0])
		snprintf(r->tenant_id, sizeof(r->tenant_id), "%s", st->tenant);
	if (rc == REFUSED) {
		reply(r, st->status, st->code, st->message, NULL);
		return;
	}
	if (rc < 0) {
		intake_reply_failure(r, rc);
		return;
	}
	reply(r, 200, "200", "success", r->certify_id);
}

static void body_done(struct intake_req *r, int rc)
{
	struct frames_state *st = r->state;
	if (rc == REFUSED)
		reply(r, st->status, st->code, st->message, NULL);
	else if (rc < 0)
		intake_reply_failure(r, rc);
	else
		(void)intake_req_pg(r, tx_work, tx_done);
}

bool intake_h5_path(const char *path)
{
	return strncmp(path, "/h5/", 4) == 0;
}

void intake_h5_handle(struct intake_req *r)
{
	r->action_label = "H5Frames";
	const char *tok = r->path + 4, *slash = strchr(tok, '/');
	if (!slash || (size_t)(slash - tok) != TOKEN_LEN || strcmp(slash, "/frames") != 0) {
		reply(r, 404, "NotFound", "No such page.", NULL);
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		reply(r, 405, "MethodNotAllowed", "Frames are sent with POST.", NULL);
		return;
	}
	for (const char *c = tok; c < slash; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
			reply(r, 404, "InvalidToken", "This capture link is not valid.", NULL);
			return;
		}
	struct frames_state *st = calloc(1, sizeof(*st));
	if (!st) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	memcpy(st->token, tok, TOKEN_LEN);
	r->state = st;
	r->state_free = state_free;
	(void)intake_req_work(r, body_work, body_done);
}
