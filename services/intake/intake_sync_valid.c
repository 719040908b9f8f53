/* intake_sync_valid — the parameter rules of ContrastFaceVerify, LivenessFaceVerify and
 * CompareFaceVerify (API.md §3.3-3.5, §5.3; docs/api.md §5.6), their idempotency fingerprint,
 * and the NOTIFY payload that carries a result to the waiting request. Pure logic. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "intake/intake_sync.h"

#define SYNC_MODELS "FRONT_CAMERA_LIVENESS|NO_LIVENESS"

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
	const char *url = intake_param_value(p, n->url), *cid = intake_param_value(p, n->cid);
	const char *bucket = intake_param_value(p, n->bucket),
		   *object = intake_param_value(p, n->object);
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
		return intake_biz_fail(
			b, "420",
			"More than one image input was given: send only one of %s, %s, %s, "
			"%s+%s.",
			n->pic, n->url, n->cid, n->bucket, n->object);
	if (methods == 0)
		return intake_biz_fail(b, "400", "A required parameter is empty: %s (or %s, %s).",
				       n->pic, n->url, n->cid);
	if (img->kind == INTAKE_REF_OSS) {
		if (!bucket)
			return intake_biz_missing(b, n->bucket);
		if (!object)
			return intake_biz_missing(b, n->object);
		return intake_biz_fail(
			b, "410",
			"OSS input is not available on this server: send the image as %s or %s.",
			n->pic, n->url);
	}
	if (url && !intake_valid_http_url(url, 2048, true))
		return intake_biz_invalid(b, n->url, "an http(s) URL, at most 2048 bytes.");
	if (cid && !intake_valid_certify_id(cid))
		return intake_biz_invalid(b, n->cid,
					  "a CertifyId is 32 lower-case hex characters.");
	return 0;
}

static int check_cert(const struct intake_params *p, time_t now, struct intake_sync_req *r,
		      struct intake_biz *b)
{
	r->cert_type = intake_param_value(p, "CertType") ? intake_param_value(p, "CertType")
							 : "IDENTITY_CARD";
	r->cert_name = intake_param_value(p, "CertName");
	r->cert_no = intake_param_value(p, "CertNo");
	if (!intake_valid_enum(r->cert_type, "IDENTITY_CARD|PASSPORT"))
		return intake_biz_invalid(b, "CertType", "expected IDENTITY_CARD or PASSPORT.");
	if (!r->cert_name)
		return intake_biz_missing(b, "CertName");
	if (!r->cert_no)
		return intake_biz_missing(b, "CertNo");
	return intake_valid_person(r->cert_type, r->cert_name, r->cert_no, now, b);
}

static int check_contact(const struct intake_params *p, struct intake_sync_req *r,
			 struct intake_biz *b)
{
	r->device_token = intake_param_value(p, "DeviceToken");
	r->mobile = intake_param_value(p, "Mobile");
	r->ip = intake_param_value(p, "Ip");
	r->user_id = intake_param_value(p, "UserId");
	if (r->device_token && !intake_valid_text(r->device_token, 512))
		return intake_biz_invalid(b, "DeviceToken",
					  "at most 512 bytes without control characters.");
	return intake_valid_contact(r->mobile, r->ip, r->user_id, b);
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
		return intake_biz_fail(b, "500", "Unknown synchronous action.");
	static const char *const required[] = {"SceneId", "OuterOrderNo", "ProductCode"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!intake_param_value(p, required[i]))
			return intake_biz_missing(b, required[i]);
	r->outer_order_no = intake_param_value(p, "OuterOrderNo");
	r->product_code = intake_param_value(p, "ProductCode");
	r->model = intake_param_value(p, "Model");
	if (intake_valid_order(intake_param_value(p, "SceneId"), r->outer_order_no, &r->scene_id,
			       b) < 0)
		return -EINVAL;
	if (strcmp(r->product_code, product) != 0)
		return intake_biz_fail(b, "401", "Invalid parameter ProductCode: %s takes %s.",
				       r->action_name, product);
	if (r->model && action != INTAKE_SYNC_COMPARE) {
		if (!intake_valid_enum(r->model, SYNC_MODELS))
			return intake_biz_invalid(b, "Model", "expected one of " SYNC_MODELS ".");
		if (action == INTAKE_SYNC_LIVENESS && strcmp(r->model, "NO_LIVENESS") == 0)
			return intake_biz_invalid(
				b, "Model",
				"LivenessFaceVerify is a liveness check: NO_LIVENESS makes it "
				"empty.");
	}
	const char *crop = intake_param_value(p, "Crop");
	if (crop && !intake_valid_enum(crop, "T|F"))
		return intake_biz_invalid(b, "Crop", "expected T or F.");
	const char *enc = intake_param_value(p, "EncryptType");
	if (enc)
		return intake_biz_invalid(
			b, "EncryptType",
			"SM2-encrypted CertName/CertNo are not supported by this server; "
			"send them in clear over HTTPS.");
	if (intake_param_value(p, "FaceContrastFile"))
		return intake_biz_invalid(
			b, "FaceContrastFile",
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

int intake_sync_fingerprint(enum intake_sync_action action, const struct intake_params *p,
			    const uint8_t key[32], uint8_t ret[32])
{
	char tag[32];
	snprintf(tag, sizeof(tag), "SyncFaceVerify/%d/v1", (int)action);
	return intake_valid_fingerprint(tag, p, sync_fields,
					sizeof(sync_fields) / sizeof(sync_fields[0]), sync_pictures,
					sizeof(sync_pictures) / sizeof(sync_pictures[0]), key, ret);
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
