/* metering_apply — event and admin application on loaded account state (metering_apply.h). */
#include "metering/metering_apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mt_kind_name(int kind)
{
	return kind == MT_KIND_CALL ? "call" : metering_entry_kind_name(kind);
}

bool mt_kind_is_usage(int kind)
{
	return kind == MT_KIND_CALL || kind == METERING_ENTRY_TRIAL ||
	       kind == METERING_ENTRY_PACKAGE || kind == METERING_ENTRY_POSTPAID ||
	       kind == METERING_ENTRY_BLOCKED;
}

const struct metering_ladder *mt_ladders_for(const struct mt_ladders *l, int32_t product,
					     int64_t period_start_ms)
{
	if (!l || product < 1 || product > MT_PRODUCT_MAX)
		return NULL;
	return metering_ladder_select(l->v[product], l->n[product], period_start_ms);
}

void mt_batch_init(struct mt_batch *b, const struct mt_settings *set,
		   const struct mt_ladders *ladders)
{
	memset(b, 0, sizeof(*b));
	b->set = set;
	b->ladders = ladders;
	mt_arena_init(&b->arena);
	mt_map_init(&b->acct_map);
	mt_map_init(&b->month_map);
}

void mt_batch_reset(struct mt_batch *b)
{
	mt_arena_reset(&b->arena);
	mt_map_clear(&b->acct_map);
	mt_map_clear(&b->month_map);
	b->n_accts = b->n_months = b->n_rows = b->n_alerts = 0;
}

void mt_batch_free(struct mt_batch *b)
{
	mt_arena_free(&b->arena);
	mt_map_free(&b->acct_map);
	mt_map_free(&b->month_map);
	free(b->accts);
	free(b->months);
	free(b->rows);
	free(b->alerts);
	free(b->scratch_e);
	free(b->scratch_a);
	memset(b, 0, sizeof(*b));
}

/* Make room for `need` elements of `size` bytes in *v. */
static int vec_reserve(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	if (c > SIZE_MAX / size)
		return -ENOMEM;
	void *p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

int mt_batch_place(const struct mt_batch *b, const struct mt_event *ev,
		   struct metering_placement *ret)
{
	return metering_period_place(ev->occurred_ms, ev->ingest_ms, b->set->grace_ms,
				     b->closed_through, ret);
}

struct mt_acct *mt_batch_find_account(const struct mt_batch *b, const char *tenant, int32_t product)
{
	char key[MT_TENANT_LEN + 16];
	uint32_t idx;
	(void)snprintf(key, sizeof(key), "%s/%d", tenant, (int)product);
	return mt_map_get(&b->acct_map, key, &idx) ? b->accts[idx] : NULL;
}

int mt_batch_want_account(struct mt_batch *b, const char *tenant, int32_t product,
			  uint32_t *ret_idx)
{
	char key[MT_TENANT_LEN + 16];
	(void)snprintf(key, sizeof(key), "%s/%d", tenant, (int)product);
	if (mt_map_get(&b->acct_map, key, ret_idx))
		return 0;
	if (vec_reserve((void **)&b->accts, &b->cap_accts, b->n_accts + 1, sizeof(*b->accts)) < 0)
		return -ENOMEM;
	struct mt_acct *x = mt_arena_alloc(&b->arena, sizeof(*x));
	if (!x)
		return -ENOMEM;
	memcpy(x->key, key, sizeof(key));
	(void)snprintf(x->tenant, sizeof(x->tenant), "%s", tenant);
	x->product = product;
	x->last_partition = -1;
	uint32_t idx = (uint32_t)b->n_accts;
	if (mt_map_put(&b->acct_map, x->key, idx, NULL) < 0)
		return -ENOMEM;
	b->accts[b->n_accts++] = x;
	*ret_idx = idx;
	return 0;
}

int mt_batch_want_month(struct mt_batch *b, uint32_t acct, int32_t period, uint32_t *ret_idx)
{
	char key[MT_TENANT_LEN + 32];
	const struct mt_acct *x = b->accts[acct];
	(void)snprintf(key, sizeof(key), "%s/%d", x->key, (int)period);
	if (mt_map_get(&b->month_map, key, ret_idx))
		return 0;
	if (vec_reserve((void **)&b->months, &b->cap_months, b->n_months + 1, sizeof(*b->months)) <
	    0)
		return -ENOMEM;
	struct mt_month *m = mt_arena_alloc(&b->arena, sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m->key, key, sizeof(key));
	m->acct = acct;
	m->m.period = period;
	m->m0 = m->m;
	uint32_t idx = (uint32_t)b->n_months;
	if (mt_map_put(&b->month_map, m->key, idx, NULL) < 0)
		return -ENOMEM;
	b->months[b->n_months++] = m;
	*ret_idx = idx;
	return 0;
}

/* Upper bound on the alert rule states of an account with `n_pkgs` packages. */
static size_t states_bound(size_t n_pkgs)
{
	return 3 + 2 * METERING_ALERT_MAX_THRESHOLDS + METERING_ALERT_MAX_THRESHOLDS * n_pkgs;
}

int mt_acct_prepare(struct mt_batch *b, struct mt_acct *x, size_t n_pkgs, size_t n_states)
{
	size_t cap = n_pkgs + MT_PKGS_EXTRA;
	size_t scap = states_bound(cap);
	if (n_states > scap)
		scap = n_states + states_bound(MT_PKGS_EXTRA);
	x->a.pkgs = mt_arena_alloc(&b->arena, cap * sizeof(*x->a.pkgs));
	x->snap = mt_arena_alloc(&b->arena, cap * sizeof(*x->snap));
	x->st.v = mt_arena_alloc(&b->arena, scap * sizeof(*x->st.v));
	if (!x->a.pkgs || !x->snap || !x->st.v)
		return -ENOMEM;
	x->a.cap_pkgs = cap;
	x->a.n_pkgs = 0;
	x->a.on_exhaust = METERING_ON_EXHAUST_POSTPAID;
	x->a.trial_limit = b->set->trial_limit;
	x->a.trial_used = 0;
	x->st.cap = scap;
	x->st.n = 0;
	x->cfg = b->set->alerts;
	x->status0 = METERING_STATUS_PREPAID;
	x->last_partition0 = -1;
	return 0;
}

void mt_acct_loaded(struct mt_acct *x, int64_t now_ms)
{
	(void)now_ms;
	x->loaded = true;
	x->trial_used0 = x->a.trial_used;
	x->on_exhaust0 = x->a.on_exhaust;
	x->status = x->status0;
	for (size_t i = 0; i < x->a.n_pkgs; i++) {
		x->snap[i].remaining = x->a.pkgs[i].remaining;
		x->snap[i].status = x->a.pkgs[i].status;
		x->snap[i].is_new = false;
	}
}

static struct mt_row *row_new(struct mt_batch *b, const char *tenant, int32_t product)
{
	if (vec_reserve((void **)&b->rows, &b->cap_rows, b->n_rows + 1, sizeof(*b->rows)) < 0)
		return NULL;
	struct mt_row *r = &b->rows[b->n_rows++];
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->product = product;
	r->balance_after = -1;
	r->tier_first = r->tier_last = -1;
	r->partition = -1;
	r->sub_code = -1;
	return r;
}

/* A row for a usage event: identity, placement, provenance. */
static struct mt_row *event_row(struct mt_batch *b, const struct mt_event *ev,
				const struct metering_placement *pl, int seq, int kind)
{
	struct mt_row *r = row_new(b, ev->tenant, ev->product);
	int64_t day_start;
	if (!r)
		return NULL;
	(void)snprintf(r->key, sizeof(r->key), "%s", ev->event_id);
	memcpy(r->certify, ev->certify, sizeof(r->certify));
	r->action = ev->action_code;
	r->seq = seq;
	r->kind = kind;
	r->scene_id = ev->scene_id;
	r->calls = ev->quantity;
	r->period = pl->period.id;
	r->late_from = pl->late ? pl->event_period : 0;
	if (metering_day_of(ev->occurred_ms, &r->day, &day_start) < 0)
		r->day = 0;
	r->occurred_ms = ev->occurred_ms;
	r->ingest_ms = ev->ingest_ms;
	r->partition = ev->partition;
	r->offset = ev->offset;
	r->sub_code = ev->sub_code;
	return r;
}

/* A row for an admin change of account `x` at `at_ms`. */
static struct mt_row *admin_row(struct mt_batch *b, const struct mt_acct *x, const char *key,
				const struct metering_entry *e, int64_t at_ms)
{
	struct mt_row *r = row_new(b, x->tenant, x->product);
	struct metering_period p;
	int64_t day_start;
	if (!r)
		return NULL;
	(void)snprintf(r->key, sizeof(r->key), "%s", key);
	r->kind = (int)e->kind;
	(void)snprintf(r->package_id, sizeof(r->package_id), "%s", e->package_id);
	r->calls = e->calls;
	r->balance_delta = e->balance_delta;
	r->balance_after = e->balance_after;
	r->amount = e->amount;
	r->period = metering_period_of(at_ms, &p) == 0 ? p.id : 0;
	if (metering_day_of(at_ms, &r->day, &day_start) < 0)
		r->day = 0;
	r->occurred_ms = at_ms;
	return r;
}

/* Evaluate the alert rules of account `idx` for prev -> cur and collect what fires. */
static int eval_alerts(struct mt_batch *b, uint32_t idx, const struct metering_balance *prev,
		       const struct metering_balance *cur)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_alert_key key = {.tenant_id = x->tenant, .product = x->product};
	size_t cap = states_bound(x->a.n_pkgs), n = 0;
	size_t st_n = x->st.n;
	int rc;

	if (vec_reserve((void **)&b->scratch_a, &b->cap_a, cap, sizeof(*b->scratch_a)) < 0)
		return -ENOMEM;
	struct metering_alert *buf = b->scratch_a;
	/* A fired rule that re-arms emits nothing, so compare generations to see changes. */
	int64_t gen_sum = 0, fired = 0;
	for (size_t i = 0; i < x->st.n; i++) {
		gen_sum += x->st.v[i].generation;
		fired += x->st.v[i].fired;
	}
	rc = metering_alert_evaluate(&x->cfg, &key, prev, cur, x->a.pkgs, x->a.n_pkgs, &x->st, buf,
				     cap, &n);
	if (rc < 0)
		return rc;
	int64_t gen_after = 0, fired_after = 0;
	for (size_t i = 0; i < x->st.n; i++) {
		gen_after += x->st.v[i].generation;
		fired_after += x->st.v[i].fired;
	}
	if (n || x->st.n != st_n || gen_after != gen_sum || fired_after != fired)
		x->st_dirty = true;
	if (vec_reserve((void **)&b->alerts, &b->cap_alerts, b->n_alerts + n, sizeof(*b->alerts)) <
	    0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct mt_alert_out *o = &b->alerts[b->n_alerts++];
		o->acct = idx;
		o->a = buf[i];
		o->total = cur->total;
		o->status = cur->status;
	}
	return 0;
}

/* Scratch for the entries of one change: trial + every package + postpaid/blocked. */
static struct metering_entry *entries_buf(struct mt_batch *b, size_t cap)
{
	if (vec_reserve((void **)&b->scratch_e, &b->cap_e, cap, sizeof(*b->scratch_e)) < 0)
		return NULL;
	return b->scratch_e;
}

/* The number of package `id` of account `a`; 0 for none (the store refuses a package draw
 * without one). */
static int32_t package_no(const struct metering_account *a, const char *id)
{
	for (size_t i = 0; id[0] && i < a->n_pkgs; i++)
		if (strcmp(a->pkgs[i].id, id) == 0)
			return a->pkgs[i].no;
	return 0;
}

static int apply_billable(struct mt_batch *b, const struct mt_event *ev,
			  const struct metering_placement *pl)
{
	char mkey[MT_TENANT_LEN + 32];
	uint32_t ai, mi;
	struct metering_balance prev, cur;
	struct metering_charge_result res;
	int rc;

	struct mt_acct *x = mt_batch_find_account(b, ev->tenant, ev->product);
	if (!x || !x->loaded)
		return -EINVAL;
	(void)mt_map_get(&b->acct_map, x->key, &ai);
	(void)snprintf(mkey, sizeof(mkey), "%s/%d", x->key, (int)pl->period.id);
	if (!mt_map_get(&b->month_map, mkey, &mi) || !b->months[mi]->loaded)
		return -EINVAL;
	struct mt_month *m = b->months[mi];
	const struct metering_ladder *l =
		mt_ladders_for(b->ladders, ev->product, pl->period.start_ms);
	size_t cap = METERING_CHARGE_MAX_ENTRIES(x->a.n_pkgs);
	struct metering_entry *e = entries_buf(b, cap);
	if (!e)
		return -ENOMEM;
	struct metering_event me = {.quantity = ev->quantity, .occurred_at_ms = ev->occurred_ms};
	metering_account_balance(&x->a, ev->ingest_ms, &prev);
	if ((rc = metering_charge_apply(&x->a, &m->m, l, &me, e, cap, &res)) < 0)
		return rc;
	for (size_t i = 0; i < res.n_entries; i++) {
		struct mt_row *r = event_row(b, ev, pl, (int)i, (int)e[i].kind);
		if (!r)
			return -ENOMEM;
		(void)snprintf(r->package_id, sizeof(r->package_id), "%s", e[i].package_id);
		r->package_no = package_no(&x->a, e[i].package_id);
		r->calls = e[i].calls;
		r->balance_delta = e[i].balance_delta;
		if (e[i].kind == METERING_ENTRY_TRIAL || e[i].kind == METERING_ENTRY_PACKAGE)
			r->balance_after = e[i].balance_after;
		r->amount = e[i].amount;
		r->price_version = e[i].price_version;
		r->tier_first = e[i].tier_first;
		r->tier_last = e[i].tier_last;
	}
	metering_account_balance(&x->a, ev->ingest_ms, &cur);
	if ((rc = eval_alerts(b, ai, &prev, &cur)) < 0)
		return rc;
	x->status = cur.status;
	x->touched = true;
	x->last_partition = ev->partition;
	x->last_offset = ev->offset;
	x->last_event_ms = ev->occurred_ms;
	return 0;
}

int mt_batch_apply(struct mt_batch *b, const struct mt_event *ev,
		   const struct metering_placement *pl)
{
	if (ev->billable)
		return apply_billable(b, ev, pl);
	return event_row(b, ev, pl, 0, MT_KIND_CALL) ? 0 : -ENOMEM;
}

/* ---- admin changes ---- */

static int finish_change(struct mt_batch *b, uint32_t idx, const struct metering_balance *prev,
			 int64_t now_ms)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_balance cur;
	metering_account_balance(&x->a, now_ms, &cur);
	int rc = eval_alerts(b, idx, prev, &cur);
	if (rc < 0)
		return rc;
	x->status = cur.status;
	x->touched = true;
	return 0;
}

int mt_acct_topup(struct mt_batch *b, uint32_t idx, const struct mt_topup *t, int64_t now_ms)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_balance prev;
	struct metering_entry e;
	char key[MT_KEY_MAX];
	struct metering_topup mt = {.package_id = t->package_id,
				    .size = t->size,
				    .unit_price = t->unit_price,
				    .price_total = t->price_total,
				    .purchased_at_ms = t->purchased_at_ms,
				    .expires_at_ms = t->expires_at_ms};
	int rc;

	metering_account_balance(&x->a, now_ms, &prev);
	if ((rc = metering_account_topup(&x->a, &mt, &e)) < 0)
		return rc;
	size_t i = x->a.n_pkgs - 1;
	x->snap[i].is_new = true;
	x->snap[i].remaining = x->a.pkgs[i].remaining;
	x->snap[i].status = x->a.pkgs[i].status;
	(void)snprintf(key, sizeof(key), "topup:%s", t->package_id);
	struct mt_row *r = admin_row(b, x, key, &e, t->purchased_at_ms);
	if (!r)
		return -ENOMEM;
	r->actor = t->actor;
	r->reason = t->reason;
	return finish_change(b, idx, &prev, now_ms);
}

int mt_acct_refund(struct mt_batch *b, uint32_t idx, const char *package_id, int64_t now_ms,
		   int64_t window_ms, const char *actor, const char *reason)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_balance prev;
	struct metering_entry e;
	char key[MT_KEY_MAX];
	int rc;

	metering_account_balance(&x->a, now_ms, &prev);
	if ((rc = metering_account_refund(&x->a, package_id, now_ms, window_ms, &e)) < 0)
		return rc;
	(void)snprintf(key, sizeof(key), "refund:%s", package_id);
	struct mt_row *r = admin_row(b, x, key, &e, now_ms);
	if (!r)
		return -ENOMEM;
	r->actor = actor;
	r->reason = reason;
	size_t before = x->st.n;
	metering_alert_states_prune(&x->st, x->a.pkgs, x->a.n_pkgs);
	x->st_pruned |= x->st.n != before;
	return finish_change(b, idx, &prev, now_ms);
}

/* The earliest expiry time <= now among ACTIVE packages, or 0. */
static int64_t next_expiry(const struct metering_account *a, int64_t now_ms)
{
	int64_t t = 0;
	for (size_t i = 0; i < a->n_pkgs; i++) {
		const struct metering_package *p = &a->pkgs[i];
		if (p->status == METERING_PKG_ACTIVE && p->expires_at_ms <= now_ms &&
		    (!t || p->expires_at_ms < t))
			t = p->expires_at_ms;
	}
	return t;
}

int mt_acct_tick(struct mt_batch *b, uint32_t idx, int64_t now_ms)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_balance prev;
	char key[MT_KEY_MAX];
	int64_t t;
	int rc;

	while ((t = next_expiry(&x->a, now_ms)) > 0) {
		struct metering_entry *e = entries_buf(b, x->a.n_pkgs ? x->a.n_pkgs : 1);
		size_t n = 0;
		if (!e)
			return -ENOMEM;
		metering_account_balance(&x->a, t - 1, &prev);
		if ((rc = metering_account_expire(&x->a, t, e, x->a.n_pkgs, &n)) < 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			(void)snprintf(key, sizeof(key), "expire:%s", e[i].package_id);
			struct mt_row *r = admin_row(b, x, key, &e[i], t);
			if (!r)
				return -ENOMEM;
			r->balance_after = 0;
			r->actor = "shiren-metering";
			r->reason = "expired";
		}
		size_t before = x->st.n;
		metering_alert_states_prune(&x->st, x->a.pkgs, x->a.n_pkgs);
		x->st_pruned |= x->st.n != before;
		if ((rc = finish_change(b, idx, &prev, t)) < 0)
			return rc;
	}
	metering_account_balance(&x->a, now_ms, &prev);
	return finish_change(b, idx, &prev, now_ms);
}

int mt_acct_settings(struct mt_batch *b, uint32_t idx, const enum metering_on_exhaust *oe,
		     const struct metering_alert_config *cfg, bool custom, bool reset,
		     int64_t now_ms)
{
	struct mt_acct *x = b->accts[idx];
	struct metering_balance prev;

	metering_account_balance(&x->a, now_ms, &prev);
	if (oe)
		x->a.on_exhaust = *oe;
	if (cfg) {
		x->cfg = custom ? *cfg : b->set->alerts;
		x->cfg_custom = custom;
	}
	if (reset) {
		/* Re-arm with a new generation rather than forget: the next alert of each rule
		 * gets a fresh id instead of repeating one consumers have already seen. */
		for (size_t i = 0; i < x->st.n; i++) {
			if (x->st.v[i].fired) {
				x->st.v[i].fired = false;
				x->st.v[i].generation++;
				x->st_dirty = true;
			}
		}
	}
	return finish_change(b, idx, &prev, now_ms);
}

int mt_batch_push_row(struct mt_batch *b, const struct mt_row *r)
{
	if (vec_reserve((void **)&b->rows, &b->cap_rows, b->n_rows + 1, sizeof(*b->rows)) < 0)
		return -ENOMEM;
	b->rows[b->n_rows++] = *r;
	return 0;
}

int mt_settlement_row(const char *tenant, int32_t product, const struct metering_month *m,
		      const struct metering_ladder *l, struct mt_row *r,
		      struct metering_bill_line *ret_line)
{
	struct metering_entry e;
	struct metering_period p;
	int64_t day_start;
	int rc;

	if ((rc = metering_month_settle(m, l, &e, ret_line)) < 0)
		return rc;
	if ((rc = metering_period_from_id(m->period, &p)) < 0)
		return rc;
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->key, sizeof(r->key), "settlement:%s:%d:%d", tenant, (int)product,
		       (int)m->period);
	(void)snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->product = product;
	r->kind = METERING_ENTRY_SETTLEMENT;
	r->calls = e.calls;
	r->amount = e.amount;
	r->balance_after = -1;
	r->price_version = e.price_version;
	r->tier_first = r->tier_last = -1;
	r->period = m->period;
	r->occurred_ms = p.end_ms - 1;
	if (metering_day_of(r->occurred_ms, &r->day, &day_start) < 0)
		r->day = 0;
	r->partition = -1;
	r->sub_code = -1;
	r->actor = "shiren-metering";
	r->reason = "period close";
	return 0;
}
