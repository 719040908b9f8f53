/* test_intake_canon — Alibaba percent-encoding and the RPC / ACS3 canonical parameter strings. */
#include "intake/intake_canon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void test_pct(void)
{
	char out[128];
	CHECK_INT(intake_canon_pct("az-_.~AZ09", 10, out, sizeof(out)), 10);
	CHECK_STR(out, "az-_.~AZ09");
	CHECK(intake_canon_pct(" *+/=!'()%&:", 12, out, sizeof(out)) > 0);
	CHECK_STR(out, "%20%2A%2B%2F%3D%21%27%28%29%25%26%3A");
	CHECK(intake_canon_pct("张三", strlen("张三"), out, sizeof(out)) > 0);
	CHECK_STR(out, "%E5%BC%A0%E4%B8%89");
	CHECK(intake_canon_pct("\x00\xff", 2, out, sizeof(out)) == 6);
	CHECK_STR(out, "%00%FF");
	CHECK_INT(intake_canon_pct("a b", 3, out, 5), -ENOSPC);
	CHECK_INT(intake_canon_pct("a b", 3, out, 6), 5);
	CHECK_INT(intake_canon_pct("", 0, out, 1), 0);
	CHECK_STR(out, "");
}

static char *canon(const char *q, const char *body, bool rpc)
{
	struct intake_params p;
	char *out = NULL;
	size_t len = 0;
	if (intake_params_parse(&p, q, strlen(q), body, body ? strlen(body) : 0, NULL, NULL))
		return NULL;
	int rc = rpc ? intake_canon_rpc_query(&p, &out, &len)
		     : intake_canon_acs3_query(&p, &out, &len);
	intake_params_done(&p);
	if (rc == 0 && strlen(out) != len) {
		free(out);
		return NULL;
	}
	return out;
}

static void check_canon(const char *q, const char *body, bool rpc, const char *want)
{
	char *got = canon(q, body, rpc);
	CHECK_STR(got, want);
	free(got);
}

static void test_canonical_strings(void)
{
	/* Sorted by raw key in byte order: upper case, then '_', then lower case. */
	check_canon("b=2&a=1&B=3&a_b=4&ab=5", NULL, false, "B=3&a=1&a_b=4&ab=5&b=2");
	/* Values re-encoded from their decoded form: the wire's literal (x)*!~ and the '+' (a
	 * space) come out as the SDKs sign them. */
	check_canon("r=(x)*!~&u=u%201%2B2&s=a+b", NULL, false,
		    "r=%28x%29%2A%21~&s=a%20b&u=u%201%2B2");
	/* '=' kept for empty values; UTF-8 bytes encoded. */
	check_canon("e=&n=%E5%BC%A0&f", NULL, false, "e=&f=&n=%E5%BC%A0");
	/* ACS3: query pairs only, Signature included; RPC: body too, Signature dropped. */
	check_canon("Model=X&Signature=s", "CertNo=1&Crop=F", false, "Model=X&Signature=s");
	check_canon("Model=X&Signature=s", "CertNo=1&Crop=F", true, "CertNo=1&Crop=F&Model=X");
	check_canon("", NULL, true, "");
	check_canon("", NULL, false, "");
	check_canon("Signature=only", NULL, true, "");
}

static void test_buf(void)
{
	struct intake_canon_buf b = {0};
	intake_canon_buf_str(&b, "a");
	intake_canon_buf_pct(&b, "/ ", 2);
	intake_canon_buf_add(&b, "", 0);
	CHECK_INT(b.err, 0);
	CHECK_STR(b.p, "a%2F%20");
	CHECK_INT(b.len, 7);
	/* Past the cap: an error that sticks, and the text stays as it was. */
	intake_canon_buf_pct(&b, b.p, INTAKE_CANON_MAX_TEXT);
	CHECK_INT(b.err, -E2BIG);
	intake_canon_buf_str(&b, "more");
	CHECK_STR(b.p, "a%2F%20");
	intake_canon_buf_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.err == 0);
	intake_canon_buf_free(&b);
}

UNIT_MAIN("intake_canon", UNIT_CASE(test_pct), UNIT_CASE(test_canonical_strings),
	  UNIT_CASE(test_buf))
