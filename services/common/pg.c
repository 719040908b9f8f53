/* pg — blocking helpers for worker threads, and the worker pool that keeps libpq off the
 * event loop (pg.h). Completions travel back to the loop through a pipe. */
#include "common/pg.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"

int pg_connect(const char *dsn, const char *app_name, PGconn **ret_conn, char *err, size_t errlen)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {dsn, app_name ? app_name : "shiren", "5", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
		size_t l = strlen(err);
		while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
			err[--l] = '\0';
		PQfinish(c);
		*ret_conn = NULL;
		return -ECONNREFUSED;
	}
	*ret_conn = c;
	return 0;
}

int pg_execb(PGconn *c, const char *sql, int nparams, const char *const *params, const int *lengths,
	     const int *formats, PGresult **ret_res, char *err, size_t errlen)
{
	if (ret_res)
		*ret_res = NULL;
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, lengths, formats, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (ret_res)
			*ret_res = r;
		else
			PQclear(r);
		return 0;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	if (!msg || !*msg)
		msg = PQerrorMessage(c);
	snprintf(err, errlen, "[%s] %s", state ? state : "08006", msg);
	size_t l = strlen(err);
	while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
		err[--l] = '\0';
	PQclear(r);
	return PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

int pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **ret_res,
	    char *err, size_t errlen)
{
	return pg_execb(c, sql, nparams, params, NULL, NULL, ret_res, err, errlen);
}

int pg_begin(PGconn *c, char *err, size_t errlen)
{
	return pg_exec(c, "BEGIN", 0, NULL, NULL, err, errlen);
}

int pg_commit(PGconn *c, char *err, size_t errlen)
{
	return pg_exec(c, "COMMIT", 0, NULL, NULL, err, errlen);
}

void pg_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

void pg_err_sqlstate(const char *err, char out[6])
{
	out[0] = '\0';
	if (err && err[0] == '[' && strlen(err) >= 7 && err[6] == ']') {
		memcpy(out, err + 1, 5);
		out[5] = '\0';
	}
}

bool pg_err_retryable(int rc, const char *err)
{
	if (rc == -ECONNRESET || rc == -ECONNREFUSED)
		return true;
	char st[6];
	pg_err_sqlstate(err, st);
	return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strncmp(st, "08", 2) == 0 ||
	       strcmp(st, "57P01") == 0;
}

/* ---- pool ---- */

struct pg_job {
	pg_work_fn work;
	pg_done_fn done;
	void *arg;
	int rc;
	struct pg_job *next;
};

struct pg_pool {
	struct event_base *base;
	struct log *lg;
	char *dsn;
	char *app;
	int nthreads;
	pthread_t *threads;
	size_t max_queue;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pg_job *head, *tail; /* waiting jobs, owned by the pool */
	size_t queued, running;
	struct pg_job *done_head, *done_tail; /* finished, waiting for the loop */
	int healthy;			      /* workers with a good connection */
	bool stopping;

	int pipefd[2]; /* worker -> loop wake-up */
	struct event *wake;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int pg_bytea_decode(const char *text, size_t n, uint8_t **ret, size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	if (n < 2 || text[0] != '\\' || text[1] != 'x' || n % 2)
		return -EBADMSG;
	size_t len = (n - 2) / 2;
	uint8_t *out = malloc(len ? len : 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int hi = crypto_hex_digit((unsigned char)text[2 + 2 * i]),
		    lo = crypto_hex_digit((unsigned char)text[3 + 2 * i]);
		if (hi < 0 || lo < 0) {
			free(out);
			return -EBADMSG;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

static void pool_drain_done(struct pg_pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct pg_job *j = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while (j) {
		struct pg_job *next = j->next;
		if (j->done)
			j->done(j->arg, j->rc);
		free(j);
		j = next;
	}
}

static void pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_pool *p = arg;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pool_drain_done(p);
}

static void *pool_worker(void *arg)
{
	struct pg_pool *p = arg;
	PGconn *conn = NULL;
	long backoff = 100;
	bool counted = false;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->head && p->stopping) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);

		if (!conn) {
			char err[512];
			if (pg_connect(p->dsn, p->app, &conn, err, sizeof(err)) < 0) {
				log_warn(p->lg, "postgresql connect failed; retrying",
					 LF_S("error", err), LF_I("backoff_ms", backoff), LOG_END);
				sleep_ms(backoff);
				backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
				pthread_mutex_lock(&p->mu);
				bool stop = p->stopping;
				pthread_mutex_unlock(&p->mu);
				if (!stop)
					continue;
				/* Stopping with no connection: fail what is queued. */
			} else {
				backoff = 100;
			}
		}
		pthread_mutex_lock(&p->mu);
		if (conn && !counted) {
			p->healthy++;
			counted = true;
		}
		struct pg_job *j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->mu);

		j->rc = conn ? j->work(conn, j->arg) : -ECONNREFUSED;
		if (conn && (j->rc == -ECONNRESET || PQstatus(conn) == CONNECTION_BAD)) {
			PQfinish(conn);
			conn = NULL;
		}

		pthread_mutex_lock(&p->mu);
		if (!conn && counted) {
			p->healthy--;
			counted = false;
		}
		p->running--;
		j->next = NULL;
		if (p->done_tail)
			p->done_tail->next = j;
		else
			p->done_head = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->mu);
		ssize_t w = write(p->pipefd[1], "x", 1);
		(void)w; /* a full pipe already guarantees a wake-up */
	}
	if (counted) {
		pthread_mutex_lock(&p->mu);
		p->healthy--;
		pthread_mutex_unlock(&p->mu);
	}
	PQfinish(conn);
	return NULL;
}

struct pg_pool *pg_pool_new(struct event_base *base, const char *dsn, const char *app_name,
			    int nthreads, size_t max_queue, struct log *lg)
{
	struct pg_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->lg = lg;
	p->dsn = strdup(dsn);
	p->app = strdup(app_name ? app_name : "shiren");
	p->max_queue = max_queue;
	p->pipefd[0] = p->pipefd[1] = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (!p->dsn || !p->app || pipe2(p->pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	p->wake = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, pool_wake_cb, p);
	if (!p->wake || event_add(p->wake, NULL) < 0)
		goto fail;
	p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
	if (!p->threads)
		goto fail;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0)
			goto fail;
		p->nthreads++;
	}
	/* Connect eagerly so /readyz reflects the database before the first request. */
	for (int i = 0; i < nthreads; i++)
		if (pg_pool_submit(p, NULL, NULL, NULL) < 0)
			goto fail;
	return p;
fail:
	pg_pool_free(p);
	return NULL;
}

static int noop_work(PGconn *c, void *arg)
{
	return 0;
}

int pg_pool_submit(struct pg_pool *p, pg_work_fn work, pg_done_fn done, void *arg)
{
	struct pg_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->work = work ? work : noop_work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -ESHUTDOWN;
	}
	if (work && p->queued >= p->max_queue) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -EAGAIN;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

bool pg_pool_ready(struct pg_pool *p)
{
	pthread_mutex_lock(&p->mu);
	bool ok = p->healthy > 0;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

size_t pg_pool_pending(struct pg_pool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->queued + p->running;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void pg_pool_free(struct pg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pool_drain_done(p);
	if (p->wake)
		event_free(p->wake);
	if (p->pipefd[0] >= 0)
		close(p->pipefd[0]);
	if (p->pipefd[1] >= 0)
		close(p->pipefd[1]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p->dsn);
	free(p->app);
	free(p);
}
