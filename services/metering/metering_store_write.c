/* metering_store_write — writing one transaction's results back, set-based: each table gets one
 * statement whose parameters are column arrays (metering_store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "metering/metering_store.h"
#include "shiren/v1/envelope.pb-c.h"
#include "shiren/v1/metering.pb-c.h"

/* Reset the first n arrays. */
static void arrs_reset(struct mt_store *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mt_arr_reset(&s->a[i]);
}

/* Close the first n arrays into params[]. */
static int arrs_end(struct mt_store *s, size_t n, const char **params, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (mt_arr_end(&s->a[i]) < 0) {
			(void)snprintf(err, errlen, "parameter array too large or out of memory");
			return -ENOMEM;
		}
		params[i] = s->a[i].buf;
	}
	return 0;
}

static void int_or_null(struct mt_arr *a, bool null, int64_t v)
{
	if (null)
		mt_arr_null(a);
	else
		mt_arr_int(a, v);
}

static const char *pkg_status_name(enum metering_pkg_status st)
{
	return st == METERING_PKG_EXPIRED    ? "expired"
	       : st == METERING_PKG_REFUNDED ? "refunded"
					     : "active";
}

static const char *on_exhaust_name(enum metering_on_exhaust oe)
{
	return oe == METERING_ON_EXHAUST_BLOCK ? "block" : "postpaid";
}

static int write_accounts(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[8];
	size_t n = 0;
	arrs_reset(s, 8);
	for (size_t i = 0; i < b->n_accts; i++) {
		const struct mt_acct *x = b->accts[i];
		/* Only what changed: after the trial an event usually changes a package, not the
		 * account (its balance watermark is the partition's stored offset). */
		if (!x->loaded ||
		    (x->a.trial_used == x->trial_used0 && x->status == x->status0 &&
		     x->a.on_exhaust == x->on_exhaust0 &&
		     (x->last_partition < 0 || x->last_partition == x->last_partition0)))
			continue;
		mt_arr_text(&s->a[0], x->tenant);
		mt_arr_int(&s->a[1], x->product);
		mt_arr_int(&s->a[2], x->a.trial_used);
		mt_arr_text(&s->a[3], metering_status_name(x->status));
		mt_arr_text(&s->a[4], on_exhaust_name(x->a.on_exhaust));
		int_or_null(&s->a[5], x->last_partition < 0, x->last_partition);
		int_or_null(&s->a[6], x->last_partition < 0, x->last_offset);
		int_or_null(&s->a[7], x->last_partition < 0, x->last_event_ms);
		n++;
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 8, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(s->c,
		       "UPDATE metering_accounts a SET trial_used = u.tu, status = u.st, "
		       "on_exhaust = u.oe, last_partition = coalesce(u.lp, a.last_partition), "
		       "last_offset = coalesce(u.lo, a.last_offset), "
		       "last_event_ms = coalesce(u.le, a.last_event_ms), last_applied_at = now() "
		       "FROM unnest($1::uuid[], $2::int2[], $3::int8[], $4::text[], $5::text[], "
		       "$6::int4[], $7::int8[], $8::int8[]) AS u(t, p, tu, st, oe, lp, lo, le) "
		       "WHERE a.tenant_id = u.t AND a.product = u.p",
		       8, p, NULL, err, errlen);
}

/* The top-up row of a package bought in this batch (for its actor and reason). */
static const struct mt_row *topup_row(const struct mt_batch *b, const char *pkg)
{
	for (size_t i = 0; i < b->n_rows; i++)
		if (b->rows[i].kind == METERING_ENTRY_TOPUP &&
		    strcmp(b->rows[i].package_id, pkg) == 0)
			return &b->rows[i];
	return NULL;
}

static int insert_packages(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[12];
	size_t n = 0;
	arrs_reset(s, 12);
	for (size_t i = 0; i < b->n_accts; i++) {
		const struct mt_acct *x = b->accts[i];
		for (size_t k = 0; x->loaded && k < x->a.n_pkgs; k++) {
			const struct metering_package *pk = &x->a.pkgs[k];
			if (!x->snap[k].is_new)
				continue;
			const struct mt_row *r = topup_row(b, pk->id);
			mt_arr_text(&s->a[0], pk->id);
			mt_arr_text(&s->a[1], x->tenant);
			mt_arr_int(&s->a[2], x->product);
			mt_arr_text(&s->a[3], pkg_status_name(pk->status));
			mt_arr_int(&s->a[4], pk->size);
			mt_arr_int(&s->a[5], pk->remaining);
			mt_arr_int(&s->a[6], pk->unit_price);
			mt_arr_int(&s->a[7], pk->price_total);
			mt_arr_int(&s->a[8], pk->purchased_at_ms);
			mt_arr_int(&s->a[9], pk->expires_at_ms);
			mt_arr_text(&s->a[10], r ? r->actor : NULL);
			mt_arr_text(&s->a[11], r ? r->reason : NULL);
			n++;
		}
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 12, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(s->c,
		       "INSERT INTO metering_packages (id, tenant_id, product, status, size, "
		       "remaining, unit_price, price_total, purchased_at_ms, expires_at_ms, actor, "
		       "reason) SELECT * FROM unnest($1::text[], $2::uuid[], $3::int2[], "
		       "$4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], "
		       "$10::int8[], $11::text[], $12::text[])",
		       12, p, NULL, err, errlen);
}

static int update_packages(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[3];
	size_t n = 0;
	arrs_reset(s, 3);
	for (size_t i = 0; i < b->n_accts; i++) {
		const struct mt_acct *x = b->accts[i];
		for (size_t k = 0; x->loaded && k < x->a.n_pkgs; k++) {
			const struct metering_package *pk = &x->a.pkgs[k];
			if (x->snap[k].is_new || (x->snap[k].remaining == pk->remaining &&
						  x->snap[k].status == pk->status))
				continue;
			mt_arr_text(&s->a[0], pk->id);
			mt_arr_int(&s->a[1], pk->remaining);
			mt_arr_text(&s->a[2], pkg_status_name(pk->status));
			n++;
		}
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 3, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(s->c,
		       "UPDATE metering_packages p SET remaining = u.r, status = u.s "
		       "FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(id, r, s) "
		       "WHERE p.id = u.id",
		       3, p, NULL, err, errlen);
}

static int write_months(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[6];
	size_t n = 0;
	arrs_reset(s, 6);
	for (size_t i = 0; i < b->n_months; i++) {
		const struct mt_month *m = b->months[i];
		if (m->exists && m->m.postpaid_calls == m->m0.postpaid_calls &&
		    m->m.postpaid_charged == m->m0.postpaid_charged &&
		    m->m.blocked_calls == m->m0.blocked_calls)
			continue;
		mt_arr_text(&s->a[0], b->accts[m->acct]->tenant);
		mt_arr_int(&s->a[1], b->accts[m->acct]->product);
		mt_arr_int(&s->a[2], m->m.period);
		mt_arr_int(&s->a[3], m->m.postpaid_calls);
		mt_arr_int(&s->a[4], m->m.postpaid_charged);
		mt_arr_int(&s->a[5], m->m.blocked_calls);
		n++;
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 6, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(s->c,
		       "INSERT INTO metering_months AS m (tenant_id, product, period, "
		       "postpaid_calls, postpaid_charged, blocked_calls) SELECT * FROM "
		       "unnest($1::uuid[], $2::int2[], $3::int4[], $4::int8[], $5::int8[], "
		       "$6::int8[]) ON CONFLICT (tenant_id, product, period) DO UPDATE SET "
		       "postpaid_calls = EXCLUDED.postpaid_calls, "
		       "postpaid_charged = EXCLUDED.postpaid_charged, "
		       "blocked_calls = EXCLUDED.blocked_calls",
		       6, p, NULL, err, errlen);
}

static int delete_states(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[2];
	size_t n = 0;
	arrs_reset(s, 2);
	for (size_t i = 0; i < b->n_accts; i++) {
		if (!b->accts[i]->st_pruned)
			continue;
		mt_arr_text(&s->a[0], b->accts[i]->tenant);
		mt_arr_int(&s->a[1], b->accts[i]->product);
		n++;
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 2, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(s->c,
		       "DELETE FROM metering_alert_state s USING unnest($1::uuid[], $2::int2[]) "
		       "AS k(t, p) WHERE s.tenant_id = k.t AND s.product = k.p",
		       2, p, NULL, err, errlen);
}

static int write_states(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[7];
	size_t n = 0;
	int rc = delete_states(s, b, err, errlen);
	if (rc < 0)
		return rc;
	arrs_reset(s, 7);
	for (size_t i = 0; i < b->n_accts; i++) {
		const struct mt_acct *x = b->accts[i];
		if (!x->st_dirty && !x->st_pruned)
			continue;
		for (size_t k = 0; k < x->st.n; k++) {
			const struct metering_alert_rule_state *st = &x->st.v[k];
			mt_arr_text(&s->a[0], x->tenant);
			mt_arr_int(&s->a[1], x->product);
			mt_arr_int(&s->a[2], st->kind);
			mt_arr_int(&s->a[3], st->threshold);
			mt_arr_text(&s->a[4], st->package_id);
			mt_arr_bool(&s->a[5], st->fired);
			mt_arr_int(&s->a[6], st->generation);
			n++;
		}
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 7, p, err, errlen) < 0)
		return -ENOMEM;
	return pg_exec(
		s->c,
		"INSERT INTO metering_alert_state AS s (tenant_id, product, kind, threshold, "
		"package_id, fired, generation) SELECT * FROM unnest($1::uuid[], $2::int2[], "
		"$3::int2[], $4::int8[], $5::text[], $6::bool[], $7::int8[]) "
		"ON CONFLICT (tenant_id, product, kind, threshold, package_id) DO UPDATE "
		"SET fired = EXCLUDED.fired, generation = EXCLUDED.generation",
		7, p, NULL, err, errlen);
}

/* The QuotaAlert message of `o` packed into buf (cap bytes). Its length, or 0 if too large. */
static size_t pack_alert(const struct mt_batch *b, const struct mt_alert_out *o, const char *source,
			 uint8_t *buf, size_t cap)
{
	const struct mt_acct *x = b->accts[o->acct];
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__QuotaAlert qa = SHIREN__V1__QUOTA_ALERT__INIT;
	env.message_id = (char *)o->a.alert_id;
	env.tenant_id = (char *)x->tenant;
	env.trace_id = (char *)"";
	env.producer = (char *)source;
	env.produced_at_ms = envelope_now_ms();
	qa.envelope = &env;
	qa.alert_id = (char *)o->a.alert_id;
	qa.kind = (Shiren__V1__QuotaAlertKind)o->a.kind;
	qa.product = (Shiren__V1__Product)x->product;
	qa.threshold = o->a.threshold;
	qa.remaining = o->a.remaining;
	qa.package_id = (char *)o->a.package_id;
	qa.occurred_at_ms = o->a.occurred_at_ms;
	qa.total = o->total;
	qa.generation = o->a.generation;
	qa.balance_status = (char *)metering_status_name(o->status);
	size_t len = shiren__v1__quota_alert__get_packed_size(&qa);
	if (len > cap)
		return 0;
	return shiren__v1__quota_alert__pack(&qa, buf);
}

/* The outbox rows of the alerts marked in `fresh`, in order (message id = alert id): all but
 * the last set-based, the last through outbox_enqueue, which also wakes the relay. */
static int enqueue_alerts(struct mt_store *s, const struct mt_batch *b, const bool *fresh,
			  const char *source, const char *topic, char *err, size_t errlen)
{
	uint8_t buf[1024];
	size_t last = SIZE_MAX, n = 0;
	for (size_t i = 0; i < b->n_alerts; i++)
		if (fresh[i])
			last = i;
	if (last == SIZE_MAX)
		return 0;
	mt_barr_reset(&s->ba[0], MT_OID_BYTEA);
	mt_barr_reset(&s->ba[1], MT_OID_BYTEA);
	mt_barr_reset(&s->ba[2], MT_OID_TEXT);
	for (size_t i = 0; i < last; i++) {
		if (!fresh[i])
			continue;
		const char *tenant = b->accts[b->alerts[i].acct]->tenant;
		size_t len = pack_alert(b, &b->alerts[i], source, buf, sizeof(buf));
		mt_barr_bytes(&s->ba[0], tenant, strlen(tenant));
		mt_barr_bytes(&s->ba[1], buf, len);
		mt_barr_text(&s->ba[2], b->alerts[i].a.alert_id);
		n++;
	}
	if (n) {
		const char *p[5] = {source, topic};
		int len[5] = {0, 0}, fmt[5] = {0, 0, 1, 1, 1};
		for (int k = 0; k < 3; k++)
			if (mt_barr_end(&s->ba[k], &p[2 + k], &len[2 + k]) < 0)
				return -ENOMEM;
		int rc =
			pg_execb(s->c,
				 "INSERT INTO outbox (source, topic, msg_key, payload, message_id) "
				 "SELECT $1, $2, k, v, m FROM unnest($3::bytea[], $4::bytea[], "
				 "$5::text[]) WITH ORDINALITY AS u(k, v, m, i) ORDER BY i",
				 5, p, len, fmt, NULL, err, errlen);
		if (rc < 0)
			return rc;
	}
	const struct mt_alert_out *o = &b->alerts[last];
	const char *tenant = b->accts[o->acct]->tenant;
	size_t len = pack_alert(b, o, source, buf, sizeof(buf));
	return outbox_enqueue(s->c, source, topic, tenant, strlen(tenant), buf, len, o->a.alert_id,
			      err, errlen);
}

static int write_alerts(struct mt_store *s, const struct mt_batch *b, const char *source,
			const char *topic, char *err, size_t errlen)
{
	const char *p[11];
	PGresult *r = NULL;
	if (b->n_alerts == 0)
		return 0;
	arrs_reset(s, 11);
	for (size_t i = 0; i < b->n_alerts; i++) {
		const struct mt_alert_out *o = &b->alerts[i];
		mt_arr_text(&s->a[0], o->a.alert_id);
		mt_arr_text(&s->a[1], b->accts[o->acct]->tenant);
		mt_arr_int(&s->a[2], b->accts[o->acct]->product);
		mt_arr_text(&s->a[3], metering_alert_kind_name(o->a.kind));
		mt_arr_int(&s->a[4], o->a.threshold);
		mt_arr_int(&s->a[5], o->a.remaining);
		mt_arr_int(&s->a[6], o->total);
		mt_arr_text(&s->a[7], metering_status_name(o->status));
		mt_arr_text(&s->a[8], o->a.package_id);
		mt_arr_int(&s->a[9], o->a.generation);
		mt_arr_int(&s->a[10], o->a.occurred_at_ms);
	}
	if (arrs_end(s, 11, p, err, errlen) < 0)
		return -ENOMEM;
	int rc = pg_exec(
		s->c,
		"INSERT INTO metering_alerts (alert_id, tenant_id, product, kind, threshold, "
		"remaining, total, status, package_id, generation, occurred_at_ms) "
		"SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int2[], $4::text[], "
		"$5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[], $10::int8[], "
		"$11::int8[]) ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id::text",
		11, p, &r, err, errlen);
	if (rc < 0)
		return rc;
	/* Only alerts new to the table go out (a repeated id was already published). */
	bool *fresh = calloc(b->n_alerts, sizeof(*fresh));
	if (!fresh) {
		PQclear(r);
		return -ENOMEM;
	}
	mt_map_clear(&s->tmp);
	for (int k = 0; k < PQntuples(r); k++)
		if (mt_map_put(&s->tmp, PQgetvalue(r, k, 0), 0, NULL) == -ENOMEM)
			rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < b->n_alerts; i++)
		fresh[i] = mt_map_get(&s->tmp, b->alerts[i].a.alert_id, NULL);
	mt_map_clear(&s->tmp);
	if (rc == 0)
		rc = enqueue_alerts(s, b, fresh, source, topic, err, errlen);
	free(fresh);
	PQclear(r);
	return rc;
}

/* metering_blocked follows the accounts' status: inserted on entering BLOCKED, deleted on
 * leaving it. */
static int write_blocked(struct mt_store *s, const struct mt_batch *b, char *err, size_t errlen)
{
	const char *p[3];
	size_t n = 0;
	arrs_reset(s, 3);
	for (size_t i = 0; i < b->n_accts; i++) {
		const struct mt_acct *x = b->accts[i];
		bool now = x->status == METERING_STATUS_BLOCKED;
		if (!x->loaded || now == (x->status0 == METERING_STATUS_BLOCKED))
			continue;
		mt_arr_text(&s->a[0], x->tenant);
		mt_arr_int(&s->a[1], x->product);
		mt_arr_bool(&s->a[2], now);
		n++;
	}
	if (n == 0)
		return 0;
	if (arrs_end(s, 3, p, err, errlen) < 0)
		return -ENOMEM;
	int rc = pg_exec(s->c,
			 "DELETE FROM metering_blocked b USING unnest($1::uuid[], $2::int2[], "
			 "$3::bool[]) AS k(t, p, on_) WHERE b.tenant_id = k.t AND b.product = k.p "
			 "AND NOT k.on_",
			 3, p, NULL, err, errlen);
	if (rc == 0)
		rc = pg_exec(s->c,
			     "INSERT INTO metering_blocked (tenant_id, product) SELECT t, p FROM "
			     "unnest($1::uuid[], $2::int2[], $3::bool[]) AS k(t, p, on_) WHERE on_ "
			     "ON CONFLICT DO NOTHING",
			     3, p, NULL, err, errlen);
	return rc;
}

int mt_store_write(struct mt_store *s, struct mt_batch *b, const struct mt_dup *dups, size_t n_dups,
		   const char *source, const char *alerts_topic, char *err, size_t errlen)
{
	int rc;
	if ((rc = mt_store_write_ledger(s, b, dups, n_dups, err, errlen)) < 0 ||
	    (rc = write_accounts(s, b, err, errlen)) < 0 ||
	    (rc = insert_packages(s, b, err, errlen)) < 0 ||
	    (rc = update_packages(s, b, err, errlen)) < 0 ||
	    (rc = write_months(s, b, err, errlen)) < 0 ||
	    (rc = write_states(s, b, err, errlen)) < 0 ||
	    (rc = write_alerts(s, b, source, alerts_topic, err, errlen)) < 0 ||
	    (rc = write_blocked(s, b, err, errlen)) < 0)
		return rc;
	return 0;
}

int mt_store_offsets_save(struct mt_store *s, const char *topic, const struct mt_offset_delta *d,
			  size_t n, char *err, size_t errlen)
{
	const char *p[12];
	if (n == 0)
		return 0;
	arrs_reset(s, 11);
	for (size_t i = 0; i < n; i++) {
		mt_arr_int(&s->a[0], d[i].partition);
		mt_arr_int(&s->a[1], d[i].base);
		mt_arr_int(&s->a[2], d[i].next);
		mt_arr_int(&s->a[3], d[i].consumed);
		mt_arr_int(&s->a[4], d[i].applied);
		mt_arr_int(&s->a[5], d[i].duplicates);
		mt_arr_int(&s->a[6], d[i].non_billable);
		mt_arr_int(&s->a[7], d[i].rejected);
		mt_arr_int(&s->a[8], d[i].skipped);
		int_or_null(&s->a[9], d[i].last_event_ms <= 0, d[i].last_event_ms);
		int_or_null(&s->a[10], d[i].last_ingest_ms <= 0, d[i].last_ingest_ms);
	}
	if (arrs_end(s, 11, p + 1, err, errlen) < 0)
		return -ENOMEM;
	p[0] = topic;
	return pg_exec(
		s->c,
		"INSERT INTO metering_offsets AS o (topic, partition, base_offset, next_offset, "
		"consumed, applied, duplicates, non_billable, rejected, skipped, last_event_ms, "
		"last_ingest_ms, updated_at) SELECT $1, pa, ba, ne, co, ap, du, nb, rj, sk, le, "
		"li, "
		"clock_timestamp() FROM unnest($2::int4[], $3::int8[], $4::int8[], $5::int8[], "
		"$6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], "
		"$12::int8[]) AS u(pa, ba, ne, co, ap, du, nb, rj, sk, le, li) "
		"ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
		"consumed = o.consumed + EXCLUDED.consumed, applied = o.applied + "
		"EXCLUDED.applied, "
		"duplicates = o.duplicates + EXCLUDED.duplicates, "
		"non_billable = o.non_billable + EXCLUDED.non_billable, "
		"rejected = o.rejected + EXCLUDED.rejected, skipped = o.skipped + "
		"EXCLUDED.skipped, "
		"last_event_ms = greatest(o.last_event_ms, EXCLUDED.last_event_ms), "
		"last_ingest_ms = greatest(o.last_ingest_ms, EXCLUDED.last_ingest_ms), "
		"updated_at = EXCLUDED.updated_at",
		12, p, NULL, err, errlen);
}

static int enqueue_dead_letter(struct mt_store *s, const char *topic, const char *group,
			       const char *source, const char *dlq_topic, const struct mt_reject *r,
			       char *err, size_t errlen)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__DeadLetter dl = SHIREN__V1__DEAD_LETTER__INIT;
	char id[37], seed[512];
	(void)snprintf(seed, sizeof(seed), "shiren.metering.dlq|%s|%d|%lld", topic,
		       (int)r->partition, (long long)r->offset);
	if (mt_uuid_from(seed, id) < 0)
		return -EINVAL;
	env.message_id = id;
	env.tenant_id = (char *)r->tenant;
	env.trace_id = (char *)"";
	env.producer = (char *)source;
	env.produced_at_ms = envelope_now_ms();
	dl.envelope = &env;
	dl.original_topic = (char *)topic;
	dl.original_partition = r->partition;
	dl.original_offset = r->offset;
	dl.original_key.data = (uint8_t *)r->key;
	dl.original_key.len = r->keylen;
	dl.original_payload.data = (uint8_t *)r->payload;
	dl.original_payload.len = r->len;
	dl.consumer_group = (char *)group;
	dl.reason = (char *)r->reason;
	dl.error = (char *)r->detail;
	dl.attempts = 1;
	dl.failed_at_ms = env.produced_at_ms;
	size_t len = shiren__v1__dead_letter__get_packed_size(&dl);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	shiren__v1__dead_letter__pack(&dl, buf);
	int rc = outbox_enqueue(s->c, source, dlq_topic, r->key, r->keylen, buf, len, id, err,
				errlen);
	free(buf);
	return rc;
}

int mt_store_write_rejects(struct mt_store *s, const char *topic, const char *group,
			   const char *source, const char *dlq_topic, const struct mt_reject *r,
			   size_t n, char *err, size_t errlen)
{
	const char *p[7];
	if (n == 0)
		return 0;
	arrs_reset(s, 6);
	for (size_t i = 0; i < n; i++) {
		mt_arr_int(&s->a[0], r[i].partition);
		mt_arr_int(&s->a[1], r[i].offset);
		mt_arr_text(&s->a[2], r[i].reason);
		mt_arr_text(&s->a[3], r[i].detail);
		mt_arr_text(&s->a[4], r[i].event_id[0] ? r[i].event_id : NULL);
		mt_arr_text(&s->a[5], r[i].tenant[0] ? r[i].tenant : NULL);
	}
	if (arrs_end(s, 6, p + 1, err, errlen) < 0)
		return -ENOMEM;
	p[0] = topic;
	int rc = pg_exec(
		s->c,
		"INSERT INTO metering_rejects (topic, partition, \"offset\", reason, detail, "
		"event_id, tenant) SELECT $1, * FROM unnest($2::int4[], $3::int8[], "
		"$4::text[], $5::text[], $6::text[], $7::text[])",
		7, p, NULL, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = enqueue_dead_letter(s, topic, group, source, dlq_topic, &r[i], err, errlen);
	return rc;
}
