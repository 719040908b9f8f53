/* metering_store — metering's PostgreSQL statements: load what one transaction needs (ladders,
 * closed period, offsets, tenants, seen event ids, accounts with their packages and alert
 * states, months) and write back what metering_apply produced, set-based (one statement per
 * table, arrays unnested). Every function runs inside the caller's open transaction on the
 * caller's connection (the consumer thread's) and fills `err` on failure (pg_exec's -EIO or
 * -ECONNRESET). */
#ifndef SHIREN_METERING_STORE_H
#define SHIREN_METERING_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_apply.h"
#include "metering/metering_sqlarr.h"

#define MT_STORE_ARRS  26
#define MT_STORE_BARRS 14

struct mt_daily; /* a daily rollup delta being aggregated (metering_store_write.c) */

/* Reusable array builders for the statements' parameters. */
struct mt_store {
	PGconn *c; /* borrowed */
	struct mt_arr a[MT_STORE_ARRS];
	struct mt_barr ba[MT_STORE_BARRS];
	struct mt_bin copy; /* COPY BINARY rows of the ledger */
	struct mt_map tmp;  /* scratch: keys borrowed from a result for one call */
	struct mt_map dmap; /* daily rollup key -> index into daily */
	struct mt_daily *daily;
	size_t n_daily, cap_daily;
	struct mt_arena mem; /* the daily keys; reset per write */
};

void mt_store_init(struct mt_store *s, PGconn *c);
void mt_store_free(struct mt_store *s);

/* Every ladder version (outside or inside a transaction). */
int mt_store_ladders(struct mt_store *s, struct mt_ladders *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* metering_state.closed_through; FOR SHARE (apply) or FOR UPDATE (period close). */
int mt_store_closed_through(struct mt_store *s, bool for_update, int32_t *ret, char *err,
			    size_t errlen) __attribute__((warn_unused_result));

/* Lock the offset rows of `parts` in `topic` and return next_offset per partition (-1 when the
 * partition has no row yet). */
int mt_store_offsets_lock(struct mt_store *s, const char *topic, const int32_t *parts, size_t n,
			  int64_t *ret_next, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Every stored next_offset of `topic` (partition -> offset), for seeking on assignment:
 * ret_next[p] for p < n_max, -1 when unknown. */
int mt_store_offsets_all(struct mt_store *s, const char *topic, int64_t *ret_next, size_t n_max,
			 char *err, size_t errlen) __attribute__((warn_unused_result));

struct mt_offset_delta {
	int32_t partition;
	int64_t base, next; /* base used only when the row is new */
	int64_t consumed, applied, duplicates, non_billable, rejected, skipped;
	int64_t last_event_ms, last_ingest_ms; /* 0: none */
};
int mt_store_offsets_save(struct mt_store *s, const char *topic, const struct mt_offset_delta *d,
			  size_t n, char *err, size_t errlen) __attribute__((warn_unused_result));

/* ret_known[i]: tenants[i] is in the tenants table. Tenants must be canonical UUIDs. */
int mt_store_tenants_known(struct mt_store *s, const char *const *tenants, size_t n,
			   bool *ret_known, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Mark in `seen` (a map of borrowed event ids, value ignored) the events that already have
 * ledger rows. Each event's action_code must be set. */
int mt_store_seen(struct mt_store *s, const struct mt_event *const *evs, size_t n,
		  struct mt_map *seen, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Number the action `names` not in metering_actions yet (while fewer than MT_ACTIONS_MAX are),
 * then load every (name -> code) into `codes`, its keys copied into `mem` (both reset first).
 * Outside a transaction: a registered name stays registered. */
#define MT_ACTIONS_MAX 1000
int mt_store_actions(struct mt_store *s, const char *const *names, size_t n, struct mt_map *codes,
		     struct mt_arena *mem, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Load (and lock FOR UPDATE, in key order) every account of `b` not loaded yet, creating the
 * missing rows with the batch's trial limit; with their ACTIVE packages (every package when
 * `all_packages`) and alert states. Unknown tenants make the insert fail (FK): check first. */
int mt_store_load_accounts(struct mt_store *s, struct mt_batch *b, bool all_packages,
			   int64_t now_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Load every month of `b` not loaded yet (missing ones start at zero). */
int mt_store_load_months(struct mt_store *s, struct mt_batch *b, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A duplicate delivery to count in the daily rollup. */
struct mt_dup {
	const char *tenant;
	int32_t product;
	int64_t scene_id;
	int32_t day;
	int64_t calls;
};

/* The ledger rows (COPY BINARY) and the daily rollups of those rows and of `dups`; the first
 * step of mt_store_write (metering_store_ledger.c). */
int mt_store_write_ledger(struct mt_store *s, const struct mt_batch *b, const struct mt_dup *dups,
			  size_t n_dups, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Write the batch: ledger rows (COPY BINARY) and the daily rollups summed from the same rows
 * (plus the `dups`, may be NULL), accounts, packages, months, alert states, alerts (with their
 * outbox rows for `alerts_topic`, source `source`) and the metering_blocked changes. */
int mt_store_write(struct mt_store *s, struct mt_batch *b, const struct mt_dup *dups, size_t n_dups,
		   const char *source, const char *alerts_topic, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A message rejected into the dead-letter topic. */
struct mt_reject {
	int32_t partition;
	int64_t offset;
	const char *reason, *detail, *event_id, *tenant; /* event_id/tenant may be "" */
	const void *key, *payload;
	size_t keylen, len;
};
/* metering_rejects rows and one DeadLetter per reject in the outbox (deterministic message id
 * from topic/partition/offset). */
int mt_store_write_rejects(struct mt_store *s, const char *topic, const char *group,
			   const char *source, const char *dlq_topic, const struct mt_reject *r,
			   size_t n, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Parse a PostgreSQL int8[] text ("{1,2,3}") into v (cap entries). 0, -EINVAL, -ENOSPC. */
int mt_parse_int_array(const char *s, int64_t *v, size_t cap, size_t *ret_n)
	__attribute__((warn_unused_result));

#endif
