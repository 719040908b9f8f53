/* ctl_migrate — `shirenctl migrate`: applies deploy/sql (SHIREN_SQL_DIR) through
 * common/migrate and reports how many files it applied and the resulting schema version. */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>

#include "common/migrate.h"
#include "common/pg.h"

static int exit_for(int rc)
{
	switch (rc) {
	case -ENOENT:
		return CTL_EXIT_CONFIG; /* SHIREN_SQL_DIR points nowhere */
	case -EINVAL:
	case -EBADMSG:
	case -EIO:
		return CTL_EXIT_DATA;
	case -ECONNRESET:
	case -ECONNREFUSED:
		return CTL_EXIT_UNAVAILABLE;
	default:
		return CTL_EXIT_SOFTWARE;
	}
}

int ctl_migrate_run(struct ctl *c)
{
	char err[1024];
	int applied = 0;
	int rc = migrate_apply(c->pg, c->cfg.sql_dir, &applied, err, sizeof(err));
	if (rc < 0)
		ctl_one_line(err);
	if (rc < 0 && applied > 0)
		return ctl_fail(c, exit_for(rc), "migrate: %s (%d applied before the failure)", err,
				applied);
	if (rc < 0)
		return ctl_fail(c, exit_for(rc), "migrate: %s", err);

	PGresult *r = NULL;
	rc = pg_exec(c->pg,
		     "SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1", 0,
		     NULL, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "reading the schema version");
	bool any = PQntuples(r) > 0;
	fprintf(c->out, "applied %d migration%s; schema at version %s (%s)\n", applied,
		applied == 1 ? "" : "s", any ? PQgetvalue(r, 0, 0) : "0",
		any ? PQgetvalue(r, 0, 1) : "no migrations");
	PQclear(r);
	return CTL_EXIT_OK;
}
