/* Unit tests for metering/metering_ladder: both ladder modes on worked examples, tier bounds,
 * per-event charges, month-end settlement, fen rounding, version selection.
 *
 * Money is in units of 1e-5 元: 1 元 = 100000, 1 分 = 1000, 0.040 元 = 4000.
 *
 * Ladder P (the pnvs ladder quoted in NOTES.md), calls per natural month:
 *   tier 0: calls       1 .. 100,000     0.040 元 = 4000
 *   tier 1: calls 100,001 .. 5,000,000   0.035 元 = 3500
 *   tier 2: calls 5,000,001 .. 10,000,000 0.030 元 = 3000
 *   tier 3: calls above 10,000,000        0.026 元 = 2600
 *
 *   N            whole-volume (全量累进)          per-tier (差额累进)
 *   100,000      100000*4000 = 400,000,000       same = 400,000,000 (4,000 元)
 *   100,001      100001*3500 = 350,003,500       400,000,000 + 1*3500 = 400,003,500
 *   150,000      150000*3500 = 525,000,000       400,000,000 + 50000*3500 = 575,000,000
 *   12,000,000   12e6*2600 = 31,200,000,000      400,000,000 + 4,900,000*3500 (17,150,000,000)
 *                (312,000 元)                    + 5,000,000*3000 (15,000,000,000)
 *                                                + 2,000,000*2600 (5,200,000,000)
 *                                                = 37,750,000,000 (377,500 元)
 * Note the whole-volume cliff: 100,001 calls cost less than 100,000 (3,500.035 < 4,000 元).
 *
 * Ladder S (small, odd prices, to show rounding):
 *   tier 0: calls 1..10 at 0.04567 元 = 4567; tier 1: 11..20 at 3333; tier 2: 21.. at 2005.
 *   N = 25: whole-volume 25*2005 = 50,125 (0.50125 元 -> bill 0.50 元, residue +125)
 *           per-tier 10*4567 + 10*3333 + 5*2005 = 45,670 + 33,330 + 10,025 = 89,025
 *           (0.89025 元 -> bill 0.89 元, residue +25) */
#include "metering/metering_ladder.h"

#include <errno.h>

#include "unit.h"

static struct metering_ladder ladder_p(enum metering_ladder_mode mode)
{
	struct metering_ladder l = {
		.version = 1,
		.mode = mode,
		.n_tiers = 4,
		.tiers = {{100000, 4000},
			  {5000000, 3500},
			  {10000000, 3000},
			  {METERING_LADDER_UNBOUNDED, 2600}},
	};
	return l;
}

static struct metering_ladder ladder_s(enum metering_ladder_mode mode)
{
	struct metering_ladder l = {
		.version = 7,
		.mode = mode,
		.n_tiers = 3,
		.tiers = {{10, 4567}, {20, 3333}, {METERING_LADDER_UNBOUNDED, 2005}},
	};
	return l;
}

static int64_t amount(const struct metering_ladder *l, int64_t n)
{
	int64_t a = -1;
	if (metering_ladder_amount(l, n, &a) < 0)
		return -1;
	return a;
}

static void test_validate(void)
{
	struct metering_ladder l = ladder_p(METERING_LADDER_VOLUME);

	CHECK_INT(metering_ladder_validate(&l), 0);
	l.tiers[1].upto = 100000; /* not strictly increasing */
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.tiers[3].upto = 20000000; /* last tier bounded */
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.tiers[2].unit_price = -1;
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.mode = 0;
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.version = 0;
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.n_tiers = 0;
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l.n_tiers = METERING_LADDER_MAX_TIERS + 1;
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
	l = ladder_p(METERING_LADDER_VOLUME);
	l.tiers[0].upto = 0; /* a tier must hold at least call 1 */
	CHECK_INT(metering_ladder_validate(&l), -EINVAL);
}

static void test_tier_bounds(void)
{
	struct metering_ladder l = ladder_p(METERING_LADDER_GRADUATED);

	CHECK_INT(metering_ladder_tier_of(&l, 1), 0);
	CHECK_INT(metering_ladder_tier_of(&l, 100000), 0); /* the bound is inclusive */
	CHECK_INT(metering_ladder_tier_of(&l, 100001), 1);
	CHECK_INT(metering_ladder_tier_of(&l, 5000000), 1);
	CHECK_INT(metering_ladder_tier_of(&l, 10000001), 3);
	CHECK_INT(metering_ladder_tier_of(&l, 0), -EINVAL);
}

static void test_whole_volume_worked(void)
{
	struct metering_ladder l = ladder_p(METERING_LADDER_VOLUME);

	CHECK_INT(amount(&l, 0), 0);
	CHECK_INT(amount(&l, 1), 4000);
	CHECK_INT(amount(&l, 100000), 400000000LL);
	CHECK_INT(amount(&l, 100001), 350003500LL);
	CHECK_INT(amount(&l, 150000), 525000000LL);
	CHECK_INT(amount(&l, 12000000), 31200000000LL);
	CHECK_INT(metering_ladder_amount(&l, -1, &(int64_t){0}), -EINVAL);
}

static void test_per_tier_worked(void)
{
	struct metering_ladder l = ladder_p(METERING_LADDER_GRADUATED);

	CHECK_INT(amount(&l, 0), 0);
	CHECK_INT(amount(&l, 100000), 400000000LL);
	CHECK_INT(amount(&l, 100001), 400003500LL);
	CHECK_INT(amount(&l, 150000), 575000000LL);
	/* 5,000,000: 400,000,000 + 4,900,000*3500 = 17,550,000,000 */
	CHECK_INT(amount(&l, 5000000), 17550000000LL);
	CHECK_INT(amount(&l, 12000000), 37750000000LL);
}

static void test_marginal_charge(void)
{
	struct metering_ladder l = ladder_s(METERING_LADDER_GRADUATED);
	struct metering_ladder_charge c;

	/* The 10th call is the last of tier 0. */
	REQUIRE(metering_ladder_charge(&l, 9, 1, &c) == 0);
	CHECK_INT(c.amount, 4567);
	CHECK_INT(c.tier_first, 0);
	CHECK_INT(c.tier_last, 0);
	/* The 11th call opens tier 1. */
	REQUIRE(metering_ladder_charge(&l, 10, 1, &c) == 0);
	CHECK_INT(c.amount, 3333);
	CHECK_INT(c.tier_first, 1);
	/* Calls 10, 11, 12 in one event: 4567 + 3333 + 3333 = 11,233 across tiers 0..1. */
	REQUIRE(metering_ladder_charge(&l, 9, 3, &c) == 0);
	CHECK_INT(c.amount, 11233);
	CHECK_INT(c.tier_first, 0);
	CHECK_INT(c.tier_last, 1);
	/* Calls 1..25 in one event = the per-tier month amount. */
	REQUIRE(metering_ladder_charge(&l, 0, 25, &c) == 0);
	CHECK_INT(c.amount, 89025);
	CHECK_INT(c.tier_last, 2);
	CHECK_INT(metering_ladder_charge(&l, 0, 0, &c), -EINVAL);
	CHECK_INT(metering_ladder_charge(&l, -1, 1, &c), -EINVAL);
}

/* Per-tier: 25 events of one call sum to the month amount; settlement is 0. */
static void test_settle_per_tier(void)
{
	struct metering_ladder l = ladder_s(METERING_LADDER_GRADUATED);
	struct metering_ladder_charge c;
	struct metering_bill_line b;
	int64_t charged = 0;

	for (int64_t i = 0; i < 25; i++) {
		REQUIRE(metering_ladder_charge(&l, i, 1, &c) == 0);
		charged += c.amount;
	}
	CHECK_INT(charged, 89025);
	REQUIRE(metering_ladder_settle(&l, 25, charged, &b) == 0);
	CHECK_INT(b.exact, 89025);
	CHECK_INT(b.settlement, 0);
	CHECK_INT(b.billed, 89000); /* 0.89025 元 -> 0.89 元 */
	CHECK_INT(b.residue, 25);
}

/* Whole-volume: calls are charged provisionally at the tier they fall in (the same 89,025);
 * at month end the settlement line = 25*2005 - 89,025 = 50,125 - 89,025 = -38,900. */
static void test_settle_whole_volume(void)
{
	struct metering_ladder l = ladder_s(METERING_LADDER_VOLUME);
	struct metering_ladder_charge c;
	struct metering_bill_line b;
	int64_t charged = 0;

	for (int64_t i = 0; i < 25; i++) {
		REQUIRE(metering_ladder_charge(&l, i, 1, &c) == 0);
		charged += c.amount;
	}
	CHECK_INT(charged, 89025);
	REQUIRE(metering_ladder_settle(&l, 25, charged, &b) == 0);
	CHECK_INT(b.calls, 25);
	CHECK_INT(b.exact, 50125);
	CHECK_INT(b.settlement, -38900);
	CHECK_INT(b.charged + b.settlement, b.exact);
	CHECK_INT(b.billed, 50000); /* 0.50125 元 -> 0.50 元 */
	CHECK_INT(b.residue, 125);

	/* Ladder P, 150,000 calls: provisional 575,000,000, exact 525,000,000: credit 500 元. */
	struct metering_ladder p = ladder_p(METERING_LADDER_VOLUME);
	REQUIRE(metering_ladder_charge(&p, 0, 150000, &c) == 0);
	CHECK_INT(c.amount, 575000000LL);
	REQUIRE(metering_ladder_settle(&p, 150000, c.amount, &b) == 0);
	CHECK_INT(b.settlement, -50000000LL);
	CHECK_INT(b.billed, 525000000LL);
	CHECK_INT(b.residue, 0);
	/* Exactly at a tier bound nothing needs truing up. */
	REQUIRE(metering_ladder_settle(&p, 100000, 400000000LL, &b) == 0);
	CHECK_INT(b.settlement, 0);
	/* No postpaid calls: an empty line. */
	REQUIRE(metering_ladder_settle(&p, 0, 0, &b) == 0);
	CHECK_INT(b.exact, 0);
	CHECK_INT(b.billed, 0);
}

static void test_round_fen(void)
{
	int64_t r;

	/* 1 分 = 1000 units; half a fen (500) rounds away from zero. */
	const int64_t cases[][2] = {
		{0, 0},		{499, 0},  {500, 1000},	  {12499, 12000},   {12500, 13000},
		{12999, 13000}, {-499, 0}, {-500, -1000}, {-12500, -13000}, {350003500, 350004000},
		{89025, 89000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		REQUIRE(metering_money_round_fen(cases[i][0], &r) == 0);
		CHECK_INT(r, cases[i][1]);
	}
	CHECK_INT(metering_money_round_fen(INT64_MAX, &r), -EOVERFLOW);
}

static void test_overflow(void)
{
	struct metering_ladder l = ladder_p(METERING_LADDER_GRADUATED);
	struct metering_ladder_charge c;
	int64_t a;

	l.tiers[3].unit_price = INT64_MAX / 4;
	CHECK_INT(metering_ladder_amount(&l, 10000005, &a), -EOVERFLOW);
	CHECK_INT(metering_ladder_charge(&l, 10000000, 5, &c), -EOVERFLOW);
	l.mode = METERING_LADDER_VOLUME;
	CHECK_INT(metering_ladder_amount(&l, 10000005, &a), -EOVERFLOW);
}

static void test_select_version(void)
{
	/* v1 from 2024-01-01T00:00+08:00; v2 published for 2024-03-15 (mid-month); v3 at the same
	 * instant as v2 with a higher version wins the tie. */
	struct metering_ladder v[3] = {ladder_p(METERING_LADDER_VOLUME),
				       ladder_s(METERING_LADDER_VOLUME),
				       ladder_s(METERING_LADDER_GRADUATED)};
	v[0].version = 1;
	v[0].effective_from_ms = 1704038400000LL;
	v[1].version = 2;
	v[1].effective_from_ms = 1710432000000LL;
	v[2].version = 3;
	v[2].effective_from_ms = 1710432000000LL;

	/* December 2023 predates every version. */
	CHECK(metering_ladder_select(v, 3, 1701360000000LL) == NULL);
	/* January: v1, from its very first millisecond. */
	CHECK(metering_ladder_select(v, 3, 1704038400000LL) == &v[0]);
	/* March starts 2024-03-01: still v1 (v2/v3 are effective mid-month). */
	CHECK(metering_ladder_select(v, 3, 1709222400000LL) == &v[0]);
	/* April starts 2024-04-01: v3 (ties on effective_from go to the higher version). */
	CHECK(metering_ladder_select(v, 3, 1711900800000LL) == &v[2]);
	CHECK(metering_ladder_select(v, 0, 1711900800000LL) == NULL);
}

UNIT_MAIN("metering_ladder", UNIT_CASE(test_validate), UNIT_CASE(test_tier_bounds),
	  UNIT_CASE(test_whole_volume_worked), UNIT_CASE(test_per_tier_worked),
	  UNIT_CASE(test_marginal_charge), UNIT_CASE(test_settle_per_tier),
	  UNIT_CASE(test_settle_whole_volume), UNIT_CASE(test_round_fen), UNIT_CASE(test_overflow),
	  UNIT_CASE(test_select_version))
