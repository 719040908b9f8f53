/* Unit tests for metering/metering_txn's failure classification: which failures of a
 * one-message transaction dead-letter the message, and which make the partition wait. */
#include "metering/metering_txn.h"

#include <errno.h>

#include "unit.h"

static void test_the_message_is_to_blame(void)
{
	/* Our own checks of a value the message carries. */
	CHECK(mt_failure_is_message(-EINVAL,
				    "usage entry x/0 cannot be stored: calls out of range"));
	CHECK(mt_failure_is_message(-E2BIG, "ledger rows cannot be encoded (-7)"));
	CHECK(mt_failure_is_message(-ERANGE, "amount overflows"));
	/* PostgreSQL refusing a value: data exceptions. */
	CHECK(mt_failure_is_message(-EIO, "[22003] ERROR:  bigint out of range"));
	CHECK(mt_failure_is_message(-EIO, "[22008] ERROR:  date/time field value out of range"));
}

static void test_anything_else_waits(void)
{
	static const char *const sql[] = {
		"[23514] ERROR:  new row violates check constraint \"metering_packages_check\"",
		"[23505] ERROR:  duplicate key value violates unique constraint",
		"[42501] ERROR:  permission denied for table metering_usage",
		"[42P01] ERROR:  relation \"metering_usage\" does not exist",
		"[42809] ERROR:  cannot copy to view \"metering_ledger\"",
		"[40001] ERROR:  could not serialize access",
		"[40P01] ERROR:  deadlock detected",
		"[57014] ERROR:  canceling statement due to statement timeout",
		"[53100] ERROR:  could not extend file: No space left on device",
		"[XX000] ERROR:  internal error",
		"[] server closed the connection unexpectedly",
		"[08006] connection lost",
		"[2200] short",
	};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		CHECK(!mt_failure_is_message(-EIO, sql[i]));
	CHECK(!mt_failure_is_message(-ENOMEM, "out of memory"));
	CHECK(!mt_failure_is_message(-EIO, "account 1/4 was not created"));
	CHECK(!mt_failure_is_message(-EIO, "unknown error"));
	CHECK(!mt_failure_is_message(-ECONNRESET, "connection reset"));
	CHECK(!mt_failure_is_message(-EINVAL, NULL));
}

UNIT_MAIN("metering_txn", UNIT_CASE(test_the_message_is_to_blame),
	  UNIT_CASE(test_anything_else_waits))
