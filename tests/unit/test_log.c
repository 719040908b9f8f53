/* Unit tests for common/log: JSON lines with typed fields, levels, truncation. */
#include "common/log.h"

#include <stdlib.h>

#include "unit.h"

static char *capture(enum log_level min, void (*fn)(struct log *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct log *lg = log_new("svc-test", min, f);
	fn(lg);
	log_free(lg);
	fclose(f);
	return buf;
}

static void write_fields(struct log *lg)
{
	log_info(lg, "hello", LF_S("topic", "t\"x"), LF_I("offset", -7), LF_B("ok", 1),
		 LF_F("ratio", 0.5), LF_J("obj", "{\"a\":1}"), LOG_END);
	log_debug(lg, "hidden", LOG_END);
}

static void test_fields(void)
{
	char *out = capture(LOG_LEVEL_INFO, write_fields);
	REQUIRE(out != NULL);
	CHECK(strncmp(out, "{\"ts\":\"", 7) == 0);
	CHECK(strstr(out, "\"level\":\"info\",\"svc\":\"svc-test\",\"msg\":\"hello\"") != NULL);
	CHECK(strstr(out, "\"topic\":\"t\\\"x\",\"offset\":-7,\"ok\":true,\"ratio\":0.5,"
			  "\"obj\":{\"a\":1}}\n") != NULL);
	CHECK(strstr(out, "hidden") == NULL);
	/* exactly one line */
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	free(out);
}

static void write_huge(struct log *lg)
{
	static char big[10000];
	memset(big, 'x', sizeof(big) - 1);
	log_error(lg, "huge", LF_S("blob", big), LOG_END);
}

static void test_truncation_keeps_json(void)
{
	char *out = capture(LOG_LEVEL_DEBUG, write_huge);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "\"msg\":\"huge\",\"truncated\":true}\n") != NULL);
	CHECK(strlen(out) < 4096);
	free(out);
}

static void test_levels(void)
{
	enum log_level l;
	CHECK(log_level_parse("warn", &l) == 0 && l == LOG_LEVEL_WARN);
	CHECK(log_level_parse("loud", &l) == -EINVAL);
}

UNIT_MAIN("log", UNIT_CASE(test_fields), UNIT_CASE(test_truncation_keeps_json),
	  UNIT_CASE(test_levels))
