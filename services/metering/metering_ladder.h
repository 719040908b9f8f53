/* metering_ladder — money and ladder (tiered) prices for postpaid calls over a natural month.
 *
 * Money is int64 in METERING_MONEY units of 1e-5 CNY (one thousandth of a fen, "milli-fen"):
 * 1 元 = 100000, 1 分 = 1000. Alibaba prices calls to 0.001 元 (= 100 units) and package unit
 * prices derived from a package price need more digits, which the two spare decimals give;
 * int64 still holds 9.2e13 元. Amounts are exact integers everywhere; rounding happens only on
 * a bill line, to the fen, half away from zero (四舍五入; see docs/metering.md).
 *
 * Two ladder modes (both priced per call, tiers bounded by the month's call count):
 * - METERING_LADDER_VOLUME (全量累进): the whole month is priced at the tier its total reached.
 * - METERING_LADDER_GRADUATED (差额累进): each call is priced at the tier it falls in.
 * Per-event charges are graduated in both modes (call k of the month pays tier_of(k)'s price),
 * which is exact for GRADUATED and provisional for VOLUME; the month-end settlement line
 * (metering_ladder_settle) trues VOLUME up to the whole-volume amount.
 * Pure functions, no I/O. Fallible ones return 0 or a negative errno. */
#ifndef SHIREN_METERING_LADDER_H
#define SHIREN_METERING_LADDER_H

#include <stddef.h>
#include <stdint.h>

#define METERING_MONEY_PER_YUAN 100000LL
#define METERING_MONEY_PER_FEN	1000LL

#define METERING_LADDER_MAX_TIERS 16
/* `upto` of the last tier: no upper bound. */
#define METERING_LADDER_UNBOUNDED INT64_MAX

enum metering_ladder_mode {
	METERING_LADDER_VOLUME = 1,    /* 全量累进, whole-volume */
	METERING_LADDER_GRADUATED = 2, /* 差额累进, per-tier */
};

struct metering_ladder_tier {
	int64_t upto; /* inclusive upper bound: the tier holds month calls (prev upto, upto] */
	int64_t unit_price; /* per call, money units */
};

/* One version of a product's price table. Versions are immutable once published; a month is
 * priced by the version in force at its start (metering_ladder_select). */
struct metering_ladder {
	int64_t version;	   /* >= 1, recorded on every postpaid ledger entry */
	int64_t effective_from_ms; /* UTC Unix ms */
	enum metering_ladder_mode mode;
	size_t n_tiers;
	struct metering_ladder_tier tiers[METERING_LADDER_MAX_TIERS];
};

/* Round `amount` to a whole fen, half away from zero. 0 or -EOVERFLOW. */
int metering_money_round_fen(int64_t amount, int64_t *ret) __attribute__((warn_unused_result));

/* 0, or -EINVAL: version < 1, unknown mode, 0 or too many tiers, bounds not strictly
 * increasing from >= 1, last bound not METERING_LADDER_UNBOUNDED, a negative price. */
int metering_ladder_validate(const struct metering_ladder *l) __attribute__((warn_unused_result));

/* The version in force for a period starting at `period_start_ms`: the greatest
 * effective_from_ms <= period_start_ms (ties: the greater version). A version that becomes
 * effective mid-month prices from the next month on. NULL when none applies. */
const struct metering_ladder *metering_ladder_select(const struct metering_ladder *versions,
						     size_t n, int64_t period_start_ms);

/* 0-based tier index of the `call_no`-th call of the month (call_no >= 1). -EINVAL otherwise. */
int metering_ladder_tier_of(const struct metering_ladder *l, int64_t call_no);

/* Final amount for `calls` postpaid calls in one month, by the ladder's mode.
 * 0, -EINVAL (calls < 0) or -EOVERFLOW. */
int metering_ladder_amount(const struct metering_ladder *l, int64_t calls, int64_t *ret_amount)
	__attribute__((warn_unused_result));
/* The same, forcing a mode (reports show both). */
int metering_ladder_amount_mode(const struct metering_ladder *l, enum metering_ladder_mode mode,
				int64_t calls, int64_t *ret_amount)
	__attribute__((warn_unused_result));

/* Charge for `quantity` more calls after `mtd_calls` postpaid calls this month. */
struct metering_ladder_charge {
	int64_t amount; /* graduated(mtd + q) - graduated(mtd) */
	int tier_first; /* tier of call mtd+1 */
	int tier_last;	/* tier of call mtd+q */
};
/* 0, -EINVAL (mtd < 0, quantity < 1) or -EOVERFLOW. */
int metering_ladder_charge(const struct metering_ladder *l, int64_t mtd_calls, int64_t quantity,
			   struct metering_ladder_charge *ret) __attribute__((warn_unused_result));

/* One tenant x product x month postpaid bill line. */
struct metering_bill_line {
	int64_t calls;	    /* postpaid calls in the month */
	int64_t charged;    /* sum of the per-event charges already in the ledger */
	int64_t settlement; /* exact - charged: the month-end settlement ledger line */
	int64_t exact;	    /* the month's amount by the ladder mode, unrounded */
	int64_t billed;	    /* exact rounded to the fen: the amount on the bill */
	int64_t residue;    /* exact - billed, within +-500 (half a fen) */
};
/* Close a month: 0, -EINVAL or -EOVERFLOW. In GRADUATED mode settlement is 0 whenever every
 * event was charged by metering_ladder_charge with the same version. */
int metering_ladder_settle(const struct metering_ladder *l, int64_t calls, int64_t charged,
			   struct metering_bill_line *ret) __attribute__((warn_unused_result));

#endif
