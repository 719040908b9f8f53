/* metering_charge — the charging order (trial, packages by earliest expiry, postpaid or block)
 * and the package lifecycle entries (top-up, expiry, refund-if-unused, month settlement).
 * Each mutating function plans first and only then writes, so a failure changes nothing. */
#include "metering/metering_charge.h"

#include <errno.h>
#include <string.h>

#include "metering/metering_period.h"

static bool id_ok(const char *id)
{
	if (!id)
		return false;
	size_t n = strnlen(id, METERING_ID_MAX);
	return n > 0 && n < METERING_ID_MAX;
}

static bool pkg_ok(const struct metering_package *p)
{
	return id_ok(p->id) && p->size >= 0 && p->remaining >= 0 && p->remaining <= p->size &&
	       p->price_total >= 0 && p->unit_price >= 0 && p->expires_at_ms > p->purchased_at_ms &&
	       (p->status == METERING_PKG_ACTIVE || p->status == METERING_PKG_EXPIRED ||
		p->status == METERING_PKG_REFUNDED);
}

/* Everything but id uniqueness, which costs n^2 and is checked where a package is chosen. */
static int account_check(const struct metering_account *a)
{
	if (!a || a->n_pkgs > a->cap_pkgs || (a->cap_pkgs && !a->pkgs))
		return -EINVAL;
	if (a->on_exhaust != METERING_ON_EXHAUST_POSTPAID &&
	    a->on_exhaust != METERING_ON_EXHAUST_BLOCK)
		return -EINVAL;
	if (a->trial_limit < 0 || a->trial_used < 0 || a->trial_used > a->trial_limit)
		return -EINVAL;
	for (size_t i = 0; i < a->n_pkgs; i++)
		if (!pkg_ok(&a->pkgs[i]))
			return -EINVAL;
	return 0;
}

static struct metering_package *find_pkg(const struct metering_account *a, const char *id)
{
	for (size_t i = 0; i < a->n_pkgs; i++)
		if (strncmp(a->pkgs[i].id, id, METERING_ID_MAX) == 0)
			return &a->pkgs[i];
	return NULL;
}

int metering_account_validate(const struct metering_account *a)
{
	int r = account_check(a);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a->n_pkgs; i++)
		if (find_pkg(a, a->pkgs[i].id) != &a->pkgs[i])
			return -EINVAL;
	return 0;
}

static bool pkg_live(const struct metering_package *p, int64_t t)
{
	return p->status == METERING_PKG_ACTIVE && p->purchased_at_ms <= t && t < p->expires_at_ms;
}

/* The consumption order: (expires_at, purchased_at, id) ascending. */
static bool pkg_before(const struct metering_package *x, const struct metering_package *y)
{
	if (x->expires_at_ms != y->expires_at_ms)
		return x->expires_at_ms < y->expires_at_ms;
	if (x->purchased_at_ms != y->purchased_at_ms)
		return x->purchased_at_ms < y->purchased_at_ms;
	return strncmp(x->id, y->id, METERING_ID_MAX) < 0;
}

/* The first drawable package at `t` that comes after `after` in consumption order. */
static struct metering_package *next_pkg(const struct metering_account *a, int64_t t,
					 const struct metering_package *after)
{
	struct metering_package *best = NULL;

	for (size_t i = 0; i < a->n_pkgs; i++) {
		struct metering_package *p = &a->pkgs[i];
		if (!pkg_live(p, t) || p->remaining <= 0 || (after && !pkg_before(after, p)))
			continue;
		if (!best || pkg_before(p, best))
			best = p;
	}
	return best;
}

/* Value of the first `used` calls of a package: floor(price_total * used / size). Drawing calls
 * (u0, u1] recognises value(u1) - value(u0), so a fully used package recognises exactly its
 * price with no rounding residue. */
static int64_t pkg_value(const struct metering_package *p, int64_t used)
{
	if (p->size <= 0)
		return 0;
	return (int64_t)((__int128)p->price_total * used / p->size);
}

static void entry_init(struct metering_entry *e, enum metering_entry_kind kind, const char *pkg)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->tier_first = -1;
	e->tier_last = -1;
	if (pkg)
		memcpy(e->package_id, pkg, strnlen(pkg, METERING_ID_MAX - 1));
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Plan the trial and package draws into entries[*n..]; *left is what remains to charge. */
static int plan_prepaid(const struct metering_account *a, int64_t t, int64_t *left,
			struct metering_entry *entries, size_t cap, size_t *n,
			struct metering_charge_result *ret)
{
	int64_t trial_left = a->trial_limit - a->trial_used;
	const struct metering_package *p = NULL;

	if (trial_left > 0) {
		if (*n >= cap)
			return -ENOSPC;
		struct metering_entry *e = &entries[(*n)++];
		entry_init(e, METERING_ENTRY_TRIAL, NULL);
		e->calls = min64(*left, trial_left);
		e->balance_delta = -e->calls;
		e->balance_after = trial_left - e->calls;
		ret->trial_calls = e->calls;
		*left -= e->calls;
	}
	while (*left > 0 && (p = next_pkg(a, t, p)) != NULL) {
		if (find_pkg(a, p->id) != p)
			return -EINVAL; /* duplicate id: the commit could not find it again */
		if (*n >= cap)
			return -ENOSPC;
		struct metering_entry *e = &entries[(*n)++];
		int64_t used = p->size - p->remaining;
		entry_init(e, METERING_ENTRY_PACKAGE, p->id);
		e->calls = min64(*left, p->remaining);
		e->balance_delta = -e->calls;
		e->balance_after = p->remaining - e->calls;
		e->amount = pkg_value(p, used + e->calls) - pkg_value(p, used);
		ret->package_calls += e->calls;
		*left -= e->calls;
	}
	return 0;
}

/* Plan the POSTPAID or BLOCKED entry for the calls no prepaid source covered. */
static int plan_rest(const struct metering_account *a, const struct metering_month *m,
		     const struct metering_ladder *ladder, int64_t left,
		     struct metering_entry *entries, size_t cap, size_t *n,
		     struct metering_charge_result *ret)
{
	struct metering_ladder_charge lc;
	int64_t sum;
	int r;

	if (*n >= cap)
		return -ENOSPC;
	if (m->postpaid_calls < 0 || m->blocked_calls < 0)
		return -EINVAL;
	struct metering_entry *e = &entries[*n];
	if (a->on_exhaust == METERING_ON_EXHAUST_BLOCK) {
		if (__builtin_add_overflow(m->blocked_calls, left, &sum))
			return -EOVERFLOW;
		entry_init(e, METERING_ENTRY_BLOCKED, NULL);
		e->calls = left;
		ret->blocked_calls = left;
		(*n)++;
		return 0;
	}
	if (!ladder || metering_ladder_validate(ladder) < 0)
		return -EINVAL;
	if ((r = metering_ladder_charge(ladder, m->postpaid_calls, left, &lc)) < 0)
		return r;
	if (__builtin_add_overflow(m->postpaid_charged, lc.amount, &sum))
		return -EOVERFLOW;
	entry_init(e, METERING_ENTRY_POSTPAID, NULL);
	e->calls = left;
	e->amount = lc.amount;
	e->price_version = ladder->version;
	e->tier_first = lc.tier_first;
	e->tier_last = lc.tier_last;
	ret->postpaid_calls = left;
	ret->postpaid_amount = lc.amount;
	(*n)++;
	return 0;
}

static void commit_entries(struct metering_account *a, struct metering_month *m,
			   const struct metering_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct metering_entry *e = &entries[i];
		switch (e->kind) {
		case METERING_ENTRY_TRIAL:
			a->trial_used += e->calls;
			break;
		case METERING_ENTRY_PACKAGE:
			find_pkg(a, e->package_id)->remaining = e->balance_after;
			break;
		case METERING_ENTRY_POSTPAID:
			m->postpaid_calls += e->calls;
			m->postpaid_charged += e->amount;
			break;
		case METERING_ENTRY_BLOCKED:
			m->blocked_calls += e->calls;
			break;
		default:
			break;
		}
	}
}

int metering_charge_apply(struct metering_account *a, struct metering_month *month,
			  const struct metering_ladder *ladder, const struct metering_event *ev,
			  struct metering_entry *entries, size_t cap,
			  struct metering_charge_result *ret)
{
	size_t n = 0;
	int64_t left;
	int r;

	if (!ev || !month || !ret || (cap && !entries) || ev->quantity < 1)
		return -EINVAL;
	if ((r = account_check(a)) < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	left = ev->quantity;
	if ((r = plan_prepaid(a, ev->occurred_at_ms, &left, entries, cap, &n, ret)) < 0)
		return r;
	if (left > 0 && (r = plan_rest(a, month, ladder, left, entries, cap, &n, ret)) < 0)
		return r;
	commit_entries(a, month, entries, n);
	ret->n_entries = n;
	return 0;
}

int metering_account_topup(struct metering_account *a, const struct metering_topup *t,
			   struct metering_entry *ret_entry)
{
	int64_t price, expires;
	int r;

	if (!t || !ret_entry || !id_ok(t->package_id) || t->size < 0 || t->unit_price < 0 ||
	    t->price_total < 0 || t->purchased_at_ms < 0)
		return -EINVAL;
	if ((r = account_check(a)) < 0)
		return r;
	if (find_pkg(a, t->package_id))
		return -EEXIST;
	if (a->n_pkgs >= a->cap_pkgs)
		return -ENOSPC;
	price = t->price_total;
	if (!price && __builtin_mul_overflow(t->unit_price, t->size, &price))
		return -EOVERFLOW;
	expires = t->expires_at_ms;
	if (!expires &&
	    (r = metering_time_add_months(t->purchased_at_ms, METERING_PACKAGE_VALIDITY_MONTHS,
					  &expires)) < 0)
		return -EINVAL;
	if (expires <= t->purchased_at_ms)
		return -EINVAL;

	struct metering_package *p = &a->pkgs[a->n_pkgs++];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, t->package_id, strnlen(t->package_id, METERING_ID_MAX - 1));
	p->status = METERING_PKG_ACTIVE;
	p->size = t->size;
	p->remaining = t->size;
	p->price_total = price;
	p->unit_price = t->unit_price ? t->unit_price : (t->size ? price / t->size : 0);
	p->purchased_at_ms = t->purchased_at_ms;
	p->expires_at_ms = expires;

	entry_init(ret_entry, METERING_ENTRY_TOPUP, p->id);
	ret_entry->calls = p->size;
	ret_entry->balance_delta = p->size;
	ret_entry->balance_after = p->size;
	ret_entry->amount = price;
	return 0;
}

int metering_account_expire(struct metering_account *a, int64_t now_ms,
			    struct metering_entry *entries, size_t cap, size_t *ret_n)
{
	size_t need = 0, n = 0;
	int r;

	if (!ret_n || (cap && !entries))
		return -EINVAL;
	if ((r = account_check(a)) < 0)
		return r;
	for (size_t i = 0; i < a->n_pkgs; i++)
		if (a->pkgs[i].status == METERING_PKG_ACTIVE && a->pkgs[i].expires_at_ms <= now_ms)
			need++;
	if (need > cap)
		return -ENOSPC;
	for (size_t i = 0; i < a->n_pkgs; i++) {
		struct metering_package *p = &a->pkgs[i];
		if (p->status != METERING_PKG_ACTIVE || p->expires_at_ms > now_ms)
			continue;
		struct metering_entry *e = &entries[n++];
		entry_init(e, METERING_ENTRY_EXPIRE, p->id);
		e->calls = p->remaining;
		e->balance_delta = -p->remaining;
		e->amount = p->price_total - pkg_value(p, p->size - p->remaining);
		p->remaining = 0;
		p->status = METERING_PKG_EXPIRED;
	}
	*ret_n = n;
	return 0;
}

int metering_account_refund(struct metering_account *a, const char *package_id, int64_t now_ms,
			    int64_t window_ms, struct metering_entry *ret_entry)
{
	struct metering_package *p;
	int r;

	if (!id_ok(package_id) || !ret_entry || window_ms < 0)
		return -EINVAL;
	if ((r = account_check(a)) < 0)
		return r;
	if (!(p = find_pkg(a, package_id)))
		return -ENOENT;
	if (p->status != METERING_PKG_ACTIVE || now_ms >= p->expires_at_ms)
		return -EINVAL;
	if (p->remaining != p->size)
		return -EBUSY;
	if (window_ms && now_ms - p->purchased_at_ms > window_ms)
		return -ETIMEDOUT;
	entry_init(ret_entry, METERING_ENTRY_REFUND, p->id);
	ret_entry->calls = p->size;
	ret_entry->balance_delta = -p->size;
	ret_entry->amount = -p->price_total;
	p->remaining = 0;
	p->status = METERING_PKG_REFUNDED;
	return 0;
}

int metering_month_settle(const struct metering_month *m, const struct metering_ladder *ladder,
			  struct metering_entry *ret_entry, struct metering_bill_line *ret_line)
{
	int r;

	if (!m || !ret_entry || !ret_line || metering_ladder_validate(ladder) < 0)
		return -EINVAL;
	if ((r = metering_ladder_settle(ladder, m->postpaid_calls, m->postpaid_charged, ret_line)) <
	    0)
		return r;
	entry_init(ret_entry, METERING_ENTRY_SETTLEMENT, NULL);
	ret_entry->calls = m->postpaid_calls;
	ret_entry->amount = ret_line->settlement;
	ret_entry->price_version = ladder->version;
	return 0;
}

void metering_account_balance(const struct metering_account *a, int64_t at_ms,
			      struct metering_balance *ret)
{
	int64_t trial_left = a->trial_limit - a->trial_used;

	ret->remaining = trial_left > 0 ? trial_left : 0;
	ret->total = trial_left > 0 ? a->trial_limit : 0;
	ret->at_ms = at_ms;
	for (size_t i = 0; i < a->n_pkgs; i++) {
		const struct metering_package *p = &a->pkgs[i];
		if (!pkg_live(p, at_ms))
			continue;
		ret->remaining += p->remaining;
		ret->total += p->size;
	}
	if (ret->remaining > 0)
		ret->status = METERING_STATUS_PREPAID;
	else if (a->on_exhaust == METERING_ON_EXHAUST_BLOCK)
		ret->status = METERING_STATUS_BLOCKED;
	else
		ret->status = METERING_STATUS_POSTPAID;
}

const char *metering_entry_kind_name(enum metering_entry_kind k)
{
	switch (k) {
	case METERING_ENTRY_TRIAL:
		return "trial";
	case METERING_ENTRY_PACKAGE:
		return "package";
	case METERING_ENTRY_POSTPAID:
		return "postpaid";
	case METERING_ENTRY_BLOCKED:
		return "blocked";
	case METERING_ENTRY_TOPUP:
		return "topup";
	case METERING_ENTRY_EXPIRE:
		return "expire";
	case METERING_ENTRY_REFUND:
		return "refund";
	case METERING_ENTRY_SETTLEMENT:
		return "settlement";
	}
	return "unknown";
}

const char *metering_status_name(enum metering_status s)
{
	switch (s) {
	case METERING_STATUS_PREPAID:
		return "prepaid";
	case METERING_STATUS_POSTPAID:
		return "postpaid";
	case METERING_STATUS_BLOCKED:
		return "blocked";
	}
	return "unknown";
}
