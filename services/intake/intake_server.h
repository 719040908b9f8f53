/* intake_server — the shared state of shiren-intake: its configuration, the server object the
 * modules hang off (listener, pools, key cache, throttle), and the per-request context with the
 * helpers every action uses to run work off the loop and to answer.
 *
 * Threads: everything here belongs to the loop thread, except the `work` functions handed to
 * intake_req_pg / intake_req_work, which run on a pool thread and may only read the request's
 * inputs and write its action state (the loop does not touch either while a job is pending). */
#ifndef SHIREN_INTAKE_SERVER_H
#define SHIREN_INTAKE_SERVER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/service.h"
#include "intake/intake_errors.h"
#include "intake/intake_params.h"
#include "intake/intake_sign.h"
#include "intake/intake_valid.h"

struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct event;
struct pg_pool;
struct consumer;
struct intake_keycache;
struct intake_throttle;
struct intake_work;
struct metric;

#define INTAKE_SOURCE  "shiren-intake" /* outbox source = service name */
#define INTAKE_VERSION "2019-03-07"

struct intake_cfg {
	struct service_cfg svc;
	char *master_key;
	char *listen_addr;
	char *public_url;
	int64_t max_body;
	int64_t max_request_line;
	int64_t max_headers;
	int64_t read_timeout_s;
	int64_t deadline_ms;
	int64_t pg_threads;
	int64_t pg_queue;
	int64_t work_threads;
	int64_t work_queue;
	int64_t key_cache_ms;
	int64_t throttle_qps;
	int64_t throttle_burst;
	int64_t fetch_timeout_ms;
	int64_t fetch_max_bytes;
	bool fetch_allow_private;
	int64_t certify_url_ttl_s;
	int64_t photo_retention_s;
	bool callback_allow_http;
	char *consumer_group;
	char *stats_tz;
};

struct intake {
	const struct intake_cfg *cfg;
	struct service *svc;
	struct event_base *base;
	struct log *lg;
	struct metrics *metrics;
	struct evhttp *http;
	struct evhttp_bound_socket *listener;
	struct pg_pool *pool;
	struct intake_work *work;
	struct intake_keycache *keys;
	struct intake_throttle *throttle;
	struct consumer *consumer;
	struct event *purge_timer;
	void *purge_arg; /* freed with purge_arg_free after the pool is gone */
	void (*purge_arg_free)(void *arg);
	/* Key material: the master key and keys derived from it (crypto_wipe'd at teardown). */
	uint8_t master[32];
	uint8_t k_cert_no[32];	   /* HMAC key of verifications.cert_no_hash */
	uint8_t k_fingerprint[32]; /* HMAC key of verifications.request_hash */
	char public_url[512];	   /* CertifyUrl base, no trailing '/' */
	size_t inflight;	   /* requests accepted and not yet freed */
	bool draining;
	struct metric *m_untracked; /* throttle table full */
};

struct intake_action;

/* One API request. Created by intake_http for every request that reaches the handler; freed
 * once it has been answered and no job is pending. Owns copies of everything it parsed. */
struct intake_req {
	struct intake *srv;
	struct evhttp_request *ev;
	char request_id[37]; /* upper-case UUID, also the trace id of emitted messages */
	struct timespec t0;  /* CLOCK_MONOTONIC at arrival */
	const char *method;  /* "GET" / "POST" (static) */

	/* inputs */
	char *uri; /* copy; path and query point into it */
	const char *path, *query;
	size_t query_len;
	const uint8_t *body; /* borrowed from the evhttp input buffer (pulled up) */
	size_t body_len;
	struct intake_sign_header *hdrs;
	size_t nhdrs;
	bool form; /* the body is a form: its pairs are parameters */
	struct intake_params params;
	struct intake_params_error parse_err;
	struct intake_sign_request sreq;
	struct intake_sign_parsed parsed;
	struct intake_sign_result sres;

	/* after authentication */
	bool authed;
	char tenant_id[37];
	const struct intake_action *action;
	const char *action_label; /* metrics/logs: a known action name or "unknown" */

	/* a pending job (one at a time) */
	int pending;
	int (*pg_work)(PGconn *c, struct intake_req *r);
	void (*job_done)(struct intake_req *r, int rc);
	int (*cpu_work)(struct intake_req *r);
	struct event *deadline;
	struct intake_req *key_next; /* waiting for a key fetch */

	/* the answer */
	bool replied;
	int http_status;
	char code[64];
	char certify_id[INTAKE_CERTIFY_ID_LEN + 1]; /* for the log line, when known */
	char log_err[256];			    /* internal error detail, logged, never sent */

	/* action state, freed with the request */
	void *state;
	void (*state_free)(void *state);
};

/* An implemented action. `handle` owns the request from then on and must answer it (directly
 * or from a job's done callback). */
struct intake_action {
	const char *name;
	void (*handle)(struct intake_req *r);
};

/* ---- intake_http.c ---- */
int intake_http_start(struct intake *s) __attribute__((warn_unused_result));
/* Stop accepting; new requests on open connections get 503 (loop thread). */
void intake_http_stop_accepting(struct intake *s);
/* Run the loop until every request is answered or `timeout_ms` passed (after the service loop
 * returned), then free the listener. */
void intake_http_drain(struct intake *s, int64_t timeout_ms);

/* Answers. Each sends exactly once (later calls are ignored) and logs the request line. */
void intake_reply_gateway(struct intake_req *r, enum intake_err e, const char *param,
			  const char *detail);
void intake_reply_sign(struct intake_req *r); /* r->sres as rendered by intake_sign */
void intake_reply_biz(struct intake_req *r, const struct intake_biz *b);
/* HTTP 200 with Code "200": `result` is the JSON text of ResultObject (or NULL for none). */
void intake_reply_ok(struct intake_req *r, const char *result, size_t len);
/* A complete JSON body built by the action; `code` is the body's Code (for the log). */
void intake_reply_json(struct intake_req *r, int status, const char *code, const char *body,
		       size_t len);
/* InternalError (500) or, for -ECONNREFUSED/-ECONNRESET/-EAGAIN/-ETIMEDOUT,
 * ServiceUnavailable (503); the CertifyId, when known, is added to the message. */
void intake_reply_failure(struct intake_req *r, int rc);
/* An extra response header for the coming answer (copied). */
void intake_req_set_header(struct intake_req *r, const char *name, const char *value);

/* Run `work` on a PostgreSQL pool worker, then `done` on the loop (not called when the request
 * was answered meanwhile, e.g. by its deadline). 0, or negative after answering 503 itself. */
int intake_req_pg(struct intake_req *r, int (*work)(PGconn *c, struct intake_req *r),
		  void (*done)(struct intake_req *r, int rc));
/* The same on the CPU/download worker pool. */
int intake_req_work(struct intake_req *r, int (*work)(struct intake_req *r),
		    void (*done)(struct intake_req *r, int rc));

/* For a module that parks a request itself (the key cache): count it as pending, and later
 * take it back. intake_req_resume returns true when the caller should carry on, false when the
 * request was answered meanwhile (by its deadline); it is then freed if nothing else holds it. */
void intake_req_park(struct intake_req *r);
bool intake_req_resume(struct intake_req *r);

/* Monotonic milliseconds. */
int64_t intake_now_ms(void);

/* ---- intake_auth.c ---- */
int intake_auth_init(struct intake *s) __attribute__((warn_unused_result));
void intake_auth_done(struct intake *s);
/* Authenticate (signature, key, window) then dispatch: throttle, action. */
void intake_auth_start(struct intake_req *r);

/* ---- intake_dispatch.c ---- */
/* The implemented action named `name`, or NULL. */
const struct intake_action *intake_action_find(const char *name);
/* After authentication: Action/Version checks, throttle, the action's handler. */
void intake_dispatch(struct intake_req *r);

/* ---- intake_store.c ---- */
/* Runs on a pool worker: BEGIN, claim the request's nonce, `body`, then COMMIT when body
 * returned 0, ROLLBACK otherwise. Returns body's value (> 0: a business refusal the body
 * recorded), -EALREADY when the nonce was used, or a negative error (detail in r->log_err). */
int intake_store_tx(PGconn *c, struct intake_req *r,
		    int (*body)(PGconn *c, struct intake_req *r, void *arg), void *arg)
	__attribute__((warn_unused_result));
/* pg_exec with the error text going to r->log_err. */
int intake_store_exec(PGconn *c, struct intake_req *r, const char *sql, int n,
		      const char *const *params, PGresult **ret)
	__attribute__((warn_unused_result));
int intake_store_execb(PGconn *c, struct intake_req *r, const char *sql, int n,
		       const char *const *params, const int *lengths, const int *formats,
		       PGresult **ret) __attribute__((warn_unused_result));
/* Seal `len` bytes under the master key with AAD `aad`: a heap blob into *ret. */
int intake_store_seal(const struct intake *s, const char *aad, const void *in, size_t len,
		      uint8_t **ret, size_t *ret_len) __attribute__((warn_unused_result));
/* Open a sealed blob: heap plaintext (NUL-terminated for convenience) into *ret. */
int intake_store_open(const struct intake *s, const char *aad, const uint8_t *in, size_t len,
		      uint8_t **ret, size_t *ret_len) __attribute__((warn_unused_result));
/* Decode a bytea column in text (hex) format: heap bytes into *ret. */
int intake_store_bytea(const char *text, uint8_t **ret, size_t *ret_len)
	__attribute__((warn_unused_result));
/* Start the periodic purge of expired nonces. */
int intake_store_start_purge(struct intake *s) __attribute__((warn_unused_result));

/* ---- intake_completed.c ---- */
int intake_completed_start(struct intake *s) __attribute__((warn_unused_result));

/* ---- actions ---- */
void intake_init_handle(struct intake_req *r);
void intake_describe_handle(struct intake_req *r);
void intake_delete_handle(struct intake_req *r);
void intake_page_handle(struct intake_req *r);

#endif
