/* intake_valid — business-parameter checks of the public actions and the InitFaceVerify
 * fingerprint (intake_valid.h). */
#include "intake/intake_valid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "intake/intake_json.h"

#define CODE_MISSING "400"
#define CODE_INVALID "401"

int intake_biz_fail(struct intake_biz *b, const char *code, const char *fmt, ...)
{
	va_list ap;
	b->code = code;
	va_start(ap, fmt);
	vsnprintf(b->message, sizeof(b->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int intake_biz_missing(struct intake_biz *b, const char *name)
{
	return intake_biz_fail(b, CODE_MISSING, "A required parameter is empty: %s.", name);
}

int intake_biz_invalid(struct intake_biz *b, const char *name, const char *why)
{
	return intake_biz_fail(b, CODE_INVALID, "Invalid parameter %s: %s", name, why);
}

const char *intake_param_value(const struct intake_params *p, const char *name)
{
	const char *v = intake_params_get(p, name);
	return v && *v ? v : NULL;
}

/* ---- building blocks ---- */

bool intake_valid_enum(const char *s, const char *choices)
{
	size_t n = strlen(s);
	const char *c = choices;
	while (*c) {
		const char *e = strchr(c, '|');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (l == n && memcmp(c, s, n) == 0)
			return true;
		if (!e)
			break;
		c = e + 1;
	}
	return false;
}

bool intake_valid_pos_int(const char *s, int64_t *ret)
{
	size_t n = strlen(s);
	if (n == 0 || n > 18 || s[0] == '0')
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (ret)
		*ret = v;
	return true;
}

static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool real_date(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap(y));
}

static bool digits_n(const char *s, size_t n, int *ret)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

bool intake_valid_date(const char *s, long *ret_days)
{
	int y, m, d;
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits_n(s, 4, &y) ||
	    !digits_n(s + 5, 2, &m) || !digits_n(s + 8, 2, &d) || !real_date(y, m, d))
		return false;
	if (ret_days)
		*ret_days = days_from_civil(y, m, d);
	return true;
}

static void civil_of(time_t now, int *y, int *m, int *d)
{
	struct tm tm;
	gmtime_r(&now, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

int intake_valid_age(int ymd, time_t now)
{
	int y, m, d;
	civil_of(now, &y, &m, &d);
	int by = ymd / 10000, bm = ymd / 100 % 100, bd = ymd % 100;
	int age = y - by;
	if (m < bm || (m == bm && d < bd))
		age--;
	return age;
}

int intake_valid_id_card(const char *s, time_t now, int *ret_ymd, const char **ret_why)
{
	static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[11] = "10X98765432";
	*ret_why = NULL;
	if (strlen(s) != 18) {
		*ret_why = "an ID card number has 18 characters.";
		return -EINVAL;
	}
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*ret_why = "the first 17 characters of an ID card number are digits.";
			return -EINVAL;
		}
		sum += (s[i] - '0') * weight[i];
	}
	if (s[17] != check[sum % 11]) {
		*ret_why = s[17] == 'x' ? "the check character is an upper-case X."
					: "the check character does not match (GB 11643).";
		return -EINVAL;
	}
	int y = 0, m = 0, d = 0, ny, nm, nd; /* digits checked above */
	(void)digits_n(s + 6, 4, &y);
	(void)digits_n(s + 10, 2, &m);
	(void)digits_n(s + 12, 2, &d);
	civil_of(now, &ny, &nm, &nd);
	if (y < 1900 || !real_date(y, m, d) ||
	    days_from_civil(y, m, d) > days_from_civil(ny, nm, nd)) {
		*ret_why = "the birth date in an ID card number is not a real past date.";
		return -EINVAL;
	}
	*ret_ymd = y * 10000 + m * 100 + d;
	return 0;
}

bool intake_valid_certify_id(const char *s)
{
	if (strlen(s) != INTAKE_CERTIFY_ID_LEN)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

bool intake_valid_text(const char *s, size_t max_bytes)
{
	size_t n = strlen(s);
	if (n == 0 || n > max_bytes)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static bool url_like(const char *s, size_t max)
{
	/* scheme ":" then at least one byte; no whitespace, control bytes or non-ASCII. */
	size_t n = strlen(s);
	if (n < 3 || n > max || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return false;
	size_t i = 1;
	while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
			 (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i >= n - 1 || s[i] != ':')
		return false;
	return printable_ascii(s, max);
}

bool intake_valid_http_url(const char *s, size_t max, bool allow_http)
{
	const char *rest;
	if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (allow_http && strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return false;
	if (!printable_ascii(s, max))
		return false;
	size_t host = strcspn(rest, "/?#");
	if (host == 0 || memchr(rest, '@', host)) /* no host, or userinfo */
		return false;
	return true;
}

/* ---- InitFaceVerify ---- */

#define INIT_PRODUCTS "ID_PRO|ID_PLUS|PV_FV|LR_FR|MFVC"
#define INIT_MODELS \
	"LIVENESS|PHOTINUS_LIVENESS|MULTI_ACTION|MOVE_ACTION|MOVE_PHOTINUS|MULTI_FAPTCHA"

struct enum_rule {
	const char *name, *choices;
};

/* Optional fields with a fixed set of values (API.md §3.1, plus the newer SDKs' Y/N flags). */
static const struct enum_rule init_enums[] = {
	{"Model", INIT_MODELS},
	{"CertType", "IDENTITY_CARD|PASSPORT"},
	{"CertifyUrlType", "WEB|H5"},
	{"CertifyUrlStyle", "L|S"},
	{"Crop", "T|F"},
	{"ProcedurePriority", "url|keep|video"},
	{"AppQualityCheck", "Y|N"},
	{"CameraSelection", "Y|N"},
	{"SuitableType", "0|1|2"},
	{"RarelyCharacters", "Y|N"},
	{"ReadImg", "Y|N"},
	{"Mode", "1|3"},
	{"VideoEvidence", "true|false"},
	{"FaceGuardOutput", "DeviceRisk"},
	{"NeedMultiFaceCheck", "Y|N"},
	{"H5DegradeConfirmBtn", "Y|N"},
	{"EnableBeauty", "Y|N"},
};

static int check_enums(const struct intake_params *p, const struct enum_rule *rules, size_t n,
		       struct intake_biz *b)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = intake_param_value(p, rules[i].name);
		if (v && !intake_valid_enum(v, rules[i].choices)) {
			char why[160];
			snprintf(why, sizeof(why), "expected one of %s.", rules[i].choices);
			return intake_biz_invalid(b, rules[i].name, why);
		}
	}
	return 0;
}

int intake_valid_person(const char *cert_type, const char *cert_name, const char *cert_no,
			time_t now, struct intake_biz *b)
{
	if (cert_name) {
		bool ok = intake_valid_text(cert_name, 192);
		for (const char *c = cert_name; ok && *c; c++)
			ok = !(*c >= '0' && *c <= '9');
		if (!ok)
			return intake_biz_invalid(b, "CertName",
						  "a name is 1 to 64 characters without digits or "
						  "control characters.");
	}
	if (!cert_no)
		return 0;
	if (strcmp(cert_type, "IDENTITY_CARD") == 0) {
		int ymd;
		const char *why;
		if (intake_valid_id_card(cert_no, now, &ymd, &why) < 0)
			return intake_biz_invalid(b, "CertNo", why);
		if (intake_valid_age(ymd, now) < INTAKE_MIN_AGE)
			return intake_biz_fail(b, "405", "The user is younger than %d.",
					       INTAKE_MIN_AGE);
	} else {
		bool ok = strlen(cert_no) >= 5 && strlen(cert_no) <= 20;
		for (const char *c = cert_no; ok && *c; c++)
			ok = (*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z');
		if (!ok)
			return intake_biz_invalid(
				b, "CertNo",
				"a passport number is 5 to 20 upper-case letters or digits.");
	}
	return 0;
}

int intake_valid_order(const char *scene, const char *outer_order_no, int64_t *scene_id,
		       struct intake_biz *b)
{
	if (!intake_valid_pos_int(scene, scene_id))
		return intake_biz_invalid(b, "SceneId", "a positive decimal number.");
	size_t ol = strlen(outer_order_no);
	bool ok = ol <= 32;
	for (size_t i = 0; ok && i < ol; i++) {
		char c = outer_order_no[i];
		ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		     c == '-' || c == '_';
	}
	if (!ok)
		return intake_biz_invalid(b, "OuterOrderNo",
					  "1 to 32 letters, digits, '-' or '_'.");
	return 0;
}

int intake_valid_contact(const char *mobile, const char *ip, const char *user_id,
			 struct intake_biz *b)
{
	if (mobile) {
		const char *m = mobile + (mobile[0] == '+');
		bool ok = strlen(m) >= 5 && strlen(m) <= 20;
		for (const char *c = m; ok && *c; c++)
			ok = *c >= '0' && *c <= '9';
		if (!ok)
			return intake_biz_invalid(b, "Mobile", "a phone number is 5 to 20 digits.");
	}
	if (ip) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
			return intake_biz_invalid(b, "Ip", "not an IPv4 or IPv6 address.");
	}
	if (user_id && !intake_valid_text(user_id, 128))
		return intake_biz_invalid(b, "UserId",
					  "at most 128 bytes without control characters.");
	return 0;
}

static int check_urls(const struct intake_params *p, const struct intake_valid_opts *o,
		      struct intake_init_req *r, struct intake_biz *b)
{
	if (r->callback_url &&
	    !intake_valid_http_url(r->callback_url, 1024, o->callback_allow_http))
		return intake_biz_invalid(
			b, "CallbackUrl",
			o->callback_allow_http ? "an http(s) URL with a host, at most 1024 bytes."
					       : "an https URL with a host, at most 1024 bytes.");
	if (r->callback_token && !printable_ascii(r->callback_token, 128))
		return intake_biz_invalid(b, "CallbackToken",
					  "1 to 128 printable ASCII characters.");
	if (r->return_url && !url_like(r->return_url, 1024))
		return intake_biz_invalid(b, "ReturnUrl",
					  "a URL of at most 1024 printable ASCII bytes.");
	const char *ui = intake_param_value(p, "UiCustomUrl");
	if (ui && !intake_valid_http_url(ui, 1024, true))
		return intake_biz_invalid(b, "UiCustomUrl", "an http(s) URL, at most 1024 bytes.");
	return 0;
}

static int check_reference(const struct intake_params *p, struct intake_init_req *r,
			   struct intake_biz *b)
{
	const struct intake_param *pic = intake_params_find(p, "FaceContrastPicture");
	const char *bucket = intake_param_value(p, "OssBucketName"),
		   *object = intake_param_value(p, "OssObjectName");
	r->picture_url = intake_param_value(p, "FaceContrastPictureUrl");
	r->ref_certify_id = intake_param_value(p, "CertifyId");
	int methods = 0;
	if (pic && pic->value_len) {
		r->picture = pic->value;
		r->picture_len = pic->value_len;
		r->ref_kind = INTAKE_REF_INLINE;
		methods++;
	}
	if (r->picture_url) {
		r->ref_kind = INTAKE_REF_URL;
		methods++;
	}
	if (r->ref_certify_id) {
		r->ref_kind = INTAKE_REF_CERTIFY_ID;
		methods++;
	}
	if (bucket || object) {
		r->ref_kind = INTAKE_REF_OSS;
		methods++;
	}
	if (methods > 1)
		return intake_biz_fail(b, "420",
				       "More than one image input was given: send only one of "
				       "FaceContrastPicture, FaceContrastPictureUrl, CertifyId, "
				       "OssBucketName+OssObjectName.");
	if (r->ref_kind == INTAKE_REF_OSS) {
		if (!bucket)
			return intake_biz_missing(b, "OssBucketName");
		if (!object)
			return intake_biz_missing(b, "OssObjectName");
		return intake_biz_fail(
			b, "410",
			"OSS input is not available on this server: send the image as "
			"FaceContrastPicture or FaceContrastPictureUrl.");
	}
	if (r->picture_url && !intake_valid_http_url(r->picture_url, 2048, true))
		return intake_biz_invalid(b, "FaceContrastPictureUrl",
					  "an http(s) URL, at most 2048 bytes.");
	if (r->ref_certify_id && !intake_valid_certify_id(r->ref_certify_id))
		return intake_biz_invalid(b, "CertifyId",
					  "a CertifyId is 32 lower-case hex characters.");
	if (strcmp(r->product_code, "PV_FV") == 0 && r->ref_kind == INTAKE_REF_NONE)
		return intake_biz_fail(
			b, CODE_MISSING,
			"A required parameter is empty: ProductCode PV_FV compares against a "
			"reference photo (FaceContrastPicture, FaceContrastPictureUrl or "
			"CertifyId).");
	return 0;
}

static int check_misc(const struct intake_params *p, struct intake_biz *b)
{
	const char *mode = intake_param_value(p, "Mode");
	static const char *const dates[] = {"Birthday", "ValidityDate"};
	for (size_t i = 0; i < 2; i++) {
		const char *d = intake_param_value(p, dates[i]);
		if (d && !intake_valid_date(d, NULL))
			return intake_biz_invalid(b, dates[i], "a date as yyyy-mm-dd.");
		if (!d && mode && strcmp(mode, "3") == 0)
			return intake_biz_missing(b, dates[i]);
	}
	const char *vcc = intake_param_value(p, "VoluntaryCustomizedContent");
	if (vcc && (strlen(vcc) > 2048 || !intake_json_valid(vcc, strlen(vcc), '[')))
		return intake_biz_invalid(b, "VoluntaryCustomizedContent",
					  "a JSON array of strings, at most 2048 bytes.");
	return 0;
}

int intake_valid_init(const struct intake_params *p, time_t now,
		      const struct intake_valid_opts *opts, struct intake_init_req *ret,
		      struct intake_biz *b)
{
	static const struct intake_valid_opts defaults = {0};
	struct intake_init_req *r = ret;
	const char *scene;
	int rc;

	*r = (struct intake_init_req){0};
	opts = opts ? opts : &defaults;
	static const char *const required[] = {"SceneId", "OuterOrderNo", "ProductCode",
					       "MetaInfo"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!intake_param_value(p, required[i]))
			return intake_biz_missing(b, required[i]);
	scene = intake_param_value(p, "SceneId");
	r->outer_order_no = intake_param_value(p, "OuterOrderNo");
	r->product_code = intake_param_value(p, "ProductCode");
	r->meta_info = intake_param_value(p, "MetaInfo");
	r->model = intake_param_value(p, "Model");
	r->cert_type = intake_param_value(p, "CertType") ? intake_param_value(p, "CertType")
							 : "IDENTITY_CARD";
	r->cert_name = intake_param_value(p, "CertName");
	r->cert_no = intake_param_value(p, "CertNo");
	r->mobile = intake_param_value(p, "Mobile");
	r->ip = intake_param_value(p, "Ip");
	r->user_id = intake_param_value(p, "UserId");
	r->auth_id = intake_param_value(p, "AuthId");
	r->callback_url = intake_param_value(p, "CallbackUrl");
	r->callback_token = intake_param_value(p, "CallbackToken");
	r->return_url = intake_param_value(p, "ReturnUrl");
	r->certify_url_type = intake_param_value(p, "CertifyUrlType");
	r->certify_url_style = intake_param_value(p, "CertifyUrlStyle")
				       ? intake_param_value(p, "CertifyUrlStyle")
				       : "S";

	rc = intake_valid_order(scene, r->outer_order_no, &r->scene_id, b);
	if (rc < 0)
		return rc;
	if (!intake_valid_enum(r->product_code, INIT_PRODUCTS))
		return intake_biz_invalid(b, "ProductCode", "expected one of " INIT_PRODUCTS ".");
	r->needs_authority =
		strcmp(r->product_code, "ID_PRO") == 0 || strcmp(r->product_code, "ID_PLUS") == 0;
	if ((rc = check_enums(p, init_enums, sizeof(init_enums) / sizeof(init_enums[0]), b)) < 0)
		return rc;
	if (strlen(r->meta_info) > 8192 ||
	    !intake_json_valid(r->meta_info, strlen(r->meta_info), '{'))
		return intake_biz_invalid(
			b, "MetaInfo",
			"the JSON object from the client SDK's getMetaInfo(), at most 8192 "
			"bytes.");
	const char *enc = intake_param_value(p, "EncryptType");
	if (enc)
		return intake_biz_invalid(
			b, "EncryptType",
			strcmp(enc, "SM2") == 0
				? "SM2-encrypted CertName/CertNo are not supported by this "
				  "server; send them in clear over HTTPS."
				: "the only defined value is SM2, which this server does not "
				  "support.");
	if (r->needs_authority) {
		if (!r->cert_name)
			return intake_biz_missing(b, "CertName");
		if (!r->cert_no)
			return intake_biz_missing(b, "CertNo");
	}
	if ((strcmp(r->product_code, "PV_FV") == 0 || strcmp(r->product_code, "LR_FR") == 0) &&
	    !r->user_id)
		return intake_biz_missing(b, "UserId");
	if ((rc = intake_valid_person(r->cert_type, r->cert_name, r->cert_no, now, b)) < 0 ||
	    (rc = intake_valid_contact(r->mobile, r->ip, r->user_id, b)) < 0)
		return rc;
	if (r->auth_id && !intake_valid_text(r->auth_id, 64))
		return intake_biz_invalid(b, "AuthId",
					  "at most 64 bytes without control characters.");
	if ((rc = check_urls(p, opts, r, b)) < 0 || (rc = check_reference(p, r, b)) < 0 ||
	    (rc = check_misc(p, b)) < 0)
		return rc;
	return 0;
}

/* ---- DescribeFaceVerify, DeleteFaceVerifyResult, DescribePageFaceVerifyData ---- */

int intake_valid_describe(const struct intake_params *p, struct intake_describe_req *ret,
			  struct intake_biz *b)
{
	*ret = (struct intake_describe_req){0};
	const char *scene = intake_param_value(p, "SceneId");
	if (!scene)
		return intake_biz_missing(b, "SceneId");
	if (!(ret->certify_id = intake_param_value(p, "CertifyId")))
		return intake_biz_missing(b, "CertifyId");
	if (!intake_valid_pos_int(scene, &ret->scene_id))
		return intake_biz_invalid(b, "SceneId", "a positive decimal number.");
	if (!intake_valid_certify_id(ret->certify_id))
		return intake_biz_fail(b, "406",
				       "Invalid CertifyId: no verification has this CertifyId.");
	const char *prt = intake_param_value(p, "PictureReturnType");
	if (prt && !intake_valid_enum(prt, "BASE64|JPG|URL"))
		return intake_biz_invalid(b, "PictureReturnType",
					  "expected one of BASE64|JPG|URL.");
	ret->want_picture = !prt || strcmp(prt, "URL") != 0;
	return 0;
}

int intake_valid_delete(const struct intake_params *p, struct intake_delete_req *ret,
			struct intake_biz *b)
{
	*ret = (struct intake_delete_req){0};
	if (!(ret->certify_id = intake_param_value(p, "CertifyId")))
		return intake_biz_missing(b, "CertifyId");
	if (!intake_valid_certify_id(ret->certify_id))
		return intake_biz_fail(b, "406",
				       "Invalid CertifyId: no verification has this CertifyId.");
	const char *daq = intake_param_value(p, "DeleteAfterQuery");
	if (daq && !intake_valid_enum(daq, "Y|N"))
		return intake_biz_invalid(b, "DeleteAfterQuery", "expected Y or N.");
	ret->after_query = daq && strcmp(daq, "Y") == 0;
	return 0;
}

#define ALL_PRODUCTS "ID_PRO|ID_PLUS|PV_FV|LR_FR|MFVC|ID_MIN|LR_FR_MIN|PV_FC"

static int page_int(const struct intake_params *p, const char *name, int64_t def, int64_t max,
		    int64_t *ret, struct intake_biz *b)
{
	const char *v = intake_param_value(p, name);
	*ret = def;
	if (v && (!intake_valid_pos_int(v, ret) || *ret > max)) {
		char why[96];
		snprintf(why, sizeof(why), "a whole number from 1 to %lld.", (long long)max);
		return intake_biz_invalid(b, name, why);
	}
	return 0;
}

int intake_valid_page(const struct intake_params *p, struct intake_page_req *ret,
		      struct intake_biz *b)
{
	*ret = (struct intake_page_req){0};
	const char *start = intake_param_value(p, "StartDate"),
		   *end = intake_param_value(p, "EndDate");
	const char *scene = intake_param_value(p, "SceneId");
	long ds, de;
	int rc;
	if (!start)
		return intake_biz_missing(b, "StartDate");
	if (!end)
		return intake_biz_missing(b, "EndDate");
	if (!intake_valid_date(start, &ds))
		return intake_biz_invalid(b, "StartDate", "a date as yyyy-mm-dd.");
	if (!intake_valid_date(end, &de))
		return intake_biz_invalid(b, "EndDate", "a date as yyyy-mm-dd.");
	if (de < ds)
		return intake_biz_invalid(b, "EndDate", "EndDate is before StartDate.");
	if (de - ds + 1 > INTAKE_PAGE_MAX_DAYS)
		return intake_biz_invalid(b, "EndDate", "the range covers at most 90 days.");
	memcpy(ret->start_date, start, 11);
	memcpy(ret->end_date, end, 11);
	if (scene && !intake_valid_pos_int(scene, &ret->scene_id))
		return intake_biz_invalid(b, "SceneId", "a positive decimal number.");
	ret->product_code = intake_param_value(p, "ProductCode");
	if (ret->product_code && !intake_valid_enum(ret->product_code, ALL_PRODUCTS))
		return intake_biz_invalid(b, "ProductCode", "expected one of " ALL_PRODUCTS ".");
	if ((rc = page_int(p, "CurrentPage", 1, 1000000, &ret->current_page, b)) < 0 ||
	    (rc = page_int(p, "PageSize", 10, INTAKE_PAGE_MAX_SIZE, &ret->page_size, b)) < 0)
		return rc;
	return 0;
}

int intake_valid_product_value(const char *code)
{
	static const char *const names[] = {NULL,      "ID_PRO", "ID_MIN",    "LR_FR", "PV_FV",
					    "ID_PLUS", "MFVC",	 "LR_FR_MIN", "PV_FC"};
	for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (code && strcmp(code, names[i]) == 0)
			return i;
	return 0;
}

/* ---- fingerprint ---- */

/* Every business field of InitFaceVerify (API.md §3.1 plus the newer SDKs' flags). */
static const char *const init_fields[] = {
	"SceneId",
	"OuterOrderNo",
	"ProductCode",
	"Model",
	"CertType",
	"CertName",
	"CertNo",
	"MetaInfo",
	"Mobile",
	"Ip",
	"UserId",
	"CallbackUrl",
	"CallbackToken",
	"ReturnUrl",
	"CertifyUrlType",
	"CertifyUrlStyle",
	"FaceContrastPictureUrl",
	"CertifyId",
	"OssBucketName",
	"OssObjectName",
	"Crop",
	"AuthId",
	"EncryptType",
	"ProcedurePriority",
	"AppQualityCheck",
	"CameraSelection",
	"SuitableType",
	"RarelyCharacters",
	"ReadImg",
	"Mode",
	"Birthday",
	"ValidityDate",
	"VideoEvidence",
	"VoluntaryCustomizedContent",
	"FaceGuardOutput",
	"UiCustomUrl",
	"NeedMultiFaceCheck",
	"H5DegradeConfirmBtn",
	"EnableBeauty",
};

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

int intake_valid_fingerprint(const char *tag, const struct intake_params *p,
			     const char *const *fields, size_t n_fields,
			     const char *const *pictures, size_t n_pictures, const uint8_t key[32],
			     uint8_t ret[32])
{
	struct fp_buf f = {0};
	int rc = fp_add(&f, tag, strlen(tag));
	for (size_t i = 0; rc == 0 && i < n_fields; i++) {
		const char *v = intake_param_value(p, fields[i]);
		rc = fp_add(&f, fields[i], strlen(fields[i]));
		if (rc == 0)
			rc = v ? fp_add(&f, v, strlen(v)) : fp_add(&f, "\xff", 1);
	}
	/* A picture enters as its digest: the MAC input stays small. */
	for (size_t i = 0; rc == 0 && i < n_pictures; i++) {
		const struct intake_param *pic = intake_params_find(p, pictures[i]);
		uint8_t digest[32] = {0};
		rc = fp_add(&f, pictures[i], strlen(pictures[i]));
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

int intake_valid_init_fingerprint(const struct intake_params *p, const uint8_t key[32],
				  uint8_t ret[32])
{
	static const char *const pictures[] = {"FaceContrastPicture"};
	return intake_valid_fingerprint("InitFaceVerify/v1", p, init_fields,
					sizeof(init_fields) / sizeof(init_fields[0]), pictures, 1,
					key, ret);
}
