/* ctl_scene — `shirenctl scene create|list`. A scene's id is the SceneId that API calls
 * carry; it binds the tenant's product code, liveness model, callback URL and export target. */
#include "ctl/ctl.h"

#include <string.h>

#include "common/pg.h"
#include "ctl/ctl_valid.h"

#define SCENE_COLUMNS                                                                           \
	"s.id AS scene_id, t.name AS tenant, s.name, s.product_code, s.model, s.callback_url, " \
	"s.oss_target, to_char(s.created_at AT TIME ZONE 'UTC', " CTL_SQL_TS_FMT                \
	") AS created_at "

static const char SQL_CREATE[] =
	"WITH s AS (INSERT INTO scenes (tenant_id, name, product_code, model, callback_url,"
	" oss_target) VALUES ($1::uuid, $2, $3, $4, $5, $6) RETURNING *) "
	"SELECT " SCENE_COLUMNS "FROM s JOIN tenants t ON t.id = s.tenant_id";

static const char SQL_LIST[] =
	"SELECT " SCENE_COLUMNS "FROM scenes s JOIN tenants t ON t.id = s.tenant_id "
	"WHERE ($1::uuid IS NULL OR s.tenant_id = $1::uuid) "
	"ORDER BY s.id";

/* Every value rule, before the database is asked. CTL_EXIT_OK or CTL_EXIT_DATA (printed). */
static int check_scene(struct ctl *c)
{
	const struct ctl_args *a = c->args;
	char err[512];
	if (!ctl_valid_scene_name(a->name))
		return ctl_fail(c, CTL_EXIT_DATA,
				"invalid scene name: use 1-64 characters of UTF-8 text without "
				"control characters");
	if (ctl_check_product_model(a->product, a->model, err, sizeof(err)) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "%s", err);
	if (a->callback_url && ctl_check_url(a->callback_url, err, sizeof(err)) < 0)
		return ctl_fail(c, CTL_EXIT_DATA, "invalid --callback-url: %s", err);
	if (a->oss_target && !ctl_valid_oss_target(a->oss_target))
		return ctl_fail(c, CTL_EXIT_DATA,
				"invalid --oss-target '%s': use 1-64 characters of [A-Za-z0-9._-] "
				"starting with a letter or digit",
				a->oss_target);
	return CTL_EXIT_OK;
}

int ctl_scene_create(struct ctl *c)
{
	const struct ctl_args *a = c->args;
	char tid[37], tname[128], err[512], st[6];
	int code = check_scene(c);
	if (code != CTL_EXIT_OK)
		return code;
	code = ctl_tenant_resolve(c, a->tenant, tid, tname, sizeof(tname));
	if (code != CTL_EXIT_OK)
		return code;
	const char *params[] = {tid, a->name, a->product, a->model, a->callback_url, a->oss_target};
	PGresult *r = NULL;
	int rc = pg_exec(c->pg, SQL_CREATE, 6, params, &r, err, sizeof(err));
	if (rc < 0) {
		pg_err_sqlstate(err, st);
		if (strcmp(st, "23505") == 0)
			return ctl_fail(c, CTL_EXIT_DATA,
					"tenant '%s' already has a scene named '%s'", tname,
					a->name);
		return ctl_db_fail(c, rc, err, "creating the scene");
	}
	rc = ctl_out_record(c->out, r, a->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}

int ctl_scene_list(struct ctl *c)
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
		return ctl_db_fail(c, rc, err, "listing scenes");
	rc = ctl_out_rows(c->out, r, c->args->json);
	PQclear(r);
	return rc < 0 ? ctl_fail(c, CTL_EXIT_SOFTWARE, "cannot write the output") : CTL_EXIT_OK;
}
