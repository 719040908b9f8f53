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
struct intake_sync;
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
	int64_t sync_wait_ms; /* intake_sync: how long a synchronous action waits for its result */
	int64_t frames_max;   /* intake_sync_frames: H5 upload bounds and the job's deadline */
	int64_t frame_max_bytes;
	int64_t frame_max_side;
	int64_t frames_max_pixels;
	int64_t capture_timeout_ms;
	int64_t risk_failures; /* H5 challenge escalation: failed verifications of the person */
	int64_t risk_window_s; /* ... within this many seconds */
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
	struct intake_batcher *batcher;	      /* intake_store.c: requests waiting for a batch */
	struct intake_http_cache *http_cache; /* intake_http.c: per-request helpers' state */
	struct consumer *consumer;
	struct intake_sync *sync; /* intake_sync_wait.c: parked synchronous calls */
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
	/* Set by the loop when it answers while a worker may still be writing log_err (the
	 * request deadline): the log line then takes this instead. */
	const char *loop_err;

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
/* ---- intake_store.c: pieces shared by the actions' transactions (worker side) ---- */

/* Seals `text` (may be NULL: *ret NULL, 0) under AAD "verifications:<certify_id>:<what>". */
int intake_store_seal_field(struct intake_req *r, const char *certify_id, const char *what,
			    const char *text, uint8_t **ret, size_t *ret_len)
	__attribute__((warn_unused_result));
/* verifications.cert_no_hash: HMAC-SHA256 under the cert-no key of "<CertType>:<CertNo>". */
int intake_store_cert_hash(const struct intake *s, const char *cert_type, const char *cert_no,
			   uint8_t ret[32]) __attribute__((warn_unused_result));
/* The scene `scene_id` of the request's tenant must exist and run `product_code`: 0 with the
 * model in `model` (`model_param` when the request names one, else the scene's); 1 with Code
 * 404 / 401 in *biz; or a negative PostgreSQL error. */
int intake_store_scene(PGconn *c, struct intake_req *r, int64_t scene_id, const char *product_code,
		       const char *model_param, char *model, size_t model_cap,
		       struct intake_biz *biz) __attribute__((warn_unused_result));
/* The refusal of intake_store_scene; `found_product` NULL when the scene does not exist. */
void intake_biz_scene(struct intake_biz *biz, int64_t scene_id, const char *found_product,
		      const char *product_code);
/* Metering has blocked the tenant's product (prepaid used up, block mode): 1 with Code 412 in
 * *biz, 0 when not, or a negative PostgreSQL error. */
int intake_store_blocked(PGconn *c, struct intake_req *r, const char *product_code,
			 struct intake_biz *biz) __attribute__((warn_unused_result));
void intake_biz_blocked(struct intake_biz *biz, const char *product_code);
/* The OuterOrderNo was used by another request (Code 401). */
void intake_biz_order_conflict(struct intake_biz *biz, const char *outer_order_no,
			       const char *certify_id);
/* The row found under a taken OuterOrderNo (`res`: certify_id in column 0, request_hash in
 * column `hash_col`): 0 when it is the same request (same keyed fingerprint), 1 with the
 * order-conflict refusal in *biz, or a negative error (the row vanished, a bad hash). */
int intake_store_same_request(struct intake_req *r, const PGresult *res, int hash_col,
			      const uint8_t fingerprint[32], const char *outer_order_no,
			      struct intake_biz *biz) __attribute__((warn_unused_result));
/* Stores an image as a sealed `photos` row (AAD "photos:<id>") of verification `vid`: 0 with
 * its id in *ret_id, or a negative error. */
int intake_store_photo(PGconn *c, struct intake_req *r, const char *vid, const char *kind,
		       const char *source, const uint8_t *img, size_t len, const char *mime,
		       uint32_t width, uint32_t height, int64_t *ret_id)
	__attribute__((warn_unused_result));

/* The face photo of an earlier verification of this tenant, to serve as a reference (API.md:
 * the CertifyId must have passed): 0 with the photo id in *ret; 1 with Code 423 (unknown or not
 * passed) or 419 (its photo no longer kept) in *biz, the message naming the parameter as
 * `param`; or a negative PostgreSQL error. Worker side, inside the request's transaction. */
int intake_store_passed_photo(PGconn *c, struct intake_req *r, const char *certify_id,
			      const char *param, int64_t *ret, struct intake_biz *biz)
	__attribute__((warn_unused_result));
/* Decode a bytea column in text (hex) format: heap bytes into *ret. */
int intake_store_bytea(const char *text, uint8_t **ret, size_t *ret_len)
	__attribute__((warn_unused_result));
/* Start the periodic purge of expired nonces (and set up the batcher below). */
int intake_store_start_purge(struct intake *s) __attribute__((warn_unused_result));
/* The four parameters of the nonce claim ($1 access key, $2 nonce, $3 timestamp, $4 seconds to
 * keep); `ts` and `keep` are the caller's buffers the strings are written into. */
void intake_store_nonce_params(const struct intake_req *r, char ts[24], char keep[16],
			       const char *ret[4]);

/* ---- intake_store.c: batched execution ----
 * Requests of the hot paths are not run one transaction each: the loop queues them, and a pool
 * worker takes everything queued (up to a cap) as one batch: one transaction, libpq in
 * pipeline mode, named statements prepared once per connection, and set-based statements
 * (one per action for all its requests in the batch, parameters passed as arrays):
 *   BEGIN; each action's `send` (statements that write nothing for a refused request); each
 *   action's `recv`; for the requests that need it, `send2` (what needs phase-one results,
 *   e.g. outbox rows carrying a generated id) and `recv2`; one outbox NOTIFY if any; COMMIT.
 * Every request is answered after the COMMIT, so nothing is acknowledged before it is durable.
 * When anything in the batch fails (an error, a unique-key race, a lost connection), the
 * transaction is rolled back and each request runs `slow` instead: its ordinary transaction
 * (intake_store_tx), so a batch never changes what a request answers. Two requests with the
 * same signature nonce never share a batch. A batch of one is the no-contention case: a
 * request is sent as soon as a batch slot is free. */

/* A statement prepared on each connection the first time a batch needs it. */
struct intake_stmt {
	const char *name;
	const char *sql;
};

struct intake_batch_item;

/* The phase functions run on the pool worker with the contract of intake_req_pg's `work`,
 * for the `n` requests of one action in the batch (in queue order). `send` and `send2` return
 * the number of statements they queued (intake_store_send; each yields one result) or a
 * negative error; `recv` and `recv2` read exactly those results (intake_store_result) and set
 * each item's `rc` (0 answered, > 0 a business refusal, -EALREADY nonce used) and, in recv,
 * `more` for the items that go on to phase two (send2/recv2 then get only those). A negative
 * return fails the whole batch; `err` takes the reason. */
struct intake_batch_ops {
	const struct intake_stmt *const *stmts; /* NULL-terminated; every statement sent */
	int (*send)(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen);
	int (*recv)(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen);
	int (*send2)(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen);
	int (*recv2)(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen);
	/* May be NULL. After the COMMIT, outside the transaction, for the items whose recv set
	 * `post` (e.g. reading large immutable data a few requests at a time, so a batch does
	 * not hold every request's photo at once). Sets each one's `rc`. */
	int (*post)(PGconn *c, struct intake_batch_item **it, size_t n, char *err, size_t errlen);
	/* One request in a transaction of its own: returns what the done callback expects. */
	int (*slow)(PGconn *c, struct intake_req *r);
	/* Loop thread, may be NULL: true when two requests of this action must not share a
	 * set-based statement (e.g. the same idempotency key); the later one waits a batch. */
	bool (*clash)(const struct intake_req *a, const struct intake_req *b);
	bool notify; /* phase two writes outbox rows: NOTIFY the relay once for the batch */
};

/* Embedded in the action's state; the batcher's while the request is queued or running. */
struct intake_batch_item {
	struct intake_req *r;
	const struct intake_batch_ops *ops;
	void (*done)(struct intake_req *r, int rc);
	int rc;
	bool more, post;
	struct intake_batch_item *next;
};

/* Queue `r` for a batch; `done` runs on the loop with the item's result (not when the request
 * was answered meanwhile). 0, or negative after answering 503 itself. */
int intake_req_batch(struct intake_req *r, struct intake_batch_item *it,
		     const struct intake_batch_ops *ops,
		     void (*done)(struct intake_req *r, int rc));
/* Worker side: send a prepared statement (text results); read the next result. */
int intake_store_send(PGconn *c, const struct intake_stmt *st, int n, const char *const *params,
		      const int *lengths, const int *formats, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int intake_store_result(PGconn *c, PGresult **ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A PostgreSQL array literal for an array parameter ({"a",NULL,"\\x00ff"}), grown on the
 * heap. Elements are quoted and escaped, so any text is safe in it. */
struct intake_arr {
	char *buf;
	size_t len, cap;
	bool failed; /* an allocation failed, or over 256 MiB: intake_arr_end returns NULL */
};
void intake_arr_init(struct intake_arr *a);
void intake_arr_text(struct intake_arr *a, const char *s);	      /* NULL: SQL NULL */
void intake_arr_bytea(struct intake_arr *a, const void *b, size_t n); /* NULL b: SQL NULL */
void intake_arr_int(struct intake_arr *a, long long v);
/* The literal, owned by `a`; NULL after an allocation failure. */
const char *intake_arr_end(struct intake_arr *a);
void intake_arr_free(struct intake_arr *a);

/* ---- intake_completed.c ---- */
int intake_completed_start(struct intake *s) __attribute__((warn_unused_result));

/* ---- actions ---- */
void intake_init_handle(struct intake_req *r);
void intake_describe_handle(struct intake_req *r);
void intake_delete_handle(struct intake_req *r);
void intake_page_handle(struct intake_req *r);

#endif
