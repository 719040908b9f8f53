/* Unit tests for common/json: escaping, UTF-8 repair, truncation. */
#include "common/json.h"

#include "unit.h"

static void test_escapes(void)
{
	char buf[128];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key_str(&w, "a", "q\"b\\\n\x01");
	json_key_int(&w, "n", -42);
	json_key_bool(&w, "t", true);
	json_key_double(&w, "d", 0.1);
	json_obj_end(&w);
	CHECK_STR(buf, "{\"a\":\"q\\\"b\\\\\\n\\u0001\",\"n\":-42,\"t\":true,\"d\":0.1}");
	CHECK(!json_writer_truncated(&w));
}

static void test_utf8(void)
{
	char buf[64];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_str(&w, "\xe5\xae\x9e\xff\xc0\x80x");
	CHECK_STR(buf, "\"\xe5\xae\x9e\\ufffd\\ufffd\\ufffdx\"");
}

static void test_truncation(void)
{
	char buf[8];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf) - 1);
	json_str(&w, "0123456789");
	CHECK(json_writer_truncated(&w));
	CHECK(json_writer_len(&w) <= sizeof(buf) - 1);
}

static void test_array(void)
{
	char buf[64];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_arr_begin(&w);
	json_int(&w, 1);
	json_obj_begin(&w);
	json_obj_end(&w);
	json_null(&w);
	json_arr_end(&w);
	CHECK_STR(buf, "[1,{},null]");
}

UNIT_MAIN("json", UNIT_CASE(test_escapes), UNIT_CASE(test_utf8), UNIT_CASE(test_truncation),
	  UNIT_CASE(test_array))
