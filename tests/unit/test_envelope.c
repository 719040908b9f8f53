/* Unit tests for common/envelope and the pg error helpers (no network). */
#include "common/envelope.h"

#include <errno.h>

#include "common/pg.h"
#include "shiren/v1/metering.pb-c.h"
#include "unit.h"

static void test_roundtrip_any_message(void)
{
	Shiren__V1__UsageEvent ev = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env;
	struct envelope_buf eb;
	REQUIRE(envelope_new(&env, &eb, "tenant-1", "req-9", "shiren-test") == 0);
	ev.envelope = &env;
	ev.event_id = "c:InitFaceVerify";
	ev.quantity = 3;
	uint8_t buf[256];
	size_t len = shiren__v1__usage_event__pack(&ev, buf);
	struct envelope_info info;
	REQUIRE(envelope_peek(buf, len, &info) == 0);
	CHECK_STR(info.message_id, eb.message_id);
	CHECK_INT(strlen(info.message_id), 36);
	CHECK_STR(info.tenant_id, "tenant-1");
	CHECK_STR(info.trace_id, "req-9");
	CHECK_STR(info.producer, "shiren-test");
	CHECK(info.produced_at_ms > 1700000000000LL);

	struct envelope_buf eb2;
	Shiren__V1__Envelope env2;
	REQUIRE(envelope_new(&env2, &eb2, NULL, NULL, "x") == 0);
	CHECK(strcmp(eb.message_id, eb2.message_id) != 0);
}

static void test_rejects_garbage(void)
{
	struct envelope_info info;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
	CHECK(envelope_peek(junk, sizeof(junk), &info) == -EBADMSG);
	CHECK(envelope_peek("", 0, &info) == -EBADMSG); /* no envelope */
	/* A message with an envelope but an empty message_id. */
	Shiren__V1__UsageEvent ev = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	ev.envelope = &env;
	uint8_t buf[64];
	size_t len = shiren__v1__usage_event__pack(&ev, buf);
	CHECK(envelope_peek(buf, len, &info) == -EBADMSG);
	/* An over-long id is refused rather than truncated. */
	char longid[100];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[99] = '\0';
	env.message_id = longid;
	uint8_t big[256];
	len = shiren__v1__usage_event__pack(&ev, big);
	CHECK(envelope_peek(big, len, &info) == -EBADMSG);
}

static void test_pg_error_helpers(void)
{
	char st[6];
	pg_err_sqlstate("[40001] could not serialize", st);
	CHECK_STR(st, "40001");
	pg_err_sqlstate("no state", st);
	CHECK_STR(st, "");
	CHECK(pg_err_retryable(-EIO, "[40P01] deadlock detected"));
	CHECK(pg_err_retryable(-ECONNRESET, ""));
	CHECK(!pg_err_retryable(-EIO, "[23505] duplicate key"));
}

UNIT_MAIN("envelope", UNIT_CASE(test_roundtrip_any_message), UNIT_CASE(test_rejects_garbage),
	  UNIT_CASE(test_pg_error_helpers))
