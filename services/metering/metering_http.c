/* metering_http — the balance route on the admin server (metering_http.h). */
#include "metering/metering_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/service.h"
#include "metering/metering_decode.h"

#define POOL_THREADS 2
#define POOL_QUEUE   64

struct mt_http {
	struct pg_pool *pool;
	struct log *lg;
};

/* One request in flight. `req` becomes NULL when the admin server drops the connection. */
struct query {
	struct evhttp_request *req;
	char tenant[MT_TENANT_LEN + 1];
	int product; /* 0: every product */
	int status;
	char *body; /* malloc'd JSON */
};

int mt_product_parse(const char *s)
{
	int v = product_parse(s);
	return v >= 1 && v <= MT_PRODUCT_MAX ? v : -EINVAL;
}

static void send_json(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evbuffer_add(b, body, strlen(body));
	evbuffer_add(b, "\n", 1);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code,
			  code == 200	? "OK"
			  : code == 400 ? "Bad Request"
			  : code == 404 ? "Not Found"
					: "Service Unavailable",
			  b);
	evbuffer_free(b);
}

static void conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct query *q = arg;
	q->req = NULL;
}

static int query_work(PGconn *c, void *arg)
{
	struct query *q = arg;
	char prod[8], now[24], err[512];
	PGresult *r = NULL;
	(void)snprintf(prod, sizeof(prod), "%d", q->product);
	(void)snprintf(now, sizeof(now), "%lld", (long long)envelope_now_ms());
	const char *p[] = {q->tenant, q->product ? prod : NULL, now};
	int rc = pg_exec(c,
			 "SELECT CASE WHEN EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid) "
			 "THEN metering_balance($1::uuid, $2::int2, $3::int8)::text END",
			 3, p, &r, err, sizeof(err));
	if (rc < 0) {
		q->status = 503;
		return rc;
	}
	if (PQgetisnull(r, 0, 0)) {
		q->status = 404;
	} else {
		q->status = 200;
		q->body = strdup(PQgetvalue(r, 0, 0));
		if (!q->body)
			q->status = 503;
	}
	PQclear(r);
	return 0;
}

static void query_done(void *arg, int rc)
{
	struct query *q = arg;
	if (q->req) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(q->req), NULL, NULL);
		if (q->status == 200)
			send_json(q->req, 200, q->body);
		else if (q->status == 404)
			send_json(q->req, 404, "{\"error\":\"no such tenant\"}");
		else
			send_json(q->req, 503, "{\"error\":\"database unavailable\"}");
	}
	free(q->body);
	free(q);
}

static void balance_cb(struct evhttp_request *req, void *arg)
{
	struct mt_http *h = arg;
	struct evkeyvalq qs;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	if (!query || evhttp_parse_query_str(query, &qs) < 0) {
		send_json(req, 400, "{\"error\":\"want ?tenant=UUID[&product=N]\"}");
		return;
	}
	const char *tenant = evhttp_find_header(&qs, "tenant");
	const char *product = evhttp_find_header(&qs, "product");
	int prod = product ? mt_product_parse(product) : 0;
	struct query *q = NULL;
	if (!tenant || !mt_uuid_canonical(tenant) || prod < 0) {
		send_json(req, 400,
			  "{\"error\":\"tenant must be a lower-case UUID and product 1-8 or a "
			  "product name\"}");
		goto out;
	}
	if (!(q = calloc(1, sizeof(*q)))) {
		send_json(req, 503, "{\"error\":\"out of memory\"}");
		goto out;
	}
	q->req = req;
	memcpy(q->tenant, tenant, MT_TENANT_LEN);
	q->product = prod;
	if (pg_pool_submit(h->pool, query_work, query_done, q) < 0) {
		send_json(req, 503, "{\"error\":\"busy\"}");
		free(q);
		goto out;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), conn_closed_cb, q);
out:
	evhttp_clear_headers(&qs);
}

struct mt_http *mt_http_new(struct service *s, const char *pg_dsn, struct log *lg)
{
	struct mt_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->lg = lg;
	h->pool = pg_pool_new(service_base(s), pg_dsn, "shiren-metering-query", POOL_THREADS,
			      POOL_QUEUE, lg);
	if (!h->pool || service_add_route(s, "/v1/balance", balance_cb, h) < 0) {
		mt_http_free(h);
		return NULL;
	}
	return h;
}

void mt_http_free(struct mt_http *h)
{
	if (!h)
		return;
	pg_pool_free(h->pool);
	free(h);
}
