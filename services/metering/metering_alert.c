/* metering_alert — quota alert rule evaluation: fire once per crossing, re-arm after a top-up
 * past the hysteresis, deterministic ids. Evaluation runs twice over the same rules: a dry
 * pass that sizes the output and state, then the pass that writes, so -ENOSPC changes
 * nothing. */
#include "metering/metering_alert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"

void metering_alert_config_default(struct metering_alert_config *c)
{
	memset(c, 0, sizeof(*c));
	c->percent[0] = 20;
	c->percent[1] = 10;
	c->percent[2] = 0;
	c->n_percent = 3;
	c->expiry_days[0] = 7;
	c->expiry_days[1] = 3;
	c->expiry_days[2] = 1;
	c->n_expiry_days = 3;
	c->exhausted = true;
	c->postpaid = true;
	c->blocked = true;
	c->hysteresis_pct = METERING_ALERT_HYSTERESIS_DEFAULT_PCT;
}

/* Sort descending, drop duplicates, check [lo, hi]. */
static int list_normalize(int64_t *v, size_t *n, int64_t lo, int64_t hi)
{
	size_t out = 0;

	if (*n > METERING_ALERT_MAX_THRESHOLDS)
		return -EINVAL;
	for (size_t i = 0; i < *n; i++)
		if (v[i] < lo || v[i] > hi)
			return -EINVAL;
	for (size_t i = 1; i < *n; i++) {
		int64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] < x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	for (size_t i = 0; i < *n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	*n = out;
	return 0;
}

int metering_alert_config_normalize(struct metering_alert_config *c)
{
	if (!c || c->hysteresis_pct < 0 || c->hysteresis_pct > 100)
		return -EINVAL;
	if (list_normalize(c->percent, &c->n_percent, 0, 99) < 0 ||
	    list_normalize(c->calls, &c->n_calls, 0, INT64_MAX / 200) < 0 ||
	    list_normalize(c->expiry_days, &c->n_expiry_days, 1, 366) < 0)
		return -EINVAL;
	return 0;
}

const char *metering_alert_kind_name(enum metering_alert_kind k)
{
	switch (k) {
	case METERING_ALERT_PERCENT:
		return "percent_remaining";
	case METERING_ALERT_CALLS:
		return "calls_remaining";
	case METERING_ALERT_EXPIRING:
		return "expiring";
	case METERING_ALERT_EXHAUSTED:
		return "exhausted";
	case METERING_ALERT_POSTPAID:
		return "postpaid";
	case METERING_ALERT_BLOCKED:
		return "blocked";
	}
	return NULL;
}

static bool text_ok(const char *s, bool may_be_empty)
{
	if (!s)
		return false;
	size_t n = strnlen(s, METERING_ID_MAX);
	return n < METERING_ID_MAX && (may_be_empty || n > 0);
}

int metering_alert_id(const struct metering_alert_key *key, enum metering_alert_kind kind,
		      int64_t threshold, const char *package_id, int64_t generation,
		      char out[METERING_ALERT_ID_LEN + 1])
{
	const char *kn = metering_alert_kind_name(kind);
	char canon[320], num[3][24];
	uint8_t h[CRYPTO_SHA256_LEN];
	char hex[2 * 16 + 1];

	if (!key || !text_ok(key->tenant_id, false) || !text_ok(package_id, true) || !kn)
		return -EINVAL;
	(void)snprintf(num[0], sizeof(num[0]), "%" PRId32, key->product);
	(void)snprintf(num[1], sizeof(num[1]), "%" PRId64, threshold);
	(void)snprintf(num[2], sizeof(num[2]), "%" PRId64, generation);
	/* Length-prefixed fields: no separator inside a value can make two keys collide. */
	int len = snprintf(canon, sizeof(canon),
			   "shiren.quota-alert.v1|%zu:%s|%zu:%s|%zu:%s|%zu:%s|%zu:%s|%zu:%s",
			   strlen(key->tenant_id), key->tenant_id, strlen(num[0]), num[0],
			   strlen(kn), kn, strlen(num[1]), num[1], strlen(package_id), package_id,
			   strlen(num[2]), num[2]);
	if (len < 0 || (size_t)len >= sizeof(canon))
		return -EINVAL;
	if (crypto_hash(CRYPTO_HASH_SHA256, canon, (size_t)len, h) < 0)
		return -EINVAL;
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80); /* version 8 */
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	crypto_hex(h, 16, hex);
	/* 8-4-4-4-12 */
	(void)snprintf(out, METERING_ALERT_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
		       hex + 12, hex + 16, hex + 20);
	return 0;
}

/* One evaluation pass. */
struct eval {
	const struct metering_alert_key *key;
	struct metering_alert_states *st;
	struct metering_alert *out;
	size_t n_out;	    /* alerts produced */
	size_t n_new_state; /* state rows that would be appended */
	bool commit;	    /* false: only count */
	int64_t at_ms;
};

struct rule {
	enum metering_alert_kind kind;
	int64_t threshold;
	const char *package_id; /* "" unless EXPIRING */
	int64_t remaining;
	bool holds; /* the alert condition */
	bool rearm; /* balance rose and is clear of threshold + hysteresis */
};

static struct metering_alert_rule_state *state_find(const struct metering_alert_states *st,
						    const struct rule *r)
{
	for (size_t i = 0; i < st->n; i++) {
		struct metering_alert_rule_state *s = &st->v[i];
		if (s->kind == r->kind && s->threshold == r->threshold &&
		    strncmp(s->package_id, r->package_id, METERING_ID_MAX) == 0)
			return s;
	}
	return NULL;
}

static int emit(struct eval *ev, const struct rule *r, int64_t generation)
{
	struct metering_alert *a = &ev->out[ev->n_out];
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = metering_alert_id(ev->key, r->kind, r->threshold, r->package_id, generation,
				    a->alert_id)) < 0)
		return rc;
	a->kind = r->kind;
	a->threshold = r->threshold;
	a->remaining = r->remaining;
	memcpy(a->package_id, r->package_id, strnlen(r->package_id, METERING_ID_MAX - 1));
	a->generation = generation;
	a->occurred_at_ms = ev->at_ms;
	return 0;
}

static int rule_step(struct eval *ev, const struct rule *r)
{
	struct metering_alert_rule_state *s = state_find(ev->st, r);
	int rc;

	if (s && s->fired) {
		if (r->rearm && ev->commit) {
			s->fired = false;
			s->generation++;
		}
		return 0;
	}
	if (!r->holds)
		return 0;
	if (ev->commit) {
		if ((rc = emit(ev, r, s ? s->generation : 0)) < 0)
			return rc;
		if (!s) {
			s = &ev->st->v[ev->st->n++];
			memset(s, 0, sizeof(*s));
			s->kind = r->kind;
			s->threshold = r->threshold;
			memcpy(s->package_id, r->package_id,
			       strnlen(r->package_id, METERING_ID_MAX - 1));
		}
		s->fired = true;
	} else if (!s) {
		ev->n_new_state++;
	}
	ev->n_out++;
	return 0;
}

/* remaining * 100 <= pct * total, without overflow. */
static bool pct_at_or_below(int64_t remaining, int64_t total, int64_t pct)
{
	return (__int128)remaining * 100 <= (__int128)pct * total;
}

static int balance_rules(struct eval *ev, const struct metering_alert_config *cfg,
			 const struct metering_balance *prev, const struct metering_balance *cur)
{
	bool rose = cur->remaining > prev->remaining;
	int64_t rem = cur->remaining, h = cfg->hysteresis_pct;
	struct rule r = {.package_id = "", .remaining = rem};
	int rc;

	for (size_t i = 0; i < cfg->n_percent; i++) {
		int64_t p = cfg->percent[i];
		r.kind = METERING_ALERT_PERCENT;
		r.threshold = p;
		r.holds = pct_at_or_below(rem, cur->total, p);
		r.rearm = rose && cur->total > 0 && !pct_at_or_below(rem, cur->total, p + h);
		if ((rc = rule_step(ev, &r)) < 0)
			return rc;
	}
	for (size_t i = 0; i < cfg->n_calls; i++) {
		int64_t n = cfg->calls[i];
		r.kind = METERING_ALERT_CALLS;
		r.threshold = n;
		r.holds = rem <= n;
		r.rearm = rose && rem > n + (n * h + 99) / 100;
		if ((rc = rule_step(ev, &r)) < 0)
			return rc;
	}
	const struct {
		bool on;
		enum metering_alert_kind kind;
		bool holds;
	} flags[] = {
		{cfg->exhausted, METERING_ALERT_EXHAUSTED, rem == 0},
		{cfg->postpaid, METERING_ALERT_POSTPAID, cur->status == METERING_STATUS_POSTPAID},
		{cfg->blocked, METERING_ALERT_BLOCKED, cur->status == METERING_STATUS_BLOCKED},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!flags[i].on)
			continue;
		r.kind = flags[i].kind;
		r.threshold = 0;
		r.holds = flags[i].holds;
		r.rearm = rose && rem > 0;
		if ((rc = rule_step(ev, &r)) < 0)
			return rc;
	}
	return 0;
}

static int expiry_rules(struct eval *ev, const struct metering_alert_config *cfg,
			const struct metering_package *pkgs, size_t n_pkgs)
{
	int rc;

	for (size_t i = 0; i < n_pkgs; i++) {
		const struct metering_package *p = &pkgs[i];
		if (p->status != METERING_PKG_ACTIVE || p->remaining <= 0 ||
		    p->purchased_at_ms > ev->at_ms || p->expires_at_ms <= ev->at_ms)
			continue;
		for (size_t j = 0; j < cfg->n_expiry_days; j++) {
			struct rule r = {
				.kind = METERING_ALERT_EXPIRING,
				.threshold = cfg->expiry_days[j],
				.package_id = p->id,
				.remaining = p->remaining,
				.holds = p->expires_at_ms - ev->at_ms <=
					 cfg->expiry_days[j] * 86400LL * 1000,
				.rearm = false, /* an expiry date never moves */
			};
			if ((rc = rule_step(ev, &r)) < 0)
				return rc;
		}
	}
	return 0;
}

static int eval_pass(struct eval *ev, const struct metering_alert_config *cfg,
		     const struct metering_balance *prev, const struct metering_balance *cur,
		     const struct metering_package *pkgs, size_t n_pkgs)
{
	int rc;

	if ((prev->total > 0 || cur->total > 0) && (rc = balance_rules(ev, cfg, prev, cur)) < 0)
		return rc;
	return expiry_rules(ev, cfg, pkgs, n_pkgs);
}

static bool pkgs_ok(const struct metering_package *pkgs, size_t n_pkgs)
{
	if (n_pkgs && !pkgs)
		return false;
	for (size_t i = 0; i < n_pkgs; i++)
		if (!text_ok(pkgs[i].id, false))
			return false;
	return true;
}

int metering_alert_evaluate(const struct metering_alert_config *cfg,
			    const struct metering_alert_key *key,
			    const struct metering_balance *prev, const struct metering_balance *cur,
			    const struct metering_package *pkgs, size_t n_pkgs,
			    struct metering_alert_states *st, struct metering_alert *out,
			    size_t cap, size_t *ret_n)
{
	struct eval ev = {.key = key, .st = st, .out = out, .at_ms = cur ? cur->at_ms : 0};
	int rc;

	if (!cfg || !key || !text_ok(key->tenant_id, false) || !prev || !cur || !st || !ret_n ||
	    (cap && !out) || st->n > st->cap || (st->cap && !st->v) || !pkgs_ok(pkgs, n_pkgs) ||
	    cfg->n_percent > METERING_ALERT_MAX_THRESHOLDS ||
	    cfg->n_calls > METERING_ALERT_MAX_THRESHOLDS ||
	    cfg->n_expiry_days > METERING_ALERT_MAX_THRESHOLDS)
		return -EINVAL;
	if ((rc = eval_pass(&ev, cfg, prev, cur, pkgs, n_pkgs)) < 0)
		return rc;
	if (ev.n_out > cap || st->n + ev.n_new_state > st->cap)
		return -ENOSPC;
	ev.n_out = 0;
	ev.commit = true;
	if ((rc = eval_pass(&ev, cfg, prev, cur, pkgs, n_pkgs)) < 0)
		return rc;
	*ret_n = ev.n_out;
	return 0;
}

void metering_alert_states_prune(struct metering_alert_states *st,
				 const struct metering_package *pkgs, size_t n_pkgs)
{
	size_t out = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct metering_alert_rule_state *s = &st->v[i];
		bool keep = s->kind != METERING_ALERT_EXPIRING;
		for (size_t j = 0; !keep && j < n_pkgs; j++)
			keep = pkgs[j].status == METERING_PKG_ACTIVE &&
			       strncmp(pkgs[j].id, s->package_id, METERING_ID_MAX) == 0;
		if (keep)
			st->v[out++] = *s;
	}
	st->n = out;
}
