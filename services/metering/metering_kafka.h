/* metering_kafka — metering's Kafka consumer: configured like common/kafka.h's consumer (manual
 * commits, offsets not auto-stored, earliest reset, librdkafka logs in our logger), but with a
 * rebalance handled by the caller, who positions each assigned partition at the offset stored
 * in PostgreSQL. (common/kafka.h installs its own rebalance callback, which cannot be replaced
 * after construction.) */
#ifndef SHIREN_METERING_KAFKA_H
#define SHIREN_METERING_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct log;

#define MT_KAFKA_MAX_PARTITIONS 1024

/* Called inside rd_kafka_consumer_poll/close on the polling thread. on_assign must call
 * rd_kafka_assign(rk, parts) with the offsets it chose; on_revoke rd_kafka_assign(rk, NULL). */
typedef void (*mt_kafka_parts_fn)(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
				  void *opaque);

/* `instance_id` (may be NULL or "") makes the member static (group.instance.id): a restarted
 * process with the same id takes its partitions back at once instead of waiting for the dead
 * member's session to time out. `lg` and `opaque` are borrowed and must outlive the handle.
 * NULL with `err` on failure. */
rd_kafka_t *mt_kafka_consumer_new(const char *brokers, const char *group, const char *instance_id,
				  struct log *lg, mt_kafka_parts_fn on_assign,
				  mt_kafka_parts_fn on_revoke, void *opaque, char *err,
				  size_t errlen);
/* Close (leave the group; on_revoke runs) and destroy. Accepts NULL. */
void mt_kafka_consumer_free(rd_kafka_t *rk);

#endif
