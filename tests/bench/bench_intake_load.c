/* bench_intake_load — HTTP load generator for intake (and, as the peer, any HTTP server).
 * Requests are signed ahead of the timed run (RPC HMAC-SHA1, pop-core POST style: every
 * parameter in the form body), each with its own nonce and, for InitFaceVerify, its own
 * OuterOrderNo, so replay protection and idempotency see real traffic. Keep-alive connections
 * over libevent bufferevents; responses need Content-Length.
 *
 *   bench_intake_load --addr 127.0.0.1:8900 --action DescribeFaceVerify|InitFaceVerify|static
 *       [--key-id ID --secret S --scene N --certify-id C] [--conns 64] [--seconds 10]
 *       [--rate R]   R > 0: open loop at R req/s, latency from the scheduled send time
 *                    (no coordinated omission); R = 0: closed loop, as fast as it answers
 * Prints one line of figures and a histogram summary; exits 1 if any request failed at the
 * transport level or got an HTTP status other than 200. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "intake/intake_canon.h"

#define MAX_CONNS 1024

struct req {
	char *text;
	size_t len;
};

struct conn;

struct bench {
	struct event_base *base;
	struct sockaddr_in sa;
	const char *action, *key_id, *secret, *certify_id, *host;
	long scene;
	int nconns, seconds;
	double rate;
	struct req *reqs;
	size_t nreqs, next_req;
	struct conn *conns;
	struct conn **idle;
	int nidle;
	double t0, t_end;
	size_t scheduled; /* open loop: requests whose start time has come */
	double *lat;	  /* seconds, one per completed request */
	size_t nlat, caplat;
	size_t ok, bad_status, biz_err, transport_err;
	bool is_static;
	struct event *tick;
	bool stopping;
};

struct conn {
	struct bench *b;
	struct bufferevent *bev;
	double sent_at; /* scheduled (open loop) or actual (closed loop) start */
	bool busy;
	bool headers_done;
	long body_left; /* Content-Length of the response being read */
	int status;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- request construction ---- */

struct kv {
	const char *k;
	char v[128];
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

static size_t append_pct(char *out, size_t cap, size_t off, const char *s)
{
	long n = intake_canon_pct(s, strlen(s), out + off, cap - off);
	return n < 0 ? off : off + (size_t)n;
}

static int build_request(struct bench *b, size_t i, struct req *r)
{
	struct kv p[24];
	int n = 0;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char nonce[37];
	if (crypto_uuid4(nonce) < 0)
		return -EIO;
#define ADD(key, ...) (p[n].k = (key), snprintf(p[n].v, sizeof(p[n].v), __VA_ARGS__), n++)
	ADD("AccessKeyId", "%s", b->key_id);
	ADD("Action", "%s", b->action);
	ADD("Format", "JSON");
	ADD("SignatureMethod", "HMAC-SHA1");
	ADD("SignatureNonce", "%s", nonce);
	ADD("SignatureVersion", "1.0");
	ADD("Timestamp", "%s", ts);
	ADD("Version", "2019-03-07");
	ADD("SceneId", "%ld", b->scene);
	if (strcmp(b->action, "DescribeFaceVerify") == 0) {
		ADD("CertifyId", "%s", b->certify_id);
	} else {
		ADD("OuterOrderNo", "bench%zu%08x", i, (unsigned)(t & 0xffffffff));
		ADD("ProductCode", "ID_PRO");
		ADD("Model", "LIVENESS");
		ADD("CertType", "IDENTITY_CARD");
		ADD("CertName", "Bench User");
		ADD("CertNo", "110101199003071233");
		ADD("MetaInfo", "{\"deviceType\":\"h5\",\"ua\":\"bench\"}");
		ADD("CertifyUrlType", "H5");
		ADD("ReturnUrl", "https://example.invalid/return");
	}
#undef ADD
	qsort(p, (size_t)n, sizeof(p[0]), kv_cmp);
	char canon[4096], body[6144], sts[12288];
	size_t co = 0;
	for (int k = 0; k < n; k++) {
		if (k)
			canon[co++] = '&';
		co = append_pct(canon, sizeof(canon), co, p[k].k);
		canon[co++] = '=';
		co = append_pct(canon, sizeof(canon), co, p[k].v);
	}
	canon[co] = '\0';
	size_t so = (size_t)snprintf(sts, sizeof(sts), "POST&%%2F&");
	so = append_pct(sts, sizeof(sts), so, canon);
	char key[256];
	snprintf(key, sizeof(key), "%s&", b->secret);
	uint8_t mac[CRYPTO_SHA1_LEN];
	if (crypto_hmac(CRYPTO_HASH_SHA1, key, strlen(key), sts, so, mac) < 0)
		return -EIO;
	char sig[64];
	crypto_b64_encode(mac, sizeof(mac), sig);
	size_t bo = (size_t)snprintf(body, sizeof(body), "%s&Signature=", canon);
	bo = append_pct(body, sizeof(body), bo, sig);
	r->text = malloc(bo + 512);
	if (!r->text)
		return -ENOMEM;
	r->len = (size_t)snprintf(r->text, bo + 512,
				  "POST / HTTP/1.1\r\nHost: %s\r\nUser-Agent: shiren-bench\r\n"
				  "Content-Type: application/x-www-form-urlencoded\r\n"
				  "Accept: application/json\r\nContent-Length: %zu\r\n\r\n%s",
				  b->host, bo, body);
	return 0;
}

static int build_static(struct bench *b, struct req *r)
{
	r->text = malloc(256);
	if (!r->text)
		return -ENOMEM;
	r->len = (size_t)snprintf(r->text, 256,
				  "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: shiren-bench\r\n\r\n",
				  b->host);
	return 0;
}

/* ---- connections ---- */

static void conn_send(struct conn *c, double sched);

static void dispatch(struct bench *b)
{
	if (b->rate > 0) {
		double t = now_s();
		size_t due = (size_t)((t - b->t0) * b->rate);
		if (t >= b->t_end)
			due = (size_t)((b->t_end - b->t0) * b->rate);
		while (b->scheduled < due && b->nidle > 0) {
			struct conn *c = b->idle[--b->nidle];
			conn_send(c, b->t0 + (double)b->scheduled / b->rate);
			b->scheduled++;
		}
	} else if (now_s() < b->t_end) {
		while (b->nidle > 0) {
			struct conn *c = b->idle[--b->nidle];
			conn_send(c, now_s());
		}
	}
}

static void conn_send(struct conn *c, double sched)
{
	struct bench *b = c->b;
	struct req *r = &b->reqs[b->next_req++ % b->nreqs];
	c->busy = true;
	c->sent_at = sched;
	bufferevent_write(c->bev, r->text, r->len);
}

static void record(struct bench *b, double lat)
{
	if (b->nlat == b->caplat) {
		size_t ncap = b->caplat ? b->caplat * 2 : 1 << 16;
		double *nl = realloc(b->lat, ncap * sizeof(double));
		if (!nl)
			return;
		b->lat = nl;
		b->caplat = ncap;
	}
	b->lat[b->nlat++] = lat;
}

/* Parse one response at a time: status line, headers up to the blank line, then exactly
 * Content-Length body bytes. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		while (!c->headers_done) {
			size_t n;
			char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (!line)
				return;
			if (c->status == 0)
				c->status = strncmp(line, "HTTP/1.1 ", 9) == 0
						    ? (int)strtol(line + 9, NULL, 10)
						    : -1;
			else if (n == 0)
				c->headers_done = true;
			else if (strncasecmp(line, "Content-Length:", 15) == 0)
				c->body_left = strtol(line + 15, NULL, 10);
			free(line);
		}
		if ((long)evbuffer_get_length(in) < c->body_left)
			return;
		/* HTTP 200 carries business outcomes too: only Code "200" counts as success. */
		const char *body = (const char *)evbuffer_pullup(in, c->body_left);
		bool biz_ok = b->is_static ||
			      (body && memmem(body, (size_t)c->body_left, "\"Code\":\"200\"", 12));
		if (c->status == 200 && !biz_ok && b->biz_err++ == 0)
			fprintf(stderr, "first business error: %.*s\n",
				(int)(c->body_left > 400 ? 400 : c->body_left), body ? body : "");
		evbuffer_drain(in, (size_t)c->body_left);
		record(b, now_s() - c->sent_at);
		if (c->status == 200 && biz_ok)
			b->ok++;
		else if (c->status != 200)
			b->bad_status++;
		c->busy = false;
		c->headers_done = false;
		c->body_left = 0;
		c->status = 0;
		b->idle[b->nidle++] = c;
		dispatch(b);
		if (evbuffer_get_length(in) == 0)
			return;
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (c->busy)
			c->b->transport_err++;
		c->busy = false;
		fprintf(stderr, "connection closed (%s)\n",
			what & BEV_EVENT_EOF
				? "eof"
				: evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(c->bev);
		c->bev = NULL;
	} else if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t fd = bufferevent_getfd(bev);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->b->idle[c->b->nidle++] = c;
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	double t = now_s();
	dispatch(b);
	bool busy = false;
	for (int i = 0; i < b->nconns; i++)
		busy |= b->conns[i].busy;
	if (t >= b->t_end && (!busy || t > b->t_end + 5))
		event_base_loopbreak(b->base);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct_of(const double *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i];
}

static int parse_args(struct bench *b, int argc, char **argv)
{
	const char *addr = "127.0.0.1:8900";
	b->action = "DescribeFaceVerify";
	b->key_id = "";
	b->secret = "";
	b->certify_id = "";
	b->scene = 0;
	b->nconns = 64;
	b->seconds = 10;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--addr"))
			addr = v;
		else if (!strcmp(k, "--action"))
			b->action = v;
		else if (!strcmp(k, "--key-id"))
			b->key_id = v;
		else if (!strcmp(k, "--secret"))
			b->secret = v;
		else if (!strcmp(k, "--certify-id"))
			b->certify_id = v;
		else if (!strcmp(k, "--scene"))
			b->scene = strtol(v, NULL, 10);
		else if (!strcmp(k, "--conns"))
			b->nconns = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--seconds"))
			b->seconds = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--rate"))
			b->rate = strtod(v, NULL);
		else
			return -EINVAL;
	}
	if (b->nconns < 1 || b->nconns > MAX_CONNS || b->seconds < 1)
		return -EINVAL;
	static char host[64];
	snprintf(host, sizeof(host), "%s", addr);
	b->host = host;
	char *colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	memset(&b->sa, 0, sizeof(b->sa));
	b->sa.sin_family = AF_INET;
	b->sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &b->sa.sin_addr) != 1)
		return -EINVAL;
	*colon = ':';
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	if (parse_args(&b, argc, argv) < 0) {
		fprintf(stderr, "usage: see the comment at the top of bench_intake_load.c\n");
		return 64;
	}
	bool is_static = b.is_static = strcmp(b.action, "static") == 0;
	/* Enough distinct requests for the whole run: nonces are never reused. */
	double est = b.rate > 0 ? b.rate * b.seconds * 1.05 + 1000 : 40000.0 * b.seconds;
	b.nreqs = is_static ? 1 : (size_t)est;
	b.reqs = calloc(b.nreqs, sizeof(*b.reqs));
	double tb = now_s();
	for (size_t i = 0; i < b.nreqs; i++)
		if ((is_static ? build_static(&b, &b.reqs[i]) : build_request(&b, i, &b.reqs[i])) <
		    0)
			return 1;
	fprintf(stderr, "prepared %zu signed requests in %.1f s\n", b.nreqs, now_s() - tb);
	b.base = event_base_new();
	b.conns = calloc((size_t)b.nconns, sizeof(*b.conns));
	b.idle = calloc((size_t)b.nconns, sizeof(*b.idle));
	for (int i = 0; i < b.nconns; i++) {
		struct conn *c = &b.conns[i];
		c->b = &b;
		c->bev = bufferevent_socket_new(b.base, -1, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b.sa, sizeof(b.sa)) < 0)
			return 1;
	}
	/* Let the connections establish before the clock starts. */
	struct timeval settle = {0, 300000};
	event_base_loopexit(b.base, &settle);
	event_base_dispatch(b.base);
	if (b.nidle != b.nconns) {
		fprintf(stderr, "only %d of %d connections established\n", b.nidle, b.nconns);
		return 1;
	}
	b.t0 = now_s();
	b.t_end = b.t0 + b.seconds;
	struct timeval ms = {0, 1000};
	b.tick = event_new(b.base, -1, EV_PERSIST, tick_cb, &b);
	event_add(b.tick, &ms);
	dispatch(&b);
	event_base_dispatch(b.base);
	double el = now_s() - b.t0;
	if (b.rate <= 0)
		el = b.t_end - b.t0;
	qsort(b.lat, b.nlat, sizeof(double), cmp_double);
	printf("%s: %zu ok, %zu non-200, %zu business errors, %zu transport errors in %.2f s = "
	       "%.0f req/s; latency "
	       "p50 %.2f ms p90 %.2f ms p99 %.2f ms max %.2f ms (%d conns, %s)\n",
	       b.action, b.ok, b.bad_status, b.biz_err, b.transport_err, el, (double)b.ok / el,
	       pct_of(b.lat, b.nlat, 0.5) * 1e3, pct_of(b.lat, b.nlat, 0.9) * 1e3,
	       pct_of(b.lat, b.nlat, 0.99) * 1e3, b.nlat ? b.lat[b.nlat - 1] * 1e3 : 0.0, b.nconns,
	       b.rate > 0 ? "open loop" : "closed loop");
	return b.bad_status || b.biz_err || b.transport_err ? 1 : 0;
}
