/* outbox — the transactional outbox (DESIGN §5). A service writes its state change and the
 * message it causes in one PostgreSQL transaction (outbox_enqueue); a relay thread publishes the
 * rows of one source in id order with the idempotent producer and deletes them once Kafka has
 * acknowledged them. A crash between publish and delete re-publishes the same payload (same
 * envelope message_id), which the consumers' inbox turns into a no-op. One relay per source is
 * active at a time (a PostgreSQL advisory lock); others stand by. */
#ifndef SHIREN_COMMON_OUTBOX_H
#define SHIREN_COMMON_OUTBOX_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log;
struct metrics;

/* Insert one message inside the caller's open transaction and notify the relay. `key` may be
 * NULL. `message_id` is the payload's envelope id. 0 or -EIO/-ECONNRESET with `err`. */
int outbox_enqueue(PGconn *c, const char *source, const char *topic, const void *key, size_t keylen,
		   const void *payload, size_t len, const char *message_id, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* For callers that write many rows per transaction with set-based statements: the INSERT of
 * rows given as arrays, kept in array order ($1 sources text[], $2 topics text[], $3 keys
 * bytea[] (NULL elements allowed), $4 payloads bytea[], $5 message ids text[]), and the
 * wake-up of the relays, needed once per transaction ($1 source). */
#define OUTBOX_INSERT_MANY_SQL                                                                \
	"INSERT INTO outbox (source, topic, msg_key, payload, message_id) "                   \
	"SELECT s, t, k, p, m FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], " \
	"$5::text[]) WITH ORDINALITY AS u(s, t, k, p, m, i) ORDER BY i"
#define OUTBOX_CHANNEL	  "shiren_outbox"
#define OUTBOX_NOTIFY_SQL "SELECT pg_notify('" OUTBOX_CHANNEL "', $1)"

struct outbox_relay_opts {
	const char *pg_dsn;
	const char *brokers;
	const char *source;	 /* rows to publish: outbox.source = this */
	int batch_max;		 /* rows per round, default 2000 */
	int idle_poll_ms;	 /* wait for NOTIFY at most this long when idle, default 500 */
	struct metrics *metrics; /* may be NULL */
	/* Extra librdkafka producer properties, NULL-terminated; may be NULL. */
	const char *const *kafka_extra;
};

struct outbox_relay;

/* Start the relay thread. It connects with backoff (never fails for an unreachable server).
 * Strings in `o` are copied; `lg` and `o->metrics` are borrowed. NULL on allocation failure. */
struct outbox_relay *outbox_relay_start(const struct outbox_relay_opts *o, struct log *lg);
/* Connected to PostgreSQL and Kafka, and holding the source's relay lock. Thread-safe. */
bool outbox_relay_ready(struct outbox_relay *r);
/* Messages published since start. Thread-safe. */
uint64_t outbox_relay_published(struct outbox_relay *r);
/* Stop: finish the round in flight (publish, wait up to `timeout_ms` for acks, delete what was
 * acknowledged), close. Accepts NULL. */
void outbox_relay_stop(struct outbox_relay *r, int timeout_ms);

#endif
