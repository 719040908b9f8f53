/* metering_ladder — ladder price arithmetic: whole-volume and per-tier month amounts, per-event
 * charges, month-end settlement and fen rounding. Every product and sum is overflow-checked. */
#include "metering/metering_ladder.h"

#include <errno.h>

int metering_money_round_fen(int64_t amount, int64_t *ret)
{
	int64_t q = amount / METERING_MONEY_PER_FEN;
	int64_t r = amount % METERING_MONEY_PER_FEN; /* same sign as amount (C99) */

	if (r >= METERING_MONEY_PER_FEN / 2)
		q++;
	else if (r <= -METERING_MONEY_PER_FEN / 2)
		q--;
	if (__builtin_mul_overflow(q, METERING_MONEY_PER_FEN, ret))
		return -EOVERFLOW;
	return 0;
}

int metering_ladder_validate(const struct metering_ladder *l)
{
	if (!l || l->version < 1)
		return -EINVAL;
	if (l->mode != METERING_LADDER_VOLUME && l->mode != METERING_LADDER_GRADUATED)
		return -EINVAL;
	if (l->n_tiers < 1 || l->n_tiers > METERING_LADDER_MAX_TIERS)
		return -EINVAL;
	int64_t prev = 0;
	for (size_t i = 0; i < l->n_tiers; i++) {
		if (l->tiers[i].upto <= prev || l->tiers[i].unit_price < 0)
			return -EINVAL;
		prev = l->tiers[i].upto;
	}
	if (prev != METERING_LADDER_UNBOUNDED)
		return -EINVAL;
	return 0;
}

const struct metering_ladder *metering_ladder_select(const struct metering_ladder *versions,
						     size_t n, int64_t period_start_ms)
{
	const struct metering_ladder *best = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct metering_ladder *v = &versions[i];
		if (v->effective_from_ms > period_start_ms)
			continue;
		if (!best || v->effective_from_ms > best->effective_from_ms ||
		    (v->effective_from_ms == best->effective_from_ms && v->version > best->version))
			best = v;
	}
	return best;
}

int metering_ladder_tier_of(const struct metering_ladder *l, int64_t call_no)
{
	if (call_no < 1)
		return -EINVAL;
	for (size_t i = 0; i < l->n_tiers; i++)
		if (call_no <= l->tiers[i].upto)
			return (int)i;
	return -EINVAL; /* unreachable for a validated ladder */
}

/* Sum over tiers of (calls of (from, to] inside the tier) x tier price. */
static int graduated_between(const struct metering_ladder *l, int64_t from, int64_t to,
			     int64_t *ret)
{
	int64_t sum = 0, lower = 0;

	for (size_t i = 0; i < l->n_tiers && lower < to; i++) {
		int64_t upper = l->tiers[i].upto;
		int64_t a = from > lower ? from : lower;
		int64_t b = to < upper ? to : upper;
		int64_t part;
		if (b > a) {
			if (__builtin_mul_overflow(b - a, l->tiers[i].unit_price, &part) ||
			    __builtin_add_overflow(sum, part, &sum))
				return -EOVERFLOW;
		}
		lower = upper;
	}
	*ret = sum;
	return 0;
}

int metering_ladder_amount_mode(const struct metering_ladder *l, enum metering_ladder_mode mode,
				int64_t calls, int64_t *ret_amount)
{
	if (calls < 0)
		return -EINVAL;
	if (mode == METERING_LADDER_GRADUATED)
		return graduated_between(l, 0, calls, ret_amount);
	if (mode != METERING_LADDER_VOLUME)
		return -EINVAL;
	if (calls == 0) {
		*ret_amount = 0;
		return 0;
	}
	int t = metering_ladder_tier_of(l, calls);
	if (t < 0)
		return t;
	if (__builtin_mul_overflow(calls, l->tiers[t].unit_price, ret_amount))
		return -EOVERFLOW;
	return 0;
}

int metering_ladder_amount(const struct metering_ladder *l, int64_t calls, int64_t *ret_amount)
{
	return metering_ladder_amount_mode(l, l->mode, calls, ret_amount);
}

int metering_ladder_charge(const struct metering_ladder *l, int64_t mtd_calls, int64_t quantity,
			   struct metering_ladder_charge *ret)
{
	int64_t end;
	int r;

	if (mtd_calls < 0 || quantity < 1 || __builtin_add_overflow(mtd_calls, quantity, &end))
		return -EINVAL;
	if ((r = graduated_between(l, mtd_calls, end, &ret->amount)) < 0)
		return r;
	ret->tier_first = metering_ladder_tier_of(l, mtd_calls + 1);
	ret->tier_last = metering_ladder_tier_of(l, end);
	if (ret->tier_first < 0 || ret->tier_last < 0)
		return -EINVAL;
	return 0;
}

int metering_ladder_settle(const struct metering_ladder *l, int64_t calls, int64_t charged,
			   struct metering_bill_line *ret)
{
	int r;

	if (calls < 0)
		return -EINVAL;
	ret->calls = calls;
	ret->charged = charged;
	if ((r = metering_ladder_amount(l, calls, &ret->exact)) < 0)
		return r;
	if (__builtin_sub_overflow(ret->exact, charged, &ret->settlement))
		return -EOVERFLOW;
	if ((r = metering_money_round_fen(ret->exact, &ret->billed)) < 0)
		return r;
	ret->residue = ret->exact - ret->billed;
	return 0;
}
