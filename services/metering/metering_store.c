/* metering_store — loading a transaction's state from PostgreSQL (metering_store.h); the
 * writes are in metering_store_write.c. */
#include "metering/metering_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

void mt_store_init(struct mt_store *s, PGconn *c)
{
	s->c = c;
	for (size_t i = 0; i < MT_STORE_ARRS; i++)
		mt_arr_init(&s->a[i]);
	for (size_t i = 0; i < MT_STORE_BARRS; i++)
		mt_barr_init(&s->ba[i]);
	mt_bin_init(&s->copy);
	mt_map_init(&s->tmp);
	mt_map_init(&s->dmap);
	mt_arena_init(&s->mem);
	s->daily = NULL;
	s->n_daily = s->cap_daily = 0;
}

void mt_store_free(struct mt_store *s)
{
	for (size_t i = 0; i < MT_STORE_ARRS; i++)
		mt_arr_free(&s->a[i]);
	for (size_t i = 0; i < MT_STORE_BARRS; i++)
		mt_barr_free(&s->ba[i]);
	mt_bin_free(&s->copy);
	mt_map_free(&s->tmp);
	mt_map_free(&s->dmap);
	mt_arena_free(&s->mem);
	free(s->daily);
}

/* Put column 0 of every row of `r` into s->tmp (keys borrowed from `r`). */
static int result_set(struct mt_store *s, const PGresult *r)
{
	mt_map_clear(&s->tmp);
	for (int i = 0; i < PQntuples(r); i++)
		if (mt_map_put(&s->tmp, PQgetvalue(r, i, 0), 0, NULL) == -ENOMEM)
			return -ENOMEM;
	return 0;
}

static int64_t v64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* An array parameter could not be built (too large or out of memory). */
static int arr_fail(char *err, size_t errlen)
{
	(void)snprintf(err, errlen, "parameter array too large or out of memory");
	return -ENOMEM;
}

int mt_parse_int_array(const char *s, int64_t *v, size_t cap, size_t *ret_n)
{
	size_t n = 0;
	if (!s || *s != '{')
		return -EINVAL;
	s++;
	while (*s && *s != '}') {
		char *end;
		long long x = strtoll(s, &end, 10);
		if (end == s)
			return -EINVAL;
		if (n >= cap)
			return -ENOSPC;
		v[n++] = x;
		s = end;
		if (*s == ',')
			s++;
	}
	if (*s != '}')
		return -EINVAL;
	*ret_n = n;
	return 0;
}

static int ladder_row(const PGresult *r, int i, struct metering_ladder *l)
{
	int64_t upto[METERING_LADDER_MAX_TIERS], price[METERING_LADDER_MAX_TIERS];
	size_t nu, np;
	memset(l, 0, sizeof(*l));
	l->version = v64(r, i, 1);
	l->mode = strcmp(PQgetvalue(r, i, 2), "graduated") == 0 ? METERING_LADDER_GRADUATED
								: METERING_LADDER_VOLUME;
	l->effective_from_ms = v64(r, i, 3);
	if (mt_parse_int_array(PQgetvalue(r, i, 4), upto, METERING_LADDER_MAX_TIERS, &nu) < 0 ||
	    mt_parse_int_array(PQgetvalue(r, i, 5), price, METERING_LADDER_MAX_TIERS, &np) < 0 ||
	    nu != np)
		return -EINVAL;
	l->n_tiers = nu;
	for (size_t k = 0; k < nu; k++) {
		l->tiers[k].upto = upto[k];
		l->tiers[k].unit_price = price[k];
	}
	return metering_ladder_validate(l);
}

int mt_store_ladders(struct mt_store *s, struct mt_ladders *ret, char *err, size_t errlen)
{
	PGresult *r = NULL;
	char maxp[8];
	(void)snprintf(maxp, sizeof(maxp), "%d", MT_PRODUCT_MAX);
	const char *p[] = {maxp};
	int rc = pg_exec(s->c,
			 "SELECT product, version, mode, effective_from_ms, upto::text, "
			 "unit_price::text FROM metering_ladders WHERE product BETWEEN 1 AND $1 "
			 "ORDER BY product, effective_from_ms DESC, version DESC",
			 1, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	memset(ret->n, 0, sizeof(ret->n));
	for (int i = 0; i < PQntuples(r); i++) {
		int prod = (int)v64(r, i, 0);
		if (prod < 1 || prod > MT_PRODUCT_MAX || ret->n[prod] >= MT_LADDER_VERSIONS_MAX)
			continue; /* only the newest versions matter for open periods */
		if (ladder_row(r, i, &ret->v[prod][ret->n[prod]]) == 0)
			ret->n[prod]++;
	}
	PQclear(r);
	return 0;
}

int mt_store_closed_through(struct mt_store *s, bool for_update, int32_t *ret, char *err,
			    size_t errlen)
{
	PGresult *r = NULL;
	int rc = pg_exec(s->c,
			 for_update ? "SELECT closed_through FROM metering_state WHERE id = 1 "
				      "FOR UPDATE"
				    : "SELECT closed_through FROM metering_state WHERE id = 1 "
				      "FOR SHARE",
			 0, NULL, &r, err, errlen);
	if (rc < 0)
		return rc;
	*ret = PQntuples(r) ? (int32_t)v64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

int mt_store_offsets_lock(struct mt_store *s, const char *topic, const int32_t *parts, size_t n,
			  int64_t *ret_next, char *err, size_t errlen)
{
	struct mt_arr *a = &s->a[0];
	PGresult *r = NULL;
	mt_arr_reset(a);
	for (size_t i = 0; i < n; i++) {
		mt_arr_int(a, parts[i]);
		ret_next[i] = -1;
	}
	if (mt_arr_end(a) < 0)
		return arr_fail(err, errlen);
	const char *p[] = {topic, a->buf};
	int rc = pg_exec(s->c,
			 "SELECT partition, next_offset FROM metering_offsets WHERE topic = $1 "
			 "AND partition = ANY($2::int4[]) ORDER BY partition FOR UPDATE",
			 2, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		for (size_t k = 0; k < n; k++)
			if (parts[k] == (int32_t)v64(r, i, 0))
				ret_next[k] = v64(r, i, 1);
	PQclear(r);
	return 0;
}

int mt_store_offsets_all(struct mt_store *s, const char *topic, int64_t *ret_next, size_t n_max,
			 char *err, size_t errlen)
{
	PGresult *r = NULL;
	const char *p[] = {topic};
	for (size_t i = 0; i < n_max; i++)
		ret_next[i] = -1;
	int rc = pg_exec(s->c,
			 "SELECT partition, next_offset FROM metering_offsets WHERE topic = $1", 1,
			 p, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t part = v64(r, i, 0);
		if (part >= 0 && (size_t)part < n_max)
			ret_next[part] = v64(r, i, 1);
	}
	PQclear(r);
	return 0;
}

int mt_store_tenants_known(struct mt_store *s, const char *const *tenants, size_t n,
			   bool *ret_known, char *err, size_t errlen)
{
	struct mt_arr *a = &s->a[0];
	PGresult *r = NULL;
	mt_arr_reset(a);
	for (size_t i = 0; i < n; i++) {
		mt_arr_text(a, tenants[i]);
		ret_known[i] = false;
	}
	if (mt_arr_end(a) < 0)
		return arr_fail(err, errlen);
	const char *p[] = {a->buf};
	/* One index probe per id (LATERAL ... LIMIT 1): a plan that does not depend on how
	 * fresh the table's statistics are. */
	int rc = pg_exec(s->c,
			 "SELECT k.id::text FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL "
			 "(SELECT 1 FROM tenants t WHERE t.id = k.id LIMIT 1) x",
			 1, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	rc = result_set(s, r);
	for (size_t k = 0; rc == 0 && k < n; k++)
		ret_known[k] = mt_map_get(&s->tmp, tenants[k], NULL);
	mt_map_clear(&s->tmp);
	PQclear(r);
	return rc;
}

int mt_store_seen(struct mt_store *s, const struct mt_event *const *evs, size_t n,
		  struct mt_map *seen, char *err, size_t errlen)
{
	const char *p[2];
	int len[2], fmt[2] = {1, 1};
	PGresult *r = NULL;
	if (n == 0)
		return 0;
	mt_barr_reset(&s->ba[0], MT_OID_UUID);
	mt_barr_reset(&s->ba[1], MT_OID_INT2);
	for (size_t i = 0; i < n; i++) {
		mt_barr_uuid(&s->ba[0], evs[i]->certify);
		mt_barr_int2(&s->ba[1], evs[i]->action_code);
	}
	if (mt_barr_end(&s->ba[0], &p[0], &len[0]) < 0 ||
	    mt_barr_end(&s->ba[1], &p[1], &len[1]) < 0)
		return arr_fail(err, errlen);
	/* One index probe per event: the usage entries with seq 0 are the dedup keys. */
	int rc = pg_execb(s->c,
			  "SELECT k.o FROM unnest($1::uuid[], $2::int2[]) WITH ORDINALITY AS "
			  "k(c, a, o) CROSS JOIN LATERAL (SELECT 1 FROM metering_usage l WHERE "
			  "l.certify_id = k.c AND l.action = k.a AND l.seq = 0 LIMIT 1) x",
			  2, p, len, fmt, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		int64_t o = v64(r, i, 0);
		if (o < 1 || (size_t)o > n)
			continue;
		/* `seen` keeps its keys: use the caller's copies, not the result's. */
		if (mt_map_put(seen, evs[o - 1]->event_id, 0, NULL) == -ENOMEM)
			rc = -ENOMEM;
	}
	PQclear(r);
	return rc;
}

/* Register `names` not numbered yet, numbering them after the highest number in their order;
 * beyond the cap a name is not registered. One transaction holding an advisory lock, so two
 * writers never reach for the same number. */
static int actions_register(struct mt_store *s, const char *const *names, size_t n, char *err,
			    size_t errlen)
{
	char cap[16];
	mt_arr_reset(&s->a[0]);
	for (size_t i = 0; i < n; i++)
		mt_arr_text(&s->a[0], names[i]);
	if (mt_arr_end(&s->a[0]) < 0)
		return arr_fail(err, errlen);
	(void)snprintf(cap, sizeof(cap), "%d", MT_ACTIONS_MAX);
	const char *p[] = {s->a[0].buf, cap};
	int rc = pg_begin(s->c, err, errlen);
	if (rc == 0)
		rc = pg_exec(s->c, "SELECT pg_advisory_xact_lock(hashtext('metering_actions'))", 0,
			     NULL, NULL, err, errlen);
	if (rc == 0)
		rc = pg_exec(
			s->c,
			"INSERT INTO metering_actions (code, name) SELECT c, n FROM (SELECT "
			"(SELECT coalesce(max(code), 0) FROM metering_actions) + row_number() "
			"OVER (ORDER BY k.o) AS c, k.n FROM unnest($1::text[]) WITH ORDINALITY "
			"AS k(n, o) WHERE NOT EXISTS (SELECT 1 FROM metering_actions a WHERE "
			"a.name = k.n)) x WHERE c <= $2::int",
			2, p, NULL, err, errlen);
	if (rc == 0)
		return pg_commit(s->c, err, errlen);
	pg_rollback(s->c);
	return rc;
}

int mt_store_actions(struct mt_store *s, const char *const *names, size_t n, struct mt_map *codes,
		     struct mt_arena *mem, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int rc = n ? actions_register(s, names, n, err, errlen) : 0;
	if (rc == 0)
		rc = pg_exec(s->c, "SELECT code, name FROM metering_actions", 0, NULL, &r, err,
			     errlen);
	if (rc < 0)
		return rc;
	mt_map_clear(codes);
	mt_arena_reset(mem);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 1);
		size_t len = strlen(name) + 1;
		char *k = mt_arena_alloc(mem, len);
		if (!k || mt_map_put(codes, memcpy(k, name, len), (uint32_t)v64(r, i, 0), NULL) ==
				  -ENOMEM) {
			(void)snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
		}
	}
	PQclear(r);
	return rc;
}

/* ---- accounts ---- */

static int cmp_acct(const void *x, const void *y)
{
	const struct mt_acct *const *a = x, *const *b = y;
	return strcmp((*a)->key, (*b)->key);
}

/* Arrays of the (tenant, product) keys of `v` into a[0], a[1]. */
static int key_arrays(struct mt_store *s, struct mt_acct **v, size_t n, char *err, size_t errlen)
{
	mt_arr_reset(&s->a[0]);
	mt_arr_reset(&s->a[1]);
	for (size_t i = 0; i < n; i++) {
		mt_arr_text(&s->a[0], v[i]->tenant);
		mt_arr_int(&s->a[1], v[i]->product);
	}
	return mt_arr_end(&s->a[0]) < 0 || mt_arr_end(&s->a[1]) < 0 ? arr_fail(err, errlen) : 0;
}

#define ACCT_COLS                                                                             \
	"a.tenant_id::text, a.product, a.on_exhaust, a.trial_limit, a.trial_used, a.status, " \
	"a.alert_percent::text, a.alert_calls::text, a.alert_expiry_days::text, "             \
	"a.alert_hysteresis_pct, a.last_partition "
/* Rows of `table` for the (tenant, product) keys in $1/$2, in key order: one index probe per
 * key, whatever the table's size or statistics. */
#define KEYS_LATERAL(table, cond)                                                              \
	"FROM unnest($1::uuid[], $2::int2[]) WITH ORDINALITY AS k(t, p, o) CROSS JOIN "        \
	"LATERAL (SELECT * FROM " table " x WHERE x.tenant_id = k.t AND x.product = k.p " cond \
	") a ORDER BY k.o"

static int select_accounts(struct mt_store *s, PGresult **r, char *err, size_t errlen)
{
	const char *p[] = {s->a[0].buf, s->a[1].buf};
	/* Locked in key order (the arrays are sorted), so two writers cannot deadlock. */
	return pg_exec(s->c, "SELECT " ACCT_COLS KEYS_LATERAL("metering_accounts", "FOR UPDATE"), 2,
		       p, r, err, errlen);
}

static enum metering_status status_parse(const char *s)
{
	if (strcmp(s, "blocked") == 0)
		return METERING_STATUS_BLOCKED;
	return strcmp(s, "postpaid") == 0 ? METERING_STATUS_POSTPAID : METERING_STATUS_PREPAID;
}

/* The account's alert config: service defaults with the row's overrides. */
static void acct_cfg(struct mt_acct *x, const PGresult *r, int i)
{
	struct metering_alert_config c = x->cfg;
	bool custom = false;
	if (!PQgetisnull(r, i, 6) &&
	    mt_parse_int_array(PQgetvalue(r, i, 6), c.percent, METERING_ALERT_MAX_THRESHOLDS,
			       &c.n_percent) == 0)
		custom = true;
	if (!PQgetisnull(r, i, 7) &&
	    mt_parse_int_array(PQgetvalue(r, i, 7), c.calls, METERING_ALERT_MAX_THRESHOLDS,
			       &c.n_calls) == 0)
		custom = true;
	if (!PQgetisnull(r, i, 8) &&
	    mt_parse_int_array(PQgetvalue(r, i, 8), c.expiry_days, METERING_ALERT_MAX_THRESHOLDS,
			       &c.n_expiry_days) == 0)
		custom = true;
	if (!PQgetisnull(r, i, 9)) {
		c.hysteresis_pct = v64(r, i, 9);
		custom = true;
	}
	if (custom && metering_alert_config_normalize(&c) == 0) {
		x->cfg = c;
		x->cfg_custom = true;
	}
}

static void pkg_row(const PGresult *r, int i, struct metering_package *p)
{
	memset(p, 0, sizeof(*p));
	(void)snprintf(p->id, sizeof(p->id), "%s", PQgetvalue(r, i, 2));
	const char *st = PQgetvalue(r, i, 3);
	p->status = strcmp(st, "expired") == 0	  ? METERING_PKG_EXPIRED
		    : strcmp(st, "refunded") == 0 ? METERING_PKG_REFUNDED
						  : METERING_PKG_ACTIVE;
	p->size = v64(r, i, 4);
	p->remaining = v64(r, i, 5);
	p->unit_price = v64(r, i, 6);
	p->price_total = v64(r, i, 7);
	p->purchased_at_ms = v64(r, i, 8);
	p->expires_at_ms = v64(r, i, 9);
	p->no = (int32_t)v64(r, i, 10);
}

/* Order of (tenant, product) keys, as PostgreSQL sorts (uuid, smallint). */
static int key_cmp(const PGresult *r, int row, const struct mt_acct *x)
{
	int c = strcmp(PQgetvalue(r, row, 0), x->tenant);
	if (c)
		return c;
	int64_t p = v64(r, row, 1);
	return p < x->product ? -1 : p > x->product;
}

/* The rows [*k, *end) of `r` (sorted by key) that belong to `x`. */
static size_t key_range(const PGresult *r, int *k, const struct mt_acct *x)
{
	int n = PQntuples(r);
	while (*k < n && key_cmp(r, *k, x) < 0)
		(*k)++;
	int end = *k;
	while (end < n && key_cmp(r, end, x) == 0)
		end++;
	return (size_t)(end - *k);
}

static void state_row(const PGresult *r, int k, struct metering_alert_rule_state *st)
{
	memset(st, 0, sizeof(*st));
	st->kind = (enum metering_alert_kind)v64(r, k, 2);
	st->threshold = v64(r, k, 3);
	(void)snprintf(st->package_id, sizeof(st->package_id), "%s", PQgetvalue(r, k, 4));
	st->fired = PQgetvalue(r, k, 5)[0] == 't';
	st->generation = v64(r, k, 6);
}

/* Fill the locked accounts from their rows, packages and states; all three results are
 * sorted by (tenant, product), so one merge pass places everything. */
static int fill_accounts(struct mt_batch *b, const PGresult *ra, const PGresult *rp,
			 const PGresult *rs, int64_t now_ms)
{
	int kp = 0, ks = 0;
	for (int i = 0; i < PQntuples(ra); i++) {
		struct mt_acct *x =
			mt_batch_find_account(b, PQgetvalue(ra, i, 0), (int32_t)v64(ra, i, 1));
		if (!x || x->loaded)
			continue;
		size_t np = key_range(rp, &kp, x), ns = key_range(rs, &ks, x);
		if (mt_acct_prepare(b, x, np, ns) < 0)
			return -ENOMEM;
		x->exists = true;
		x->a.on_exhaust = strcmp(PQgetvalue(ra, i, 2), "block") == 0
					  ? METERING_ON_EXHAUST_BLOCK
					  : METERING_ON_EXHAUST_POSTPAID;
		x->a.trial_limit = v64(ra, i, 3);
		x->a.trial_used = v64(ra, i, 4);
		x->status0 = status_parse(PQgetvalue(ra, i, 5));
		x->last_partition0 = PQgetisnull(ra, i, 10) ? -1 : (int32_t)v64(ra, i, 10);
		acct_cfg(x, ra, i);
		for (size_t j = 0; j < np; j++)
			pkg_row(rp, kp++, &x->a.pkgs[x->a.n_pkgs++]);
		for (size_t j = 0; j < ns; j++)
			state_row(rs, ks++, &x->st.v[x->st.n++]);
		mt_acct_loaded(x, now_ms);
	}
	return 0;
}

/* Lock the accounts whose keys are in a[0]/a[1], with packages and states, and fill them. */
static int load_keys(struct mt_store *s, struct mt_batch *b, bool all_packages, int64_t now_ms,
		     char *err, size_t errlen)
{
	PGresult *ra = NULL, *rp = NULL, *rs = NULL;
	const char *p[] = {s->a[0].buf, s->a[1].buf};
	int rc = select_accounts(s, &ra, err, errlen);
	if (rc == 0)
		rc = pg_exec(
			s->c,
			all_packages
				? "SELECT a.tenant_id::text, a.product, a.id, a.status, a.size, "
				  "a.remaining, a.unit_price, a.price_total, a.purchased_at_ms, "
				  "a.expires_at_ms, a.no " KEYS_LATERAL("metering_packages",
									"OFFSET 0")
				: "SELECT a.tenant_id::text, a.product, a.id, a.status, a.size, "
				  "a.remaining, a.unit_price, a.price_total, a.purchased_at_ms, "
				  "a.expires_at_ms, a.no " KEYS_LATERAL(
					  "metering_packages", "AND x.status = 'active' OFFSET 0"),
			2, p, &rp, err, errlen);
	if (rc == 0)
		rc = pg_exec(
			s->c,
			"SELECT a.tenant_id::text, a.product, a.kind, a.threshold, a.package_id, "
			"a.fired, a.generation " KEYS_LATERAL("metering_alert_state", "OFFSET 0"),
			2, p, &rs, err, errlen);
	if (rc == 0 && (rc = fill_accounts(b, ra, rp, rs, now_ms)) < 0)
		(void)snprintf(err, errlen, "out of memory");
	PQclear(ra);
	PQclear(rp);
	PQclear(rs);
	return rc;
}

int mt_store_load_accounts(struct mt_store *s, struct mt_batch *b, bool all_packages,
			   int64_t now_ms, char *err, size_t errlen)
{
	struct mt_acct **v = calloc(b->n_accts ? b->n_accts : 1, sizeof(*v));
	size_t n = 0;
	int rc = 0;
	if (!v) {
		(void)snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n_accts; i++)
		if (!b->accts[i]->loaded)
			v[n++] = b->accts[i];
	qsort(v, n, sizeof(*v), cmp_acct);
	if (n == 0 || (rc = key_arrays(s, v, n, err, errlen)) < 0 ||
	    (rc = load_keys(s, b, all_packages, now_ms, err, errlen)) < 0)
		goto out;
	/* The ones without a row: create them (trial granted once: the primary key), then
	 * lock and load those. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i]->loaded)
			v[m++] = v[i];
	if (m == 0 || (rc = key_arrays(s, v, m, err, errlen)) < 0)
		goto out;
	char trial[24];
	(void)snprintf(trial, sizeof(trial), "%lld", (long long)b->set->trial_limit);
	const char *p[] = {s->a[0].buf, s->a[1].buf, trial};
	rc = pg_exec(s->c,
		     "INSERT INTO metering_accounts (tenant_id, product, trial_limit) "
		     "SELECT t, p, $3 FROM unnest($1::uuid[], $2::int2[]) AS k(t, p) "
		     "ORDER BY t, p ON CONFLICT DO NOTHING",
		     3, p, NULL, err, errlen);
	if (rc == 0)
		rc = load_keys(s, b, all_packages, now_ms, err, errlen);
	for (size_t i = 0; rc == 0 && i < m; i++)
		if (!v[i]->loaded) {
			(void)snprintf(err, errlen, "account %s was not created", v[i]->key);
			rc = -EIO;
		}
out:
	free(v);
	return rc;
}

int mt_store_load_months(struct mt_store *s, struct mt_batch *b, char *err, size_t errlen)
{
	PGresult *r = NULL;
	mt_arr_reset(&s->a[0]);
	mt_arr_reset(&s->a[1]);
	mt_arr_reset(&s->a[2]);
	size_t n = 0;
	for (size_t i = 0; i < b->n_months; i++) {
		const struct mt_month *m = b->months[i];
		if (m->loaded)
			continue;
		mt_arr_text(&s->a[0], b->accts[m->acct]->tenant);
		mt_arr_int(&s->a[1], b->accts[m->acct]->product);
		mt_arr_int(&s->a[2], m->m.period);
		n++;
	}
	if (n == 0)
		return 0;
	if (mt_arr_end(&s->a[0]) < 0 || mt_arr_end(&s->a[1]) < 0 || mt_arr_end(&s->a[2]) < 0)
		return arr_fail(err, errlen);
	const char *p[] = {s->a[0].buf, s->a[1].buf, s->a[2].buf};
	int rc = pg_exec(
		s->c,
		"SELECT m.tenant_id::text, m.product, m.period, m.postpaid_calls, "
		"m.postpaid_charged, m.blocked_calls FROM unnest($1::uuid[], $2::int2[], "
		"$3::int4[]) AS k(t, p, d) CROSS JOIN LATERAL (SELECT * FROM metering_months x "
		"WHERE x.tenant_id = k.t AND x.product = k.p AND x.period = k.d) m",
		3, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		char key[MT_TENANT_LEN + 32];
		uint32_t idx;
		(void)snprintf(key, sizeof(key), "%s/%s/%s", PQgetvalue(r, i, 0),
			       PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
		if (!mt_map_get(&b->month_map, key, &idx))
			continue;
		struct mt_month *m = b->months[idx];
		m->exists = true;
		m->m.postpaid_calls = v64(r, i, 3);
		m->m.postpaid_charged = v64(r, i, 4);
		m->m.blocked_calls = v64(r, i, 5);
	}
	PQclear(r);
	for (size_t i = 0; i < b->n_months; i++) {
		if (b->months[i]->loaded)
			continue;
		b->months[i]->loaded = true;
		b->months[i]->m0 = b->months[i]->m;
	}
	return 0;
}
