/* test_intake_sign — signature verification against the shared evidence, read at run time from
 * $SHIREN_SHARED_DIR (default ../shared, relative to the repo root): every vector in
 * cloudauth/vectors.json reproduces and every request in cloudauth/captures/ verifies with the
 * clock pinned to its own timestamp; tampered copies, stale clocks and malformed signatures are
 * rejected with the right error. */
#include "intake/intake_sign.h"
#include "intake/intake_canon.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "unit.h"
#include "intake_test_req.h"

/* ---- a minimal JSON reader, enough for vectors.json ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jv {
	enum jtype t;
	char *s; /* J_STR: decoded UTF-8 */
	size_t slen;
	double num;
	size_t n;
	char **keys;	 /* J_OBJ */
	struct jv *kids; /* J_ARR, J_OBJ */
};

static void jfree(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jfree(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	free(v->s);
}

static void jws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t')
		(*p)++;
}

static void utf8_put(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static bool jstring(const char **p, char **ret, size_t *ret_len)
{
	const char *s = *p + 1, *e = s;
	while (*e && *e != '"')
		e += *e == '\\' && e[1] ? 2 : 1;
	if (*e != '"')
		return false;
	char *o = malloc((size_t)(e - s) + 1);
	size_t n = 0;
	for (const char *c = s; o && c < e; c++) {
		if (*c != '\\') {
			o[n++] = *c;
			continue;
		}
		c++;
		unsigned cp = 0;
		switch (*c) {
		case 'n':
			o[n++] = '\n';
			break;
		case 't':
			o[n++] = '\t';
			break;
		case 'r':
			o[n++] = '\r';
			break;
		case 'b':
			o[n++] = '\b';
			break;
		case 'f':
			o[n++] = '\f';
			break;
		case 'u':
			if (sscanf(c + 1, "%4x", &cp) != 1)
				cp = '?';
			c += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && c[1] == '\\' && c[2] == 'u') {
				unsigned lo = 0;
				if (sscanf(c + 3, "%4x", &lo) == 1 && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					c += 6;
				}
			}
			utf8_put(o, &n, cp);
			break;
		default:
			o[n++] = *c;
		}
	}
	if (!o)
		return false;
	o[n] = '\0';
	*ret = o;
	*ret_len = n;
	*p = e + 1;
	return true;
}

static bool jparse(const char **p, struct jv *v, int depth)
{
	*v = (struct jv){0};
	jws(p);
	if (depth > 32)
		return false;
	if (**p == '"') {
		v->t = J_STR;
		return jstring(p, &v->s, &v->slen);
	}
	if (**p == '{' || **p == '[') {
		bool obj = **p == '{';
		v->t = obj ? J_OBJ : J_ARR;
		(*p)++;
		for (;;) {
			jws(p);
			if (**p == (obj ? '}' : ']')) {
				(*p)++;
				return true;
			}
			if (v->n && *(*p)++ != ',')
				return false;
			jws(p);
			v->kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
			if (obj)
				v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
			if (!v->kids || (obj && !v->keys))
				return false;
			v->kids[v->n] = (struct jv){0};
			if (obj) {
				size_t kl;
				v->keys[v->n] = NULL;
				if (**p != '"' || !jstring(p, &v->keys[v->n], &kl))
					return v->n++, false;
				jws(p);
				if (*(*p)++ != ':')
					return v->n++, false;
			}
			if (!jparse(p, &v->kids[v->n++], depth + 1))
				return false;
		}
	}
	if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5) || !strncmp(*p, "null", 4)) {
		v->t = **p == 'n' ? J_NULL : J_BOOL;
		*p += **p == 'f' ? 5 : 4;
		return true;
	}
	char *end;
	v->t = J_NUM;
	v->num = strtod(*p, &end);
	if (end == *p)
		return false;
	*p = end;
	return true;
}

static const struct jv *jget(const struct jv *o, const char *k)
{
	for (size_t i = 0; o && o->t == J_OBJ && i < o->n; i++)
		if (!strcmp(o->keys[i], k))
			return &o->kids[i];
	return NULL;
}

static const char *jstr(const struct jv *o, const char *k)
{
	const struct jv *v = jget(o, k);
	return v && v->t == J_STR ? v->s : NULL;
}

static void test_time(void)
{
	time_t t;
	CHECK(intake_sign_parse_time("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0);
	CHECK(intake_sign_parse_time("2025-06-01T08:00:00Z", 20, &t) == 0 && t == 1748764800);
	CHECK(intake_sign_parse_time("2026-11-28T12:00:00Z", 20, &t) == 0 && t == 1795867200);
	CHECK(intake_sign_parse_time("2016-02-29T23:59:59Z", 20, &t) == 0 && t == 1456790399);
	CHECK(intake_sign_parse_time("2000-02-29T00:00:00Z", 20, &t) == 0 && t == 951782400);
	CHECK(intake_sign_parse_time("2025-06-01T08:00:00.123Z", 24, &t) == 0 && t == 1748764800);
	CHECK(intake_sign_parse_time("2025-06-01T08:00:00.1Z", 22, &t) == 0);
	static const char *const bad[] = {
		"2025-06-01T08:00:00",
		"2025-06-01 08:00:00Z",
		"2025-06-01T08:00:00+08:00",
		"2025-13-01T08:00:00Z",
		"2025-00-01T08:00:00Z",
		"2025-06-31T08:00:00Z",
		"2025-02-29T08:00:00Z",
		"1900-02-29T08:00:00Z",
		"2025-06-01T24:00:00Z",
		"2025-06-01T08:60:00Z",
		"2025-06-01T08:00:60Z",
		"2025-6-01T08:00:00Z",
		"2025-06-01T08:00:00.Z",
		"2025-06-01T08:00:00.12a",
		"2025-06-01t08:00:00z",
		"+025-06-01T08:00:00Z",
		"2025-06-01T08:00:0 Z",
		"",
		"2025-06-01T08:00:00.1234567890Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = intake_sign_parse_time(bad[i], strlen(bad[i]), &t);
		if (rc != -EINVAL)
			fprintf(stderr, "  accepted bad time \"%s\"\n", bad[i]);
		CHECK_INT(rc, -EINVAL);
	}
	CHECK(intake_sign_parse_time("2025-06-01T08:00:00Zjunk", 20, &t) == 0); /* len honoured */
	CHECK(intake_sign_time_in_window(1000, 1000));
	CHECK(intake_sign_time_in_window(1000, 1000 + 900));
	CHECK(intake_sign_time_in_window(1000 + 900, 1000));
	CHECK(!intake_sign_time_in_window(1000, 1000 + 901));
	CHECK(!intake_sign_time_in_window(1000 + 901, 1000));
}

/* ---- vectors.json ---- */

static char *pct_dup(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(3 * n + 1);
	if (o && intake_canon_pct(s, n, o, 3 * n + 1) < 0)
		o[0] = '\0';
	return o;
}

/* "k=v&..." from a JSON object of strings, plus an optional extra pair. */
static char *query_from(const struct jv *obj, const char *extra_k, const char *extra_v)
{
	size_t cap = 1 << 16, n = 0;
	char *q = calloc(1, cap);
	for (size_t i = 0; q && obj && i <= obj->n; i++) {
		const char *k = i < obj->n ? obj->keys[i] : extra_k;
		const char *v = i < obj->n ? obj->kids[i].s : extra_v;
		if (!k || !v)
			continue;
		char *pk = pct_dup(k), *pv = pct_dup(v);
		n += (size_t)snprintf(q + n, cap - n, "%s%s=%s", n ? "&" : "", pk, pv);
		free(pk);
		free(pv);
	}
	return q;
}

static void vector_wire(const struct jv *v, const char *id, const char *secret)
{
	const struct jv *w = jget(v, "wire"), *hs = jget(w, "headers");
	struct treq t = {0};
	const char *line = jstr(w, "request_line"), *body = jstr(w, "body");
	REQUIRE(line && body && hs && treq_line(&t, line, strlen(line)));
	for (size_t i = 0; i < hs->n; i++)
		treq_header(&t, hs->kids[i].kids[0].s, hs->kids[i].kids[1].s);
	t.body_len = strlen(body);
	t.body = strdup(body);
	REQUIRE(treq_ready(&t, NULL) == 0);
	int rc = treq_verify(&t, secret, 0);
	bool sts = jget(jget(v, "signed_header_values"), "x-acs-security-token") != NULL;
	if (rc != (sts ? -EPERM : 0))
		fprintf(stderr, "  vector %s: rc %d err %s %s\n", id, rc,
			intake_err_info(t.res.err)->code, t.res.detail ? t.res.detail : "");
	CHECK_INT(rc, sts ? -EPERM : 0);
	CHECK_STR(t.res.string_to_sign, jstr(v, "string_to_sign"));
	if (jstr(v, "canonical_request"))
		CHECK_STR(t.res.canonical, jstr(v, "canonical_request"));
	else
		CHECK_STR(t.res.canonical, jstr(v, "canonicalized_query_string"));
	CHECK_STR(t.parsed.access_key_id, jstr(v, "access_key_id"));
	CHECK(t.parsed.action && t.parsed.version && !strcmp(t.parsed.version, "2019-03-07"));
	/* Same request, wrong secret. */
	CHECK_INT(treq_verify(&t, "wrongSecret", 0), -EACCES);
	CHECK_INT(t.res.err, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH);
	treq_free(&t);
}

static void vector_rpc(const struct jv *v, const char *secret)
{
	const struct jv *params = jget(v, "params");
	struct intake_params p;
	char *q = query_from(params, NULL, NULL), *canon = NULL;
	size_t len;
	REQUIRE(q && intake_params_parse(&p, q, strlen(q), NULL, 0, NULL, NULL) == 0);
	REQUIRE(intake_canon_rpc_query(&p, &canon, &len) == 0);
	CHECK_STR(canon, jstr(v, "canonicalized_query_string"));
	CHECK_INT(len, strlen(jstr(v, "canonicalized_query_string")));
	free(canon);
	intake_params_done(&p);
	free(q);

	/* Full verification from the parameter set (+ Signature). */
	struct treq t = {0};
	t.method = strdup(jstr(v, "method"));
	t.path = strdup("/");
	t.query = query_from(params, "Signature", jstr(v, "signature"));
	t.query_len = strlen(t.query);
	REQUIRE(treq_ready(&t, NULL) == 0);
	CHECK_INT(treq_verify(&t, secret, 0), 0);
	CHECK_STR(t.res.string_to_sign, jstr(v, "string_to_sign"));
	CHECK_INT(t.parsed.scheme, INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1);
	treq_free(&t);
}

static void vector_acs3_query(const struct jv *v)
{
	struct intake_params p;
	char *q = query_from(jget(v, "query_params"), NULL, NULL), *canon = NULL;
	size_t len;
	REQUIRE(q && intake_params_parse(&p, q, strlen(q), NULL, 0, NULL, NULL) == 0);
	REQUIRE(intake_canon_acs3_query(&p, &canon, &len) == 0);
	CHECK_STR(canon, jstr(v, "canonical_query_string"));
	free(canon);
	intake_params_done(&p);
	free(q);
}

static void test_vectors(void)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/cloudauth/vectors.json", shared_dir());
	char *text = slurp(path, &len);
	if (!text)
		fprintf(stderr, "  cannot read %s (set SHIREN_SHARED_DIR)\n", path);
	REQUIRE(text);
	struct jv root;
	const char *p = text;
	bool ok = jparse(&p, &root, 0);
	CHECK(ok);
	const struct jv *vs = jget(&root, "vectors");
	int n = 0;
	for (size_t i = 0; ok && vs && i < vs->n; i++) {
		const struct jv *v = &vs->kids[i];
		const char *id = jstr(v, "id"), *scheme = jstr(v, "scheme");
		const char *secret = jstr(v, "access_key_secret");
		if (!id || !scheme || !secret) {
			CHECK(!"vector without id/scheme/secret");
			continue;
		}
		if (!strncmp(scheme, "ACS3-HMAC-SM3", 13) && !crypto_have_sm3()) {
			fprintf(stderr, "  skip %s: no SM3 in this OpenSSL\n", id);
			continue;
		}
		if (!strncmp(scheme, "RPC", 3))
			vector_rpc(v, secret);
		else
			vector_acs3_query(v);
		if (jget(v, "wire"))
			vector_wire(v, id, secret);
		n++;
	}
	printf("  vectors.json: %d vectors reproduced\n", n);
	CHECK(n >= 10);
	jfree(&root);
	free(text);
}

static void accept_one(struct treq *t, const char *name)
{
	int rc = treq_verify(t, SECRET, 0);
	bool sts = strstr(name, "-sts-") != NULL;
	if (strstr(name, "-sm3-") && !crypto_have_sm3()) {
		CHECK_INT(t->res.err, INTAKE_ERR_INVALID_SIGNATURE_METHOD);
		return;
	}
	if (rc != (sts ? -EPERM : 0))
		fprintf(stderr, "  %s: rc %d %s param=%s %s\n", name, rc,
			intake_err_info(t->res.err)->code, t->res.param,
			t->res.detail ? t->res.detail : "");
	CHECK_INT(rc, sts ? -EPERM : 0);
	CHECK(t->parsed.scheme != INTAKE_SIGN_SCHEME_NONE);
	CHECK_STR(t->parsed.access_key_id, "testAccessKeyId");
	CHECK(t->parsed.nonce[0] != '\0');
	CHECK(t->parsed.action && strstr(name, t->parsed.action));
	CHECK_INT(t->parsed.has_security_token, sts);
	/* The window, pinned to the capture's own timestamp. */
	CHECK_INT(treq_verify(t, SECRET, t->parsed.timestamp + 900), sts ? -EPERM : 0);
	CHECK_INT(treq_verify(t, SECRET, t->parsed.timestamp - 900), sts ? -EPERM : 0);
	CHECK_INT(treq_verify(t, SECRET, t->parsed.timestamp + 901), -EACCES);
	CHECK_INT(t->res.err, INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED);
	CHECK_INT(treq_verify(t, SECRET, t->parsed.timestamp - 901), -EACCES);
	CHECK_INT(t->res.err, INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED);
	CHECK(t->res.string_to_sign == NULL); /* a stale request costs no HMAC */
}

static void test_captures_accepted(void)
{
	int n = for_each_capture(accept_one);
	printf("  captures: %d requests verified\n", n);
	CHECK(n >= 28);
}

static void expect_mismatch(struct treq *t, const char *name, const char *what)
{
	int prc = treq_ready(t, NULL);
	int rc = prc ? prc : treq_verify(t, SECRET, 0);
	if (rc != -EACCES || t->res.err != INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH)
		fprintf(stderr, "  %s (%s): rc %d err %s\n", name, what, rc,
			intake_err_info(t->res.err)->code);
	CHECK_INT(rc, -EACCES);
	CHECK_INT(t->res.err, INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH);
	CHECK(t->res.string_to_sign != NULL);
}

/* Index of a byte inside a parameter value that can change to another unreserved byte. */
static size_t value_byte(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	for (size_t i = eq ? (size_t)(eq - s) + 1 : n; i < n; i++)
		if (s[i] == '%')
			i += 2; /* leave escapes alone: they may be UTF-8 */
		else if ((s[i] >= 'a' && s[i] <= 'y') || (s[i] >= 'A' && s[i] <= 'Y') ||
			 (s[i] >= '0' && s[i] <= '8'))
			return i;
	return n;
}

static void tamper_one(struct treq *t, const char *name)
{
	bool acs3 = treq_get_header(t, "authorization") != NULL;
	size_t i;

	if (strstr(name, "-sm3-") && !crypto_have_sm3())
		return;

	/* 1. One byte of the body. */
	if (t->body_len) {
		i = value_byte(t->body, t->body_len);
		REQUIRE(i < t->body_len);
		t->body[i]++;
		expect_mismatch(t, name, "body byte");
		t->body[i]--;
	}
	/* 2. One byte of a query value. */
	if (t->query_len) {
		i = value_byte(t->query, t->query_len);
		REQUIRE(i < t->query_len);
		t->query[i]++;
		expect_mismatch(t, name, "query byte");
		t->query[i]--;
	}
	/* 3. An extra query parameter. */
	char *old_q = t->query;
	size_t old_len = t->query_len;
	char *nq = malloc(old_len + 16);
	REQUIRE(nq);
	t->query_len = (size_t)snprintf(nq, old_len + 16, "%.*s%sZz=1", (int)old_len,
					old_q ? old_q : "", old_len ? "&" : "");
	t->query = nq;
	expect_mismatch(t, name, "extra query param");
	free(nq);
	t->query = old_q;
	t->query_len = old_len;
	/* 4. Signed header values (ACS3). */
	if (acs3) {
		static const char *const hs[] = {"x-acs-action", "host", "x-acs-signature-nonce",
						 "x-acs-credentials-provider"};
		for (size_t k = 0; k < sizeof(hs) / sizeof(hs[0]); k++) {
			char *saved = strdup(treq_get_header(t, hs[k]));
			char *val = malloc(strlen(saved) + 2);
			snprintf(val, strlen(saved) + 2, "%sX", saved);
			treq_set_header(t, hs[k], val);
			expect_mismatch(t, name, hs[k]);
			treq_set_header(t, hs[k], saved);
			free(val);
			free(saved);
		}
		/* The claimed body hash alone. */
		char *saved = strdup(treq_get_header(t, "x-acs-content-sha256"));
		char *val = strdup(saved);
		val[0] = val[0] == '0' ? '1' : '0';
		treq_set_header(t, "x-acs-content-sha256", val);
		expect_mismatch(t, name, "x-acs-content-sha256");
		CHECK_STR(t->res.detail, "x-acs-content-sha256 does not match the request body.");
		treq_set_header(t, "x-acs-content-sha256", saved);
		free(val);
		free(saved);
		/* Whitespace around signed values is trimmed: still accepted. */
		const char *date = treq_get_header(t, "x-acs-date");
		char *padded = malloc(strlen(date) + 5);
		snprintf(padded, strlen(date) + 5, "  %s\t ", date);
		treq_set_header(t, "x-acs-date", padded);
		CHECK(treq_ready(t, NULL) == 0);
		CHECK_INT(treq_verify(t, SECRET, 0), strstr(name, "-sts-") ? -EPERM : 0);
		free(padded);
	}
	/* 5. The method. */
	char *m = t->method;
	t->method = strdup(!strcmp(m, "GET") ? "POST" : "GET");
	expect_mismatch(t, name, "method");
	free(t->method);
	t->method = m;
	/* Back to the original: accepted again. */
	CHECK(treq_ready(t, NULL) == 0);
	CHECK_INT(treq_verify(t, SECRET, 0), strstr(name, "-sts-") ? -EPERM : 0);
}

static void test_captures_tampered(void)
{
	CHECK(for_each_capture(tamper_one) >= 28);
}

/* Every prefix of a good Authorization header is rejected before any HMAC. */
static void truncate_one(struct treq *t, const char *name)
{
	const char *auth = treq_get_header(t, "authorization");
	if (!auth)
		return;
	char *full = strdup(auth);
	size_t n = strlen(full);
	for (size_t cut = 0; cut < n; cut++) {
		char *pre = dupn(full, cut);
		treq_set_header(t, "Authorization", pre);
		CHECK(treq_ready(t, NULL) == 0);
		intake_sign_result_done(&t->res);
		int rc = intake_sign_parse(&t->req, &t->parsed, &t->res);
		bool ok = rc == -EINVAL && (t->res.err == INTAKE_ERR_INCOMPLETE_SIGNATURE ||
					    t->res.err == INTAKE_ERR_INVALID_SIGNATURE_METHOD);
		if (!ok)
			fprintf(stderr, "  %s: prefix %zu accepted (rc %d, %s)\n", name, cut, rc,
				intake_err_info(t->res.err)->code);
		CHECK(ok);
		free(pre);
	}
	treq_set_header(t, "Authorization", full);
	free(full);
}

static void test_truncated_authorization(void)
{
	CHECK(for_each_capture(truncate_one) >= 28);
}

UNIT_MAIN("intake_sign", UNIT_CASE(test_time), UNIT_CASE(test_vectors),
	  UNIT_CASE(test_captures_accepted), UNIT_CASE(test_captures_tampered),
	  UNIT_CASE(test_truncated_authorization))
