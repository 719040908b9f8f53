/* metering_consumer — the metering thread: consumes shiren.usage.v1 in batches (up to `batch`
 * messages or `linger_ms`) and applies each batch in one PostgreSQL transaction
 * (metering_txn), which also stores the consumed offsets. On partition assignment it seeks to
 * the offsets stored in PostgreSQL (the beginning when there are none); Kafka offset commits
 * are only for lag monitoring. Between batches it applies shirenctl's commands (woken by
 * NOTIFY shiren_metering), runs the expiry sweep and the period close, and reloads ladders.
 * Never on the event loop: it owns its thread, its connection and its Kafka consumer. */
#ifndef SHIREN_METERING_CONSUMER_H
#define SHIREN_METERING_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "metering/metering_txn.h"

struct log;
struct metrics;
struct service;

struct mt_consumer_opts {
	const char *pg_dsn, *brokers, *compression;
	const char *instance_id; /* static group membership, or NULL */
	struct mt_txn_cfg txn;	 /* copied; its strings are borrowed from the service config */
	int batch_max;
	int linger_ms;
	int sweep_ms;
	int64_t refund_window_ms;
	bool sync_commit;
	struct service *svc; /* borrowed: subscribe once its topics exist */
	struct metrics *metrics;
};

struct mt_consumer;

/* Start the thread. `o`'s strings and `lg` must outlive the consumer. NULL on failure (logged). */
struct mt_consumer *mt_consumer_start(const struct mt_consumer_opts *o, struct log *lg);
/* Connected to PostgreSQL and subscribed. Thread-safe. */
bool mt_consumer_ready(struct mt_consumer *c);
/* Finish the batch in hand, leave the group, stop. Accepts NULL. */
void mt_consumer_stop(struct mt_consumer *c);

#endif
