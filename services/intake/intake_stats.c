/* intake_stats — DescribePageFaceVerifyData: per day, scene and product, how many
 * verifications the tenant started and how many passed, from our own verifications table (the
 * original service does not offer pass rates; we do). Days are calendar days in
 * SHIREN_INTAKE_STATS_TZ (default Asia/Shanghai, the console's zone). Unlike the other
 * actions, the page fields sit at the top level of the response, all as strings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "intake/intake_server.h"

#define BIZ_REFUSED 1

static const char SQL_COUNT[] =
	"SELECT count(*) FROM (SELECT 1 FROM verifications v WHERE v.tenant_id = $1::uuid "
	"AND v.created_at >= ($2::date::timestamp AT TIME ZONE $6) "
	"AND v.created_at < (($3::date + 1)::timestamp AT TIME ZONE $6) "
	"AND ($4::bigint IS NULL OR v.scene_id = $4::bigint) "
	"AND ($5::text IS NULL OR v.product_code = $5) "
	"GROUP BY (v.created_at AT TIME ZONE $6)::date, v.scene_id, v.product_code) g";

static const char SQL_PAGE[] =
	"SELECT to_char(d.day, 'YYYY-MM-DD'), d.scene_id, d.product_code, s.name, d.total, "
	"d.success FROM (SELECT (v.created_at AT TIME ZONE $6)::date AS day, v.scene_id, "
	"v.product_code, count(*) AS total, count(*) FILTER (WHERE v.passed) AS success "
	"FROM verifications v WHERE v.tenant_id = $1::uuid "
	"AND v.created_at >= ($2::date::timestamp AT TIME ZONE $6) "
	"AND v.created_at < (($3::date + 1)::timestamp AT TIME ZONE $6) "
	"AND ($4::bigint IS NULL OR v.scene_id = $4::bigint) "
	"AND ($5::text IS NULL OR v.product_code = $5) "
	"GROUP BY 1, 2, 3) d JOIN scenes s ON s.id = d.scene_id "
	"ORDER BY d.day, d.scene_id, d.product_code LIMIT $7::bigint OFFSET $8::bigint";

struct page_state {
	struct intake_page_req q;
	struct intake_biz biz;
	char *body;
	size_t body_len;
};

static void state_free(void *p)
{
	struct page_state *st = p;
	free(st->body);
	free(st);
}

static void num(struct json_writer *w, const char *key, long long v)
{
	char b[24];
	snprintf(b, sizeof(b), "%lld", v);
	json_key_str(w, key, b);
}

static int render(struct intake_req *r, struct page_state *st, long long total,
		  const PGresult *rows)
{
	int n = PQntuples(rows);
	size_t cap = 512 + (size_t)n * 1024;
	st->body = malloc(cap);
	if (!st->body)
		return -ENOMEM;
	struct json_writer w;
	json_writer_init(&w, st->body, cap);
	json_obj_begin(&w);
	json_key_str(&w, "RequestId", r->request_id);
	json_key_str(&w, "Success", "true");
	json_key_str(&w, "Code", "200");
	json_key_str(&w, "Message", "success");
	num(&w, "TotalCount", total);
	num(&w, "PageSize", st->q.page_size);
	num(&w, "TotalPage", (total + st->q.page_size - 1) / st->q.page_size);
	num(&w, "CurrentPage", st->q.current_page);
	json_key(&w, "Items");
	json_arr_begin(&w);
	for (int i = 0; i < n; i++) {
		char date[40];
		snprintf(date, sizeof(date), "%sT00:00:00.000Z", PQgetvalue(rows, i, 0));
		json_obj_begin(&w);
		json_key_str(&w, "Date", date);
		json_key_str(&w, "SceneId", PQgetvalue(rows, i, 1));
		json_key_str(&w, "ProductCode", PQgetvalue(rows, i, 2));
		json_key_str(&w, "SceneName", PQgetvalue(rows, i, 3));
		json_key_str(&w, "TotalCount", PQgetvalue(rows, i, 4));
		json_key_str(&w, "SuccessCount", PQgetvalue(rows, i, 5));
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_obj_end(&w);
	st->body_len = json_writer_len(&w);
	return json_writer_truncated(&w) ? -ENOSPC : 0;
}

static int page_body(PGconn *c, struct intake_req *r, void *arg)
{
	struct page_state *st = arg;
	PGresult *cnt = NULL, *rows = NULL;
	char scene[24], limit[24], offset[24];
	snprintf(scene, sizeof(scene), "%lld", (long long)st->q.scene_id);
	snprintf(limit, sizeof(limit), "%lld", (long long)st->q.page_size);
	snprintf(offset, sizeof(offset), "%lld",
		 (long long)((st->q.current_page - 1) * st->q.page_size));
	const char *p[8] = {r->tenant_id,
			    st->q.start_date,
			    st->q.end_date,
			    st->q.scene_id ? scene : NULL,
			    st->q.product_code,
			    r->srv->cfg->stats_tz,
			    limit,
			    offset};
	int rc = intake_store_exec(c, r, SQL_COUNT, 6, p, &cnt);
	if (rc == 0)
		rc = intake_store_exec(c, r, SQL_PAGE, 8, p, &rows);
	if (rc == 0)
		rc = render(r, st, strtoll(PQgetvalue(cnt, 0, 0), NULL, 10), rows);
	PQclear(cnt);
	PQclear(rows);
	return rc;
}

static int page_work(PGconn *c, struct intake_req *r)
{
	return intake_store_tx(c, r, page_body, r->state);
}

static void page_done(struct intake_req *r, int rc)
{
	struct page_state *st = r->state;
	if (rc == 0)
		intake_reply_json(r, 200, "200", st->body, st->body_len);
	else if (rc == -EALREADY)
		intake_reply_gateway(r, INTAKE_ERR_SIGNATURE_NONCE_USED, NULL, NULL);
	else
		intake_reply_failure(r, rc);
}

void intake_page_handle(struct intake_req *r)
{
	struct page_state *st = calloc(1, sizeof(*st));
	if (!st) {
		intake_reply_failure(r, -ENOMEM);
		return;
	}
	r->state = st;
	r->state_free = state_free;
	if (intake_valid_page(&r->params, &st->q, &st->biz) < 0) {
		intake_reply_biz(r, &st->biz);
		return;
	}
	(void)intake_req_pg(r, page_work, page_done);
}
