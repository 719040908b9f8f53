/* kafka — librdkafka clients configured the shiren way: an idempotent producer (acks=all,
 * compression, delivery reports per message) and a consumer with manual offset commits, plus
 * topic creation. librdkafka's own log lines are routed into our logger. The handles are plain
 * rd_kafka_t so callers use librdkafka directly beyond these constructors. */
#ifndef SHIREN_COMMON_KAFKA_H
#define SHIREN_COMMON_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

struct log;

/* Per-message delivery report target: pass a pointer to one as the message opaque
 * (RD_KAFKA_V_OPAQUE); the producer's callback calls `cb` from inside rd_kafka_poll/flush on the
 * thread that polls. */
struct kafka_dr {
	void (*cb)(struct kafka_dr *dr, rd_kafka_resp_err_t err, int32_t partition, int64_t offset);
};

struct kafka_opts {
	const char *brokers;	 /* bootstrap.servers */
	const char *client_id;	 /* e.g. "shiren-intake" */
	const char *compression; /* "lz4" (default), "zstd", "none"... */
	int linger_ms;		 /* default 5 */
	int message_timeout_ms;	 /* delivery timeout; default 300000 */
	/* Extra "key=value" librdkafka properties, NULL-terminated; may be NULL. */
	const char *const *extra;
};

/* Idempotent producer (enable.idempotence=true, acks=all, bounded queue). `lg` is borrowed and
 * must outlive the handle. NULL on failure with `err` filled. */
rd_kafka_t *kafka_producer_new(const struct kafka_opts *o, struct log *lg, char *err,
			       size_t errlen);

/* Consumer in group `group`: enable.auto.commit=false, auto.offset.reset=earliest; the caller
 * commits after its PostgreSQL transaction. Rebalances are logged. NULL on failure. */
rd_kafka_t *kafka_consumer_new(const struct kafka_opts *o, const char *group, struct log *lg,
			       char *err, size_t errlen);

/* Create the topics that do not exist yet (already-existing ones are fine). Blocking, up to
 * timeout_ms; call from a bootstrap or worker thread. 0, or -EIO with `err`. */
int kafka_topics_ensure(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
			int replication, int timeout_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True when the client currently knows at least one broker that is up. Blocking up to
 * timeout_ms (a metadata request). */
/* Fetch the metadata of every topic into the client's cache (best effort, waits at most
 * `timeout_ms`), so its first message to a topic does not wait for a lookup. */
void kafka_warm(rd_kafka_t *rk, int timeout_ms);
bool kafka_broker_up(rd_kafka_t *rk, int timeout_ms);

#endif
