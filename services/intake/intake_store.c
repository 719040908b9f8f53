/* intake_store — PostgreSQL helpers for the request path, all run on pg_pool workers: the
 * transaction wrapper that claims the request's signature nonce first (so a replay is refused
 * across every intake process, and a refused request leaves no trace), the batched execution
 * of the hot paths (many requests per transaction and round trip, intake_server.h), named
 * statements prepared once per connection, sealing of personal data under the master key,
 * bytea decoding, and the periodic purge of expired nonces. */
#include <errno.h>
#include <event2/event.h>
#include <libpq-events.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "intake/intake_server.h"

#define PURGE_INTERVAL_S 60
/* A nonce is kept until its request's timestamp leaves the ±15 min window, plus slack for
 * clock differences between intake processes. */
#define NONCE_KEEP_S (INTAKE_SIGN_WINDOW_SECONDS + 60)

static const char SQL_NONCE[] =
	"INSERT INTO intake_nonces (access_key_id, nonce, expires_at) "
	"VALUES ($1, $2, to_timestamp($3::bigint) + make_interval(secs => $4::int)) "
	"ON CONFLICT DO NOTHING RETURNING 1";

static const char SQL_PURGE[] =
	"DELETE FROM intake_nonces WHERE ctid = ANY (ARRAY("
	"SELECT ctid FROM intake_nonces WHERE expires_at < now() LIMIT 50000))";

int intake_store_execb(PGconn *c, struct intake_req *r, const char *sql, int n,
		       const char *const *params, const int *lengths, const int *formats,
		       PGresult **ret)
{
	return pg_execb(c, sql, n, params, lengths, formats, ret, r->log_err, sizeof(r->log_err));
}

int intake_store_exec(PGconn *c, struct intake_req *r, const char *sql, int n,
		      const char *const *params, PGresult **ret)
{
	return intake_store_execb(c, r, sql, n, params, NULL, NULL, ret);
}

void intake_store_nonce_params(const struct intake_req *r, char ts[24], char keep[16],
			       const char *ret[4])
{
	snprintf(ts, 24, "%lld", (long long)r->parsed.timestamp);
	snprintf(keep, 16, "%d", NONCE_KEEP_S);
	ret[0] = r->parsed.access_key_id;
	ret[1] = r->parsed.nonce;
	ret[2] = ts;
	ret[3] = keep;
}

int intake_store_tx(PGconn *c, struct intake_req *r,
		    int (*body)(PGconn *c, struct intake_req *r, void *arg), void *arg)
{
	char ts[24], keep[16];
	const char *p[4];
	PGresult *res = NULL;
	int rc = pg_begin(c, r->log_err, sizeof(r->log_err));
	if (rc < 0)
		return rc;
	intake_store_nonce_params(r, ts, keep, p);
	rc = intake_store_exec(c, r, SQL_NONCE, 4, p, &res);
	if (rc == 0 && PQntuples(res) == 0)
		rc = -EALREADY;
	PQclear(res);
	if (rc == 0)
		rc = body(c, r, arg);
	if (rc == 0) {
		rc = pg_commit(c, r->log_err, sizeof(r->log_err));
		if (rc == 0)
			r->log_err[0] = '\0';
		return rc;
	}
	pg_rollback(c);
	return rc;
}

/* ---- named statements, prepared once per connection ---- */

#define CONN_STMTS_MAX 16
#define REPLAN_FIRST   4	 /* a statement is prepared again after 4, 16, 64 ... uses */
#define REPLAN_EVERY   (1 << 16) /* and then every 65,536 uses */

/* Which statements a connection has prepared: libpq instance data of the connection, freed
 * with it (PGEVT_CONNDESTROY), so a reconnected worker starts from nothing.
 * The plan of a prepared statement is made once and kept. A plan made while the tables were
 * empty (a fresh database: every index looks as good as another, the (tenant_id, created_at)
 * one as good as the unique key) would stay until an ANALYZE invalidates it; as the tables
 * grow with the statements' own use, each statement is prepared again after 4, 16, 64 ...
 * uses (measured on a fresh database: InitFaceVerify at 1.4 ms of PostgreSQL CPU with the
 * first plan, 0.4 ms with a later one). */
struct conn_stmts {
	struct {
		const struct intake_stmt *st;
		uint64_t uses, replan_at;
	} s[CONN_STMTS_MAX];
	int n;
};

static int conn_stmts_evproc(PGEventId id, void *info, void *pass)
{
	if (id == PGEVT_CONNDESTROY) {
		PGEventConnDestroy *e = info;
		free(PQinstanceData(e->conn, conn_stmts_evproc));
	} else if (id == PGEVT_CONNRESET) {
		PGEventConnReset *e = info;
		struct conn_stmts *cs = PQinstanceData(e->conn, conn_stmts_evproc);
		if (cs)
			cs->n = 0;
	}
	return 1;
}

static struct conn_stmts *conn_stmts_of(PGconn *c, char *err, size_t errlen)
{
	struct conn_stmts *cs = PQinstanceData(c, conn_stmts_evproc);
	if (cs)
		return cs;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	if (!PQregisterEventProc(c, conn_stmts_evproc, "intake_stmts", NULL) ||
	    !PQsetInstanceData(c, conn_stmts_evproc, cs)) {
		free(cs);
		snprintf(err, errlen, "cannot attach statement state to the connection");
		return NULL;
	}
	return cs;
}

static int stmt_prepare(PGconn *c, struct conn_stmts *cs, const struct intake_stmt *st, char *err,
			size_t errlen)
{
	int i = 0;
	while (i < cs->n && cs->s[i].st != st)
		i++;
	if (i < cs->n && ++cs->s[i].uses < cs->s[i].replan_at)
		return 0;
	if (i == CONN_STMTS_MAX)
		return -ENOSPC;
	if (i < cs->n) {      /* due for a new plan */
		char sql[96]; /* the names are this file's constants, not input */
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
		int rc = pg_exec(c, sql, 0, NULL, NULL, err, errlen);
		if (rc < 0)
			return rc;
		uint64_t next = cs->s[i].replan_at * 4;
		cs->s[i].replan_at = next > REPLAN_EVERY ? cs->s[i].uses + REPLAN_EVERY : next;
	}
	PGresult *res = PQprepare(c, st->name, st->sql, 0, NULL);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		snprintf(err, errlen, "[%s] prepare %s: %s", state ? state : "08006", st->name,
			 PQerrorMessage(c));
		rc = PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
		if (i < cs->n) /* deallocated: forget it */
			cs->s[i] = cs->s[--cs->n];
	} else if (i == cs->n) {
		cs->s[cs->n].st = st;
		cs->s[cs->n].uses = 1;
		cs->s[cs->n++].replan_at = REPLAN_FIRST;
	}
	PQclear(res);
	return rc;
}

int intake_store_send(PGconn *c, const struct intake_stmt *st, int n, const char *const *params,
		      const int *lengths, const int *formats, char *err, size_t errlen)
{
	if (PQsendQueryPrepared(c, st->name, n, params, lengths, formats, 0))
		return 0;
	snprintf(err, errlen, "[08006] send %s: %s", st->name, PQerrorMessage(c));
	return PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

static void trim(char *s)
{
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == ' '))
		s[--l] = '\0';
}

/* The result of the next pipelined statement, then the NULL that ends it. */
int intake_store_result(PGconn *c, PGresult **ret, char *err, size_t errlen)
{
	*ret = NULL;
	PGresult *res = PQgetResult(c);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PGresult *end = PQgetResult(c);
		if (!end) {
			*ret = res;
			return 0;
		}
		PQclear(end);
		snprintf(err, errlen, "pipeline: more than one result for a statement");
		PQclear(res);
		return -EPROTO;
	}
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	if (st == PGRES_PIPELINE_ABORTED)
		snprintf(err, errlen, "pipeline aborted by an earlier statement");
	else
		snprintf(err, errlen, "[%s] %s", state ? state : "08006",
			 msg && *msg ? msg : PQerrorMessage(c));
	trim(err);
	PQclear(res);
	return PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

/* ---- array parameters ---- */

#define ARR_MAX (256u << 20) /* a batch's array beyond this runs one request at a time */

static void arr_put(struct intake_arr *a, const char *s, size_t n)
{
	if (a->failed)
		return;
	if (a->len + n + 2 > ARR_MAX) {
		a->failed = true;
		return;
	}
	if (a->len + n + 2 > a->cap) { /* room for '}' and NUL */
		size_t cap = a->cap ? a->cap : 256;
		while (a->len + n + 2 > cap)
			cap *= 2;
		char *b = realloc(a->buf, cap);
		if (!b) {
			a->failed = true;
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

static void arr_sep(struct intake_arr *a)
{
	arr_put(a, a->len ? "," : "{", 1);
}

void intake_arr_init(struct intake_arr *a)
{
	*a = (struct intake_arr){0};
}

void intake_arr_text(struct intake_arr *a, const char *s)
{
	arr_sep(a);
	if (!s) {
		arr_put(a, "NULL", 4);
		return;
	}
	arr_put(a, "\"", 1);
	for (const char *p = s;; p++) { /* runs between the characters that need a backslash */
		size_t k = strcspn(p, "\"\\");
		arr_put(a, p, k);
		p += k;
		if (!*p)
			break;
		arr_put(a, "\\", 1);
		arr_put(a, p, 1);
	}
	arr_put(a, "\"", 1);
}

void intake_arr_bytea(struct intake_arr *a, const void *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	arr_sep(a);
	if (!b) {
		arr_put(a, "NULL", 4);
		return;
	}
	arr_put(a, "\"\\\\x", 4); /* "\\x: the array parser turns \\ into the \ of bytea's \x */
	const uint8_t *p = b;
	char chunk[128];
	for (size_t i = 0; i < n;) {
		size_t k = 0;
		for (; i < n && k + 2 <= sizeof(chunk); i++) {
			chunk[k++] = hex[p[i] >> 4];
			chunk[k++] = hex[p[i] & 15];
		}
		arr_put(a, chunk, k);
	}
	arr_put(a, "\"", 1);
}

void intake_arr_int(struct intake_arr *a, long long v)
{
	char b[24];
	int k = snprintf(b, sizeof(b), "%lld", v);
	arr_sep(a);
	arr_put(a, b, (size_t)k);
}

const char *intake_arr_end(struct intake_arr *a)
{
	if (!a->len)
		arr_put(a, "{", 1);
	arr_put(a, "}", 1);
	if (a->failed)
		return NULL;
	a->buf[a->len] = '\0';
	return a->buf;
}

void intake_arr_free(struct intake_arr *a)
{
	free(a->buf);
	intake_arr_init(a);
}

/* ---- the batcher ---- */

#define BATCH_MAX      32 /* requests per batch: bounds what one transaction holds */
#define BATCH_INFLIGHT 2  /* batches at the workers at once (at most SHIREN_INTAKE_PG_THREADS) */
#define BATCH_KINDS    4  /* actions that batch */

/* Loop-owned: requests queued for a batch, and batches at the workers. */
struct intake_batcher {
	struct intake_batch_item *head, *tail;
	size_t queued;
	int inflight;
	struct metric *m_batches, *m_items, *m_fallbacks;
};

/* The requests of one action in a batch. */
struct batch_group {
	const struct intake_batch_ops *ops;
	struct intake_batch_item *it[BATCH_MAX];
	size_t n;
	bool more;
};

/* A batch at a worker: the items belong to it until batch_done. */
struct batch_job {
	struct intake *srv;
	struct intake_batch_item *items;
	size_t n;
	bool fell_back;
	char err[256]; /* why the batch failed (logged on the loop) */
	struct batch_group g[BATCH_KINDS];
	size_t ng;
};

static const struct intake_stmt STMT_NOTIFY = {"intake_outbox_notify", OUTBOX_NOTIFY_SQL};

static bool send_simple(PGconn *c, const char *sql)
{
	return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
}

/* Planner settings of a batch transaction. The batched statements are keyed lookups only, and
 * their plan is made once per connection (a custom plan per execution would re-plan every
 * batch: arrays of another length look like another query); the plan must not depend on how
 * big the tables were when it was made: one made while a table was young (a few rows: a
 * sequential scan, or a hash join over a full scan, is cheapest) must not outlive the table's
 * growth (measured: InitFaceVerify at 1.4 ms of PostgreSQL CPU instead of 0.4 ms on a fresh
 * database). Local to the transaction: other statements on the connection plan as usual. */
static const struct intake_stmt STMT_SETTINGS = {
	"intake_batch_settings",
	"SELECT set_config('plan_cache_mode', 'force_generic_plan', true), "
	"set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), "
	"set_config('enable_mergejoin', 'off', true)"};

/* Read and drop results up to the Sync, after a failure. */
static void pipe_drain(PGconn *c, bool synced)
{
	if (!synced && !PQpipelineSync(c))
		return;
	int nulls = 0;
	while (nulls < 2 && PQstatus(c) == CONNECTION_OK) {
		PGresult *res = PQgetResult(c);
		if (!res) {
			nulls++;
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
}

static int expect_ok(PGconn *c, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = intake_store_result(c, &res, err, errlen);
	PQclear(res);
	return rc;
}

/* Items of one action in phase two: the group's items with `more`, in order. */
static size_t group_more(const struct batch_group *g, struct intake_batch_item **out)
{
	size_t k = 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->it[i]->more)
			out[k++] = g->it[i];
	return k;
}

static int batch_phase2(PGconn *c, struct batch_job *b, bool *ret_synced)
{
	struct intake_batch_item *more[BATCH_MAX];
	bool notify = false;
	int rc = 0;
	for (size_t k = 0; rc >= 0 && k < b->ng; k++) {
		struct batch_group *g = &b->g[k];
		size_t m = g->more ? group_more(g, more) : 0;
		if (m)
			rc = g->ops->send2(c, more, m, b->err, sizeof(b->err));
		notify |= m && g->ops->notify;
	}
	if (rc >= 0 && notify) {
		const char *p[1] = {INTAKE_SOURCE};
		rc = intake_store_send(c, &STMT_NOTIFY, 1, p, NULL, NULL, b->err, sizeof(b->err));
	}
	if (rc >= 0)
		rc = send_simple(c, "COMMIT") && PQpipelineSync(c) ? 0 : -EIO;
	if (rc < 0)
		return rc;
	*ret_synced = true;
	for (size_t k = 0; rc >= 0 && k < b->ng; k++) {
		struct batch_group *g = &b->g[k];
		size_t m = g->more ? group_more(g, more) : 0;
		if (m)
			rc = g->ops->recv2(c, more, m, b->err, sizeof(b->err));
	}
	if (rc >= 0 && notify)
		rc = expect_ok(c, b->err, sizeof(b->err));
	return rc < 0 ? rc : 0;
}

/* The batch as one transaction in pipeline mode (intake_server.h). 0, or negative with every
 * effect rolled back. */
static int batch_run(PGconn *c, struct batch_job *b)
{
	bool phase2 = false, synced = false;
	int rc;
	for (size_t k = 0; k < b->ng; k++)
		phase2 |= b->g[k].ops->send2 != NULL;
	if (!PQenterPipelineMode(c)) {
		snprintf(b->err, sizeof(b->err), "cannot enter pipeline mode: %s",
			 PQerrorMessage(c));
		return -EIO;
	}
	rc = send_simple(c, "BEGIN") ? 0 : -EIO;
	if (rc == 0)
		rc = intake_store_send(c, &STMT_SETTINGS, 0, NULL, NULL, NULL, b->err,
				       sizeof(b->err));
	for (size_t k = 0; rc >= 0 && k < b->ng; k++)
		rc = b->g[k].ops->send(c, b->g[k].it, b->g[k].n, b->err, sizeof(b->err));
	if (rc >= 0 && !phase2)
		rc = send_simple(c, "COMMIT") && PQpipelineSync(c) ? 0 : -EIO;
	else if (rc >= 0)
		rc = PQsendFlushRequest(c) && PQflush(c) == 0 ? 0 : -EIO;
	synced = rc >= 0 && !phase2;
	if (rc < 0)
		goto fail;
	if ((rc = expect_ok(c, b->err, sizeof(b->err))) < 0 || /* BEGIN */
	    (rc = expect_ok(c, b->err, sizeof(b->err))) < 0)   /* settings */
		goto fail;
	for (size_t k = 0; k < b->ng; k++) {
		struct batch_group *g = &b->g[k];
		if ((rc = g->ops->recv(c, g->it, g->n, b->err, sizeof(b->err))) < 0)
			goto fail;
		for (size_t i = 0; i < g->n; i++)
			g->more |= g->it[i]->more;
	}
	if (phase2 && (rc = batch_phase2(c, b, &synced)) < 0)
		goto fail;
	if ((rc = expect_ok(c, b->err, sizeof(b->err))) < 0) /* COMMIT */
		goto fail;
	PGresult *res = PQgetResult(c);
	bool sync_ok = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
	PQclear(res);
	if (!sync_ok || !PQexitPipelineMode(c)) {
		/* Committed, but the connection is out of step: drop it. */
		snprintf(b->err, sizeof(b->err), "pipeline out of step after COMMIT");
		return -EPROTO;
	}
	return 0;
fail:
	if (!b->err[0])
		snprintf(b->err, sizeof(b->err), "[08006] %s", PQerrorMessage(c));
	trim(b->err);
	pipe_drain(c, synced);
	if (!PQexitPipelineMode(c))
		return -ECONNRESET; /* out of step: the pool reconnects */
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		pg_rollback(c);
	return rc < 0 ? rc : -EIO;
}

/* Groups the items by action and prepares the statements this connection lacks. */
static int batch_prepare(PGconn *c, struct batch_job *b)
{
	b->ng = 0;
	for (struct intake_batch_item *it = b->items; it; it = it->next) {
		size_t k = 0;
		while (k < b->ng && b->g[k].ops != it->ops)
			k++;
		if (k == b->ng) {
			if (b->ng == BATCH_KINDS)
				return -ENOSPC;
			b->g[b->ng++] = (struct batch_group){.ops = it->ops};
		}
		it->more = it->post = false;
		it->rc = 0;
		b->g[k].it[b->g[k].n++] = it;
	}
	struct conn_stmts *cs = conn_stmts_of(c, b->err, sizeof(b->err));
	if (!cs)
		return -ENOMEM;
	int rc = stmt_prepare(c, cs, &STMT_SETTINGS, b->err, sizeof(b->err));
	if (rc == 0)
		rc = stmt_prepare(c, cs, &STMT_NOTIFY, b->err, sizeof(b->err));
	for (size_t k = 0; rc == 0 && k < b->ng; k++)
		for (const struct intake_stmt *const *st = b->g[k].ops->stmts; rc == 0 && *st; st++)
			rc = stmt_prepare(c, cs, *st, b->err, sizeof(b->err));
	return rc;
}

/* The post step of each action (after the COMMIT). */
static int batch_post(PGconn *c, struct batch_job *b)
{
	struct intake_batch_item *post[BATCH_MAX];
	int rc = 0;
	for (size_t k = 0; k < b->ng; k++) {
		struct batch_group *g = &b->g[k];
		size_t m = 0;
		for (size_t i = 0; i < g->n; i++)
			if (g->it[i]->post)
				post[m++] = g->it[i];
		if (m && g->ops->post &&
		    g->ops->post(c, post, m, b->err, sizeof(b->err)) == -ECONNRESET)
			rc = -ECONNRESET;
	}
	return rc;
}

static int batch_work(PGconn *c, void *arg)
{
	struct batch_job *b = arg;
	int rc = batch_prepare(c, b);
	if (rc == 0)
		rc = batch_run(c, b);
	if (rc == 0)
		return batch_post(c, b);
	b->fell_back = true;
	bool lost = rc == -ECONNRESET || rc == -EPROTO || PQstatus(c) == CONNECTION_BAD;
	for (struct intake_batch_item *it = b->items; it; it = it->next) {
		it->r->log_err[0] = '\0';
		it->more = it->post = false;
		if (lost) {
			snprintf(it->r->log_err, sizeof(it->r->log_err), "%s", b->err);
			it->rc = -ECONNRESET;
			continue;
		}
		it->rc = it->ops->slow(c, it->r);
		lost = PQstatus(c) == CONNECTION_BAD;
	}
	return lost ? -ECONNRESET : 0;
}

static void batch_kick(struct intake *s);

static void batch_done(void *arg, int rc)
{
	struct batch_job *b = arg;
	struct intake *s = b->srv;
	struct intake_batcher *q = s->batcher;
	q->inflight--;
	if (b->fell_back) {
		metrics_counter_add(q->m_fallbacks, 1);
		log_debug(s->lg, "batch rolled back; its requests ran one by one",
			  LF_I("requests", (long long)b->n), LF_S("error", b->err), LOG_END);
	}
	struct intake_batch_item *it = b->items;
	free(b);
	while (it) {
		struct intake_batch_item *next = it->next; /* `done` may free the item */
		struct intake_req *r = it->r;
		if (intake_req_resume(r))
			it->done(r, it->rc);
		it = next;
	}
	batch_kick(s);
}

/* Same signature nonce: such requests must not share a set-based statement. */
static bool same_nonce(const struct intake_req *a, const struct intake_req *b)
{
	return strcmp(a->parsed.nonce, b->parsed.nonce) == 0 &&
	       strcmp(a->parsed.access_key_id, b->parsed.access_key_id) == 0;
}

/* Moves queued requests into `b`, up to BATCH_MAX, leaving clashing requests (same nonce, or
 * the action's own clash) queued for a later batch, and dropping those answered meanwhile by
 * their deadline. */
static void batch_fill(struct intake_batcher *q, struct batch_job *b)
{
	struct intake_batch_item **pp = &q->head, **tail = &b->items, *last = NULL;
	while (*pp && b->n < BATCH_MAX) {
		struct intake_batch_item *it = *pp;
		if (it->r->replied) {
			*pp = it->next;
			q->queued--;
			(void)intake_req_resume(it->r);
			continue;
		}
		bool dup = false;
		for (struct intake_batch_item *x = b->items; x && !dup; x = x->next)
			dup = same_nonce(x->r, it->r) ||
			      (x->ops == it->ops && it->ops->clash && it->ops->clash(x->r, it->r));
		if (dup) {
			last = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		q->queued--;
		it->next = NULL;
		*tail = it;
		tail = &it->next;
		b->n++;
	}
	/* The tail may have moved: find it again from the last item left in place. */
	if (!*pp)
		q->tail = last;
	if (!q->head)
		q->tail = NULL;
}

/* Give queued requests to free batch slots. */
static void batch_kick(struct intake *s)
{
	struct intake_batcher *q = s->batcher;
	int slots = s->cfg->pg_threads < BATCH_INFLIGHT ? (int)s->cfg->pg_threads : BATCH_INFLIGHT;
	while (q->head && q->inflight < slots) {
		struct batch_job *b = calloc(1, sizeof(*b));
		if (!b)
			return; /* the next completion retries */
		b->srv = s;
		batch_fill(q, b);
		if (!b->n) {
			free(b);
			continue;
		}
		int rc = pg_pool_submit(s->pool, batch_work, batch_done, b);
		if (rc < 0) {
			struct intake_batch_item *it = b->items;
			free(b);
			while (it) {
				struct intake_batch_item *next = it->next;
				struct intake_req *r = it->r;
				if (intake_req_resume(r)) {
					snprintf(r->log_err, sizeof(r->log_err),
						 "database queue: %s", strerror(-rc));
					intake_reply_failure(r, -EAGAIN);
				}
				it = next;
			}
			return;
		}
		q->inflight++;
		metrics_counter_add(q->m_batches, 1);
		metrics_counter_add(q->m_items, b->n);
	}
}

int intake_req_batch(struct intake_req *r, struct intake_batch_item *it,
		     const struct intake_batch_ops *ops, void (*done)(struct intake_req *r, int rc))
{
	struct intake *s = r->srv;
	struct intake_batcher *q = s->batcher;
	if (q->queued >= (size_t)s->cfg->pg_queue) {
		snprintf(r->log_err, sizeof(r->log_err), "database queue full");
		intake_reply_failure(r, -EAGAIN);
		return -EAGAIN;
	}
	*it = (struct intake_batch_item){.r = r, .ops = ops, .done = done};
	intake_req_park(r);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->queued++;
	batch_kick(s);
	return 0;
}

int intake_store_seal(const struct intake *s, const char *aad, const void *in, size_t len,
		      uint8_t **ret, size_t *ret_len)
{
	size_t cap = len + CRYPTO_SEAL_OVERHEAD;
	uint8_t *out = malloc(cap);
	*ret = NULL;
	if (!out)
		return -ENOMEM;
	long n = crypto_seal(s->master, aad, strlen(aad), in, len, out, cap);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

int intake_store_open(const struct intake *s, const char *aad, const uint8_t *in, size_t len,
		      uint8_t **ret, size_t *ret_len)
{
	*ret = NULL;
	if (len < CRYPTO_SEAL_OVERHEAD)
		return -EBADMSG;
	size_t cap = len - CRYPTO_SEAL_OVERHEAD + 1;
	uint8_t *out = malloc(cap);
	if (!out)
		return -ENOMEM;
	long n = crypto_open(s->master, aad, strlen(aad), in, len, out, cap);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

int intake_store_seal_field(struct intake_req *r, const char *certify_id, const char *what,
			    const char *text, uint8_t **ret, size_t *ret_len)
{
	char aad[96];
	*ret = NULL;
	*ret_len = 0;
	if (!text)
		return 0;
	snprintf(aad, sizeof(aad), "verifications:%s:%s", certify_id, what);
	return intake_store_seal(r->srv, aad, text, strlen(text), ret, ret_len);
}

int intake_store_cert_hash(const struct intake *s, const char *cert_type, const char *cert_no,
			   uint8_t ret[32])
{
	char in[96];
	int n = snprintf(in, sizeof(in), "%s:%s", cert_type, cert_no);
	int rc = crypto_hmac(CRYPTO_HASH_SHA256, s->k_cert_no, 32, in, (size_t)n, ret);
	crypto_wipe(in, sizeof(in));
	return rc;
}

void intake_biz_scene(struct intake_biz *biz, int64_t scene_id, const char *found_product,
		      const char *product_code)
{
	if (!found_product) {
		biz->code = "404";
		snprintf(biz->message, sizeof(biz->message),
			 "Scene %lld does not exist for this account (create it with `shirenctl "
			 "scene create`).",
			 (long long)scene_id);
		return;
	}
	biz->code = "401";
	snprintf(biz->message, sizeof(biz->message),
		 "Invalid parameter ProductCode: scene %lld runs %s, not %s.", (long long)scene_id,
		 found_product, product_code);
}

int intake_store_scene(PGconn *c, struct intake_req *r, int64_t scene_id, const char *product_code,
		       const char *model_param, char *model, size_t model_cap,
		       struct intake_biz *biz)
{
	char scene[24];
	PGresult *res = NULL;
	snprintf(scene, sizeof(scene), "%lld", (long long)scene_id);
	const char *p[2] = {scene, r->tenant_id};
	int rc = intake_store_exec(c, r,
				   "SELECT product_code, model FROM scenes WHERE id = $1::bigint "
				   "AND tenant_id = $2::uuid",
				   2, p, &res);
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), product_code) != 0) {
		intake_biz_scene(biz, scene_id, PQntuples(res) ? PQgetvalue(res, 0, 0) : NULL,
				 product_code);
		rc = 1;
	} else {
		snprintf(model, model_cap, "%s", model_param ? model_param : PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

void intake_biz_blocked(struct intake_biz *biz, const char *product_code)
{
	biz->code = "412";
	snprintf(biz->message, sizeof(biz->message),
		 "The prepaid calls of ProductCode %s are used up and this account is set "
		 "to refuse further calls: buy a package or switch to postpaid.",
		 product_code);
}

int intake_store_blocked(PGconn *c, struct intake_req *r, const char *product_code,
			 struct intake_biz *biz)
{
	char product[8];
	PGresult *res = NULL;
	snprintf(product, sizeof(product), "%d", intake_valid_product_value(product_code));
	const char *p[2] = {r->tenant_id, product};
	int rc = intake_store_exec(c, r,
				   "SELECT 1 FROM metering_blocked WHERE tenant_id = $1::uuid AND "
				   "product = $2::smallint",
				   2, p, &res);
	if (rc == 0 && PQntuples(res) > 0) {
		intake_biz_blocked(biz, product_code);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

void intake_biz_order_conflict(struct intake_biz *biz, const char *outer_order_no,
			       const char *certify_id)
{
	biz->code = "401";
	snprintf(biz->message, sizeof(biz->message),
		 "OuterOrderNo %s was already used for a different request (CertifyId "
		 "%s); a retry must repeat the same parameters, a new verification needs a "
		 "new OuterOrderNo.",
		 outer_order_no, certify_id);
}

int intake_store_same_request(struct intake_req *r, const PGresult *res, int hash_col,
			      const uint8_t fingerprint[32], const char *outer_order_no,
			      struct intake_biz *biz)
{
	uint8_t *hash = NULL;
	size_t hash_len = 0;
	if (PQntuples(res) != 1) { /* deleted in between: cannot happen, rows are kept */
		snprintf(r->log_err, sizeof(r->log_err), "idempotency row vanished");
		return -EIO;
	}
	int rc = intake_store_bytea(PQgetvalue(res, 0, hash_col), &hash, &hash_len);
	if (rc < 0)
		return rc;
	if (hash_len != 32 || !crypto_equal(hash, fingerprint, 32)) {
		intake_biz_order_conflict(biz, outer_order_no, PQgetvalue(res, 0, 0));
		rc = 1;
	}
	free(hash);
	return rc;
}

int intake_store_photo(PGconn *c, struct intake_req *r, const char *vid, const char *kind,
		       const char *source, const uint8_t *img, size_t len, const char *mime,
		       uint32_t width, uint32_t height, int64_t *ret_id)
{
	PGresult *res = NULL;
	uint8_t *sealed = NULL, sha[32];
	size_t sealed_len = 0;
	char id[24], aad[48], w[12], h[12], size[24];
	int rc = intake_store_exec(c, r, "SELECT nextval(pg_get_serial_sequence('photos', 'id'))",
				   0, NULL, &res);
	if (rc < 0)
		goto out;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	snprintf(aad, sizeof(aad), "photos:%s", id);
	rc = intake_store_seal(r->srv, aad, img, len, &sealed, &sealed_len);
	if (rc == 0)
		rc = crypto_hash(CRYPTO_HASH_SHA256, img, len, sha);
	if (rc < 0)
		goto out;
	snprintf(w, sizeof(w), "%u", width);
	snprintf(h, sizeof(h), "%u", height);
	snprintf(size, sizeof(size), "%zu", len);
	const char *p[10] = {
		id, vid, kind, source, mime, w, h, size, (const char *)sha, (const char *)sealed};
	int lens[10] = {0, 0, 0, 0, 0, 0, 0, 0, 32, (int)sealed_len};
	int fmt[10] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
	rc = intake_store_execb(
		c, r,
		"INSERT INTO photos (id, verification_id, kind, source, mime, width, "
		"height, size_bytes, sha256, data_enc) OVERRIDING SYSTEM VALUE "
		"VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6::int, $7::int, "
		"$8::int, $9, $10)",
		10, p, lens, fmt, NULL);
	if (rc == 0)
		*ret_id = strtoll(id, NULL, 10);
out:
	PQclear(res);
	free(sealed);
	return rc;
}

int intake_store_passed_photo(PGconn *c, struct intake_req *r, const char *certify_id,
			      const char *param, int64_t *ret, struct intake_biz *biz)
{
	char keep[24];
	PGresult *res = NULL;
	long long kept_s = (long long)r->srv->cfg->photo_retention_s;
	snprintf(keep, sizeof(keep), "%lld", kept_s);
	const char *p[3] = {certify_id, r->tenant_id, keep};
	int rc = intake_store_exec(
		c, r,
		"SELECT v.passed, v.face_photo_id, p.data_enc IS NOT NULL AND p.created_at > "
		"now() - make_interval(secs => $3::bigint) FROM verifications v "
		"LEFT JOIN photos p ON p.id = v.face_photo_id "
		"WHERE v.certify_id = $1 AND v.tenant_id = $2::uuid",
		3, p, &res);
	if (rc < 0) {
		PQclear(res);
		return rc;
	}
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		biz->code = "423";
		snprintf(biz->message, sizeof(biz->message),
			 "The CertifyId given as %s has not passed verification (state T is "
			 "required).",
			 param);
		rc = 1;
	} else if (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
		biz->code = "419";
		snprintf(biz->message, sizeof(biz->message),
			 "The face photo of the CertifyId given as %s is no longer available "
			 "(photos are kept %lld hours).",
			 param, kept_s / 3600);
		rc = 1;
	} else {
		*ret = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return rc;
}

int intake_store_bytea(const char *text, uint8_t **ret, size_t *ret_len)
{
	return pg_bytea_decode(text, strlen(text), ret, ret_len);
}

/* ---- nonce purge ---- */

struct purge {
	struct intake *srv;
	char err[256];
	long deleted;
	bool running;
	struct intake_batcher batcher; /* lives as long as the purge state: past the pool */
};

static int purge_work(PGconn *c, void *arg)
{
	struct purge *p = arg;
	PGresult *res = NULL;
	p->err[0] = '\0';
	int rc = pg_exec(c, SQL_PURGE, 0, NULL, &res, p->err, sizeof(p->err));
	p->deleted = rc == 0 ? strtol(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return rc == -ECONNRESET ? rc : 0;
}

static void purge_done(void *arg, int rc)
{
	struct purge *p = arg;
	p->running = false;
	if (p->err[0])
		log_warn(p->srv->lg, "nonce purge failed", LF_S("error", p->err), LOG_END);
	else if (p->deleted > 0)
		log_debug(p->srv->lg, "expired nonces purged", LF_I("rows", p->deleted), LOG_END);
}

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct purge *p = arg;
	if (p->running || p->srv->draining)
		return;
	p->running = true;
	if (pg_pool_submit(p->srv->pool, purge_work, purge_done, p) < 0)
		p->running = false;
}

static void purge_free(void *arg)
{
	free(arg);
}

int intake_store_start_purge(struct intake *s)
{
	struct purge *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->srv = s;
	s->batcher = &p->batcher;
	s->batcher->m_batches = metrics_counter(s->metrics, "shiren_intake_batches_total",
						"Database batches run (requests grouped in one "
						"transaction)",
						NULL);
	s->batcher->m_items = metrics_counter(s->metrics, "shiren_intake_batch_requests_total",
					      "Requests run in database batches", NULL);
	s->batcher->m_fallbacks =
		metrics_counter(s->metrics, "shiren_intake_batch_fallbacks_total",
				"Batches rolled back and run one request at a time", NULL);
	s->purge_timer = event_new(s->base, -1, EV_PERSIST, purge_cb, p);
	struct timeval tv = {PURGE_INTERVAL_S, 0};
	if (!s->purge_timer || event_add(s->purge_timer, &tv) < 0) {
		s->batcher = NULL;
		free(p);
		return -ENOMEM;
	}
	s->purge_arg = p;
	s->purge_arg_free = purge_free;
	return 0;
}
