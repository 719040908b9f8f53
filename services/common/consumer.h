/* consumer — the idempotent consumer (DESIGN §5). A thread reads batches from Kafka, and in one
 * PostgreSQL transaction per batch records each message_id in the inbox and applies only the
 * messages not seen before; Kafka offsets are committed after PostgreSQL commits. Redelivery
 * after a crash is therefore a no-op. Messages that cannot be decoded go to the dead-letter
 * topic at once; messages whose apply keeps failing go there after `max_attempts`, and the
 * consumer moves on. */
#ifndef SHIREN_COMMON_CONSUMER_H
#define SHIREN_COMMON_CONSUMER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/envelope.h"

struct log;
struct metrics;

struct consumer_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key;
	size_t keylen;
	const void *payload;
	size_t len;
	struct envelope_info env;
};

/* Apply new (never applied) messages inside the open transaction on `c`. Return 0, or a negative
 * errno with `err` filled to roll the batch back. Runs on the consumer thread. */
typedef int (*consumer_apply_fn)(PGconn *c, const struct consumer_msg *const *msgs, size_t n,
				 void *arg, char *err, size_t errlen);
/* Optional: validate one message before the transaction (decode it). A negative return sends
 * it to the dead-letter topic with reason "invalid" and `err`. */
typedef int (*consumer_check_fn)(const struct consumer_msg *m, void *arg, char *err, size_t errlen);

struct consumer_opts {
	const char *pg_dsn;
	const char *brokers;
	const char *group; /* Kafka group id, also the inbox consumer name */
	const char *const *topics;
	size_t ntopics;
	const char *dlq_topic;	   /* e.g. "shiren.dlq.v1" */
	const char *producer_name; /* envelope producer of dead letters, e.g. "shiren-metering" */
	int batch_max;		   /* messages per transaction, default 500 */
	int max_attempts;	   /* apply attempts before dead-lettering, default 5 */
	int retry_backoff_ms;	   /* first retry delay, doubled each time, default 100 */
	consumer_apply_fn apply;
	consumer_check_fn check; /* may be NULL */
	void *arg;
	struct metrics *metrics;	/* may be NULL */
	const char *const *kafka_extra; /* extra librdkafka properties, NULL-terminated, or NULL */
};

struct consumer;

/* Start the consumer thread. Connections are retried with backoff. Strings and arrays in `o`
 * are copied; `lg`, `o->arg` and `o->metrics` are borrowed. NULL on failure (logged). */
struct consumer *consumer_start(const struct consumer_opts *o, struct log *lg);
/* Whether `consumer` (a struct consumer) is connected and subscribed; shaped as a
 * service_ready_fn, so it is passed to service_add_ready_check as it is. */
bool consumer_ready(void *consumer);
/* Counters since start (thread-safe): applied, duplicates skipped, dead-lettered. */
void consumer_stats(struct consumer *c, uint64_t *ret_applied, uint64_t *ret_dups,
		    uint64_t *ret_dead);
/* Finish the batch in hand (apply, commit), leave the group, close. Accepts NULL. */
void consumer_stop(struct consumer *c);

/* Inbox primitive, usable on its own inside a transaction: insert (consumer, id) for each of
 * `ids` with `status` (0 applied, 1 dead-lettered); ret_new[i] tells whether ids[i] was new.
 * A duplicate id within `ids` counts as new only at its first position. */
int inbox_claim(PGconn *c, const char *consumer, const char *const *ids, size_t n, int status,
		bool *ret_new, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
