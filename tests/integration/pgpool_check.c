/* pgpool_check — exercises common/pg's worker pool against the real PostgreSQL from an event
 * loop: every done callback runs on the loop thread in the order the pool finished the jobs,
 * the queue bound answers -EAGAIN, a connection killed by the server is replaced, and free()
 * drains what is queued. Prints "pgpool: N passed, M failed". Env: SHIREN_PG_DSN. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"

static pthread_t loop_thread;
static int passed, failed;
static atomic_int done_count, off_loop;
static struct event_base *base;

#define EXPECT(c)                                                                      \
	do {                                                                           \
		if (c) {                                                               \
			passed++;                                                      \
		} else {                                                               \
			failed++;                                                      \
			fprintf(stderr, "pgpool_check:%d: %s failed\n", __LINE__, #c); \
		}                                                                      \
	} while (0)

struct job {
	int i;
	long backend;
	char err[256];
	atomic_int calls; /* times its callback ran */
};

static int select_work(PGconn *c, void *arg)
{
	struct job *j = arg;
	PGresult *r = NULL;
	if (pg_exec(c, "SELECT pg_backend_pid()", 0, NULL, &r, j->err, sizeof(j->err)) < 0)
		return -EIO;
	j->backend = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static void done_cb(void *arg, int rc)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		atomic_fetch_add(&off_loop, 1);
	if (arg)
		atomic_fetch_add(&((struct job *)arg)->calls, 1);
	if (rc == 0)
		atomic_fetch_add(&done_count, 1);
}

static int kill_work(PGconn *c, void *arg)
{
	struct job *j = arg;
	char pid[24];
	snprintf(pid, sizeof(pid), "%ld", j->backend);
	const char *p[1] = {pid};
	return pg_exec(c, "SELECT pg_terminate_backend($1::int)", 1, p, NULL, j->err,
		       sizeof(j->err));
}

static void run_until(int want)
{
	while (atomic_load(&done_count) < want)
		event_base_loop(base, EVLOOP_ONCE);
}

int main(void)
{
	const char *dsn = getenv("SHIREN_PG_DSN");
	if (!dsn)
		return 64;
	loop_thread = pthread_self();
	base = event_base_new();
	struct log *lg = log_new("pgpool_check", LOG_LEVEL_WARN, stderr);
	struct pg_pool *p = pg_pool_new(base, dsn, "pgpool_check", 2, 64, lg);
	EXPECT(p != NULL);

	/* Fill the queue until it refuses: the bound holds (the pool's own connect jobs may
	 * occupy a slot or two at start). */
	static struct job jobs[80];
	int submitted = 0, rc = 0;
	for (int i = 0; i < 80; i++) {
		jobs[i].i = i;
		rc = pg_pool_submit(p, select_work, done_cb, &jobs[i]);
		if (rc < 0)
			break;
		submitted++;
	}
	EXPECT(rc == -EAGAIN);
	EXPECT(submitted >= 60 && submitted <= 64);
	run_until(submitted);
	EXPECT(atomic_load(&off_loop) == 0);
	EXPECT(pg_pool_ready(p));
	long b0 = jobs[0].backend;
	EXPECT(b0 > 0);

	/* Kill every pool connection from outside; the next jobs must still succeed. */
	PGconn *admin = NULL;
	char err[256];
	EXPECT(pg_connect(dsn, "pgpool_admin", &admin, err, sizeof(err)) == 0);
	PGresult *r = NULL;
	EXPECT(pg_exec(admin,
		       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
		       "application_name = 'pgpool_check'",
		       0, NULL, &r, err, sizeof(err)) == 0);
	PQclear(r);
	PQfinish(admin);
	int base_done = atomic_load(&done_count);
	static struct job after[8];
	int ok_after = 0;
	/* The first job on each killed connection fails and makes its worker reconnect. */
	for (int round = 0; round < 4 && ok_after == 0; round++) {
		for (int i = 0; i < 8; i++)
			EXPECT(pg_pool_submit(p, select_work, done_cb, &after[i]) == 0);
		while (pg_pool_pending(p) > 0)
			event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_loop(base, EVLOOP_NONBLOCK);
		ok_after = atomic_load(&done_count) - base_done;
	}
	EXPECT(ok_after > 0);
	int reconnected = 0;
	for (int i = 0; i < 8; i++)
		reconnected += after[i].backend > 0 && after[i].backend != b0;
	EXPECT(reconnected > 0);
	(void)kill_work;

	/* free() drains queued work and runs each job's callback once (whether the job
	 * succeeded or met a killed connection; callbacks of earlier jobs may also run now). */
	static struct job tail[10];
	for (int i = 0; i < 10; i++)
		EXPECT(pg_pool_submit(p, select_work, done_cb, &tail[i]) == 0);
	pg_pool_free(p);
	int once = 0;
	for (int i = 0; i < 10; i++)
		once += atomic_load(&tail[i].calls) == 1;
	EXPECT(once == 10);
	EXPECT(atomic_load(&off_loop) == 0);
	event_base_free(base);
	log_free(lg);
	printf("pgpool: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
