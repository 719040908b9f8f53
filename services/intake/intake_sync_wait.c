/* intake_sync_wait — parked synchronous requests and what wakes them (intake_sync.h): a
 * registry of waiters by CertifyId on the loop thread, and a listener thread with its own
 * PostgreSQL connection that LISTENs on INTAKE_SYNC_CHANNEL and hands each result to the loop
 * through a pipe. A waiter whose time is up takes a last look at liveness_results on the pool
 * before it gives up. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"

#define BUCKETS	  1024
#define QUEUE_MAX 65536 /* results waiting for the loop; beyond: dropped (waiters look again) */

static const char SQL_RESULT[] =
	"SELECT code, passed, sub_code, verify_score, liveness_score, quality_score, message "
	"FROM liveness_results WHERE certify_id = $1 AND action = $2";

struct waiter {
	struct intake_sync *owner;
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	char action[64];
	struct intake_req *r;
	void (*done)(struct intake_req *r, const struct intake_sync_result *res);
	struct event *timer;
	struct waiter *next;
	/* the last look */
	int found;
	struct intake_sync_result res;
	char err[256];
};

struct queued {
	struct intake_sync_result res;
	struct queued *next;
};

struct intake_sync {
	struct intake *srv;
	struct waiter *buckets[BUCKETS];
	size_t nwaiters;
	/* listener -> loop */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_bool connected;
	pthread_mutex_t mu;
	struct queued *head, *tail;
	size_t qlen;
	int pipefd[2];
	struct event *pipe_ev;
	struct metric *m_woken, *m_timeout, *m_late, *m_dropped;
};

static size_t bucket_of(const char *certify_id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *c = certify_id; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	return (size_t)(h % BUCKETS);
}

static void unlink_waiter(struct intake_sync *y, struct waiter *w)
{
	struct waiter **pp = &y->buckets[bucket_of(w->certify_id)];
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = w->next;
		y->nwaiters--;
	}
	w->next = NULL;
}

static void waiter_finish(struct waiter *w, const struct intake_sync_result *res)
{
	if (w->timer)
		event_free(w->timer);
	if (intake_req_resume(w->r))
		w->done(w->r, res);
	free(w);
}

/* ---- the last look (pool) ---- */

int intake_sync_read_result(PGconn *c, const char *certify_id, const char *action,
			    struct intake_sync_result *ret, char *err, size_t errlen)
{
	PGresult *res = NULL;
	const char *p[2] = {certify_id, action};
	int rc = pg_exec(c, SQL_RESULT, 2, p, &res, err, errlen);
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	*ret = (struct intake_sync_result){0};
	snprintf(ret->certify_id, sizeof(ret->certify_id), "%s", certify_id);
	snprintf(ret->code, sizeof(ret->code), "%s", PQgetvalue(res, 0, 0));
	ret->passed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	ret->sub_code = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
	double *scores[3] = {&ret->verify_score, &ret->liveness_score, &ret->quality_score};
	for (int i = 0; i < 3; i++)
		*scores[i] =
			PQgetisnull(res, 0, 3 + i) ? -1.0 : strtod(PQgetvalue(res, 0, 3 + i), NULL);
	snprintf(ret->message, sizeof(ret->message), "%s", PQgetvalue(res, 0, 6));
	PQclear(res);
	return 1;
}

static int look_work(PGconn *c, void *arg)
{
	struct waiter *w = arg;
	int rc = intake_sync_read_result(c, w->certify_id, w->action, &w->res, w->err,
					 sizeof(w->err));
	w->found = rc > 0;
	return rc < 0 ? rc : 0;
}

static void look_done(void *arg, int rc)
{
	struct waiter *w = arg;
	struct intake_sync *y = w->owner;
	if (w->found)
		metrics_counter_add(y->m_late, 1);
	else
		metrics_counter_add(y->m_timeout, 1);
	if (rc < 0 && w->err[0] && !w->r->log_err[0])
		snprintf(w->r->log_err, sizeof(w->r->log_err), "last look: %.200s", w->err);
	waiter_finish(w, w->found ? &w->res : NULL);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct intake_sync *y = w->owner;
	unlink_waiter(y, w);
	if (pg_pool_submit(y->srv->pool, look_work, look_done, w) < 0) {
		metrics_counter_add(y->m_timeout, 1);
		waiter_finish(w, NULL);
	}
}

int intake_sync_wait(struct intake_req *r, const char *certify_id, int64_t deadline_ms,
		     void (*done)(struct intake_req *r, const struct intake_sync_result *res))
{
	struct intake_sync *y = r->srv->sync;
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w || !y)
		goto fail;
	w->owner = y;
	w->r = r;
	w->done = done;
	snprintf(w->certify_id, sizeof(w->certify_id), "%s", certify_id);
	snprintf(w->action, sizeof(w->action), "%s", r->action_label);
	w->timer = evtimer_new(r->srv->base, timer_cb, w);
	int64_t left = deadline_ms - intake_now_ms();
	if (left < 0)
		left = 0;
	struct timeval tv = {left / 1000, (left % 1000) * 1000};
	if (!w->timer || evtimer_add(w->timer, &tv) < 0)
		goto fail;
	size_t b = bucket_of(w->certify_id);
	w->next = y->buckets[b];
	y->buckets[b] = w;
	y->nwaiters++;
	intake_req_park(r);
	return 0;
fail:
	if (w && w->timer)
		event_free(w->timer);
	free(w);
	return -ENOMEM;
}

/* ---- a look right after parking ---- */

static void deliver(struct intake_sync *y, const struct intake_sync_result *res);

struct recheck {
	struct intake_sync *y;
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1];
	char action[64];
	int found;
	struct intake_sync_result res;
	char err[256];
};

static int recheck_work(PGconn *c, void *arg)
{
	struct recheck *k = arg;
	int rc = intake_sync_read_result(c, k->certify_id, k->action, &k->res, k->err,
					 sizeof(k->err));
	k->found = rc > 0;
	return rc < 0 ? rc : 0;
}

static void recheck_done(void *arg, int rc)
{
	struct recheck *k = arg;
	if (k->found)
		deliver(k->y, &k->res); /* wakes whoever still waits for it */
	free(k);
}

void intake_sync_recheck(struct intake_req *r, const char *certify_id)
{
	struct intake_sync *y = r->srv->sync;
	struct recheck *k = y ? calloc(1, sizeof(*k)) : NULL;
	if (!k)
		return; /* the waiter's own last look still comes */
	k->y = y;
	snprintf(k->certify_id, sizeof(k->certify_id), "%s", certify_id);
	snprintf(k->action, sizeof(k->action), "%s", r->action_label);
	if (pg_pool_submit(r->srv->pool, recheck_work, recheck_done, k) < 0)
		free(k);
}

/* ---- loop side of the pipe ---- */

static void deliver(struct intake_sync *y, const struct intake_sync_result *res)
{
	struct waiter **pp = &y->buckets[bucket_of(res->certify_id)];
	while (*pp) {
		struct waiter *w = *pp;
		if (strcmp(w->certify_id, res->certify_id) != 0) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		y->nwaiters--;
		metrics_counter_add(y->m_woken, 1);
		waiter_finish(w, res);
	}
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct intake_sync *y = arg;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&y->mu);
	struct queued *q = y->head;
	y->head = y->tail = NULL;
	y->qlen = 0;
	pthread_mutex_unlock(&y->mu);
	while (q) {
		struct queued *next = q->next;
		deliver(y, &q->res);
		free(q);
		q = next;
	}
}

/* ---- listener thread ---- */

static void push(struct intake_sync *y, const char *payload)
{
	struct queued *q = malloc(sizeof(*q));
	if (!q || intake_sync_payload_parse(payload, &q->res) < 0) {
		free(q);
		metrics_counter_add(y->m_dropped, 1);
		return;
	}
	q->next = NULL;
	pthread_mutex_lock(&y->mu);
	bool full = y->qlen >= QUEUE_MAX;
	if (!full) {
		if (y->tail)
			y->tail->next = q;
		else
			y->head = q;
		y->tail = q;
		y->qlen++;
	}
	pthread_mutex_unlock(&y->mu);
	if (full) {
		free(q);
		metrics_counter_add(y->m_dropped, 1);
		return;
	}
	char one = 1;
	/* A full pipe already has a wake-up pending. */
	(void)!write(y->pipefd[1], &one, 1);
}

static void *listener_main(void *arg)
{
	struct intake_sync *y = arg;
	struct intake *s = y->srv;
	PGconn *pg = NULL;
	char err[512];
	long backoff = 100;
	while (!atomic_load(&y->stop)) {
		if (!pg) {
			if (pg_connect(s->cfg->svc.pg_dsn, "shiren-intake-sync", &pg, err,
				       sizeof(err)) < 0 ||
			    pg_exec(pg, "LISTEN " INTAKE_SYNC_CHANNEL, 0, NULL, NULL, err,
				    sizeof(err)) < 0) {
				PQfinish(pg);
				pg = NULL;
				log_warn(s->lg, "sync listener cannot reach postgresql; retrying",
					 LF_S("error", err), LF_I("backoff_ms", backoff), LOG_END);
				clock_nap_ms(&y->stop, backoff);
				backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
				continue;
			}
			backoff = 100;
			atomic_store(&y->connected, true);
		}
		struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
		int r = poll(&pfd, 1, 100);
		if (r <= 0)
			continue;
		if (!PQconsumeInput(pg)) {
			log_warn(s->lg, "sync listener lost postgresql",
				 LF_S("error", PQerrorMessage(pg)), LOG_END);
			atomic_store(&y->connected, false);
			PQfinish(pg);
			pg = NULL;
			continue;
		}
		PGnotify *n;
		while ((n = PQnotifies(pg))) {
			push(y, n->extra);
			PQfreemem(n);
		}
	}
	atomic_store(&y->connected, false);
	PQfinish(pg);
	return NULL;
}

static bool ready_cb(void *arg)
{
	struct intake_sync *y = arg;
	return atomic_load(&y->connected);
}

int intake_sync_start(struct intake *s)
{
	struct intake_sync *y = calloc(1, sizeof(*y));
	if (!y)
		return -ENOMEM;
	y->srv = s;
	y->pipefd[0] = y->pipefd[1] = -1;
	pthread_mutex_init(&y->mu, NULL);
	s->sync = y;
	if (pipe2(y->pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	y->pipe_ev = event_new(s->base, y->pipefd[0], EV_READ | EV_PERSIST, pipe_cb, y);
	if (!y->pipe_ev || event_add(y->pipe_ev, NULL) < 0)
		return -ENOMEM;
	y->m_woken = metrics_counter(s->metrics, "shiren_intake_sync_woken_total",
				     "Synchronous calls answered by a result notification", NULL);
	y->m_late =
		metrics_counter(s->metrics, "shiren_intake_sync_last_look_total",
				"Synchronous calls answered by the last look after the wait", NULL);
	y->m_timeout = metrics_counter(s->metrics, "shiren_intake_sync_timeout_total",
				       "Synchronous calls without a result within the wait", NULL);
	y->m_dropped =
		metrics_counter(s->metrics, "shiren_intake_sync_dropped_total",
				"Result notifications dropped (unparsable or queue full)", NULL);
	if (pthread_create(&y->thread, NULL, listener_main, y) != 0)
		return -EAGAIN;
	y->started = true;
	return service_add_ready_check(s->svc, "sync_listener", ready_cb, y);
}

void intake_sync_stop(struct intake *s)
{
	struct intake_sync *y = s->sync;
	if (!y)
		return;
	atomic_store(&y->stop, true);
	if (y->started)
		pthread_join(y->thread, NULL);
	/* Requests still parked here outlived the drain: release the registry only. */
	for (size_t b = 0; b < BUCKETS; b++) {
		struct waiter *w = y->buckets[b];
		while (w) {
			struct waiter *next = w->next;
			if (w->timer)
				event_free(w->timer);
			free(w);
			w = next;
		}
	}
	while (y->head) {
		struct queued *q = y->head;
		y->head = q->next;
		free(q);
	}
	if (y->pipe_ev)
		event_free(y->pipe_ev);
	if (y->pipefd[0] >= 0)
		close(y->pipefd[0]);
	if (y->pipefd[1] >= 0)
		close(y->pipefd[1]);
	pthread_mutex_destroy(&y->mu);
	free(y);
	s->sync = NULL;
}
