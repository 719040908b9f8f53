/* ctl_key — `shirenctl key create|disable|list`. AccessKeyIds and secrets come from the OS
 * CSPRNG; the secret is sealed under the master key (AAD "access_keys:<id>") before it is
 * stored and is printed exactly once, never logged and never listed. */
#include "ctl/ctl.h"

#include <errno.h>
#include <string.h>

#include "common/json.h"
#include "common/pg.h"
#include "ctl/ctl_valid.h"

#define KEY_ID_TRIES 5
#define AAD_PREFIX   "access_keys:"

static const char SQL_INSERT[] =
	"INSERT INTO access_keys (access_key_id, tenant_id, secret_enc) VALUES ($1, $2::uuid, $3) "
	"RETURNING to_char(created_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ")";

static const char SQL_DISABLE[] =
	"UPDATE access_keys SET status = 'disabled', disabled_at = now() "
	"WHERE access_key_id = $1 AND status = 'enabled' RETURNING access_key_id";

static const char SQL_STATUS[] = "SELECT status FROM access_keys WHERE access_key_id = $1";

static const char SQL_LIST[] =
	"SELECT k.access_key_id, t.name AS tenant, k.status,"
	" to_char(k.created_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ") AS created_at,"
	" to_char(k.disabled_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ") AS disabled_at"
	" FROM access_keys k JOIN tenants t ON t.id = k.tenant_id"
	" WHERE ($1::uuid IS NULL OR k.tenant_id = $1::uuid)"
	" ORDER BY k.created_at, k.access_key_id";

/* `n` characters of [A-Za-z0-9], uniformly (rejection sampling), NUL-terminated. */
static int random_alnum(char *out, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t buf[64];
	size_t i = 0;
	int rc = 0;
	while (i < n && rc == 0) {
		rc = crypto_random(buf, sizeof(buf));
		for (size_t k = 0; rc == 0 && k < sizeof(buf) && i < n; k++)
			if (buf[k] < 248) /* 248 = 4 * 62: no modulo bias */
				out[i++] = alphabet[buf[k] % 62];
	}
	crypto_wipe(buf, sizeof(buf));
	out[n] = '\0';
	return rc;
}

struct new_key {
	char id[CTL_KEY_ID_LEN + 1];
	char secret[CTL_SECRET_LEN + 1];
	char created_at[40];
};

/* Seal the secret for `id` and insert the row. 0, -EEXIST on an id collision, or the pg_execb
 * error (message in err). */
static int insert_key(struct ctl *c, const char *tenant_id, struct new_key *k, char *err,
		      size_t errlen)
{
	uint8_t blob[CTL_SECRET_LEN + CRYPTO_SEAL_OVERHEAD];
	char aad[sizeof(AAD_PREFIX) + CTL_KEY_ID_LEN];
	snprintf(aad, sizeof(aad), "%s%s", AAD_PREFIX, k->id);
	long bl = crypto_seal(c->master, aad, strlen(aad), k->secret, CTL_SECRET_LEN, blob,
			      sizeof(blob));
	if (bl < 0) {
		snprintf(err, errlen, "sealing the secret failed");
		return (int)bl;
	}
	const char *params[] = {k->id, tenant_id, (const char *)blob};
	const int lengths[] = {0, 0, (int)bl};
	const int formats[] = {0, 0, 1};
	PGresult *r = NULL;
	int rc = pg_execb(c->pg, SQL_INSERT, 3, params, lengths, formats, &r, err, errlen);
	if (rc == 0)
		snprintf(k->created_at, sizeof(k->created_at), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (rc < 0) {
		char st[6];
		pg_err_sqlstate(err, st);
		if (strcmp(st, "23505") == 0)
			rc = -EEXIST;
	}
	return rc;
}

static void print_snippet(FILE *f, const struct new_key *k, const struct ctl_endpoint *ep)
{
	const char *proto = ep->https ? "https" : "http";
	fprintf(f,
		"// @alicloud/cloudauth20190307 with @alicloud/openapi-client (Node.js)\n"
		"const Cloudauth = require('@alicloud/cloudauth20190307');\n"
		"const OpenApi = require('@alicloud/openapi-client');\n"
		"const client = new Cloudauth.default(new OpenApi.Config({\n"
		"  accessKeyId: '%s',\n"
		"  accessKeySecret: '%s',\n"
		"  endpoint: '%s',\n"
		"  protocol: '%s',\n"
		"}));\n\n",
		k->id, k->secret, ep->hostport, proto);
	fprintf(f,
		"// @alicloud/pop-core (Node.js)\n"
		"const RPCClient = require('@alicloud/pop-core');\n"
		"const popClient = new RPCClient({\n"
		"  accessKeyId: '%s',\n"
		"  accessKeySecret: '%s',\n"
		"  endpoint: '%s://%s',\n"
		"  apiVersion: '2019-03-07',\n"
		"});\n",
		k->id, k->secret, proto, ep->hostport);
}

static int print_key(struct ctl *c, const struct new_key *k, const char *tenant_id,
		     const char *tenant, const struct ctl_endpoint *ep)
{
	FILE *f = c->out;
	char url[sizeof(ep->hostport) + 8];
	snprintf(url, sizeof(url), "%s://%s", ep->https ? "https" : "http", ep->hostport);
	if (c->args->json) {
		char buf[1024];
		struct json_writer w;
		json_writer_init(&w, buf, sizeof(buf));
		json_obj_begin(&w);
		json_key_str(&w, "access_key_id", k->id);
		json_key_str(&w, "access_key_secret", k->secret);
		json_key_str(&w, "tenant_id", tenant_id);
		json_key_str(&w, "tenant", tenant);
		json_key_str(&w, "status", "enabled");
		json_key_str(&w, "created_at", k->created_at);
		json_key_str(&w, "endpoint", url);
		json_obj_end(&w);
		fprintf(f, "%s\n", buf);
		crypto_wipe(buf, sizeof(buf));
	} else {
		fprintf(f,
			"AccessKeyId:     %s\nAccessKeySecret: %s\nTenant:          %s (%s)\n"
			"Endpoint:        %s\n\n"
			"Store the secret now: it is shown only this once, and shiren keeps only "
			"an\n"
			"encrypted copy. Client configuration:\n\n",
			k->id, k->secret, tenant, tenant_id, url);
		print_snippet(f, k, ep);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int ctl_key_create(struct ctl *c)
{
	const struct ctl_args *a = c->args;
	struct ctl_endpoint ep;
	struct new_key k = {0};
	char tid[37], tname[128], err[512];
	int code = CTL_EXIT_OK;

	if (!c->have_master)
		return ctl_fail(c, CTL_EXIT_CONFIG,
				"key create needs the master key: set SHIREN_MASTER_KEY or "
				"SHIREN_MASTER_KEY_FILE");
	const char *endpoint = a->endpoint ? a->endpoint : c->cfg.public_endpoint;
	if (ctl_parse_endpoint(endpoint, &ep) < 0)
		return ctl_fail(
			c, CTL_EXIT_DATA,
			"invalid endpoint '%s': expected HOST:PORT or http(s)://HOST[:PORT]",
			endpoint);
	code = ctl_tenant_resolve(c, a->tenant, tid, tname, sizeof(tname));
	if (code != CTL_EXIT_OK)
		return code;
	int rc = -EEXIST;
	for (int i = 0; i < KEY_ID_TRIES && rc == -EEXIST; i++) {
		memcpy(k.id, CTL_KEY_ID_PREFIX, strlen(CTL_KEY_ID_PREFIX));
		rc = random_alnum(k.id + strlen(CTL_KEY_ID_PREFIX),
				  CTL_KEY_ID_LEN - strlen(CTL_KEY_ID_PREFIX));
		if (rc == 0)
			rc = random_alnum(k.secret, CTL_SECRET_LEN);
		if (rc < 0) {
			code = ctl_fail(c, CTL_EXIT_SOFTWARE, "the CSPRNG failed");
			goto out;
		}
		rc = insert_key(c, tid, &k, err, sizeof(err));
	}
	if (rc == -EEXIST)
		code = ctl_fail(c, CTL_EXIT_SOFTWARE, "could not draw an unused AccessKeyId");
	else if (rc < 0 && rc != -EIO && rc != -ECONNRESET)
		code = ctl_fail(c, CTL_EXIT_SOFTWARE, "creating the key: %s", err);
	else if (rc < 0)
		code = ctl_db_fail(c, rc, err, "creating the key");
	else if (print_key(c, &k, tid, tname, &ep) < 0)
		code = ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output");
out:
	crypto_wipe(&k, sizeof(k));
	return code;
}

int ctl_key_disable(struct ctl *c)
{
	const char *id = c->args->key_id;
	char err[512];
	if (!ctl_valid_key_id(id))
		return ctl_fail(c, CTL_EXIT_DATA,
				"'%s' is not an AccessKeyId (LTAI + 20 letters/digits)", id);
	PGresult *r = NULL;
	const char *params[] = {id};
	int rc = pg_exec(c->pg, SQL_DISABLE, 1, params, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "disabling the key");
	bool changed = PQntuples(r) == 1;
	PQclear(r);
	if (changed) {
		fprintf(c->out, "disabled %s\n", id);
		return CTL_EXIT_OK;
	}
	rc = pg_exec(c->pg, SQL_STATUS, 1, params, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "disabling the key");
	int code = CTL_EXIT_OK;
	if (PQntuples(r) == 0)
		code = ctl_fail(c, CTL_EXIT_DATA, "no AccessKey %s", id);
	else if (strcmp(PQgetvalue(r, 0, 0), "disabled") == 0)
		fprintf(c->out, "%s is already disabled\n", id);
	else
		code = ctl_fail(c, CTL_EXIT_DATA, "AccessKey %s is %s", id, PQgetvalue(r, 0, 0));
	PQclear(r);
	return code;
}

int ctl_key_list(struct ctl *c)
{
	char tid[37], err[512];
	const char *params[] = {NULL};
	if (c->args->tenant) {
		int code = ctl_tenant_resolve(c, c->args->tenant, tid, NULL, 0);
		if (code != CTL_EXIT_OK)
			return code;
		params[0] = tid;
	}
	PGresult *r = NULL;
	int rc = pg_exec(c->pg, SQL_LIST, 1, params, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "listing keys");
	rc = ctl_out_rows(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}
