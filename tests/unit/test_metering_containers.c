/* Unit tests for the per-batch containers (metering_map: hash map and arena) and the
 * PostgreSQL array literal builder (metering_sqlarr), plus the int8[] text parser. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "metering/metering_map.h"
#include "metering/metering_sqlarr.h"
#include "metering/metering_store.h"
#include "unit.h"

static void test_map_put_get_grow(void)
{
	static char keys[5000][24];
	struct mt_map m;
	uint32_t v;
	mt_map_init(&m);
	CHECK(!mt_map_get(&m, "nothing", &v));
	for (int i = 0; i < 5000; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "evt-%d:Verify", i);
		REQUIRE(mt_map_put(&m, keys[i], (uint32_t)i, NULL) == 0);
	}
	CHECK_INT(m.n, 5000);
	for (int i = 0; i < 5000; i += 7) {
		REQUIRE(mt_map_get(&m, keys[i], &v));
		CHECK_INT(v, i);
	}
	uint32_t old = 0;
	CHECK_INT(mt_map_put(&m, "evt-42:Verify", 9, &old), -EEXIST);
	CHECK_INT(old, 42);
	CHECK(!mt_map_get(&m, "evt-5000:Verify", NULL));
	mt_map_clear(&m);
	CHECK(!mt_map_get(&m, keys[1], NULL));
	CHECK_INT(m.n, 0);
	REQUIRE(mt_map_put(&m, keys[1], 1, NULL) == 0);
	mt_map_free(&m);
}

static void test_arena(void)
{
	struct mt_arena a;
	mt_arena_init(&a);
	char *p = mt_arena_alloc(&a, 10);
	REQUIRE(p);
	CHECK(((uintptr_t)p & 15) == 0);
	CHECK(p[9] == 0);
	memset(p, 'x', 10);
	char *big = mt_arena_alloc(&a, 1u << 20); /* beyond a chunk */
	REQUIRE(big);
	CHECK(big[(1u << 20) - 1] == 0);
	for (int i = 0; i < 10000; i++)
		REQUIRE(mt_arena_alloc(&a, 100));
	mt_arena_reset(&a);
	CHECK_INT(a.used, 0);
	char *q = mt_arena_alloc(&a, 10);
	REQUIRE(q);
	CHECK(q[0] == 0); /* zeroed again after reuse */
	CHECK(mt_arena_alloc(&a, (size_t)2 << 30) == NULL);
	mt_arena_free(&a);
}

static void test_sqlarr(void)
{
	struct mt_arr a;
	mt_arr_init(&a);
	REQUIRE(mt_arr_end(&a) == 0);
	CHECK_STR(a.buf, "{}");
	mt_arr_reset(&a);
	mt_arr_int(&a, 1);
	mt_arr_int(&a, -9223372036854775807LL - 1);
	mt_arr_null(&a);
	mt_arr_bool(&a, true);
	REQUIRE(mt_arr_end(&a) == 0);
	CHECK_STR(a.buf, "{1,-9223372036854775808,NULL,t}");
	mt_arr_reset(&a);
	mt_arr_text(&a, "plain");
	mt_arr_text(&a, "a\"b\\c,{}");
	mt_arr_text(&a, "");
	mt_arr_text(&a, NULL);
	mt_arr_text(&a, "NULL");
	REQUIRE(mt_arr_end(&a) == 0);
	CHECK_STR(a.buf, "{\"plain\",\"a\\\"b\\\\c,{}\",\"\",NULL,\"NULL\"}");
	/* Growth across many elements. */
	mt_arr_reset(&a);
	for (int i = 0; i < 100000; i++)
		mt_arr_int(&a, i);
	REQUIRE(mt_arr_end(&a) == 0);
	CHECK_INT(a.n, 100000);
	CHECK(strncmp(a.buf + a.len - 7, ",99999}", 7) == 0);
	mt_arr_free(&a);
}

static void test_parse_int_array(void)
{
	int64_t v[4];
	size_t n;
	REQUIRE(mt_parse_int_array("{20,10,0}", v, 4, &n) == 0);
	CHECK_INT(n, 3);
	CHECK_INT(v[0], 20);
	CHECK_INT(v[2], 0);
	REQUIRE(mt_parse_int_array("{}", v, 4, &n) == 0);
	CHECK_INT(n, 0);
	REQUIRE(mt_parse_int_array("{9223372036854775807,-3}", v, 4, &n) == 0);
	CHECK_INT(v[0], INT64_MAX);
	CHECK_INT(v[1], -3);
	CHECK_INT(mt_parse_int_array("{1,2,3,4,5}", v, 4, &n), -ENOSPC);
	CHECK_INT(mt_parse_int_array("1,2", v, 4, &n), -EINVAL);
	CHECK_INT(mt_parse_int_array("{1,x}", v, 4, &n), -EINVAL);
	CHECK_INT(mt_parse_int_array("{1,2", v, 4, &n), -EINVAL);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Binary arrays as array_send writes them: header, then length + value per element. */
static void test_binary_arrays(void)
{
	struct mt_barr a;
	const char *v;
	int len;
	mt_barr_init(&a);
	mt_barr_reset(&a, MT_OID_INT8);
	REQUIRE(mt_barr_end(&a, &v, &len) == 0);
	CHECK_INT(len, 12); /* empty: ndim 0, no null, oid */
	CHECK_INT(be32((const uint8_t *)v + 8), MT_OID_INT8);
	mt_barr_reset(&a, MT_OID_INT8);
	mt_barr_int8(&a, -2);
	mt_barr_null(&a);
	REQUIRE(mt_barr_end(&a, &v, &len) == 0);
	const uint8_t *u = (const uint8_t *)v;
	CHECK_INT(len, 20 + 12 + 4);
	CHECK_INT(be32(u), 1);	    /* ndim */
	CHECK_INT(be32(u + 4), 1);  /* has nulls */
	CHECK_INT(be32(u + 12), 2); /* elements */
	CHECK_INT(be32(u + 16), 1); /* lower bound */
	CHECK_INT(be32(u + 20), 8);
	CHECK(u[24] == 0xff && u[31] == 0xfe);
	CHECK_INT(be32(u + 32), 0xffffffffu);
	mt_barr_reset(&a, MT_OID_UUID);
	mt_barr_uuid(&a, "7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e11");
	REQUIRE(mt_barr_end(&a, &v, &len) == 0);
	u = (const uint8_t *)v;
	CHECK_INT(be32(u + 20), 16);
	CHECK(u[24] == 0x7d && u[39] == 0x11);
	mt_barr_reset(&a, MT_OID_UUID);
	mt_barr_uuid(&a, "not-a-uuid");
	CHECK_INT(mt_barr_end(&a, &v, &len), -EINVAL);
	mt_barr_reset(&a, MT_OID_TEXT);
	mt_barr_text(&a, "a\"b");
	mt_barr_bytes(&a, "\0x", 2);
	REQUIRE(mt_barr_end(&a, &v, &len) == 0);
	u = (const uint8_t *)v;
	CHECK_INT(be32(u + 20), 3);
	CHECK(memcmp(u + 24, "a\"b", 3) == 0);
	CHECK_INT(be32(u + 27), 2);
	mt_barr_free(&a);
}

UNIT_MAIN("test_metering_containers", UNIT_CASE(test_map_put_get_grow), UNIT_CASE(test_arena),
	  UNIT_CASE(test_sqlarr), UNIT_CASE(test_parse_int_array), UNIT_CASE(test_binary_arrays))
