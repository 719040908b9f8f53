/* ctl_tenant — `shirenctl tenant create|list`. */
#include "ctl/ctl.h"

#include <string.h>

#include "common/pg.h"
#include "ctl/ctl_valid.h"

static const char SQL_CREATE[] =
	"INSERT INTO tenants (name) VALUES ($1) RETURNING id::text AS id, name, status,"
	" to_char(created_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ") AS created_at";

static const char SQL_LIST[] =
	"SELECT t.id::text AS id, t.name, t.status,"
	" (SELECT count(*) FROM access_keys k"
	"   WHERE k.tenant_id = t.id AND k.status = 'enabled') AS keys,"
	" (SELECT count(*) FROM scenes s WHERE s.tenant_id = t.id) AS scenes,"
	" to_char(t.created_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT ") AS created_at"
	" FROM tenants t ORDER BY t.created_at, t.name";

int ctl_tenant_create(struct ctl *c)
{
	const char *name = c->args->name;
	char err[512], st[6];
	if (!ctl_valid_tenant_name(name))
		return ctl_fail(c, CTL_EXIT_DATA,
				"invalid tenant name '%s': use 1-64 characters of [A-Za-z0-9._-] "
				"starting with a letter or digit (and not a UUID)",
				name);
	PGresult *r = NULL;
	const char *params[] = {name};
	int rc = pg_exec(c->pg, SQL_CREATE, 1, params, &r, err, sizeof(err));
	if (rc < 0) {
		pg_err_sqlstate(err, st);
		if (strcmp(st, "23505") == 0)
			return ctl_fail(c, CTL_EXIT_DATA, "tenant '%s' already exists", name);
		return ctl_db_fail(c, rc, err, "creating the tenant");
	}
	rc = ctl_out_record(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}

int ctl_tenant_list(struct ctl *c)
{
	char err[512];
	PGresult *r = NULL;
	int rc = pg_exec(c->pg, SQL_LIST, 0, NULL, &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(c, rc, err, "listing tenants");
	rc = ctl_out_rows(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}
