/* intake_auth — request authentication: the signature (intake_sign), the AccessKey cache with
 * bounded staleness (SHIREN_INTAKE_KEY_CACHE_MS; one database fetch per key at a time, the
 * requests that wait for it queue on the entry), and the key's state (unknown, deleted,
 * disabled, tenant suspended). Large requests are verified on the worker pool: hashing an 8 MB
 * body (and, for RPC, its doubly percent-encoded copy) would stall the loop. The nonce is
 * claimed later, in the action's own transaction (intake_store_tx). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "intake/intake_server.h"

#define KEYCACHE_MAX	 4096
#define SIGN_ON_LOOP_MAX (64u * 1024) /* body bytes verified on the loop */
#define SECRET_MAX	 128
#define AAD_ACCESS_KEYS	 "access_keys:"
#define SQL_KEY                                                                          \
	"SELECT k.tenant_id::text, k.status, k.secret_enc, t.status FROM access_keys k " \
	"JOIN tenants t ON t.id = k.tenant_id WHERE k.access_key_id = $1"

enum key_state { KEY_NOT_FOUND, KEY_ENABLED, KEY_DISABLED, KEY_TENANT_SUSPENDED };

struct key_entry {
	char id[INTAKE_SIGN_MAX_AKID + 1];
	bool valid;    /* fetched at least once */
	bool fetching; /* a fetch is queued or running */
	int64_t fetched_ms;
	enum key_state state;
	char tenant_id[37];
	char secret[SECRET_MAX];
	size_t secret_len;
	struct intake_req *waiters; /* linked through key_next */
	struct key_entry *next;	    /* hash chain */
};

#define KEYCACHE_BUCKETS 1024

struct intake_keycache {
	struct key_entry *buckets[KEYCACHE_BUCKETS];
	size_t count;
};

/* A fetch in flight: filled on the worker, applied on the loop. */
struct key_fetch {
	struct intake *srv;
	struct key_entry *e;
	int rc;
	enum key_state state;
	char tenant_id[37];
	char secret[SECRET_MAX];
	size_t secret_len;
	char err[256];
};

static unsigned bucket_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % KEYCACHE_BUCKETS;
}

static void entry_free(struct key_entry *e)
{
	crypto_wipe(e->secret, sizeof(e->secret));
	free(e);
}

/* Drops the entry fetched longest ago that nobody waits for. */
static void evict_one(struct intake_keycache *kc)
{
	struct key_entry **victim = NULL;
	for (size_t b = 0; b < KEYCACHE_BUCKETS; b++)
		for (struct key_entry **pp = &kc->buckets[b]; *pp; pp = &(*pp)->next)
			if (!(*pp)->fetching &&
			    (!victim || (*pp)->fetched_ms < (*victim)->fetched_ms))
				victim = pp;
	if (victim) {
		struct key_entry *e = *victim;
		*victim = e->next;
		entry_free(e);
		kc->count--;
	}
}

static struct key_entry *entry_get(struct intake_keycache *kc, const char *id, bool create)
{
	unsigned b = bucket_of(id);
	for (struct key_entry *e = kc->buckets[b]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	if (!create)
		return NULL;
	if (kc->count >= KEYCACHE_MAX)
		evict_one(kc);
	struct key_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->next = kc->buckets[b];
	kc->buckets[b] = e;
	kc->count++;
	return e;
}

int intake_auth_init(struct intake *s)
{
	s->keys = calloc(1, sizeof(*s->keys));
	return s->keys ? 0 : -ENOMEM;
}

void intake_auth_done(struct intake *s)
{
	if (!s->keys)
		return;
	for (size_t b = 0; b < KEYCACHE_BUCKETS; b++) {
		struct key_entry *e = s->keys->buckets[b];
		while (e) {
			struct key_entry *n = e->next;
			entry_free(e);
			e = n;
		}
	}
	free(s->keys);
	s->keys = NULL;
}

/* ---- the signature check ---- */

static int check_work(struct intake_req *r)
{
	/* The secret was copied into the request's state by with_key(). */
	const char *secret = r->state;
	return intake_sign_check(&r->parsed, secret, strlen(secret), time(NULL), &r->sres);
}

static void check_done(struct intake_req *r, int rc)
{
	if (r->state) {
		crypto_wipe(r->state, strlen(r->state));
		free(r->state);
		r->state = NULL;
		r->state_free = NULL;
	}
	if (rc == -EACCES) {
		intake_reply_sign(r);
		return;
	}
	if (rc < 0) {
		intake_reply_gateway(r, r->sres.err ? r->sres.err : INTAKE_ERR_INTERNAL_ERROR, NULL,
				     NULL);
		return;
	}
	r->authed = true;
	intake_dispatch(r);
}

static void free_secret(void *p)
{
	if (p) {
		crypto_wipe(p, strlen(p));
		free(p);
	}
}

static void with_key(struct intake_req *r, const struct key_entry *e)
{
	switch (e->state) {
	case KEY_NOT_FOUND:
		intake_reply_gateway(r, INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND, NULL, NULL);
		return;
	case KEY_DISABLED:
		intake_reply_gateway(r, INTAKE_ERR_INVALID_ACCESS_KEY_ID_INACTIVE, NULL, NULL);
		return;
	case KEY_TENANT_SUSPENDED:
		intake_reply_gateway(r, INTAKE_ERR_INVALID_ACCESS_KEY_ID_INACTIVE, NULL,
				     "The tenant of this AccessKey is suspended.");
		return;
	case KEY_ENABLED:
		break;
	}
	snprintf(r->tenant_id, sizeof(r->tenant_id), "%s", e->tenant_id);
	if (r->body_len <= SIGN_ON_LOOP_MAX) {
		int rc = intake_sign_check(&r->parsed, e->secret, e->secret_len, time(NULL),
					   &r->sres);
		check_done(r, rc);
		return;
	}
	/* The entry may be evicted or refreshed while the job runs: the job gets a copy. */
	char *copy = malloc(e->secret_len + 1);
	if (!copy) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	memcpy(copy, e->secret, e->secret_len);
	copy[e->secret_len] = '\0';
	r->state = copy;
	r->state_free = free_secret;
	(void)intake_req_work(r, check_work, check_done);
}

/* ---- fetching a key ---- */

static int fetch_work(PGconn *c, void *arg)
{
	struct key_fetch *f = arg;
	PGresult *res = NULL;
	const char *params[1] = {f->e->id};
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	int rc = pg_exec(c, SQL_KEY, 1, params, &res, f->err, sizeof(f->err));
	if (rc < 0)
		goto out;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 1), "deleted") == 0) {
		f->state = KEY_NOT_FOUND;
		goto out;
	}
	snprintf(f->tenant_id, sizeof(f->tenant_id), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "enabled") != 0) {
		f->state = KEY_DISABLED;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "active") != 0) {
		f->state = KEY_TENANT_SUSPENDED;
		goto out;
	}
	char aad[sizeof(AAD_ACCESS_KEYS) + INTAKE_SIGN_MAX_AKID];
	snprintf(aad, sizeof(aad), "%s%s", AAD_ACCESS_KEYS, f->e->id);
	rc = intake_store_bytea(PQgetvalue(res, 0, 2), &blob, &blen);
	if (rc < 0)
		goto out;
	rc = intake_store_open(f->srv, aad, blob, blen, &plain, &plen);
	if (rc < 0 || plen >= SECRET_MAX) {
		snprintf(f->err, sizeof(f->err), "the sealed secret of %s does not open", f->e->id);
		rc = rc < 0 ? rc : -EBADMSG;
		goto out;
	}
	memcpy(f->secret, plain, plen);
	f->secret_len = plen;
	f->state = KEY_ENABLED;
out:
	if (plain) {
		crypto_wipe(plain, plen);
		free(plain);
	}
	free(blob);
	PQclear(res);
	f->rc = rc;
	return rc == -ECONNRESET ? rc : 0;
}

static void fetch_done(void *arg, int rc)
{
	struct key_fetch *f = arg;
	struct key_entry *e = f->e;
	struct intake_req *w = e->waiters;
	e->waiters = NULL;
	e->fetching = false;
	if (f->rc == 0) {
		e->valid = true;
		e->fetched_ms = intake_now_ms();
		e->state = f->state;
		memcpy(e->tenant_id, f->tenant_id, sizeof(e->tenant_id));
		crypto_wipe(e->secret, sizeof(e->secret));
		memcpy(e->secret, f->secret, f->secret_len);
		e->secret_len = f->secret_len;
	} else {
		log_warn(f->srv->lg, "access key lookup failed", LF_S("access_key_id", e->id),
			 LF_S("error", f->err), LOG_END);
	}
	while (w) {
		struct intake_req *next = w->key_next;
		w->key_next = NULL;
		if (intake_req_resume(w)) {
			if (f->rc == 0)
				with_key(w, e);
			else
				intake_reply_failure(
					w, f->rc == -ECONNRESET || f->rc == -ECONNREFUSED ? f->rc
											  : -EIO);
		}
		w = next;
	}
	crypto_wipe(f->secret, sizeof(f->secret));
	free(f);
}

static void wait_for_key(struct intake_req *r, struct key_entry *e)
{
	struct intake *s = r->srv;
	r->key_next = e->waiters;
	e->waiters = r;
	intake_req_park(r);
	if (e->fetching)
		return;
	struct key_fetch *f = calloc(1, sizeof(*f));
	if (f) {
		f->srv = s;
		f->e = e;
		e->fetching = true;
	}
	int rc = f ? pg_pool_submit(s->pool, fetch_work, fetch_done, f) : -ENOMEM;
	if (rc < 0) {
		e->fetching = false;
		free(f);
		e->waiters = r->key_next;
		r->key_next = NULL;
		(void)intake_req_resume(r);
		snprintf(r->log_err, sizeof(r->log_err), "key lookup not queued: %s",
			 strerror(-rc));
		intake_reply_failure(r, -EAGAIN);
	}
}

void intake_auth_start(struct intake_req *r)
{
	struct intake *s = r->srv;
	int rc = intake_sign_parse(&r->sreq, &r->parsed, &r->sres);
	if (rc < 0) {
		/* -EINVAL: malformed; -EPERM: an STS token (res.err says which). */
		intake_reply_gateway(r, r->sres.err, r->sres.param[0] ? r->sres.param : NULL,
				     r->sres.detail);
		return;
	}
	struct key_entry *e = entry_get(s->keys, r->parsed.access_key_id, true);
	if (!e) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	if (e->valid && !e->fetching && intake_now_ms() - e->fetched_ms < s->cfg->key_cache_ms) {
		with_key(r, e);
		return;
	}
	wait_for_key(r, e);
}
