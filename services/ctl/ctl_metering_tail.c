/* ctl_metering_tail — `shirenctl alerts tail`: a reference consumer of shiren.quota.alerts.v1
 * that prints each QuotaAlert as one JSON line. It reads every partition without joining a
 * group (nothing is committed), from the end or --from-beginning, until --max alerts,
 * --idle-ms without one, or SIGINT/SIGTERM. Consumers should deduplicate on alert_id: an alert
 * may be delivered again (outbox re-publish after a crash), never with another id. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/envelope.h"
#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "ctl/ctl_metering.h"
#include "ctl/ctl_valid.h"
#include "shiren/v1/metering.pb-c.h"

static volatile sig_atomic_t tail_stop;

static void on_signal(int sig)
{
	tail_stop = 1;
}

static const char *kind_name(int k)
{
	static const char *const names[] = {"unspecified", "percent_remaining", "calls_remaining",
					    "expiring",	   "exhausted",		"postpaid",
					    "blocked"};
	return k >= 0 && k <= 6 ? names[k] : "unknown";
}

static void print_alert(const Shiren__V1__QuotaAlert *a, const rd_kafka_message_t *m)
{
	char buf[2048];
	struct json_writer w;
	const Shiren__V1__Envelope *e = a->envelope;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key_str(&w, "alert_id", a->alert_id);
	json_key_str(&w, "tenant_id", e ? e->tenant_id : "");
	json_key_str(&w, "kind", kind_name((int)a->kind));
	json_key_int(&w, "kind_code", (long long)a->kind);
	json_key_int(&w, "product", (long long)a->product);
	json_key_int(&w, "threshold", (long long)a->threshold);
	json_key_int(&w, "remaining", (long long)a->remaining);
	json_key_int(&w, "total", (long long)a->total);
	json_key_str(&w, "package_id", a->package_id);
	json_key_int(&w, "generation", (long long)a->generation);
	json_key_str(&w, "balance_status", a->balance_status);
	json_key_int(&w, "occurred_at_ms", (long long)a->occurred_at_ms);
	json_key_int(&w, "produced_at_ms", e ? (long long)e->produced_at_ms : 0);
	json_key_int(&w, "received_at_ms", (long long)envelope_now_ms());
	json_key_int(&w, "partition", (long long)m->partition);
	json_key_int(&w, "offset", (long long)m->offset);
	json_obj_end(&w);
	if (!json_writer_truncated(&w)) {
		fwrite(buf, 1, json_writer_len(&w), stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
}

/* Assign every partition of `topic` at the beginning or the end. 0 or -EIO. */
static int assign_all(rd_kafka_t *rk, const char *topic, bool from_beginning)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		return -EIO;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		if (md)
			rd_kafka_metadata_destroy(md);
		return -EIO;
	}
	int n = md->topics[0].partition_cnt;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)
			->offset = from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	rd_kafka_metadata_destroy(md);
	e = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	return e ? -EIO : 0;
}

static int tail_loop(rd_kafka_t *rk, const struct ctl_mopts *o, int64_t max, int64_t idle)
{
	int64_t seen = 0, last = envelope_now_ms();
	while (!tail_stop && (!max || seen < max)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m) {
			if (idle && envelope_now_ms() - last >= idle)
				break;
			continue;
		}
		last = envelope_now_ms();
		if (!m->err) {
			Shiren__V1__QuotaAlert *a =
				shiren__v1__quota_alert__unpack(NULL, m->len, m->payload);
			bool match =
				a && (!o->tenant || (a->envelope && strcmp(a->envelope->tenant_id,
									   o->tenant) == 0));
			if (match) {
				print_alert(a, m);
				seen++;
			}
			if (a)
				shiren__v1__quota_alert__free_unpacked(a, NULL);
		}
		rd_kafka_message_destroy(m);
	}
	return 0;
}

int ctl_m_alerts_tail(const struct ctl_mopts *o)
{
	const char *brokers = getenv("SHIREN_KAFKA_BROKERS");
	int64_t max = 0, idle = 0;
	char err[512], group[64];
	if (!brokers || !*brokers) {
		fprintf(stderr, "shirenctl: SHIREN_KAFKA_BROKERS is required but not set\n");
		return CTL_EXIT_CONFIG;
	}
	if ((o->max && ctl_m_count(o->max, &max) < 0) ||
	    (o->idle_ms && ctl_m_count(o->idle_ms, &idle) < 0)) {
		fprintf(stderr, "shirenctl: --max and --idle-ms want non-negative integers\n");
		return CTL_EXIT_USAGE;
	}
	if (o->tenant && !ctl_looks_like_uuid(o->tenant)) {
		fprintf(stderr, "shirenctl: alerts tail --tenant wants the tenant id (a UUID)\n");
		return CTL_EXIT_USAGE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct log *lg = log_new("shirenctl", LOG_LEVEL_ERROR, stderr);
	(void)snprintf(group, sizeof(group), "shirenctl-tail-%ld", (long)getpid());
	struct kafka_opts ko = {.brokers = brokers, .client_id = group};
	rd_kafka_t *rk = lg ? kafka_consumer_new(&ko, group, lg, err, sizeof(err)) : NULL;
	int code = CTL_EXIT_OK;
	const char *topic = o->topic ? o->topic : "shiren.quota.alerts.v1";
	if (!rk) {
		fprintf(stderr, "shirenctl: cannot create a Kafka consumer\n");
		code = CTL_EXIT_SOFTWARE;
	} else if (assign_all(rk, topic, o->from_beginning) < 0) {
		fprintf(stderr, "shirenctl: cannot read the partitions of %s\n", topic);
		code = CTL_EXIT_UNAVAILABLE;
	} else {
		(void)tail_loop(rk, o, max, idle);
	}
	if (rk)
		rd_kafka_destroy(rk);
	log_free(lg);
	return code;
}
