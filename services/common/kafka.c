/* kafka — producer/consumer construction, delivery-report dispatch, log routing, topic
 * creation (kafka.h). */
#include "common/kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct log *lg = rd_kafka_opaque(rk);
	enum log_level l = level <= 3	? LOG_LEVEL_ERROR
			   : level <= 4 ? LOG_LEVEL_WARN
			   : level <= 6 ? LOG_LEVEL_INFO
					: LOG_LEVEL_DEBUG;
	log_write(lg, l, "librdkafka", LF_S("facility", fac), LF_S("detail", buf),
		  LF_S("client", rd_kafka_name(rk)), LOG_END);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct log *lg = opaque;
	log_warn(lg, "kafka client error", LF_S("error", rd_kafka_err2name(err)),
		 LF_S("detail", reason), LOG_END);
}

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_dr *dr = m->_private;
	if (dr && dr->cb)
		dr->cb(dr, m->err, m->partition, m->offset);
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	if (rd_kafka_conf_set(c, k, v, err, errlen) != RD_KAFKA_CONF_OK)
		return -EINVAL;
	return 0;
}

/* The caller's extra properties go last, so they override our defaults. */
static int apply_extra(rd_kafka_conf_t *c, const struct kafka_opts *o, char *err, size_t errlen)
{
	for (const char *const *kv = o->extra; kv && *kv; kv++) {
		char key[128];
		const char *eq = strchr(*kv, '=');
		if (!eq || (size_t)(eq - *kv) >= sizeof(key)) {
			snprintf(err, errlen, "bad kafka property \"%s\" (want key=value)", *kv);
			return -EINVAL;
		}
		memcpy(key, *kv, (size_t)(eq - *kv));
		key[eq - *kv] = '\0';
		if (conf_set(c, key, eq + 1, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static rd_kafka_conf_t *base_conf(const struct kafka_opts *o, struct log *lg, char *err,
				  size_t errlen)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rd_kafka_conf_set_opaque(c, lg);
	rd_kafka_conf_set_log_cb(c, kafka_log_cb);
	rd_kafka_conf_set_error_cb(c, kafka_error_cb);
	if (conf_set(c, "bootstrap.servers", o->brokers, err, errlen) < 0 ||
	    conf_set(c, "client.id", o->client_id ? o->client_id : "shiren", err, errlen) < 0 ||
	    conf_set(c, "socket.keepalive.enable", "true", err, errlen) < 0 ||
	    conf_set(c, "reconnect.backoff.max.ms", "2000", err, errlen) < 0)
		goto fail;
	return c;
fail:
	rd_kafka_conf_destroy(c);
	return NULL;
}

rd_kafka_t *kafka_producer_new(const struct kafka_opts *o, struct log *lg, char *err, size_t errlen)
{
	rd_kafka_conf_t *c = base_conf(o, lg, err, errlen);
	if (!c)
		return NULL;
	char linger[16], timeout[16];
	snprintf(linger, sizeof(linger), "%d", o->linger_ms > 0 ? o->linger_ms : 5);
	snprintf(timeout, sizeof(timeout), "%d",
		 o->message_timeout_ms > 0 ? o->message_timeout_ms : 300000);
	if (conf_set(c, "enable.idempotence", "true", err, errlen) < 0 ||
	    conf_set(c, "acks", "all", err, errlen) < 0 ||
	    conf_set(c, "compression.codec", o->compression ? o->compression : "lz4", err, errlen) <
		    0 ||
	    conf_set(c, "linger.ms", linger, err, errlen) < 0 ||
	    conf_set(c, "message.timeout.ms", timeout, err, errlen) < 0 ||
	    conf_set(c, "queue.buffering.max.messages", "200000", err, errlen) < 0 ||
	    conf_set(c, "queue.buffering.max.kbytes", "262144", err, errlen) < 0 ||
	    apply_extra(c, o, err, errlen) < 0) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(c, kafka_dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, errlen);
	if (!rk)
		rd_kafka_conf_destroy(c);
	return rk; /* on success the conf belongs to rk */
}

static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct log *lg = opaque;
	char list[512];
	size_t off = 0;
	list[0] = '\0';
	for (int i = 0; i < parts->cnt && off < sizeof(list) - 64; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s[%d]", i ? "," : "",
					parts->elems[i].topic, (int)parts->elems[i].partition);
	bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	log_info(lg, assign ? "partitions assigned" : "partitions revoked",
		 LF_S("partitions", list), LOG_END);
	/* Offsets are committed right after each PostgreSQL commit, before the next poll, so
	 * nothing is pending here: revocation just drops the assignment. */
	if (assign)
		rd_kafka_assign(rk, parts);
	else
		rd_kafka_assign(rk, NULL);
}

rd_kafka_t *kafka_consumer_new(const struct kafka_opts *o, const char *group, struct log *lg,
			       char *err, size_t errlen)
{
	rd_kafka_conf_t *c = base_conf(o, lg, err, errlen);
	if (!c)
		return NULL;
	if (conf_set(c, "group.id", group, err, errlen) < 0 ||
	    conf_set(c, "enable.auto.commit", "false", err, errlen) < 0 ||
	    conf_set(c, "enable.auto.offset.store", "false", err, errlen) < 0 ||
	    conf_set(c, "auto.offset.reset", "earliest", err, errlen) < 0 ||
	    conf_set(c, "enable.partition.eof", "false", err, errlen) < 0 ||
	    conf_set(c, "session.timeout.ms", "10000", err, errlen) < 0 ||
	    conf_set(c, "heartbeat.interval.ms", "1000", err, errlen) < 0 ||
	    conf_set(c, "max.poll.interval.ms", "300000", err, errlen) < 0 ||
	    conf_set(c, "fetch.wait.max.ms", "50", err, errlen) < 0 ||
	    apply_extra(c, o, err, errlen) < 0) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(c, kafka_rebalance_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

int kafka_topics_ensure(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
			int replication, int timeout_ms, char *err, size_t errlen)
{
	int rc = -EIO;
	rd_kafka_NewTopic_t **nt = calloc(n, sizeof(*nt));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	if (!nt || !q || !opt) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, err, errlen))
		goto out;
	for (size_t i = 0; i < n; i++) {
		nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, err, errlen);
		if (!nt[i])
			goto out;
	}
	rd_kafka_CreateTopics(rk, nt, n, opt, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (!ev) {
		snprintf(err, errlen, "topic creation timed out after %d ms", timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev)) {
		snprintf(err, errlen, "topic creation failed: %s", rd_kafka_event_error_string(ev));
		goto out;
	}
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	size_t cnt = 0;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			snprintf(err, errlen, "topic %s: %s", rd_kafka_topic_result_name(tr[i]),
				 rd_kafka_topic_result_error_string(tr[i]));
			goto out;
		}
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	for (size_t i = 0; nt && i < n; i++)
		if (nt[i])
			rd_kafka_NewTopic_destroy(nt[i]);
	free(nt);
	if (opt)
		rd_kafka_AdminOptions_destroy(opt);
	if (q)
		rd_kafka_queue_destroy(q);
	return rc;
}

void kafka_warm(rd_kafka_t *rk, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
		rd_kafka_metadata_destroy(md);
}

bool kafka_broker_up(rd_kafka_t *rk, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	bool up = md->broker_cnt > 0;
	rd_kafka_metadata_destroy(md);
	return up;
}
