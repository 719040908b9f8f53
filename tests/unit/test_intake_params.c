/* test_intake_params — the query/form parameter parser: decoding rules, every rejection path,
 * limits, lookups, and every capture's query and form body. */
#include "intake/intake_params.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static int parse_q(struct intake_params *p, const char *q, struct intake_params_error *e)
{
	return intake_params_parse(p, q, strlen(q), NULL, 0, NULL, e);
}

/* Parses `q` expecting failure with status `st`. */
static void expect_fail(const char *q, enum intake_params_status st)
{
	struct intake_params p;
	struct intake_params_error e;
	int rc = parse_q(&p, q, &e);
	CHECK_INT(rc, -EINVAL);
	if (e.status != st)
		fprintf(stderr, "  query \"%s\": got %s, want %s\n", q,
			intake_params_status_name(e.status), intake_params_status_name(st));
	CHECK_INT(e.status, st);
	CHECK_INT(e.err, INTAKE_ERR_INVALID_PARAMETER);
	CHECK(p.count == 0 && p.items == NULL && p.arena == NULL);
}

static void test_basic(void)
{
	struct intake_params p;
	struct intake_params_error e;
	REQUIRE(parse_q(&p, "a=1&b=two&c=", &e) == 0);
	CHECK_INT(p.count, 3);
	CHECK_STR(p.items[0].key, "a");
	CHECK_STR(p.items[0].value, "1");
	CHECK_STR(p.items[1].value, "two");
	CHECK_STR(p.items[2].value, "");
	CHECK_INT(p.items[2].value_len, 0);
	CHECK_INT(p.items[1].src, INTAKE_PARAMS_SRC_QUERY);
	CHECK_STR(intake_params_get(&p, "b"), "two");
	CHECK(intake_params_get(&p, "B") == NULL);
	CHECK(intake_params_get(&p, "zz") == NULL);
	CHECK(intake_params_find(&p, "c") == &p.items[2]);
	CHECK(intake_params_find_duplicate(&p) == NULL);
	intake_params_done(&p);
	CHECK(p.items == NULL && p.count == 0);
	intake_params_done(&p); /* twice is fine */
	intake_params_done(NULL);
}

static void test_empty_and_null(void)
{
	struct intake_params p;
	CHECK(intake_params_parse(&p, NULL, 0, NULL, 0, NULL, NULL) == 0);
	CHECK_INT(p.count, 0);
	intake_params_done(&p);
	CHECK(intake_params_parse(&p, "", 0, "", 0, NULL, NULL) == 0);
	CHECK_INT(p.count, 0);
	intake_params_done(&p);
	/* Empty segments are skipped; a bare key has an empty value; '=' in a value is data. */
	REQUIRE(parse_q(&p, "&&flag&x=a=b&&", NULL) == 0);
	CHECK_INT(p.count, 2);
	CHECK_STR(intake_params_get(&p, "flag"), "");
	CHECK_STR(intake_params_get(&p, "x"), "a=b");
	intake_params_done(&p);
	CHECK(intake_params_get(NULL, "x") == NULL);
}

static void test_decoding(void)
{
	struct intake_params p;
	struct intake_params_limits lim;
	/* Query: '+' is a space by default; %2B is '+'; hex in either case. */
	REQUIRE(parse_q(&p,
			"UserId=u%201%2B2&s=a+b&l=%2f%2F&cn=%E5%BC%A0%E4%B8%89&raw=(x)*!~&"
			"e=%F0%9F%98%80",
			NULL) == 0);
	CHECK_STR(intake_params_get(&p, "UserId"), "u 1+2");
	CHECK_STR(intake_params_get(&p, "s"), "a b");
	CHECK_STR(intake_params_get(&p, "l"), "//");
	CHECK_STR(intake_params_get(&p, "cn"), "张三");
	CHECK_STR(intake_params_get(&p, "raw"), "(x)*!~");
	CHECK_STR(intake_params_get(&p, "e"), "😀");
	CHECK_INT(intake_params_find(&p, "cn")->value_len, 6);
	intake_params_done(&p);

	intake_params_limits_default(&lim);
	lim.query_plus_is_space = false;
	REQUIRE(intake_params_parse(&p, "s=a+b", 5, "t=a+b", 5, &lim, NULL) == 0);
	CHECK_STR(intake_params_get(&p, "s"), "a+b");
	CHECK_STR(intake_params_get(&p, "t"), "a b"); /* always a space in a form body */
	intake_params_done(&p);

	/* Encoded keys decode too; raw UTF-8 bytes in a value are accepted when valid. */
	REQUIRE(parse_q(&p, "%41ction=x&v=\xe5\xbc\xa0", NULL) == 0);
	CHECK_STR(intake_params_get(&p, "Action"), "x");
	CHECK_STR(intake_params_get(&p, "v"), "张");
	intake_params_done(&p);
}

static void test_query_and_body(void)
{
	struct intake_params p;
	const char *q = "Model=NO_LIVENESS";
	const char *b = "CertName=%E5%BC%A0%E4%B8%89&SceneId=1000000006&Pic=%2F9j%2B%3D";
	REQUIRE(intake_params_parse(&p, q, strlen(q), b, strlen(b), NULL, NULL) == 0);
	CHECK_INT(p.count, 4);
	CHECK_INT(p.items[0].src, INTAKE_PARAMS_SRC_QUERY);
	CHECK_INT(p.items[1].src, INTAKE_PARAMS_SRC_BODY);
	CHECK_STR(p.items[1].key, "CertName");
	CHECK_STR(intake_params_get(&p, "Pic"), "/9j+=");
	intake_params_done(&p);
}

static void test_not_nul_terminated(void)
{
	/* Lengths are honoured: bytes past them are never read or used. */
	char buf[] = "a=1&b=2XXXX";
	struct intake_params p;
	REQUIRE(intake_params_parse(&p, buf, 7, buf + 4, 3, NULL, NULL) == -EINVAL);
	REQUIRE(intake_params_parse(&p, buf, 3, buf + 4, 3, NULL, NULL) == 0);
	CHECK_INT(p.count, 2);
	CHECK_STR(intake_params_get(&p, "a"), "1");
	CHECK_STR(intake_params_get(&p, "b"), "2");
	intake_params_done(&p);
	char pct[] = {'a', '=', '%', '4'}; /* escape cut by the length */
	struct intake_params_error e;
	CHECK(intake_params_parse(&p, pct, sizeof(pct), NULL, 0, NULL, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_BAD_ESCAPE);
}

static void test_bad_escapes(void)
{
	expect_fail("a=%", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a=%4", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a=%G1", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a=%1G", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a=%%41", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a=ok&b=x%zzy", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("%x=1", INTAKE_PARAMS_BAD_ESCAPE);
	expect_fail("a%=1", INTAKE_PARAMS_BAD_ESCAPE);

	struct intake_params p;
	struct intake_params_error e;
	REQUIRE(parse_q(&p, "ok=1&Name=%E5%BC%", &e) == -EINVAL);
	CHECK_STR(e.name, "Name");
	CHECK_INT(e.offset, 5);
	CHECK_INT(e.src, INTAKE_PARAMS_SRC_QUERY);
}

static void test_bad_utf8(void)
{
	expect_fail("a=%C3%28", INTAKE_PARAMS_BAD_UTF8);       /* bad continuation */
	expect_fail("a=%C0%AF", INTAKE_PARAMS_BAD_UTF8);       /* overlong '/' */
	expect_fail("a=%E0%80%AF", INTAKE_PARAMS_BAD_UTF8);    /* overlong, 3 bytes */
	expect_fail("a=%ED%A0%80", INTAKE_PARAMS_BAD_UTF8);    /* surrogate */
	expect_fail("a=%F4%90%80%80", INTAKE_PARAMS_BAD_UTF8); /* above U+10FFFF */
	expect_fail("a=%F5%80%80%80", INTAKE_PARAMS_BAD_UTF8);
	expect_fail("a=%E5%BC", INTAKE_PARAMS_BAD_UTF8); /* truncated */
	expect_fail("a=%FF", INTAKE_PARAMS_BAD_UTF8);
	expect_fail("a=%80", INTAKE_PARAMS_BAD_UTF8);
	expect_fail("a=\xff", INTAKE_PARAMS_BAD_UTF8); /* raw byte */
	expect_fail("a=%00", INTAKE_PARAMS_NUL_BYTE);
	expect_fail("a=x%00y", INTAKE_PARAMS_NUL_BYTE);

	struct intake_params p;
	REQUIRE(parse_q(&p, "a=%F4%8F%BF%BF&b=%EF%BF%BF&c=%C2%80", NULL) == 0); /* edges */
	intake_params_done(&p);
}

static void test_bad_keys(void)
{
	expect_fail("=v", INTAKE_PARAMS_BAD_KEY);
	expect_fail("a+b=1", INTAKE_PARAMS_BAD_KEY);   /* a space after decoding */
	expect_fail("a%20b=1", INTAKE_PARAMS_BAD_KEY); /* space */
	expect_fail("a%0Ab=1", INTAKE_PARAMS_BAD_KEY); /* control */
	expect_fail("%E5%BC%A0=1", INTAKE_PARAMS_BAD_KEY);
	expect_fail("%00=1", INTAKE_PARAMS_BAD_KEY);
}

static void test_duplicates(void)
{
	struct intake_params p;
	struct intake_params_error e;
	struct intake_params_limits lim;

	expect_fail("a=1&a=2", INTAKE_PARAMS_DUPLICATE);
	expect_fail("a=1&a=1", INTAKE_PARAMS_DUPLICATE);
	expect_fail("a&b&a", INTAKE_PARAMS_DUPLICATE);
	expect_fail("%41=1&A=2", INTAKE_PARAMS_DUPLICATE); /* equal after decoding */
	REQUIRE(intake_params_parse(&p, "Action=X", 8, "Action=Y", 8, NULL, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_DUPLICATE);
	CHECK_STR(e.name, "Action");
	char code[64], msg[256];
	CHECK(intake_params_error_render(&e, code, sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(code, "InvalidParameter");
	CHECK_STR(msg, "The specified parameter \"Action\" is not valid. Parameter given more than "
		       "once.");
	/* a and A differ. */
	REQUIRE(parse_q(&p, "a=1&A=2", NULL) == 0);
	intake_params_done(&p);

	intake_params_limits_default(&lim);
	lim.allow_duplicates = true;
	REQUIRE(intake_params_parse(&p, "x=1&y=2&x=3", 11, NULL, 0, &lim, NULL) == 0);
	CHECK_INT(p.count, 3);
	CHECK_STR(intake_params_find_duplicate(&p), "x");
	CHECK_STR(intake_params_get(&p, "x"), "1"); /* the first one */
	intake_params_done(&p);
}

static void test_limits(void)
{
	struct intake_params p;
	struct intake_params_error e;
	struct intake_params_limits lim;
	char *q = malloc(8192);
	REQUIRE(q);

	/* Default: 256 pairs fit, 257 do not. */
	size_t n = 0;
	for (int i = 0; i < 256; i++)
		n += (size_t)snprintf(q + n, 8192 - n, "%sk%d=v", i ? "&" : "", i);
	CHECK(intake_params_parse(&p, q, n, NULL, 0, NULL, &e) == 0);
	CHECK_INT(p.count, 256);
	intake_params_done(&p);
	CHECK(intake_params_parse(&p, q, n, "extra=1", 7, NULL, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_TOO_MANY);
	n += (size_t)snprintf(q + n, 8192 - n, "&k256=v");
	CHECK(intake_params_parse(&p, q, n, NULL, 0, NULL, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_TOO_MANY);
	CHECK_INT(e.src, INTAKE_PARAMS_SRC_QUERY);

	/* Key length: 128 fits, 129 does not. */
	memset(q, 'K', 129);
	memcpy(q + 129, "=1", 3);
	CHECK(parse_q(&p, q + 1, &e) == 0);
	intake_params_done(&p);
	CHECK(parse_q(&p, q, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_KEY_TOO_LONG);
	CHECK_STR(e.name, ""); /* too long to echo */

	/* Value length is measured decoded: "%41" counts as one byte. */
	intake_params_limits_default(&lim);
	lim.max_value_len = 4;
	lim.max_params = 3;
	CHECK(intake_params_parse(&p, "v=%41%41%41%41", 14, NULL, 0, &lim, &e) == 0);
	intake_params_done(&p);
	CHECK(intake_params_parse(&p, "v=AAAAA", 7, NULL, 0, &lim, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_VALUE_TOO_LONG);
	CHECK_STR(e.name, "v");
	CHECK(intake_params_parse(&p, "a&b", 3, "c&d", 3, &lim, &e) == -EINVAL);
	CHECK_INT(e.status, INTAKE_PARAMS_TOO_MANY);
	CHECK(intake_params_parse(&p, "a&b", 3, "c", 1, &lim, &e) == 0);
	intake_params_done(&p);
	free(q);
}

static void test_error_render(void)
{
	struct intake_params p;
	struct intake_params_error e;
	char code[64], msg[256];
	REQUIRE(parse_q(&p, "CertName=%E5%BC", &e) == -EINVAL);
	CHECK(intake_params_error_render(&e, code, sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(code, "InvalidParameter");
	CHECK_STR(msg,
		  "The specified parameter \"CertName\" is not valid. Value is not valid UTF-8.");
	CHECK_INT(intake_err_info(e.err)->http_status, 400);
	REQUIRE(parse_q(&p, "=x", &e) == -EINVAL);
	CHECK(intake_params_error_render(&e, code, sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(msg, "The specified parameter is not valid. Parameter names must be non-empty "
		       "printable ASCII.");
	CHECK(intake_params_error_render(&e, code, sizeof(code), msg, 10) == -ENOSPC);
	CHECK_STR(msg, "The speci");
	for (int s = INTAKE_PARAMS_OK; s <= INTAKE_PARAMS_NO_MEMORY; s++)
		CHECK(strcmp(intake_params_status_name((enum intake_params_status)s), "unknown"));
}

static void test_is_form(void)
{
	CHECK(intake_params_is_form("application/x-www-form-urlencoded"));
	CHECK(intake_params_is_form("Application/X-WWW-Form-Urlencoded"));
	CHECK(intake_params_is_form("application/x-www-form-urlencoded; charset=UTF-8"));
	CHECK(intake_params_is_form("application/x-www-form-urlencoded;charset=utf-8"));
	CHECK(intake_params_is_form(" application/x-www-form-urlencoded "));
	CHECK(!intake_params_is_form("application/x-www-form-urlencodedX"));
	CHECK(!intake_params_is_form("application/json"));
	CHECK(!intake_params_is_form("multipart/form-data; boundary=x"));
	CHECK(!intake_params_is_form(""));
	CHECK(!intake_params_is_form(NULL));
}

/* ---- every capture's query and form body parses ---- */

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap && cap < (32u << 20)) {
			char *nb = realloc(buf, 2 * cap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static void test_captures(void)
{
	const char *shared =
		getenv("SHIREN_SHARED_DIR") ? getenv("SHIREN_SHARED_DIR") : "../shared";
	char dir[1024], path[2048];
	snprintf(dir, sizeof(dir), "%s/cloudauth/captures", shared);
	DIR *d = opendir(dir);
	if (!d)
		fprintf(stderr, "  cannot open %s (set SHIREN_SHARED_DIR)\n", dir);
	REQUIRE(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name), len;
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *t = slurp(path, &len);
		CHECK(t);
		if (!t)
			continue;
		char *sp = strchr(t, ' '), *eol = strchr(t, '\n');
		char *hend = strstr(t, "\n\n"), *meta = strstr(t, "\n\n### meta");
		CHECK(sp && eol && hend && meta && sp < eol && hend <= meta);
		if (!(sp && eol && hend && meta && hend <= meta)) {
			free(t);
			continue;
		}
		char *target = sp + 1, *tend = strchr(target, ' ');
		char *q = memchr(target, '?', (size_t)(tend - target));
		const char *body = hend + 2;
		size_t blen = meta > body ? (size_t)(meta - body) : 0;
		bool form = strstr(t, "\ncontent-type: application/x-www-form-urlencoded") &&
			    strstr(t, "\ncontent-type: application/x-www-form-urlencoded") < hend;
		struct intake_params p;
		struct intake_params_error e;
		int rc = intake_params_parse(&p, q ? q + 1 : NULL, q ? (size_t)(tend - q - 1) : 0,
					     form ? body : NULL, form ? blen : 0, NULL, &e);
		if (rc)
			fprintf(stderr, "  %s: %s\n", de->d_name,
				intake_params_status_name(e.status));
		CHECK_INT(rc, 0);
		CHECK(p.count > 0);
		/* Spot checks of the decoding the signature depends on. */
		const char *uid = intake_params_get(&p, "UserId");
		if (uid)
			CHECK_STR(uid, "u 1+2");
		const char *ret_url = intake_params_get(&p, "ReturnUrl");
		if (ret_url)
			CHECK_STR(ret_url, "https://www.example.com/return?a=1&b=(x)*!~");
		const char *cn = intake_params_get(&p, "CertName");
		if (cn)
			CHECK_STR(cn, "张三");
		intake_params_done(&p);
		free(t);
		files++;
	}
	closedir(d);
	CHECK(files >= 28);
}

UNIT_MAIN("intake_params", UNIT_CASE(test_basic), UNIT_CASE(test_empty_and_null),
	  UNIT_CASE(test_decoding), UNIT_CASE(test_query_and_body),
	  UNIT_CASE(test_not_nul_terminated), UNIT_CASE(test_bad_escapes), UNIT_CASE(test_bad_utf8),
	  UNIT_CASE(test_bad_keys), UNIT_CASE(test_duplicates), UNIT_CASE(test_limits),
	  UNIT_CASE(test_error_render), UNIT_CASE(test_is_form), UNIT_CASE(test_captures))
