/* Unit tests for intake_store's array parameters (the literals of the batched statements'
 * array arguments): quoting and escaping of any text, NULL elements, bytea in hex, numbers, the
 * empty array. PostgreSQL's array_in is the reader these must satisfy. */
#include <stdint.h>

#include "intake/intake_server.h"

#include "unit.h"

static void test_text_is_quoted_and_escaped(void)
{
	struct intake_arr a;
	intake_arr_init(&a);
	intake_arr_text(&a, "plain");
	intake_arr_text(&a, "a \"quoted\" \\ back,slash {x}");
	intake_arr_text(&a, "");
	intake_arr_text(&a, NULL);
	intake_arr_text(&a, "NULL");
	intake_arr_text(&a, "\"\\");
	CHECK_STR(intake_arr_end(&a),
		  "{\"plain\",\"a \\\"quoted\\\" \\\\ back,slash {x}\",\"\",NULL,"
		  "\"NULL\",\"\\\"\\\\\"}");
	intake_arr_free(&a);
}

static void test_bytea_and_numbers(void)
{
	struct intake_arr a;
	const uint8_t b[] = {0x00, 0x0f, 0xa0, 0xff};
	intake_arr_init(&a);
	intake_arr_bytea(&a, b, sizeof(b));
	intake_arr_bytea(&a, NULL, 0);
	intake_arr_bytea(&a, b, 0);
	CHECK_STR(intake_arr_end(&a), "{\"\\\\x000fa0ff\",NULL,\"\\\\x\"}");
	intake_arr_free(&a);

	intake_arr_init(&a);
	intake_arr_int(&a, 0);
	intake_arr_int(&a, -42);
	intake_arr_int(&a, 9223372036854775807LL);
	CHECK_STR(intake_arr_end(&a), "{0,-42,9223372036854775807}");
	intake_arr_free(&a);
}

static void test_empty_and_large(void)
{
	struct intake_arr a;
	intake_arr_init(&a);
	CHECK_STR(intake_arr_end(&a), "{}");
	intake_arr_free(&a);

	/* Grows past its first allocation; a large bytea is written in chunks. */
	static uint8_t big[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	intake_arr_init(&a);
	for (int i = 0; i < 3; i++)
		intake_arr_bytea(&a, big, sizeof(big));
	const char *s = intake_arr_end(&a);
	REQUIRE(s != NULL);
	CHECK_INT(strlen(s), 2 + 3 * (5 + 2 * sizeof(big)) + 2);
	CHECK(strncmp(s, "{\"\\\\x00010203", 11) == 0);
	CHECK(strcmp(s + strlen(s) - 6, "9e9f\"}") == 0); /* 99999 = 0x1869f */
	intake_arr_free(&a);
	CHECK(a.buf == NULL);
}

UNIT_MAIN("intake_store", UNIT_CASE(test_text_is_quoted_and_escaped),
	  UNIT_CASE(test_bytea_and_numbers), UNIT_CASE(test_empty_and_large))
