/* envelope — create and read message envelopes (envelope.h). */
#include "common/envelope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"

int64_t envelope_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int envelope_new(Shiren__V1__Envelope *e, struct envelope_buf *b, const char *tenant,
		 const char *trace, const char *producer)
{
	shiren__v1__envelope__init(e);
	if (crypto_uuid4(b->message_id) < 0)
		return -EIO;
	snprintf(b->tenant_id, sizeof(b->tenant_id), "%s", tenant ? tenant : "");
	snprintf(b->trace_id, sizeof(b->trace_id), "%s", trace ? trace : "");
	snprintf(b->producer, sizeof(b->producer), "%s", producer ? producer : "");
	e->message_id = b->message_id;
	e->tenant_id = b->tenant_id;
	e->trace_id = b->trace_id;
	e->producer = b->producer;
	e->produced_at_ms = envelope_now_ms();
	return 0;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	size_t l = src ? strlen(src) : 0;
	if (l >= cap)
		return -EBADMSG;
	memcpy(dst, src ? src : "", l);
	dst[l] = '\0';
	return 0;
}

int envelope_peek(const void *payload, size_t len, struct envelope_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	Shiren__V1__EnvelopeOnly *m = shiren__v1__envelope_only__unpack(NULL, len, payload);
	if (!m)
		return -EBADMSG;
	int rc = -EBADMSG;
	const Shiren__V1__Envelope *e = m->envelope;
	if (!e || !e->message_id || !e->message_id[0])
		goto out;
	if (copy_field(ret->message_id, sizeof(ret->message_id), e->message_id) < 0 ||
	    copy_field(ret->tenant_id, sizeof(ret->tenant_id), e->tenant_id) < 0 ||
	    copy_field(ret->trace_id, sizeof(ret->trace_id), e->trace_id) < 0 ||
	    copy_field(ret->producer, sizeof(ret->producer), e->producer) < 0)
		goto out;
	ret->produced_at_ms = e->produced_at_ms;
	rc = 0;
out:
	shiren__v1__envelope_only__free_unpacked(m, NULL);
	return rc;
}
