/* metering_period — billing periods: the natural month in UTC+8 (China Standard Time, no DST),
 * the day in UTC+8 for rollups, when a period closes (end + grace), and which period a late
 * event is billed into. Pure functions on Unix milliseconds: no clock, no I/O.
 *
 * A period is named by its id yyyymm (e.g. 202402) and covers [start_ms, end_ms): from
 * 00:00:00.000 UTC+8 on the 1st to 00:00:00.000 UTC+8 on the 1st of the next month.
 * Timestamps are accepted in [0, METERING_TIME_MAX_MS]; anything else is -ERANGE. */
#ifndef SHIREN_METERING_PERIOD_H
#define SHIREN_METERING_PERIOD_H

#include <stdbool.h>
#include <stdint.h>

#define METERING_TZ_OFFSET_MS (8LL * 3600 * 1000) /* UTC+8 */
#define METERING_DAY_MS	      (86400LL * 1000)
/* Default grace: a month closes at 12:00 UTC+8 on the 1st of the next month. */
#define METERING_GRACE_DEFAULT_MS (12LL * 3600 * 1000)
/* Grace is bounded so that at most one earlier period is ever open. */
#define METERING_GRACE_MAX_MS (27 * METERING_DAY_MS)
/* 9999-12-31T00:00:00Z: keeps every local date within four-digit years. */
#define METERING_TIME_MAX_MS 253402214400000LL

struct metering_period {
	int32_t id;	  /* yyyymm */
	int64_t start_ms; /* inclusive, UTC Unix ms */
	int64_t end_ms;	  /* exclusive, = start of the next period */
};

/* The period containing `t_ms`. 0 or -ERANGE. */
int metering_period_of(int64_t t_ms, struct metering_period *ret)
	__attribute__((warn_unused_result));
/* The period named `id` (yyyymm, month 1..12, year 1970..9999). 0 or -EINVAL. */
int metering_period_from_id(int32_t id, struct metering_period *ret)
	__attribute__((warn_unused_result));
/* Id of the month after / before `id`, or 0 when `id` is not a valid yyyymm. */
int32_t metering_period_next_id(int32_t id);
int32_t metering_period_prev_id(int32_t id);

/* When `p` closes: end_ms + grace_ms. */
int64_t metering_period_close_ms(const struct metering_period *p, int64_t grace_ms);

/* True when `p` still accepts events at reference time `now_ms`: now < end + grace and the
 * store has not already closed it (`closed_through` is the id of the newest period the store
 * has closed, 0 for none). */
bool metering_period_is_open(const struct metering_period *p, int64_t now_ms, int64_t grace_ms,
			     int32_t closed_through);

/* Where one event is billed. */
struct metering_placement {
	struct metering_period period; /* the period the event is billed into */
	int32_t event_period;	       /* the period its event time falls in */
	bool in_grace;		       /* event_period ended, but is still open: billed there */
	bool late;		       /* event_period closed: billed into `period`, flagged
	                                * late_from = event_period */
};

/* Place an event that happened at `event_ms`, applied at reference time `now_ms` (the service
 * passes the message's ingest time, so a replay places it the same way). The event is billed by
 * event time into its own period while that is open; otherwise into the period of `now_ms`
 * (never into a period <= closed_through), flagged late. Events from the future are billed by
 * event time. 0, -ERANGE (a time out of range) or -EINVAL (grace out of [0, max]). */
int metering_period_place(int64_t event_ms, int64_t now_ms, int64_t grace_ms,
			  int32_t closed_through, struct metering_placement *ret)
	__attribute__((warn_unused_result));

/* The UTC+8 day containing `t_ms`: id yyyymmdd and its start (UTC Unix ms). 0 or -ERANGE. */
int metering_day_of(int64_t t_ms, int32_t *ret_day, int64_t *ret_start_ms)
	__attribute__((warn_unused_result));

/* `t_ms` plus `months` calendar months in UTC+8, same local time of day; the day of month is
 * clamped to the target month's length (2024-02-29 + 12 months = 2025-02-28). 0 or -ERANGE. */
int metering_time_add_months(int64_t t_ms, int months, int64_t *ret_ms)
	__attribute__((warn_unused_result));

#endif
