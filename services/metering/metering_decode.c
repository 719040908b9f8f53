/* metering_decode — shiren.usage.v1 payload checks (metering_decode.h). */
#include "metering/metering_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool action_ok(const char *s, size_t n)
{
	if (n == 0 || n >= MT_ACTION_MAX || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]))
			return false;
	return true;
}

/* Split "<32 hex>:<Action>" into ev->certify (lower-cased) and ev->action, and write the
 * canonical form back into ev->event_id; false when `s` has another shape. */
static bool event_id_parse(const char *s, struct mt_event *ev)
{
	if (!s || strnlen(s, MT_EVENT_ID_MAX) >= MT_EVENT_ID_MAX || strlen(s) <= MT_CERTIFY_LEN ||
	    s[MT_CERTIFY_LEN] != ':')
		return false;
	for (size_t i = 0; i < MT_CERTIFY_LEN; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
			return false;
		ev->certify[i] = c;
	}
	ev->certify[MT_CERTIFY_LEN] = '\0';
	const char *a = s + MT_CERTIFY_LEN + 1;
	size_t n = strlen(a);
	if (!action_ok(a, n))
		return false;
	memcpy(ev->action, a, n + 1);
	(void)snprintf(ev->event_id, sizeof(ev->event_id), "%s:%s", ev->certify, ev->action);
	return true;
}

/* The printable prefix of untrusted `s` for an error message. */
static void printable(const char *s, char *out, size_t outlen)
{
	size_t k = 0;
	for (; s && *s && k + 1 < outlen; s++)
		out[k++] = ((unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f) ? *s : '?';
	out[k] = '\0';
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
	char shown[80];
	if (!event_id_parse(m->event_id, ev)) {
		printable(m->event_id, shown, sizeof(shown));
		return reject(ret_reason, MT_REJECT_EVENT_ID, err, errlen,
			      "event_id \"%s\" is not <CertifyId: 32 hex digits>:<Action>", shown);
	}
	if ((m->certify_id && *m->certify_id && strcasecmp(m->certify_id, ev->certify) != 0) ||
	    (m->action && *m->action && strcmp(m->action, ev->action) != 0))
		return reject(ret_reason, MT_REJECT_EVENT_ID, err, errlen,
			      "event_id %s disagrees with certify_id/action", ev->event_id);
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
	if (m->sub_code < 0 || m->sub_code > MT_SUBCODE_MAX)
		return reject(ret_reason, MT_REJECT_SUBCODE, err, errlen,
			      "sub_code %lld out of range", (long long)m->sub_code);
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
	if (partition < 0 || partition > MT_PARTITION_MAX)
		return reject(ret_reason, MT_REJECT_PARTITION, err, errlen,
			      "partition %lld is above %d", (long long)partition, MT_PARTITION_MAX);
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
