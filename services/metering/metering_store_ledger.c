/* metering_store_ledger — the batch's ledger rows written with COPY BINARY (no parameter
 * parsing on the server), and the daily rollups summed in C from the same rows plus the
 * duplicates, upserted with binary array parameters (metering_store.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "metering/metering_store.h"

struct mt_daily {
	const char *tenant; /* borrowed from the batch's rows or dups */
	int32_t product, day;
	int64_t scene_id;
	int64_t v[10]; /* calls, billable, duplicates, trial, package, postpaid, blocked, amount,
			* package_value, late */
};

enum {
	D_CALLS,
	D_BILLABLE,
	D_DUPS,
	D_TRIAL,
	D_PACKAGE,
	D_POSTPAID,
	D_BLOCKED,
	D_AMOUNT,
	D_PKG_VALUE,
	D_LATE
};

/* Entries other than usage: text keys, every column (metering_entries). */
#define ENTRY_COLS                                                                               \
	"entry_key, seq, kind, tenant_id, product, scene_id, package_id, calls, balance_delta, " \
	"balance_after, amount, price_version, tier_first, tier_last, period, day, late_from, "  \
	"occurred_at_ms, ingest_ms, src_partition, src_offset, sub_code, actor, reason"
#define ENTRY_NCOLS 24

/* Usage entries: the compact row of migration 007 (metering_usage), no NULLs. */
#define USAGE_COLS                                                                                 \
	"certify_id, tenant_id, occurred_at_ms, scene_id, amount, src_offset, package_no, calls, " \
	"period, price_version, action, seq, kind, product, tier_first, tier_last, sub_code, "     \
	"src_partition"
#define USAGE_NCOLS 18

static void entry_row(struct mt_bin *o, const struct mt_row *r)
{
	mt_bin_u16(o, ENTRY_NCOLS);
	mt_bin_f_text(o, r->key);
	mt_bin_f_int2(o, (int16_t)r->seq);
	mt_bin_f_text(o, mt_kind_name(r->kind));
	mt_bin_f_uuid(o, r->tenant);
	mt_bin_f_int2(o, (int16_t)r->product);
	mt_bin_f_int8(o, r->scene_id);
	mt_bin_f_text(o, r->package_id[0] ? r->package_id : NULL);
	mt_bin_f_int8(o, r->calls);
	mt_bin_f_int8(o, r->balance_delta);
	if (r->balance_after < 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int8(o, r->balance_after);
	mt_bin_f_int8(o, r->amount);
	if (r->price_version <= 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int4(o, (int32_t)r->price_version);
	if (r->tier_first < 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int2(o, (int16_t)r->tier_first);
	if (r->tier_last < 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int2(o, (int16_t)r->tier_last);
	mt_bin_f_int4(o, r->period);
	mt_bin_f_int4(o, r->day);
	if (r->late_from <= 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int4(o, r->late_from);
	mt_bin_f_int8(o, r->occurred_ms);
	if (r->ingest_ms <= 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int8(o, r->ingest_ms);
	if (r->partition < 0) {
		mt_bin_f_null(o);
		mt_bin_f_null(o);
	} else {
		mt_bin_f_int4(o, r->partition);
		mt_bin_f_int8(o, r->offset);
	}
	if (r->sub_code < 0)
		mt_bin_f_null(o);
	else
		mt_bin_f_int2(o, (int16_t)r->sub_code);
	mt_bin_f_text(o, r->actor);
	mt_bin_f_text(o, r->reason);
}

/* Values the compact row cannot hold are refused, not truncated. */
static int usage_row_check(const struct mt_row *r, char *err, size_t errlen)
{
	const char *why = NULL;
	if (r->action < 1)
		why = "no action code";
	else if (r->kind == METERING_ENTRY_PACKAGE && r->package_no < 1)
		why = "package without a number";
	else if (r->calls < 1 || r->calls > INT32_MAX)
		why = "calls out of range";
	else if (r->price_version > INT32_MAX || r->tier_first > INT16_MAX ||
		 r->tier_last > INT16_MAX || r->sub_code > INT16_MAX || r->seq > INT16_MAX ||
		 r->partition > INT16_MAX)
		why = "a value out of range";
	else if (r->late_from > 0 ? r->late_from != r->day / 100 : r->period != r->day / 100)
		why = "period and day disagree";
	if (!why)
		return 0;
	(void)snprintf(err, errlen, "usage entry %s/%d cannot be stored: %s", r->key, r->seq, why);
	return -EINVAL;
}

static void usage_row(struct mt_bin *o, const struct mt_row *r)
{
	mt_bin_u16(o, USAGE_NCOLS);
	mt_bin_f_uuid(o, r->certify);
	mt_bin_f_uuid(o, r->tenant);
	mt_bin_f_int8(o, r->occurred_ms);
	mt_bin_f_int8(o, r->scene_id);
	mt_bin_f_int8(o, r->amount);
	mt_bin_f_int8(o, r->partition < 0 ? -1 : r->offset);
	mt_bin_f_int4(o, r->package_no);
	mt_bin_f_int4(o, (int32_t)r->calls);
	mt_bin_f_int4(o, r->period);
	mt_bin_f_int4(o, (int32_t)r->price_version);
	mt_bin_f_int2(o, r->action);
	mt_bin_f_int2(o, (int16_t)r->seq);
	mt_bin_f_int2(o, (int16_t)r->kind);
	mt_bin_f_int2(o, (int16_t)r->product);
	mt_bin_f_int2(o, (int16_t)r->tier_first);
	mt_bin_f_int2(o, (int16_t)r->tier_last);
	mt_bin_f_int2(o, (int16_t)(r->sub_code < 0 ? -1 : r->sub_code));
	mt_bin_f_int2(o, (int16_t)(r->partition < 0 ? -1 : r->partition));
}

/* libpq's message with the SQLSTATE prefix, as pg_exec writes it. */
static int copy_fail(PGconn *c, PGresult *r, char *err, size_t errlen)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	(void)snprintf(err, errlen, "[%s] %s", st ? st : "", PQerrorMessage(c));
	PQclear(r);
	return PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

/* COPY the rows of `b` whose kind is (or is not) usage into their table. */
static int copy_rows(struct mt_store *s, const struct mt_batch *b, bool usage, char *err,
		     size_t errlen)
{
	static const char head[] = "PGCOPY\n\377\r\n";
	struct mt_bin *o = &s->copy;
	size_t n = 0;
	PGresult *r;
	int rc;
	mt_bin_reset(o);
	mt_bin_raw(o, head, sizeof(head)); /* 11 bytes with the NUL */
	mt_bin_u32(o, 0);		   /* flags */
	mt_bin_u32(o, 0);		   /* header extension length */
	for (size_t i = 0; i < b->n_rows; i++) {
		const struct mt_row *row = &b->rows[i];
		if (mt_kind_is_usage(row->kind) != usage)
			continue;
		if (usage && (rc = usage_row_check(row, err, errlen)) < 0)
			return rc;
		if (usage)
			usage_row(o, row);
		else
			entry_row(o, row);
		n++;
	}
	mt_bin_u16(o, 0xffff);
	if (n == 0)
		return 0;
	if (o->err) {
		(void)snprintf(err, errlen, "ledger rows cannot be encoded (%d)", o->err);
		return o->err;
	}
	r = PQexec(s->c, usage ? "COPY metering_usage (" USAGE_COLS ") FROM STDIN (FORMAT binary)"
			       : "COPY metering_entries (" ENTRY_COLS
				 ") FROM STDIN (FORMAT binary)");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return copy_fail(s->c, r, err, errlen);
	PQclear(r);
	if (PQputCopyData(s->c, (const char *)o->buf, (int)o->len) != 1 ||
	    PQputCopyEnd(s->c, NULL) != 1)
		return copy_fail(s->c, NULL, err, errlen);
	rc = 0;
	while ((r = PQgetResult(s->c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
			rc = copy_fail(s->c, r, err, errlen);
			continue;
		}
		PQclear(r);
	}
	return rc;
}

/* The daily rollup entry of (tenant, product, scene, day), added if new. */
static struct mt_daily *daily_of(struct mt_store *s, const char *tenant, int32_t product,
				 int64_t scene, int32_t day)
{
	char key[MT_TENANT_LEN + 64];
	uint32_t idx;
	(void)snprintf(key, sizeof(key), "%s/%d/%lld/%d", tenant, (int)product, (long long)scene,
		       (int)day);
	if (mt_map_get(&s->dmap, key, &idx))
		return &s->daily[idx];
	if (s->n_daily == s->cap_daily) {
		size_t cap = s->cap_daily ? s->cap_daily * 2 : 1024;
		struct mt_daily *d = realloc(s->daily, cap * sizeof(*d));
		if (!d)
			return NULL;
		s->daily = d;
		s->cap_daily = cap;
	}
	char *k = mt_arena_alloc(&s->mem, strlen(key) + 1);
	if (!k)
		return NULL;
	memcpy(k, key, strlen(key) + 1);
	if (mt_map_put(&s->dmap, k, (uint32_t)s->n_daily, NULL) < 0)
		return NULL;
	struct mt_daily *d = &s->daily[s->n_daily++];
	memset(d, 0, sizeof(*d));
	d->tenant = tenant;
	d->product = product;
	d->scene_id = scene;
	d->day = day;
	return d;
}

static int daily_add_row(struct mt_store *s, const struct mt_row *r)
{
	static const int col[] = {[METERING_ENTRY_TRIAL] = D_TRIAL,
				  [METERING_ENTRY_PACKAGE] = D_PACKAGE,
				  [METERING_ENTRY_POSTPAID] = D_POSTPAID,
				  [METERING_ENTRY_BLOCKED] = D_BLOCKED};
	if (r->kind != MT_KIND_CALL && r->kind > METERING_ENTRY_BLOCKED)
		return 0; /* not usage: no rollup */
	struct mt_daily *d = daily_of(s, r->tenant, r->product, r->scene_id, r->day);
	if (!d)
		return -ENOMEM;
	d->v[D_CALLS] += r->calls;
	if (r->kind != MT_KIND_CALL) {
		d->v[D_BILLABLE] += r->calls;
		d->v[col[r->kind]] += r->calls;
	}
	if (r->kind == METERING_ENTRY_POSTPAID)
		d->v[D_AMOUNT] += r->amount;
	if (r->kind == METERING_ENTRY_PACKAGE)
		d->v[D_PKG_VALUE] += r->amount;
	if (r->late_from > 0)
		d->v[D_LATE] += r->calls;
	return 0;
}

static const char SQL_DAILY[] =
	"INSERT INTO metering_daily AS d (tenant_id, product, scene_id, day, calls, billable, "
	"duplicates, trial, package, postpaid, blocked, amount, package_value, late) "
	"SELECT * FROM unnest($1::uuid[], $2::int2[], $3::int8[], $4::int4[], $5::int8[], "
	"$6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], "
	"$13::int8[], $14::int8[]) "
	"ON CONFLICT (tenant_id, product, scene_id, day) DO UPDATE SET "
	"calls = d.calls + EXCLUDED.calls, billable = d.billable + EXCLUDED.billable, "
	"duplicates = d.duplicates + EXCLUDED.duplicates, trial = d.trial + EXCLUDED.trial, "
	"package = d.package + EXCLUDED.package, postpaid = d.postpaid + EXCLUDED.postpaid, "
	"blocked = d.blocked + EXCLUDED.blocked, amount = d.amount + EXCLUDED.amount, "
	"package_value = d.package_value + EXCLUDED.package_value, late = d.late + EXCLUDED.late";

static int write_daily(struct mt_store *s, char *err, size_t errlen)
{
	const char *p[MT_STORE_BARRS];
	int len[MT_STORE_BARRS], fmt[MT_STORE_BARRS];
	static const uint32_t oid[4] = {MT_OID_UUID, MT_OID_INT2, MT_OID_INT8, MT_OID_INT4};
	if (s->n_daily == 0)
		return 0;
	for (int k = 0; k < MT_STORE_BARRS; k++)
		mt_barr_reset(&s->ba[k], k < 4 ? oid[k] : MT_OID_INT8);
	for (size_t i = 0; i < s->n_daily; i++) {
		const struct mt_daily *d = &s->daily[i];
		mt_barr_uuid(&s->ba[0], d->tenant);
		mt_barr_int2(&s->ba[1], (int16_t)d->product);
		mt_barr_int8(&s->ba[2], d->scene_id);
		mt_barr_int4(&s->ba[3], d->day);
		for (int k = 0; k < 10; k++)
			mt_barr_int8(&s->ba[4 + k], d->v[k]);
	}
	for (int k = 0; k < MT_STORE_BARRS; k++) {
		fmt[k] = 1;
		if (mt_barr_end(&s->ba[k], &p[k], &len[k]) < 0) {
			(void)snprintf(err, errlen, "daily rollups cannot be encoded");
			return -ENOMEM;
		}
	}
	return pg_execb(s->c, SQL_DAILY, MT_STORE_BARRS, p, len, fmt, NULL, err, errlen);
}

int mt_store_write_ledger(struct mt_store *s, const struct mt_batch *b, const struct mt_dup *dups,
			  size_t n_dups, char *err, size_t errlen)
{
	int rc = 0;
	mt_map_clear(&s->dmap);
	mt_arena_reset(&s->mem);
	s->n_daily = 0;
	if (b->n_rows && ((rc = copy_rows(s, b, true, err, errlen)) < 0 ||
			  (rc = copy_rows(s, b, false, err, errlen)) < 0))
		return rc;
	for (size_t i = 0; rc == 0 && i < b->n_rows; i++)
		rc = daily_add_row(s, &b->rows[i]);
	for (size_t i = 0; rc == 0 && i < n_dups; i++) {
		struct mt_daily *d =
			daily_of(s, dups[i].tenant, dups[i].product, dups[i].scene_id, dups[i].day);
		if (!d)
			rc = -ENOMEM;
		else
			d->v[D_DUPS] += dups[i].calls;
	}
	if (rc < 0) {
		(void)snprintf(err, errlen, "out of memory");
		return rc;
	}
	return write_daily(s, err, errlen);
}
