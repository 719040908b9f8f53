/* ctl_cfg — shirenctl's environment (one typed cfg table), the master key, and the run
 * context's teardown and error reporting. */
#include "ctl/ctl.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "ctl/ctl_valid.h"

static const struct cfg_item ctl_cfg_items[] = {
	{"SHIREN_PG_DSN", CFG_STR, NULL, 0, 0, true, false, NULL, offsetof(struct ctl_cfg, pg_dsn),
	 "PostgreSQL connection string (key=value or postgresql:// URI)"},
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, false, true, NULL,
	 offsetof(struct ctl_cfg, master_key),
	 "AES-256 master key: 32 bytes as Base64 or 64 hex digits; needed by key create"},
	{"SHIREN_SQL_DIR", CFG_STR, "deploy/sql", 0, 0, false, false, NULL,
	 offsetof(struct ctl_cfg, sql_dir), "directory of the NNN_name.sql migrations"},
	{"SHIREN_PUBLIC_ENDPOINT", CFG_STR, "127.0.0.1:8900", 0, 0, false, false, NULL,
	 offsetof(struct ctl_cfg, public_endpoint),
	 "API endpoint (HOST:PORT or http(s)://HOST[:PORT]) shown in SDK snippets"},
};

#define N_ITEMS (sizeof(ctl_cfg_items) / sizeof(ctl_cfg_items[0]))

int ctl_fail(struct ctl *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("shirenctl: ", c->err);
	vfprintf(c->err, fmt, ap);
	fputc('\n', c->err);
	va_end(ap);
	return code;
}

/* libpq would only report a malformed DSN as a connection failure; it is a config error. */
static int check_dsn(struct ctl *c)
{
	const char *dsn = c->cfg.pg_dsn;
	bool conninfo = strchr(dsn, '=') || strncmp(dsn, "postgresql://", 13) == 0 ||
			strncmp(dsn, "postgres://", 11) == 0;
	if (!conninfo) /* a bare database name */
		return CTL_EXIT_OK;
	char *perr = NULL;
	PQconninfoOption *o = PQconninfoParse(dsn, &perr);
	if (!o) {
		if (perr)
			ctl_one_line(perr);
		int code = ctl_fail(c, CTL_EXIT_CONFIG, "SHIREN_PG_DSN is malformed: %s",
				    perr ? perr : "out of memory");
		PQfreemem(perr);
		return code;
	}
	PQconninfoFree(o);
	return CTL_EXIT_OK;
}

int ctl_cfg_load(struct ctl *c)
{
	char err[512];
	if (cfg_load(ctl_cfg_items, N_ITEMS, &c->cfg, err, sizeof(err)) < 0)
		return ctl_fail(c, CTL_EXIT_CONFIG, "%s", err);
	int code = check_dsn(c);
	if (code != CTL_EXIT_OK)
		return code;
	struct ctl_endpoint ep;
	if (ctl_parse_endpoint(c->cfg.public_endpoint, &ep) < 0)
		return ctl_fail(
			c, CTL_EXIT_CONFIG,
			"SHIREN_PUBLIC_ENDPOINT=%s is not HOST:PORT or http(s)://HOST[:PORT]",
			c->cfg.public_endpoint);
	if (c->cfg.master_key) {
		if (crypto_parse_key(c->cfg.master_key, c->master) < 0)
			return ctl_fail(c, CTL_EXIT_CONFIG,
					"SHIREN_MASTER_KEY is malformed: expected 32 bytes as "
					"Base64 (44 characters) or 64 hex digits");
		c->have_master = true;
	}
	return CTL_EXIT_OK;
}

void ctl_done(struct ctl *c)
{
	cfg_free(ctl_cfg_items, N_ITEMS, &c->cfg);
	PQfinish(c->pg);
	c->pg = NULL;
	crypto_wipe(c->master, sizeof(c->master));
	c->have_master = false;
}
