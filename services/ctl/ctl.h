/* ctl — what shirenctl's commands share: the run context, exit codes, configuration, database
 * helpers and the commands themselves. Each command returns an exit code (enum ctl_exit) and
 * has already printed its one error line to stderr when that code is not CTL_EXIT_OK. */
#ifndef SHIREN_CTL_H
#define SHIREN_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/crypto.h"
#include "ctl/ctl_args.h"

/* to_char() format of timestamps in output: RFC 3339, UTC (used as
 * "to_char(x AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ")"). */
#define CTL_SQL_TS_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* sysexits.h values. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_USAGE = 64,
	CTL_EXIT_DATA = 65,
	CTL_EXIT_UNAVAILABLE = 69,
	CTL_EXIT_SOFTWARE = 70,
	CTL_EXIT_CONFIG = 78,
};

struct ctl_cfg {
	char *pg_dsn;
	char *master_key; /* secret; NULL when unset */
	char *sql_dir;
	char *public_endpoint;
};

struct ctl {
	const struct ctl_args *args; /* borrowed */
	struct ctl_cfg cfg;
	PGconn *pg; /* owned; NULL until ctl_db_connect */
	FILE *out;  /* results (stdout) */
	FILE *err;  /* the one error line (stderr) */
	bool have_master;
	uint8_t master[CRYPTO_AES_KEY_LEN]; /* wiped by ctl_done */
};

/* ctl_cfg.c: load the environment into c->cfg and parse the master key if set.
 * CTL_EXIT_OK or CTL_EXIT_CONFIG (message printed). */
int ctl_cfg_load(struct ctl *c);
/* Free the configuration, close the connection, wipe the master key. */
void ctl_done(struct ctl *c);

/* Print "shirenctl: <message>" to c->err and return `code`. */
int ctl_fail(struct ctl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ctl_db.c */
/* Fold a multi-line library message into one line, in place. */
void ctl_one_line(char *s);
int ctl_db_connect(struct ctl *c);
/* Report a failed pg_exec (rc, err): connection loss → 69, constraint or data errors → 65,
 * anything else → 70. `what` says what was being done ("creating the tenant"). */
int ctl_db_fail(struct ctl *c, int rc, const char *err, const char *what);
/* Find a tenant by name or id. CTL_EXIT_OK with id (36 chars + NUL) and name filled, or
 * CTL_EXIT_DATA when there is no such tenant (printed). `name` may be NULL. */
int ctl_tenant_resolve(struct ctl *c, const char *name_or_id, char id[37], char *name,
		       size_t namecap);

/* ctl_out.c: print a query result as an aligned table (headers are the upper-cased column
 * names, NULL shown as "-") or, with json, one JSON object per row and line (int columns as
 * numbers, NULL as null). 0 or -ENOMEM/-EIO. */
int ctl_out_rows(FILE *f, const PGresult *r, bool json) __attribute__((warn_unused_result));
/* Print row 0 as "column: value" lines, or one JSON object with json. 0 or -ENOMEM/-EIO. */
int ctl_out_record(FILE *f, const PGresult *r, bool json) __attribute__((warn_unused_result));

/* The commands (ctl_migrate.c, ctl_tenant.c, ctl_key.c, ctl_scene.c). */
int ctl_migrate_run(struct ctl *c);
int ctl_tenant_create(struct ctl *c);
int ctl_tenant_list(struct ctl *c);
int ctl_key_create(struct ctl *c);
int ctl_key_disable(struct ctl *c);
int ctl_key_list(struct ctl *c);
int ctl_scene_create(struct ctl *c);
int ctl_scene_list(struct ctl *c);

#endif
