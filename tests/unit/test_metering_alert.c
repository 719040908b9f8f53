/* Unit tests for metering/metering_alert: percent and absolute thresholds, exhausted, postpaid
 * and blocked switches, expiry reminders; fire once per crossing, several at once, dedup,
 * re-arm after a top-up past the hysteresis (default 5), deterministic ids. Includes the
 * OpenMeter regressions from NOTES.md: absolute thresholds must fire (#3200) and the zero /
 * exhausted edge must fire (#4157).
 *
 * The fixture drives the real charge module: every step computes the balance before and after
 * (metering_account_balance) and evaluates the rules on that change, as the service will. */
#include "metering/metering_alert.h"

#include <errno.h>
#include <string.h>

#include "unit.h"

#define DAY (86400LL * 1000)
static const int64_t T0 = 1704038400000LL;     /* 2024-01-01T00:00+08:00 */
static const int64_t YEAR_1 = 1735660800000LL; /* 2025-01-01T00:00+08:00 */

struct fx {
	struct metering_package pkgs[8];
	struct metering_account acct;
	struct metering_alert_rule_state sv[32];
	struct metering_alert_states st;
	struct metering_alert_config cfg;
	struct metering_alert_key key;
	struct metering_ladder ladder;
	struct metering_month month;
	struct metering_alert out[16];
	size_t n; /* alerts from the last step */
	int64_t now;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->acct.on_exhaust = METERING_ON_EXHAUST_POSTPAID;
	f->acct.trial_limit = METERING_TRIAL_CALLS_DEFAULT;
	f->acct.trial_used = METERING_TRIAL_CALLS_DEFAULT; /* most tests start past the trial */
	f->acct.pkgs = f->pkgs;
	f->acct.cap_pkgs = 8;
	f->st.v = f->sv;
	f->st.cap = 32;
	metering_alert_config_default(&f->cfg);
	f->key.tenant_id = "7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e11";
	f->key.product = 4;
	f->ladder.version = 1;
	f->ladder.mode = METERING_LADDER_GRADUATED;
	f->ladder.n_tiers = 1;
	f->ladder.tiers[0].upto = METERING_LADDER_UNBOUNDED;
	f->ladder.tiers[0].unit_price = 4000;
	f->month.period = 202401;
	f->now = T0 + DAY;
}

static int evaluate(struct fx *f, const struct metering_balance *prev)
{
	struct metering_balance cur;
	metering_account_balance(&f->acct, f->now, &cur);
	return metering_alert_evaluate(&f->cfg, &f->key, prev, &cur, f->pkgs, f->acct.n_pkgs,
				       &f->st, f->out, 16, &f->n);
}

/* One event of q calls; returns the number of alerts it raised, or a negative errno. */
static int consume(struct fx *f, int64_t q)
{
	struct metering_balance prev;
	struct metering_entry e[10];
	struct metering_charge_result r;
	struct metering_event ev = {.quantity = q, .occurred_at_ms = f->now};
	int rc;

	metering_account_balance(&f->acct, f->now, &prev);
	if ((rc = metering_charge_apply(&f->acct, &f->month, &f->ladder, &ev, e, 10, &r)) < 0)
		return rc;
	if ((rc = evaluate(f, &prev)) < 0)
		return rc;
	return (int)f->n;
}

static int topup(struct fx *f, const char *id, int64_t size, int64_t expires)
{
	struct metering_balance prev;
	struct metering_entry e;
	struct metering_topup t = {.package_id = id,
				   .size = size,
				   .unit_price = 3500,
				   .purchased_at_ms = f->now,
				   .expires_at_ms = expires};
	int rc;

	metering_account_balance(&f->acct, f->now, &prev);
	if ((rc = metering_account_topup(&f->acct, &t, &e)) < 0)
		return rc;
	if ((rc = evaluate(f, &prev)) < 0)
		return rc;
	return (int)f->n;
}

static const struct metering_alert *find(const struct fx *f, enum metering_alert_kind k,
					 int64_t threshold)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->out[i].kind == k && f->out[i].threshold == threshold)
			return &f->out[i];
	return NULL;
}

/* 100-call package, one call at a time: 20% fires at exactly 20 left (20*100 <= 20*100),
 * 10% at 10 left, and at 0 left: 0%, exhausted and switched-to-postpaid together. Each once. */
static void test_percent_once_each(void)
{
	struct fx f;
	int fired[101] = {0};

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	for (int left = 99; left >= 0; left--) {
		int n = consume(&f, 1);
		REQUIRE(n >= 0);
		fired[left] = n;
		if (left == 20) {
			REQUIRE(n == 1);
			CHECK_INT(f.out[0].kind, METERING_ALERT_PERCENT);
			CHECK_INT(f.out[0].threshold, 20);
			CHECK_INT(f.out[0].remaining, 20);
			CHECK_INT(f.out[0].occurred_at_ms, f.now);
		}
	}
	CHECK_INT(fired[21], 0);
	CHECK_INT(fired[20], 1);
	CHECK_INT(fired[19], 0);
	CHECK_INT(fired[10], 1);
	CHECK_INT(fired[0], 3);
	int total = 0;
	for (int i = 0; i <= 100; i++)
		total += fired[i];
	CHECK_INT(total, 5);
	CHECK(find(&f, METERING_ALERT_PERCENT, 0) != NULL);
	CHECK(find(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
	CHECK(find(&f, METERING_ALERT_POSTPAID, 0) != NULL);
	/* Postpaid calls after that raise nothing more. */
	CHECK_INT(consume(&f, 5), 0);
}

/* One 95-call event crosses 20% and 10% at once: two alerts, distinct ids. */
static void test_several_thresholds_one_event(void)
{
	struct fx f;

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	REQUIRE(consume(&f, 95) == 2);
	CHECK_INT(f.out[0].threshold, 20);
	CHECK_INT(f.out[1].threshold, 10);
	CHECK_INT(f.out[1].remaining, 5);
	CHECK(strcmp(f.out[0].alert_id, f.out[1].alert_id) != 0);
	/* The last 5 and 3 postpaid calls: 0%, exhausted, postpaid; the earlier ones stay quiet. */
	REQUIRE(consume(&f, 8) == 3);
	CHECK(find(&f, METERING_ALERT_PERCENT, 20) == NULL);
}

/* #4157: a package drained by one event fires every balance rule down to zero. */
static void test_exhausted_edge(void)
{
	struct fx f;

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 10, YEAR_1) == 0);
	REQUIRE(consume(&f, 10) == 5);
	CHECK(find(&f, METERING_ALERT_PERCENT, 20) != NULL);
	CHECK(find(&f, METERING_ALERT_PERCENT, 10) != NULL);
	CHECK(find(&f, METERING_ALERT_PERCENT, 0) != NULL);
	CHECK(find(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
	CHECK(find(&f, METERING_ALERT_POSTPAID, 0) != NULL);
	CHECK_INT(find(&f, METERING_ALERT_EXHAUSTED, 0)->remaining, 0);

	/* Block mode: BLOCKED instead of POSTPAID. */
	fx_init(&f);
	f.acct.on_exhaust = METERING_ON_EXHAUST_BLOCK;
	REQUIRE(topup(&f, "p1", 10, YEAR_1) == 0);
	REQUIRE(consume(&f, 12) == 5);
	CHECK(find(&f, METERING_ALERT_BLOCKED, 0) != NULL);
	CHECK(find(&f, METERING_ALERT_POSTPAID, 0) == NULL);
}

/* The free trial running out alerts too, although a spent trial leaves the percent basis
 * (prev total 100, cur total 0: the rules still run on that change). */
static void test_trial_end_alerts(void)
{
	struct fx f;

	fx_init(&f);
	f.acct.trial_used = 0;
	REQUIRE(consume(&f, 85) == 1); /* 15 left of 100: 20% */
	REQUIRE(consume(&f, 15) == 4); /* 10%, 0%, exhausted, postpaid */
	CHECK(find(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
	CHECK_INT(consume(&f, 1), 0);
}

/* A tenant that never held prepaid calls gets no quota alerts at all. */
static void test_never_prepaid_quiet(void)
{
	struct fx f;

	fx_init(&f);
	f.acct.trial_limit = 0;
	f.acct.trial_used = 0;
	f.cfg.calls[0] = 100;
	f.cfg.n_calls = 1;
	CHECK_INT(consume(&f, 3), 0);
	CHECK_INT(f.st.n, 0);
}

/* #3200: absolute "N calls left" thresholds fire, with or without percent rules.
 * Package 5000; thresholds 1000 and 100 calls. Percent rules off: each fires alone at exactly
 * its threshold. With the default percent rules on: 1000 left is 20% of 5000, so the 20% rule
 * and the 1000-call rule fire together; 100 left (2%) fires the 10% and the 100-call rules. */
static void test_absolute_thresholds(void)
{
	struct fx f;

	fx_init(&f);
	f.cfg.n_percent = 0;
	f.cfg.calls[0] = 100;
	f.cfg.calls[1] = 1000;
	f.cfg.n_calls = 2;
	REQUIRE(metering_alert_config_normalize(&f.cfg) == 0);
	CHECK_INT(f.cfg.calls[0], 1000);
	REQUIRE(topup(&f, "p1", 5000, YEAR_1) == 0);
	CHECK_INT(consume(&f, 3999), 0); /* 1001 left */
	REQUIRE(consume(&f, 1) == 1);	 /* exactly 1000 left */
	CHECK_INT(f.out[0].kind, METERING_ALERT_CALLS);
	CHECK_INT(f.out[0].threshold, 1000);
	CHECK_INT(f.out[0].remaining, 1000);
	CHECK_INT(consume(&f, 899), 0);
	REQUIRE(consume(&f, 1) == 1);
	CHECK_INT(f.out[0].threshold, 100);

	fx_init(&f); /* default percent rules as well */
	f.cfg.calls[0] = 1000;
	f.cfg.calls[1] = 100;
	f.cfg.n_calls = 2;
	REQUIRE(topup(&f, "p1", 5000, YEAR_1) == 0);
	REQUIRE(consume(&f, 4000) == 2);
	CHECK(find(&f, METERING_ALERT_PERCENT, 20) != NULL);
	CHECK(find(&f, METERING_ALERT_CALLS, 1000) != NULL);
	REQUIRE(consume(&f, 900) == 2);
	CHECK(find(&f, METERING_ALERT_PERCENT, 10) != NULL);
	CHECK(find(&f, METERING_ALERT_CALLS, 100) != NULL);
}

/* An absolute threshold above the package size: the top-up itself leaves the tenant below it,
 * so it fires once at once; a later top-up that stays below 1000 + 5% (1050) does not re-arm;
 * one that lifts the balance to 1500 does, and the next crossing has generation 1. */
static void test_absolute_larger_than_package(void)
{
	struct fx f;
	char id0[METERING_ALERT_ID_LEN + 1];

	fx_init(&f);
	f.cfg.n_percent = 0;
	f.cfg.calls[0] = 1000;
	f.cfg.n_calls = 1;
	REQUIRE(topup(&f, "p1", 500, YEAR_1) == 1);
	CHECK_INT(f.out[0].kind, METERING_ALERT_CALLS);
	CHECK_INT(f.out[0].remaining, 500);
	CHECK_INT(f.out[0].generation, 0);
	memcpy(id0, f.out[0].alert_id, sizeof(id0));
	CHECK_INT(consume(&f, 499), 0);
	REQUIRE(consume(&f, 1) == 2); /* exhausted + postpaid */
	CHECK_INT(topup(&f, "p2", 500, YEAR_1), 0);
	CHECK_INT(consume(&f, 10), 0);
	CHECK_INT(topup(&f, "p3", 1010, YEAR_1), 0); /* 490 + 1010 = 1500 > 1050: re-armed */
	REQUIRE(consume(&f, 500) == 1);		     /* 1000 left */
	CHECK_INT(f.out[0].generation, 1);
	CHECK(strcmp(f.out[0].alert_id, id0) != 0);
}

/* Re-arm after top-up. p1 100 drained: 20/10/0%, exhausted, postpaid fired (generation 0).
 * Top-up p2 100: remaining 100 of total 200 (p1 is used up but live) = 50% > p + 5 for every
 * p, and calls remain: all five re-arm silently. Draining to 40 left (40*100 <= 20*200) fires
 * 20% again with generation 1 and a new id; replaying that change fires nothing. */
static void test_rearm_after_topup(void)
{
	struct fx f;
	char id_gen0[METERING_ALERT_ID_LEN + 1], want[METERING_ALERT_ID_LEN + 1];

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	REQUIRE(consume(&f, 80) == 1);
	memcpy(id_gen0, f.out[0].alert_id, sizeof(id_gen0));
	REQUIRE(consume(&f, 20) == 4);
	REQUIRE(consume(&f, 1) == 0); /* postpaid, nothing new */
	REQUIRE(topup(&f, "p2", 100, YEAR_1) == 0);
	for (size_t i = 0; i < f.st.n; i++) {
		CHECK(!f.st.v[i].fired);
		CHECK_INT(f.st.v[i].generation, 1);
	}
	REQUIRE(consume(&f, 59) == 0); /* 41 left: 20.5% */
	REQUIRE(consume(&f, 1) == 1);  /* 40 left: 20% */
	CHECK_INT(f.out[0].threshold, 20);
	CHECK_INT(f.out[0].generation, 1);
	CHECK(strcmp(f.out[0].alert_id, id_gen0) != 0);
	REQUIRE(metering_alert_id(&f.key, METERING_ALERT_PERCENT, 20, "", 1, want) == 0);
	CHECK_STR(f.out[0].alert_id, want);
	REQUIRE(metering_alert_id(&f.key, METERING_ALERT_PERCENT, 20, "", 0, want) == 0);
	CHECK_STR(id_gen0, want);
}

/* Hysteresis (5 points): 20% fired at 20 of 100. A 5-call top-up gives 25 of 105 = 23.8%,
 * not above 20 + 5 = 25%: no re-arm, and sliding back to 21 of 105 stays quiet. A 14-call
 * top-up gives 35 of 119 = 29.4% > 25%: re-armed. 24 of 119 is quiet (24*100 = 2400 >
 * 20*119 = 2380); 23 of 119 fires again (2300 <= 2380), as generation 1. */
static void test_hysteresis(void)
{
	struct fx f;

	fx_init(&f);
	f.cfg.percent[0] = 20;
	f.cfg.n_percent = 1;
	f.cfg.exhausted = f.cfg.postpaid = f.cfg.blocked = false;
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	REQUIRE(consume(&f, 80) == 1);
	CHECK_INT(topup(&f, "p2", 5, YEAR_1), 0);
	CHECK(f.st.v[0].fired);
	CHECK_INT(consume(&f, 4), 0); /* 21 of 105 */
	CHECK_INT(topup(&f, "p3", 14, YEAR_1), 0);
	CHECK(!f.st.v[0].fired);
	CHECK_INT(consume(&f, 11), 0); /* 24 of 119 */
	REQUIRE(consume(&f, 1) == 1);  /* 23 of 119 */
	CHECK_INT(f.out[0].generation, 1);
}

/* A balance that only seems to rise (expiry shrinks the basis) does not re-arm: only a rise
 * in remaining calls counts. */
static void test_no_rearm_without_rise(void)
{
	struct fx f;
	struct metering_balance prev;
	struct metering_entry e[4];
	size_t n;

	fx_init(&f);
	f.cfg.n_percent = 1; /* 20% only */
	f.cfg.exhausted = f.cfg.postpaid = f.cfg.blocked = false;
	f.cfg.n_expiry_days = 0;
	REQUIRE(topup(&f, "a", 1000, f.now + 10 * DAY) == 0);
	REQUIRE(topup(&f, "b", 1000, YEAR_1) == 0);
	REQUIRE(consume(&f, 1600) == 1); /* a empty, b 400 left: 400 of 2000 = 20% */
	f.now += 10 * DAY;
	metering_account_balance(&f.acct, f.now - 1, &prev); /* 400 of 2000 */
	REQUIRE(metering_account_expire(&f.acct, f.now, e, 4, &n) == 0);
	REQUIRE(evaluate(&f, &prev) == 0);
	CHECK_INT(f.n, 0); /* now 400 of 1000 = 40%, but nothing was bought */
	CHECK(f.st.v[0].fired);
}

/* The last package expiring with calls left drops the balance to zero: exhausted fires. */
static void test_expiry_to_zero(void)
{
	struct fx f;
	struct metering_balance prev;
	struct metering_entry e[2];
	size_t n;

	fx_init(&f);
	f.cfg.n_expiry_days = 0;
	REQUIRE(topup(&f, "a", 100, f.now + DAY) == 0);
	CHECK_INT(consume(&f, 50), 0);
	f.now += DAY;
	metering_account_balance(&f.acct, f.now - 1, &prev);
	REQUIRE(metering_account_expire(&f.acct, f.now, e, 2, &n) == 0);
	REQUIRE(evaluate(&f, &prev) == 0);
	CHECK_INT(f.n, 5);
	CHECK(find(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
}

/* Re-applying the same change with the saved state raises nothing; re-applying it from the
 * state before (a crash before commit) raises the same ids. */
static void test_dedup_and_replay(void)
{
	struct fx f;
	struct metering_balance prev, cur;
	struct metering_alert_rule_state saved[32];
	struct metering_alert first[16];
	size_t saved_n, n1;

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	metering_account_balance(&f.acct, f.now, &prev);
	memcpy(saved, f.sv, sizeof(saved));
	saved_n = f.st.n;
	REQUIRE(consume(&f, 95) == 2);
	memcpy(first, f.out, sizeof(first));
	n1 = f.n;
	metering_account_balance(&f.acct, f.now, &cur);
	REQUIRE(metering_alert_evaluate(&f.cfg, &f.key, &prev, &cur, f.pkgs, f.acct.n_pkgs, &f.st,
					f.out, 16, &f.n) == 0);
	CHECK_INT(f.n, 0);
	memcpy(f.sv, saved, sizeof(saved));
	f.st.n = saved_n;
	REQUIRE(metering_alert_evaluate(&f.cfg, &f.key, &prev, &cur, f.pkgs, f.acct.n_pkgs, &f.st,
					f.out, 16, &f.n) == 0);
	REQUIRE(f.n == n1);
	for (size_t i = 0; i < n1; i++)
		CHECK_STR(f.out[i].alert_id, first[i].alert_id);
}

/* Expiry reminders at 7/3/1 days, per package, each once; a package bought with 2 days left
 * fires 7 and 3 together; a used-up package gets none. */
static void test_expiry_reminders(void)
{
	struct fx f;
	const int64_t exp = T0 + 30 * DAY;

	fx_init(&f);
	f.now = T0;
	REQUIRE(topup(&f, "a", 100, exp) == 0);
	f.now = exp - 7 * DAY - 1;
	CHECK_INT(consume(&f, 1), 0);
	f.now = exp - 7 * DAY; /* exactly 7 days left */
	REQUIRE(consume(&f, 1) == 1);
	CHECK_INT(f.out[0].kind, METERING_ALERT_EXPIRING);
	CHECK_INT(f.out[0].threshold, 7);
	CHECK_STR(f.out[0].package_id, "a");
	CHECK_INT(f.out[0].remaining, 98);
	CHECK_INT(consume(&f, 1), 0);
	f.now = exp - 2 * DAY;
	REQUIRE(consume(&f, 1) == 1);
	CHECK_INT(f.out[0].threshold, 3);
	f.now = exp - 3600 * 1000;
	REQUIRE(consume(&f, 1) == 1);
	CHECK_INT(f.out[0].threshold, 1);
	/* Bought with two days left: 7 and 3 in one evaluation, distinct ids. */
	REQUIRE(topup(&f, "b", 10, f.now + 2 * DAY) == 2);
	CHECK_STR(f.out[0].package_id, "b");
	CHECK_INT(f.out[0].threshold, 7);
	CHECK_INT(f.out[1].threshold, 3);
	CHECK(strcmp(f.out[0].alert_id, f.out[1].alert_id) != 0);
	/* A used-up package is not worth a reminder. */
	fx_init(&f);
	f.now = T0;
	REQUIRE(topup(&f, "c", 5, T0 + 2 * DAY) == 2);
	fx_init(&f);
	f.now = T0;
	f.pkgs[0] = (struct metering_package){
		.id = "c", .size = 5, .purchased_at_ms = T0 - DAY, .expires_at_ms = T0 + 2 * DAY};
	f.acct.n_pkgs = 1;
	struct metering_balance prev;
	metering_account_balance(&f.acct, f.now, &prev);
	REQUIRE(evaluate(&f, &prev) == 0);
	CHECK(find(&f, METERING_ALERT_EXPIRING, 7) == NULL);
}

/* Zero-size package: nothing to alert on, no division by zero; with a real package next to it
 * the percent basis is unchanged. */
static void test_zero_size_package(void)
{
	struct fx f;

	fx_init(&f);
	CHECK_INT(topup(&f, "zero", 0, YEAR_1), 0);
	CHECK_INT(f.st.n, 0);
	REQUIRE(topup(&f, "p1", 100, YEAR_1) == 0);
	CHECK_INT(topup(&f, "zero2", 0, YEAR_1), 0);
	REQUIRE(consume(&f, 80) == 1); /* 20 of 100, zero-size adds nothing */
	CHECK_INT(f.out[0].threshold, 20);
}

/* Short output or state capacity: -ENOSPC and nothing changes. */
static void test_enospc_atomic(void)
{
	struct fx f;
	struct metering_balance prev, cur;

	fx_init(&f);
	REQUIRE(topup(&f, "p1", 10, YEAR_1) == 0);
	metering_account_balance(&f.acct, f.now, &prev);
	f.pkgs[0].remaining = 0;
	metering_account_balance(&f.acct, f.now, &cur);
	CHECK_INT(metering_alert_evaluate(&f.cfg, &f.key, &prev, &cur, f.pkgs, 1, &f.st, f.out, 4,
					  &f.n),
		  -ENOSPC);
	CHECK_INT(f.st.n, 0);
	f.st.cap = 3;
	CHECK_INT(metering_alert_evaluate(&f.cfg, &f.key, &prev, &cur, f.pkgs, 1, &f.st, f.out, 16,
					  &f.n),
		  -ENOSPC);
	CHECK_INT(f.st.n, 0);
	f.st.cap = 32;
	REQUIRE(metering_alert_evaluate(&f.cfg, &f.key, &prev, &cur, f.pkgs, 1, &f.st, f.out, 5,
					&f.n) == 0);
	CHECK_INT(f.n, 5);
	CHECK_INT(f.st.n, 5);
}

static void test_config_normalize(void)
{
	struct metering_alert_config c;

	metering_alert_config_default(&c);
	CHECK_INT(c.n_percent, 3);
	CHECK_INT(c.n_calls, 0);
	CHECK_INT(c.hysteresis_pct, 5);
	c.percent[0] = 10;
	c.percent[1] = 50;
	c.percent[2] = 10;
	c.percent[3] = 0;
	c.n_percent = 4;
	REQUIRE(metering_alert_config_normalize(&c) == 0);
	CHECK_INT(c.n_percent, 3);
	CHECK_INT(c.percent[0], 50);
	CHECK_INT(c.percent[1], 10);
	CHECK_INT(c.percent[2], 0);
	c.percent[0] = 100;
	CHECK_INT(metering_alert_config_normalize(&c), -EINVAL);
	metering_alert_config_default(&c);
	c.expiry_days[0] = 0;
	CHECK_INT(metering_alert_config_normalize(&c), -EINVAL);
	metering_alert_config_default(&c);
	c.calls[0] = -1;
	c.n_calls = 1;
	CHECK_INT(metering_alert_config_normalize(&c), -EINVAL);
	metering_alert_config_default(&c);
	c.hysteresis_pct = 101;
	CHECK_INT(metering_alert_config_normalize(&c), -EINVAL);
	metering_alert_config_default(&c);
	c.n_percent = METERING_ALERT_MAX_THRESHOLDS + 1;
	CHECK_INT(metering_alert_config_normalize(&c), -EINVAL);
}

static void test_alert_id(void)
{
	struct metering_alert_key k = {.tenant_id = "t-1", .product = 4};
	struct metering_alert_key k2 = {.tenant_id = "t-1", .product = 3};
	char a[METERING_ALERT_ID_LEN + 1], b[METERING_ALERT_ID_LEN + 1];

	REQUIRE(metering_alert_id(&k, METERING_ALERT_EXPIRING, 7, "pkg", 0, a) == 0);
	CHECK_INT(strlen(a), 36);
	CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	CHECK(a[14] == '8');		      /* version 8 */
	CHECK(strchr("89ab", a[19]) != NULL); /* RFC 9562 variant */
	REQUIRE(metering_alert_id(&k, METERING_ALERT_EXPIRING, 7, "pkg", 0, b) == 0);
	CHECK_STR(a, b);
	REQUIRE(metering_alert_id(&k2, METERING_ALERT_EXPIRING, 7, "pkg", 0, b) == 0);
	CHECK(strcmp(a, b) != 0);
	REQUIRE(metering_alert_id(&k, METERING_ALERT_EXPIRING, 3, "pkg", 0, b) == 0);
	CHECK(strcmp(a, b) != 0);
	REQUIRE(metering_alert_id(&k, METERING_ALERT_EXPIRING, 7, "pkh", 0, b) == 0);
	CHECK(strcmp(a, b) != 0);
	REQUIRE(metering_alert_id(&k, METERING_ALERT_EXPIRING, 7, "pkg", 1, b) == 0);
	CHECK(strcmp(a, b) != 0);
	REQUIRE(metering_alert_id(&k, METERING_ALERT_CALLS, 7, "pkg", 0, b) == 0);
	CHECK(strcmp(a, b) != 0);
	/* Pinned vector: ids must never change across releases (outbox replays, consumers'
	 * dedup). SHA-256 of
	 * "shiren.quota-alert.v1|3:t-1|1:4|17:percent_remaining|2:20|0:|1:0", first 16 bytes,
	 * version nibble 8, variant bits 10 (computed independently with Python's hashlib). */
	REQUIRE(metering_alert_id(&k, METERING_ALERT_PERCENT, 20, "", 0, b) == 0);
	CHECK_STR(b, "d7be7a85-1f37-8e42-85ce-e7381bd4231f");
	/* Length prefixes: moving text between fields changes the id. */
	struct metering_alert_key k3 = {.tenant_id = "t-1|", .product = 4};
	REQUIRE(metering_alert_id(&k3, METERING_ALERT_EXPIRING, 7, "kg", 0, b) == 0);
	CHECK(strcmp(a, b) != 0);
	k3.tenant_id = "";
	CHECK_INT(metering_alert_id(&k3, METERING_ALERT_EXPIRING, 7, "", 0, b), -EINVAL);
	CHECK_INT(metering_alert_id(&k, 99, 7, "", 0, b), -EINVAL);
}

static void test_prune(void)
{
	struct fx f;
	struct metering_entry e[2];
	size_t n;

	fx_init(&f);
	f.now = T0;
	REQUIRE(topup(&f, "a", 10, T0 + 2 * DAY) == 2);
	REQUIRE(topup(&f, "b", 10, T0 + 2 * DAY + 1) == 2);
	CHECK_INT(f.st.n, 4);
	REQUIRE(metering_account_expire(&f.acct, T0 + 2 * DAY, e, 2, &n) == 0);
	metering_alert_states_prune(&f.st, f.pkgs, f.acct.n_pkgs);
	CHECK_INT(f.st.n, 2);
	CHECK_STR(f.st.v[0].package_id, "b");
	CHECK_STR(metering_alert_kind_name(METERING_ALERT_CALLS), "calls_remaining");
}

UNIT_MAIN("metering_alert", UNIT_CASE(test_percent_once_each),
	  UNIT_CASE(test_several_thresholds_one_event), UNIT_CASE(test_exhausted_edge),
	  UNIT_CASE(test_trial_end_alerts), UNIT_CASE(test_never_prepaid_quiet),
	  UNIT_CASE(test_absolute_thresholds), UNIT_CASE(test_absolute_larger_than_package),
	  UNIT_CASE(test_rearm_after_topup), UNIT_CASE(test_hysteresis),
	  UNIT_CASE(test_no_rearm_without_rise), UNIT_CASE(test_expiry_to_zero),
	  UNIT_CASE(test_dedup_and_replay), UNIT_CASE(test_expiry_reminders),
	  UNIT_CASE(test_zero_size_package), UNIT_CASE(test_enospc_atomic),
	  UNIT_CASE(test_config_normalize), UNIT_CASE(test_alert_id), UNIT_CASE(test_prune))
