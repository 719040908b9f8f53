/* Unit tests for metering/metering_charge: the charging order (trial -> packages by earliest
 * expiry -> postpaid or block), events spanning packages, value recognition, top-up, expiry,
 * refund-if-unused, month boundaries in UTC+8 and the month-end settlement entry.
 *
 * Money in units of 1e-5 元 (1 元 = 100000). The postpaid ladder in these tests is
 *   tier 0: calls 1..10 at 4567, tier 1: 11..20 at 3333, tier 2: 21.. at 2005. */
#include "metering/metering_charge.h"

#include <errno.h>
#include <string.h>

#include "metering/metering_period.h"
#include "unit.h"

#define DAY (86400LL * 1000)
static const int64_t T0 = 1704038400000LL;     /* 2024-01-01T00:00+08:00 */
static const int64_t FEB_1 = 1706716800000LL;  /* 2024-02-01T00:00+08:00 */
static const int64_t YEAR_1 = 1735660800000LL; /* 2025-01-01T00:00+08:00 */

static struct metering_ladder ladder(enum metering_ladder_mode mode)
{
	struct metering_ladder l = {
		.version = 3,
		.effective_from_ms = T0,
		.mode = mode,
		.n_tiers = 3,
		.tiers = {{10, 4567}, {20, 3333}, {METERING_LADDER_UNBOUNDED, 2005}},
	};
	return l;
}

static struct metering_package pkg(const char *id, int64_t size, int64_t remaining, int64_t price,
				   int64_t bought, int64_t expires)
{
	struct metering_package p;
	memset(&p, 0, sizeof(p));
	memcpy(p.id, id, strlen(id));
	p.status = METERING_PKG_ACTIVE;
	p.size = size;
	p.remaining = remaining;
	p.price_total = price;
	p.unit_price = size ? price / size : 0;
	p.purchased_at_ms = bought;
	p.expires_at_ms = expires;
	return p;
}

static struct metering_account account(struct metering_package *pkgs, size_t n, size_t cap)
{
	struct metering_account a = {
		.on_exhaust = METERING_ON_EXHAUST_POSTPAID,
		.trial_limit = METERING_TRIAL_CALLS_DEFAULT,
		.pkgs = pkgs,
		.n_pkgs = n,
		.cap_pkgs = cap,
	};
	return a;
}

static int charge(struct metering_account *a, struct metering_month *m,
		  const struct metering_ladder *l, int64_t q, int64_t t, struct metering_entry *e,
		  size_t cap, struct metering_charge_result *r)
{
	struct metering_event ev = {.quantity = q, .occurred_at_ms = t};
	return metering_charge_apply(a, m, l, &ev, e, cap, r);
}

/* Trial (100) -> package P1 (1000 calls for 35 元 = 3,500,000, i.e. 3500 per call) -> postpaid.
 *   event 1: 150 calls = 100 trial + 50 from P1; P1 value recognised floor(3.5e6*50/1000)
 *            = 175,000.
 *   event 2: 960 calls = the 950 left in P1 (value 3,500,000 - 175,000 = 3,325,000) + 10
 *            postpaid: month calls 1..10 at 4567 = 45,670, tier 0. */
static void test_trial_package_postpaid(void)
{
	struct metering_package pk[1] = {pkg("p1", 1000, 1000, 3500000, T0, YEAR_1)};
	struct metering_account a = account(pk, 1, 1);
	struct metering_ladder l = ladder(METERING_LADDER_GRADUATED);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[METERING_CHARGE_MAX_ENTRIES(1)];
	struct metering_charge_result r;

	REQUIRE(charge(&a, &m, &l, 150, T0 + DAY, e, 3, &r) == 0);
	REQUIRE(r.n_entries == 2);
	CHECK_INT(e[0].kind, METERING_ENTRY_TRIAL);
	CHECK_INT(e[0].calls, 100);
	CHECK_INT(e[0].balance_after, 0);
	CHECK_INT(e[0].amount, 0);
	CHECK_INT(e[1].kind, METERING_ENTRY_PACKAGE);
	CHECK_STR(e[1].package_id, "p1");
	CHECK_INT(e[1].calls, 50);
	CHECK_INT(e[1].balance_delta, -50);
	CHECK_INT(e[1].balance_after, 950);
	CHECK_INT(e[1].amount, 175000);
	CHECK_INT(a.trial_used, 100);
	CHECK_INT(pk[0].remaining, 950);
	CHECK_INT(r.trial_calls + r.package_calls, 150);

	REQUIRE(charge(&a, &m, &l, 960, T0 + 2 * DAY, e, 3, &r) == 0);
	REQUIRE(r.n_entries == 2); /* the trial is spent: no entry for it */
	CHECK_INT(e[0].kind, METERING_ENTRY_PACKAGE);
	CHECK_INT(e[0].calls, 950);
	CHECK_INT(e[0].amount, 3325000);
	CHECK_INT(e[1].kind, METERING_ENTRY_POSTPAID);
	CHECK_INT(e[1].calls, 10);
	CHECK_INT(e[1].amount, 45670);
	CHECK_INT(e[1].price_version, 3);
	CHECK_INT(e[1].tier_first, 0);
	CHECK_INT(e[1].tier_last, 0);
	CHECK_INT(pk[0].remaining, 0);
	CHECK_INT(m.postpaid_calls, 10);
	CHECK_INT(m.postpaid_charged, 45670);

	/* Next call: postpaid call 11 of the month -> tier 1 at 3333. */
	REQUIRE(charge(&a, &m, &l, 1, T0 + 3 * DAY, e, 3, &r) == 0);
	REQUIRE(r.n_entries == 1);
	CHECK_INT(e[0].kind, METERING_ENTRY_POSTPAID);
	CHECK_INT(e[0].amount, 3333);
	CHECK_INT(e[0].tier_first, 1);
	CHECK_INT(m.postpaid_calls, 11);
	CHECK_INT(m.postpaid_charged, 45670 + 3333);
}

/* The same tenant set to block: what the packages do not cover is recorded, not billed. */
static void test_block_mode(void)
{
	struct metering_package pk[1] = {pkg("p1", 5, 5, 500, T0, YEAR_1)};
	struct metering_account a = account(pk, 1, 1);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[3];
	struct metering_charge_result r;
	struct metering_balance b;

	a.on_exhaust = METERING_ON_EXHAUST_BLOCK;
	a.trial_used = 98; /* 2 trial calls left */
	metering_account_balance(&a, T0 + DAY, &b);
	CHECK_INT(b.remaining, 7);
	CHECK_INT(b.status, METERING_STATUS_PREPAID);

	/* 9 calls: 2 trial + 5 package + 2 blocked. No ladder is needed to block. */
	REQUIRE(charge(&a, &m, NULL, 9, T0 + DAY, e, 3, &r) == 0);
	REQUIRE(r.n_entries == 3);
	CHECK_INT(e[0].kind, METERING_ENTRY_TRIAL);
	CHECK_INT(e[0].calls, 2);
	CHECK_INT(e[1].calls, 5);
	CHECK_INT(e[2].kind, METERING_ENTRY_BLOCKED);
	CHECK_INT(e[2].calls, 2);
	CHECK_INT(e[2].amount, 0);
	CHECK_INT(r.blocked_calls, 2);
	CHECK_INT(m.blocked_calls, 2);
	CHECK_INT(m.postpaid_calls, 0);
	metering_account_balance(&a, T0 + DAY, &b);
	CHECK_INT(b.remaining, 0);
	CHECK_INT(b.status, METERING_STATUS_BLOCKED);

	/* Switching the tenant to postpaid changes the status, not the history. */
	a.on_exhaust = METERING_ON_EXHAUST_POSTPAID;
	metering_account_balance(&a, T0 + DAY, &b);
	CHECK_INT(b.status, METERING_STATUS_POSTPAID);
}

/* Postpaid needed but no ladder: -EINVAL, and nothing moved. */
static void test_postpaid_without_ladder(void)
{
	struct metering_account a = account(NULL, 0, 0);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[2];
	struct metering_charge_result r;

	a.trial_used = 99;
	CHECK_INT(charge(&a, &m, NULL, 2, T0, e, 2, &r), -EINVAL);
	CHECK_INT(a.trial_used, 99);
	CHECK_INT(m.postpaid_calls, 0);
	/* One call fits the trial: no ladder needed. */
	REQUIRE(charge(&a, &m, NULL, 1, T0, e, 2, &r) == 0);
	CHECK_INT(a.trial_used, 100);
}

/* Earliest expiry first, then earliest purchase, then id. Event at t = 2024-06-01.
 *   late   expires 2024-12-01, 10 left
 *   soonB  expires 2024-09-01, bought 2023-09-01, 3 left
 *   soonA  expires 2024-09-01, bought 2023-09-01, 2 left   (ties with soonB: id decides)
 *   newer  expires 2024-09-01, bought 2024-03-01, 4 left   (same expiry, later purchase)
 *   dead   expires exactly at t: expired (expiry is exclusive), never drawn
 *   future bought after t: not live at t
 * A 12-call event (trial spent) draws soonA 2, soonB 3, newer 4, late 3. */
static void test_expiry_first_order(void)
{
	const int64_t t = 1717171200000LL;     /* 2024-06-01T00:00+08:00 */
	const int64_t sep = 1725120000000LL;   /* 2024-09-01T00:00+08:00 */
	const int64_t dec = 1733011200000LL;   /* 2024-12-01T00:00+08:00 */
	const int64_t sep23 = 1693497600000LL; /* 2023-09-01T00:00+08:00 */
	const int64_t mar = 1709222400000LL;   /* 2024-03-01T00:00+08:00 */
	struct metering_package pk[6] = {
		pkg("late", 10, 10, 1000, T0, dec),   pkg("soonB", 3, 3, 300, sep23, sep),
		pkg("dead", 50, 50, 5000, sep23, t),  pkg("newer", 4, 4, 400, mar, sep),
		pkg("future", 9, 9, 900, t + 1, dec), pkg("soonA", 2, 2, 200, sep23, sep),
	};
	struct metering_account a = account(pk, 6, 6);
	struct metering_ladder l = ladder(METERING_LADDER_GRADUATED);
	struct metering_month m = {.period = 202406};
	struct metering_entry e[METERING_CHARGE_MAX_ENTRIES(6)];
	struct metering_charge_result r;

	a.trial_used = a.trial_limit;
	REQUIRE(charge(&a, &m, &l, 12, t, e, 8, &r) == 0);
	REQUIRE(r.n_entries == 4);
	CHECK_STR(e[0].package_id, "soonA");
	CHECK_INT(e[0].calls, 2);
	CHECK_STR(e[1].package_id, "soonB");
	CHECK_INT(e[1].calls, 3);
	CHECK_STR(e[2].package_id, "newer");
	CHECK_INT(e[2].calls, 4);
	CHECK_STR(e[3].package_id, "late");
	CHECK_INT(e[3].calls, 3);
	CHECK_INT(e[3].balance_after, 7);
	CHECK_INT(r.package_calls, 12);
	CHECK_INT(r.postpaid_calls, 0);
	CHECK_INT(pk[2].remaining, 50); /* dead */
	CHECK_INT(pk[4].remaining, 9);	/* future */
	/* One millisecond before its expiry "dead" would have been first. */
	struct metering_account b = account(pk, 6, 6);
	b.trial_used = b.trial_limit;
	REQUIRE(charge(&b, &m, &l, 1, t - 1, e, 8, &r) == 0);
	CHECK_STR(e[0].package_id, "dead");
}

/* An event that drains packages exactly leaves no postpaid entry; the next one is postpaid. */
static void test_span_exact(void)
{
	struct metering_package pk[2] = {pkg("a", 2, 2, 200, T0, YEAR_1),
					 pkg("b", 3, 3, 300, T0, YEAR_1 + DAY)};
	struct metering_account a = account(pk, 2, 2);
	struct metering_ladder l = ladder(METERING_LADDER_GRADUATED);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[4];
	struct metering_charge_result r;

	a.trial_used = a.trial_limit;
	REQUIRE(charge(&a, &m, &l, 5, T0 + DAY, e, 4, &r) == 0);
	CHECK_INT(r.n_entries, 2);
	CHECK_INT(r.postpaid_calls, 0);
	REQUIRE(charge(&a, &m, &l, 1, T0 + DAY, e, 4, &r) == 0);
	CHECK_INT(r.n_entries, 1);
	CHECK_INT(e[0].kind, METERING_ENTRY_POSTPAID);
}

/* Too little room for the entries: -ENOSPC and the account is untouched. */
static void test_enospc_atomic(void)
{
	struct metering_package pk[1] = {pkg("a", 10, 10, 1000, T0, YEAR_1)};
	struct metering_account a = account(pk, 1, 1);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[1];
	struct metering_charge_result r;

	a.trial_used = 99;
	CHECK_INT(charge(&a, &m, NULL, 3, T0, e, 1, &r), -ENOSPC);
	CHECK_INT(a.trial_used, 99);
	CHECK_INT(pk[0].remaining, 10);
	CHECK_INT(charge(&a, &m, NULL, 0, T0, e, 1, &r), -EINVAL);
}

/* 3 calls for 1.00 元 = 100,000: drawing one at a time recognises floor(100000/3) = 33,333,
 * then floor(200000/3) - 33,333 = 66,666 - 33,333 = 33,333, then 100,000 - 66,666 = 33,334:
 * the package price exactly, no residue. */
static void test_value_recognition(void)
{
	struct metering_package pk[1] = {pkg("x", 3, 3, 100000, T0, YEAR_1)};
	struct metering_account a = account(pk, 1, 1);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[3];
	struct metering_charge_result r;
	const int64_t want[3] = {33333, 33333, 33334};

	a.trial_limit = 0;
	for (int i = 0; i < 3; i++) {
		REQUIRE(charge(&a, &m, NULL, 1, T0 + i, e, 3, &r) == 0);
		CHECK_INT(e[0].amount, want[i]);
	}
}

static void test_topup(void)
{
	struct metering_package pk[2];
	struct metering_account a = account(pk, 0, 2);
	struct metering_entry e;
	struct metering_topup t = {.package_id = "pkg-1",
				   .size = 1000,
				   .unit_price = 3500,
				   .purchased_at_ms = 1709172000000LL}; /* 2024-02-29T10:00+08 */

	REQUIRE(metering_account_topup(&a, &t, &e) == 0);
	CHECK_INT(a.n_pkgs, 1);
	CHECK_INT(pk[0].remaining, 1000);
	CHECK_INT(pk[0].price_total, 3500000); /* 1000 * 3500 */
	/* Default validity one calendar year in UTC+8: 2025-02-28T10:00+08 (no 29 Feb 2025). */
	CHECK_INT(pk[0].expires_at_ms, 1740708000000LL);
	CHECK_INT(e.kind, METERING_ENTRY_TOPUP);
	CHECK_STR(e.package_id, "pkg-1");
	CHECK_INT(e.calls, 1000);
	CHECK_INT(e.balance_delta, 1000);
	CHECK_INT(e.amount, 3500000);
	CHECK_INT(metering_account_topup(&a, &t, &e), -EEXIST);

	/* Package price given: the unit price shown is derived from it. */
	t.package_id = "pkg-2";
	t.unit_price = 0;
	t.price_total = 9900000; /* 99 元 for 3000 calls */
	t.size = 3000;
	t.expires_at_ms = t.purchased_at_ms + 30 * DAY;
	REQUIRE(metering_account_topup(&a, &t, &e) == 0);
	CHECK_INT(pk[1].unit_price, 3300);
	CHECK_INT(pk[1].expires_at_ms, t.purchased_at_ms + 30 * DAY);
	t.package_id = "pkg-3";
	CHECK_INT(metering_account_topup(&a, &t, &e), -ENOSPC);
	CHECK_INT(metering_account_validate(&a), 0);

	/* Bad input. */
	struct metering_account b = account(pk, 0, 2);
	t.package_id = "";
	CHECK_INT(metering_account_topup(&b, &t, &e), -EINVAL);
	t.package_id = "p";
	t.size = -1;
	CHECK_INT(metering_account_topup(&b, &t, &e), -EINVAL);
	t.size = 1;
	t.expires_at_ms = t.purchased_at_ms;
	CHECK_INT(metering_account_topup(&b, &t, &e), -EINVAL);
	CHECK_INT(b.n_pkgs, 0);
}

/* A zero-size package is accepted, counts for nothing and is never drawn. */
static void test_zero_size_package(void)
{
	struct metering_package pk[1];
	struct metering_account a = account(pk, 0, 1);
	struct metering_ladder l = ladder(METERING_LADDER_GRADUATED);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[3];
	struct metering_charge_result r;
	struct metering_balance b;
	struct metering_topup t = {.package_id = "zero", .purchased_at_ms = T0};

	a.trial_used = a.trial_limit;
	REQUIRE(metering_account_topup(&a, &t, &e[0]) == 0);
	CHECK_INT(e[0].calls, 0);
	metering_account_balance(&a, T0 + 1, &b);
	CHECK_INT(b.remaining, 0);
	CHECK_INT(b.total, 0);
	REQUIRE(charge(&a, &m, &l, 1, T0 + 1, e, 3, &r) == 0);
	CHECK_INT(r.postpaid_calls, 1);
}

/* Expiry: the unused remainder leaves as an EXPIRE entry valued at the unrecognised price.
 * Package "half": 1000 calls for 3,500,000 with 300 left: used 700 are worth
 * floor(3.5e6 * 700 / 1000) = 2,450,000, so 1,050,000 is forfeited. */
static void test_expire(void)
{
	struct metering_package pk[3] = {pkg("half", 1000, 300, 3500000, T0, FEB_1),
					 pkg("used", 10, 0, 1000, T0, FEB_1),
					 pkg("live", 10, 10, 1000, T0, YEAR_1)};
	struct metering_account a = account(pk, 3, 3);
	struct metering_entry e[3];
	size_t n = 99;

	CHECK_INT(metering_account_expire(&a, FEB_1, e, 1, &n), -ENOSPC);
	CHECK_INT(pk[0].status, METERING_PKG_ACTIVE);
	/* Nothing is due a millisecond early. */
	REQUIRE(metering_account_expire(&a, FEB_1 - 1, e, 3, &n) == 0);
	CHECK_INT(n, 0);
	REQUIRE(metering_account_expire(&a, FEB_1, e, 3, &n) == 0);
	REQUIRE(n == 2);
	CHECK_STR(e[0].package_id, "half");
	CHECK_INT(e[0].kind, METERING_ENTRY_EXPIRE);
	CHECK_INT(e[0].calls, 300);
	CHECK_INT(e[0].balance_delta, -300);
	CHECK_INT(e[0].amount, 1050000);
	CHECK_STR(e[1].package_id, "used");
	CHECK_INT(e[1].calls, 0);
	CHECK_INT(e[1].amount, 0);
	CHECK_INT(pk[0].status, METERING_PKG_EXPIRED);
	CHECK_INT(pk[0].remaining, 0);
	CHECK_INT(pk[2].status, METERING_PKG_ACTIVE);
	/* Idempotent: a second run finds nothing. */
	REQUIRE(metering_account_expire(&a, FEB_1 + DAY, e, 3, &n) == 0);
	CHECK_INT(n, 0);
}

static void test_refund_if_unused(void)
{
	struct metering_package pk[2] = {pkg("fresh", 100, 100, 400000, T0, YEAR_1),
					 pkg("touched", 100, 99, 400000, T0, YEAR_1)};
	struct metering_account a = account(pk, 2, 2);
	struct metering_entry e;
	struct metering_balance b;
	const int64_t w = METERING_REFUND_WINDOW_DEFAULT_MS; /* 5 days */

	CHECK_INT(metering_account_refund(&a, "nope", T0, w, &e), -ENOENT);
	CHECK_INT(metering_account_refund(&a, "touched", T0 + DAY, w, &e), -EBUSY);
	CHECK_INT(metering_account_refund(&a, "fresh", T0 + w + 1, w, &e), -ETIMEDOUT);
	REQUIRE(metering_account_refund(&a, "fresh", T0 + w, w, &e) == 0);
	CHECK_INT(e.kind, METERING_ENTRY_REFUND);
	CHECK_INT(e.calls, 100);
	CHECK_INT(e.balance_delta, -100);
	CHECK_INT(e.amount, -400000);
	CHECK_INT(pk[0].status, METERING_PKG_REFUNDED);
	CHECK_INT(metering_account_refund(&a, "fresh", T0 + DAY, w, &e), -EINVAL);
	/* A refunded package is out of the balance and is never drawn. */
	a.trial_used = a.trial_limit;
	metering_account_balance(&a, T0 + DAY, &b);
	CHECK_INT(b.remaining, 99);
	CHECK_INT(b.total, 100);
	/* Window 0: no time limit; but an expired package cannot be refunded. */
	pk[1].remaining = 100;
	CHECK_INT(metering_account_refund(&a, "touched", YEAR_1, 0, &e), -EINVAL);
	REQUIRE(metering_account_refund(&a, "touched", YEAR_1 - 1, 0, &e) == 0);
}

/* Per-tier across the UTC+8 month boundary: 12 postpaid calls on 2024-01-31 (Jan calls 1..12:
 * 10*4567 + 2*3333 = 52,336), then one at 2024-02-01T00:00+08 (= 2024-01-31T16:00Z): February
 * starts again at tier 0 (4567), although it is still 31 January in UTC. */
static void test_month_boundary_per_tier(void)
{
	struct metering_account a = account(NULL, 0, 0);
	struct metering_ladder l = ladder(METERING_LADDER_GRADUATED);
	struct metering_month months[2] = {{.period = 202401}, {.period = 202402}};
	struct metering_entry e[2];
	struct metering_charge_result r;
	struct metering_placement pl;
	const int64_t times[2] = {FEB_1 - 60000, FEB_1};

	a.trial_used = a.trial_limit;
	for (int i = 0; i < 2; i++) {
		int64_t q = i == 0 ? 12 : 1;
		REQUIRE(metering_period_place(times[i], times[i], METERING_GRACE_DEFAULT_MS, 0,
					      &pl) == 0);
		struct metering_month *m = pl.period.id == 202401 ? &months[0] : &months[1];
		CHECK_INT(pl.period.id, 202401 + i);
		REQUIRE(charge(&a, m, &l, q, times[i], e, 2, &r) == 0);
	}
	CHECK_INT(months[0].postpaid_calls, 12);
	CHECK_INT(months[0].postpaid_charged, 52336);
	CHECK_INT(months[1].postpaid_calls, 1);
	CHECK_INT(months[1].postpaid_charged, 4567);
	CHECK_INT(e[0].tier_first, 0);
}

/* Whole-volume month close: 25 postpaid calls charged provisionally 89,025 (per-tier prices);
 * final 25*2005 = 50,125; SETTLEMENT entry -38,900; bill 0.50 元 (50,000), residue +125. */
static void test_month_settlement_entry(void)
{
	struct metering_account a = account(NULL, 0, 0);
	struct metering_ladder l = ladder(METERING_LADDER_VOLUME);
	struct metering_month m = {.period = 202401};
	struct metering_entry e[2];
	struct metering_charge_result r;
	struct metering_bill_line bl;

	a.trial_used = a.trial_limit;
	for (int i = 0; i < 25; i++)
		REQUIRE(charge(&a, &m, &l, 1, T0 + i, e, 2, &r) == 0);
	CHECK_INT(m.postpaid_charged, 89025);
	REQUIRE(metering_month_settle(&m, &l, &e[0], &bl) == 0);
	CHECK_INT(e[0].kind, METERING_ENTRY_SETTLEMENT);
	CHECK_INT(e[0].calls, 25);
	CHECK_INT(e[0].amount, -38900);
	CHECK_INT(e[0].price_version, 3);
	CHECK_INT(bl.exact, 50125);
	CHECK_INT(bl.billed, 50000);
	CHECK_INT(bl.residue, 125);
	CHECK_INT(m.postpaid_charged + e[0].amount, bl.exact);
}

static void test_balance_and_validate(void)
{
	struct metering_package pk[3] = {pkg("a", 100, 40, 1, T0, FEB_1),
					 pkg("b", 50, 50, 1, FEB_1, YEAR_1),
					 pkg("c", 10, 0, 1, T0, YEAR_1)};
	struct metering_account a = account(pk, 3, 3);
	struct metering_balance b;

	/* Jan 15: trial 100 (unused) + a (40 of 100) + c (0 of 10); b not yet bought. */
	metering_account_balance(&a, T0 + 14 * DAY, &b);
	CHECK_INT(b.remaining, 140);
	CHECK_INT(b.total, 210);
	/* Trial spent: it leaves the percent basis. Feb 1: a expired, b live. */
	a.trial_used = 100;
	metering_account_balance(&a, FEB_1, &b);
	CHECK_INT(b.remaining, 50);
	CHECK_INT(b.total, 60);
	CHECK_INT(b.status, METERING_STATUS_PREPAID);
	CHECK_INT(metering_account_validate(&a), 0);

	pk[2].remaining = 11; /* more than its size */
	CHECK_INT(metering_account_validate(&a), -EINVAL);
	pk[2].remaining = 0;
	memcpy(pk[2].id, "a", 2); /* duplicate id */
	CHECK_INT(metering_account_validate(&a), -EINVAL);
	a.trial_used = 101;
	CHECK_INT(metering_account_validate(&a), -EINVAL);
	CHECK_STR(metering_entry_kind_name(METERING_ENTRY_SETTLEMENT), "settlement");
	CHECK_STR(metering_status_name(METERING_STATUS_BLOCKED), "blocked");
}

UNIT_MAIN("metering_charge", UNIT_CASE(test_trial_package_postpaid), UNIT_CASE(test_block_mode),
	  UNIT_CASE(test_postpaid_without_ladder), UNIT_CASE(test_expiry_first_order),
	  UNIT_CASE(test_span_exact), UNIT_CASE(test_enospc_atomic),
	  UNIT_CASE(test_value_recognition), UNIT_CASE(test_topup),
	  UNIT_CASE(test_zero_size_package), UNIT_CASE(test_expire),
	  UNIT_CASE(test_refund_if_unused), UNIT_CASE(test_month_boundary_per_tier),
	  UNIT_CASE(test_month_settlement_entry), UNIT_CASE(test_balance_and_validate))
