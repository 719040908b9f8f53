/* intake_sign — verification of RPC HMAC-SHA1 and ACS3-HMAC-SHA256/SM3 request signatures:
 * scheme detection and field extraction (parse), canonicalisation, the clock window and the
 * constant-time comparison (check), and the error text (render). API.md §4 is the spec. */
#include "intake/intake_sign.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "intake/intake_canon.h"

#define RPC_SIG_LEN  28 /* Base64 of a 20-byte HMAC-SHA1 */
#define ACS3_SIG_LEN 64 /* hex of a 32-byte HMAC-SHA256/SM3 */

static const char *const acs3_required[] = {
	"host",	      "x-acs-action",	       "x-acs-version",
	"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256",
};

/* ---- small helpers ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimmed view of `s`. */
static const char *trim(const char *s, size_t *ret_len)
{
	size_t n = strlen(s);
	while (n && is_ws(*s))
		s++, n--;
	while (n && is_ws(s[n - 1]))
		n--;
	*ret_len = n;
	return s;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static size_t header_count(const struct intake_sign_request *req, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < req->n_headers; i++)
		if (ascii_ieq(req->headers[i].name, name))
			n++;
	return n;
}

static const char *header_get(const struct intake_sign_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (ascii_ieq(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

static int set_err(struct intake_sign_result *r, enum intake_err e, const char *param,
		   const char *detail, int rc)
{
	r->err = e;
	r->detail = detail;
	r->param[0] = '\0';
	if (param) {
		size_t n = strlen(param);
		if (n > INTAKE_PARAMS_NAME_ECHO_MAX)
			n = INTAKE_PARAMS_NAME_ECHO_MAX;
		memcpy(r->param, param, n);
		r->param[n] = '\0';
	}
	return rc;
}

/* ---- time ---- */

static bool digits(const char *s, size_t n, int *ret)
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

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	int yoe = (int)(y - era * 400);
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int intake_sign_parse_time(const char *s, size_t len, time_t *ret)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, se;

	if (!s || len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[len - 1] != 'Z')
		return -EINVAL;
	if (len > 20) {
		/* ".f" to ".fffffffff" */
		if (s[19] != '.' || len < 22 || len > 30)
			return -EINVAL;
		int frac;
		if (!digits(s + 20, len - 21, &frac))
			return -EINVAL;
	}
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap))
		return -EINVAL;
	*ret = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se);
	return 0;
}

bool intake_sign_time_in_window(time_t ts, time_t now)
{
	long long diff = (long long)ts - (long long)now;
	return diff >= -INTAKE_SIGN_WINDOW_SECONDS && diff <= INTAKE_SIGN_WINDOW_SECONDS;
}

/* ---- parse ---- */

static int take_nonce(const char *v, const char *name, struct intake_sign_parsed *ret,
		      struct intake_sign_result *res)
{
	size_t n = strlen(v);
	if (n == 0)
		return set_err(res, INTAKE_ERR_MISSING_PARAMETER, name, NULL, -EINVAL);
	if (n > INTAKE_SIGN_MAX_NONCE || !printable(v, n))
		return set_err(res, INTAKE_ERR_INVALID_PARAMETER, name,
			       "A nonce is 1 to 128 printable ASCII characters.", -EINVAL);
	memcpy(ret->nonce, v, n + 1);
	return 0;
}

static int take_akid(const char *v, size_t n, struct intake_sign_parsed *ret,
		     struct intake_sign_result *res)
{
	if (n > INTAKE_SIGN_MAX_AKID || !printable(v, n))
		return set_err(res, INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND, NULL, NULL,
			       -EINVAL);
	memcpy(ret->access_key_id, v, n);
	ret->access_key_id[n] = '\0';
	return 0;
}

static int take_time(const char *v, size_t n, const char *name, struct intake_sign_parsed *ret,
		     struct intake_sign_result *res)
{
	if (intake_sign_parse_time(v, n, &ret->timestamp) < 0)
		return set_err(res, INTAKE_ERR_INVALID_TIMESTAMP_FORMAT, name,
			       "Use ISO 8601 UTC, e.g. 2025-06-01T08:00:00Z.", -EINVAL);
	return 0;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static int parse_rpc(const struct intake_sign_request *req, struct intake_sign_parsed *ret,
		     struct intake_sign_result *res)
{
	static const char *const required[] = {"AccessKeyId", "SignatureMethod", "SignatureVersion",
					       "Timestamp",   "SignatureNonce",	 "Signature"};
	const struct intake_params *ps = req->params;
	const char *dup = intake_params_find_duplicate(ps);
	int rc;

	if (dup)
		return set_err(res, INTAKE_ERR_INVALID_PARAMETER, dup,
			       "Parameter given more than once.", -EINVAL);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		const char *v = intake_params_get(ps, required[i]);
		if (!v || !*v)
			return set_err(res, INTAKE_ERR_MISSING_PARAMETER, required[i], NULL,
				       -EINVAL);
	}
	ret->scheme = INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1;
	res->scheme = ret->scheme;
	if (strcmp(intake_params_get(ps, "SignatureMethod"), "HMAC-SHA1") != 0)
		return set_err(res, INTAKE_ERR_INVALID_SIGNATURE_METHOD, "SignatureMethod",
			       "RPC requests must use HMAC-SHA1.", -EINVAL);
	if (strcmp(intake_params_get(ps, "SignatureVersion"), "1.0") != 0)
		return set_err(res, INTAKE_ERR_INVALID_PARAMETER, "SignatureVersion",
			       "Only SignatureVersion 1.0 is supported.", -EINVAL);
	const struct intake_param *ak = intake_params_find(ps, "AccessKeyId");
	if ((rc = take_akid(ak->value, ak->value_len, ret, res)) < 0)
		return rc;
	const struct intake_param *ts = intake_params_find(ps, "Timestamp");
	if ((rc = take_time(ts->value, ts->value_len, "Timestamp", ret, res)) < 0)
		return rc;
	if ((rc = take_nonce(intake_params_get(ps, "SignatureNonce"), "SignatureNonce", ret, res)) <
	    0)
		return rc;

	/* A literal '+' in an unencoded query Signature was decoded to ' '; ' ' is never
	 * Base64, so mapping it back is unambiguous. */
	const struct intake_param *sig = intake_params_find(ps, "Signature");
	bool ok = sig->value_len == RPC_SIG_LEN;
	for (size_t i = 0; ok && i < RPC_SIG_LEN; i++) {
		char c = sig->value[i] == ' ' ? '+' : sig->value[i];
		ok = b64_char(c) || (c == '=' && i == RPC_SIG_LEN - 1);
		ret->signature[i] = c;
	}
	if (!ok)
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "Signature",
			       "Signature must be the Base64 of an HMAC-SHA1 (28 characters).",
			       -EINVAL);
	ret->signature[RPC_SIG_LEN] = '\0';
	ret->action = intake_params_get(ps, "Action");
	ret->version = intake_params_get(ps, "Version");
	const char *tok = intake_params_get(ps, "SecurityToken");
	const char *htok = header_get(req, "x-acs-security-token");
	ret->has_security_token = (tok && *tok) || (htok && *htok);
	return 0;
}

static bool header_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* Validates the SignedHeaders text (lower-case tokens joined by ';', no duplicates, bounded)
 * and copies it into ret->signed_headers. */
static int take_signed_headers(const char *v, size_t n, const struct intake_sign_request *req,
			       struct intake_sign_parsed *ret, struct intake_sign_result *res)
{
	size_t count = 0;
	if (n == 0 || n > INTAKE_SIGN_MAX_SIGNED_HDRS_TEXT)
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "SignedHeaders",
			       "SignedHeaders is empty or too long.", -EINVAL);
	memcpy(ret->signed_headers, v, n);
	ret->signed_headers[n] = '\0';
	for (const char *s = ret->signed_headers; *s;) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0 || ++count > INTAKE_SIGN_MAX_SIGNED_HEADERS)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "SignedHeaders",
				       "SignedHeaders has an empty entry or too many entries.",
				       -EINVAL);
		for (size_t i = 0; i < len; i++)
			if (!header_name_char(s[i]))
				return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE,
					       "SignedHeaders",
					       "SignedHeaders must list lower-case header names.",
					       -EINVAL);
		/* Duplicates: compare with every earlier entry. */
		for (const char *t = ret->signed_headers; t < s;) {
			const char *te = strchr(t, ';');
			if ((size_t)(te - t) == len && memcmp(t, s, len) == 0)
				return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE,
					       "SignedHeaders", "SignedHeaders lists a name twice.",
					       -EINVAL);
			t = te + 1;
		}
		char name[INTAKE_SIGN_MAX_SIGNED_HDRS_TEXT + 1];
		memcpy(name, s, len);
		name[len] = '\0';
		if (header_count(req, name) == 0)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, name,
				       "A signed header is missing from the request.", -EINVAL);
		if (!e)
			break;
		s = e + 1;
		if (!*s)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "SignedHeaders",
				       "SignedHeaders has an empty entry or too many entries.",
				       -EINVAL);
	}
	return 0;
}

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = list; s;) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == n && memcmp(s, name, n) == 0)
			return true;
		s = e ? e + 1 : NULL;
	}
	return false;
}

/* Splits "Credential=..,SignedHeaders=..,Signature=.." (optional spaces around commas). */
static int parse_auth_fields(const char *s, const char *f[3], size_t fl[3],
			     struct intake_sign_result *res)
{
	static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
	for (;;) {
		while (is_ws(*s))
			s++;
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		while (len && is_ws(s[len - 1]))
			len--;
		const char *eq = memchr(s, '=', len);
		int which = -1;
		for (int i = 0; eq && i < 3; i++)
			if ((size_t)(eq - s) == strlen(names[i]) && !memcmp(s, names[i], eq - s))
				which = i;
		if (which < 0)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "Authorization",
				       "Authorization must be '<algorithm> Credential=<id>,"
				       "SignedHeaders=<list>,Signature=<hex>'.",
				       -EINVAL);
		if (f[which])
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, names[which],
				       "Authorization repeats a field.", -EINVAL);
		f[which] = eq + 1;
		fl[which] = len - (size_t)(eq + 1 - s);
		if (!e)
			break;
		s = e + 1;
	}
	for (int i = 0; i < 3; i++)
		if (!f[i] || fl[i] == 0)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, names[i],
				       "Authorization lacks a field or its value.", -EINVAL);
	return 0;
}

static int parse_acs3(const struct intake_sign_request *req, const char *auth,
		      struct intake_sign_parsed *ret, struct intake_sign_result *res)
{
	const char *f[3] = {NULL, NULL, NULL};
	size_t fl[3] = {0, 0, 0};
	size_t alen = 0, n;
	int rc;

	while (is_ws(*auth))
		auth++;
	while (auth[alen] && !is_ws(auth[alen]))
		alen++;
	if (alen == 16 && memcmp(auth, "ACS3-HMAC-SHA256", 16) == 0)
		ret->scheme = INTAKE_SIGN_SCHEME_ACS3_HMAC_SHA256;
	else if (alen == 13 && memcmp(auth, "ACS3-HMAC-SM3", 13) == 0 && crypto_have_sm3())
		ret->scheme = INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3;
	else
		return set_err(res, INTAKE_ERR_INVALID_SIGNATURE_METHOD, "Authorization",
			       "Supported: ACS3-HMAC-SHA256, ACS3-HMAC-SM3 (when available) and "
			       "RPC HMAC-SHA1.",
			       -EINVAL);
	res->scheme = ret->scheme;
	if ((rc = parse_auth_fields(auth + alen, f, fl, res)) < 0)
		return rc;
	if (fl[0] > INTAKE_SIGN_MAX_AKID || !printable(f[0], fl[0]))
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "Credential",
			       "Credential must be an AccessKeyId.", -EINVAL);
	if ((rc = take_akid(f[0], fl[0], ret, res)) < 0)
		return rc;
	bool hex_ok = fl[2] == ACS3_SIG_LEN;
	for (size_t i = 0; hex_ok && i < ACS3_SIG_LEN; i++) {
		char c = lower(f[2][i]);
		hex_ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		ret->signature[i] = c;
	}
	if (!hex_ok)
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "Signature",
			       "Signature must be 64 hex digits.", -EINVAL);
	ret->signature[ACS3_SIG_LEN] = '\0';
	if ((rc = take_signed_headers(f[1], fl[1], req, ret, res)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(acs3_required) / sizeof(acs3_required[0]); i++) {
		if (!list_has(ret->signed_headers, acs3_required[i]))
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, acs3_required[i],
				       "SignedHeaders must cover host, x-acs-action, "
				       "x-acs-version, x-acs-date, x-acs-signature-nonce and "
				       "x-acs-content-sha256.",
				       -EINVAL);
		if (header_count(req, acs3_required[i]) != 1)
			return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, acs3_required[i],
				       "A required signed header is given more than once.",
				       -EINVAL);
	}
	const char *date = trim(header_get(req, "x-acs-date"), &n);
	if ((rc = take_time(date, n, "x-acs-date", ret, res)) < 0)
		return rc;
	char nonce[INTAKE_SIGN_MAX_NONCE + 2];
	const char *nv = trim(header_get(req, "x-acs-signature-nonce"), &n);
	n = n > INTAKE_SIGN_MAX_NONCE ? INTAKE_SIGN_MAX_NONCE + 1 : n;
	memcpy(nonce, nv, n);
	nonce[n] = '\0';
	if ((rc = take_nonce(nonce, "x-acs-signature-nonce", ret, res)) < 0)
		return rc;
	ret->action = header_get(req, "x-acs-action");
	ret->version = header_get(req, "x-acs-version");
	const char *tok = header_get(req, "x-acs-security-token");
	ret->has_security_token = tok && *tok;
	return 0;
}

static bool rpc_hint(const struct intake_params *ps)
{
	return intake_params_find(ps, "Signature") || intake_params_find(ps, "AccessKeyId") ||
	       intake_params_find(ps, "SignatureMethod") ||
	       intake_params_find(ps, "SignatureNonce");
}

int intake_sign_parse(const struct intake_sign_request *req, struct intake_sign_parsed *ret,
		      struct intake_sign_result *res)
{
	int rc;

	assert(req && req->method && req->params && ret && res);
	*ret = (struct intake_sign_parsed){.req = req};
	res->err = INTAKE_ERR_NONE;
	res->param[0] = '\0';
	res->detail = NULL;
	res->scheme = INTAKE_SIGN_SCHEME_NONE;

	size_t n_auth = header_count(req, "authorization");
	const char *auth = header_get(req, "authorization");
	if (n_auth > 1)
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, "Authorization",
			       "Authorization is given more than once.", -EINVAL);
	/* A foreign Authorization (e.g. a proxy's Basic) does not hide an RPC signature. */
	if (auth && (strncmp(auth + strspn(auth, " \t"), "ACS", 3) == 0 || !rpc_hint(req->params)))
		rc = parse_acs3(req, auth, ret, res);
	else if (rpc_hint(req->params))
		rc = parse_rpc(req, ret, res);
	else
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, NULL,
			       "The request has neither an Authorization header nor a Signature "
			       "parameter.",
			       -EINVAL);
	if (rc < 0)
		return rc;
	if (ret->has_security_token)
		return set_err(res, INTAKE_ERR_SECURITY_TOKEN_UNSUPPORTED, NULL, NULL, -EPERM);
	return 0;
}

/* ---- check ---- */

static int check_rpc(const struct intake_sign_parsed *p, const char *secret, size_t secret_len,
		     struct intake_sign_result *res, bool *ret_match)
{
	const struct intake_sign_request *req = p->req;
	struct intake_canon_buf canon = {0}, sts = {0};
	uint8_t mac[CRYPTO_SHA1_LEN];
	char b64[RPC_SIG_LEN + 1];
	char *key = NULL;
	int rc = intake_canon_pairs(&canon, req->params, false, true);

	intake_canon_buf_str(&sts, req->method);
	intake_canon_buf_add(&sts, "&%2F&", 5);
	if (canon.p)
		intake_canon_buf_pct(&sts, canon.p, canon.len);
	if (rc < 0 || (rc = sts.err) < 0)
		goto out;
	key = malloc(secret_len + 1);
	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(key, secret, secret_len);
	key[secret_len] = '&';
	rc = crypto_hmac(CRYPTO_HASH_SHA1, key, secret_len + 1, sts.p, sts.len, mac);
	crypto_wipe(key, secret_len + 1);
	if (rc < 0)
		goto out;
	crypto_b64_encode(mac, sizeof(mac), b64);
	*ret_match = crypto_equal(b64, p->signature, RPC_SIG_LEN);
	res->canonical = canon.p, res->canonical_len = canon.len;
	res->string_to_sign = sts.p, res->string_to_sign_len = sts.len;
	canon = (struct intake_canon_buf){0}, sts = (struct intake_canon_buf){0};
out:
	free(key);
	intake_canon_buf_free(&canon);
	intake_canon_buf_free(&sts);
	return rc;
}

struct span {
	const char *p;
	size_t n;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* "name:v1,v2\n" for every SignedHeaders entry, values trimmed and sorted. */
static void canon_headers(struct intake_canon_buf *b, const struct intake_sign_parsed *p)
{
	const struct intake_sign_request *req = p->req;
	struct span *vals = malloc((req->n_headers ? req->n_headers : 1) * sizeof(*vals));
	char name[INTAKE_SIGN_MAX_SIGNED_HDRS_TEXT + 1];

	if (!vals) {
		b->err = b->err ? b->err : -ENOMEM;
		return;
	}
	for (const char *s = p->signed_headers; s && *s;) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s), nv = 0;
		memcpy(name, s, len);
		name[len] = '\0';
		for (size_t i = 0; i < req->n_headers; i++)
			if (ascii_ieq(req->headers[i].name, name))
				vals[nv].p = trim(req->headers[i].value, &vals[nv].n), nv++;
		qsort(vals, nv, sizeof(*vals), cmp_span);
		intake_canon_buf_add(b, name, len);
		intake_canon_buf_add(b, ":", 1);
		for (size_t i = 0; i < nv; i++) {
			if (i)
				intake_canon_buf_add(b, ",", 1);
			intake_canon_buf_add(b, vals[i].p, vals[i].n);
		}
		intake_canon_buf_add(b, "\n", 1);
		s = e ? e + 1 : NULL;
	}
	free(vals);
}

static bool hex_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static int check_acs3(const struct intake_sign_parsed *p, const char *secret, size_t secret_len,
		      struct intake_sign_result *res, bool *ret_match)
{
	const struct intake_sign_request *req = p->req;
	enum crypto_hash h = p->scheme == INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3 ? CRYPTO_HASH_SM3
									   : CRYPTO_HASH_SHA256;
	const char *alg = p->scheme == INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3 ? "ACS3-HMAC-SM3"
									: "ACS3-HMAC-SHA256";
	struct intake_canon_buf creq = {0}, sts = {0};
	uint8_t dig[CRYPTO_SHA256_LEN];
	char body_hex[2 * CRYPTO_SHA256_LEN + 1], creq_hex[2 * CRYPTO_SHA256_LEN + 1];
	char sig_hex[2 * CRYPTO_SHA256_LEN + 1];
	size_t claimed_len;
	int rc;

	rc = crypto_hash(h, req->body_len ? req->body : "", req->body_len, dig);
	if (rc < 0)
		goto out;
	crypto_hex(dig, sizeof(dig), body_hex);
	const char *claimed = trim(header_get(req, "x-acs-content-sha256"), &claimed_len);
	bool payload_ok = hex_ieq(claimed, claimed_len, body_hex, strlen(body_hex));

	intake_canon_buf_str(&creq, req->method);
	intake_canon_buf_add(&creq, "\n", 1);
	intake_canon_buf_str(&creq, req->path && *req->path ? req->path : "/");
	intake_canon_buf_add(&creq, "\n", 1);
	if ((rc = intake_canon_pairs(&creq, req->params, true, false)) < 0)
		goto out;
	intake_canon_buf_add(&creq, "\n", 1);
	canon_headers(&creq, p);
	intake_canon_buf_add(&creq, "\n", 1);
	intake_canon_buf_str(&creq, p->signed_headers);
	intake_canon_buf_add(&creq, "\n", 1);
	intake_canon_buf_str(&creq, body_hex);
	if ((rc = creq.err) < 0)
		goto out;
	if ((rc = crypto_hash(h, creq.p, creq.len, dig)) < 0)
		goto out;
	crypto_hex(dig, sizeof(dig), creq_hex);
	intake_canon_buf_str(&sts, alg);
	intake_canon_buf_add(&sts, "\n", 1);
	intake_canon_buf_str(&sts, creq_hex);
	if ((rc = sts.err) < 0)
		goto out;
	if ((rc = crypto_hmac(h, secret, secret_len, sts.p, sts.len, dig)) < 0)
		goto out;
	crypto_hex(dig, sizeof(dig), sig_hex);
	*ret_match = crypto_equal(sig_hex, p->signature, ACS3_SIG_LEN) && payload_ok;
	if (!payload_ok)
		res->detail = "x-acs-content-sha256 does not match the request body.";
	res->canonical = creq.p, res->canonical_len = creq.len;
	res->string_to_sign = sts.p, res->string_to_sign_len = sts.len;
	creq = (struct intake_canon_buf){0}, sts = (struct intake_canon_buf){0};
out:
	intake_canon_buf_free(&creq);
	intake_canon_buf_free(&sts);
	return rc;
}

int intake_sign_check(const struct intake_sign_parsed *p, const char *secret, size_t secret_len,
		      time_t now, struct intake_sign_result *res)
{
	bool match = false;
	int rc;

	assert(p && p->req && res && (secret || !secret_len));
	intake_sign_result_done(res);
	res->scheme = p->scheme;
	if (!secret)
		secret = "";
	if (!intake_sign_time_in_window(p->timestamp, now))
		return set_err(
			res, INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED,
			p->scheme == INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1 ? "Timestamp" : "x-acs-date",
			"The request time is more than 15 minutes from the server's.", -EACCES);
	switch (p->scheme) {
	case INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1:
		rc = check_rpc(p, secret, secret_len, res, &match);
		break;
	case INTAKE_SIGN_SCHEME_ACS3_HMAC_SHA256:
	case INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3:
		rc = check_acs3(p, secret, secret_len, res, &match);
		break;
	default:
		return set_err(res, INTAKE_ERR_INCOMPLETE_SIGNATURE, NULL, NULL, -EINVAL);
	}
	if (rc < 0)
		return set_err(res, INTAKE_ERR_INTERNAL_ERROR, NULL, NULL, rc);
	if (!match)
		return set_err(res, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH, NULL, res->detail,
			       -EACCES);
	return set_err(res, INTAKE_ERR_NONE, NULL, NULL, 0);
}

/* ---- results ---- */

void intake_sign_result_init(struct intake_sign_result *r)
{
	*r = (struct intake_sign_result){0};
}

void intake_sign_result_done(struct intake_sign_result *r)
{
	if (!r)
		return;
	free(r->canonical);
	free(r->string_to_sign);
	intake_sign_result_init(r);
}

struct text {
	char *p;
	size_t cap, len;
	bool truncated;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + 1 >= t->cap) {
		t->truncated = t->truncated || n > 0;
		return;
	}
	size_t room = t->cap - 1 - t->len;
	if (n > room) {
		n = room;
		t->truncated = true;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

int intake_sign_result_render(const struct intake_sign_result *r, char *code, size_t code_cap,
			      char *msg, size_t msg_cap)
{
	if (r->err != INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH || !r->string_to_sign)
		return intake_err_render(r->err, r->param[0] ? r->param : NULL, r->detail, code,
					 code_cap, msg, msg_cap);

	struct text c = {code, code_cap, 0, false}, m = {msg, msg_cap, 0, false};
	const char *name = intake_err_info(r->err)->code;
	if (code_cap)
		code[0] = '\0';
	if (msg_cap)
		msg[0] = '\0';
	text_add(&c, name, strlen(name));
	if (r->scheme == INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1) {
		/* Old core SDKs compare the text after "is:" with their own string-to-sign. */
		const char *head = intake_err_info(r->err)->message;
		text_add(&m, head, strlen(head));
		text_add(&m, " server string to sign is:", 26);
		text_add(&m, r->string_to_sign, r->string_to_sign_len);
	} else {
		static const char head[] = "Specified signature does not match our calculation.";
		text_add(&m, head, sizeof(head) - 1);
		if (r->detail) {
			text_add(&m, " ", 1);
			text_add(&m, r->detail, strlen(r->detail));
		}
		text_add(&m, " server StringToSign is [", 25);
		text_add(&m, r->string_to_sign, r->string_to_sign_len);
		text_add(&m, "], CanonicalRequest is [", 24);
		if (r->canonical)
			text_add(&m, r->canonical, r->canonical_len);
		text_add(&m, "]", 1);
	}
	return c.truncated || m.truncated ? -ENOSPC : 0;
}

const char *intake_sign_scheme_name(enum intake_sign_scheme s)
{
	switch (s) {
	case INTAKE_SIGN_SCHEME_NONE:
		return "none";
	case INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1:
		return "HMAC-SHA1";
	case INTAKE_SIGN_SCHEME_ACS3_HMAC_SHA256:
		return "ACS3-HMAC-SHA256";
	case INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3:
		return "ACS3-HMAC-SM3";
	}
	return "unknown";
}
