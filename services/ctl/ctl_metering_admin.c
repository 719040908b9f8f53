/* ctl_metering_admin — the changes: top-up, refund and settings are queued in
 * metering_commands for shiren-metering (the single writer of balances, which applies them with
 * their ledger entries and alerts) and waited for; ladder versions are inserted directly (the
 * catalog is shirenctl's). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "common/product.h"
#include "ctl/ctl_metering.h"

#define WAIT_DEFAULT_MS 10000

static const char *actor_of(const struct ctl_mopts *o)
{
	if (o->actor)
		return o->actor;
	const char *u = getenv("USER");
	return u && *u ? u : "shirenctl";
}

/* Tenant and product from the options. CTL_EXIT_OK or an error code (printed). */
static int tenant_product(struct ctl *c, const struct ctl_mopts *o, char tid[37], int *ret_prod)
{
	if (!o->tenant || !o->product)
		return ctl_fail(c, CTL_EXIT_USAGE, "--tenant and --product are required");
	*ret_prod = product_parse(o->product);
	if (*ret_prod < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "unknown product '%s': use %s or 1-%d",
				o->product, product_names(), PRODUCT_MAX);
	return ctl_tenant_resolve(c, o->tenant, tid, NULL, 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait for command `id` to be applied. CTL_EXIT_OK (done), DATA (refused), UNAVAILABLE. */
static int wait_command(struct ctl *c, const char *id, const struct ctl_mopts *o)
{
	int64_t wait = WAIT_DEFAULT_MS;
	char err[512];
	if (o->no_wait) {
		fprintf(c->out, "queued command %s\n", id);
		return CTL_EXIT_OK;
	}
	if (o->wait_ms && ctl_m_count(o->wait_ms, &wait) < 0)
		return ctl_fail(c, CTL_EXIT_USAGE, "--wait-ms wants milliseconds");
	const char *p[] = {id};
	for (int64_t waited = 0;; waited += 100) {
		PGresult *r = NULL;
		int rc = pg_exec(c->pg, "SELECT status, error FROM metering_commands WHERE id = $1",
				 1, p, &r, err, sizeof(err));
		if (rc < 0)
			return ctl_db_fail(c, rc, err, "waiting for the change");
		const char *st = PQgetvalue(r, 0, 0);
		if (strcmp(st, "done") == 0) {
			PQclear(r);
			return CTL_EXIT_OK;
		}
		if (strcmp(st, "failed") == 0) {
			int code =
				ctl_fail(c, CTL_EXIT_DATA, "shiren-metering refused the change: %s",
					 PQgetvalue(r, 0, 1));
			PQclear(r);
			return code;
		}
		PQclear(r);
		if (waited >= wait)
			return ctl_fail(
				c, CTL_EXIT_UNAVAILABLE,
				"queued as command %s, but shiren-metering has not applied it "
				"within %lld ms (is it running?); it will be applied when it "
				"runs",
				id, (long long)wait);
		sleep_ms(100);
	}
}

/* Insert a command (the statement returns its id) and wait for it. */
static int queue(struct ctl *c, const struct ctl_mopts *o, const char *sql, int n,
		 const char *const *p, char *ret_id, size_t idcap)
{
	char err[512];
	PGresult *r = NULL;
	int rc = pg_exec(c->pg, sql, n, p, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "queueing the change");
	(void)snprintf(ret_id, idcap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return wait_command(c, ret_id, o);
}

static int print_query(struct ctl *c, const char *sql, int n, const char *const *p, bool record)
{
	char err[512];
	PGresult *r = NULL;
	int rc = pg_exec(c->pg, sql, n, p, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "reading the result");
	rc = record && PQntuples(r) ? ctl_out_record(c->out, r, c->args->json)
				    : ctl_out_rows(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}

#define PKG_VIEW                                                                                  \
	"SELECT id, tenant_id::text AS tenant_id, product, status, size, remaining, unit_price, " \
	"price_total, purchased_at_ms, expires_at_ms, actor, reason FROM metering_packages "

static bool pkg_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return false;
	return true;
}

/* The money, size and time options of a top-up. CTL_EXIT_OK or an error code. */
static int topup_values(struct ctl *c, const struct ctl_mopts *o, int64_t *size, int64_t *unit,
			int64_t *total, int64_t *bought, int64_t *expires)
{
	int64_t days;
	*unit = *total = *bought = *expires = 0;
	if (!o->size || ctl_m_count(o->size, size) < 0 || *size > 1000000000000LL)
		return ctl_fail(c, CTL_EXIT_DATA, "--size wants a number of calls");
	if (!!o->unit_price == !!o->price)
		return ctl_fail(c, CTL_EXIT_USAGE, "give exactly one of --unit-price and --price");
	if ((o->unit_price && ctl_m_money(o->unit_price, unit) < 0) ||
	    (o->price && ctl_m_money(o->price, total) < 0))
		return ctl_fail(c, CTL_EXIT_DATA, "prices are yuan with up to 5 decimals");
	if (o->purchased_at && ctl_m_time(o->purchased_at, bought) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "bad --purchased-at");
	if (o->expires_at && o->valid_days)
		return ctl_fail(c, CTL_EXIT_USAGE, "give --expires-at or --valid-days, not both");
	if (o->expires_at && ctl_m_time(o->expires_at, expires) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "bad --expires-at");
	if (o->valid_days) {
		if (ctl_m_count(o->valid_days, &days) < 0 || days < 1 || days > 36600)
			return ctl_fail(c, CTL_EXIT_DATA, "--valid-days wants 1-36600");
		int64_t from = *bought;
		if (!from) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			from = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
			*bought = from;
		}
		*expires = from + days * 86400000LL;
	}
	return CTL_EXIT_OK;
}

int ctl_m_topup(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], cmd[24], pid[64], s[5][24];
	int64_t size, unit, total, bought, expires;
	int prod;
	int code = tenant_product(c, o, tid, &prod);
	if (code != CTL_EXIT_OK)
		return code;
	if ((code = topup_values(c, o, &size, &unit, &total, &bought, &expires)) != CTL_EXIT_OK)
		return code;
	if (o->id && !pkg_id_ok(o->id))
		return ctl_fail(c, CTL_EXIT_DATA, "--id: 1-63 characters of [A-Za-z0-9._:-]");
	if (!o->id) {
		char u[37];
		if (crypto_uuid4(u) < 0)
			return ctl_fail(c, CTL_EXIT_SOFTWARE, "no randomness for a package id");
		(void)snprintf(pid, sizeof(pid), "pkg-%s", u);
	} else {
		(void)snprintf(pid, sizeof(pid), "%s", o->id);
	}
	(void)snprintf(s[0], sizeof(s[0]), "%d", prod);
	(void)snprintf(s[1], sizeof(s[1]), "%lld", (long long)size);
	(void)snprintf(s[2], sizeof(s[2]), "%lld", (long long)unit);
	(void)snprintf(s[3], sizeof(s[3]), "%lld", (long long)total);
	(void)snprintf(s[4], sizeof(s[4]), "%lld", (long long)bought);
	char sexp[24];
	(void)snprintf(sexp, sizeof(sexp), "%lld", (long long)expires);
	const char *p[] = {tid,
			   s[0],
			   pid,
			   s[1],
			   s[2],
			   s[3],
			   bought ? s[4] : NULL,
			   expires ? sexp : NULL,
			   actor_of(o),
			   o->reason};
	code = queue(c, o,
		     "WITH ins AS (INSERT INTO metering_commands (kind, tenant_id, product, "
		     "package_id, size, unit_price, price_total, purchased_at_ms, expires_at_ms, "
		     "actor, reason) VALUES ('topup', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
		     "RETURNING id) SELECT id, pg_notify('shiren_metering', 'command') FROM ins",
		     10, p, cmd, sizeof(cmd));
	if (code != CTL_EXIT_OK || o->no_wait)
		return code;
	const char *q[] = {pid};
	return print_query(c, PKG_VIEW "WHERE id = $1", 1, q, true);
}

int ctl_m_refund(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], cmd[24], sp[16];
	int prod;
	int code = tenant_product(c, o, tid, &prod);
	if (code != CTL_EXIT_OK)
		return code;
	if (!o->id)
		return ctl_fail(c, CTL_EXIT_USAGE, "--id (the package) is required");
	(void)snprintf(sp, sizeof(sp), "%d", prod);
	const char *p[] = {tid, sp, o->id, actor_of(o), o->reason};
	code = queue(c, o,
		     "WITH ins AS (INSERT INTO metering_commands (kind, tenant_id, product, "
		     "package_id, actor, reason) VALUES ('refund', $1, $2, $3, $4, $5) RETURNING "
		     "id) SELECT id, pg_notify('shiren_metering', 'command') FROM ins",
		     5, p, cmd, sizeof(cmd));
	if (code != CTL_EXIT_OK || o->no_wait)
		return code;
	const char *q[] = {o->id};
	return print_query(c, PKG_VIEW "WHERE id = $1", 1, q, true);
}

/* The settings options as command columns. CTL_EXIT_OK or an error code. */
static int set_values(struct ctl *c, const struct ctl_mopts *o, char lists[3][160], char *hyst,
		      size_t hcap)
{
	int64_t h;
	if (!o->on_exhaust && !o->alert_percent && !o->alert_calls && !o->alert_expiry_days &&
	    !o->hysteresis && !o->reset_alerts)
		return ctl_fail(c, CTL_EXIT_USAGE, "nothing to set");
	if (o->on_exhaust && strcmp(o->on_exhaust, "postpaid") != 0 &&
	    strcmp(o->on_exhaust, "block") != 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--on-exhaust is postpaid or block");
	if (o->alert_percent && ctl_m_list(o->alert_percent, 0, 99, lists[0], 160) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--alert-percent: up to 8 of 0-99, or none");
	if (o->alert_calls && ctl_m_list(o->alert_calls, 0, 1000000000000LL, lists[1], 160) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--alert-calls: up to 8 call counts, or none");
	if (o->alert_expiry_days && ctl_m_list(o->alert_expiry_days, 1, 366, lists[2], 160) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--alert-expiry-days: up to 8 of 1-366, or none");
	if (o->hysteresis && (ctl_m_count(o->hysteresis, &h) < 0 || h > 100))
		return ctl_fail(c, CTL_EXIT_DATA, "--hysteresis is 0-100");
	if (o->hysteresis)
		(void)snprintf(hyst, hcap, "%lld", (long long)h);
	return CTL_EXIT_OK;
}

int ctl_m_set(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], cmd[24], sp[16], lists[3][160], hyst[24];
	int prod;
	int code = tenant_product(c, o, tid, &prod);
	if (code != CTL_EXIT_OK)
		return code;
	if ((code = set_values(c, o, lists, hyst, sizeof(hyst))) != CTL_EXIT_OK)
		return code;
	(void)snprintf(sp, sizeof(sp), "%d", prod);
	const char *p[] = {tid,
			   sp,
			   o->on_exhaust,
			   o->alert_percent ? lists[0] : NULL,
			   o->alert_calls ? lists[1] : NULL,
			   o->alert_expiry_days ? lists[2] : NULL,
			   o->hysteresis ? hyst : NULL,
			   o->reset_alerts ? "true" : "false",
			   actor_of(o),
			   o->reason};
	code = queue(c, o,
		     "WITH ins AS (INSERT INTO metering_commands (kind, tenant_id, product, "
		     "on_exhaust, alert_percent, alert_calls, alert_expiry_days, "
		     "alert_hysteresis_pct, alert_reset, actor, reason) VALUES ('set', $1, $2, $3, "
		     "$4, $5, $6, $7, $8, $9, $10) RETURNING id) "
		     "SELECT id, pg_notify('shiren_metering', 'command') FROM ins",
		     10, p, cmd, sizeof(cmd));
	if (code != CTL_EXIT_OK || o->no_wait)
		return code;
	const char *q[] = {tid, sp};
	return print_query(c,
			   "SELECT tenant_id::text AS tenant_id, product, on_exhaust, trial_limit, "
			   "trial_used, status, alert_percent::text AS alert_percent, "
			   "alert_calls::text AS alert_calls, alert_expiry_days::text AS "
			   "alert_expiry_days, alert_hysteresis_pct FROM metering_accounts "
			   "WHERE tenant_id = $1 AND product = $2",
			   2, q, true);
}

/* "100000:0.04,5000000:0.035,inf:0.026" into "{100000,5000000,9223372036854775807}" and
 * "{4000,3500,2600}". 0 or -EINVAL. */
static int parse_tiers(const char *s, char *upto, char *price, size_t cap)
{
	size_t ou = 0, op = 0;
	int64_t prev = 0;
	int n = 0;
	bool last = false;
	char tier[64];
	while (*s) {
		size_t len = strcspn(s, ",");
		if (last || len == 0 || len >= sizeof(tier) || ++n > 16)
			return -EINVAL;
		memcpy(tier, s, len);
		tier[len] = '\0';
		s += len + (s[len] == ',');
		char *colon = strchr(tier, ':');
		int64_t u, pr;
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		if (strcmp(tier, "inf") == 0) {
			u = INT64_MAX;
			last = true;
		} else if (ctl_m_count(tier, &u) < 0 || u <= prev) {
			return -EINVAL;
		}
		if (ctl_m_money(colon + 1, &pr) < 0)
			return -EINVAL;
		prev = u;
		int a = snprintf(upto + ou, cap - ou, "%s%lld", n > 1 ? "," : "{", (long long)u);
		int b = snprintf(price + op, cap - op, "%s%lld", n > 1 ? "," : "{", (long long)pr);
		if (a < 0 || b < 0 || (size_t)a >= cap - ou - 1 || (size_t)b >= cap - op - 1)
			return -EINVAL;
		ou += (size_t)a;
		op += (size_t)b;
	}
	if (!last)
		return -EINVAL;
	upto[ou++] = '}';
	upto[ou] = '\0';
	price[op++] = '}';
	price[op] = '\0';
	return 0;
}

/* "YYYY-MM" into the ms of its first instant in UTC+8. */
static int parse_month(const char *s, int64_t *ret)
{
	char buf[16];
	if (strlen(s) != 7 || s[4] != '-')
		return -EINVAL;
	(void)snprintf(buf, sizeof(buf), "%s-01", s);
	return ctl_m_time(buf, ret);
}

int ctl_m_ladder_publish(struct ctl *c, const struct ctl_mopts *o)
{
	char upto[512], price[512], sp[16], sfrom[24], err[512];
	int64_t from;
	struct timespec ts;
	int prod = o->product ? product_parse(o->product) : -EINVAL;
	if (!o->product || !o->mode || !o->tiers || !o->effective_from)
		return ctl_fail(c, CTL_EXIT_USAGE,
				"--product, --mode, --tiers and --effective-from are required");
	if (prod < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "unknown product '%s'", o->product);
	if (strcmp(o->mode, "volume") != 0 && strcmp(o->mode, "graduated") != 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--mode is volume or graduated");
	if (parse_tiers(o->tiers, upto, price, sizeof(upto)) < 0)
		return ctl_fail(c, CTL_EXIT_DATA,
				"--tiers: UPTO:PRICE pairs with strictly increasing call counts, "
				"ending with inf:PRICE, at most 16");
	clock_gettime(CLOCK_REALTIME, &ts);
	if (parse_month(o->effective_from, &from) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "--effective-from wants YYYY-MM");
	if (from <= (int64_t)ts.tv_sec * 1000)
		return ctl_fail(c, CTL_EXIT_DATA,
				"--effective-from must be a future month: a month is priced by the "
				"version in force at its start, and published prices never change");
	(void)snprintf(sp, sizeof(sp), "%d", prod);
	(void)snprintf(sfrom, sizeof(sfrom), "%lld", (long long)from);
	const char *p[] = {sp, o->mode, sfrom, upto, price, "shirenctl"};
	PGresult *r = NULL;
	int rc =
		pg_exec(c->pg,
			"WITH v AS (SELECT coalesce(max(version), 0) + 1 AS version FROM "
			"metering_ladders WHERE product = $1), ins AS (INSERT INTO "
			"metering_ladders (product, version, mode, effective_from_ms, upto, "
			"unit_price, actor) SELECT $1, v.version, $2, $3, $4, $5, $6 FROM v "
			"RETURNING product, version, mode, effective_from_ms, upto::text AS upto, "
			"unit_price::text AS unit_price) "
			"SELECT ins.* FROM ins, (SELECT pg_notify('shiren_metering', 'ladders')) n",
			6, p, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "publishing the ladder");
	rc = ctl_out_record(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}

int ctl_m_ladder_list(struct ctl *c, const struct ctl_mopts *o)
{
	char sp[16];
	int prod = o->product ? product_parse(o->product) : 0;
	if (prod < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "unknown product '%s'", o->product);
	(void)snprintf(sp, sizeof(sp), "%d", prod);
	const char *p[] = {prod ? sp : NULL};
	return print_query(c,
			   "SELECT product, version, mode, effective_from_ms, to_char(to_timestamp("
			   "effective_from_ms / 1000.0) AT TIME ZONE 'UTC' + interval '8 hours', "
			   "'YYYY-MM-DD HH24:MI') AS effective_from_utc8, upto::text AS upto, "
			   "unit_price::text AS unit_price FROM metering_ladders WHERE $1::int2 IS "
			   "NULL OR product = $1 ORDER BY product, version",
			   1, p, false);
}
