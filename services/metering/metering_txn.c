/* metering_txn — one batch, one transaction (metering_txn.h). */
#include "metering/metering_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/pg.h"

#define MT_PARTS_MAX	     1024 /* distinct partitions in one batch */
#define MT_KNOWN_TENANTS_MAX 200000

struct part_acc {
	struct mt_offset_delta d;
	int64_t next; /* next expected offset, -1 before the first */
};

struct mt_txn {
	const struct mt_txn_cfg *cfg;
	struct mt_ladders *ladders;
	struct mt_batch b;
	struct mt_store st;
	struct mt_map ids, seen, tenants;
	/* Action name -> metering_actions.code; names registered outside the batch transaction. */
	struct mt_map actions, new_actions;
	struct mt_arena actions_mem;
	bool actions_loaded;
	/* Tenants known to exist (they are never deleted): checked once, not per batch. */
	struct mt_map known_tenants;
	struct mt_arena known_mem;
	struct part_acc parts[MT_PARTS_MAX];
	size_t n_parts;
	/* Per-batch vectors (capacity grows to the largest batch). */
	size_t cap;
	const char **tv; /* distinct tenants */
	bool *known;
	const struct mt_event **evv; /* candidate events */
	const char **namev;	     /* action names to register */
	struct metering_placement *pl;
	struct mt_dup *dups;
	struct mt_reject *rej;
	size_t n_dups, n_rej;
};

struct mt_txn *mt_txn_new(const struct mt_txn_cfg *cfg)
{
	struct mt_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = cfg;
	t->ladders = calloc(1, sizeof(*t->ladders));
	if (!t->ladders) {
		free(t);
		return NULL;
	}
	mt_batch_init(&t->b, &cfg->set, t->ladders);
	mt_store_init(&t->st, NULL);
	mt_map_init(&t->ids);
	mt_map_init(&t->seen);
	mt_map_init(&t->tenants);
	mt_map_init(&t->actions);
	mt_map_init(&t->new_actions);
	mt_arena_init(&t->actions_mem);
	mt_map_init(&t->known_tenants);
	mt_arena_init(&t->known_mem);
	return t;
}

void mt_txn_free(struct mt_txn *t)
{
	if (!t)
		return;
	mt_batch_free(&t->b);
	mt_store_free(&t->st);
	mt_map_free(&t->ids);
	mt_map_free(&t->seen);
	mt_map_free(&t->tenants);
	mt_map_free(&t->actions);
	mt_map_free(&t->new_actions);
	mt_arena_free(&t->actions_mem);
	mt_map_free(&t->known_tenants);
	mt_arena_free(&t->known_mem);
	free(t->tv);
	free(t->known);
	free(t->evv);
	free(t->namev);
	free(t->pl);
	free(t->dups);
	free(t->rej);
	free(t->ladders);
	free(t);
}

void mt_txn_decode(const struct mt_txn_cfg *cfg, struct mt_msg *m)
{
	m->bad = mt_decode_usage(m->payload, m->len, m->partition, m->offset, m->ts_ms, &cfg->lim,
				 &m->ev, &m->reason, m->err, sizeof(m->err)) < 0;
}

int mt_txn_load_ladders(struct mt_txn *t, PGconn *c, char *err, size_t errlen)
{
	t->st.c = c;
	return mt_store_ladders(&t->st, t->ladders, err, errlen);
}

const struct mt_ladders *mt_txn_ladders(const struct mt_txn *t)
{
	return t->ladders;
}

static int reserve(struct mt_txn *t, size_t n)
{
	if (n <= t->cap)
		return 0;
	size_t c = n < 1024 ? 1024 : n;
	void *a = realloc(t->tv, c * sizeof(*t->tv)), *b2, *c2, *c3, *d, *e, *f;
	if (!a)
		return -ENOMEM;
	t->tv = a;
	if (!(b2 = realloc(t->known, c * sizeof(*t->known))))
		return -ENOMEM;
	t->known = b2;
	if (!(c2 = realloc(t->evv, c * sizeof(*t->evv))))
		return -ENOMEM;
	t->evv = c2;
	if (!(c3 = realloc(t->namev, c * sizeof(*t->namev))))
		return -ENOMEM;
	t->namev = c3;
	if (!(d = realloc(t->pl, c * sizeof(*t->pl))))
		return -ENOMEM;
	t->pl = d;
	if (!(e = realloc(t->dups, c * sizeof(*t->dups))))
		return -ENOMEM;
	t->dups = e;
	if (!(f = realloc(t->rej, c * sizeof(*t->rej))))
		return -ENOMEM;
	t->rej = f;
	t->cap = c;
	return 0;
}

static struct part_acc *part_of(struct mt_txn *t, int32_t partition)
{
	for (size_t i = 0; i < t->n_parts; i++)
		if (t->parts[i].d.partition == partition)
			return &t->parts[i];
	if (t->n_parts >= MT_PARTS_MAX)
		return NULL;
	struct part_acc *p = &t->parts[t->n_parts++];
	memset(p, 0, sizeof(*p));
	p->d.partition = partition;
	p->next = -1;
	return p;
}

static void reject(struct mt_txn *t, struct mt_msg *m, const char *reason, const char *detail)
{
	struct mt_reject *r = &t->rej[t->n_rej++];
	m->outcome = MT_OUT_REJECTED;
	m->reason = reason;
	if (detail != m->err)
		(void)snprintf(m->err, sizeof(m->err), "%s", detail);
	r->partition = m->partition;
	r->offset = m->offset;
	r->reason = reason;
	r->detail = m->err;
	r->event_id = m->ev.event_id;
	r->tenant = m->ev.tenant;
	r->key = m->key;
	r->keylen = m->keylen;
	r->payload = m->payload;
	r->len = m->len;
	part_of(t, m->partition)->d.rejected++;
}

/* Lock the offsets and sort every message into skipped, rejected or candidate. */
static int triage_offsets(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err, size_t errlen)
{
	int32_t pv[MT_PARTS_MAX];
	int64_t next[MT_PARTS_MAX];
	for (size_t i = 0; i < n; i++)
		if (!part_of(t, msgs[i].partition)) {
			(void)snprintf(err, errlen, "too many partitions in one batch");
			return -E2BIG;
		}
	for (size_t i = 0; i < t->n_parts; i++)
		pv[i] = t->parts[i].d.partition;
	int rc = mt_store_offsets_lock(&t->st, t->cfg->topic, pv, t->n_parts, next, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < t->n_parts; i++)
		t->parts[i].next = next[i];
	for (size_t i = 0; i < n; i++) {
		struct mt_msg *m = &msgs[i];
		struct part_acc *p = part_of(t, m->partition);
		m->outcome = MT_OUT_SKIPPED;
		if (p->next >= 0 && m->offset < p->next)
			continue;
		if (p->next < 0)
			p->d.base = m->offset;
		else
			p->d.skipped += m->offset - p->next;
		p->next = m->offset + 1;
		p->d.next = p->next;
		p->d.consumed++;
		m->outcome = MT_OUT_APPLIED; /* provisional: a candidate */
		if (m->bad)
			reject(t, m, m->reason, m->err);
	}
	return 0;
}

/* Reject candidates of tenants that do not exist. */
static int check_tenants(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err, size_t errlen)
{
	size_t nt = 0;
	uint32_t idx;
	mt_map_clear(&t->tenants);
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].outcome != MT_OUT_APPLIED ||
		    mt_map_get(&t->known_tenants, msgs[i].ev.tenant, NULL))
			continue;
		if (mt_map_put(&t->tenants, msgs[i].ev.tenant, (uint32_t)nt, NULL) == 0)
			t->tv[nt++] = msgs[i].ev.tenant;
	}
	if (nt == 0)
		return 0;
	int rc = mt_store_tenants_known(&t->st, t->tv, nt, t->known, err, errlen);
	if (rc < 0)
		return rc;
	if (t->known_tenants.n > MT_KNOWN_TENANTS_MAX) {
		mt_map_clear(&t->known_tenants);
		mt_arena_reset(&t->known_mem);
	}
	for (size_t k = 0; k < nt; k++) {
		char *copy = t->known[k] ? mt_arena_alloc(&t->known_mem, MT_TENANT_LEN + 1) : NULL;
		/* A cache miss later only costs a query: failures here are ignored. */
		if (copy) {
			memcpy(copy, t->tv[k], MT_TENANT_LEN + 1);
			if (mt_map_put(&t->known_tenants, copy, 0, NULL) == -ENOMEM)
				break;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (msgs[i].outcome == MT_OUT_APPLIED &&
		    mt_map_get(&t->tenants, msgs[i].ev.tenant, &idx) && !t->known[idx])
			reject(t, &msgs[i], MT_REJECT_UNKNOWN, "tenant does not exist");
	return 0;
}

static void count_dup(struct mt_txn *t, struct mt_msg *m)
{
	struct mt_dup *d = &t->dups[t->n_dups++];
	int64_t start;
	m->outcome = MT_OUT_DUPLICATE;
	d->tenant = m->ev.tenant;
	d->product = m->ev.product;
	d->scene_id = m->ev.scene_id;
	d->calls = m->ev.quantity;
	if (metering_day_of(m->ev.occurred_ms, &d->day, &start) < 0)
		d->day = 0;
	part_of(t, m->partition)->d.duplicates++;
}

/* Duplicates: event ids already in the ledger, or seen earlier in this batch. */
static int dedup(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err, size_t errlen)
{
	size_t k = 0;
	mt_map_clear(&t->seen);
	mt_map_clear(&t->ids);
	for (size_t i = 0; i < n; i++)
		if (msgs[i].outcome == MT_OUT_APPLIED)
			t->evv[k++] = &msgs[i].ev;
	int rc = mt_store_seen(&t->st, t->evv, k, &t->seen, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct mt_msg *m = &msgs[i];
		if (m->outcome != MT_OUT_APPLIED)
			continue;
		if (mt_map_get(&t->seen, m->ev.event_id, NULL)) {
			count_dup(t, m);
			continue;
		}
		rc = mt_map_put(&t->ids, m->ev.event_id, (uint32_t)i, NULL);
		if (rc == -ENOMEM)
			return rc;
		if (rc == -EEXIST)
			count_dup(t, m);
	}
	return 0;
}

/* Place the new events and load the accounts and months the billable ones need. */
static int prepare(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct mt_msg *m = &msgs[i];
		uint32_t ai, mi;
		if (m->outcome != MT_OUT_APPLIED)
			continue;
		if (mt_batch_place(&t->b, &m->ev, &t->pl[i]) < 0) {
			reject(t, m, MT_REJECT_TIME, "event time cannot be placed in a period");
			continue;
		}
		if (!m->ev.billable)
			continue;
		if (mt_batch_want_account(&t->b, m->ev.tenant, m->ev.product, &ai) < 0 ||
		    mt_batch_want_month(&t->b, ai, t->pl[i].period.id, &mi) < 0) {
			(void)snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	int64_t now = envelope_now_ms();
	int rc = mt_store_load_accounts(&t->st, &t->b, false, now, err, errlen);
	if (rc == 0)
		rc = mt_store_load_months(&t->st, &t->b, err, errlen);
	return rc;
}

/* Apply the candidates in order. An event the charging refuses (no ladder, overflow) is
 * rejected; running out of memory aborts the transaction. */
static int apply_all(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct mt_msg *m = &msgs[i];
		if (m->outcome != MT_OUT_APPLIED)
			continue;
		int rc = mt_batch_apply(&t->b, &m->ev, &t->pl[i]);
		if (rc == -ENOMEM) {
			(void)snprintf(err, errlen, "out of memory");
			return rc;
		}
		if (rc < 0) {
			char why[96];
			(void)snprintf(why, sizeof(why), "charging failed: %s", strerror(-rc));
			reject(t, m, "apply", why);
			continue;
		}
		struct part_acc *p = part_of(t, m->partition);
		if (m->ev.billable) {
			p->d.applied++;
		} else {
			m->outcome = MT_OUT_NON_BILLABLE;
			p->d.non_billable++;
		}
		if (m->ev.occurred_ms > p->d.last_event_ms)
			p->d.last_event_ms = m->ev.occurred_ms;
		if (m->ev.ingest_ms > p->d.last_ingest_ms)
			p->d.last_ingest_ms = m->ev.ingest_ms;
	}
	return 0;
}

static int write_all(struct mt_txn *t, char *err, size_t errlen)
{
	struct mt_offset_delta d[MT_PARTS_MAX];
	size_t nd = 0;
	const struct mt_txn_cfg *c = t->cfg;
	int rc = mt_store_write(&t->st, &t->b, t->dups, t->n_dups, c->source, c->alerts_topic, err,
				errlen);
	if (rc == 0)
		rc = mt_store_write_rejects(&t->st, c->topic, c->group, c->source, c->dlq_topic,
					    t->rej, t->n_rej, err, errlen);
	for (size_t i = 0; i < t->n_parts; i++)
		if (t->parts[i].d.consumed)
			d[nd++] = t->parts[i].d;
	if (rc == 0)
		rc = mt_store_offsets_save(&t->st, c->topic, d, nd, err, errlen);
	return rc;
}

static void stats(const struct mt_txn *t, const struct mt_msg *msgs, size_t n,
		  struct mt_txn_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < n; i++) {
		switch (msgs[i].outcome) {
		case MT_OUT_SKIPPED:
			ret->skipped_msgs++;
			break;
		case MT_OUT_APPLIED:
			ret->applied++;
			break;
		case MT_OUT_DUPLICATE:
			ret->duplicates++;
			break;
		case MT_OUT_NON_BILLABLE:
			ret->non_billable++;
			break;
		case MT_OUT_REJECTED:
			ret->rejected++;
			break;
		}
	}
	ret->consumed = n - ret->skipped_msgs;
	ret->alerts = t->b.n_alerts;
	for (size_t i = 0; i < t->n_parts; i++)
		ret->skipped_offsets += t->parts[i].d.skipped;
}

/* Give every decoded event its action code, registering names seen for the first time (in
 * their own statement, before the batch transaction: a code must not vanish with a rollback
 * while this cache keeps it). An action that cannot be numbered makes its event bad. */
static int resolve_actions(struct mt_txn *t, struct mt_msg *msgs, size_t n, char *err,
			   size_t errlen)
{
	size_t k = 0;
	uint32_t code;
	mt_map_clear(&t->new_actions);
	for (size_t i = 0; i < n; i++) {
		const char *a = msgs[i].ev.action;
		if (msgs[i].bad || mt_map_get(&t->actions, a, NULL))
			continue;
		int rc = mt_map_put(&t->new_actions, a, 0, NULL);
		if (rc == -ENOMEM) {
			(void)snprintf(err, errlen, "out of memory");
			return rc;
		}
		if (rc == 0)
			t->namev[k++] = a;
	}
	if (k || !t->actions_loaded) {
		int rc = mt_store_actions(&t->st, t->namev, k, &t->actions, &t->actions_mem, err,
					  errlen);
		t->actions_loaded = rc == 0;
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct mt_msg *m = &msgs[i];
		if (m->bad)
			continue;
		if (mt_map_get(&t->actions, m->ev.action, &code)) {
			m->ev.action_code = (int16_t)code;
			continue;
		}
		m->bad = true;
		m->reason = MT_REJECT_ACTION;
		(void)snprintf(m->err, sizeof(m->err),
			       "action %s cannot be numbered: metering_actions holds at most %d",
			       m->ev.action, MT_ACTIONS_MAX);
	}
	return 0;
}

int mt_txn_run(struct mt_txn *t, PGconn *c, struct mt_msg *msgs, size_t n, struct mt_txn_stats *ret,
	       char *err, size_t errlen)
{
	int rc;
	t->st.c = c;
	mt_batch_reset(&t->b);
	t->n_parts = t->n_dups = t->n_rej = 0;
	if ((rc = reserve(t, n)) < 0) {
		(void)snprintf(err, errlen, "out of memory");
		return rc;
	}
	if ((rc = resolve_actions(t, msgs, n, err, errlen)) < 0)
		return rc;
	if ((rc = pg_begin(c, err, errlen)) < 0)
		return rc;
	if ((rc = mt_store_closed_through(&t->st, false, &t->b.closed_through, err, errlen)) < 0 ||
	    (rc = triage_offsets(t, msgs, n, err, errlen)) < 0 ||
	    (rc = check_tenants(t, msgs, n, err, errlen)) < 0 ||
	    (rc = dedup(t, msgs, n, err, errlen)) < 0 ||
	    (rc = prepare(t, msgs, n, err, errlen)) < 0 ||
	    (rc = apply_all(t, msgs, n, err, errlen)) < 0 || (rc = write_all(t, err, errlen)) < 0)
		goto fail;
	if ((rc = pg_commit(c, err, errlen)) < 0)
		return rc;
	stats(t, msgs, n, ret);
	return 0;
fail:
	pg_rollback(c);
	return rc;
}

bool mt_failure_is_message(int rc, const char *err)
{
	if (!err)
		return false;
	if (err[0] == '[') /* "[SQLSTATE] ..." (pg_exec): five characters, class first */
		return strnlen(err, 7) == 7 && err[6] == ']' && strncmp(err, "[22", 3) == 0;
	return rc == -EINVAL || rc == -E2BIG || rc == -ERANGE;
}
