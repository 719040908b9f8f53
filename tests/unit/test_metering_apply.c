/* Unit tests for metering/metering_apply: a batch of usage events and admin changes applied to
 * in-memory accounts, as the service does inside its transaction (without PostgreSQL): the
 * ledger rows, alerts, placement of late events, expiry and settlement rows. */
#include "metering/metering_apply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#define TENANT "7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e11"
#define DAY    (86400LL * 1000)
static const int64_t T0 = 1732377600000LL;	/* 2024-11-24T00:00+08:00 */
static const int64_t DEC_1 = 1732982400000LL;	/* 2024-12-01T00:00+08:00 */
static const int64_t YEAR_ON = 1764000000000LL; /* late 2025 */

struct fx {
	struct mt_settings set;
	struct mt_ladders *lad;
	struct mt_batch b;
	int seq;
};

static struct mt_ladders ladders_storage;

static void fx_init(struct fx *f, enum metering_on_exhaust oe, int64_t pkg_size,
		    int64_t pkg_expires)
{
	memset(f, 0, sizeof(*f));
	f->set.grace_ms = METERING_GRACE_DEFAULT_MS;
	f->set.trial_limit = 100;
	metering_alert_config_default(&f->set.alerts);
	f->lad = &ladders_storage;
	memset(f->lad, 0, sizeof(*f->lad));
	struct metering_ladder *l = &f->lad->v[4][0];
	l->version = 1;
	l->mode = METERING_LADDER_VOLUME;
	l->n_tiers = 2;
	l->tiers[0].upto = 100;
	l->tiers[0].unit_price = 4000;
	l->tiers[1].upto = METERING_LADDER_UNBOUNDED;
	l->tiers[1].unit_price = 3000;
	f->lad->n[4] = 1;
	mt_batch_init(&f->b, &f->set, f->lad);
	uint32_t ai;
	REQUIRE(mt_batch_want_account(&f->b, TENANT, 4, &ai) == 0);
	struct mt_acct *x = f->b.accts[ai];
	REQUIRE(mt_acct_prepare(&f->b, x, 1, 0) == 0);
	x->a.on_exhaust = oe;
	if (pkg_size > 0) {
		struct metering_package *p = &x->a.pkgs[x->a.n_pkgs++];
		(void)snprintf(p->id, sizeof(p->id), "p-late");
		p->no = 7;
		p->size = p->remaining = pkg_size;
		p->price_total = pkg_size * 3000;
		p->purchased_at_ms = T0 - DAY;
		p->expires_at_ms = pkg_expires;
	}
	mt_acct_loaded(x, T0);
}

/* An event of `q` calls at `t`, ingested at `ingest`, placed; its month loaded. */
static int event(struct fx *f, int sub_code, int64_t q, int64_t t, int64_t ingest,
		 struct mt_event *ev, struct metering_placement *pl)
{
	uint32_t ai, mi;
	memset(ev, 0, sizeof(*ev));
	(void)snprintf(ev->certify, sizeof(ev->certify), "%032x", f->seq);
	(void)snprintf(ev->action, sizeof(ev->action), "CompareFaceVerify");
	ev->action_code = 5;
	(void)snprintf(ev->event_id, sizeof(ev->event_id), "%s:%s", ev->certify, ev->action);
	f->seq++;
	memcpy(ev->tenant, TENANT, sizeof(TENANT));
	ev->product = 4;
	ev->scene_id = 1000001;
	ev->quantity = q;
	ev->sub_code = sub_code;
	ev->billable = sub_code >= 200 && sub_code <= 206;
	ev->occurred_ms = t;
	ev->ingest_ms = ingest;
	ev->offset = f->seq;
	int rc = mt_batch_place(&f->b, ev, pl);
	if (rc < 0)
		return rc;
	if (!ev->billable)
		return 0;
	if (mt_batch_want_account(&f->b, TENANT, 4, &ai) < 0 ||
	    mt_batch_want_month(&f->b, ai, pl->period.id, &mi) < 0)
		return -ENOMEM;
	struct mt_month *m = f->b.months[mi];
	if (!m->loaded) {
		m->loaded = true;
		m->m0 = m->m;
	}
	return 0;
}

static int apply(struct fx *f, int sub_code, int64_t q, int64_t t)
{
	struct mt_event ev;
	struct metering_placement pl;
	int rc = event(f, sub_code, q, t, t + 50, &ev, &pl);
	return rc < 0 ? rc : mt_batch_apply(&f->b, &ev, &pl);
}

static size_t count_rows(const struct fx *f, int kind, int64_t *calls, int64_t *amount)
{
	size_t n = 0;
	*calls = *amount = 0;
	for (size_t i = 0; i < f->b.n_rows; i++)
		if (f->b.rows[i].kind == kind) {
			n++;
			*calls += f->b.rows[i].calls;
			*amount += f->b.rows[i].amount;
		}
	return n;
}

static const struct mt_alert_out *find_alert(const struct fx *f, enum metering_alert_kind k,
					     int64_t threshold)
{
	for (size_t i = 0; i < f->b.n_alerts; i++)
		if (f->b.alerts[i].a.kind == k && f->b.alerts[i].a.threshold == threshold)
			return &f->b.alerts[i];
	return NULL;
}

/* 100 trial calls, 50 from the package, the rest postpaid at the ladder's marginal price. */
static void test_trial_package_postpaid(void)
{
	struct fx f;
	int64_t calls, amount;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 50, YEAR_ON);
	for (int i = 0; i < 200; i++)
		REQUIRE(apply(&f, 200, 1, T0 + i * 1000) == 0);
	CHECK_INT(count_rows(&f, METERING_ENTRY_TRIAL, &calls, &amount), 100);
	CHECK_INT(calls, 100);
	CHECK_INT(count_rows(&f, METERING_ENTRY_PACKAGE, &calls, &amount), 50);
	CHECK_INT(calls, 50);
	CHECK_INT(amount, 50 * 3000); /* the package's value, recognised in full */
	CHECK_INT(count_rows(&f, METERING_ENTRY_POSTPAID, &calls, &amount), 50);
	CHECK_INT(amount, 50 * 4000);
	struct mt_acct *x = f.b.accts[0];
	CHECK_INT(x->a.trial_used, 100);
	CHECK_INT(x->a.pkgs[0].remaining, 0);
	CHECK_INT(x->status, METERING_STATUS_POSTPAID);
	CHECK(x->touched && x->st_dirty);
	CHECK_INT(f.b.months[0]->m.postpaid_calls, 50);
	CHECK(find_alert(&f, METERING_ALERT_POSTPAID, 0) != NULL);
	CHECK(find_alert(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
	/* The trial ran out with the package left: 20% of (100 trial + 50) crossed on the
	 * way, and fired once. */
	size_t n20 = 0;
	for (size_t i = 0; i < f.b.n_alerts; i++)
		n20 += f.b.alerts[i].a.kind == METERING_ALERT_PERCENT &&
		       f.b.alerts[i].a.threshold == 20;
	CHECK_INT(n20, 1);
	/* Row identity: one key per event, seq 0. */
	CHECK_STR(f.b.rows[0].key, "00000000000000000000000000000000:CompareFaceVerify");
	CHECK_STR(f.b.rows[0].certify, "00000000000000000000000000000000");
	CHECK_INT(f.b.rows[0].action, 5);
	CHECK_INT(f.b.rows[0].seq, 0);
	CHECK_INT(f.b.rows[0].period, 202411);
	CHECK_INT(f.b.rows[0].day, 20241124);
	mt_batch_free(&f.b);
}

/* An event spanning trial and package has one row per source, seq 0, 1, 2. */
static void test_event_spans_sources(void)
{
	struct fx f;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 10, YEAR_ON);
	REQUIRE(apply(&f, 200, 95, T0) == 0);
	REQUIRE(apply(&f, 200, 20, T0 + 1) == 0);
	REQUIRE(f.b.n_rows == 4);
	CHECK_INT(f.b.rows[1].kind, METERING_ENTRY_TRIAL);
	CHECK_INT(f.b.rows[1].calls, 5);
	CHECK_INT(f.b.rows[1].seq, 0);
	CHECK_INT(f.b.rows[2].kind, METERING_ENTRY_PACKAGE);
	CHECK_STR(f.b.rows[2].package_id, "p-late");
	CHECK_INT(f.b.rows[2].package_no, 7); /* the compact row points at the number */
	CHECK_INT(f.b.rows[1].package_no, 0);
	CHECK_INT(f.b.rows[2].seq, 1);
	CHECK_INT(f.b.rows[3].kind, METERING_ENTRY_POSTPAID);
	CHECK_INT(f.b.rows[3].calls, 5);
	CHECK_INT(f.b.rows[3].seq, 2);
	CHECK_INT(f.b.rows[3].price_version, 1);
	mt_batch_free(&f.b);
}

/* Block mode: the overflow is recorded, not billed; the status is published as blocked. */
static void test_block(void)
{
	struct fx f;
	int64_t calls, amount;
	fx_init(&f, METERING_ON_EXHAUST_BLOCK, 0, 0);
	for (int i = 0; i < 103; i++)
		REQUIRE(apply(&f, 201, 1, T0 + i) == 0);
	CHECK_INT(count_rows(&f, METERING_ENTRY_BLOCKED, &calls, &amount), 3);
	CHECK_INT(amount, 0);
	CHECK_INT(f.b.accts[0]->status, METERING_STATUS_BLOCKED);
	CHECK(find_alert(&f, METERING_ALERT_BLOCKED, 0) != NULL);
	CHECK(find_alert(&f, METERING_ALERT_POSTPAID, 0) == NULL);
	CHECK_INT(f.b.months[0]->m.blocked_calls, 3);
	mt_batch_free(&f.b);
}

/* A non-billable call is one "call" row and touches no account. */
static void test_non_billable(void)
{
	struct fx f;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	REQUIRE(apply(&f, 107, 1, T0) == 0);
	REQUIRE(f.b.n_rows == 1);
	CHECK_INT(f.b.rows[0].kind, MT_KIND_CALL);
	CHECK_STR(mt_kind_name(f.b.rows[0].kind), "call");
	CHECK(!f.b.accts[0]->touched);
	CHECK_INT(f.b.accts[0]->a.trial_used, 0);
	mt_batch_free(&f.b);
}

/* A November event applied after November closed (Dec 1 12:00 + ε) bills into December,
 * flagged late_from = 202411; one inside the grace bills into November. */
static void test_late_placement(void)
{
	struct fx f;
	struct mt_event ev;
	struct metering_placement pl;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	REQUIRE(event(&f, 200, 1, DEC_1 - 1000, DEC_1 + 11 * 3600 * 1000, &ev, &pl) == 0);
	REQUIRE(mt_batch_apply(&f.b, &ev, &pl) == 0);
	CHECK_INT(f.b.rows[0].period, 202411);
	CHECK_INT(f.b.rows[0].late_from, 0);
	REQUIRE(event(&f, 200, 1, DEC_1 - 1000, DEC_1 + 13 * 3600 * 1000, &ev, &pl) == 0);
	REQUIRE(mt_batch_apply(&f.b, &ev, &pl) == 0);
	CHECK_INT(f.b.rows[1].period, 202412);
	CHECK_INT(f.b.rows[1].late_from, 202411);
	CHECK_INT(f.b.rows[1].day, 20241130); /* rollups keep the event's own day */
	CHECK_INT(f.b.n_months, 2);
	mt_batch_free(&f.b);
}

/* No ladder for a postpaid call: refused, state untouched. */
static void test_no_ladder(void)
{
	struct fx f;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	f.b.accts[0]->a.trial_limit = 0;
	f.lad->n[4] = 0;
	CHECK_INT(apply(&f, 200, 1, T0), -EINVAL);
	CHECK_INT(f.b.n_rows, 0);
	CHECK(!f.b.accts[0]->touched);
	mt_batch_free(&f.b);
}

/* Exhaust, top up past the hysteresis: the rules re-arm and fire again with new ids. */
static void test_topup_rearms(void)
{
	struct fx f;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	for (int i = 0; i < 101; i++)
		REQUIRE(apply(&f, 200, 1, T0 + i) == 0);
	const struct mt_alert_out *first = find_alert(&f, METERING_ALERT_EXHAUSTED, 0);
	REQUIRE(first != NULL);
	char first_id[37];
	memcpy(first_id, first->a.alert_id, sizeof(first_id));
	size_t before = f.b.n_alerts;
	struct mt_topup t = {.package_id = "p-new",
			     .size = 100,
			     .unit_price = 3000,
			     .purchased_at_ms = T0 + DAY,
			     .actor = "test"};
	REQUIRE(mt_acct_topup(&f.b, 0, &t, T0 + DAY) == 0);
	CHECK_INT(f.b.n_alerts, before); /* re-arming emits nothing */
	CHECK(f.b.accts[0]->snap[0].is_new);
	CHECK_STR(f.b.rows[f.b.n_rows - 1].key, "topup:p-new");
	CHECK_INT(f.b.accts[0]->status, METERING_STATUS_PREPAID);
	for (int i = 0; i < 100; i++)
		REQUIRE(apply(&f, 200, 1, T0 + DAY + 1 + i) == 0);
	size_t n_exh = 0;
	for (size_t i = 0; i < f.b.n_alerts; i++)
		if (f.b.alerts[i].a.kind == METERING_ALERT_EXHAUSTED) {
			n_exh++;
			if (i >= before) {
				CHECK_INT(f.b.alerts[i].a.generation, 1);
				CHECK(strcmp(f.b.alerts[i].a.alert_id, first_id) != 0);
			}
		}
	CHECK_INT(n_exh, 2);
	CHECK_INT(mt_acct_topup(&f.b, 0, &t, T0 + DAY), -EEXIST);
	mt_batch_free(&f.b);
}

/* The sweep: a package expiring with calls left gets an expire row at its expiry time and the
 * exhausted alert; reminders fire before. */
static void test_tick_expiry(void)
{
	struct fx f;
	int64_t calls, amount;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 40, T0 + 5 * DAY);
	f.b.accts[0]->a.trial_used = 100;
	f.b.accts[0]->a.trial_limit = 100;
	REQUIRE(mt_acct_tick(&f.b, 0, T0) == 0);
	CHECK(find_alert(&f, METERING_ALERT_EXPIRING, 7) != NULL);
	CHECK(find_alert(&f, METERING_ALERT_EXPIRING, 3) == NULL);
	REQUIRE(mt_acct_tick(&f.b, 0, T0 + 10 * DAY) == 0);
	CHECK_INT(count_rows(&f, METERING_ENTRY_EXPIRE, &calls, &amount), 1);
	CHECK_INT(calls, 40);
	CHECK_INT(amount, 40 * 3000);
	CHECK_STR(f.b.rows[0].key, "expire:p-late");
	CHECK_INT(f.b.rows[0].occurred_ms, T0 + 5 * DAY);
	CHECK_INT(f.b.accts[0]->a.pkgs[0].status, METERING_PKG_EXPIRED);
	CHECK(find_alert(&f, METERING_ALERT_EXHAUSTED, 0) != NULL);
	CHECK(f.b.accts[0]->st_pruned); /* the package's reminder states are dropped */
	REQUIRE(mt_acct_tick(&f.b, 0, T0 + 11 * DAY) == 0);
	CHECK_INT(count_rows(&f, METERING_ENTRY_EXPIRE, &calls, &amount), 1); /* once */
	mt_batch_free(&f.b);
}

/* Whole-volume month: 150 postpaid calls charged per tier (100 x 4000 + 50 x 3000), billed
 * at 150 x 3000: the settlement row is the difference. */
static void test_settlement_row(void)
{
	struct fx f;
	struct mt_row r;
	struct metering_bill_line line;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	struct metering_month m = {.period = 202411,
				   .postpaid_calls = 150,
				   .postpaid_charged = 100 * 4000 + 50 * 3000};
	REQUIRE(mt_settlement_row(TENANT, 4, &m, &f.lad->v[4][0], &r, &line) == 0);
	CHECK_STR(r.key, "settlement:" TENANT ":4:202411");
	CHECK_INT(r.kind, METERING_ENTRY_SETTLEMENT);
	CHECK_INT(r.amount, 150 * 3000 - (100 * 4000 + 50 * 3000));
	CHECK_INT(line.billed, 450000);
	CHECK_INT(r.period, 202411);
	CHECK_INT(r.day, 20241130);
	mt_batch_free(&f.b);
}

/* Switching to block with nothing left publishes blocked; back to postpaid clears it. */
static void test_settings(void)
{
	struct fx f;
	fx_init(&f, METERING_ON_EXHAUST_POSTPAID, 0, 0);
	for (int i = 0; i < 100; i++)
		REQUIRE(apply(&f, 200, 1, T0 + i) == 0);
	CHECK_INT(f.b.accts[0]->status, METERING_STATUS_POSTPAID);
	enum metering_on_exhaust block = METERING_ON_EXHAUST_BLOCK;
	REQUIRE(mt_acct_settings(&f.b, 0, &block, NULL, false, false, T0 + DAY) == 0);
	CHECK_INT(f.b.accts[0]->status, METERING_STATUS_BLOCKED);
	struct metering_alert_config c = f.set.alerts;
	c.n_calls = 1;
	c.calls[0] = 5;
	REQUIRE(mt_acct_settings(&f.b, 0, NULL, &c, true, true, T0 + DAY) == 0);
	CHECK(f.b.accts[0]->cfg_custom);
	CHECK_INT(f.b.accts[0]->cfg.n_calls, 1);
	for (size_t i = 0; i < f.b.accts[0]->st.n; i++)
		CHECK(f.b.accts[0]->st.v[i].generation >= 1 || !f.b.accts[0]->st.v[i].fired);
	mt_batch_free(&f.b);
}

UNIT_MAIN("test_metering_apply", UNIT_CASE(test_trial_package_postpaid),
	  UNIT_CASE(test_event_spans_sources), UNIT_CASE(test_block), UNIT_CASE(test_non_billable),
	  UNIT_CASE(test_late_placement), UNIT_CASE(test_no_ladder), UNIT_CASE(test_topup_rearms),
	  UNIT_CASE(test_tick_expiry), UNIT_CASE(test_settlement_row), UNIT_CASE(test_settings))
