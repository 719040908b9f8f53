/* metering_consumer — the metering thread: Kafka batches into exactly-once transactions, seeks
 * from PostgreSQL on assignment, admin work between batches (metering_consumer.h). */
#include "metering/metering_consumer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/service.h"
#include "metering/metering_admin.h"
#include "metering/metering_kafka.h"

#define NOTIFY_CHANNEL	 "shiren_metering"
#define LADDER_RELOAD_MS 60000
#define CMD_POLL_MS	 5000
#define SWEEP_MAX	 500
/* Commands applied between two batches: bounded so a burst of top-ups cannot hold back
 * usage for long (each is its own transaction, a few ms). */
#define CMDS_PER_ROUND 10
#define SLOW_MS	       500 /* log batches and housekeeping rounds slower than this */

struct mt_consumer {
	struct mt_consumer_opts o;
	struct log *lg;
	pthread_t thread;
	atomic_bool stop, ready;

	PGconn *pg;
	rd_kafka_t *rk;
	bool subscribed;
	struct mt_txn *txn;
	struct mt_admin *admin;
	struct mt_msg *msgs;
	rd_kafka_message_t **rkm;
	int64_t last_sweep, last_ladders, last_cmds;
	bool cmd_pending;

	struct metric *m_out[5], *m_alerts, *m_batch, *m_visible, *m_fail;
	char last_err[512]; /* of the last failed transaction */
};

/* ---- PostgreSQL ---- */

static void pg_drop(struct mt_consumer *c)
{
	atomic_store(&c->ready, false);
	PQfinish(c->pg);
	c->pg = NULL;
}

static int pg_setup(struct mt_consumer *c, char *err, size_t errlen)
{
	int rc = pg_exec(c->pg,
			 c->o.sync_commit ? "SET synchronous_commit = on"
					  : "SET synchronous_commit = off",
			 0, NULL, NULL, err, errlen);
	/* The batch statements probe indexes of tables that are hot in memory. */
	if (rc == 0)
		rc = pg_exec(c->pg, "SET random_page_cost = 1.1", 0, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = pg_exec(c->pg, "LISTEN " NOTIFY_CHANNEL, 0, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = mt_txn_load_ladders(c->txn, c->pg, err, errlen);
	return rc;
}

/* Connect with backoff until connected or stopping. 0 or -ESHUTDOWN. */
static int pg_ensure(struct mt_consumer *c)
{
	long backoff = 100;
	char err[512];
	while (!c->pg && !atomic_load(&c->stop)) {
		if (pg_connect(c->o.pg_dsn, "shiren-metering-apply", &c->pg, err, sizeof(err)) ==
			    0 &&
		    pg_setup(c, err, sizeof(err)) == 0) {
			c->last_ladders = clock_mono_ms();
			c->cmd_pending = true;
			atomic_store(&c->ready, c->subscribed);
			return 0;
		}
		pg_drop(c);
		log_warn(c->lg, "metering cannot use postgresql; retrying", LF_S("error", err),
			 LF_I("backoff_ms", backoff), LOG_END);
		clock_nap_ms(&c->stop, backoff);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	return c->pg ? 0 : -ESHUTDOWN;
}

static bool conn_lost(struct mt_consumer *c, int rc)
{
	return rc == -ECONNRESET || !c->pg || PQstatus(c->pg) == CONNECTION_BAD;
}

/* ---- Kafka: seek to PostgreSQL's offsets on assignment ---- */

/* Rebalance callback (runs inside rd_kafka_consumer_poll on this thread). */
static void on_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct mt_consumer *c = opaque;
	int64_t next[MT_KAFKA_MAX_PARTITIONS];
	char err[512];
	bool ok = false;
	struct mt_store st;
	for (int attempt = 0; attempt < 20 && !ok; attempt++) {
		if (pg_ensure(c) < 0)
			break;
		mt_store_init(&st, c->pg);
		ok = mt_store_offsets_all(&st, c->o.txn.topic, next, MT_KAFKA_MAX_PARTITIONS, err,
					  sizeof(err)) == 0;
		mt_store_free(&st);
		if (!ok) {
			log_warn(c->lg, "cannot read stored offsets; retrying", LF_S("error", err),
				 LOG_END);
			pg_drop(c);
			clock_nap_ms(&c->stop, 250);
		}
	}
	/* Without stored offsets, the beginning is the safe position: whatever was applied is
	 * skipped by the transaction's offset check. */
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int32_t part = p->partition;
		bool known = ok && part >= 0 && part < MT_KAFKA_MAX_PARTITIONS && next[part] >= 0;
		p->offset = known ? next[part] : RD_KAFKA_OFFSET_BEGINNING;
		log_info(c->lg, "partition assigned", LF_S("topic", p->topic),
			 LF_I("partition", part), LF_I("offset", known ? next[part] : -2),
			 LF_B("from_postgres", known), LOG_END);
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
	if (e)
		log_error(c->lg, "assign failed", LF_S("error", rd_kafka_err2str(e)), LOG_END);
}

static void on_revoke(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct mt_consumer *c = opaque;
	log_info(c->lg, "partitions revoked", LF_I("count", parts->cnt), LOG_END);
	(void)rd_kafka_assign(rk, NULL);
}

static int subscribe(struct mt_consumer *c)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, c->o.txn.topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		log_error(c->lg, "subscribe failed", LF_S("error", rd_kafka_err2str(e)), LOG_END);
		return -EIO;
	}
	c->subscribed = true;
	atomic_store(&c->ready, c->pg != NULL);
	log_info(c->lg, "metering subscribed", LF_S("topic", c->o.txn.topic),
		 LF_S("group", c->o.txn.group), LOG_END);
	return 0;
}

/* Poll up to batch_max messages: wait up to 100 ms for the first, then up to linger_ms. */
static size_t collect(struct mt_consumer *c)
{
	size_t n = 0;
	int64_t deadline = 0;
	while (n < (size_t)c->o.batch_max && !atomic_load(&c->stop)) {
		int wait = 100;
		if (n) {
			int64_t left = deadline - clock_mono_ms();
			wait = left > 0 ? (int)left : 0;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait);
		if (!m) {
			if (!n || wait == 0)
				break;
			continue;
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn(c->lg, "consume error",
					 LF_S("error", rd_kafka_message_errstr(m)), LOG_END);
			rd_kafka_message_destroy(m);
			continue;
		}
		struct mt_msg *x = &c->msgs[n];
		memset(x, 0, sizeof(*x));
		x->partition = m->partition;
		x->offset = m->offset;
		x->ts_ms = rd_kafka_message_timestamp(m, NULL);
		x->key = m->key;
		x->keylen = m->key_len;
		x->payload = m->payload;
		x->len = m->len;
		c->rkm[n++] = m;
		if (n == 1)
			deadline = clock_mono_ms() + c->o.linger_ms;
	}
	return n;
}

/* ---- one batch ---- */

static void commit_kafka(struct mt_consumer *c, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
	for (size_t i = 0; i < n; i++) {
		const struct mt_msg *m = &c->msgs[i];
		rd_kafka_topic_partition_t *p =
			rd_kafka_topic_partition_list_find(l, c->o.txn.topic, m->partition);
		if (!p)
			p = rd_kafka_topic_partition_list_add(l, c->o.txn.topic, m->partition);
		if (m->offset + 1 > p->offset)
			p->offset = m->offset + 1;
	}
	/* Only for lag monitoring: the position of record is in PostgreSQL. */
	(void)rd_kafka_commit(c->rk, l, 1);
	rd_kafka_topic_partition_list_destroy(l);
}

static void observe(struct mt_consumer *c, size_t n, const struct mt_txn_stats *st, int64_t t0_ms)
{
	int64_t now = envelope_now_ms();
	metrics_counter_add(c->m_out[0], st->applied);
	metrics_counter_add(c->m_out[1], st->duplicates);
	metrics_counter_add(c->m_out[2], st->non_billable);
	metrics_counter_add(c->m_out[3], st->rejected);
	metrics_counter_add(c->m_out[4], st->skipped_msgs);
	metrics_counter_add(c->m_alerts, st->alerts);
	metrics_histogram_observe(c->m_batch, (double)(clock_mono_ms() - t0_ms) / 1000.0);
	for (size_t i = 0; i < n; i++) {
		const struct mt_msg *m = &c->msgs[i];
		if ((m->outcome == MT_OUT_APPLIED || m->outcome == MT_OUT_NON_BILLABLE) &&
		    m->ev.ingest_ms > 0)
			metrics_histogram_observe(c->m_visible,
						  (double)(now - m->ev.ingest_ms) / 1000.0);
	}
	if (st->skipped_offsets)
		log_warn(c->lg, "offsets missing from the topic (retention?)",
			 LF_I("skipped", st->skipped_offsets), LOG_END);
	int64_t oldest = 0;
	for (size_t i = 0; i < n; i++)
		if (c->msgs[i].ts_ms > 0 && (!oldest || c->msgs[i].ts_ms < oldest))
			oldest = c->msgs[i].ts_ms;
	log_debug(c->lg, "batch applied", LF_I("messages", n), LF_I("applied", st->applied),
		  LF_I("age_ms", oldest ? envelope_now_ms() - oldest : -1),
		  LF_I("txn_ms", clock_mono_ms() - t0_ms), LF_I("duplicates", st->duplicates),
		  LF_I("non_billable", st->non_billable), LF_I("rejected", st->rejected),
		  LF_I("alerts", st->alerts), LOG_END);
}

/* Run msgs[0..n) in one transaction, retrying: reconnect on a lost connection (not counted),
 * up to 3 attempts otherwise. 0, -ESHUTDOWN, or the last error. */
static int run_txn(struct mt_consumer *c, struct mt_msg *msgs, size_t n, struct mt_txn_stats *st)
{
	char err[512];
	int attempts = 0, rc = 0;
	while (!atomic_load(&c->stop)) {
		if (pg_ensure(c) < 0)
			return -ESHUTDOWN;
		(void)snprintf(err, sizeof(err), "%s", "unknown error");
		rc = mt_txn_run(c->txn, c->pg, msgs, n, st, err, sizeof(err));
		if (rc == 0)
			return 0;
		metrics_counter_add(c->m_fail, 1);
		(void)snprintf(c->last_err, sizeof(c->last_err), "%s", err);
		log_warn(c->lg, "metering transaction failed", LF_S("error", err),
			 LF_I("messages", n), LF_I("partition", msgs[0].partition),
			 LF_I("offset", msgs[0].offset), LOG_END);
		if (conn_lost(c, rc)) {
			pg_drop(c);
			continue;
		}
		if (++attempts >= 3)
			return rc;
		clock_nap_ms(&c->stop, 100L << attempts);
	}
	return -ESHUTDOWN;
}

/* A batch that keeps failing: one message at a time, and a message that fails alone because of
 * what it holds is rejected ("apply") so the partition moves on. A failure that is not the
 * message's is retried until it goes away (or shutdown): the partition waits, nothing is
 * dead-lettered for it. */
static int run_one_by_one(struct mt_consumer *c, size_t n, struct mt_txn_stats *total)
{
	memset(total, 0, sizeof(*total));
	for (size_t i = 0; i < n; i++) {
		struct mt_txn_stats st;
		int rc = run_txn(c, &c->msgs[i], 1, &st);
		while (rc < 0 && rc != -ESHUTDOWN && !mt_failure_is_message(rc, c->last_err)) {
			/* Not ready while stuck: the operator sees it on /readyz, not only here. */
			atomic_store(&c->ready, false);
			log_error(c->lg,
				  "metering is stuck on a failure that is not the message's; "
				  "retrying",
				  LF_S("error", c->last_err),
				  LF_I("partition", c->msgs[i].partition),
				  LF_I("offset", c->msgs[i].offset), LOG_END);
			clock_nap_ms(&c->stop, 2000);
			rc = run_txn(c, &c->msgs[i], 1, &st);
			if (rc == 0)
				atomic_store(&c->ready, c->subscribed && c->pg != NULL);
		}
		if (rc == -ESHUTDOWN)
			return rc;
		if (rc < 0) {
			c->msgs[i].bad = true;
			c->msgs[i].reason = "apply";
			(void)snprintf(c->msgs[i].err, sizeof(c->msgs[i].err),
				       "the transaction failed repeatedly (%s)", strerror(-rc));
			while ((rc = run_txn(c, &c->msgs[i], 1, &st)) < 0)
				if (rc == -ESHUTDOWN)
					return rc;
		}
		total->applied += st.applied;
		total->duplicates += st.duplicates;
		total->non_billable += st.non_billable;
		total->rejected += st.rejected;
		total->skipped_msgs += st.skipped_msgs;
		total->alerts += st.alerts;
		total->skipped_offsets += st.skipped_offsets;
	}
	return 0;
}

static void process_batch(struct mt_consumer *c, size_t n)
{
	struct mt_txn_stats st;
	int64_t t0 = clock_mono_ms();
	for (size_t i = 0; i < n; i++)
		mt_txn_decode(&c->o.txn, &c->msgs[i]);
	int rc = run_txn(c, c->msgs, n, &st);
	if (rc < 0 && rc != -ESHUTDOWN)
		rc = run_one_by_one(c, n, &st);
	if (rc == 0) {
		commit_kafka(c, n);
		observe(c, n, &st, t0);
	}
	int64_t took = clock_mono_ms() - t0;
	if (took >= SLOW_MS)
		log_warn(c->lg, "slow metering batch", LF_I("ms", took), LF_I("messages", n),
			 LF_I("alerts", st.alerts), LOG_END);
	for (size_t i = 0; i < n; i++)
		rd_kafka_message_destroy(c->rkm[i]);
}

/* ---- between batches ---- */

static void drain_notifies(struct mt_consumer *c)
{
	PGnotify *nt;
	if (!c->pg || !PQconsumeInput(c->pg))
		return;
	while ((nt = PQnotifies(c->pg))) {
		if (strcmp(nt->extra, "ladders") == 0)
			c->last_ladders = 0;
		else
			c->cmd_pending = true;
		PQfreemem(nt);
	}
}

static void housekeeping(struct mt_consumer *c)
{
	char err[512] = "";
	int64_t now = clock_mono_ms();
	size_t n = 0;
	int32_t closed;
	int rc = 0;
	drain_notifies(c);
	if (c->pg && now - c->last_ladders >= LADDER_RELOAD_MS) {
		rc = mt_txn_load_ladders(c->txn, c->pg, err, sizeof(err));
		c->last_ladders = now;
	}
	if (rc == 0 && c->pg && (c->cmd_pending || now - c->last_cmds >= CMD_POLL_MS)) {
		rc = mt_admin_commands(c->admin, c->pg, CMDS_PER_ROUND, &n, err, sizeof(err));
		c->cmd_pending = rc == 0 && n == CMDS_PER_ROUND; /* more may wait */
		c->last_cmds = now;
	}
	if (rc == 0 && c->pg && now - c->last_sweep >= c->o.sweep_ms) {
		c->last_sweep = now;
		rc = mt_admin_sweep(c->admin, c->pg, envelope_now_ms(), SWEEP_MAX, &n, err,
				    sizeof(err));
		if (rc == 0)
			rc = mt_admin_close_periods(c->admin, c->pg, envelope_now_ms(), &closed,
						    err, sizeof(err));
	}
	if (rc < 0) {
		log_warn(c->lg, "metering housekeeping failed", LF_S("error", err), LOG_END);
		if (conn_lost(c, rc))
			pg_drop(c);
	}
	if (clock_mono_ms() - now >= SLOW_MS)
		log_warn(c->lg, "slow metering housekeeping", LF_I("ms", clock_mono_ms() - now),
			 LOG_END);
}

/* Every pending command, before consuming starts. */
static void drain_commands(struct mt_consumer *c)
{
	char err[512] = "";
	size_t n = 0;
	int rc;
	while ((rc = mt_admin_commands(c->admin, c->pg, 100, &n, err, sizeof(err))) == 0 &&
	       n == 100 && !atomic_load(&c->stop))
		;
	if (rc < 0) {
		log_warn(c->lg, "metering commands failed", LF_S("error", err), LOG_END);
		if (conn_lost(c, rc))
			pg_drop(c);
	}
	c->last_cmds = clock_mono_ms();
	c->cmd_pending = false;
}

static void *consumer_main(void *arg)
{
	struct mt_consumer *c = arg;
	c->last_sweep = clock_mono_ms(); /* the first sweep one interval after start */
	while (!atomic_load(&c->stop)) {
		if (pg_ensure(c) < 0)
			break;
		if (!c->subscribed) {
			/* Commands queued while the service was down (top-ups) are applied before
			 * the first event, as they were issued. */
			drain_commands(c);
			if (!service_infra_ready(c->o.svc) || subscribe(c) < 0) {
				clock_nap_ms(&c->stop, 200);
				continue;
			}
		}
		size_t n = collect(c);
		if (n)
			process_batch(c, n);
		housekeeping(c);
	}
	atomic_store(&c->ready, false);
	mt_kafka_consumer_free(c->rk);
	c->rk = NULL;
	PQfinish(c->pg);
	c->pg = NULL;
	return NULL;
}

static void register_metrics(struct mt_consumer *c)
{
	static const char *const outs[] = {"applied", "duplicate", "non_billable", "rejected",
					   "skipped"};
	static const double vis[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5,
				     0.75,  1,	  1.5,	 2,    3,   5,	 10};
	struct metrics *m = c->o.metrics;
	char lb[64];
	for (size_t i = 0; i < 5; i++) {
		(void)snprintf(lb, sizeof(lb), "outcome=\"%s\"", outs[i]);
		c->m_out[i] = metrics_counter(m, "shiren_metering_messages_total",
					      "Usage messages by outcome", lb);
	}
	c->m_alerts = metrics_counter(m, "shiren_metering_alerts_total",
				      "Quota alerts written to the outbox", NULL);
	c->m_fail = metrics_counter(m, "shiren_metering_txn_failures_total",
				    "Apply transactions that failed (retried)", NULL);
	c->m_batch = metrics_histogram(m, "shiren_metering_batch_seconds",
				       "Time to apply and commit one batch", NULL,
				       metrics_latency_bounds, metrics_latency_nbounds);
	c->m_visible = metrics_histogram(m, "shiren_metering_visible_seconds",
					 "Usage event ingest to balance committed", NULL, vis,
					 sizeof(vis) / sizeof(vis[0]));
}

static void consumer_free(struct mt_consumer *c)
{
	mt_kafka_consumer_free(c->rk);
	PQfinish(c->pg);
	mt_admin_free(c->admin);
	mt_txn_free(c->txn);
	free(c->msgs);
	free(c->rkm);
	free(c);
}

struct mt_consumer *mt_consumer_start(const struct mt_consumer_opts *o, struct log *lg)
{
	struct mt_consumer *c = calloc(1, sizeof(*c));
	char err[512] = "out of memory";
	if (!c)
		return NULL;
	c->o = *o;
	c->lg = lg;
	c->msgs = calloc((size_t)o->batch_max, sizeof(*c->msgs));
	c->rkm = calloc((size_t)o->batch_max, sizeof(*c->rkm));
	c->txn = mt_txn_new(&c->o.txn);
	if (!c->msgs || !c->rkm || !c->txn)
		goto fail;
	c->admin = mt_admin_new(&c->o.txn, mt_txn_ladders(c->txn), o->refund_window_ms);
	if (!c->admin)
		goto fail;
	register_metrics(c);
	c->rk = mt_kafka_consumer_new(o->brokers, o->txn.group, o->instance_id, lg, on_assign,
				      on_revoke, c, err, sizeof(err));
	if (!c->rk)
		goto fail;
	if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
		(void)snprintf(err, sizeof(err), "cannot start the thread");
		goto fail;
	}
	return c;
fail:
	log_error(lg, "metering consumer cannot start", LF_S("error", err), LOG_END);
	consumer_free(c);
	return NULL;
}

bool mt_consumer_ready(struct mt_consumer *c)
{
	return atomic_load(&c->ready);
}

void mt_consumer_stop(struct mt_consumer *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	consumer_free(c);
}
