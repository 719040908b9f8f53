/* Unit tests for metering/metering_decode: what a shiren.usage.v1 payload must look like to be
 * metered, and the reason each bad one is dead-lettered with. */
#include "metering/metering_decode.h"

#include <errno.h>
#include <string.h>

#include "shiren/v1/metering.pb-c.h"
#include "unit.h"

#define TENANT	"7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e11"
#define CERTIFY "91707dc296d469ad38e4c5efa6a0f24b"
static const int64_t NOW = 1732780800000LL; /* 2024-11-28T08:00Z */
static const struct mt_decode_limits LIM = {.max_quantity = 1000, .max_future_ms = 300000};

struct fx {
	Shiren__V1__UsageEvent u;
	Shiren__V1__Envelope e;
	uint8_t buf[1024];
	size_t len;
};

static void fx_init(struct fx *f)
{
	shiren__v1__usage_event__init(&f->u);
	shiren__v1__envelope__init(&f->e);
	f->e.message_id = (char *)"m-1";
	f->e.tenant_id = (char *)TENANT;
	f->e.produced_at_ms = NOW;
	f->u.envelope = &f->e;
	f->u.event_id = (char *)CERTIFY ":InitFaceVerify";
	f->u.certify_id = (char *)CERTIFY;
	f->u.action = (char *)"InitFaceVerify";
	f->u.product = SHIREN__V1__PRODUCT__PRODUCT_PV_FV;
	f->u.scene_id = 1000001;
	f->u.quantity = 1;
	f->u.sub_code = 200;
	f->u.billable = 1;
	f->u.occurred_at_ms = NOW - 1000;
}

static int decode(struct fx *f, int64_t ingest, struct mt_event *ev, const char **reason)
{
	char err[160];
	f->len = shiren__v1__usage_event__pack(&f->u, f->buf);
	return mt_decode_usage(f->buf, f->len, 2, 77, ingest, &LIM, ev, reason, err, sizeof(err));
}

static void test_good_event(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	fx_init(&f);
	REQUIRE(decode(&f, NOW, &ev, &reason) == 0);
	CHECK_STR(ev.event_id, CERTIFY ":InitFaceVerify");
	CHECK_STR(ev.certify, CERTIFY);
	CHECK_STR(ev.action, "InitFaceVerify");
	CHECK_INT(ev.action_code, 0); /* the caller numbers actions */
	CHECK_STR(ev.tenant, TENANT);
	CHECK_INT(ev.product, 4);
	CHECK_INT(ev.scene_id, 1000001);
	CHECK(ev.billable);
	CHECK_INT(ev.occurred_ms, NOW - 1000);
	CHECK_INT(ev.ingest_ms, NOW);
	CHECK_INT(ev.partition, 2);
	CHECK_INT(ev.offset, 77);
}

/* SubCodes 200..206 bill; others are counted only. The flag must agree. */
static void test_billable_by_subcode(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	fx_init(&f);
	for (int sc = 199; sc <= 207; sc++) {
		f.u.sub_code = sc;
		f.u.billable = sc >= 200 && sc <= 206;
		REQUIRE(decode(&f, NOW, &ev, &reason) == 0);
		CHECK_INT(ev.billable, sc >= 200 && sc <= 206);
	}
	f.u.sub_code = 205;
	f.u.billable = 0;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_BILLABLE);
	f.u.sub_code = 107;
	f.u.billable = 1;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_BILLABLE);
}

static void test_rejects(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	char err[160];
	static const uint8_t junk[] = {0xff, 0xfe, 0x00, 0x01};
	CHECK_INT(mt_decode_usage(junk, sizeof(junk), 0, 1, NOW, &LIM, &ev, &reason, err,
				  sizeof(err)),
		  -EBADMSG);
	CHECK_STR(reason, MT_REJECT_DECODE);

	fx_init(&f);
	f.u.envelope = NULL;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_DECODE);

	fx_init(&f);
	f.u.event_id = (char *)"";
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_EVENT_ID);
	/* The contract: <CertifyId: 32 hex digits>:<Action>, agreeing with the fields. */
	static const char *const bad_ids[] = {
		"has space",
		"sha1234:InitFaceVerify",			    /* not 32 hex digits */
		"91707dc296d469ad38e4c5efa6a0f24:InitFaceVerify",   /* 31 */
		"91707dc296d469ad38e4c5efa6a0f24bb:InitFaceVerify", /* 33 */
		"91707dc296d469ad38e4c5efa6a0f24g:InitFaceVerify",  /* not hex */
		CERTIFY,					    /* no action */
		CERTIFY ":",
		CERTIFY ":9Verify", /* an action starts with a letter */
		CERTIFY ":Init-Face",
		CERTIFY ":Init:Face",
		CERTIFY
		":InitFaceVerifyInitFaceVerifyInitFaceVerifyInitFaceVerifyInitFaceV", /* 65 */
	};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		f.u.event_id = (char *)bad_ids[i];
		CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
		CHECK_STR(reason, MT_REJECT_EVENT_ID);
	}
	fx_init(&f);
	f.u.certify_id = (char *)"00000000000000000000000000000000";
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_EVENT_ID);
	fx_init(&f);
	f.u.action = (char *)"CompareFaceVerify";
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_EVENT_ID);
	/* Empty fields are not checked; upper-case hex is the same CertifyId, made canonical. */
	fx_init(&f);
	f.u.certify_id = (char *)"";
	f.u.action = (char *)"";
	f.u.event_id = (char *)"91707DC296D469AD38E4C5EFA6A0F24B:Mobile3MetaSimpleVerify";
	REQUIRE(decode(&f, NOW, &ev, &reason) == 0);
	CHECK_STR(ev.event_id, CERTIFY ":Mobile3MetaSimpleVerify");
	CHECK_STR(ev.certify, CERTIFY);
	CHECK_STR(ev.action, "Mobile3MetaSimpleVerify");
	f.u.event_id = (char *)CERTIFY
		":"
		"InitFaceVerifyInitFaceVerifyInitFaceVerifyInitFaceVerifyInitFace"; /* 64 */
	CHECK_INT(decode(&f, NOW, &ev, &reason), 0);

	fx_init(&f);
	f.u.sub_code = 32768;
	f.u.billable = 0;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_SUBCODE);
	f.u.sub_code = -1;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_SUBCODE);

	fx_init(&f);
	f.len = shiren__v1__usage_event__pack(&f.u, f.buf);
	CHECK_INT(mt_decode_usage(f.buf, f.len, MT_PARTITION_MAX + 1, 0, NOW, &LIM, &ev, &reason,
				  err, sizeof(err)),
		  -EBADMSG);
	CHECK_STR(reason, MT_REJECT_PARTITION);
	CHECK_INT(mt_decode_usage(f.buf, f.len, MT_PARTITION_MAX, 0, NOW, &LIM, &ev, &reason, err,
				  sizeof(err)),
		  0);

	fx_init(&f);
	f.e.tenant_id = (char *)"acme";
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_TENANT);
	CHECK_STR(ev.tenant, ""); /* nothing of the bad value is kept */

	fx_init(&f);
	f.u.product = 9;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_PRODUCT);
	f.u.product = 0;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);

	fx_init(&f);
	f.u.scene_id = -5;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_SCENE);
}

static void test_quantity_bounds(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	fx_init(&f);
	const int64_t bad[] = {0, -1, -1000000, 1001, INT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.u.quantity = bad[i];
		CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
		CHECK_STR(reason, MT_REJECT_QUANTITY);
	}
	f.u.quantity = 1000;
	CHECK_INT(decode(&f, NOW, &ev, &reason), 0);
}

/* Up to max_future after ingest is fine; beyond is rejected. Late events are accepted. */
static void test_times(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	fx_init(&f);
	f.u.occurred_at_ms = NOW + 300000;
	CHECK_INT(decode(&f, NOW, &ev, &reason), 0);
	f.u.occurred_at_ms = NOW + 300001;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_FUTURE);
	f.u.occurred_at_ms = NOW - 90LL * 86400000;
	CHECK_INT(decode(&f, NOW, &ev, &reason), 0);
	f.u.occurred_at_ms = 0;
	CHECK_INT(decode(&f, NOW, &ev, &reason), -EBADMSG);
	CHECK_STR(reason, MT_REJECT_TIME);
	/* No broker timestamp: the envelope's produced_at is the ingest time. */
	f.u.occurred_at_ms = NOW - 5;
	REQUIRE(decode(&f, -1, &ev, &reason) == 0);
	CHECK_INT(ev.ingest_ms, NOW);
}

static void test_uuid_helpers(void)
{
	char a[37], b[37];
	CHECK(mt_uuid_canonical(TENANT));
	CHECK(!mt_uuid_canonical("7D0C6A52-2F4E-4A51-9A53-0C1B3A0F6E11"));
	CHECK(!mt_uuid_canonical("7d0c6a52-2f4e-4a51-9a53-0c1b3a0f6e1"));
	CHECK(!mt_uuid_canonical("7d0c6a52x2f4e-4a51-9a53-0c1b3a0f6e11"));
	REQUIRE(mt_uuid_from("shiren.metering.dlq|t|0|1", a) == 0);
	REQUIRE(mt_uuid_from("shiren.metering.dlq|t|0|1", b) == 0);
	CHECK_STR(a, b);
	CHECK(mt_uuid_canonical(a));
	CHECK(a[14] == '8');
	REQUIRE(mt_uuid_from("shiren.metering.dlq|t|0|2", b) == 0);
	CHECK(strcmp(a, b) != 0);
}

/* An upper-case tenant id is accepted and stored in canonical form. */
static void test_tenant_case(void)
{
	struct fx f;
	struct mt_event ev;
	const char *reason;
	fx_init(&f);
	f.e.tenant_id = (char *)"7D0C6A52-2F4E-4A51-9A53-0C1B3A0F6E11";
	REQUIRE(decode(&f, NOW, &ev, &reason) == 0);
	CHECK_STR(ev.tenant, TENANT);
}

UNIT_MAIN("test_metering_decode", UNIT_CASE(test_good_event), UNIT_CASE(test_billable_by_subcode),
	  UNIT_CASE(test_rejects), UNIT_CASE(test_quantity_bounds), UNIT_CASE(test_times),
	  UNIT_CASE(test_uuid_helpers), UNIT_CASE(test_tenant_case))
