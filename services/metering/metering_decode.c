/* metering_decode — shiren.usage.v1 payload checks (metering_decode.h). */
#include "metering/metering_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "metering/metering_period.h"
#include "shiren/v1/metering.pb-c.h"

bool mt_uuid_canonical(const char *s)
{
	if (!s || strlen(s) != MT_TENANT_LEN)
		return false;
	for (size_t i = 0; i < MT_TENANT_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}

int mt_uuid_from(const char *text, char out[37])
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char hex[33];
	if (crypto_hash(CRYPTO_HASH_SHA256, text, strlen(text), h) < 0)
		return -EINVAL;
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	crypto_hex(h, 16, hex);
	(void)snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		       hex + 20);
	return 0;
}

/* Copy a UUID, lower-casing it; false when it is not UUID-shaped. */
static bool tenant_copy(const char *in, char out[MT_TENANT_LEN + 1])
{
	if (!in || strlen(in) != MT_TENANT_LEN)
		return false;
	for (size_t i = 0; i < MT_TENANT_LEN; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'F') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[MT_TENANT_LEN] = '\0';
	return mt_uuid_canonical(out);
}

static bool event_id_ok(const char *s)
{
	if (!s || !*s)
		return false;
	size_t n = strnlen(s, MT_EVENT_ID_MAX);
	if (n >= MT_EVENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

__attribute__((format(printf, 5, 6))) static int
reject(const char **ret_reason, const char *reason, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	*ret_reason = reason;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* The field checks, on a decoded message. */
static int check_fields(const Shiren__V1__UsageEvent *m, const struct mt_decode_limits *lim,
			struct mt_event *ev, const char **ret_reason, char *err, size_t errlen)
{
	if (!event_id_ok(m->event_id))
		return reject(ret_reason, MT_REJECT_EVENT_ID, err, errlen,
			      "event_id must be 1-%lld printable ASCII bytes",
			      (long long)MT_EVENT_ID_MAX - 1);
	memcpy(ev->event_id, m->event_id, strlen(m->event_id) + 1);
	if (!tenant_copy(m->envelope->tenant_id, ev->tenant)) {
		memset(ev->tenant, 0, sizeof(ev->tenant));
		return reject(
			ret_reason, MT_REJECT_TENANT, err, errlen,
			"envelope tenant_id is not a UUID (%lld bytes)",
			(long long)(m->envelope->tenant_id ? strlen(m->envelope->tenant_id) : 0));
	}
	if ((int)m->product < 1 || (int)m->product > MT_PRODUCT_MAX)
		return reject(ret_reason, MT_REJECT_PRODUCT, err, errlen, "unknown product %lld",
			      (long long)m->product);
	ev->product = (int32_t)m->product;
	if (m->scene_id < 0)
		return reject(ret_reason, MT_REJECT_SCENE, err, errlen, "negative scene_id %lld",
			      (long long)m->scene_id);
	ev->scene_id = m->scene_id;
	if (m->quantity < 1 || m->quantity > lim->max_quantity)
		return reject(ret_reason, MT_REJECT_QUANTITY, err, errlen,
			      "quantity %lld out of range", (long long)m->quantity);
	ev->quantity = m->quantity;
	ev->sub_code = m->sub_code;
	ev->billable = m->sub_code >= MT_SUBCODE_BILL0 && m->sub_code <= MT_SUBCODE_BILL1;
	if ((bool)m->billable != ev->billable)
		return reject(ret_reason, MT_REJECT_BILLABLE, err, errlen,
			      "billable flag disagrees with SubCode %lld", (long long)m->sub_code);
	return 0;
}

static int check_times(const Shiren__V1__UsageEvent *m, int64_t ingest_ms,
		       const struct mt_decode_limits *lim, struct mt_event *ev,
		       const char **ret_reason, char *err, size_t errlen)
{
	if (ingest_ms <= 0)
		ingest_ms = m->envelope->produced_at_ms;
	if (ingest_ms <= 0 || ingest_ms >= METERING_TIME_MAX_MS)
		return reject(ret_reason, MT_REJECT_TIME, err, errlen,
			      "no usable ingest time (%lld)", (long long)ingest_ms);
	if (m->occurred_at_ms <= 0 || m->occurred_at_ms >= METERING_TIME_MAX_MS)
		return reject(ret_reason, MT_REJECT_TIME, err, errlen,
			      "occurred_at_ms %lld out of range", (long long)m->occurred_at_ms);
	if (m->occurred_at_ms > ingest_ms && m->occurred_at_ms - ingest_ms > lim->max_future_ms)
		return reject(ret_reason, MT_REJECT_FUTURE, err, errlen,
			      "occurred_at_ms is %lld ms after ingest",
			      (long long)(m->occurred_at_ms - ingest_ms));
	ev->occurred_ms = m->occurred_at_ms;
	ev->ingest_ms = ingest_ms;
	return 0;
}

int mt_decode_usage(const void *payload, size_t len, int32_t partition, int64_t offset,
		    int64_t ingest_ms, const struct mt_decode_limits *lim, struct mt_event *ret,
		    const char **ret_reason, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	ret->partition = partition;
	ret->offset = offset;
	*ret_reason = NULL;
	Shiren__V1__UsageEvent *m =
		shiren__v1__usage_event__unpack(NULL, len, (const uint8_t *)payload);
	if (!m || !m->envelope) {
		if (m)
			shiren__v1__usage_event__free_unpacked(m, NULL);
		return reject(ret_reason, MT_REJECT_DECODE, err, errlen,
			      "not a UsageEvent with an envelope (%lld bytes)", (long long)len);
	}
	int rc = check_fields(m, lim, ret, ret_reason, err, errlen);
	if (rc == 0)
		rc = check_times(m, ingest_ms, lim, ret, ret_reason, err, errlen);
	shiren__v1__usage_event__free_unpacked(m, NULL);
	return rc;
}
