/* metering_period — natural months and days in UTC+8 from Unix milliseconds, period close with
 * grace, and the placement of late events. Civil-date arithmetic after H. Hinnant's
 * days_from_civil / civil_from_days (proleptic Gregorian, exact for every date used here). */
#include "metering/metering_period.h"

#include <errno.h>

struct civil {
	int64_t y;
	int m; /* 1..12 */
	int d; /* 1..31 */
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static struct civil civil_from_days(int64_t z)
{
	struct civil c;
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	c.d = (int)(doy - (153 * mp + 2) / 5 + 1);
	c.m = (int)(mp < 10 ? mp + 3 : mp - 9);
	c.y = era * 400 + yoe + (c.m <= 2);
	return c;
}

static bool time_ok(int64_t t_ms)
{
	return t_ms >= 0 && t_ms <= METERING_TIME_MAX_MS;
}

/* UTC instant of 00:00 UTC+8 on y-m-d. */
static int64_t local_midnight_ms(int64_t y, int m, int d)
{
	return days_from_civil(y, m, d) * METERING_DAY_MS - METERING_TZ_OFFSET_MS;
}

static int days_in_month(int64_t y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : len[m - 1];
}

static void period_fill(int64_t y, int m, struct metering_period *ret)
{
	int64_t ny = m == 12 ? y + 1 : y;
	int nm = m == 12 ? 1 : m + 1;
	ret->id = (int32_t)(y * 100 + m);
	ret->start_ms = local_midnight_ms(y, m, 1);
	ret->end_ms = local_midnight_ms(ny, nm, 1);
}

int metering_period_of(int64_t t_ms, struct metering_period *ret)
{
	if (!time_ok(t_ms))
		return -ERANGE;
	struct civil c = civil_from_days(floor_div(t_ms + METERING_TZ_OFFSET_MS, METERING_DAY_MS));
	period_fill(c.y, c.m, ret);
	return 0;
}

static bool id_ok(int32_t id)
{
	int32_t y = id / 100, m = id % 100;
	return id > 0 && y >= 1970 && y <= 9999 && m >= 1 && m <= 12;
}

int metering_period_from_id(int32_t id, struct metering_period *ret)
{
	if (!id_ok(id))
		return -EINVAL;
	period_fill(id / 100, id % 100, ret);
	return 0;
}

int32_t metering_period_next_id(int32_t id)
{
	if (!id_ok(id))
		return 0;
	return id % 100 == 12 ? (id / 100 + 1) * 100 + 1 : id + 1;
}

int32_t metering_period_prev_id(int32_t id)
{
	if (!id_ok(id))
		return 0;
	return id % 100 == 1 ? (id / 100 - 1) * 100 + 12 : id - 1;
}

int64_t metering_period_close_ms(const struct metering_period *p, int64_t grace_ms)
{
	return p->end_ms + grace_ms;
}

bool metering_period_is_open(const struct metering_period *p, int64_t now_ms, int64_t grace_ms,
			     int32_t closed_through)
{
	return p->id > closed_through && now_ms < metering_period_close_ms(p, grace_ms);
}

int metering_period_place(int64_t event_ms, int64_t now_ms, int64_t grace_ms,
			  int32_t closed_through, struct metering_placement *ret)
{
	struct metering_period ev, cur;
	int r;

	if (grace_ms < 0 || grace_ms > METERING_GRACE_MAX_MS)
		return -EINVAL;
	if ((r = metering_period_of(event_ms, &ev)) < 0 ||
	    (r = metering_period_of(now_ms, &cur)) < 0)
		return r;
	ret->event_period = ev.id;
	ret->in_grace = false;
	ret->late = false;
	if (metering_period_is_open(&ev, now_ms, grace_ms, closed_through)) {
		ret->period = ev;
		ret->in_grace = now_ms >= ev.end_ms;
		return 0;
	}
	/* Closed: the current period, or the first one the store has not closed yet. */
	ret->late = true;
	while (cur.id <= closed_through) {
		int32_t next = metering_period_next_id(cur.id);
		if (!next || metering_period_from_id(next, &cur) < 0)
			return -ERANGE;
	}
	ret->period = cur;
	return 0;
}

int metering_day_of(int64_t t_ms, int32_t *ret_day, int64_t *ret_start_ms)
{
	if (!time_ok(t_ms))
		return -ERANGE;
	int64_t days = floor_div(t_ms + METERING_TZ_OFFSET_MS, METERING_DAY_MS);
	struct civil c = civil_from_days(days);
	*ret_day = (int32_t)(c.y * 10000 + c.m * 100 + c.d);
	*ret_start_ms = days * METERING_DAY_MS - METERING_TZ_OFFSET_MS;
	return 0;
}

int metering_time_add_months(int64_t t_ms, int months, int64_t *ret_ms)
{
	if (!time_ok(t_ms) || months < -12 * 9000 || months > 12 * 9000)
		return -ERANGE;
	int64_t local = t_ms + METERING_TZ_OFFSET_MS;
	int64_t days = floor_div(local, METERING_DAY_MS);
	int64_t tod = local - days * METERING_DAY_MS;
	struct civil c = civil_from_days(days);
	int64_t mi = c.y * 12 + (c.m - 1) + months;
	int64_t y = floor_div(mi, 12);
	int m = (int)(mi - y * 12) + 1;
	int d = c.d <= days_in_month(y, m) ? c.d : days_in_month(y, m);
	int64_t out = days_from_civil(y, m, d) * METERING_DAY_MS + tod - METERING_TZ_OFFSET_MS;
	if (!time_ok(out))
		return -ERANGE;
	*ret_ms = out;
	return 0;
}
