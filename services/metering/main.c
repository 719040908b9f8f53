/* shiren-metering — exactly-once usage metering, prepaid packages, ladder prices and quota alerts.
 * main() only declares the configuration and wires the shared service runtime to the metering
 * thread (metering_consumer) and the balance route (metering_http). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/service.h"
#include "metering/metering_consumer.h"
#include "metering/metering_http.h"

struct metering_cfg {
	struct service_cfg svc;
	char *group, *instance_id, *usage_topic, *alerts_topic, *dlq_topic;
	int64_t batch, linger_ms, grace_hours, trial_calls, max_quantity, max_future_s, sweep_s;
	int64_t refund_days, hysteresis_pct;
	char *alert_percent, *alert_calls, *alert_expiry_days;
	bool sync_commit;
	struct metering_alert_config alerts; /* parsed by validate */
};

#define M(f) offsetof(struct metering_cfg, f)
static const struct cfg_item metering_items[] = {
	SERVICE_CFG_ITEMS(struct metering_cfg, svc, "127.0.0.1:9105"),
	{"SHIREN_METERING_GROUP", CFG_STR, "shiren-metering", 0, 0, false, false, NULL, M(group),
	 "Kafka consumer group (also the dead letters' consumer_group)."},
	{"SHIREN_METERING_INSTANCE_ID", CFG_STR, NULL, 0, 0, false, false, NULL, M(instance_id),
	 "Static group membership id (group.instance.id), unique per instance: a restart takes "
	 "its partitions back at once. Unset: dynamic membership."},
	{"SHIREN_METERING_USAGE_TOPIC", CFG_STR, TOPIC_USAGE, 0, 0, false, false, NULL,
	 M(usage_topic), "Topic of UsageEvent messages consumed."},
	{"SHIREN_METERING_ALERTS_TOPIC", CFG_STR, TOPIC_QUOTA_ALERTS, 0, 0, false, false, NULL,
	 M(alerts_topic), "Topic QuotaAlert messages are published to (through the outbox)."},
	{"SHIREN_METERING_DLQ_TOPIC", CFG_STR, TOPIC_DLQ, 0, 0, false, false, NULL, M(dlq_topic),
	 "Dead-letter topic for rejected usage messages."},
	{"SHIREN_METERING_BATCH", CFG_INT, "5000", 1, 10000, false, false, NULL, M(batch),
	 "Most usage messages applied in one PostgreSQL transaction."},
	{"SHIREN_METERING_LINGER_MS", CFG_INT, "25", 0, 1000, false, false, NULL, M(linger_ms),
	 "How long a batch waits to fill after its first message."},
	{"SHIREN_METERING_GRACE_HOURS", CFG_INT, "12", 0, 648, false, false, NULL, M(grace_hours),
	 "A month closes this long after its end (UTC+8); later events bill into the current "
	 "month, flagged late."},
	{"SHIREN_METERING_TRIAL_CALLS", CFG_INT, "100", 0, 1000000, false, false, NULL,
	 M(trial_calls), "Free trial calls per tenant and product, granted once."},
	{"SHIREN_METERING_MAX_QUANTITY", CFG_INT, "1000", 1, 1000000000, false, false, NULL,
	 M(max_quantity), "Largest quantity one usage event may carry; more is rejected."},
	{"SHIREN_METERING_MAX_FUTURE_S", CFG_INT, "300", 0, 86400, false, false, NULL,
	 M(max_future_s), "Events dated this far after their ingest time are rejected."},
	{"SHIREN_METERING_SWEEP_S", CFG_INT, "30", 1, 3600, false, false, NULL, M(sweep_s),
	 "Interval of the package expiry sweep and the period close."},
	{"SHIREN_METERING_REFUND_WINDOW_DAYS", CFG_INT, "5", 0, 3650, false, false, NULL,
	 M(refund_days),
	 "An unused package can be refunded this many days after purchase (0: "
	 "any time)."},
	{"SHIREN_METERING_ALERT_PERCENT", CFG_STR, "20,10,0", 0, 0, false, false, NULL,
	 M(alert_percent), "Default percent-remaining alert thresholds (comma list, or none)."},
	{"SHIREN_METERING_ALERT_CALLS", CFG_STR, "none", 0, 0, false, false, NULL, M(alert_calls),
	 "Default calls-remaining alert thresholds (comma list, or none)."},
	{"SHIREN_METERING_ALERT_EXPIRY_DAYS", CFG_STR, "7,3,1", 0, 0, false, false, NULL,
	 M(alert_expiry_days), "Default package-expiry reminders in days (comma list, or none)."},
	{"SHIREN_METERING_ALERT_HYSTERESIS_PCT", CFG_INT, "5", 0, 100, false, false, NULL,
	 M(hysteresis_pct), "Re-arm margin after a top-up (percent points / percent of calls)."},
	{"SHIREN_METERING_SYNC_COMMIT", CFG_BOOL, "true", 0, 0, false, false, NULL, M(sync_commit),
	 "synchronous_commit for the apply transactions."},
};

static const char *const metering_topics[] = {TOPIC_USAGE, TOPIC_QUOTA_ALERTS, TOPIC_DLQ};

/* "20,10,0" or "none" into v (at most METERING_ALERT_MAX_THRESHOLDS). */
static int parse_list(const char *name, const char *s, int64_t *v, size_t *n, char *err,
		      size_t errlen)
{
	*n = 0;
	if (!s || strcmp(s, "none") == 0)
		return 0;
	while (*s) {
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (end == s || errno || (*end && *end != ',') ||
		    *n >= METERING_ALERT_MAX_THRESHOLDS) {
			(void)snprintf(err, errlen,
				       "%s must be a comma list of at most %d integers, or none",
				       name, METERING_ALERT_MAX_THRESHOLDS);
			return -EINVAL;
		}
		v[(*n)++] = x;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static int metering_validate(void *cfg, char *err, size_t errlen)
{
	struct metering_cfg *c = cfg;
	struct metering_alert_config *a = &c->alerts;
	metering_alert_config_default(a);
	a->hysteresis_pct = c->hysteresis_pct;
	if (parse_list("SHIREN_METERING_ALERT_PERCENT", c->alert_percent, a->percent, &a->n_percent,
		       err, errlen) < 0 ||
	    parse_list("SHIREN_METERING_ALERT_CALLS", c->alert_calls, a->calls, &a->n_calls, err,
		       errlen) < 0 ||
	    parse_list("SHIREN_METERING_ALERT_EXPIRY_DAYS", c->alert_expiry_days, a->expiry_days,
		       &a->n_expiry_days, err, errlen) < 0)
		return -EINVAL;
	if (metering_alert_config_normalize(a) < 0) {
		(void)snprintf(err, errlen,
			       "alert thresholds out of range: percent 0-99, calls >= 0, expiry "
			       "days 1-366");
		return -EINVAL;
	}
	return 0;
}

struct metering_state {
	struct mt_consumer *consumer;
	struct mt_http *http;
};

static bool consumer_ready(void *arg)
{
	return mt_consumer_ready(arg);
}

/* SIGTERM: finish and commit the batch in hand, then stop the query pool. The outbox relay's
 * hook (added before ours) runs after this one and publishes what the last batch wrote. */
static void metering_stop_hook(void *arg)
{
	struct metering_state *st = arg;
	mt_consumer_stop(st->consumer);
	st->consumer = NULL;
	mt_http_free(st->http);
	st->http = NULL;
}

/* The configured topic names that differ from the defaults the runtime already creates. */
static int add_topics(struct service *s, const struct metering_cfg *c)
{
	const char *names[] = {c->usage_topic, c->alerts_topic, c->dlq_topic};
	for (size_t i = 0; i < 3; i++) {
		bool dflt = false;
		for (size_t k = 0; k < 3; k++)
			dflt = dflt || strcmp(names[i], metering_topics[k]) == 0;
		if (!dflt && service_add_topics(s, &names[i], 1) < 0)
			return -ENOSPC;
	}
	return 0;
}

static int metering_setup(struct service *s, void *cfg, void **ret_state)
{
	struct metering_cfg *c = cfg;
	struct metering_state *st = calloc(1, sizeof(*st));
	if (!st || add_topics(s, c) < 0)
		goto fail;
	*ret_state = st;
	struct mt_consumer_opts o = {
		.pg_dsn = c->svc.pg_dsn,
		.brokers = c->svc.kafka_brokers,
		.compression = c->svc.kafka_compression,
		.instance_id = c->instance_id,
		.txn = {.topic = c->usage_topic,
			.group = c->group,
			.source = service_name(s),
			.alerts_topic = c->alerts_topic,
			.dlq_topic = c->dlq_topic,
			.lim = {.max_quantity = c->max_quantity,
				.max_future_ms = c->max_future_s * 1000},
			.set = {.grace_ms = c->grace_hours * 3600 * 1000,
				.trial_limit = c->trial_calls,
				.alerts = c->alerts}},
		.batch_max = (int)c->batch,
		.linger_ms = (int)c->linger_ms,
		.sweep_ms = (int)c->sweep_s * 1000,
		.refund_window_ms = c->refund_days * 86400 * 1000,
		.sync_commit = c->sync_commit,
		.svc = s,
		.metrics = service_metrics(s),
	};
	st->consumer = mt_consumer_start(&o, service_log(s));
	st->http = mt_http_new(s, c->svc.pg_dsn, service_log(s));
	if (!st->consumer || !st->http ||
	    service_add_ready_check(s, "metering", consumer_ready, st->consumer) < 0 ||
	    service_on_shutdown(s, metering_stop_hook, st) < 0)
		return -ENOMEM;
	return 0;
fail:
	free(st);
	return -ENOMEM;
}

static void metering_teardown(void *state)
{
	struct metering_state *st = state;
	if (!st)
		return;
	mt_consumer_stop(st->consumer);
	mt_http_free(st->http);
	free(st);
}

int main(int argc, char **argv)
{
	static struct metering_cfg cfg;
	const struct service_def def = {
		.name = "shiren-metering",
		.summary = "exactly-once usage metering, prepaid packages, ladder prices and quota "
			   "alerts",
		.items = metering_items,
		.nitems = sizeof(metering_items) / sizeof(metering_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct metering_cfg, svc),
		.topics = metering_topics,
		.ntopics = sizeof(metering_topics) / sizeof(metering_topics[0]),
		/* 007: the compact ledger; 008: the ladders of products 5-8 */
		.schema_version = 8,
		.validate = metering_validate,
		.setup = metering_setup,
		.teardown = metering_teardown,
	};
	return service_main(argc, argv, &def);
}
