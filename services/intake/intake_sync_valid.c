/* intake_sync_valid — the parameter rules of ContrastFaceVerify, LivenessFaceVerify and
 * CompareFaceVerify (API.md §3.3-3.5, §5.3; docs/api.md §5.6), their idempotency fingerprint,
 * and the NOTIFY payload that carries a result to the waiting request. Pure logic. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "intake/intake_sync.h"

#define CODE_MISSING "400"
#define CODE_INVALID "401"
#define SYNC_MODELS  "FRONT_CAMERA_LIVENESS|NO_LIVENESS"

__attribute__((format(printf, 3, 4))) static int fail(struct intake_biz *b, const char *code,
						      const char *fmt, ...)
{
	va_list ap;
	b->code = code;
	va_start(ap, fmt);
	vsnprintf(b->message, sizeof(b->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int missing(struct intake_biz *b, const char *name)
{
	return fail(b, CODE_MISSING, "A required parameter is empty: %s.", name);
}

static int invalid(struct intake_biz *b, const char *name, const char *why)
{
	return fail(b, CODE_INVALID, "Invalid parameter %s: %s", name, why);
}

static const char *get(const struct intake_params *p, const char *name)
{
	const char *v = intake_params_get(p, name);
	return v && *v ? v : NULL;
}

/* Printable text without control bytes, 1..max bytes. */
static bool clean_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

static const struct {
	enum intake_sync_action action;
	const char *name;
	const char *product;
} actions[] = {
	{INTAKE_SYNC_CONTRAST, "ContrastFaceVerify", "ID_MIN"},
	{INTAKE_SYNC_LIVENESS, "LivenessFaceVerify", "LR_FR_MIN"},
	{INTAKE_SYNC_COMPARE, "CompareFaceVerify", "PV_FC"},
};

/* The parameter names of one image input (API.md §3.3-3.5). */
struct image_names {
	const char *pic, *url, *cid, *bucket, *object;
};
static const struct image_names face_names = {"FaceContrastPicture", "FaceContrastPictureUrl",
					      "CertifyId", "OssBucketName", "OssObjectName"};
static const struct image_names source_names = {"SourceFaceContrastPicture",
						"SourceFaceContrastPictureUrl", "SourceCertifyId",
						"SourceOssBucketName", "SourceOssObjectName"};
static const struct image_names target_names = {"TargetFaceContrastPicture",
						"TargetFaceContrastPictureUrl", "TargetCertifyId",
						"TargetOssBucketName", "TargetOssObjectName"};

/* One image input: exactly one method. */
static int image_input(const struct intake_params *p, const struct image_names *n,
		       struct intake_sync_image *img, struct intake_biz *b)
{
	const struct intake_param *pic = intake_params_find(p, n->pic);
	const char *url = get(p, n->url), *cid = get(p, n->cid);
	const char *bucket = get(p, n->bucket), *object = get(p, n->object);
	int methods = 0;
	*img = (struct intake_sync_image){0};
	if (pic && pic->value_len) {
		img->kind = INTAKE_REF_INLINE;
		img->picture = pic->value;
		img->picture_len = pic->value_len;
		img->param = n->pic;
		methods++;
	}
	if (url) {
		img->kind = INTAKE_REF_URL;
		img->url = url;
		img->param = n->url;
		methods++;
	}
	if (cid) {
		img->kind = INTAKE_REF_CERTIFY_ID;
		img->certify_id = cid;
		img->param = n->cid;
		methods++;
	}
	if (bucket || object) {
		img->kind = INTAKE_REF_OSS;
		methods++;
	}
	if (methods > 1)
		return fail(b, "420",
			    "More than one image input was given: send only one of %s, %s, %s, "
			    "%s+%s.",
			    n->pic, n->url, n->cid, n->bucket, n->object);
	if (methods == 0)
		return fail(b, CODE_MISSING, "A required parameter is empty: %s (or %s, %s).",
			    n->pic, n->url, n->cid);
	if (img->kind == INTAKE_REF_OSS) {
		if (!bucket)
			return missing(b, n->bucket);
		if (!object)
			return missing(b, n->object);
		return fail(
			b, "410",
			"OSS input is not available on this server: send the image as %s or %s.",
			n->pic, n->url);
	}
	if (url && !intake_valid_http_url(url, 2048, true))
		return invalid(b, n->url, "an http(s) URL, at most 2048 bytes.");
	if (cid && !intake_valid_certify_id(cid))
		return invalid(b, n->cid, "a CertifyId is 32 lower-case hex characters.");
	return 0;
}

static int check_cert(const struct intake_params *p, time_t now, struct intake_sync_req *r,
		      struct intake_biz *b)
{
	r->cert_type = get(p, "CertType") ? get(p, "CertType") : "IDENTITY_CARD";
	r->cert_name = get(p, "CertName");
	r->cert_no = get(p, "CertNo");
	if (!intake_valid_enum(r->cert_type, "IDENTITY_CARD|PASSPORT"))
		return invalid(b, "CertType", "expected IDENTITY_CARD or PASSPORT.");
	if (!r->cert_name)
		return missing(b, "CertName");
	if (!r->cert_no)
		return missing(b, "CertNo");
	bool ok = clean_text(r->cert_name, 192);
	for (const char *c = r->cert_name; ok && *c; c++)
		ok = !(*c >= '0' && *c <= '9');
	if (!ok)
		return invalid(
			b, "CertName",
			"a name is 1 to 64 characters without digits or control characters.");
	if (strcmp(r->cert_type, "IDENTITY_CARD") == 0) {
		int ymd;
		const char *why;
		if (intake_valid_id_card(r->cert_no, now, &ymd, &why) < 0)
			return invalid(b, "CertNo", why);
		if (intake_valid_age(ymd, now) < INTAKE_MIN_AGE)
			return fail(b, "405", "The user is younger than %d.", INTAKE_MIN_AGE);
	} else {
		ok = strlen(r->cert_no) >= 5 && strlen(r->cert_no) <= 20;
		for (const char *c = r->cert_no; ok && *c; c++)
			ok = (*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z');
		if (!ok)
			return invalid(
				b, "CertNo",
				"a passport number is 5 to 20 upper-case letters or digits.");
	}
	return 0;
}

static int check_contact(const struct intake_params *p, struct intake_sync_req *r,
			 struct intake_biz *b)
{
	r->device_token = get(p, "DeviceToken");
	r->mobile = get(p, "Mobile");
	r->ip = get(p, "Ip");
	r->user_id = get(p, "UserId");
	if (r->device_token && !clean_text(r->device_token, 512))
		return invalid(b, "DeviceToken", "at most 512 bytes without control characters.");
	if (r->mobile) {
		const char *m = r->mobile + (r->mobile[0] == '+');
		bool ok = strlen(m) >= 5 && strlen(m) <= 20;
		for (const char *c = m; ok && *c; c++)
			ok = *c >= '0' && *c <= '9';
		if (!ok)
			return invalid(b, "Mobile", "a phone number is 5 to 20 digits.");
	}
	if (r->ip) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, r->ip, buf) != 1 && inet_pton(AF_INET6, r->ip, buf) != 1)
			return invalid(b, "Ip", "not an IPv4 or IPv6 address.");
	}
	if (r->user_id && !clean_text(r->user_id, 128))
		return invalid(b, "UserId", "at most 128 bytes without control characters.");
	return 0;
}

int intake_sync_valid(enum intake_sync_action action, const struct intake_params *p, time_t now,
		      struct intake_sync_req *ret, struct intake_biz *b)
{
	struct intake_sync_req *r = ret;
	int rc;
	*r = (struct intake_sync_req){0};
	r->action = action;
	const char *product = NULL;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == action) {
			r->action_name = actions[i].name;
			product = actions[i].product;
		}
	if (!product)
		return fail(b, "500", "Unknown synchronous action.");
	static const char *const required[] = {"SceneId", "OuterOrderNo", "ProductCode"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!get(p, required[i]))
			return missing(b, required[i]);
	r->outer_order_no = get(p, "OuterOrderNo");
	r->product_code = get(p, "ProductCode");
	r->model = get(p, "Model");
	if (!intake_valid_pos_int(get(p, "SceneId"), &r->scene_id))
		return invalid(b, "SceneId", "a positive decimal number.");
	size_t ol = strlen(r->outer_order_no);
	bool ok = ol <= 32;
	for (size_t i = 0; ok && i < ol; i++) {
		char c = r->outer_order_no[i];
		ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		     c == '-' || c == '_';
	}
	if (!ok)
		return invalid(b, "OuterOrderNo", "1 to 32 letters, digits, '-' or '_'.");
	if (strcmp(r->product_code, product) != 0)
		return fail(b, CODE_INVALID, "Invalid parameter ProductCode: %s takes %s.",
			    r->action_name, product);
	if (r->model && action != INTAKE_SYNC_COMPARE) {
		if (!intake_valid_enum(r->model, SYNC_MODELS))
			return invalid(b, "Model", "expected one of " SYNC_MODELS ".");
		if (action == INTAKE_SYNC_LIVENESS && strcmp(r->model, "NO_LIVENESS") == 0)
			return invalid(
				b, "Model",
				"LivenessFaceVerify is a liveness check: NO_LIVENESS makes it "
				"empty.");
	}
	const char *crop = get(p, "Crop");
	if (crop && !intake_valid_enum(crop, "T|F"))
		return invalid(b, "Crop", "expected T or F.");
	const char *enc = get(p, "EncryptType");
	if (enc)
		return invalid(b, "EncryptType",
			       "SM2-encrypted CertName/CertNo are not supported by this server; "
			       "send them in clear over HTTPS.");
	if (get(p, "FaceContrastFile"))
		return invalid(b, "FaceContrastFile",
			       "video verification is not supported by this server: send a photo.");
	if (action == INTAKE_SYNC_CONTRAST && (rc = check_cert(p, now, r, b)) < 0)
		return rc;
	if ((rc = check_contact(p, r, b)) < 0)
		return rc;
	if (action == INTAKE_SYNC_COMPARE) {
		r->nimages = 2;
		if ((rc = image_input(p, &source_names, &r->images[0], b)) < 0 ||
		    (rc = image_input(p, &target_names, &r->images[1], b)) < 0)
			return rc;
	} else {
		r->nimages = 1;
		if ((rc = image_input(p, &face_names, &r->images[0], b)) < 0)
			return rc;
	}
	return 0;
}

/* ---- fingerprint ---- */

static const char *const sync_fields[] = {
	"SceneId",
	"OuterOrderNo",
	"ProductCode",
	"Model",
	"CertType",
	"CertName",
	"CertNo",
	"DeviceToken",
	"Mobile",
	"Ip",
	"UserId",
	"Crop",
	"FaceContrastPictureUrl",
	"CertifyId",
	"SourceFaceContrastPictureUrl",
	"SourceCertifyId",
	"TargetFaceContrastPictureUrl",
	"TargetCertifyId",
};
static const char *const sync_pictures[] = {"FaceContrastPicture", "SourceFaceContrastPicture",
					    "TargetFaceContrastPicture"};

struct fp_buf {
	uint8_t *p;
	size_t len, cap;
};

static int fp_add(struct fp_buf *f, const void *data, size_t n)
{
	if (f->len + 8 + n > f->cap) {
		size_t nc = (f->len + 8 + n) * 2;
		uint8_t *np = realloc(f->p, nc);
		if (!np)
			return -ENOMEM;
		f->p = np;
		f->cap = nc;
	}
	for (int i = 0; i < 8; i++)
		f->p[f->len + (size_t)i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	memcpy(f->p + f->len + 8, data, n);
	f->len += 8 + n;
	return 0;
}

int intake_sync_fingerprint(enum intake_sync_action action, const struct intake_params *p,
			    const uint8_t key[32], uint8_t ret[32])
{
	struct fp_buf f = {0};
	char tag[32];
	int n = snprintf(tag, sizeof(tag), "SyncFaceVerify/%d/v1", (int)action);
	int rc = fp_add(&f, tag, (size_t)n);
	for (size_t i = 0; rc == 0 && i < sizeof(sync_fields) / sizeof(sync_fields[0]); i++) {
		const char *v = get(p, sync_fields[i]);
		rc = fp_add(&f, sync_fields[i], strlen(sync_fields[i]));
		if (rc == 0)
			rc = v ? fp_add(&f, v, strlen(v)) : fp_add(&f, "\xff", 1);
	}
	for (size_t i = 0; rc == 0 && i < sizeof(sync_pictures) / sizeof(sync_pictures[0]); i++) {
		const struct intake_param *pic = intake_params_find(p, sync_pictures[i]);
		uint8_t digest[32] = {0};
		rc = fp_add(&f, sync_pictures[i], strlen(sync_pictures[i]));
		if (rc == 0 && pic && pic->value_len)
			rc = crypto_hash(CRYPTO_HASH_SHA256, pic->value, pic->value_len, digest);
		if (rc == 0)
			rc = pic && pic->value_len ? fp_add(&f, digest, sizeof(digest))
						   : fp_add(&f, "\xff", 1);
	}
	if (rc == 0)
		rc = crypto_hmac(CRYPTO_HASH_SHA256, key, 32, f.p, f.len, ret);
	if (f.p)
		crypto_wipe(f.p, f.len);
	free(f.p);
	return rc;
}

/* ---- NOTIFY payload ---- */

static void fmt_score(char *buf, size_t cap, double v)
{
	if (v < 0 || isnan(v))
		buf[0] = '\0';
	else
		snprintf(buf, cap, "%.17g", v);
}

int intake_sync_payload_format(const struct intake_sync_result *res, char *buf, size_t cap)
{
	char vs[32], ls[32], qs[32];
	fmt_score(vs, sizeof(vs), res->verify_score);
	fmt_score(ls, sizeof(ls), res->liveness_score);
	fmt_score(qs, sizeof(qs), res->quality_score);
	int n = snprintf(buf, cap, "%s|%s|%d|%d|%s|%s|%s|%s", res->certify_id, res->code,
			 res->passed ? 1 : 0, res->sub_code, vs, ls, qs, res->message);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* The next '|'-terminated field of *p (NUL-terminated copy into out). */
static int field(const char **p, char *out, size_t cap)
{
	const char *e = strchr(*p, '|');
	if (!e)
		return -EINVAL;
	size_t n = (size_t)(e - *p);
	if (n >= cap)
		return -EINVAL;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = e + 1;
	return 0;
}

static int parse_score(const char *s, double *ret)
{
	if (!*s) {
		*ret = -1;
		return 0;
	}
	char *end = NULL;
	*ret = strtod(s, &end);
	return end && *end == '\0' && isfinite(*ret) ? 0 : -EINVAL;
}

int intake_sync_payload_parse(const char *s, struct intake_sync_result *ret)
{
	char passed[4], sub[16], vs[32], ls[32], qs[32];
	*ret = (struct intake_sync_result){0};
	if (field(&s, ret->certify_id, sizeof(ret->certify_id)) < 0 ||
	    !intake_valid_certify_id(ret->certify_id) ||
	    field(&s, ret->code, sizeof(ret->code)) < 0 || field(&s, passed, sizeof(passed)) < 0 ||
	    field(&s, sub, sizeof(sub)) < 0 || field(&s, vs, sizeof(vs)) < 0 ||
	    field(&s, ls, sizeof(ls)) < 0 || field(&s, qs, sizeof(qs)) < 0)
		return -EINVAL;
	if (strcmp(passed, "0") != 0 && strcmp(passed, "1") != 0)
		return -EINVAL;
	ret->passed = passed[0] == '1';
	char *end = NULL;
	long sc = strtol(sub, &end, 10);
	if (!end || *end || sc < 0 || sc > 999)
		return -EINVAL;
	ret->sub_code = (int)sc;
	if (parse_score(vs, &ret->verify_score) < 0 || parse_score(ls, &ret->liveness_score) < 0 ||
	    parse_score(qs, &ret->quality_score) < 0)
		return -EINVAL;
	if (!intake_valid_enum(ret->code, "200|419|500"))
		return -EINVAL;
	snprintf(ret->message, sizeof(ret->message), "%s", s);
	return 0;
}
