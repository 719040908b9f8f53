/* Unit tests for intake_throttle: token-bucket arithmetic, per-tenant isolation, the
 * Retry-After hint, disabling, and the bounded table (recycling full buckets, fail open). */
#include "intake/intake_throttle.h"

#include "unit.h"

static void test_burst_then_rate(void)
{
	struct intake_throttle *t = intake_throttle_new(2.0, 3.0, 16);
	REQUIRE(t != NULL);
	int64_t retry = -1;
	for (int i = 0; i < 3; i++)
		CHECK_INT(intake_throttle_take(t, "a", 1000, &retry), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_take(t, "a", 1000, &retry), INTAKE_THROTTLE_DENY);
	CHECK_INT(retry, 500); /* one token at 2/s */
	CHECK_INT(intake_throttle_take(t, "a", 1499, &retry), INTAKE_THROTTLE_DENY);
	CHECK(retry >= 1 && retry <= 2); /* 1 ms, give or take float rounding */
	CHECK_INT(intake_throttle_take(t, "a", 1500, &retry), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_take(t, "a", 1500, NULL), INTAKE_THROTTLE_DENY);
	/* A long pause refills to the burst, not beyond. */
	for (int i = 0; i < 3; i++)
		CHECK_INT(intake_throttle_take(t, "a", 100000, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_take(t, "a", 100000, NULL), INTAKE_THROTTLE_DENY);
	intake_throttle_free(t);
}

static void test_tenants_are_separate(void)
{
	struct intake_throttle *t = intake_throttle_new(1.0, 1.0, 16);
	CHECK_INT(intake_throttle_take(t, "a", 0, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_take(t, "a", 0, NULL), INTAKE_THROTTLE_DENY);
	CHECK_INT(intake_throttle_take(t, "b", 0, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_size(t), 2);
	/* The clock going backwards takes nothing back and adds nothing. */
	CHECK_INT(intake_throttle_take(t, "b", -5000, NULL), INTAKE_THROTTLE_DENY);
	intake_throttle_free(t);
}

static void test_disabled(void)
{
	struct intake_throttle *t = intake_throttle_new(0, 1, 4);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(intake_throttle_take(t, "a", 0, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_size(t), 0);
	intake_throttle_free(t);
	intake_throttle_free(NULL);
}

static void test_bounded_table(void)
{
	struct intake_throttle *t = intake_throttle_new(1.0, 2.0, 4);
	char key[32];
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "t%d", i);
		CHECK_INT(intake_throttle_take(t, key, 0, NULL), INTAKE_THROTTLE_ALLOW);
	}
	/* Full of active buckets: a fifth tenant is let through untracked. */
	CHECK_INT(intake_throttle_take(t, "t4", 0, NULL), INTAKE_THROTTLE_ALLOW_UNTRACKED);
	CHECK_INT(intake_throttle_size(t), 4);
	/* Once they refilled, one bucket is recycled for the newcomer, and every tenant is
	 * still found afterwards (the probe chains survive the deletion). */
	CHECK_INT(intake_throttle_take(t, "t4", 5000, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_size(t), 4);
	CHECK_INT(intake_throttle_take(t, "t4", 5000, NULL), INTAKE_THROTTLE_ALLOW);
	CHECK_INT(intake_throttle_take(t, "t4", 5000, NULL), INTAKE_THROTTLE_DENY);
	intake_throttle_free(t);
}

static void test_many_tenants_churn(void)
{
	/* Insert/recycle many keys through a small table: every live key keeps its state. */
	struct intake_throttle *t = intake_throttle_new(1.0, 1.0, 8);
	char key[32];
	int64_t now = 0;
	for (int round = 0; round < 50; round++) {
		now += 2000;
		for (int i = 0; i < 8; i++) {
			snprintf(key, sizeof(key), "r%dk%d", round, i);
			CHECK_INT(intake_throttle_take(t, key, now, NULL), INTAKE_THROTTLE_ALLOW);
			CHECK_INT(intake_throttle_take(t, key, now, NULL), INTAKE_THROTTLE_DENY);
		}
		CHECK(intake_throttle_size(t) <= 8);
	}
	intake_throttle_free(t);
}

UNIT_MAIN("intake_throttle", UNIT_CASE(test_burst_then_rate), UNIT_CASE(test_tenants_are_separate),
	  UNIT_CASE(test_disabled), UNIT_CASE(test_bounded_table),
	  UNIT_CASE(test_many_tenants_churn))
