/* metering_apply — applies usage events and admin changes to the in-memory state of the
 * accounts one transaction touches, and collects what the store must write: ledger rows,
 * alerts, changed packages, months and alert states. Pure: the store (metering_store) loads the
 * accounts, months and ladders for the batch and writes the results back, all inside one
 * PostgreSQL transaction; this module only runs the charging, period and alert logic
 * (metering_charge, metering_period, metering_alert) in event order.
 *
 * Ownership: a struct mt_batch owns everything it allocates (arena, vectors, maps), released by
 * mt_batch_reset/mt_batch_free. Events are borrowed for the duration of a call. */
#ifndef SHIREN_METERING_APPLY_H
#define SHIREN_METERING_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_alert.h"
#include "metering/metering_charge.h"
#include "metering/metering_decode.h"
#include "metering/metering_ladder.h"
#include "metering/metering_map.h"
#include "metering/metering_period.h"

#define MT_LADDER_VERSIONS_MAX 64
#define MT_KEY_MAX	       136 /* ledger entry_key + NUL */
#define MT_PKGS_EXTRA	       4   /* package slots beyond those loaded (top-ups) */

/* Ledger row kinds: "call" (a non-billable call, counted only) and metering_entry_kind. */
#define MT_KIND_CALL 0
const char *mt_kind_name(int kind);
/* True for the kinds a usage event produces (the rows of metering_usage). */
bool mt_kind_is_usage(int kind);

struct mt_settings {
	int64_t grace_ms;
	int64_t trial_limit;		     /* for accounts created from now on */
	struct metering_alert_config alerts; /* normalized; accounts may override */
};

/* Every ladder version, per product (1..MT_PRODUCT_MAX). */
struct mt_ladders {
	struct metering_ladder v[MT_PRODUCT_MAX + 1][MT_LADDER_VERSIONS_MAX];
	size_t n[MT_PRODUCT_MAX + 1];
};
/* The version pricing a month that starts at `period_start_ms`, or NULL. */
const struct metering_ladder *mt_ladders_for(const struct mt_ladders *l, int32_t product,
					     int64_t period_start_ms);

struct mt_pkg_snap {
	int64_t remaining;
	enum metering_pkg_status status;
	bool is_new; /* bought in this transaction: inserted, not updated */
};

/* One tenant x product. */
struct mt_acct {
	char key[MT_TENANT_LEN + 16]; /* "tenant/product", the map key */
	char tenant[MT_TENANT_LEN + 1];
	int32_t product;
	bool loaded; /* filled by the store (or initialised as new) */
	bool exists; /* the row is in the database (else inserted) */
	struct metering_account a;
	struct mt_pkg_snap *snap; /* per package, as loaded */
	struct metering_alert_config cfg;
	bool cfg_custom; /* cfg comes from the account row, not the service defaults */
	struct metering_alert_states st;
	bool st_dirty;	/* states changed: the store rewrites this account's states */
	bool st_pruned; /* some state rows must be deleted (rewrite all) */
	int64_t trial_used0;
	enum metering_status status0, status;
	enum metering_on_exhaust on_exhaust0;
	bool touched;
	int32_t last_partition0; /* as loaded, -1: none */
	int32_t last_partition;
	int64_t last_offset, last_event_ms;
};

struct mt_month {
	char key[MT_TENANT_LEN + 32]; /* "tenant/product/yyyymm" */
	uint32_t acct;
	bool loaded, exists;
	struct metering_month m, m0;
};

/* A ledger row. Usage kinds (call, trial, package, postpaid, blocked) go to metering_usage,
 * keyed by (certify, action, seq) and pointing at their package by number; the others to
 * metering_entries, keyed by (key, seq). */
struct mt_row {
	char key[MT_KEY_MAX];
	char certify[MT_CERTIFY_LEN + 1]; /* usage kinds */
	int16_t action;			  /* usage kinds: metering_actions.code */
	int seq;
	int kind;
	char tenant[MT_TENANT_LEN + 1];
	int32_t product;
	int64_t scene_id;
	char package_id[METERING_ID_MAX];
	int32_t package_no; /* usage kinds drawing on a package: metering_packages.no */
	int64_t calls, balance_delta, amount;
	int64_t balance_after;		/* < 0: NULL */
	int64_t price_version;		/* 0: NULL */
	int tier_first, tier_last;	/* < 0: NULL */
	int32_t period, day, late_from; /* late_from 0: NULL */
	int64_t occurred_ms, ingest_ms; /* ingest 0: NULL */
	int32_t partition;		/* < 0 with offset: NULL (not from Kafka) */
	int64_t offset;
	int32_t sub_code;	    /* < 0: NULL */
	const char *actor, *reason; /* borrowed, static or from the command; may be NULL */
};

struct mt_alert_out {
	uint32_t acct;
	struct metering_alert a;
	int64_t total;
	enum metering_status status;
};

struct mt_batch {
	const struct mt_settings *set;	  /* borrowed */
	const struct mt_ladders *ladders; /* borrowed */
	int32_t closed_through;
	struct mt_arena arena;
	struct mt_acct **accts;
	size_t n_accts, cap_accts;
	struct mt_map acct_map;
	struct mt_month **months;
	size_t n_months, cap_months;
	struct mt_map month_map;
	struct mt_row *rows;
	size_t n_rows, cap_rows;
	struct mt_alert_out *alerts;
	size_t n_alerts, cap_alerts;
	/* Scratch reused across events. */
	struct metering_entry *scratch_e;
	size_t cap_e;
	struct metering_alert *scratch_a;
	size_t cap_a;
};

void mt_batch_init(struct mt_batch *b, const struct mt_settings *set,
		   const struct mt_ladders *ladders);
/* Forget the batch's state, keep memory for the next. */
void mt_batch_reset(struct mt_batch *b);
void mt_batch_free(struct mt_batch *b);

/* Where `ev` is billed, given the batch's closed_through. 0 or -ERANGE/-EINVAL. */
int mt_batch_place(const struct mt_batch *b, const struct mt_event *ev,
		   struct metering_placement *ret) __attribute__((warn_unused_result));

/* Find or add (not yet loaded) the account / month. 0 with *ret_idx, or -ENOMEM. */
int mt_batch_want_account(struct mt_batch *b, const char *tenant, int32_t product,
			  uint32_t *ret_idx) __attribute__((warn_unused_result));
int mt_batch_want_month(struct mt_batch *b, uint32_t acct, int32_t period, uint32_t *ret_idx)
	__attribute__((warn_unused_result));
struct mt_acct *mt_batch_find_account(const struct mt_batch *b, const char *tenant,
				      int32_t product);

/* For the store: give account `x` room for `n_pkgs` loaded packages (+ MT_PKGS_EXTRA) and
 * its alert states; sets defaults (trial, postpaid, service alert config). Afterwards the
 * store fills a.pkgs[0..n), st.v[0..n_states) and the columns, then calls mt_acct_loaded. */
int mt_acct_prepare(struct mt_batch *b, struct mt_acct *x, size_t n_pkgs, size_t n_states)
	__attribute__((warn_unused_result));
/* Snapshot what was loaded (to find what changed) and compute the status at `now_ms`. */
void mt_acct_loaded(struct mt_acct *x, int64_t now_ms);

/* Apply one event (its account and month loaded when billable). Appends its ledger rows and
 * alerts. 0, or a negative errno that leaves the state as it was (the caller rejects the
 * event: -EINVAL for a missing ladder). */
int mt_batch_apply(struct mt_batch *b, const struct mt_event *ev,
		   const struct metering_placement *pl) __attribute__((warn_unused_result));

/* Admin changes at `now_ms`, each with its ledger row(s) and the alerts it raises. */
struct mt_topup {
	const char *package_id;
	int64_t size, unit_price, price_total, purchased_at_ms, expires_at_ms;
	const char *actor, *reason;
};
int mt_acct_topup(struct mt_batch *b, uint32_t acct, const struct mt_topup *t, int64_t now_ms)
	__attribute__((warn_unused_result));
int mt_acct_refund(struct mt_batch *b, uint32_t acct, const char *package_id, int64_t now_ms,
		   int64_t window_ms, const char *actor, const char *reason)
	__attribute__((warn_unused_result));
/* Expire what is due at `now_ms` (each distinct expiry time in order, alerts evaluated across
 * it) and evaluate the expiry reminders. */
int mt_acct_tick(struct mt_batch *b, uint32_t acct, int64_t now_ms)
	__attribute__((warn_unused_result));
/* New on_exhaust (NULL: unchanged) and/or alert config (NULL: unchanged; `custom` false
 * returns to the service defaults); `reset` forgets every alert state first. */
int mt_acct_settings(struct mt_batch *b, uint32_t acct, const enum metering_on_exhaust *oe,
		     const struct metering_alert_config *cfg, bool custom, bool reset,
		     int64_t now_ms) __attribute__((warn_unused_result));

/* Append a copy of `r` to the batch's rows. 0 or -ENOMEM. */
int mt_batch_push_row(struct mt_batch *b, const struct mt_row *r)
	__attribute__((warn_unused_result));

/* The month-end settlement row of one tenant x product x period. */
int mt_settlement_row(const char *tenant, int32_t product, const struct metering_month *m,
		      const struct metering_ladder *l, struct mt_row *ret_row,
		      struct metering_bill_line *ret_line) __attribute__((warn_unused_result));

#endif
