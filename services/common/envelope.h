/* envelope — the protobuf envelope every Kafka message carries in its field 1 (DESIGN §4):
 * filling one for a new message and reading one from any payload without knowing its type. */
#ifndef SHIREN_COMMON_ENVELOPE_H
#define SHIREN_COMMON_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "shiren/v1/envelope.pb-c.h"

#define ENVELOPE_ID_MAX 64

/* Storage for the strings an Envelope points to, so a message can be packed without heap
 * copies. The Envelope's string fields point into this struct: keep both alive together. */
struct envelope_buf {
	char message_id[37];
	char tenant_id[ENVELOPE_ID_MAX];
	char trace_id[ENVELOPE_ID_MAX];
	char producer[32];
};

/* Fill `e` for a new message: a fresh UUIDv4 message_id, produced_at = now. `tenant` and
 * `trace` may be NULL (empty). 0, or -EIO when the CSPRNG fails. */
int envelope_new(Shiren__V1__Envelope *e, struct envelope_buf *b, const char *tenant,
		 const char *trace, const char *producer) __attribute__((warn_unused_result));

/* What a consumer needs from any payload's envelope. */
struct envelope_info {
	char message_id[ENVELOPE_ID_MAX];
	char tenant_id[ENVELOPE_ID_MAX];
	char trace_id[ENVELOPE_ID_MAX];
	char producer[32];
	int64_t produced_at_ms;
};

/* Decode the envelope of `payload`. -EBADMSG when it does not parse, has no envelope, or the
 * message_id is empty or longer than ENVELOPE_ID_MAX-1 bytes. */
int envelope_peek(const void *payload, size_t len, struct envelope_info *ret)
	__attribute__((warn_unused_result));

/* Unix time in milliseconds. */
int64_t envelope_now_ms(void);

#endif
