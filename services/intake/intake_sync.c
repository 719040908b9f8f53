/* intake_sync — ContrastFaceVerify, LivenessFaceVerify and CompareFaceVerify (intake_sync.h):
 * validate (loop), decode or download the images and check their headers (worker pool), the
 * transaction (pool: intake_sync_store.c), then park the request until the result arrives
 * (intake_sync_wait.c) and answer it in the action's shape. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/envelope.h"
#include "common/json.h"
#include "intake/intake_fetch.h"
#include "intake/intake_image.h"
#include "intake/intake_material.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"
#include "intake/intake_sync_store.h"

#define MIN_IMAGE_SIDE 32
#define MAX_IMAGE_SIDE 8192

/* The wait of a synchronous call, ms from its arrival: the configured wait, but always leaving
 * the answer time before the request deadline (which would answer 503 without the result). */
static int64_t wait_ms(const struct intake *s)
{
	int64_t w = s->cfg->sync_wait_ms, cap = s->cfg->deadline_ms - 100;
	return w < cap ? w : cap > 0 ? cap : 0;
}

/* The request's images, once stored (or not needed): a parked request keeps only its state. */
static void images_free(struct intake_sync_state *st)
{
	for (int i = 0; i < 2; i++) {
		if (st->img[i].bytes) {
			crypto_wipe(st->img[i].bytes, st->img[i].len);
			free(st->img[i].bytes);
			st->img[i].bytes = NULL;
			st->img[i].len = 0;
		}
	}
}

static void state_free(void *p)
{
	struct intake_sync_state *st = p;
	images_free(st);
	free(st);
}

static int refuse(struct intake_sync_state *st, const char *code, const char *msg)
{
	st->biz.code = code;
	snprintf(st->biz.message, sizeof(st->biz.message), "%s", msg);
	return INTAKE_SYNC_BIZ;
}

/* ---- images (worker pool) ---- */

/* A file cut short is refused here, before anything is stored: a JPEG must end with its EOI
 * marker (FF D9 cannot occur elsewhere in the last bytes: entropy-coded data stuffs every FF),
 * a PNG with its IEND chunk (trailing bytes after either are tolerated, up to 4 KiB). Damage
 * inside complete data is only found by decoding, in shiren-liveness (Code 419 there). */
bool intake_sync_image_complete(const uint8_t *p, size_t n, int type)
{
	size_t from = n > 4096 ? n - 4096 : 0;
	for (size_t i = n; i-- > from;) {
		if (type == INTAKE_IMAGE_JPEG && i + 1 < n && p[i] == 0xFF && p[i + 1] == 0xD9)
			return true;
		if (type == INTAKE_IMAGE_PNG && i + 8 <= n && memcmp(p + i, "IEND", 4) == 0)
			return true;
	}
	return false;
}

static int check_header(struct intake_sync_state *st, int i, const char *what)
{
	char msg[300];
	struct intake_image_info *info = &st->img[i].info;
	int rc = intake_image_probe(st->img[i].bytes, st->img[i].len, info);
	if (rc == -EINVAL) {
		snprintf(msg, sizeof(msg), "%s is not a JPEG or PNG image.", what);
		return refuse(st, "419", msg);
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s is a damaged %s (its header does not parse).", what,
			 info->type == INTAKE_IMAGE_PNG ? "PNG" : "JPEG");
		return refuse(st, "419", msg);
	}
	if (info->width < MIN_IMAGE_SIDE || info->height < MIN_IMAGE_SIDE ||
	    info->width > MAX_IMAGE_SIDE || info->height > MAX_IMAGE_SIDE) {
		snprintf(msg, sizeof(msg),
			 "%s is %ux%u pixels; each side must be %d to %d pixels (640x480 to "
			 "1920x1080 recommended).",
			 what, info->width, info->height, MIN_IMAGE_SIDE, MAX_IMAGE_SIDE);
		return refuse(st, "419", msg);
	}
	if (!intake_sync_image_complete(st->img[i].bytes, st->img[i].len, info->type)) {
		snprintf(msg, sizeof(msg), "%s is truncated (the %s data ends early).", what,
			 info->type == INTAKE_IMAGE_PNG ? "PNG" : "JPEG");
		return refuse(st, "419", msg);
	}
	return 0;
}

static int inline_image(struct intake_req *r, struct intake_sync_state *st, int i)
{
	const struct intake_sync_image *in = &st->q.images[i];
	size_t max = (size_t)r->srv->cfg->fetch_max_bytes;
	char msg[300];
	switch (intake_image_b64_decode(in->picture, in->picture_len, max, &st->img[i].bytes,
					&st->img[i].len)) {
	case INTAKE_B64_OK:
		return check_header(st, i, in->param);
	case INTAKE_B64_EMPTY:
		snprintf(msg, sizeof(msg), "%s is empty.", in->param);
		return refuse(st, "419", msg);
	case INTAKE_B64_DATA_URL:
		snprintf(msg, sizeof(msg),
			 "%s must be the Base64 text only, without a \"data:...;base64,\" prefix.",
			 in->param);
		return refuse(st, "419", msg);
	case INTAKE_B64_INVALID:
		snprintf(msg, sizeof(msg), "%s is not valid Base64.", in->param);
		return refuse(st, "419", msg);
	case INTAKE_B64_TOO_LARGE:
		snprintf(msg, sizeof(msg), "The image in %s is larger than %zu bytes.", in->param,
			 max);
		return refuse(st, "421", msg);
	case INTAKE_B64_NO_MEMORY:
		break;
	}
	return -ENOMEM;
}

static int url_image(struct intake_req *r, struct intake_sync_state *st, int i)
{
	const struct intake_sync_image *in = &st->q.images[i];
	const struct intake_cfg *cfg = r->srv->cfg;
	struct intake_fetch_opts o = {.timeout_ms = (long)cfg->fetch_timeout_ms,
				      .max_bytes = (size_t)cfg->fetch_max_bytes,
				      .allow_private = cfg->fetch_allow_private};
	char err[200], msg[300], what[96];
	int rc =
		intake_fetch_url(in->url, &o, &st->img[i].bytes, &st->img[i].len, err, sizeof(err));
	switch (rc) {
	case 0:
		snprintf(what, sizeof(what), "The image at %s", in->param);
		return check_header(st, i, what);
	case -ETIMEDOUT:
		snprintf(msg, sizeof(msg), "Downloading %s took longer than %lld ms.", in->param,
			 (long long)cfg->fetch_timeout_ms);
		return refuse(st, "422", msg);
	case -EFBIG:
		snprintf(msg, sizeof(msg), "The image at %s is larger than %lld bytes.", in->param,
			 (long long)cfg->fetch_max_bytes);
		return refuse(st, "421", msg);
	case -ENOMEM:
		return rc;
	default:
		snprintf(r->log_err, sizeof(r->log_err), "%s", err);
		snprintf(msg, sizeof(msg), "%s could not be downloaded: %s.", in->param, err);
		return refuse(st, "419", msg);
	}
}

static int images_work(struct intake_req *r)
{
	struct intake_sync_state *st = r->state;
	for (int i = 0; i < st->q.nimages; i++) {
		int rc = 0;
		if (st->q.images[i].kind == INTAKE_REF_INLINE)
			rc = inline_image(r, st, i);
		else if (st->q.images[i].kind == INTAKE_REF_URL)
			rc = url_image(r, st, i);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- answers (loop) ---- */

static void reply_result(struct intake_req *r, const struct intake_sync_result *res)
{
	struct intake_sync_state *st = r->state;
	char mat[1024], buf[4096];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key_str(&w, "RequestId", r->request_id);
	json_key_str(&w, "Code", res->code);
	json_key_str(&w, "Message", strcmp(res->code, "200") == 0 ? "success" : res->message);
	json_key(&w, "ResultObject");
	json_obj_begin(&w);
	json_key_str(&w, "CertifyId", st->out_certify_id);
	if (strcmp(res->code, "200") == 0) {
		json_key_str(&w, "Passed", res->passed ? "T" : "F");
		if (st->q.action == INTAKE_SYNC_COMPARE) {
			/* A number in the SDK model (API.md §3.5). */
			json_key_double(&w, "VerifyScore",
					res->verify_score < 0 ? 0 : res->verify_score);
		} else {
			char sub[16];
			snprintf(sub, sizeof(sub), "%d", res->sub_code);
			json_key_str(&w, "SubCode", sub);
			struct intake_material m = {.sub_code = res->sub_code,
						    .verify_score = res->verify_score,
						    .liveness_score = res->liveness_score,
						    .quality_score = res->quality_score};
			long n = intake_material_render(&m, mat, sizeof(mat));
			json_key_str(&w, "MaterialInfo", n < 0 ? "{}" : mat);
		}
	}
	json_obj_end(&w);
	json_obj_end(&w);
	if (json_writer_truncated(&w)) { /* cannot happen with these bounds */
		intake_reply_failure(r, -ENOSPC);
		return;
	}
	if (strcmp(res->code, "200") != 0)
		snprintf(r->log_err, sizeof(r->log_err), "%.200s", res->message);
	intake_reply_json(r, 200, res->code, buf, json_writer_len(&w));
}

static void wait_done(struct intake_req *r, const struct intake_sync_result *res)
{
	struct intake_sync_state *st = r->state;
	if (res) {
		reply_result(r, res);
		return;
	}
	struct intake_sync_result t = {0};
	snprintf(t.code, sizeof(t.code), "500");
	snprintf(t.message, sizeof(t.message),
		 "System error: the verification did not finish within %lld ms (CertifyId %s). "
		 "Retry later with the same OuterOrderNo to get its result once computed.",
		 (long long)wait_ms(r->srv), st->out_certify_id);
	reply_result(r, &t);
}

static void tx_done(struct intake_req *r, int rc)
{
	struct intake_sync_state *st = r->state;
	if (rc == INTAKE_SYNC_BIZ) {
		r->certify_id[0] = '\0'; /* nothing was created */
		intake_reply_biz(r, &st->biz);
		return;
	}
	if (rc == -EALREADY) {
		intake_reply_gateway(r, INTAKE_ERR_SIGNATURE_NONCE_USED, NULL, NULL);
		return;
	}
	if (rc < 0) {
		intake_reply_failure(r, rc);
		return;
	}
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->out_certify_id);
	if (st->have_result) {
		reply_result(r, &st->res);
		return;
	}
	images_free(st); /* sealed in PostgreSQL now; up to 2 MiB less per parked request */
	int64_t t0 = (int64_t)r->t0.tv_sec * 1000 + r->t0.tv_nsec / 1000000;
	if (intake_sync_wait(r, st->out_certify_id, t0 + wait_ms(r->srv), wait_done) < 0)
		intake_reply_failure(r, -ENOMEM);
	else if (st->reused)
		intake_sync_recheck(r, st->out_certify_id);
}

static int tx_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, intake_sync_store_body, r->state);
}

static void images_done(struct intake_req *r, int rc)
{
	struct intake_sync_state *st = r->state;
	if (rc == INTAKE_SYNC_BIZ) {
		r->certify_id[0] = '\0';
		intake_reply_biz(r, &st->biz);
	} else if (rc < 0) {
		intake_reply_failure(r, rc);
	} else {
		(void)intake_req_pg(r, tx_work, tx_done);
	}
}

static void sync_handle(struct intake_req *r, enum intake_sync_action action)
{
	struct intake_sync_state *st = calloc(1, sizeof(*st));
	if (!st) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	r->state = st;
	r->state_free = state_free;
	if (intake_sync_valid(action, &r->params, time(NULL), &st->q, &st->biz) < 0) {
		intake_reply_biz(r, &st->biz);
		return;
	}
	uint8_t b[16];
	if (crypto_random(b, sizeof(b)) < 0) {
		intake_reply_failure(r, -EIO);
		return;
	}
	crypto_hex(b, sizeof(b), st->certify_id);
	snprintf(r->certify_id, sizeof(r->certify_id), "%s", st->certify_id);
	/* Wall-clock times for the job: its deadline is when this request stops waiting. */
	int64_t now_wall = envelope_now_ms(), now_mono = intake_now_ms();
	int64_t t0 = (int64_t)r->t0.tv_sec * 1000 + r->t0.tv_nsec / 1000000;
	st->wall_t0_ms = now_wall - (now_mono - t0);
	st->deadline_wall_ms = st->wall_t0_ms + wait_ms(r->srv);
	bool fetch = false;
	for (int i = 0; i < st->q.nimages; i++)
		fetch = fetch || st->q.images[i].kind == INTAKE_REF_INLINE ||
			st->q.images[i].kind == INTAKE_REF_URL;
	if (fetch)
		(void)intake_req_work(r, images_work, images_done);
	else
		(void)intake_req_pg(r, tx_work, tx_done);
}

void intake_contrast_handle(struct intake_req *r)
{
	sync_handle(r, INTAKE_SYNC_CONTRAST);
}

void intake_liveness_handle(struct intake_req *r)
{
	sync_handle(r, INTAKE_SYNC_LIVENESS);
}

void intake_compare_handle(struct intake_req *r)
{
	sync_handle(r, INTAKE_SYNC_COMPARE);
}
