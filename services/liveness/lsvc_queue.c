/* lsvc_queue — the consumer side of shiren-liveness: shiren.liveness.jobs.v1 through the common
 * inbox consumer. Each new job becomes a row of liveness_jobs in the same transaction as its
 * inbox row, and the transaction NOTIFYs the workers (a notification is delivered only if the
 * transaction commits). The consumer thread does no image work, so it never holds a batch
 * while the engine runs; the durable row is the hand-off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/consumer.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "liveness/lsvc.h"
#include "liveness/lsvc_job.h"
#include "shiren/v1/verify.pb-c.h"

static const char SQL_KNOWN[] = "SELECT 1 FROM verifications WHERE certify_id = $1 AND "
				"tenant_id = $2::uuid";

static const char SQL_INSERT[] =
	"INSERT INTO liveness_jobs (certify_id, action, tenant_id, message_id, trace_id, "
	"synchronous, deadline_ms, payload) VALUES ($1, $2, $3::uuid, $4, $5, $6::boolean, "
	"$7::bigint, $8) ON CONFLICT (certify_id, action) DO NOTHING RETURNING id";

static int check_cb(const struct consumer_msg *m, void *arg, char *err, size_t errlen)
{
	const struct lsvc *s = arg;
	Shiren__V1__LivenessJob *j = shiren__v1__liveness_job__unpack(NULL, m->len, m->payload);
	if (!j) {
		snprintf(err, errlen, "not a LivenessJob message");
		return -EBADMSG;
	}
	int rc = lsvc_job_check(j, m->env.tenant_id, s->cfg->max_images, err, errlen);
	shiren__v1__liveness_job__free_unpacked(j, NULL);
	return rc;
}

/* Inserts one job. *ret_state: 1 inserted, 0 already there, -1 unknown verification. */
static int insert_one(PGconn *c, struct lsvc *s, const struct consumer_msg *m, int *ret_state,
		      char *err, size_t errlen)
{
	Shiren__V1__LivenessJob *j = shiren__v1__liveness_job__unpack(NULL, m->len, m->payload);
	PGresult *res = NULL;
	int rc;
	*ret_state = 0;
	if (!j) { /* checked before the transaction: cannot happen */
		snprintf(err, errlen, "not a LivenessJob message");
		return -EBADMSG;
	}
	const char *kp[2] = {j->certify_id, m->env.tenant_id};
	rc = pg_exec(c, SQL_KNOWN, 2, kp, &res, err, errlen);
	if (rc < 0)
		goto out;
	if (PQntuples(res) == 0) {
		*ret_state = -1;
		goto out;
	}
	PQclear(res);
	res = NULL;
	int64_t deadline = j->deadline_ms;
	if (deadline <= 0)
		deadline = m->env.produced_at_ms + s->cfg->default_timeout_ms;
	char dl[24];
	snprintf(dl, sizeof(dl), "%lld", (long long)deadline);
	const char *p[8] = {j->certify_id,
			    j->action,
			    m->env.tenant_id,
			    m->env.message_id,
			    m->env.trace_id,
			    j->synchronous ? "true" : "false",
			    dl,
			    (const char *)m->payload};
	int len[8] = {0, 0, 0, 0, 0, 0, 0, (int)m->len};
	int fmt[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	rc = pg_execb(c, SQL_INSERT, 8, p, len, fmt, &res, err, errlen);
	if (rc == 0)
		*ret_state = PQntuples(res) == 1 ? 1 : 0;
out:
	PQclear(res);
	shiren__v1__liveness_job__free_unpacked(j, NULL);
	return rc;
}

static int apply_cb(PGconn *c, const struct consumer_msg *const *msgs, size_t n, void *arg,
		    char *err, size_t errlen)
{
	struct lsvc *s = arg;
	size_t inserted = 0, unknown = 0;
	for (size_t i = 0; i < n; i++) {
		int state, rc = insert_one(c, s, msgs[i], &state, err, errlen);
		if (rc < 0)
			return rc;
		if (state == 1)
			inserted++;
		else if (state < 0) {
			char key[LSVC_CERTIFY_ID_LEN + 1] = "";
			size_t kl = msgs[i]->keylen < LSVC_CERTIFY_ID_LEN ? msgs[i]->keylen
									  : LSVC_CERTIFY_ID_LEN;
			if (msgs[i]->key)
				memcpy(key, msgs[i]->key, kl);
			key[kl] = '\0';
			unknown++;
			/* A job is published only after intake committed its verification, so this
			 * is another deployment's message on a shared topic (or a restored database):
			 * nothing here can be computed. */
			log_warn(s->lg,
				 "job for a verification this database does not have; skipped",
				 LF_S("certify_id", key),
				 LF_S("message_id", msgs[i]->env.message_id),
				 LF_S("tenant", msgs[i]->env.tenant_id),
				 LF_S("topic", msgs[i]->topic),
				 LF_I("partition", msgs[i]->partition),
				 LF_I("offset", msgs[i]->offset), LOG_END);
		}
	}
	if (inserted > 0) {
		int rc = pg_exec(c, "SELECT pg_notify('" LSVC_JOBS_CHANNEL "', '')", 0, NULL, NULL,
				 err, errlen);
		if (rc < 0)
			return rc;
	}
	metrics_counter_add(s->m.jobs_queued, inserted);
	metrics_counter_add(s->m.jobs_unknown, unknown);
	return 0;
}

int lsvc_queue_start(struct lsvc *s)
{
	const char *topics[1] = {TOPIC_LIVENESS_JOBS};
	struct consumer_opts o = {.pg_dsn = s->cfg->svc.pg_dsn,
				  .brokers = s->cfg->svc.kafka_brokers,
				  .group = s->cfg->consumer_group,
				  .topics = topics,
				  .ntopics = 1,
				  .dlq_topic = TOPIC_DLQ,
				  .producer_name = LSVC_SOURCE,
				  .apply = apply_cb,
				  .check = check_cb,
				  .arg = s,
				  .metrics = s->metrics};
	s->consumer = consumer_start(&o, s->lg);
	if (!s->consumer)
		return -EIO;
	return service_add_ready_check(s->svc, "consumer", consumer_ready, s->consumer);
}

void lsvc_queue_stop(struct lsvc *s)
{
	consumer_stop(s->consumer);
	s->consumer = NULL;
}
