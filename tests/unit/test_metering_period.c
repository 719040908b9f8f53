/* Unit tests for metering/metering_period: natural months and days in UTC+8, grace, placement
 * of late events, calendar month arithmetic for package validity.
 *
 * Reference instants (checked with `date -u -d ... +%s`):
 *   2024-01-01 is day 19723 since 1970-01-01 (1704067200 s / 86400).
 *   2024-02-01 is day 19723 + 31 = 19754; 19754 * 86400 = 1706745600 s = 2024-02-01T00:00Z,
 *   and 00:00 UTC+8 is 8 h (28800 s) earlier: 1706716800 s = 2024-01-31T16:00:00Z. */
#include "metering/metering_period.h"

#include <errno.h>

#include "unit.h"

#define S(x) ((int64_t)(x)*1000) /* seconds -> ms */
#define H_MS (3600LL * 1000)

static const int64_t FEB_START = S(1706716800); /* 2024-02-01T00:00+08:00 */
static const int64_t MAR_START = S(1709222400); /* 2024-03-01T00:00+08:00 */

static void test_month_boundary_utc8(void)
{
	struct metering_period p;

	/* 2024-01-31T23:59:59.999+08:00 is still January in UTC+8. */
	REQUIRE(metering_period_of(FEB_START - 1, &p) == 0);
	CHECK_INT(p.id, 202401);
	CHECK_INT(p.end_ms, FEB_START);
	/* One millisecond later it is February, though UTC still says 2024-01-31T16:00Z. */
	REQUIRE(metering_period_of(FEB_START, &p) == 0);
	CHECK_INT(p.id, 202402);
	CHECK_INT(p.start_ms, FEB_START);
	CHECK_INT(p.end_ms, MAR_START);
	/* 2024 is a leap year: February has 29 days = 29 * 86400000 ms. */
	CHECK_INT(p.end_ms - p.start_ms, 29LL * 86400 * 1000);
	/* 2024-01-31T20:00Z = 2024-02-01T04:00+08:00: a UTC-day-based month would say January. */
	REQUIRE(metering_period_of(S(1706731200), &p) == 0);
	CHECK_INT(p.id, 202402);
}

static void test_year_boundary(void)
{
	struct metering_period p;
	const int64_t jan25 = S(1735660800); /* 2025-01-01T00:00+08:00 = 2024-12-31T16:00Z */

	REQUIRE(metering_period_of(jan25 - 1, &p) == 0);
	CHECK_INT(p.id, 202412);
	CHECK_INT(p.start_ms, S(1732982400)); /* 2024-12-01T00:00+08:00 */
	CHECK_INT(p.end_ms, jan25);
	REQUIRE(metering_period_of(jan25, &p) == 0);
	CHECK_INT(p.id, 202501);
	CHECK_INT(metering_period_next_id(202412), 202501);
	CHECK_INT(metering_period_prev_id(202501), 202412);
	CHECK_INT(metering_period_next_id(202402), 202403);
	CHECK_INT(metering_period_next_id(202413), 0);
}

static void test_from_id_and_range(void)
{
	struct metering_period p, q;

	REQUIRE(metering_period_from_id(202402, &p) == 0);
	CHECK_INT(p.start_ms, FEB_START);
	CHECK_INT(p.end_ms, MAR_START);
	CHECK_INT(metering_period_from_id(202400, &q), -EINVAL);
	CHECK_INT(metering_period_from_id(202413, &q), -EINVAL);
	CHECK_INT(metering_period_from_id(196912, &q), -EINVAL);
	CHECK_INT(metering_period_of(-1, &q), -ERANGE);
	CHECK_INT(metering_period_of(METERING_TIME_MAX_MS + 1, &q), -ERANGE);
	/* The epoch is 08:00 on 1970-01-01 in UTC+8; the month began 8 h before it. */
	REQUIRE(metering_period_of(0, &q) == 0);
	CHECK_INT(q.id, 197001);
	CHECK_INT(q.start_ms, -8 * H_MS);
	REQUIRE(metering_period_of(METERING_TIME_MAX_MS, &q) == 0);
	CHECK_INT(q.id, 999912);
}

static void test_open_and_close(void)
{
	struct metering_period jan;
	const int64_t grace = METERING_GRACE_DEFAULT_MS; /* 12 h: closes 2024-02-01T12:00+08 */

	REQUIRE(metering_period_from_id(202401, &jan) == 0);
	CHECK_INT(metering_period_close_ms(&jan, grace), S(1706760000));
	CHECK(metering_period_is_open(&jan, FEB_START - 1, grace, 0));
	CHECK(metering_period_is_open(&jan, S(1706760000) - 1, grace, 0));
	CHECK(!metering_period_is_open(&jan, S(1706760000), grace, 0));
	/* The store closed January early: closed whatever the clock says. */
	CHECK(!metering_period_is_open(&jan, FEB_START - 1, grace, 202401));
	/* Zero grace: closes exactly at the month end. */
	CHECK(!metering_period_is_open(&jan, FEB_START, 0, 0));
}

static void test_place_late_events(void)
{
	struct metering_placement pl;
	const int64_t ev = S(1706713200); /* 2024-01-31T23:00+08:00 */
	const int64_t grace = METERING_GRACE_DEFAULT_MS;

	/* On time. */
	REQUIRE(metering_period_place(ev, ev + 1000, grace, 0, &pl) == 0);
	CHECK_INT(pl.period.id, 202401);
	CHECK(!pl.in_grace && !pl.late);
	/* Arrives 2024-02-01T11:59:59.999+08: January still open -> billed by event time. */
	REQUIRE(metering_period_place(ev, S(1706760000) - 1, grace, 0, &pl) == 0);
	CHECK_INT(pl.period.id, 202401);
	CHECK(pl.in_grace);
	CHECK(!pl.late);
	/* Arrives at 12:00+08: January closed -> current period (February), flagged late. */
	REQUIRE(metering_period_place(ev, S(1706760000), grace, 0, &pl) == 0);
	CHECK_INT(pl.period.id, 202402);
	CHECK_INT(pl.event_period, 202401);
	CHECK(pl.late);
	/* Within grace by the clock, but the store already closed January. */
	REQUIRE(metering_period_place(ev, FEB_START + H_MS, grace, 202401, &pl) == 0);
	CHECK_INT(pl.period.id, 202402);
	CHECK(pl.late);
	/* The store closed February too (clock skew): never bill into a closed period. */
	REQUIRE(metering_period_place(ev, FEB_START + 13 * H_MS, grace, 202402, &pl) == 0);
	CHECK_INT(pl.period.id, 202403);
	CHECK(pl.late);
	/* Months late: lands in the month of arrival. */
	REQUIRE(metering_period_place(ev, S(1717171200), grace, 0, &pl) == 0); /* 2024-06-01 */
	CHECK_INT(pl.period.id, 202406);
	CHECK_INT(pl.event_period, 202401);
	/* A future event is billed by its own time. */
	REQUIRE(metering_period_place(MAR_START, ev, grace, 0, &pl) == 0);
	CHECK_INT(pl.period.id, 202403);
	CHECK(!pl.late);
	CHECK_INT(metering_period_place(ev, ev, -1, 0, &pl), -EINVAL);
	CHECK_INT(metering_period_place(ev, ev, METERING_GRACE_MAX_MS + 1, 0, &pl), -EINVAL);
	CHECK_INT(metering_period_place(-5, ev, grace, 0, &pl), -ERANGE);
}

static void test_day_of(void)
{
	int32_t day;
	int64_t start;

	/* 2024-02-29T23:59+08:00 */
	REQUIRE(metering_day_of(S(1709222340), &day, &start) == 0);
	CHECK_INT(day, 20240229);
	CHECK_INT(start, MAR_START - 86400LL * 1000);
	/* 2024-02-29T16:00Z is already 1 March in UTC+8. */
	REQUIRE(metering_day_of(MAR_START, &day, &start) == 0);
	CHECK_INT(day, 20240301);
	CHECK_INT(start, MAR_START);
}

static void test_add_months(void)
{
	int64_t t;

	/* 2024-01-31T10:00+08 + 1 month: 31 Feb does not exist -> 2024-02-29T10:00+08. */
	REQUIRE(metering_time_add_months(S(1706666400), 1, &t) == 0);
	CHECK_INT(t, S(1709172000));
	/* 2024-02-29T10:00+08 + 12 months -> 2025-02-28T10:00+08 (default package validity). */
	REQUIRE(metering_time_add_months(S(1709172000), 12, &t) == 0);
	CHECK_INT(t, S(1740708000));
	/* 2024-06-01T00:00+08 + 12 months = 2025-06-01T00:00+08: 365 days, not 366. */
	REQUIRE(metering_time_add_months(S(1717171200), 12, &t) == 0);
	CHECK_INT(t, S(1748707200));
	CHECK_INT(t - S(1717171200), 365LL * 86400 * 1000);
	/* Backwards across a year. */
	REQUIRE(metering_time_add_months(FEB_START, -2, &t) == 0);
	CHECK_INT(t, S(1701360000)); /* 2023-12-01T00:00+08:00 */
	CHECK_INT(metering_time_add_months(-1, 1, &t), -ERANGE);
}

UNIT_MAIN("metering_period", UNIT_CASE(test_month_boundary_utc8), UNIT_CASE(test_year_boundary),
	  UNIT_CASE(test_from_id_and_range), UNIT_CASE(test_open_and_close),
	  UNIT_CASE(test_place_late_events), UNIT_CASE(test_day_of), UNIT_CASE(test_add_months))
