/* metering_kafka — consumer construction with a caller-handled rebalance (metering_kafka.h). */
#include "metering/metering_kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct ctx {
	struct log *lg;
	mt_kafka_parts_fn on_assign, on_revoke;
	void *opaque;
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct ctx *x = rd_kafka_opaque(rk);
	enum log_level l = level <= 3	? LOG_LEVEL_ERROR
			   : level <= 4 ? LOG_LEVEL_WARN
			   : level <= 6 ? LOG_LEVEL_INFO
					: LOG_LEVEL_DEBUG;
	log_write(x->lg, l, "librdkafka", LF_S("facility", fac), LF_S("detail", buf),
		  LF_S("client", rd_kafka_name(rk)), LOG_END);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ctx *x = opaque;
	log_warn(x->lg, "kafka client error", LF_S("error", rd_kafka_err2name(err)),
		 LF_S("detail", reason), LOG_END);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ctx *x = opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		x->on_assign(rk, parts, x->opaque);
	else
		x->on_revoke(rk, parts, x->opaque);
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	return rd_kafka_conf_set(c, k, v, err, errlen) == RD_KAFKA_CONF_OK ? 0 : -EINVAL;
}

rd_kafka_t *mt_kafka_consumer_new(const char *brokers, const char *group, const char *instance_id,
				  struct log *lg, mt_kafka_parts_fn on_assign,
				  mt_kafka_parts_fn on_revoke, void *opaque, char *err,
				  size_t errlen)
{
	static const char *const kv[][2] = {
		{"socket.keepalive.enable", "true"},
		{"reconnect.backoff.max.ms", "2000"},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", "earliest"},
		{"enable.partition.eof", "false"},
		{"session.timeout.ms", "10000"},
		{"heartbeat.interval.ms", "1000"},
		{"max.poll.interval.ms", "300000"},
		{"fetch.wait.max.ms", "50"},
		{"topic.metadata.refresh.interval.ms", "10000"},
	};
	struct ctx *x = calloc(1, sizeof(*x));
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!x || !c) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*x = (struct ctx){lg, on_assign, on_revoke, opaque};
	rd_kafka_conf_set_opaque(c, x);
	rd_kafka_conf_set_log_cb(c, log_cb);
	rd_kafka_conf_set_error_cb(c, error_cb);
	rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
	if (set(c, "bootstrap.servers", brokers, err, errlen) < 0 ||
	    set(c, "client.id", group, err, errlen) < 0 ||
	    set(c, "group.id", group, err, errlen) < 0 ||
	    (instance_id && *instance_id &&
	     set(c, "group.instance.id", instance_id, err, errlen) < 0))
		goto fail;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (set(c, kv[i][0], kv[i][1], err, errlen) < 0)
			goto fail;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, errlen);
	if (!rk)
		goto fail;
	rd_kafka_poll_set_consumer(rk);
	return rk; /* the conf belongs to rk now */
fail:
	if (c)
		rd_kafka_conf_destroy(c);
	free(x);
	return NULL;
}

void mt_kafka_consumer_free(rd_kafka_t *rk)
{
	if (!rk)
		return;
	struct ctx *x = rd_kafka_opaque(rk);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(x);
}
