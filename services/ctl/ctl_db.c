/* ctl_db — shirenctl's PostgreSQL connection, the mapping of database errors to exit codes,
 * and tenant lookup shared by the key and scene commands. */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/pg.h"
#include "ctl/ctl_valid.h"

/* libpq's messages span lines ("...\n\tIs the server running..."): one line each. */
void ctl_one_line(char *s)
{
	char *w = s;
	bool space = false;
	for (const char *r = s; *r; r++) {
		bool ws = *r == '\n' || *r == '\r' || *r == '\t' || *r == ' ';
		if (ws && !space && w != s)
			*w++ = ' ';
		else if (!ws)
			*w++ = *r;
		space = ws;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

int ctl_db_connect(struct ctl *c)
{
	char err[512];
	if (pg_connect(c->cfg.pg_dsn, "shirenctl", &c->pg, err, sizeof(err)) < 0) {
		ctl_one_line(err);
		return ctl_fail(c, CTL_EXIT_UNAVAILABLE, "cannot connect to PostgreSQL: %s", err);
	}
	return CTL_EXIT_OK;
}

int ctl_db_fail(struct ctl *c, int rc, const char *errmsg, const char *what)
{
	char st[6], err[1024];
	snprintf(err, sizeof(err), "%s", errmsg);
	ctl_one_line(err);
	if (rc == -ECONNRESET || rc == -ECONNREFUSED)
		return ctl_fail(c, CTL_EXIT_UNAVAILABLE, "%s: lost the PostgreSQL connection: %s",
				what, err);
	pg_err_sqlstate(err, st);
	if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0)
		return ctl_fail(c, CTL_EXIT_CONFIG,
				"%s: the database schema is missing or old (run 'shirenctl "
				"migrate'): %s",
				what, err);
	if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		return ctl_fail(c, CTL_EXIT_DATA, "%s: %s", what, err);
	return ctl_fail(c, CTL_EXIT_SOFTWARE, "%s: %s", what, err);
}

int ctl_tenant_resolve(struct ctl *c, const char *name_or_id, char id[37], char *name,
		       size_t namecap)
{
	static const char sql[] =
		"SELECT id::text, name FROM tenants "
		"WHERE name = $1 OR id = $2::uuid ORDER BY name = $1 DESC LIMIT 1";
	char err[512];
	PGresult *r = NULL;
	const char *params[] = {name_or_id, ctl_looks_like_uuid(name_or_id) ? name_or_id : NULL};
	int rc = pg_exec(c->pg, sql, 2, params, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "looking up the tenant");
	if (PQntuples(r) == 0) {
		PQclear(r);
		return ctl_fail(c, CTL_EXIT_DATA, "no tenant named '%s' (nor with that id)",
				name_or_id);
	}
	snprintf(id, 37, "%s", PQgetvalue(r, 0, 0));
	if (name)
		snprintf(name, namecap, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return CTL_EXIT_OK;
}
