/* ctl_metering_report — read-only metering reports (balance, packages, usage, per-call export,
 * bill lines, commands, alerts), the reconciliation check and the cache rebuild. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pg.h"
#include "common/product.h"
#include "ctl/ctl_metering.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Optional tenant and product filters into tid/sp; p[0], p[1] NULL when absent. */
static int filters(struct ctl *c, const struct ctl_mopts *o, bool need_tenant, char tid[37],
		   char sp[16], const char **p)
{
	p[0] = p[1] = NULL;
	if (need_tenant && !o->tenant)
		return ctl_fail(c, CTL_EXIT_USAGE, "--tenant is required");
	if (o->tenant) {
		int code = ctl_tenant_resolve(c, o->tenant, tid, NULL, 0);
		if (code != CTL_EXIT_OK)
			return code;
		p[0] = tid;
	}
	if (o->product) {
		int prod = product_parse(o->product);
		if (prod < 0)
			return ctl_fail(c, CTL_EXIT_DATA, "unknown product '%s'", o->product);
		(void)snprintf(sp, 16, "%d", prod);
		p[1] = sp;
	}
	return CTL_EXIT_OK;
}

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int out_csv(FILE *f, const PGresult *r)
{
	for (int j = 0; j < PQnfields(r); j++) {
		fputs(j ? "," : "", f);
		csv_field(f, PQfname(r, j));
	}
	fputc('\n', f);
	for (int i = 0; i < PQntuples(r); i++) {
		for (int j = 0; j < PQnfields(r); j++) {
			fputs(j ? "," : "", f);
			csv_field(f, PQgetisnull(r, i, j) ? "" : PQgetvalue(r, i, j));
		}
		fputc('\n', f);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* Run `sql` and print it as table, JSON lines or CSV (`format` may be NULL: table, or JSON
 * with --json). */
static int report(struct ctl *c, const char *format, const char *sql, int n, const char *const *p)
{
	char err[512];
	PGresult *r = NULL;
	bool csv = format && strcmp(format, "csv") == 0;
	bool json = c->args->json || (format && strcmp(format, "json") == 0);
	if (format && !csv && !json && strcmp(format, "table") != 0)
		return ctl_fail(c, CTL_EXIT_USAGE, "--format is table, csv or json");
	int rc = pg_exec(c->pg, sql, n, p, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "reading the report");
	rc = csv ? out_csv(c->out, r) : ctl_out_rows(c->out, r, json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}

int ctl_m_balance(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16], now[24], err[512];
	const char *p[3];
	int code = filters(c, o, true, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	(void)snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
	p[2] = now;
	if (c->args->json) {
		PGresult *r = NULL;
		int rc = pg_exec(c->pg,
				 "SELECT metering_balance($1::uuid, $2::int2, $3::int8)::text", 3,
				 p, &r, err, sizeof(err));
		if (rc < 0)
			return ctl_db_fail(c, rc, err, "reading the balance");
		fprintf(c->out, "%s\n", PQgetvalue(r, 0, 0));
		PQclear(r);
		return fflush(c->out) == 0 ? CTL_EXIT_OK : CTL_EXIT_SOFTWARE;
	}
	return report(
		c, NULL,
		"SELECT (x->>'product')::int AS product, x->>'status' AS status, "
		"(x->>'remaining')::bigint AS remaining, (x->>'total')::bigint AS total, "
		"(x->'trial'->>'remaining')::bigint AS trial_left, "
		"jsonb_array_length(x->'packages') AS packages, x->>'on_exhaust' AS on_exhaust, "
		"x->'as_of'->>'partition' AS as_of_partition, "
		"x->'as_of'->>'offset' AS as_of_offset, x->'as_of'->>'event_ms' AS "
		"as_of_event_ms FROM jsonb_array_elements(metering_balance($1::uuid, $2::int2, "
		"$3::int8)->'products') AS x",
		3, p);
}

int ctl_m_packages(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16];
	const char *p[2];
	int code = filters(c, o, true, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	return report(c, NULL,
		      "SELECT id, product, status, size, remaining, unit_price, price_total, "
		      "purchased_at_ms, expires_at_ms, actor, reason FROM metering_packages "
		      "WHERE tenant_id = $1 AND ($2::int2 IS NULL OR product = $2) "
		      "ORDER BY product, expires_at_ms, purchased_at_ms, id",
		      2, p);
}

int ctl_m_usage(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16];
	const char *p[4];
	int64_t d;
	int code = filters(c, o, false, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	if ((o->from && ctl_m_count(o->from, &d) < 0) || (o->to && ctl_m_count(o->to, &d) < 0))
		return ctl_fail(c, CTL_EXIT_DATA, "--from/--to want YYYYMMDD");
	p[2] = o->from;
	p[3] = o->to;
	return report(
		c, o->format,
		"SELECT t.name AS tenant, d.tenant_id::text AS tenant_id, d.product, "
		"d.scene_id, d.day, d.calls, d.billable, d.calls - d.billable AS non_billable, "
		"d.duplicates, d.trial, d.package, d.postpaid, d.blocked, d.amount, "
		"d.package_value, d.late FROM metering_daily d JOIN tenants t ON t.id = "
		"d.tenant_id WHERE ($1::uuid IS NULL OR d.tenant_id = $1) AND ($2::int2 IS "
		"NULL OR d.product = $2) AND ($3::int IS NULL OR d.day >= $3) AND ($4::int "
		"IS NULL OR d.day <= $4) ORDER BY t.name, d.product, d.scene_id, d.day",
		4, p);
}

int ctl_m_export(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16];
	const char *p[3];
	int64_t per;
	int code = filters(c, o, true, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	if (!o->period || ctl_m_count(o->period, &per) < 0)
		return ctl_fail(c, CTL_EXIT_USAGE, "--period YYYYMM is required");
	p[2] = o->period;
	return report(
		c, o->format ? o->format : "csv",
		"SELECT entry_key, seq, kind, product, scene_id, package_id, calls, "
		"balance_delta, balance_after, amount, price_version, tier_first, tier_last, "
		"period, day, late_from, occurred_at_ms, ingest_ms, src_partition, "
		"src_offset, sub_code, actor, reason FROM metering_ledger WHERE tenant_id = $1 "
		"AND ($2::int2 IS NULL OR product = $2) AND period = $3::int "
		"ORDER BY occurred_at_ms, entry_key, seq",
		3, p);
}

int ctl_m_bills(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16];
	const char *p[3];
	int code = filters(c, o, false, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	p[2] = o->period;
	return report(c, o->format,
		      "SELECT tenant_id::text AS tenant_id, product, period, mode, price_version, "
		      "calls, charged, settlement, exact, billed, residue, "
		      "to_char(billed / 100000.0, 'FM999999999990.00') AS billed_yuan "
		      "FROM metering_bill_lines WHERE ($1::uuid IS NULL OR tenant_id = $1) AND "
		      "($2::int2 IS NULL OR product = $2) AND ($3::int IS NULL OR period = $3) "
		      "ORDER BY tenant_id, product, period",
		      3, p);
}

int ctl_m_commands(struct ctl *c, const struct ctl_mopts *o)
{
	return report(c, o->format,
		      "SELECT id, kind, tenant_id::text AS tenant_id, product, package_id, status, "
		      "error, actor, created_at, applied_at FROM metering_commands "
		      "ORDER BY id DESC LIMIT 50",
		      0, NULL);
}

int ctl_m_alerts_list(struct ctl *c, const struct ctl_mopts *o)
{
	char tid[37], sp[16];
	const char *p[2];
	int code = filters(c, o, true, tid, sp, p);
	if (code != CTL_EXIT_OK)
		return code;
	return report(
		c, o->format,
		"SELECT alert_id::text AS alert_id, product, kind, threshold, remaining, total, "
		"status, package_id, generation, occurred_at_ms FROM metering_alerts "
		"WHERE tenant_id = $1 AND ($2::int2 IS NULL OR product = $2) "
		"ORDER BY occurred_at_ms, created_at, alert_id",
		2, p);
}

int ctl_m_reconcile(struct ctl *c, const struct ctl_mopts *o)
{
	char err[512];
	PGresult *r = NULL;
	int rc =
		pg_exec(c->pg, "SELECT * FROM metering_reconcile()", 0, NULL, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "reconciling");
	int bad = 0;
	for (int i = 0; i < PQntuples(r); i++)
		bad += PQgetvalue(r, i, 4)[0] != 't';
	rc = ctl_out_rows(c->out, r, c->args->json);
	PQclear(r);
	if (rc < 0)
		return ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output");
	if (!c->args->json) {
		int code = report(c, NULL,
				  "SELECT topic, partition, base_offset, next_offset, consumed, "
				  "applied, duplicates, non_billable, rejected, skipped FROM "
				  "metering_offsets ORDER BY topic, partition",
				  0, NULL);
		if (code != CTL_EXIT_OK)
			return code;
	}
	if (bad) {
		fprintf(c->err, "shirenctl: %d reconciliation check(s) failed\n", bad);
		return 1;
	}
	return CTL_EXIT_OK;
}

int ctl_m_rebuild(struct ctl *c, const struct ctl_mopts *o)
{
	char err[512];
	PGresult *r = NULL;
	int rc;
	if (o->check) {
		rc = pg_exec(c->pg, "SELECT * FROM metering_cache_diff() ORDER BY 1, 2, 3", 0, NULL,
			     &r, err, sizeof(err));
		if (rc < 0)
			return ctl_db_fail(c, rc, err, "comparing the caches");
		int n = PQntuples(r);
		rc = ctl_out_rows(c->out, r, c->args->json);
		PQclear(r);
		if (rc < 0)
			return ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output");
		if (n) {
			fprintf(c->err, "shirenctl: %d cached value(s) differ from the ledger\n",
				n);
			return 1;
		}
		return CTL_EXIT_OK;
	}
	if ((rc = pg_begin(c->pg, err, sizeof(err))) < 0 ||
	    (rc = pg_exec(c->pg, "SELECT metering_rebuild()", 0, NULL, &r, err, sizeof(err))) < 0)
		goto fail;
	long long changed = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	r = NULL;
	if ((rc = pg_exec(c->pg, "SELECT count(*) FROM metering_cache_diff()", 0, NULL, &r, err,
			  sizeof(err))) < 0)
		goto fail;
	long long left = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (left) {
		pg_rollback(c->pg);
		return ctl_fail(c, CTL_EXIT_SOFTWARE,
				"after the rebuild %lld value(s) still differ; rolled back", left);
	}
	if ((rc = pg_commit(c->pg, err, sizeof(err))) < 0)
		return ctl_db_fail(c, rc, err, "committing the rebuild");
	if (c->args->json)
		fprintf(c->out, "{\"changed\":%lld}\n", changed);
	else
		fprintf(c->out,
			"rebuilt from the ledger: %lld cache row(s) changed; caches match\n",
			changed);
	return fflush(c->out) == 0 ? CTL_EXIT_OK : CTL_EXIT_SOFTWARE;
fail:
	pg_rollback(c->pg);
	return ctl_db_fail(c, rc, err, "rebuilding the caches");
}
