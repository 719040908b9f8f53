/* lsvc_store — the result transaction of a job: mark the job done, insert the result, and
 * enqueue its VerifyCompleted (key certify_id) and UsageEvent (key tenant, event_id
 * certify_id ":" action, billable for SubCodes 200-206 of a decision) in the outbox, all or
 * nothing. The job row's state is the guard: a job already done (by another worker, or before
 * a crash) writes nothing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "liveness/lsvc.h"
#include "liveness/lsvc_job.h"
#include "shiren/v1/metering.pb-c.h"
#include "shiren/v1/verify.pb-c.h"

static const char SQL_DONE[] = "UPDATE liveness_jobs SET state = 'done', done_at = now() "
			       "WHERE id = $1::bigint AND state = 'queued' RETURNING id";

static const char SQL_RESULT[] =
	"INSERT INTO liveness_results (job_id, certify_id, action, tenant_id, product, scene_id, "
	"outcome, code, passed, sub_code, billable, verify_score, liveness_score, quality_score, "
	"face_photo_id, message, detail, compute_ms, attempts) VALUES ($1::bigint, $2, $3, "
	"$4::uuid, $5::smallint, $6::bigint, $7, $8, $9::boolean, $10::int, $11::boolean, "
	"$12::float8, $13::float8, $14::float8, $15::bigint, $16, $17::jsonb, $18::int, $19::int) "
	"ON CONFLICT DO NOTHING RETURNING id, (extract(epoch FROM completed_at) * 1000)::bigint";

static const char *const outcome_names[] = {"decided", "unusable", "timeout", "failed"};

static const char *score(char *buf, size_t cap, double v)
{
	if (v < 0 || isnan(v))
		return NULL;
	snprintf(buf, cap, "%.17g", v);
	return buf;
}

static int enqueue(PGconn *c, const char *topic, const char *key, const void *buf, size_t len,
		   const char *message_id, char *err, size_t errlen)
{
	return outbox_enqueue(c, LSVC_SOURCE, topic, key, strlen(key), buf, len, message_id, err,
			      errlen);
}

static int emit_completed(PGconn *c, const struct lsvc_job *j, const struct lsvc_outcome *o,
			  int64_t result_id, int64_t completed_ms, char *err, size_t errlen)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__VerifyCompleted m = SHIREN__V1__VERIFY_COMPLETED__INIT;
	struct envelope_buf eb;
	int rc = envelope_new(&env, &eb, j->tenant_id, j->trace_id, LSVC_SOURCE);
	if (rc < 0)
		return rc;
	m.envelope = &env;
	m.certify_id = (char *)j->certify_id;
	m.action = (char *)j->action;
	m.product = j->msg->product;
	m.scene_id = j->msg->scene_id;
	m.passed = o->passed;
	m.sub_code = o->sub_code;
	m.verify_score = o->verify_score;
	m.liveness_score = o->liveness_score;
	m.quality_score = o->quality_score;
	m.billable = o->billable;
	m.result_id = result_id;
	m.completed_at_ms = completed_ms;
	m.face_photo_id = o->face_photo_id;
	m.code = (char *)o->code;
	m.message = (char *)o->message;
	m.synchronous = j->synchronous;
	size_t len = shiren__v1__verify_completed__get_packed_size(&m);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	shiren__v1__verify_completed__pack(&m, buf);
	rc = enqueue(c, TOPIC_VERIFY_COMPLETED, j->certify_id, buf, len, eb.message_id, err,
		     errlen);
	free(buf);
	return rc;
}

static int emit_usage(PGconn *c, const struct lsvc_job *j, const struct lsvc_outcome *o, char *err,
		      size_t errlen)
{
	Shiren__V1__Envelope env = SHIREN__V1__ENVELOPE__INIT;
	Shiren__V1__UsageEvent u = SHIREN__V1__USAGE_EVENT__INIT;
	struct envelope_buf eb;
	char event_id[LSVC_CERTIFY_ID_LEN + LSVC_ACTION_MAX + 2];
	int rc = envelope_new(&env, &eb, j->tenant_id, j->trace_id, LSVC_SOURCE);
	if (rc < 0)
		return rc;
	snprintf(event_id, sizeof(event_id), "%s:%s", j->certify_id, j->action);
	u.envelope = &env;
	u.event_id = event_id;
	u.certify_id = (char *)j->certify_id;
	u.action = (char *)j->action;
	u.product = j->msg->product;
	u.scene_id = j->msg->scene_id;
	u.quantity = 1;
	u.billable = o->billable;
	u.sub_code = o->sub_code;
	u.occurred_at_ms = j->produced_at_ms > 0 ? j->produced_at_ms : envelope_now_ms();
	size_t len = shiren__v1__usage_event__get_packed_size(&u);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	shiren__v1__usage_event__pack(&u, buf);
	rc = enqueue(c, TOPIC_USAGE, j->tenant_id, buf, len, eb.message_id, err, errlen);
	free(buf);
	return rc;
}

static int insert_result(PGconn *c, const struct lsvc_job *j, const struct lsvc_outcome *o,
			 const char *detail, int64_t compute_ms, int64_t *ret_id,
			 int64_t *ret_completed, char *err, size_t errlen)
{
	char jid[24], product[12], scene[24], sub[12], vs[40], ls[40], qs[40], fid[24], cms[24],
		att[12];
	PGresult *res = NULL;
	snprintf(jid, sizeof(jid), "%lld", (long long)j->id);
	snprintf(product, sizeof(product), "%d", (int)j->msg->product);
	snprintf(scene, sizeof(scene), "%lld", (long long)j->msg->scene_id);
	snprintf(sub, sizeof(sub), "%d", o->sub_code);
	snprintf(fid, sizeof(fid), "%lld", (long long)o->face_photo_id);
	snprintf(cms, sizeof(cms), "%lld", (long long)compute_ms);
	snprintf(att, sizeof(att), "%d", j->attempts);
	const char *p[19] = {jid,
			     j->certify_id,
			     j->action,
			     j->tenant_id,
			     product,
			     scene,
			     outcome_names[o->kind],
			     o->code,
			     o->passed ? "true" : "false",
			     sub,
			     o->billable ? "true" : "false",
			     score(vs, sizeof(vs), o->verify_score),
			     score(ls, sizeof(ls), o->liveness_score),
			     score(qs, sizeof(qs), o->quality_score),
			     o->face_photo_id > 0 ? fid : NULL,
			     o->message,
			     detail,
			     cms,
			     att};
	int rc = pg_exec(c, SQL_RESULT, 19, p, &res, err, errlen);
	if (rc == 0 && PQntuples(res) == 1) {
		*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*ret_completed = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	} else if (rc == 0) {
		*ret_id = 0;
	}
	PQclear(res);
	return rc;
}

int lsvc_store_result(PGconn *c, const struct lsvc_job *j, const struct lsvc_outcome *o,
		      const char *detail, int64_t compute_ms, bool *ret_stored, char *err,
		      size_t errlen)
{
	char jid[24];
	PGresult *res = NULL;
	int64_t result_id = 0, completed_ms = 0;
	*ret_stored = false;
	int rc = pg_begin(c, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(jid, sizeof(jid), "%lld", (long long)j->id);
	const char *p[1] = {jid};
	rc = pg_exec(c, SQL_DONE, 1, p, &res, err, errlen);
	if (rc < 0 || PQntuples(res) == 0)
		goto rollback;
	rc = insert_result(c, j, o, detail, compute_ms, &result_id, &completed_ms, err, errlen);
	if (rc < 0 || result_id == 0)
		goto rollback;
	if ((rc = emit_completed(c, j, o, result_id, completed_ms, err, errlen)) < 0 ||
	    (rc = emit_usage(c, j, o, err, errlen)) < 0)
		goto rollback;
	PQclear(res);
	rc = pg_commit(c, err, errlen);
	*ret_stored = rc == 0;
	return rc;
rollback:
	PQclear(res);
	pg_rollback(c);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}
