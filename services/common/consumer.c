/* consumer — inbox-deduplicated Kafka consumer thread with dead-lettering (consumer.h). */
#include "common/clock.h"
#include "common/consumer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "shiren/v1/envelope.pb-c.h"

struct consumer {
	char *dsn, *brokers, *group, *dlq_topic, *producer_name;
	char **topics;
	size_t ntopics;
	int batch_max, max_attempts, backoff_ms;
	consumer_apply_fn apply;
	consumer_check_fn check;
	void *arg;
	struct metrics *metrics;
	struct log *lg;
	char **extra;

	pthread_t thread;
	atomic_bool stop, ready;
	atomic_uint_fast64_t applied, dups, dead;

	PGconn *pg;
	rd_kafka_t *rk;	 /* consumer */
	rd_kafka_t *dlq; /* producer for dead letters */
	struct metric *m_applied, *m_dups, *m_dead, *m_batch;
};

/* One message of a batch and what happened to it. */
struct item {
	rd_kafka_message_t *rkm;
	struct consumer_msg msg;
	bool bad; /* goes to the DLQ */
	const char *reason;
	char err[256];
	int attempts;
};

/* ---- inbox ---- */

static char *ids_array_literal(const char *const *ids, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += strlen(ids[i]) * 2 + 3;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t o = 0;
	s[o++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			s[o++] = ',';
		s[o++] = '"';
		for (const char *p = ids[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				s[o++] = '\\';
			s[o++] = *p;
		}
		s[o++] = '"';
	}
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

int inbox_claim(PGconn *c, const char *consumer, const char *const *ids, size_t n, int status,
		bool *ret_new, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		ret_new[i] = false;
	if (n == 0)
		return 0;
	char *arr = ids_array_literal(ids, n);
	if (!arr) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char st[4];
	snprintf(st, sizeof(st), "%d", status);
	const char *p[3] = {consumer, arr, st};
	PGresult *res = NULL;
	int rc = pg_exec(c,
			 "INSERT INTO inbox (consumer, message_id, status) "
			 "SELECT $1, unnest($2::text[]), $3::smallint "
			 "ON CONFLICT DO NOTHING RETURNING message_id",
			 3, p, &res, err, errlen);
	free(arr);
	if (rc < 0)
		return rc;
	/* Each returned id marks its first occurrence in `ids` as new. Batches are a few hundred
	 * ids, so a scan per returned row is cheap next to the round trip. */
	int rows = PQntuples(res);
	for (int r = 0; r < rows; r++) {
		const char *id = PQgetvalue(res, r, 0);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ids[i], id) == 0) {
				ret_new[i] = true;
				break;
			}
		}
	}
	PQclear(res);
	return 0;
}

/* ---- batch processing ---- */

/* Apply `n` items in one transaction. 0, or negative with err. */
static int apply_txn(struct consumer *c, struct item **items, size_t n, char *err, size_t errlen)
{
	const char **ids = calloc(n, sizeof(*ids));
	bool *fresh = calloc(n, sizeof(*fresh));
	const struct consumer_msg **msgs = calloc(n, sizeof(*msgs));
	int rc = -ENOMEM;
	if (!ids || !fresh || !msgs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = items[i]->msg.env.message_id;
	rc = pg_begin(c->pg, err, errlen);
	if (rc < 0)
		goto out;
	rc = inbox_claim(c->pg, c->group, ids, n, 0, fresh, err, errlen);
	if (rc < 0)
		goto rollback;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (fresh[i])
			msgs[k++] = &items[i]->msg;
	if (k > 0) {
		rc = c->apply(c->pg, msgs, k, c->arg, err, errlen);
		if (rc < 0)
			goto rollback;
	}
	rc = pg_commit(c->pg, err, errlen);
	if (rc < 0)
		goto out;
	atomic_fetch_add(&c->applied, k);
	atomic_fetch_add(&c->dups, n - k);
	metrics_counter_add(c->m_applied, k);
	metrics_counter_add(c->m_dups, n - k);
	goto out;
rollback:
	pg_rollback(c->pg);
out:
	free(ids);
	free(fresh);
	free(msgs);
	return rc;
}

static bool conn_lost(struct consumer *c, int rc)
{
	return rc == -ECONNRESET || PQstatus(c->pg) == CONNECTION_BAD;
}

static int pg_ensure(struct consumer *c)
{
	long backoff = 100;
	char err[512];
	while (!c->pg && !atomic_load(&c->stop)) {
		if (pg_connect(c->dsn, c->group, &c->pg, err, sizeof(err)) == 0) {
			atomic_store(&c->ready, true);
			return 0;
		}
		atomic_store(&c->ready, false);
		log_warn(c->lg, "consumer cannot reach postgresql; retrying", LF_S("error", err),
			 LF_S("group", c->group), LF_I("backoff_ms", backoff), LOG_END);
		clock_nap_ms(&c->stop, backoff);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	return c->pg ? 0 : -ESHUTDOWN;
}

static void pg_drop(struct consumer *c)
{
	atomic_store(&c->ready, false);
	PQfinish(c->pg);
	c->pg = NULL;
}

/* Apply the good items: as one batch; if that fails for a reason other than a lost connection,
 * one by one with bounded retries so a poison message is isolated. -ESHUTDOWN when stopping
 * before the batch could be applied (nothing is committed then). */
static int process_good(struct consumer *c, struct item **good, size_t n)
{
	char err[512];
	for (;;) {
		if (pg_ensure(c) < 0)
			return -ESHUTDOWN;
		int rc = apply_txn(c, good, n, err, sizeof(err));
		if (rc == 0)
			return 0;
		if (!conn_lost(c, rc) && !pg_err_retryable(rc, err))
			break;
		log_warn(c->lg, "consumer batch failed; retrying", LF_S("error", err),
			 LF_S("group", c->group), LOG_END);
		if (conn_lost(c, rc))
			pg_drop(c);
		clock_nap_ms(&c->stop, c->backoff_ms);
		if (atomic_load(&c->stop))
			return -ESHUTDOWN;
	}
	for (size_t i = 0; i < n; i++) {
		struct item *it = good[i];
		long backoff = c->backoff_ms;
		/* A copy of an earlier message of this batch (the relay re-published it) shares
		 * its fate: applied once through the inbox, or dead-lettered once. */
		bool copy = false;
		for (size_t j = 0; j < i && !copy; j++)
			copy = strcmp(good[j]->msg.env.message_id, it->msg.env.message_id) == 0;
		if (copy)
			continue;
		while (it->attempts < c->max_attempts) {
			if (pg_ensure(c) < 0)
				return -ESHUTDOWN;
			int rc = apply_txn(c, &it, 1, it->err, sizeof(it->err));
			if (rc == 0)
				break;
			if (conn_lost(c, rc)) {
				pg_drop(c);
				continue; /* not the message's fault: no attempt counted */
			}
			it->attempts++;
			log_warn(c->lg, "message apply failed", LF_S("error", it->err),
				 LF_S("message_id", it->msg.env.message_id),
				 LF_S("topic", it->msg.topic), LF_I("partition", it->msg.partition),
				 LF_I("offset", it->msg.offset), LF_I("attempt", it->attempts),
				 LOG_END);
			if (it->attempts < c->max_attempts)
				clock_nap_ms(&c->stop, backoff);
			backoff *= 2;
			if (atomic_load(&c->stop))
				return -ESHUTDOWN;
		}
		if (it->attempts >= c->max_attempts) {
			it->bad = true;
			it->reason = "apply";
		}
	}
	return 0;
}

static int dlq_produce(struct consumer *c, struct item *it)
{
	Shiren__V1__DeadLetter dl = SHIREN__V1__DEAD_LETTER__INIT;
	Shiren__V1__Envelope env;
	struct envelope_buf eb;
	if (envelope_new(&env, &eb, it->msg.env.tenant_id, it->msg.env.trace_id, c->producer_name) <
	    0)
		return -EIO;
	dl.envelope = &env;
	dl.original_topic = (char *)it->msg.topic;
	dl.original_partition = it->msg.partition;
	dl.original_offset = it->msg.offset;
	dl.original_key.data = (uint8_t *)it->msg.key;
	dl.original_key.len = it->msg.keylen;
	dl.original_payload.data = (uint8_t *)it->msg.payload;
	dl.original_payload.len = it->msg.len;
	dl.consumer_group = c->group;
	dl.reason = (char *)it->reason;
	dl.error = it->err;
	dl.attempts = it->attempts;
	dl.failed_at_ms = envelope_now_ms();
	size_t len = shiren__v1__dead_letter__get_packed_size(&dl);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	shiren__v1__dead_letter__pack(&dl, buf);
	rd_kafka_resp_err_t e = rd_kafka_producev(
		c->dlq, RD_KAFKA_V_TOPIC(c->dlq_topic), RD_KAFKA_V_KEY(it->msg.key, it->msg.keylen),
		RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
		RD_KAFKA_V_END);
	if (e) {
		free(buf);
		return -EIO;
	}
	return 0;
}

/* Publish the bad items to the DLQ, wait for the broker, then record their ids as dead in the
 * inbox so a redelivery skips them. */
static int process_bad(struct consumer *c, struct item *items, size_t n)
{
	size_t nbad = 0;
	for (size_t i = 0; i < n; i++) {
		if (!items[i].bad)
			continue;
		while (dlq_produce(c, &items[i]) < 0) {
			rd_kafka_poll(c->dlq, 100);
			if (atomic_load(&c->stop))
				return -ESHUTDOWN;
		}
		log_warn(c->lg, "message dead-lettered", LF_S("reason", items[i].reason),
			 LF_S("error", items[i].err), LF_S("topic", items[i].msg.topic),
			 LF_I("partition", items[i].msg.partition),
			 LF_I("offset", items[i].msg.offset), LF_S("dlq", c->dlq_topic), LOG_END);
		nbad++;
	}
	if (!nbad)
		return 0;
	while (rd_kafka_flush(c->dlq, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		if (atomic_load(&c->stop))
			return -ESHUTDOWN;
	const char **ids = calloc(nbad, sizeof(*ids));
	bool *fresh = calloc(nbad, sizeof(*fresh));
	size_t k = 0;
	int rc = -ENOMEM;
	if (!ids || !fresh)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (items[i].bad && items[i].msg.env.message_id[0])
			ids[k++] = items[i].msg.env.message_id;
	for (;;) {
		char err[512];
		if (pg_ensure(c) < 0) {
			rc = -ESHUTDOWN;
			goto out;
		}
		rc = inbox_claim(c->pg, c->group, ids, k, 1, fresh, err, sizeof(err));
		if (rc == 0)
			break;
		if (conn_lost(c, rc))
			pg_drop(c);
		clock_nap_ms(&c->stop, c->backoff_ms);
	}
	atomic_fetch_add(&c->dead, nbad);
	metrics_counter_add(c->m_dead, nbad);
out:
	free(ids);
	free(fresh);
	return rc;
}

static void commit_offsets(struct consumer *c, struct item *items, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
			l, items[i].msg.topic, items[i].msg.partition);
		if (!p)
			p = rd_kafka_topic_partition_list_add(l, items[i].msg.topic,
							      items[i].msg.partition);
		if (items[i].msg.offset + 1 > p->offset)
			p->offset = items[i].msg.offset + 1;
	}
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 1);
	if (e)
		log_warn(c->lg, "offset commit failed (messages will be redelivered and skipped)",
			 LF_S("error", rd_kafka_err2str(e)), LOG_END);
	rd_kafka_topic_partition_list_destroy(l);
}

static void classify(struct consumer *c, struct item *it)
{
	rd_kafka_message_t *m = it->rkm;
	it->msg.topic = rd_kafka_topic_name(m->rkt);
	it->msg.partition = m->partition;
	it->msg.offset = m->offset;
	it->msg.key = m->key;
	it->msg.keylen = m->key_len;
	it->msg.payload = m->payload;
	it->msg.len = m->len;
	if (envelope_peek(m->payload, m->len, &it->msg.env) < 0) {
		it->bad = true;
		it->reason = "decode";
		snprintf(it->err, sizeof(it->err),
			 "payload is not a protobuf message with an envelope");
		return;
	}
	if (c->check && c->check(&it->msg, c->arg, it->err, sizeof(it->err)) < 0) {
		it->bad = true;
		it->reason = "invalid";
	}
}

/* Poll up to batch_max messages; the first poll waits briefly. */
static size_t collect(struct consumer *c, struct item *items)
{
	size_t n = 0;
	int wait = 100;
	while (n < (size_t)c->batch_max) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait);
		wait = 0;
		if (!m)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn(c->lg, "consume error",
					 LF_S("error", rd_kafka_message_errstr(m)), LOG_END);
			rd_kafka_message_destroy(m);
			continue;
		}
		memset(&items[n], 0, sizeof(items[n]));
		items[n].rkm = m;
		n++;
	}
	return n;
}

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	struct item *items = calloc((size_t)c->batch_max, sizeof(*items));
	struct item **good = calloc((size_t)c->batch_max, sizeof(*good));
	if (!items || !good) {
		log_error(c->lg, "consumer out of memory", LOG_END);
		goto out;
	}
	while (!atomic_load(&c->stop)) {
		if (pg_ensure(c) < 0)
			break;
		size_t n = collect(c, items);
		if (!n)
			continue;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		size_t ng = 0;
		for (size_t i = 0; i < n; i++) {
			classify(c, &items[i]);
			if (!items[i].bad)
				good[ng++] = &items[i];
		}
		int rc = ng ? process_good(c, good, ng) : 0;
		if (rc == 0)
			rc = process_bad(c, items, n);
		if (rc == 0)
			commit_offsets(c, items, n);
		for (size_t i = 0; i < n; i++)
			rd_kafka_message_destroy(items[i].rkm);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		metrics_histogram_observe(c->m_batch,
					  (double)(t1.tv_sec - t0.tv_sec) +
						  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		if (rc < 0)
			break; /* stopping: uncommitted messages are redelivered to the next owner */
	}
out:
	free(items);
	free(good);
	return NULL;
}

static char **strv_dup(const char *const *v, size_t n)
{
	if (n == (size_t)-1)
		for (n = 0; v && v[n]; n++)
			;
	char **out = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(v[i])))
			return out; /* caller checks via the NULL hole; freed by consumer_free */
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void consumer_free(struct consumer *c)
{
	if (c->rk) {
		rd_kafka_consumer_close(c->rk);
		rd_kafka_destroy(c->rk);
	}
	if (c->dlq) {
		rd_kafka_flush(c->dlq, 5000);
		rd_kafka_destroy(c->dlq);
	}
	PQfinish(c->pg);
	free(c->dsn);
	free(c->brokers);
	free(c->group);
	free(c->dlq_topic);
	free(c->producer_name);
	strv_free(c->topics);
	strv_free(c->extra);
	free(c);
}

static void register_metrics(struct consumer *c)
{
	char lb[256];
	snprintf(lb, sizeof(lb), "group=\"%s\"", c->group);
	c->m_applied = metrics_counter(c->metrics, "shiren_consumer_applied_total",
				       "Messages applied (first delivery)", lb);
	c->m_dups = metrics_counter(c->metrics, "shiren_consumer_duplicates_total",
				    "Redelivered messages skipped by the inbox", lb);
	c->m_dead = metrics_counter(c->metrics, "shiren_consumer_dead_lettered_total",
				    "Messages sent to the dead-letter topic", lb);
	c->m_batch = metrics_histogram(c->metrics, "shiren_consumer_batch_seconds",
				       "Time to apply and commit one batch", lb,
				       metrics_latency_bounds, metrics_latency_nbounds);
}

struct consumer *consumer_start(const struct consumer_opts *o, struct log *lg)
{
	struct consumer *c = calloc(1, sizeof(*c));
	char err[512];
	if (!c)
		return NULL;
	c->dsn = strdup(o->pg_dsn);
	c->brokers = strdup(o->brokers);
	c->group = strdup(o->group);
	c->dlq_topic = strdup(o->dlq_topic ? o->dlq_topic : "shiren.dlq.v1");
	c->producer_name = strdup(o->producer_name ? o->producer_name : o->group);
	c->topics = strv_dup(o->topics, o->ntopics);
	c->ntopics = o->ntopics;
	c->extra = strv_dup(o->kafka_extra, (size_t)-1);
	c->batch_max = o->batch_max > 0 ? o->batch_max : 500;
	c->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
	c->backoff_ms = o->retry_backoff_ms > 0 ? o->retry_backoff_ms : 100;
	c->apply = o->apply;
	c->check = o->check;
	c->arg = o->arg;
	c->metrics = o->metrics;
	c->lg = lg;
	if (!c->dsn || !c->brokers || !c->group || !c->dlq_topic || !c->producer_name ||
	    !c->topics || !c->extra)
		goto fail;
	for (size_t i = 0; i < c->ntopics; i++)
		if (!c->topics[i])
			goto fail;
	register_metrics(c);
	struct kafka_opts ko = {.brokers = c->brokers,
				.client_id = c->group,
				.extra = (const char *const *)c->extra};
	c->rk = kafka_consumer_new(&ko, c->group, lg, err, sizeof(err));
	if (!c->rk)
		goto fail_log;
	c->dlq = kafka_producer_new(&ko, lg, err, sizeof(err));
	if (!c->dlq)
		goto fail_log;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->ntopics);
	for (size_t i = 0; i < c->ntopics; i++)
		rd_kafka_topic_partition_list_add(l, c->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, sizeof(err), "subscribe: %s", rd_kafka_err2str(e));
		goto fail_log;
	}
	if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
		snprintf(err, sizeof(err), "cannot start thread");
		goto fail_log;
	}
	return c;
fail_log:
	log_error(lg, "consumer start failed", LF_S("group", o->group), LF_S("error", err),
		  LOG_END);
fail:
	consumer_free(c);
	return NULL;
}

bool consumer_ready(void *consumer)
{
	struct consumer *c = consumer;
	return atomic_load(&c->ready);
}

void consumer_stats(struct consumer *c, uint64_t *ret_applied, uint64_t *ret_dups,
		    uint64_t *ret_dead)
{
	*ret_applied = atomic_load(&c->applied);
	*ret_dups = atomic_load(&c->dups);
	*ret_dead = atomic_load(&c->dead);
}

void consumer_stop(struct consumer *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	consumer_free(c);
}
