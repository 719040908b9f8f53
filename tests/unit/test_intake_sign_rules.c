/* test_intake_sign_rules — intake_sign's rules on synthetic variants of known-good captured
 * requests: Authorization and SignedHeaders parsing, header-level checks, the RPC common
 * parameters, the STS result and the SignatureDoesNotMatch echo. */
#include "intake/intake_sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "intake_test_req.h"

/* Heap copy of `s` with the first `from` replaced by `to` (a plain copy when absent). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) + strlen(to) + 1;
	char *o = malloc(n);
	if (o && at)
		snprintf(o, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	else if (o)
		snprintf(o, n, "%s", s);
	return o;
}

static void set_query(struct treq *t, char *q)
{
	free(t->query);
	t->query = q;
	t->query_len = strlen(q);
}

struct auth_case {
	const char *from, *to;
	int rc;
	enum intake_err err;
	const char *param;
};

static void test_acs3_rules(void)
{
	struct treq t = {0};
	REQUIRE(load_capture("vec-sdk-acs3-10-DescribeFaceVerify.txt", &t));
	char *good = strdup(treq_get_header(&t, "authorization"));
	const enum intake_err INC = INTAKE_ERR_INCOMPLETE_SIGNATURE;
	const struct auth_case cases[] = {
		{",SignedHeaders=", ", SignedHeaders=", 0, 0, ""},
		{",Signature=d734", " , Signature=D734", 0, 0, ""},
		{"Credential=testAccessKeyId,", "", -EINVAL, INC, "Credential"},
		{"Credential=testAccessKeyId", "Credential=", -EINVAL, INC, "Credential"},
		{"Credential=", "Credential=a,Credential=", -EINVAL, INC, "Credential"},
		{"Credential=", "Foo=bar,Credential=", -EINVAL, INC, "Authorization"},
		{"ACS3-HMAC-SHA256 ", "ACS3-HMAC-SHA256 ,", -EINVAL, INC, "Authorization"},
		{"ACS3-HMAC-SHA256", "ACS3-RSA-SHA256", -EINVAL,
		 INTAKE_ERR_INVALID_SIGNATURE_METHOD, "Authorization"},
		{"ACS3-HMAC-SHA256", "ACS4-HMAC-SHA256", -EINVAL,
		 INTAKE_ERR_INVALID_SIGNATURE_METHOD, "Authorization"},
		{"=host;", "=Host;", -EINVAL, INC, "SignedHeaders"},
		{"=host;", "=host;host;", -EINVAL, INC, "SignedHeaders"},
		{"=host;", "=host;;", -EINVAL, INC, "SignedHeaders"},
		{"x-acs-version,", "x-acs-version;,", -EINVAL, INC, "SignedHeaders"},
		{"x-acs-date;", "", -EINVAL, INC, "x-acs-date"},
		{"host;", "", -EINVAL, INC, "host"},
		{"=host;", "=host;x-missing;", -EINVAL, INC, "x-missing"},
		{"=host;", "=accept;host;", -EACCES, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH, ""},
		{"Signature=d", "Signature=", -EINVAL, INC, "Signature"},
		{"Signature=d", "Signature=g", -EINVAL, INC, "Signature"},
		{"Signature=d", "Signature=dd", -EINVAL, INC, "Signature"},
		{"Signature=d734", "Signature=e734", -EACCES, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH,
		 ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *a = replace(good, cases[i].from, cases[i].to);
		treq_set_header(&t, "Authorization", a);
		REQUIRE(treq_ready(&t, NULL) == 0);
		int rc = treq_verify(&t, SECRET, 0);
		if (rc != cases[i].rc || t.res.err != cases[i].err)
			fprintf(stderr, "  case %zu (%s): rc %d err %s\n", i, a, rc,
				intake_err_info(t.res.err)->code);
		CHECK_INT(rc, cases[i].rc);
		CHECK_INT(t.res.err, cases[i].err);
		CHECK_STR(t.res.param, cases[i].param);
		free(a);
	}
	treq_set_header(&t, "Authorization", good);

	/* Header-level rules. */
	treq_header(&t, "authorization", good);
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INCOMPLETE_SIGNATURE);
	t.nh--, free(t.hname[t.nh]), free(t.hvalue[t.nh]);
	treq_header(&t, "X-Acs-Date", "2025-06-01T08:00:00Z");
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_STR(t.res.param, "x-acs-date");
	t.nh--, free(t.hname[t.nh]), free(t.hvalue[t.nh]);
	treq_set_header(&t, "x-acs-date", "2025-06-01 08:00:00");
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INVALID_TIMESTAMP_FORMAT);
	treq_set_header(&t, "x-acs-date", "2025-06-01T08:00:00Z");
	char nonce[200];
	memset(nonce, 'n', 129);
	nonce[129] = '\0';
	treq_set_header(&t, "x-acs-signature-nonce", nonce);
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INVALID_PARAMETER);
	treq_set_header(&t, "x-acs-signature-nonce",
			"c1e1f7a0b2d34e5f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f");
	/* Header names match in any case; unsigned extra headers are ignored. */
	free(t.hname[0]);
	t.hname[0] = strdup("HOST");
	treq_header(&t, "x-acs-unsigned-extra", "1");
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), 0);
	/* An unsigned security token still yields the distinct STS result. */
	treq_header(&t, "x-acs-security-token", "tok");
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(intake_sign_parse(&t.req, &t.parsed, &t.res), -EPERM);
	CHECK_INT(t.res.err, INTAKE_ERR_SECURITY_TOKEN_UNSUPPORTED);
	CHECK_INT(intake_err_info(t.res.err)->http_status, 400);
	CHECK_INT(intake_sign_check(&t.parsed, SECRET, strlen(SECRET), t.parsed.timestamp, &t.res),
		  0);
	free(good);
	treq_free(&t);
}

static void test_rpc_rules(void)
{
	struct treq t = {0};
	REQUIRE(load_capture("vec-popcore-get-07-DescribeFaceVerify.txt", &t));
	char *good = strdup(t.query);
	static const char *const req[] = {"AccessKeyId=testAccessKeyId&",
					  "SignatureMethod=HMAC-SHA1&",
					  "SignatureVersion=1.0&",
					  "Timestamp=2025-06-01T08%3A00%3A00Z&",
					  "SignatureNonce=172fdf33a8e25b55209cc57dce283222&",
					  "&Signature=0krQ"};
	static const char *const code[] = {"MissingAccessKeyId",      "MissingSignatureMethod",
					   "MissingSignatureVersion", "MissingTimestamp",
					   "MissingSignatureNonce",   "MissingSignature"};
	char c[64], m[256];
	for (size_t i = 0; i < 6; i++) {
		set_query(&t, replace(good, req[i], i == 5 ? "&Unsigned=0krQ" : ""));
		REQUIRE(treq_ready(&t, NULL) == 0);
		CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
		CHECK_INT(t.res.err, INTAKE_ERR_MISSING_PARAMETER);
		CHECK(intake_sign_result_render(&t.res, c, sizeof(c), m, sizeof(m)) == 0);
		CHECK_STR(c, code[i]);
	}
	const struct auth_case cases[] = {
		{"=HMAC-SHA1", "=HMAC-SHA256", -EINVAL, INTAKE_ERR_INVALID_SIGNATURE_METHOD,
		 "SignatureMethod"},
		{"Version=1.0", "Version=2.0", -EINVAL, INTAKE_ERR_INVALID_PARAMETER,
		 "SignatureVersion"},
		{"2025-06-01T08%3A00%3A00Z", "2025-06-01", -EINVAL,
		 INTAKE_ERR_INVALID_TIMESTAMP_FORMAT, "Timestamp"},
		{"Signature=0krQiC8fOy5l%2F7u67toe6PABmc0%3D", "Signature=", -EINVAL,
		 INTAKE_ERR_MISSING_PARAMETER, "Signature"},
		{"Signature=0krQ", "Signature=0k", -EINVAL, INTAKE_ERR_INCOMPLETE_SIGNATURE,
		 "Signature"},
		{"Signature=0krQ", "Signature=0k%3D", -EINVAL, INTAKE_ERR_INCOMPLETE_SIGNATURE,
		 "Signature"},
		{"Signature=0krQ", "Signature=1krQ", -EACCES, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH,
		 ""},
		{"AccessKeyId=testAccessKeyId", "AccessKeyId=%0A", -EINVAL,
		 INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND, ""},
		{"Nonce=172f", "Nonce=%20172f", -EINVAL, INTAKE_ERR_INVALID_PARAMETER,
		 "SignatureNonce"},
		{"Format=JSON", "Format=JSON&SecurityToken=tok", -EPERM,
		 INTAKE_ERR_SECURITY_TOKEN_UNSUPPORTED, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_query(&t, replace(good, cases[i].from, cases[i].to));
		REQUIRE(treq_ready(&t, NULL) == 0);
		int rc = intake_sign_parse(&t.req, &t.parsed, &t.res);
		if (rc == 0)
			rc = intake_sign_check(&t.parsed, SECRET, strlen(SECRET),
					       t.parsed.timestamp, &t.res);
		if (rc != cases[i].rc || t.res.err != cases[i].err)
			fprintf(stderr, "  rpc case %zu: rc %d err %s\n", i, rc,
				intake_err_info(t.res.err)->code);
		CHECK_INT(rc, cases[i].rc);
		CHECK_INT(t.res.err, cases[i].err);
		CHECK_STR(t.res.param, cases[i].param);
	}
	/* No signature of any kind. */
	set_query(&t, strdup("CertifyId=x&SceneId=1"));
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INCOMPLETE_SIGNATURE);
	/* A foreign Authorization scheme does not hide the RPC signature... */
	set_query(&t, strdup(good));
	treq_header(&t, "Authorization", "Basic dXNlcjpwYXNz");
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), 0);
	/* ...but alone it is an unsupported method. */
	set_query(&t, strdup("CertifyId=x"));
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INVALID_SIGNATURE_METHOD);
	free(good);
	treq_free(&t);

	/* A literal '+' in the query Signature (decoded as ' ') still verifies. */
	REQUIRE(load_capture("sdk-v2rpc-09-InitFaceVerify.txt", &t));
	char *plus = replace(t.query, "Signature=1b%2BIdr%2FzX%2BXWN", "Signature=1b+Idr%2FzX+XWN");
	set_query(&t, replace(plus, "G%2BfU", "G+fU"));
	free(plus);
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, SECRET, 0), 0);
	treq_free(&t);

	/* Duplicates that slipped past a lenient parse are refused. */
	struct intake_params_limits lim;
	intake_params_limits_default(&lim);
	lim.allow_duplicates = true;
	REQUIRE(load_capture("vec-popcore-get-07-DescribeFaceVerify.txt", &t));
	intake_params_done(&t.params);
	set_query(&t, replace(t.query, "Format=JSON", "Format=JSON&Format=XML"));
	REQUIRE(intake_params_parse(&t.params, t.query, t.query_len, NULL, 0, &lim, NULL) == 0);
	CHECK_INT(intake_sign_parse(&t.req, &t.parsed, &t.res), -EINVAL);
	CHECK_INT(t.res.err, INTAKE_ERR_INVALID_PARAMETER);
	CHECK_STR(t.res.param, "Format");
	treq_free(&t);
}

static void test_render(void)
{
	struct treq t = {0};
	char c[64], *m = malloc(1 << 16);
	REQUIRE(m && load_capture("vec-popcore-post-08-InitFaceVerify.txt", &t));
	CHECK_INT(treq_verify(&t, "wrong", 0), -EACCES);
	CHECK(intake_sign_result_render(&t.res, c, sizeof(c), m, 1 << 16) == 0);
	CHECK_STR(c, "SignatureDoesNotMatch");
	const char *tail = strstr(m, " server string to sign is:");
	CHECK(tail && !strncmp(m, "Specified signature is not matched with our calculation.", 56));
	CHECK(tail && !strcmp(tail + 26, t.res.string_to_sign));
	CHECK(!strncmp(t.res.string_to_sign, "POST&%2F&AccessKeyId%3DtestAccessKeyId%26", 41));
	CHECK_INT(intake_sign_result_render(&t.res, c, sizeof(c), m, 100), -ENOSPC);
	CHECK_INT(strlen(m), 99);
	treq_free(&t);

	REQUIRE(load_capture("vec-sdk-acs3-11-InitFaceVerify.txt", &t));
	CHECK_INT(treq_verify(&t, "wrong", 0), -EACCES);
	CHECK(intake_sign_result_render(&t.res, c, sizeof(c), m, 1 << 16) == 0);
	CHECK(!strncmp(m,
		       "Specified signature does not match our calculation. server StringToSign "
		       "is [ACS3-HMAC-SHA256\n39576b79b955e8adf6d5d1dda15403f1651fcb66c57a6d889a922"
		       "085fc7123a0], CanonicalRequest is [POST\n/\nCallbackToken=tok-123&",
		       200));
	CHECK(m[strlen(m) - 1] == ']');
	treq_free(&t);

	/* Other errors render from the table. */
	struct intake_sign_result r;
	intake_sign_result_init(&r);
	r.err = INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED;
	CHECK(intake_sign_result_render(&r, c, sizeof(c), m, 1 << 16) == 0);
	CHECK_STR(c, "InvalidTimeStamp.Expired");
	CHECK_STR(m, "Specified time stamp or date value is expired.");
	intake_sign_result_done(&r);
	intake_sign_result_done(NULL);
	CHECK_STR(intake_sign_scheme_name(INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3), "ACS3-HMAC-SM3");
	free(m);
}

UNIT_MAIN("intake_sign_rules", UNIT_CASE(test_acs3_rules), UNIT_CASE(test_rpc_rules),
	  UNIT_CASE(test_render))
