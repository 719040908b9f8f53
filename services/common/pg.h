/* pg — PostgreSQL access for services and tools.
 * Blocking helpers (pg_connect, pg_exec…) are for worker threads and the CLI only. The event
 * loop reaches PostgreSQL through a pg_pool: worker threads that each own one connection run
 * the submitted work function and report completion back on the loop thread. */
#ifndef SHIREN_COMMON_PG_H
#define SHIREN_COMMON_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct log;

/* Connect (blocking) and set application_name. Fills `err` with libpq's message on failure.
 * 0, or -ECONNREFUSED. *ret_conn is owned by the caller (PQfinish). */
int pg_connect(const char *dsn, const char *app_name, PGconn **ret_conn, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Run one statement with text parameters (NULL entries are SQL NULL) and check it succeeded
 * (COMMAND_OK or TUPLES_OK). On success *ret_res (if non-NULL) receives the result, owned by the
 * caller (PQclear); otherwise the result is cleared here. On failure `err` holds the message
 * and the SQLSTATE prefix ("[23505] duplicate key…"), and the return is -EIO, or -ECONNRESET
 * when the connection is gone. */
int pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **ret_res,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/* As pg_exec with explicit lengths and formats (binary parameters: bytea). */
int pg_execb(PGconn *c, const char *sql, int nparams, const char *const *params, const int *lengths,
	     const int *formats, PGresult **ret_res, char *err, size_t errlen)
	__attribute__((warn_unused_result));

int pg_begin(PGconn *c, char *err, size_t errlen) __attribute__((warn_unused_result));
int pg_commit(PGconn *c, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Best effort: a failed rollback on a broken connection is not an error worth reporting. */
void pg_rollback(PGconn *c);

/* SQLSTATE of the last error message in `err` as written by pg_exec, e.g. "40001"; "" if none. */
void pg_err_sqlstate(const char *err, char out[6]);
/* True for errors worth retrying: serialization failure, deadlock, connection loss. */
bool pg_err_retryable(int rc, const char *err);

/* A bytea column in text (hex) format, "\\x0aff...", of `n` characters: the bytes on the heap
 * in *ret (the caller frees them; 1 byte allocated for an empty value). -EBADMSG for anything
 * else, -ENOMEM. */
int pg_bytea_decode(const char *text, size_t n, uint8_t **ret, size_t *ret_len)
	__attribute__((warn_unused_result));

/* ---- pool ---- */
struct pg_pool;

/* Runs on a worker thread with that thread's connection. May run whole transactions. Returns 0
 * or a negative errno; -ECONNRESET makes the worker reconnect before its next job. */
typedef int (*pg_work_fn)(PGconn *conn, void *arg);
/* Runs on the loop thread after the work function returned `rc`. */
typedef void (*pg_done_fn)(void *arg, int rc);

/* `nthreads` workers that connect lazily with backoff (never blocks); at most `max_queue` jobs
 * wait. `base` and `lg` are borrowed. */
struct pg_pool *pg_pool_new(struct event_base *base, const char *dsn, const char *app_name,
			    int nthreads, size_t max_queue, struct log *lg);
/* Queue a job. 0, -EAGAIN when the queue is full, -ESHUTDOWN after pg_pool_free began. */
int pg_pool_submit(struct pg_pool *p, pg_work_fn work, pg_done_fn done, void *arg)
	__attribute__((warn_unused_result));
/* True when at least one worker holds a healthy connection. Thread-safe. */
bool pg_pool_ready(struct pg_pool *p);
/* Jobs queued or running. */
size_t pg_pool_pending(struct pg_pool *p);
/* Finish queued jobs (their done callbacks run from inside this call), stop workers, close
 * connections. Accepts NULL. */
void pg_pool_free(struct pg_pool *p);

#endif
