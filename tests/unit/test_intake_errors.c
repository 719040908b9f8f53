/* test_intake_errors — the gateway error table and its renderer. */
#include "intake/intake_errors.h"

#include <errno.h>
#include <string.h>

#include "unit.h"

static void test_error_table(void)
{
	char code[128], msg[512];
	for (int e = 1; e < INTAKE_ERR__COUNT; e++) {
		const struct intake_err_info *i = intake_err_info((enum intake_err)e);
		CHECK(i->code && *i->code && i->message && *i->message);
		CHECK(i->http_status >= 400 && i->http_status <= 599);
	}
	CHECK_INT(intake_err_info(INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH)->http_status, 400);
	CHECK_INT(intake_err_info(INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND)->http_status, 404);
	CHECK_STR(intake_err_info(INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND)->message,
		  "Specified access key is not found.");
	CHECK_INT(intake_err_info(INTAKE_ERR_INTERNAL_ERROR)->http_status, 500);
	CHECK_STR(intake_err_info(INTAKE_ERR_THROTTLING_USER)->code, "Throttling.User");
	CHECK_STR(intake_err_info((enum intake_err)999)->code, "InternalError");
	CHECK(intake_err_render(INTAKE_ERR_MISSING_PARAMETER, "Timestamp", NULL, code, sizeof(code),
				msg, sizeof(msg)) == 0);
	CHECK_STR(code, "MissingTimestamp");
	CHECK_STR(msg, "Timestamp is mandatory for this action.");
	CHECK(intake_err_render(INTAKE_ERR_MISSING_PARAMETER, NULL, NULL, code, sizeof(code), msg,
				sizeof(msg)) == 0);
	CHECK_STR(code, "MissingParameter");
	CHECK(intake_err_render(INTAKE_ERR_MISSING_PARAMETER, "bad name\"", NULL, code,
				sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(code, "MissingParameter"); /* an unprintable name is not echoed */
	CHECK(intake_err_render(INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED, "x", "Why.", code,
				sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(code, "InvalidTimeStamp.Expired");
	CHECK_STR(msg, "Specified time stamp or date value is expired. Why.");
	CHECK(intake_err_render(INTAKE_ERR_SIGNATURE_NONCE_USED, NULL, NULL, code, 4, msg,
				sizeof(msg)) == -ENOSPC);
	CHECK_STR(code, "Sig");
}

static void test_statuses_are_errors(void)
{
	/* The SDK treats any 2xx body as success (API.md §5.5): no error may use one. */
	for (int e = 1; e < INTAKE_ERR__COUNT; e++) {
		int st = intake_err_info((enum intake_err)e)->http_status;
		CHECK(st >= 400);
		if (e == INTAKE_ERR_INTERNAL_ERROR || e == INTAKE_ERR_SERVICE_UNAVAILABLE)
			CHECK(st >= 500);
		else
			CHECK(st < 500);
	}
	CHECK_INT(intake_err_info(INTAKE_ERR_NONE)->http_status, 200);
}

UNIT_MAIN("intake_errors", UNIT_CASE(test_error_table), UNIT_CASE(test_statuses_are_errors))
