/* intake_completed — consumes shiren.verify.completed.v1 and copies each outcome into its
 * verification (status, Passed, SubCode, scores, the chosen face photo), which is what
 * DescribeFaceVerify reads. Runs on the common inbox consumer thread: each batch in one
 * transaction with its inbox rows, so a redelivery is a no-op. A user may retry a failed
 * capture, so a newer completion replaces an older one; an older one arriving late does not.
 * The outcome of a synchronous call is also NOTIFYed (INTAKE_SYNC_CHANNEL) in the same
 * transaction, which wakes the waiting request in whichever intake process holds it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/consumer.h"
#include "common/log.h"
#include "common/pg.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"
#include "shiren/v1/verify.pb-c.h"

static const char SQL_APPLY[] =
	"UPDATE verifications SET status = 'completed', passed = $2::boolean, "
	"sub_code = $3::int, verify_score = $4::float8, liveness_score = $5::float8, "
	"quality_score = $6::float8, result_id = $7::bigint, "
	"face_photo_id = (SELECT p.id FROM photos p WHERE p.id = $8::bigint), "
	"device_token = COALESCE($9, device_token), completed_at = to_timestamp($10::float8 / "
	"1000) WHERE certify_id = $1 AND (completed_at IS NULL OR "
	"completed_at <= to_timestamp($10::float8 / 1000))";

static const char SQL_NOTIFY[] = "SELECT pg_notify('" INTAKE_SYNC_CHANNEL "', $1)";

/* Wakes the request waiting on a synchronous call's result (intake_sync_wait.c). */
static int notify_sync(PGconn *c, const Shiren__V1__VerifyCompleted *v, char *err, size_t errlen)
{
	struct intake_sync_result res = {0};
	char payload[512];
	snprintf(res.certify_id, sizeof(res.certify_id), "%s", v->certify_id);
	snprintf(res.code, sizeof(res.code), "%s", v->code && *v->code ? v->code : "200");
	res.passed = v->passed;
	res.sub_code = v->sub_code;
	res.verify_score = v->verify_score;
	res.liveness_score = v->liveness_score;
	res.quality_score = v->quality_score;
	snprintf(res.message, sizeof(res.message), "%s", v->message ? v->message : "");
	if (intake_sync_payload_format(&res, payload, sizeof(payload)) < 0)
		return 0; /* cannot happen with these bounds; the waiter's last look covers it */
	const char *p[1] = {payload};
	return pg_exec(c, SQL_NOTIFY, 1, p, NULL, err, errlen);
}

static int check_cb(const struct consumer_msg *m, void *arg, char *err, size_t errlen)
{
	Shiren__V1__VerifyCompleted *v =
		shiren__v1__verify_completed__unpack(NULL, m->len, m->payload);
	if (!v) {
		snprintf(err, errlen, "not a VerifyCompleted message");
		return -EBADMSG;
	}
	int rc = 0;
	if (!v->certify_id || strlen(v->certify_id) != INTAKE_CERTIFY_ID_LEN) {
		snprintf(err, errlen, "certify_id is not %d characters", INTAKE_CERTIFY_ID_LEN);
		rc = -EINVAL;
	}
	shiren__v1__verify_completed__free_unpacked(v, NULL);
	return rc;
}

static void opt_score(char *buf, size_t cap, double v, const char **ret)
{
	if (v < 0) {
		*ret = NULL;
		return;
	}
	snprintf(buf, cap, "%.17g", v);
	*ret = buf;
}

static int apply_one(PGconn *c, const struct consumer_msg *m, char *err, size_t errlen)
{
	Shiren__V1__VerifyCompleted *v =
		shiren__v1__verify_completed__unpack(NULL, m->len, m->payload);
	if (!v) {
		snprintf(err, errlen, "not a VerifyCompleted message");
		return -EBADMSG;
	}
	char sub[16], vs[40], ls[40], qs[40], rid[24], fid[24], at[24];
	const char *p[10] = {v->certify_id, v->passed ? "true" : "false", sub};
	snprintf(sub, sizeof(sub), "%d", v->sub_code);
	opt_score(vs, sizeof(vs), v->verify_score, &p[3]);
	opt_score(ls, sizeof(ls), v->liveness_score, &p[4]);
	opt_score(qs, sizeof(qs), v->quality_score, &p[5]);
	snprintf(rid, sizeof(rid), "%lld", (long long)v->result_id);
	snprintf(fid, sizeof(fid), "%lld", (long long)v->face_photo_id);
	snprintf(at, sizeof(at), "%lld",
		 (long long)(v->completed_at_ms ? v->completed_at_ms : m->env.produced_at_ms));
	p[6] = v->result_id ? rid : NULL;
	p[7] = v->face_photo_id ? fid : NULL;
	p[8] = v->device_token && *v->device_token ? v->device_token : NULL;
	p[9] = at;
	PGresult *res = NULL;
	int rc = pg_exec(c, SQL_APPLY, 10, p, &res, err, errlen);
	/* Only a completion this database applied has a caller waiting here. */
	if (rc == 0 && v->synchronous && strcmp(PQcmdTuples(res), "0") != 0)
		rc = notify_sync(c, v, err, errlen);
	PQclear(res);
	shiren__v1__verify_completed__free_unpacked(v, NULL);
	return rc;
}

static int apply_cb(PGconn *c, const struct consumer_msg *const *msgs, size_t n, void *arg,
		    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc = apply_one(c, msgs[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int intake_completed_start(struct intake *s)
{
	const char *topics[1] = {TOPIC_VERIFY_COMPLETED};
	struct consumer_opts o = {.pg_dsn = s->cfg->svc.pg_dsn,
				  .brokers = s->cfg->svc.kafka_brokers,
				  .group = s->cfg->consumer_group,
				  .topics = topics,
				  .ntopics = 1,
				  .dlq_topic = TOPIC_DLQ,
				  .producer_name = INTAKE_SOURCE,
				  .apply = apply_cb,
				  .check = check_cb,
				  .arg = s,
				  .metrics = s->metrics};
	s->consumer = consumer_start(&o, s->lg);
	if (!s->consumer)
		return -EIO;
	return service_add_ready_check(s->svc, "consumer", consumer_ready, s->consumer);
}
