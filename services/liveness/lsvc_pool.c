/* lsvc_pool — the worker threads of shiren-liveness, one per core, each with its own
 * PostgreSQL connection and its own engine workspace (liveness_worker). A worker waits for a
 * NOTIFY on LSVC_JOBS_CHANNEL (or polls), takes the next queued job (synchronous ones first)
 * under a session-level advisory lock, counts the attempt, loads the inputs, runs the engine
 * with no transaction open, and stores the result (lsvc_store.c). If the process dies mid-job
 * the lock dies with its connection and the job, still queued, is taken again; a job that has
 * used up its attempts is stored as a failure instead of being run again. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "liveness/liveness_engine.h"
#include "liveness/lsvc.h"
#include "liveness/lsvc_job.h"

#define CANDIDATES 32
#define LOCK_CLASS 0x4c56 /* "LV": advisory lock keys (LOCK_CLASS + id>>32, id) */
#define DETAIL_MAX LSVC_DETAIL_MAX

/* The next queued jobs, synchronous first, a page of CANDIDATES at a time; a worker tries
 * their locks in order. A job being computed stays queued (and locked) until its result is
 * stored, so a page can be all busy jobs: the worker then reads the next page. */
static const char SQL_CANDIDATES[] = "SELECT id FROM liveness_jobs WHERE state = 'queued' "
				     "ORDER BY synchronous DESC, id LIMIT 32 OFFSET $1::int";
static const char SQL_LOCK[] = "SELECT pg_try_advisory_lock($1::int, $2::int)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::int, $2::int)";
static const char SQL_CLAIM[] =
	"UPDATE liveness_jobs SET attempts = attempts + 1 WHERE id = $1::bigint AND "
	"state = 'queued' RETURNING certify_id, action, tenant_id, trace_id, synchronous, "
	"deadline_ms, payload, attempts";

struct worker {
	struct lsvc_pool *pool;
	int idx;
	pthread_t thread;
	bool started;
	atomic_bool finished;
	PGconn *pg;
	struct liveness_worker *eng;
	struct liveness_worker *eng2; /* the helper thread's, for two-image jobs */
	char name[32];
};

struct lsvc_pool {
	struct lsvc *s;
	int n;
	struct worker *w;
	atomic_bool stop;
	atomic_int connected;
	atomic_int busy;
};

static void drop_conn(struct worker *w)
{
	if (w->pg) {
		PQfinish(w->pg);
		w->pg = NULL;
		atomic_fetch_sub(&w->pool->connected, 1);
	}
}

static int ensure_conn(struct worker *w)
{
	struct lsvc *s = w->pool->s;
	char err[512];
	long backoff = 100;
	while (!w->pg && !atomic_load(&w->pool->stop)) {
		if (pg_connect(s->cfg->svc.pg_dsn, w->name, &w->pg, err, sizeof(err)) == 0 &&
		    pg_exec(w->pg, "LISTEN " LSVC_JOBS_CHANNEL, 0, NULL, NULL, err, sizeof(err)) ==
			    0) {
			atomic_fetch_add(&w->pool->connected, 1);
			return 0;
		}
		if (w->pg) {
			PQfinish(w->pg);
			w->pg = NULL;
		}
		log_warn(s->lg, "worker cannot reach postgresql; retrying", LF_S("error", err),
			 LF_S("worker", w->name), LF_I("backoff_ms", backoff), LOG_END);
		clock_nap_ms(&w->pool->stop, backoff);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	return w->pg ? 0 : -ESHUTDOWN;
}

static void lock_keys(int64_t id, char *k1, char *k2)
{
	snprintf(k1, 16, "%d", (int)(LOCK_CLASS + (id >> 32)));
	snprintf(k2, 16, "%d", (int)(int32_t)(uint32_t)(id & 0xffffffff));
}

static void unlock(struct worker *w, int64_t id)
{
	char k1[16], k2[16], err[256];
	lock_keys(id, k1, k2);
	const char *p[2] = {k1, k2};
	if (pg_exec(w->pg, SQL_UNLOCK, 2, p, NULL, err, sizeof(err)) < 0)
		drop_conn(w); /* the lock goes with the session */
}

/* Fills j from a claimed row. */
static int job_from_row(PGresult *res, int64_t id, struct lsvc_job *j)
{
	uint8_t *payload = NULL;
	size_t len = 0;
	j->id = id;
	snprintf(j->certify_id, sizeof(j->certify_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(j->action, sizeof(j->action), "%s", PQgetvalue(res, 0, 1));
	snprintf(j->tenant_id, sizeof(j->tenant_id), "%s", PQgetvalue(res, 0, 2));
	snprintf(j->trace_id, sizeof(j->trace_id), "%s", PQgetvalue(res, 0, 3));
	j->synchronous = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	j->deadline_ms = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	j->attempts = (int)strtol(PQgetvalue(res, 0, 7), NULL, 10);
	payload = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 6), &len);
	if (!payload)
		return -ENOMEM;
	int rc = lsvc_job_parse(j, payload, len);
	PQfreemem(payload);
	return rc;
}

/* Takes the next queued job. 1 with *j filled and its lock held, 0 when none is free, or a
 * negative error (connection lost). */
static int claim(struct worker *w, struct lsvc_job *j)
{
	char err[512], k1[16], k2[16], idt[24], off[16];
	PGresult *cand = NULL, *res = NULL;
	int rc = 0, page = 0;
next_page:
	snprintf(off, sizeof(off), "%d", page * CANDIDATES);
	const char *op[1] = {off};
	rc = pg_exec(w->pg, SQL_CANDIDATES, 1, op, &cand, err, sizeof(err));
	if (rc < 0)
		goto fail;
	for (int i = 0; i < PQntuples(cand); i++) {
		int64_t id = strtoll(PQgetvalue(cand, i, 0), NULL, 10);
		lock_keys(id, k1, k2);
		const char *lp[2] = {k1, k2};
		rc = pg_exec(w->pg, SQL_LOCK, 2, lp, &res, err, sizeof(err));
		if (rc < 0)
			goto fail;
		bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		res = NULL;
		if (!got)
			continue;
		snprintf(idt, sizeof(idt), "%lld", (long long)id);
		const char *cp[1] = {idt};
		rc = pg_exec(w->pg, SQL_CLAIM, 1, cp, &res, err, sizeof(err));
		if (rc < 0)
			goto fail;
		if (PQntuples(res) == 1) {
			rc = job_from_row(res, id, j);
			PQclear(res);
			PQclear(cand);
			if (rc == -ENOMEM) { /* not the job's fault: leave it to a later claim */
				unlock(w, id);
				return w->pg ? 0 : -ECONNRESET;
			}
			if (rc < 0) { /* stored payload was checked when queued */
				log_error(w->pool->s->lg, "stored job does not parse",
					  LF_I("job", id), LOG_END);
			}
			return 1;
		}
		PQclear(res);
		res = NULL;
		unlock(w, id); /* done by another worker in between */
		if (!w->pg) {
			PQclear(cand);
			return -ECONNRESET;
		}
	}
	bool full = PQntuples(cand) == CANDIDATES;
	PQclear(cand);
	cand = NULL;
	if (full && page < 1000) { /* every job of this page is taken: look further */
		page++;
		goto next_page;
	}
	return 0;
fail:
	PQclear(res);
	PQclear(cand);
	log_warn(w->pool->s->lg, "worker lost postgresql", LF_S("error", err),
		 LF_S("worker", w->name), LOG_END);
	drop_conn(w);
	return -ECONNRESET;
}

static void log_job(struct worker *w, const struct lsvc_job *j, const struct lsvc_outcome *o,
		    int64_t total_ms, int64_t compute_ms, int64_t queue_ms, bool stored)
{
	struct lsvc *s = w->pool->s;
	log_write(s->lg, o->kind == LSVC_FAILED ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
		  stored ? "job done" : "job already done elsewhere",
		  LF_S("certify_id", j->certify_id), LF_S("action", j->action),
		  LF_S("tenant", j->tenant_id), LF_S("trace_id", j->trace_id),
		  LF_S("code", o->code), LF_B("passed", o->passed), LF_I("sub_code", o->sub_code),
		  LF_S("why", o->why), LF_F("verify_score", o->verify_score),
		  LF_I("attempt", j->attempts), LF_I("ms", total_ms),
		  LF_I("compute_ms", compute_ms), LF_I("queue_ms", queue_ms),
		  LF_S("worker", w->name), LOG_END);
}

/* Runs a claimed job to its stored result. The lock is released by the caller. */
static void process(struct worker *w, struct lsvc_job *j)
{
	struct lsvc *s = w->pool->s;
	struct lsvc_outcome o;
	char err[512] = "", *detail = malloc(DETAIL_MAX);
	int64_t t0 = clock_mono_ms(), compute_ms = 0;
	int64_t queue_ms = j->produced_at_ms > 0 ? envelope_now_ms() - j->produced_at_ms : 0;
	bool stored = false;
	lsvc_outcome_init(&o);
	if (!detail)
		return; /* the job stays queued; the next claim counts another attempt */
	snprintf(detail, DETAIL_MAX, "{}");
	log_debug(s->lg, "job claimed", LF_S("certify_id", j->certify_id),
		  LF_S("action", j->action), LF_I("attempt", j->attempts), LF_S("worker", w->name),
		  LOG_END);
	if (!j->msg) {
		lsvc_outcome_failed(&o, "bad_payload", "The stored job does not parse.");
	} else if (j->attempts > s->cfg->max_attempts) {
		lsvc_outcome_failed(&o, "attempts",
				    "The verification failed repeatedly and was given up.");
	} else {
		int rc = lsvc_load_images(w->pg, s, j, err, sizeof(err));
		if (rc == -ECONNRESET || (rc < 0 && PQstatus(w->pg) == CONNECTION_BAD)) {
			drop_conn(w);
			goto out;
		}
		if (rc < 0) {
			lsvc_outcome_failed(&o, "load", "The input images could not be loaded.");
		} else {
			int64_t c0 = clock_mono_ms();
			metrics_gauge_set(s->m.busy, atomic_fetch_add(&w->pool->busy, 1) + 1);
			lsvc_run(s, w->eng, w->eng2, j, &o, detail, DETAIL_MAX);
			metrics_gauge_set(s->m.busy, atomic_fetch_sub(&w->pool->busy, 1) - 1);
			compute_ms = clock_mono_ms() - c0;
			metrics_histogram_observe(s->m.compute_seconds,
						  (double)compute_ms / 1000.0);
		}
	}
	if (o.kind == LSVC_TIMEOUT)
		metrics_counter_add(s->m.jobs_timeout, 1);
	else if (o.kind == LSVC_FAILED)
		metrics_counter_add(s->m.jobs_failed, 1);
	int rc = lsvc_store_result(w->pg, j, &o, detail, compute_ms, &stored, err, sizeof(err));
	if (rc < 0) {
		log_warn(s->lg, "storing a result failed; the job will run again",
			 LF_S("certify_id", j->certify_id), LF_S("error", err), LOG_END);
		if (PQstatus(w->pg) == CONNECTION_BAD || rc == -ECONNRESET)
			drop_conn(w);
		goto out;
	}
	metrics_counter_add(stored ? s->m.jobs_done : s->m.jobs_dup, 1);
	metrics_histogram_observe(s->m.job_seconds, (double)(clock_mono_ms() - t0) / 1000.0);
	if (queue_ms > 0)
		metrics_histogram_observe(s->m.queue_seconds, (double)queue_ms / 1000.0);
	log_job(w, j, &o, clock_mono_ms() - t0, compute_ms, queue_ms, stored);
out:
	free(detail);
}

/* Reads what the server sent and drops the notifications: how many there were, or -1 when the
 * connection is lost (then dropped). */
static int take_notifies(struct worker *w)
{
	PGnotify *n;
	int k = 0;
	if (!PQconsumeInput(w->pg)) {
		drop_conn(w);
		return -1;
	}
	while ((n = PQnotifies(w->pg))) {
		PQfreemem(n);
		k++;
	}
	return k;
}

/* Waits for a NOTIFY (or the poll interval). Returns early on stop. */
static void wait_jobs(struct worker *w)
{
	struct lsvc_pool *p = w->pool;
	int64_t until = clock_mono_ms() + p->s->cfg->poll_ms;
	if (take_notifies(w) != 0)
		return;
	while (!atomic_load(&p->stop)) {
		int64_t left = until - clock_mono_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {PQsocket(w->pg), POLLIN, 0};
		if (poll(&pfd, 1, (int)(left > 100 ? 100 : left)) > 0 && take_notifies(w) != 0)
			return;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct lsvc_pool *p = w->pool;
	while (!atomic_load(&p->stop)) {
		if (ensure_conn(w) < 0)
			break;
		struct lsvc_job j;
		memset(&j, 0, sizeof(j));
		int rc = claim(w, &j);
		if (rc > 0) {
			process(w, &j);
			if (w->pg)
				unlock(w, j.id);
			lsvc_job_done(&j);
			continue;
		}
		if (rc == 0 && w->pg)
			wait_jobs(w);
	}
	drop_conn(w);
	atomic_store(&w->finished, true);
	return NULL;
}

/* Runs the networks once so the first job does not pay for page faults and first-touch
 * allocation: the detector on a blank image, the descriptor on a blank chip. */
static void warm_up(const struct liveness_engine *e, struct liveness_worker *eng)
{
	struct liveness_rgb img = {.w = 256, .h = 256};
	struct liveness_analysis *a = calloc(1, sizeof(*a));
	img.px = malloc((size_t)img.w * img.h * 3);
	if (a && img.px) {
		memset(img.px, 128, (size_t)img.w * img.h * 3);
		if (liveness_analyze(e, eng, &img, NULL, LIVENESS_NO_SMALL_FACES, a) == 0) {
			memset(a->chip, 128, sizeof(a->chip));
			a->has_face = true;
			a->has_descriptor = false;
			liveness_analysis_describe(e, eng, a);
		}
	}
	free(img.px);
	free(a);
}

static bool ready_cb(void *arg)
{
	struct lsvc_pool *p = arg;
	return atomic_load(&p->connected) > 0;
}

int lsvc_pool_start(struct lsvc *s)
{
	struct lsvc_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->s = s;
	p->n = s->nworkers;
	p->w = calloc((size_t)p->n, sizeof(*p->w));
	s->pool = p;
	if (!p->w)
		return -ENOMEM;
	for (int i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		w->pool = p;
		w->idx = i;
		snprintf(w->name, sizeof(w->name), "shiren-liveness-w%d", i);
		int rc = liveness_worker_new(s->engine, &w->eng);
		if (rc == 0)
			rc = liveness_worker_new(s->engine, &w->eng2);
		if (rc < 0)
			return rc;
		warm_up(s->engine, w->eng);
		warm_up(s->engine, w->eng2);
	}
	for (int i = 0; i < p->n; i++) {
		if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0)
			return -EAGAIN;
		p->w[i].started = true;
	}
	return service_add_ready_check(s->svc, "workers", ready_cb, p);
}

bool lsvc_pool_ready(struct lsvc *s)
{
	return s->pool && ready_cb(s->pool);
}

void lsvc_pool_stop(struct lsvc *s, int64_t timeout_ms)
{
	struct lsvc_pool *p = s->pool;
	if (!p)
		return;
	atomic_store(&p->stop, true);
	int64_t until = clock_mono_ms() + timeout_ms;
	bool all = true;
	for (int i = 0; i < p->n && p->w; i++) {
		struct worker *w = &p->w[i];
		if (!w->started)
			continue;
		while (!atomic_load(&w->finished) && clock_mono_ms() < until)
			nanosleep(&(struct timespec){0, 5000000L}, NULL);
		if (!atomic_load(&w->finished)) {
			all = false; /* still computing: left to the process exit */
			continue;
		}
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	if (!all) {
		log_warn(s->lg, "workers still busy at shutdown; their jobs will be redone",
			 LOG_END);
		return; /* the engine and workspaces stay allocated for the running threads */
	}
	for (int i = 0; i < p->n && p->w; i++) {
		liveness_worker_free(p->w[i].eng);
		liveness_worker_free(p->w[i].eng2);
	}
	free(p->w);
	free(p);
	s->pool = NULL;
}
