/* libFuzzer harness for metering/metering_decode, the parser of shiren.usage.v1 payloads read
 * from Kafka. The first byte picks the mode: the rest is either a whole payload, or the
 * event_id (and certify_id/action, split at NUL bytes) of an otherwise valid event, so the id
 * parser sees far more near-valid ids than random protobuf would give it.
 *
 * Checked: a rejection names a known reason and leaves a terminated message; an accepted event
 * has a canonical id (32 lower-case hex digits, ':', an action name), fields within the
 * limits, the billable flag that its SubCode says; an accepted id is the input up to the case
 * of its hex digits, and decoding its canonical form again gives the same event. */
#include "metering/metering_decode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shiren/v1/metering.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mt_decode_limits LIM = {.max_quantity = 1000, .max_future_ms = 300000};
static const int64_t NOW = 1764547200000LL;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_metering_decode: %s\n", what);
	abort();
}

static bool known_reason(const char *r)
{
	static const char *const all[] = {
		MT_REJECT_DECODE,   MT_REJECT_EVENT_ID, MT_REJECT_TENANT,    MT_REJECT_PRODUCT,
		MT_REJECT_QUANTITY, MT_REJECT_BILLABLE, MT_REJECT_TIME,	     MT_REJECT_FUTURE,
		MT_REJECT_SCENE,    MT_REJECT_SUBCODE,	MT_REJECT_PARTITION,
	};
	for (size_t i = 0; r && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(r, all[i]) == 0)
			return true;
	return false;
}

static void check_accepted(const struct mt_event *ev)
{
	char want[MT_EVENT_ID_MAX];
	if (strlen(ev->certify) != MT_CERTIFY_LEN)
		fail("certify is not 32 characters");
	for (size_t i = 0; i < MT_CERTIFY_LEN; i++)
		if (!((ev->certify[i] >= '0' && ev->certify[i] <= '9') ||
		      (ev->certify[i] >= 'a' && ev->certify[i] <= 'f')))
			fail("certify is not lower-case hex");
	size_t n = strlen(ev->action);
	if (n == 0 || n >= MT_ACTION_MAX)
		fail("action length");
	for (size_t i = 0; i < n; i++) {
		char c = ev->action[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			fail("action has a character outside [A-Za-z][A-Za-z0-9]*");
	}
	(void)snprintf(want, sizeof(want), "%s:%s", ev->certify, ev->action);
	if (strcmp(want, ev->event_id) != 0)
		fail("event_id is not certify:action");
	if (!mt_uuid_canonical(ev->tenant))
		fail("tenant is not canonical");
	if (ev->quantity < 1 || ev->quantity > LIM.max_quantity)
		fail("quantity outside the limits");
	if (ev->sub_code < 0 || ev->sub_code > MT_SUBCODE_MAX)
		fail("sub_code outside 0..32767");
	if (ev->billable != (ev->sub_code >= MT_SUBCODE_BILL0 && ev->sub_code <= MT_SUBCODE_BILL1))
		fail("billable disagrees with the SubCode");
	if (ev->product < 1 || ev->product > MT_PRODUCT_MAX || ev->scene_id < 0)
		fail("product or scene outside the limits");
	if (ev->action_code != 0)
		fail("the decoder numbered an action");
}

static int decode(const void *p, size_t len, struct mt_event *ev)
{
	const char *reason = NULL;
	char err[160];
	memset(err, 'x', sizeof(err));
	int rc = mt_decode_usage(p, len, 3, 42, NOW, &LIM, ev, &reason, err, sizeof(err));
	if (rc == 0) {
		check_accepted(ev);
		return 0;
	}
	if (rc != -EBADMSG)
		fail("a rejection other than -EBADMSG");
	if (!known_reason(reason))
		fail("unknown reason");
	if (!memchr(err, '\0', sizeof(err)))
		fail("message not terminated");
	return rc;
}

/* A valid event around the fuzzed id strings; accepted events must round-trip. */
static void ids_mode(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 3);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = s[size + 1] = s[size + 2] = '\0';
	const char *id = s, *certify = id + strlen(id) + 1;
	if (certify > s + size)
		certify = s + size + 1;
	const char *action = certify + strlen(certify) + 1;
	if (action > s + size + 1)
		action = s + size + 2;

	Shiren__V1__UsageEvent u = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	env.message_id = (char *)"m-1";
	env.tenant_id = (char *)"7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e11";
	env.produced_at_ms = NOW;
	u.envelope = &env;
	u.event_id = (char *)id;
	u.certify_id = (char *)certify;
	u.action = (char *)action;
	u.product = SHIREN__V1__PRODUCT__PRODUCT_PV_FV;
	u.scene_id = 1000001;
	u.quantity = 1;
	u.sub_code = 200;
	u.billable = 1;
	u.occurred_at_ms = NOW - 1000;
	size_t len = shiren__v1__usage_event__get_packed_size(&u);
	uint8_t *buf = malloc(len ? len : 1);
	struct mt_event ev, again;
	if (buf) {
		(void)shiren__v1__usage_event__pack(&u, buf);
		if (decode(buf, len, &ev) == 0) {
			/* It is the input, with the CertifyId's hex digits in lower case. */
			if (strlen(id) != strlen(ev.event_id) ||
			    strncasecmp(id, ev.event_id, MT_CERTIFY_LEN) != 0 ||
			    strcmp(id + MT_CERTIFY_LEN, ev.event_id + MT_CERTIFY_LEN) != 0)
				fail("the accepted id is not the input's");
			/* The canonical id is accepted as it is and gives the same event. */
			u.event_id = ev.event_id;
			u.certify_id = (char *)"";
			u.action = (char *)"";
			uint8_t *b2 = malloc(shiren__v1__usage_event__get_packed_size(&u));
			if (b2) {
				len = shiren__v1__usage_event__pack(&u, b2);
				if (decode(b2, len, &again) != 0 ||
				    strcmp(again.event_id, ev.event_id) != 0)
					fail("the canonical id does not round-trip");
				free(b2);
			}
		}
	}
	free(buf);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_event ev;
	if (size == 0)
		return 0;
	if (data[0] & 1)
		ids_mode(data + 1, size - 1);
	else
		(void)decode(data + 1, size - 1, &ev);
	return 0;
}
