/* intake_http — the public listener: evhttp limits, the per-request context, transport checks
 * (method, path, Host, request line, body type), parameter parsing, the JSON answers with their
 * log line and metrics, the request deadline, and the drain at shutdown. */
#include "intake/intake_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "intake/intake_sync.h"
#include "intake/intake_work.h"

#define MSG_CAP_SIGN (256u * 1024) /* SignatureDoesNotMatch echo */
#define RANDOM_BUF   4096	   /* CSPRNG bytes drawn at once for RequestIds */
#define METRIC_SLOTS 128	   /* (action, code) pairs whose counters are remembered */
#define ACTION_SLOTS 16		   /* actions whose latency histograms are remembered */

/* Loop-thread state of this file, so the per-request path neither calls the CSPRNG nor looks
 * metrics up by name (a lock and a string search through the registry) for every request. */
struct intake_http_cache {
	uint8_t rnd[RANDOM_BUF]; /* RequestIds are public: no wiping needed */
	size_t rnd_off;
	struct {
		const char *action; /* a static label string: compared by pointer */
		char code[64];
		struct metric *m;
	} counters[METRIC_SLOTS];
	size_t ncounters;
	struct {
		const char *action;
		struct metric *m;
	} hists[ACTION_SLOTS];
	size_t nhists;
};

/* An upper-case UUIDv4 from buffered CSPRNG output. */
static int request_id(struct intake_http_cache *hc, char out[37])
{
	static const char hex[] = "0123456789ABCDEF";
	if (hc->rnd_off + 16 > sizeof(hc->rnd)) {
		if (crypto_random(hc->rnd, sizeof(hc->rnd)) < 0)
			return -EIO;
		hc->rnd_off = 0;
	}
	uint8_t *b = hc->rnd + hc->rnd_off;
	hc->rnd_off += 16;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
	size_t k = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[b[i] >> 4];
		out[k++] = hex[b[i] & 15];
	}
	out[k] = '\0';
	return 0;
}

static struct metric *counter_of(struct intake *s, const char *action, const char *code)
{
	struct intake_http_cache *hc = s->http_cache;
	for (size_t i = 0; i < hc->ncounters; i++)
		if (hc->counters[i].action == action && strcmp(hc->counters[i].code, code) == 0)
			return hc->counters[i].m;
	char labels[160];
	snprintf(labels, sizeof(labels), "action=\"%s\",code=\"%s\"", action, code);
	struct metric *m = metrics_counter(s->metrics, "shiren_intake_requests_total",
					   "API requests by action and response Code", labels);
	if (m && hc->ncounters < METRIC_SLOTS) {
		hc->counters[hc->ncounters].action = action;
		snprintf(hc->counters[hc->ncounters].code, sizeof(hc->counters[0].code), "%s",
			 code);
		hc->counters[hc->ncounters++].m = m;
	}
	return m;
}

static struct metric *histogram_of(struct intake *s, const char *action)
{
	struct intake_http_cache *hc = s->http_cache;
	for (size_t i = 0; i < hc->nhists; i++)
		if (hc->hists[i].action == action)
			return hc->hists[i].m;
	char labels[160];
	snprintf(labels, sizeof(labels), "action=\"%s\"", action);
	struct metric *m = metrics_histogram(s->metrics, "shiren_intake_request_seconds",
					     "API request latency, arrival to answer", labels,
					     metrics_latency_bounds, metrics_latency_nbounds);
	if (m && hc->nhists < ACTION_SLOTS) {
		hc->hists[hc->nhists].action = action;
		hc->hists[hc->nhists++].m = m;
	}
	return m;
}

int64_t intake_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request lifetime ---- */

static void req_free(struct intake_req *r)
{
	if (r->state_free)
		r->state_free(r->state);
	if (r->deadline)
		event_free(r->deadline);
	intake_sign_result_done(&r->sres);
	intake_params_done(&r->params);
	free(r->hdrs);
	free(r->uri);
	free((void *)r->body);
	r->srv->inflight--;
	free(r);
}

static void req_maybe_free(struct intake_req *r)
{
	if (r->replied && r->pending == 0)
		req_free(r);
}

static double elapsed_s(const struct intake_req *r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->t0.tv_sec) + (double)(now.tv_nsec - r->t0.tv_nsec) / 1e9;
}

static void record(struct intake_req *r)
{
	struct intake *s = r->srv;
	double secs = elapsed_s(r);
	char ms[32];
	metrics_counter_add(counter_of(s, r->action_label, r->code), 1);
	metrics_histogram_observe(histogram_of(s, r->action_label), secs);
	/* Milliseconds to the microsecond, as a JSON number: printing the double's shortest
	 * exact form costs more than the rest of the line. */
	snprintf(ms, sizeof(ms), "%.3f", secs * 1000.0);
	log_write(s->lg, r->http_status >= 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO, "request",
		  LF_S("req_id", r->request_id), LF_S("tenant", r->tenant_id),
		  LF_S("access_key_id", r->parsed.access_key_id), LF_S("action", r->action_label),
		  LF_S("code", r->code), LF_I("http", r->http_status), LF_J("latency_ms", ms),
		  LF_S("method", r->method),
		  LF_S("scheme", intake_sign_scheme_name(r->parsed.scheme)),
		  LF_S("certify_id", r->certify_id),
		  LF_S("error", r->loop_err ? r->loop_err : r->log_err), LOG_END);
}

void intake_reply_json(struct intake_req *r, int status, const char *code, const char *body,
		       size_t len)
{
	if (r->replied)
		return;
	r->replied = true;
	r->http_status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	if (r->deadline)
		event_del(r->deadline);
	struct evbuffer *out = evbuffer_new();
	if (out && evbuffer_add(out, body, len) == 0) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
		evhttp_add_header(h, "Content-Type", "application/json;charset=utf-8");
		evhttp_add_header(h, "x-acs-request-id", r->request_id);
		if (r->srv->draining)
			evhttp_add_header(h, "Connection", "close");
		evhttp_send_reply(r->ev, status, status == 200 ? "OK" : "Error", out);
	} else {
		evhttp_send_error(r->ev, 500, "Internal Server Error");
	}
	evbuffer_free(out);
	r->ev = NULL;
	record(r);
	req_maybe_free(r);
}

void intake_req_set_header(struct intake_req *r, const char *name, const char *value)
{
	if (r->ev)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

/* {"RequestId","Code","Message"} for gateway errors and business refusals. */
static void reply_error_body(struct intake_req *r, int status, const char *code, const char *msg)
{
	size_t cap = strlen(msg) * 6 + 256; /* worst case: every byte escaped as \u00XX */
	char *buf = malloc(cap);
	if (!buf) {
		intake_reply_json(r, 500, "InternalError", "{}", 2);
		return;
	}
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	json_key_str(&w, "RequestId", r->request_id);
	json_key_str(&w, "Code", code);
	json_key_str(&w, "Message", msg);
	json_obj_end(&w);
	intake_reply_json(r, status, code, buf, json_writer_len(&w));
	free(buf);
}

void intake_reply_gateway(struct intake_req *r, enum intake_err e, const char *param,
			  const char *detail)
{
	char code[96], msg[1024];
	/* -ENOSPC only truncates the text, which is still sent. */
	int rc = intake_err_render(e, param, detail, code, sizeof(code), msg, sizeof(msg));
	(void)rc;
	reply_error_body(r, intake_err_info(e)->http_status, code, msg);
}

void intake_reply_sign(struct intake_req *r)
{
	char code[96];
	size_t cap = MSG_CAP_SIGN;
	char *msg = malloc(cap);
	if (!msg) {
		intake_reply_gateway(r, INTAKE_ERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	/* -ENOSPC: an echo longer than the cap is cut, still a valid message. */
	if (intake_sign_result_render(&r->sres, code, sizeof(code), msg, cap) < 0)
		snprintf(r->log_err, sizeof(r->log_err), "string-to-sign echo truncated");
	reply_error_body(r, intake_err_info(r->sres.err)->http_status, code, msg);
	free(msg);
}

void intake_reply_biz(struct intake_req *r, const struct intake_biz *b)
{
	reply_error_body(r, 200, b->code, b->message);
}

void intake_reply_ok(struct intake_req *r, const char *result, size_t len)
{
	size_t cap = len + 256;
	char *buf = malloc(cap);
	if (!buf) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	json_key_str(&w, "RequestId", r->request_id);
	json_key_str(&w, "Code", "200");
	json_key_str(&w, "Message", "success");
	if (result) {
		json_key(&w, "ResultObject");
		json_raw(&w, result, len);
	}
	json_obj_end(&w);
	intake_reply_json(r, 200, "200", buf, json_writer_len(&w));
	free(buf);
}

static void reply_failure_with(struct intake_req *r, enum intake_err e)
{
	char detail[96] = "";
	if (r->certify_id[0])
		snprintf(detail, sizeof(detail), "(CertifyId %s)", r->certify_id);
	intake_reply_gateway(r, e, NULL, detail[0] ? detail : NULL);
}

void intake_reply_failure(struct intake_req *r, int rc)
{
	bool unavailable = rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EAGAIN ||
			   rc == -ETIMEDOUT || rc == -ESHUTDOWN;
	if (!r->log_err[0])
		snprintf(r->log_err, sizeof(r->log_err), "%s", strerror(rc < 0 ? -rc : rc));
	reply_failure_with(r, unavailable ? INTAKE_ERR_SERVICE_UNAVAILABLE
					  : INTAKE_ERR_INTERNAL_ERROR);
}

/* ---- jobs ---- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct intake_req *r = arg;
	/* A pool worker may still be writing r->log_err: leave it alone. */
	r->loop_err = "request deadline reached with work pending";
	reply_failure_with(r, INTAKE_ERR_SERVICE_UNAVAILABLE);
}

void intake_req_park(struct intake_req *r)
{
	r->pending++;
}

bool intake_req_resume(struct intake_req *r)
{
	r->pending--;
	if (!r->replied)
		return true;
	req_maybe_free(r);
	return false;
}

static int pg_tramp(PGconn *c, void *arg)
{
	struct intake_req *r = arg;
	return r->pg_work(c, r);
}

static void job_done_tramp(void *arg, int rc)
{
	struct intake_req *r = arg;
	r->pending--;
	if (r->replied) {
		req_maybe_free(r);
		return;
	}
	r->job_done(r, rc);
}

int intake_req_pg(struct intake_req *r, int (*work)(PGconn *c, struct intake_req *r),
		  void (*done)(struct intake_req *r, int rc))
{
	r->pg_work = work;
	r->job_done = done;
	r->pending++;
	int rc = pg_pool_submit(r->srv->pool, pg_tramp, job_done_tramp, r);
	if (rc < 0) {
		r->pending--;
		snprintf(r->log_err, sizeof(r->log_err), "database queue: %s", strerror(-rc));
		intake_reply_failure(r, -EAGAIN);
	}
	return rc;
}

static int cpu_tramp(void *arg)
{
	struct intake_req *r = arg;
	return r->cpu_work(r);
}

int intake_req_work(struct intake_req *r, int (*work)(struct intake_req *r),
		    void (*done)(struct intake_req *r, int rc))
{
	r->cpu_work = work;
	r->job_done = done;
	r->pending++;
	int rc = intake_work_submit(r->srv->work, cpu_tramp, job_done_tramp, r);
	if (rc < 0) {
		r->pending--;
		snprintf(r->log_err, sizeof(r->log_err), "worker queue: %s", strerror(-rc));
		intake_reply_failure(r, -EAGAIN);
	}
	return rc;
}

/* ---- transport ---- */

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "OTHER";
}

/* Transport refusals not in the POP table (docs/api.md, "Transport errors"). */
static void reply_transport(struct intake_req *r, int status, const char *code, const char *msg)
{
	reply_error_body(r, status, code, msg);
}

/* Copies the headers (names and values) into one block the request owns. */
static int copy_headers(struct intake_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->ev);
	struct evkeyval *kv;
	size_t n = 0, bytes = 0;
	TAILQ_FOREACH(kv, in, next)
	{
		n++;
		bytes += strlen(kv->key) + strlen(kv->value) + 2;
	}
	r->hdrs = malloc(n * sizeof(*r->hdrs) + bytes + 1);
	if (!r->hdrs)
		return -ENOMEM;
	char *p = (char *)(r->hdrs + n);
	size_t i = 0;
	TAILQ_FOREACH(kv, in, next)
	{
		size_t kl = strlen(kv->key), vl = strlen(kv->value);
		memcpy(p, kv->key, kl + 1);
		r->hdrs[i].name = p;
		p += kl + 1;
		memcpy(p, kv->value, vl + 1);
		r->hdrs[i].value = p;
		p += vl + 1;
		i++;
	}
	r->nhdrs = n;
	return 0;
}

/* Takes the body out of evhttp's buffer into memory the request owns (it must outlive the
 * evhttp request when a job is still running after a deadline answer). */
static int take_body(struct intake_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t n = evbuffer_get_length(in);
	r->body_len = n;
	if (n == 0)
		return 0;
	uint8_t *b = malloc(n + 1);
	if (!b)
		return -ENOMEM;
	if (evbuffer_remove(in, b, n) != (int)n) {
		free(b);
		return -EIO;
	}
	b[n] = '\0';
	r->body = b;
	return 0;
}

static bool transport_ok(struct intake_req *r, enum evhttp_cmd_type cmd)
{
	struct intake *s = r->srv;
	const char *uri = evhttp_request_get_uri(r->ev);
	struct evkeyvalq *h = evhttp_request_get_input_headers(r->ev);
	char msg[256];

	if (s->draining) {
		intake_reply_gateway(r, INTAKE_ERR_SERVICE_UNAVAILABLE, NULL,
				     "The server is shutting down; retry.");
		return false;
	}
	/* evhttp counts the request line against max_headers_size (line + headers); our own
	 * limit on the line alone is checked here so the answer is JSON. */
	if (strlen(uri) + strlen(r->method) + 10 > (size_t)s->cfg->max_request_line) {
		snprintf(msg, sizeof(msg),
			 "The request line is longer than %lld bytes: send business parameters "
			 "in the form body.",
			 (long long)s->cfg->max_request_line);
		reply_transport(r, 414, "RequestLineTooLong", msg);
		return false;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		intake_reply_gateway(r, INTAKE_ERR_UNSUPPORTED_HTTP_METHOD, NULL,
				     "Use GET or POST.");
		return false;
	}
	const char *host = evhttp_find_header(h, "Host");
	if (!host || !*host) {
		intake_reply_gateway(r, INTAKE_ERR_MISSING_PARAMETER, "Host", NULL);
		return false;
	}
	r->uri = strdup(uri);
	if (!r->uri) {
		intake_reply_failure(r, -ENOMEM);
		return false;
	}
	char *q = strchr(r->uri, '?');
	char *frag = strchr(r->uri, '#');
	if (frag)
		*frag = '\0';
	if (q && (!frag || q < frag)) {
		*q = '\0';
		r->query = q + 1;
		r->query_len = strlen(r->query);
	}
	r->path = r->uri;
	bool h5 = intake_h5_path(r->path); /* the CertifyUrl pages: intake_sync_frames.c */
	if (strcmp(r->path, "/") != 0 && !h5) {
		intake_reply_gateway(r, INTAKE_ERR_INVALID_ACTION_NOT_FOUND, NULL,
				     "The API is served at path /.");
		return false;
	}
	if (take_body(r) < 0 || copy_headers(r) < 0) {
		intake_reply_failure(r, -ENOMEM);
		return false;
	}
	if (h5) {
		intake_h5_handle(r);
		return false;
	}
	const char *ctype = evhttp_find_header(h, "Content-Type");
	if (r->body_len > 0 && !intake_params_is_form(ctype)) {
		reply_transport(r, 415, "UnsupportedMediaType",
				"A request body must be application/x-www-form-urlencoded.");
		return false;
	}
	return true;
}

/* Bodies above this are parsed on the worker pool (an 8 MB form takes milliseconds). */
#define PARSE_ON_LOOP_MAX (64u * 1024)

static int parse_work(struct intake_req *r)
{
	struct intake_params_limits lim;
	intake_params_limits_default(&lim);
	/* Duplicates are refused by the parser itself (InvalidParameter). */
	return intake_params_parse(&r->params, r->query, r->query_len,
				   r->form ? (const char *)r->body : NULL,
				   r->form ? r->body_len : 0, &lim, &r->parse_err);
}

static void start_auth(struct intake_req *r);

static void parse_done(struct intake_req *r, int rc)
{
	if (rc == 0) {
		start_auth(r);
		return;
	}
	char code[96], msg[512];
	if (intake_params_error_render(&r->parse_err, code, sizeof(code), msg, sizeof(msg)) < 0)
		snprintf(r->log_err, sizeof(r->log_err), "parameter error message truncated");
	reply_error_body(r, intake_err_info(r->parse_err.err)->http_status, code, msg);
}

/* The action named by the request before authentication, for labels only: a known name or
 * "unknown" (labels must stay a bounded set). */
static const char *label_of(struct intake_req *r)
{
	const char *a = intake_params_get(&r->params, "Action");
	if (!a)
		a = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "x-acs-action");
	const struct intake_action *act = a ? intake_action_find(a) : NULL;
	return act ? act->name : "unknown";
}

static void request_cb(struct evhttp_request *ev, void *arg)
{
	struct intake *s = arg;
	struct intake_req *r = calloc(1, sizeof(*r));
	if (!r) {
		evhttp_send_error(ev, 500, "Internal Server Error");
		return;
	}
	s->inflight++;
	r->srv = s;
	r->ev = ev;
	r->action_label = "unknown";
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	intake_sign_result_init(&r->sres);
	if (request_id(s->http_cache, r->request_id) < 0)
		snprintf(r->request_id, sizeof(r->request_id), "%s",
			 "00000000-0000-4000-8000-000000000000");
	enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
	r->method = method_name(cmd);
	r->deadline = evtimer_new(s->base, deadline_cb, r);
	struct timeval tv = {s->cfg->deadline_ms / 1000, (s->cfg->deadline_ms % 1000) * 1000};
	if (!r->deadline || evtimer_add(r->deadline, &tv) < 0) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	if (!transport_ok(r, cmd))
		return;
	const char *ctype =
		evhttp_find_header(evhttp_request_get_input_headers(ev), "Content-Type");
	r->form = r->body_len > 0 && intake_params_is_form(ctype);
	if (r->body_len > PARSE_ON_LOOP_MAX)
		(void)intake_req_work(r, parse_work, parse_done);
	else
		parse_done(r, parse_work(r));
}

static void start_auth(struct intake_req *r)
{
	r->action_label = label_of(r);
	r->sreq = (struct intake_sign_request){.method = r->method,
					       .path = r->path,
					       .headers = r->hdrs,
					       .n_headers = r->nhdrs,
					       .params = &r->params,
					       .body = r->body,
					       .body_len = r->body_len};
	intake_auth_start(r);
}

/* ---- listener ---- */

int intake_http_start(struct intake *s)
{
	char host[256];
	int port;
	const struct intake_cfg *c = s->cfg;
	if (cfg_split_addr(c->listen_addr, host, sizeof(host), &port) < 0)
		return -EINVAL;
	s->http_cache = calloc(1, sizeof(*s->http_cache));
	if (!s->http_cache)
		return -ENOMEM;
	s->http_cache->rnd_off = RANDOM_BUF; /* drawn at the first request */
	s->http = evhttp_new(s->base);
	if (!s->http)
		return -ENOMEM;
	/* evhttp reads the request line into the same budget as the header lines. */
	evhttp_set_max_headers_size(s->http, (ev_ssize_t)(c->max_request_line + c->max_headers));
	evhttp_set_max_body_size(s->http, (ev_ssize_t)c->max_body);
	evhttp_set_timeout(s->http, (int)c->read_timeout_s);
	/* Every method reaches the handler, which answers UnsupportedHTTPMethod in JSON. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	/* Read (and discard) the rest of an oversized body before answering 413, so the client
	 * sees the answer instead of a reset. */
	evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(s->http, request_cb, s);
	s->listener = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
	if (!s->listener)
		return -EADDRINUSE;
	return 0;
}

void intake_http_stop_accepting(struct intake *s)
{
	s->draining = true;
	if (s->http && s->listener) {
		evhttp_del_accept_socket(s->http, s->listener);
		s->listener = NULL;
	}
}

void intake_http_drain(struct intake *s, int64_t timeout_ms)
{
	int64_t until = intake_now_ms() + timeout_ms;
	while (s->inflight > 0 && intake_now_ms() < until) {
		if (event_base_loop(s->base, EVLOOP_ONCE | EVLOOP_NONBLOCK) < 0)
			break;
		nanosleep(&(struct timespec){0, 2000000}, NULL);
	}
	if (s->inflight > 0) {
		/* Their evhttp requests would be freed under them: leave the server to exit. */
		log_warn(s->lg, "drain timed out with requests in flight",
			 LF_I("inflight", (long long)s->inflight), LOG_END);
		return;
	}
	if (s->http) {
		evhttp_free(s->http);
		s->http = NULL;
	}
	free(s->http_cache);
	s->http_cache = NULL;
}
