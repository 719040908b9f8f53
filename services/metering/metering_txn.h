/* metering_txn — the exactly-once apply of one batch of shiren.usage.v1 messages: one PostgreSQL
 * transaction that locks the partitions' offset rows, skips what was already consumed,
 * rejects bad input into the dead-letter topic (through the outbox), deduplicates by event id,
 * charges, writes the ledger, balances, rollups, alert states and alerts, and stores the new
 * offsets with the per-partition accounting (consumed = applied + duplicates + non-billable +
 * rejected). Re-running it over any range already applied changes nothing.
 * Runs on the consumer thread with the thread's connection. */
#ifndef SHIREN_METERING_TXN_H
#define SHIREN_METERING_TXN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_apply.h"
#include "metering/metering_decode.h"
#include "metering/metering_store.h"

enum mt_outcome {
	MT_OUT_SKIPPED = 0, /* offset already consumed (redelivery after a seek) */
	MT_OUT_APPLIED,	    /* a new billable event, charged */
	MT_OUT_DUPLICATE,   /* an event id already in the ledger */
	MT_OUT_NON_BILLABLE,
	MT_OUT_REJECTED, /* dead-lettered */
};

/* One Kafka message of the batch. The caller owns the payload and key. */
struct mt_msg {
	int32_t partition;
	int64_t offset;
	int64_t ts_ms; /* broker timestamp, <= 0 when none */
	const void *key, *payload;
	size_t keylen, len;
	/* mt_txn_decode: */
	bool bad;
	const char *reason; /* static */
	char err[160];
	struct mt_event ev;
	/* mt_txn_run: */
	enum mt_outcome outcome;
};

struct mt_txn_cfg {
	const char *topic, *group, *source, *alerts_topic, *dlq_topic;
	struct mt_decode_limits lim;
	struct mt_settings set;
};

struct mt_txn_stats {
	size_t consumed, applied, duplicates, non_billable, rejected, skipped_msgs;
	size_t alerts;
	int64_t skipped_offsets;
};

struct mt_txn;

/* `cfg` is borrowed. NULL on allocation failure. */
struct mt_txn *mt_txn_new(const struct mt_txn_cfg *cfg);
void mt_txn_free(struct mt_txn *t);

/* Decode and check one message (no database): sets bad/reason/err or ev. */
void mt_txn_decode(const struct mt_txn_cfg *cfg, struct mt_msg *m);

/* (Re)load the ladder versions on `c` (outside a transaction). */
int mt_txn_load_ladders(struct mt_txn *t, PGconn *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
const struct mt_ladders *mt_txn_ladders(const struct mt_txn *t);

/* Apply `msgs` (decoded, in consumption order) in one transaction on `c`. 0 after COMMIT with
 * outcomes and stats set; a negative errno after ROLLBACK (nothing applied) with `err`. */
int mt_txn_run(struct mt_txn *t, PGconn *c, struct mt_msg *msgs, size_t n, struct mt_txn_stats *ret,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Whether mt_txn_run's failure (rc, err) for a transaction of ONE message is that message's
 * doing, so dead-lettering it ("apply") is right: a check of ours refused a value it carries
 * (-EINVAL, -E2BIG or -ERANGE with our own message), or PostgreSQL raised a data exception
 * (SQLSTATE class 22) for one. Anything else (an integrity violation of the cached state,
 * missing tables or privileges, resources, serialization, the connection, unknown errors)
 * would fail any message alike: the caller waits instead of losing the billing. */
bool mt_failure_is_message(int rc, const char *err);

#endif
