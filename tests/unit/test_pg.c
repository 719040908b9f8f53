/* Unit tests for common/pg's helpers that need no server: the bytea text decoder. */
#include "common/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static int decode(const char *s, uint8_t **out, size_t *len)
{
	return pg_bytea_decode(s, strlen(s), out, len);
}

static void test_bytea_valid(void)
{
	uint8_t *out = NULL;
	size_t len = 99;
	REQUIRE(decode("\\x00fFa5", &out, &len) == 0);
	CHECK_INT((long long)len, 3);
	CHECK(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xa5);
	free(out);
	REQUIRE(decode("\\x", &out, &len) == 0);
	CHECK_INT((long long)len, 0);
	CHECK(out != NULL);
	free(out);
}

static void test_bytea_refused(void)
{
	static const char *const bad[] = {"",	   "\\",    "x00",  "\\y00",  "\\x0",
					  "\\x0g", "\\xg0", "00ff", "\\x00 f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *out = (uint8_t *)"sentinel";
		size_t len = 7;
		CHECK(decode(bad[i], &out, &len) == -EBADMSG);
		CHECK(out == NULL && len == 0);
	}
}

UNIT_MAIN("pg", UNIT_CASE(test_bytea_valid), UNIT_CASE(test_bytea_refused))
