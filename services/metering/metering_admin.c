/* metering_admin — commands, expiry sweep and period close (metering_admin.h). */
#include "metering/metering_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/pg.h"
#include "metering/metering_store.h"

#define CLOSE_BATCH 2000

struct mt_admin {
	const struct mt_txn_cfg *cfg;
	int64_t refund_window_ms;
	struct mt_batch b;
	struct mt_store st;
};

struct mt_admin *mt_admin_new(const struct mt_txn_cfg *cfg, const struct mt_ladders *ladders,
			      int64_t refund_window_ms)
{
	struct mt_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cfg = cfg;
	a->refund_window_ms = refund_window_ms;
	mt_batch_init(&a->b, &cfg->set, ladders);
	mt_store_init(&a->st, NULL);
	return a;
}

void mt_admin_free(struct mt_admin *a)
{
	if (!a)
		return;
	mt_batch_free(&a->b);
	mt_store_free(&a->st);
	free(a);
}

static int64_t v64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *vstr(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* ---- commands ---- */

#define CMD_COLS                                                                               \
	"id, kind, tenant_id::text, product, package_id, size, unit_price, price_total, "      \
	"purchased_at_ms, expires_at_ms, on_exhaust, alert_percent::text, alert_calls::text, " \
	"alert_expiry_days::text, alert_hysteresis_pct, alert_reset, actor, reason "

static const char *cmd_error(int rc)
{
	switch (rc) {
	case -EEXIST:
		return "a package with this id already exists";
	case -ENOENT:
		return "no such package for this tenant and product";
	case -EBUSY:
		return "calls were already drawn from the package: it cannot be refunded";
	case -ETIMEDOUT:
		return "the refund window has passed";
	case -ENOSPC:
		return "too many packages in one change";
	case -ERANGE:
		return "a time is out of range";
	case -EOVERFLOW:
		return "an amount overflows";
	default:
		return "invalid command (size, prices, times or thresholds out of range, or the "
		       "package is not active)";
	}
}

/* The alert config of a settings command: the account's with the given lists replaced.
 * 1 when the command sets any, 0 when it sets none, -EINVAL for bad values. */
static int cmd_alert_cfg(const PGresult *r, const struct mt_acct *x,
			 struct metering_alert_config *c)
{
	int any = 0;
	*c = x->cfg;
	if (vstr(r, 0, 11) && (any = 1) &&
	    mt_parse_int_array(vstr(r, 0, 11), c->percent, METERING_ALERT_MAX_THRESHOLDS,
			       &c->n_percent) < 0)
		return -EINVAL;
	if (vstr(r, 0, 12) && (any = 1) &&
	    mt_parse_int_array(vstr(r, 0, 12), c->calls, METERING_ALERT_MAX_THRESHOLDS,
			       &c->n_calls) < 0)
		return -EINVAL;
	if (vstr(r, 0, 13) && (any = 1) &&
	    mt_parse_int_array(vstr(r, 0, 13), c->expiry_days, METERING_ALERT_MAX_THRESHOLDS,
			       &c->n_expiry_days) < 0)
		return -EINVAL;
	if (vstr(r, 0, 14)) {
		any = 1;
		c->hysteresis_pct = v64(r, 0, 14);
	}
	if (any && metering_alert_config_normalize(c) < 0)
		return -EINVAL;
	return any;
}

static void cfg_arr(struct mt_arr *a, const int64_t *v, size_t n)
{
	mt_arr_reset(a);
	for (size_t i = 0; i < n; i++)
		mt_arr_int(a, v[i]);
}

static int save_alert_cfg(struct mt_admin *a, const struct mt_acct *x, char *err, size_t errlen)
{
	char prod[8], hyst[24];
	cfg_arr(&a->st.a[0], x->cfg.percent, x->cfg.n_percent);
	cfg_arr(&a->st.a[1], x->cfg.calls, x->cfg.n_calls);
	cfg_arr(&a->st.a[2], x->cfg.expiry_days, x->cfg.n_expiry_days);
	if (mt_arr_end(&a->st.a[0]) < 0 || mt_arr_end(&a->st.a[1]) < 0 ||
	    mt_arr_end(&a->st.a[2]) < 0)
		return -ENOMEM;
	(void)snprintf(prod, sizeof(prod), "%d", (int)x->product);
	(void)snprintf(hyst, sizeof(hyst), "%lld", (long long)x->cfg.hysteresis_pct);
	const char *p[] = {x->tenant, prod, a->st.a[0].buf, a->st.a[1].buf, a->st.a[2].buf, hyst};
	return pg_exec(a->st.c,
		       "UPDATE metering_accounts SET alert_percent = $3, alert_calls = $4, "
		       "alert_expiry_days = $5, alert_hysteresis_pct = $6 "
		       "WHERE tenant_id = $1 AND product = $2",
		       6, p, NULL, err, errlen);
}

/* Apply the command row `r` to its (loaded) account. 0, a logic errno (the command fails), or
 * -ENOMEM. *ret_cfg is set when the alert config changed (saved by the caller). */
static int cmd_apply(struct mt_admin *a, const PGresult *r, uint32_t ai, int64_t now, bool *ret_cfg)
{
	struct mt_acct *x = a->b.accts[ai];
	const char *kind = PQgetvalue(r, 0, 1);
	*ret_cfg = false;
	if (strcmp(kind, "topup") == 0) {
		struct mt_topup t = {.package_id = vstr(r, 0, 4),
				     .size = v64(r, 0, 5),
				     .unit_price = v64(r, 0, 6),
				     .price_total = v64(r, 0, 7),
				     .purchased_at_ms = vstr(r, 0, 8) ? v64(r, 0, 8) : now,
				     .expires_at_ms = v64(r, 0, 9),
				     .actor = vstr(r, 0, 16),
				     .reason = vstr(r, 0, 17)};
		if (!t.package_id)
			return -EINVAL;
		return mt_acct_topup(&a->b, ai, &t, now);
	}
	if (strcmp(kind, "refund") == 0) {
		if (!vstr(r, 0, 4))
			return -EINVAL;
		return mt_acct_refund(&a->b, ai, vstr(r, 0, 4), now, a->refund_window_ms,
				      vstr(r, 0, 16), vstr(r, 0, 17));
	}
	struct metering_alert_config c;
	int any = cmd_alert_cfg(r, x, &c);
	if (any < 0)
		return any;
	const char *oe_s = vstr(r, 0, 10);
	enum metering_on_exhaust oe = oe_s && strcmp(oe_s, "block") == 0
					      ? METERING_ON_EXHAUST_BLOCK
					      : METERING_ON_EXHAUST_POSTPAID;
	*ret_cfg = any > 0;
	return mt_acct_settings(&a->b, ai, oe_s ? &oe : NULL, any ? &c : NULL, true,
				PQgetvalue(r, 0, 15)[0] == 't', now);
}

static int cmd_mark(struct mt_admin *a, const char *id, const char *error, char *err, size_t errlen)
{
	const char *p[] = {id, error};
	return pg_exec(a->st.c,
		       error ? "UPDATE metering_commands SET status = 'failed', error = $2, "
			       "applied_at = now() WHERE id = $1 AND status = 'pending'"
			     : "UPDATE metering_commands SET status = 'done', applied_at = now() "
			       "WHERE id = $1",
		       error ? 2 : 1, p, NULL, err, errlen);
}

/* One command in its own transaction. */
static int cmd_one(struct mt_admin *a, const char *id, char *err, size_t errlen)
{
	PGresult *r = NULL;
	const char *p[] = {id};
	uint32_t ai;
	bool cfg_changed = false;
	int64_t now = envelope_now_ms();
	int rc = pg_begin(a->st.c, err, errlen);
	if (rc < 0)
		return rc;
	rc = pg_exec(a->st.c,
		     "SELECT " CMD_COLS "FROM metering_commands WHERE id = $1 AND status = "
		     "'pending' FOR UPDATE SKIP LOCKED",
		     1, p, &r, err, errlen);
	if (rc < 0 || PQntuples(r) == 0)
		goto out;
	mt_batch_reset(&a->b);
	int32_t product = (int32_t)v64(r, 0, 3);
	int lrc = product < 1 || product > MT_PRODUCT_MAX ? -EINVAL : 0;
	if (lrc == 0 && (rc = mt_batch_want_account(&a->b, PQgetvalue(r, 0, 2), product, &ai)) < 0)
		goto out;
	if (lrc == 0 && (rc = mt_store_load_accounts(&a->st, &a->b, true, now, err, errlen)) < 0)
		goto out;
	if (lrc == 0)
		lrc = cmd_apply(a, r, ai, now, &cfg_changed);
	if (lrc == -ENOMEM) {
		rc = lrc;
		(void)snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (lrc < 0) {
		pg_rollback(a->st.c);
		PQclear(r);
		return cmd_mark(a, id, cmd_error(lrc), err, errlen);
	}
	if ((rc = mt_store_write(&a->st, &a->b, NULL, 0, a->cfg->source, a->cfg->alerts_topic, err,
				 errlen)) < 0 ||
	    (cfg_changed && (rc = save_alert_cfg(a, a->b.accts[ai], err, errlen)) < 0) ||
	    (rc = cmd_mark(a, id, NULL, err, errlen)) < 0)
		goto out;
	PQclear(r);
	return pg_commit(a->st.c, err, errlen);
out:
	PQclear(r);
	pg_rollback(a->st.c);
	return rc;
}

int mt_admin_commands(struct mt_admin *a, PGconn *c, size_t max, size_t *ret_n, char *err,
		      size_t errlen)
{
	PGresult *r = NULL;
	char lim[24];
	(void)snprintf(lim, sizeof(lim), "%zu", max);
	const char *p[] = {lim};
	a->st.c = c;
	*ret_n = 0;
	int rc = pg_exec(c,
			 "SELECT id FROM metering_commands WHERE status = 'pending' ORDER BY id "
			 "LIMIT $1",
			 1, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		rc = cmd_one(a, PQgetvalue(r, i, 0), err, errlen);
		if (rc == 0)
			(*ret_n)++;
	}
	PQclear(r);
	return rc;
}

/* ---- sweep ---- */

/* Accounts with a package that expired, or whose expiry reminder (the account's thresholds,
 * else the service's) came due and has not fired yet. */
static const char SQL_SWEEP[] =
	"SELECT DISTINCT p.tenant_id::text, p.product FROM metering_packages p "
	"JOIN metering_accounts a ON a.tenant_id = p.tenant_id AND a.product = p.product "
	"WHERE p.status = 'active' AND (p.expires_at_ms <= $1 OR (p.remaining > 0 AND "
	"p.purchased_at_ms <= $1 AND EXISTS (SELECT 1 FROM unnest(coalesce(a.alert_expiry_days, "
	"$2::int8[])) AS d(days) WHERE p.expires_at_ms - $1 <= d.days * 86400000 AND NOT EXISTS "
	"(SELECT 1 FROM metering_alert_state s WHERE s.tenant_id = p.tenant_id AND s.product = "
	"p.product AND s.kind = 3 AND s.threshold = d.days AND s.package_id = p.id AND s.fired)))) "
	"ORDER BY 1, 2 LIMIT $3";

static int sweep_candidates(struct mt_admin *a, int64_t now, size_t max, PGresult **r, char *err,
			    size_t errlen)
{
	char snow[24], lim[24];
	const struct metering_alert_config *c = &a->cfg->set.alerts;
	struct mt_arr *days = &a->st.a[0];
	mt_arr_reset(days);
	for (size_t i = 0; i < c->n_expiry_days; i++)
		mt_arr_int(days, c->expiry_days[i]);
	if (mt_arr_end(days) < 0)
		return -ENOMEM;
	(void)snprintf(snow, sizeof(snow), "%lld", (long long)now);
	(void)snprintf(lim, sizeof(lim), "%zu", max);
	const char *p[] = {snow, days->buf, lim};
	return pg_exec(a->st.c, SQL_SWEEP, 3, p, r, err, errlen);
}

int mt_admin_sweep(struct mt_admin *a, PGconn *c, int64_t now, size_t max, size_t *ret_n, char *err,
		   size_t errlen)
{
	PGresult *r = NULL;
	uint32_t ai;
	a->st.c = c;
	*ret_n = 0;
	int rc = sweep_candidates(a, now, max, &r, err, errlen);
	if (rc < 0 || PQntuples(r) == 0) {
		PQclear(r);
		return rc;
	}
	mt_batch_reset(&a->b);
	for (int i = 0; i < PQntuples(r); i++)
		if (mt_batch_want_account(&a->b, PQgetvalue(r, i, 0), (int32_t)v64(r, i, 1), &ai) <
		    0) {
			PQclear(r);
			return -ENOMEM;
		}
	PQclear(r);
	if ((rc = pg_begin(c, err, errlen)) < 0)
		return rc;
	if ((rc = mt_store_load_accounts(&a->st, &a->b, false, now, err, errlen)) < 0)
		goto fail;
	for (uint32_t i = 0; i < a->b.n_accts; i++)
		if ((rc = mt_acct_tick(&a->b, i, now)) < 0) {
			(void)snprintf(err, errlen, "expiry of %s failed: %s", a->b.accts[i]->key,
				       strerror(-rc));
			goto fail;
		}
	if ((rc = mt_store_write(&a->st, &a->b, NULL, 0, a->cfg->source, a->cfg->alerts_topic, err,
				 errlen)) < 0)
		goto fail;
	*ret_n = a->b.n_accts;
	return pg_commit(c, err, errlen);
fail:
	pg_rollback(c);
	return rc;
}

/* ---- period close ---- */

static int settle_rows(struct mt_admin *a, const PGresult *r, char *err, size_t errlen)
{
	struct mt_arr *v = a->st.a;
	for (int k = 5; k < 16; k++)
		mt_arr_reset(&v[k]);
	for (int i = 0; i < PQntuples(r); i++) {
		struct metering_month m = {.period = (int32_t)v64(r, i, 2),
					   .postpaid_calls = v64(r, i, 3),
					   .postpaid_charged = v64(r, i, 4),
					   .blocked_calls = v64(r, i, 5)};
		struct metering_period p;
		struct mt_row row;
		struct metering_bill_line line;
		int32_t product = (int32_t)v64(r, i, 1);
		if (metering_period_from_id(m.period, &p) < 0)
			continue;
		const struct metering_ladder *l = mt_ladders_for(a->b.ladders, product, p.start_ms);
		mt_arr_text(&v[5], PQgetvalue(r, i, 0));
		mt_arr_int(&v[6], product);
		mt_arr_int(&v[7], m.period);
		if (!l || mt_settlement_row(PQgetvalue(r, i, 0), product, &m, l, &row, &line) < 0) {
			/* No price for the month: settled without a line (nothing can be billed). */
			for (int k = 8; k < 16; k++)
				mt_arr_null(&v[k]);
			continue;
		}
		if (mt_batch_push_row(&a->b, &row) < 0)
			return -ENOMEM;
		mt_arr_text(&v[8], l->mode == METERING_LADDER_GRADUATED ? "graduated" : "volume");
		mt_arr_int(&v[9], l->version);
		mt_arr_int(&v[10], line.calls);
		mt_arr_int(&v[11], line.charged);
		mt_arr_int(&v[12], line.settlement);
		mt_arr_int(&v[13], line.exact);
		mt_arr_int(&v[14], line.billed);
		mt_arr_int(&v[15], line.residue);
	}
	for (int k = 5; k < 16; k++)
		if (mt_arr_end(&v[k]) < 0)
			return -ENOMEM;
	const char *p[11];
	for (int k = 0; k < 11; k++)
		p[k] = v[5 + k].buf;
	int rc = pg_exec(a->st.c,
			 "INSERT INTO metering_bill_lines (tenant_id, product, period, mode, "
			 "price_version, calls, charged, settlement, exact, billed, residue) "
			 "SELECT * FROM unnest($1::uuid[], $2::int2[], $3::int4[], $4::text[], "
			 "$5::int4[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], "
			 "$11::int8[]) AS u(t, p, d, mo, ve, ca, ch, se, ex, bi, re) "
			 "WHERE mo IS NOT NULL ON CONFLICT DO NOTHING",
			 11, p, NULL, err, errlen);
	if (rc == 0)
		rc = pg_exec(a->st.c,
			     "UPDATE metering_months m SET settled = true FROM unnest($1::uuid[], "
			     "$2::int2[], $3::int4[]) AS k(t, p, d) WHERE m.tenant_id = k.t AND "
			     "m.product = k.p AND m.period = k.d",
			     3, p, NULL, err, errlen);
	return rc;
}

/* One chunk of the close of periods <= target. *ret_more when months remain. */
static int close_chunk(struct mt_admin *a, int32_t target, bool *ret_more, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int32_t closed;
	char st[16], lim[16];
	int rc = pg_begin(a->st.c, err, errlen);
	if (rc < 0)
		return rc;
	*ret_more = false;
	if ((rc = mt_store_closed_through(&a->st, true, &closed, err, errlen)) < 0)
		goto fail;
	if (closed >= target) {
		pg_rollback(a->st.c);
		return 0;
	}
	(void)snprintf(st, sizeof(st), "%d", (int)target);
	(void)snprintf(lim, sizeof(lim), "%d", CLOSE_BATCH);
	const char *p[] = {st, lim};
	if ((rc = pg_exec(
		     a->st.c,
		     "SELECT tenant_id::text, product, period, postpaid_calls, "
		     "postpaid_charged, blocked_calls FROM metering_months WHERE NOT settled "
		     "AND period <= $1 ORDER BY tenant_id, product, period LIMIT $2 FOR UPDATE",
		     2, p, &r, err, errlen)) < 0)
		goto fail;
	mt_batch_reset(&a->b);
	if ((rc = settle_rows(a, r, err, errlen)) < 0 ||
	    (rc = mt_store_write(&a->st, &a->b, NULL, 0, a->cfg->source, a->cfg->alerts_topic, err,
				 errlen)) < 0)
		goto fail;
	*ret_more = PQntuples(r) == CLOSE_BATCH;
	if (!*ret_more &&
	    (rc = pg_exec(a->st.c, "UPDATE metering_state SET closed_through = $1 WHERE id = 1", 1,
			  p, NULL, err, errlen)) < 0)
		goto fail;
	PQclear(r);
	return pg_commit(a->st.c, err, errlen);
fail:
	PQclear(r);
	pg_rollback(a->st.c);
	return rc;
}

int mt_admin_close_periods(struct mt_admin *a, PGconn *c, int64_t now, int32_t *ret_closed,
			   char *err, size_t errlen)
{
	struct metering_period p;
	bool more = true;
	int rc;
	a->st.c = c;
	/* The newest period whose end + grace has passed: the one before the period that
	 * contains now - grace. */
	if (metering_period_of(now - a->cfg->set.grace_ms, &p) < 0)
		return -ERANGE;
	int32_t target = metering_period_prev_id(p.id);
	while (more)
		if ((rc = close_chunk(a, target, &more, err, errlen)) < 0)
			return rc;
	return mt_store_closed_through(&a->st, false, ret_closed, err, errlen);
}
