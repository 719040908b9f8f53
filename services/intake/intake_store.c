/* intake_store — PostgreSQL helpers for the request path, all run on pg_pool workers: the
 * transaction wrapper that claims the request's signature nonce first (so a replay is refused
 * across every intake process, and a refused request leaves no trace), sealing of personal
 * data under the master key, bytea decoding, and the periodic purge of expired nonces. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "intake/intake_server.h"

#define PURGE_INTERVAL_S 60
/* A nonce is kept until its request's timestamp leaves the ±15 min window, plus slack for
 * clock differences between intake processes. */
#define NONCE_KEEP_S (INTAKE_SIGN_WINDOW_SECONDS + 60)

static const char SQL_NONCE[] =
	"INSERT INTO intake_nonces (access_key_id, nonce, expires_at) "
	"VALUES ($1, $2, to_timestamp($3::bigint) + make_interval(secs => $4::int)) "
	"ON CONFLICT DO NOTHING RETURNING 1";

static const char SQL_PURGE[] =
	"DELETE FROM intake_nonces WHERE ctid = ANY (ARRAY("
	"SELECT ctid FROM intake_nonces WHERE expires_at < now() LIMIT 50000))";

int intake_store_execb(PGconn *c, struct intake_req *r, const char *sql, int n,
		       const char *const *params, const int *lengths, const int *formats,
		       PGresult **ret)
{
	return pg_execb(c, sql, n, params, lengths, formats, ret, r->log_err, sizeof(r->log_err));
}

int intake_store_exec(PGconn *c, struct intake_req *r, const char *sql, int n,
		      const char *const *params, PGresult **ret)
{
	return intake_store_execb(c, r, sql, n, params, NULL, NULL, ret);
}

int intake_store_tx(PGconn *c, struct intake_req *r,
		    int (*body)(PGconn *c, struct intake_req *r, void *arg), void *arg)
{
	char ts[24], keep[16];
	PGresult *res = NULL;
	int rc = pg_begin(c, r->log_err, sizeof(r->log_err));
	if (rc < 0)
		return rc;
	snprintf(ts, sizeof(ts), "%lld", (long long)r->parsed.timestamp);
	snprintf(keep, sizeof(keep), "%d", NONCE_KEEP_S);
	const char *p[4] = {r->parsed.access_key_id, r->parsed.nonce, ts, keep};
	rc = intake_store_exec(c, r, SQL_NONCE, 4, p, &res);
	if (rc == 0 && PQntuples(res) == 0)
		rc = -EALREADY;
	PQclear(res);
	if (rc == 0)
		rc = body(c, r, arg);
	if (rc == 0) {
		rc = pg_commit(c, r->log_err, sizeof(r->log_err));
		if (rc == 0)
			r->log_err[0] = '\0';
		return rc;
	}
	pg_rollback(c);
	return rc;
}

int intake_store_seal(const struct intake *s, const char *aad, const void *in, size_t len,
		      uint8_t **ret, size_t *ret_len)
{
	size_t cap = len + CRYPTO_SEAL_OVERHEAD;
	uint8_t *out = malloc(cap);
	*ret = NULL;
	if (!out)
		return -ENOMEM;
	long n = crypto_seal(s->master, aad, strlen(aad), in, len, out, cap);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

int intake_store_open(const struct intake *s, const char *aad, const uint8_t *in, size_t len,
		      uint8_t **ret, size_t *ret_len)
{
	*ret = NULL;
	if (len < CRYPTO_SEAL_OVERHEAD)
		return -EBADMSG;
	size_t cap = len - CRYPTO_SEAL_OVERHEAD + 1;
	uint8_t *out = malloc(cap);
	if (!out)
		return -ENOMEM;
	long n = crypto_open(s->master, aad, strlen(aad), in, len, out, cap);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int intake_store_bytea(const char *text, uint8_t **ret, size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	size_t n = strlen(text);
	if (n < 2 || text[0] != '\\' || text[1] != 'x' || n % 2)
		return -EBADMSG;
	size_t len = (n - 2) / 2;
	uint8_t *out = malloc(len ? len : 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);
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

/* ---- nonce purge ---- */

struct purge {
	struct intake *srv;
	char err[256];
	long deleted;
	bool running;
};

static int purge_work(PGconn *c, void *arg)
{
	struct purge *p = arg;
	PGresult *res = NULL;
	p->err[0] = '\0';
	int rc = pg_exec(c, SQL_PURGE, 0, NULL, &res, p->err, sizeof(p->err));
	p->deleted = rc == 0 ? strtol(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return rc == -ECONNRESET ? rc : 0;
}

static void purge_done(void *arg, int rc)
{
	struct purge *p = arg;
	p->running = false;
	if (p->err[0])
		log_warn(p->srv->lg, "nonce purge failed", LF_S("error", p->err), LOG_END);
	else if (p->deleted > 0)
		log_debug(p->srv->lg, "expired nonces purged", LF_I("rows", p->deleted), LOG_END);
}

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct purge *p = arg;
	if (p->running || p->srv->draining)
		return;
	p->running = true;
	if (pg_pool_submit(p->srv->pool, purge_work, purge_done, p) < 0)
		p->running = false;
}

static void purge_free(void *arg)
{
	free(arg);
}

int intake_store_start_purge(struct intake *s)
{
	struct purge *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->srv = s;
	s->purge_timer = event_new(s->base, -1, EV_PERSIST, purge_cb, p);
	struct timeval tv = {PURGE_INTERVAL_S, 0};
	if (!s->purge_timer || event_add(s->purge_timer, &tv) < 0) {
		free(p);
		return -ENOMEM;
	}
	s->purge_arg = p;
	s->purge_arg_free = purge_free;
	return 0;
}
