/* metering_charge — what one billable event costs a tenant x product, and the balance changes
 * that are not events: package top-up, expiry, refund-if-unused, month-end settlement.
 *
 * Charging order for an event of `quantity` calls at event time t:
 *   1. the free trial (trial_limit calls per tenant x product, once, never expires);
 *   2. prepaid packages live at t (ACTIVE, purchased_at <= t < expires_at, remaining > 0) by
 *      (expires_at, purchased_at, id) ascending: earliest expiry first; one event may span
 *      several packages;
 *   3. the rest: POSTPAID at the ladder price, or BLOCKED (recorded, not billed) when the tenant
 *      is set to block.
 * Every function either succeeds and updates the account in place, or fails with a negative
 * errno and changes nothing. No I/O: the service loads the account, calls these inside its
 * apply transaction and writes back the account and the ledger entries. */
#ifndef SHIREN_METERING_CHARGE_H
#define SHIREN_METERING_CHARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_ladder.h"

#define METERING_ID_MAX			  64 /* package id text (a UUID is 36) + NUL */
#define METERING_TRIAL_CALLS_DEFAULT	  100
#define METERING_PACKAGE_VALIDITY_MONTHS  12
#define METERING_REFUND_WINDOW_DEFAULT_MS (5 * 86400LL * 1000)

enum metering_on_exhaust {
	METERING_ON_EXHAUST_POSTPAID = 0,
	METERING_ON_EXHAUST_BLOCK = 1,
};

enum metering_pkg_status {
	METERING_PKG_ACTIVE = 0, /* drawable while live; remaining may be 0 (used up) */
	METERING_PKG_EXPIRED = 1,
	METERING_PKG_REFUNDED = 2,
};

struct metering_package {
	char id[METERING_ID_MAX];
	int32_t no; /* metering_packages.no; 0 until the row exists */
	enum metering_pkg_status status;
	int64_t size;	     /* calls bought, >= 0 */
	int64_t remaining;   /* 0..size */
	int64_t unit_price;  /* per call, money units; informational */
	int64_t price_total; /* what the tenant paid; value recognised as calls are drawn */
	int64_t purchased_at_ms;
	int64_t expires_at_ms; /* exclusive: an event at expires_at is not covered */
};

/* One tenant x product. The package array belongs to the caller; n_pkgs <= cap_pkgs. */
struct metering_account {
	enum metering_on_exhaust on_exhaust;
	int64_t trial_limit; /* METERING_TRIAL_CALLS_DEFAULT unless configured */
	int64_t trial_used;  /* 0..trial_limit, never decreases */
	struct metering_package *pkgs;
	size_t n_pkgs, cap_pkgs;
};

/* Postpaid counters of one period (the one the event is placed in, see metering_period). */
struct metering_month {
	int32_t period;		  /* yyyymm */
	int64_t postpaid_calls;	  /* calls charged POSTPAID so far */
	int64_t postpaid_charged; /* sum of their amounts */
	int64_t blocked_calls;
};

enum metering_entry_kind {
	METERING_ENTRY_TRIAL = 1,
	METERING_ENTRY_PACKAGE = 2,
	METERING_ENTRY_POSTPAID = 3,
	METERING_ENTRY_BLOCKED = 4,
	METERING_ENTRY_TOPUP = 5,
	METERING_ENTRY_EXPIRE = 6,
	METERING_ENTRY_REFUND = 7,
	METERING_ENTRY_SETTLEMENT = 8,
};

/* A ledger entry description. `amount` by kind (money units):
 *   TRIAL 0; PACKAGE the package value recognised for these calls (prepaid, not a new charge);
 *   POSTPAID the charge; BLOCKED 0; TOPUP +price paid; EXPIRE the unrecognised value forfeited;
 *   REFUND -price paid; SETTLEMENT the month-end true-up (signed). */
struct metering_entry {
	enum metering_entry_kind kind;
	char package_id[METERING_ID_MAX]; /* PACKAGE, TOPUP, EXPIRE, REFUND; "" otherwise */
	int64_t calls;			  /* calls concerned, >= 0 */
	int64_t balance_delta;		  /* change of the trial or package balance */
	int64_t balance_after;		  /* trial or package remaining afterwards */
	int64_t amount;
	int64_t price_version; /* POSTPAID, SETTLEMENT; 0 otherwise */
	int tier_first;	       /* POSTPAID: tiers of its first and last call; -1 otherwise */
	int tier_last;
};

/* Upper bound on entries for one event: trial + every package + postpaid/blocked. */
#define METERING_CHARGE_MAX_ENTRIES(n_pkgs) ((n_pkgs) + 2)

struct metering_event {
	int64_t quantity; /* >= 1 */
	int64_t occurred_at_ms;
};

struct metering_charge_result {
	int64_t trial_calls, package_calls, postpaid_calls, blocked_calls;
	int64_t postpaid_amount;
	size_t n_entries;
};

/* 0, or -EINVAL when the account breaks an invariant (counts out of range, n_pkgs > cap, an
 * empty or unterminated id, expires_at <= purchased_at, unknown status or mode). */
int metering_account_validate(const struct metering_account *a) __attribute__((warn_unused_result));

/* Charge one billable event. `ladder` (the version for the event's period) may be NULL when
 * the account blocks. `month` holds the counters of the period the event is billed into and is
 * updated. Entries go to `entries` (capacity `cap`). 0, or -EINVAL (bad event, account or
 * ladder, or POSTPAID needed with no ladder), -ENOSPC (cap short), -EOVERFLOW. */
int metering_charge_apply(struct metering_account *a, struct metering_month *month,
			  const struct metering_ladder *ladder, const struct metering_event *ev,
			  struct metering_entry *entries, size_t cap,
			  struct metering_charge_result *ret) __attribute__((warn_unused_result));

struct metering_topup {
	const char *package_id;
	int64_t size;	     /* calls, >= 0 */
	int64_t unit_price;  /* per call; price_total = unit_price x size when price_total is 0 */
	int64_t price_total; /* package price */
	int64_t purchased_at_ms;
	int64_t expires_at_ms; /* 0: purchased_at + METERING_PACKAGE_VALIDITY_MONTHS (UTC+8) */
};
/* Add a purchased package (ACTIVE, remaining = size) and describe its TOPUP entry.
 * 0, -EINVAL, -EEXIST (id already present), -ENOSPC (cap_pkgs reached), -EOVERFLOW. */
int metering_account_topup(struct metering_account *a, const struct metering_topup *t,
			   struct metering_entry *ret_entry) __attribute__((warn_unused_result));

/* Expire every ACTIVE package with expires_at <= now_ms: one EXPIRE entry each (calls = the
 * unused remainder, possibly 0), status EXPIRED. 0, -ENOSPC (cap short; nothing changed). */
int metering_account_expire(struct metering_account *a, int64_t now_ms,
			    struct metering_entry *entries, size_t cap, size_t *ret_n)
	__attribute__((warn_unused_result));

/* Refund a package nobody has drawn from, within `window_ms` of purchase (0: no limit).
 * 0, -ENOENT (no such id), -EINVAL (not ACTIVE, or already expired at now_ms), -EBUSY (calls
 * drawn), -ETIMEDOUT (window passed). */
int metering_account_refund(struct metering_account *a, const char *package_id, int64_t now_ms,
			    int64_t window_ms, struct metering_entry *ret_entry)
	__attribute__((warn_unused_result));

/* Close a month: the bill line and its SETTLEMENT entry (written even when the amount is 0,
 * so a closed month always has one). 0, -EINVAL, -EOVERFLOW. */
int metering_month_settle(const struct metering_month *m, const struct metering_ladder *ladder,
			  struct metering_entry *ret_entry, struct metering_bill_line *ret_line)
	__attribute__((warn_unused_result));

enum metering_status {
	METERING_STATUS_PREPAID = 0,  /* prepaid calls remain */
	METERING_STATUS_POSTPAID = 1, /* none remain: calls are billed postpaid */
	METERING_STATUS_BLOCKED = 2,  /* none remain and the tenant blocks: refuse calls */
};

/* The balance as alerts and the balance API see it at `at_ms`. */
struct metering_balance {
	int64_t remaining; /* unused trial + remaining of packages live at at_ms */
	int64_t total;	   /* percent basis: trial_limit while trial calls remain + size of every
	                    * package live at at_ms, used up or not */
	enum metering_status status;
	int64_t at_ms;
};
void metering_account_balance(const struct metering_account *a, int64_t at_ms,
			      struct metering_balance *ret);

/* Stable lower-case names for logs, exports and alert ids. */
const char *metering_entry_kind_name(enum metering_entry_kind k);
const char *metering_status_name(enum metering_status s);

#endif
