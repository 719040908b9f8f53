/* bench_metering_lat — end-to-end latency of shiren-metering at a steady rate:
 *   event -> balance visible: usage events are produced at RATE/s for SECONDS (tenant by a
 *     hash of the sequence number); each one's (partition, offset) comes from its delivery
 *     report. A poller reads metering_offsets every 5 ms: an event's balance is visible when
 *     the stored next_offset of its partition passes it (the offsets commit in the same
 *     transaction as the balance). Latency = that poll time - the time produce() was called.
 *   threshold crossing -> alert on Kafka: a consumer reads the alerts topic from its end;
 *     latency = receive time - QuotaAlert.occurred_at_ms (the crossing event's ingest time,
 *     i.e. its Kafka CreateTime, taken by the producer at produce()).
 * Usage: bench_metering_lat TENANTS_FILE RATE SECONDS
 * Environment: SHIREN_KAFKA_BROKERS, SHIREN_PG_DSN, MT_USAGE_TOPIC, MT_ALERTS_TOPIC.
 * Prints one JSON object (milliseconds). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/envelope.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/pg.h"
#include "shiren/v1/metering.pb-c.h"

#define MAX_PARTS  64
#define MAX_CHECKS 200000
#define MAX_ALERTS 200000

struct slot {
	struct kafka_dr dr;
	int64_t sent_ms;
	int32_t partition;
	int64_t offset; /* -1 until delivered */
};

struct check { /* at t_ms, partition p had next_offset n */
	int64_t t_ms, next;
};

static struct slot *slots;
static struct check *checks[MAX_PARTS];
static size_t n_checks[MAX_PARTS];
static double alert_lat[MAX_ALERTS];
static size_t n_alerts;
static atomic_bool stop_poll, stop_alerts;

static const char *env_or(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

static void dr_cb(struct kafka_dr *dr, rd_kafka_resp_err_t err, int32_t part, int64_t off)
{
	struct slot *s = (struct slot *)dr;
	s->partition = part;
	s->offset = err ? -2 : off;
}

static void *poll_main(void *arg)
{
	PGconn *c;
	char err[512];
	const char *p[] = {env_or("MT_USAGE_TOPIC", "shiren.usage.v1")};
	if (pg_connect(env_or("SHIREN_PG_DSN", ""), "bench-lat", &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "poller: %s\n", err);
		return NULL;
	}
	int64_t last[MAX_PARTS];
	for (int i = 0; i < MAX_PARTS; i++)
		last[i] = -1;
	while (!atomic_load(&stop_poll)) {
		PGresult *r = NULL;
		if (pg_exec(c,
			    "SELECT partition, next_offset FROM metering_offsets WHERE topic = $1",
			    1, p, &r, err, sizeof(err)) == 0) {
			int64_t t = envelope_now_ms();
			for (int i = 0; i < PQntuples(r); i++) {
				int part = (int)strtol(PQgetvalue(r, i, 0), NULL, 10);
				int64_t next = strtoll(PQgetvalue(r, i, 1), NULL, 10);
				if (part < 0 || part >= MAX_PARTS || next == last[part] ||
				    n_checks[part] >= MAX_CHECKS)
					continue;
				last[part] = next;
				checks[part][n_checks[part]++] = (struct check){t, next};
			}
			PQclear(r);
		}
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	PQfinish(c);
	return NULL;
}

static void *alerts_main(void *arg)
{
	rd_kafka_t *rk = arg;
	while (!atomic_load(&stop_alerts)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			Shiren__V1__QuotaAlert *a =
				shiren__v1__quota_alert__unpack(NULL, m->len, m->payload);
			if (a && n_alerts < MAX_ALERTS)
				alert_lat[n_alerts++] =
					(double)(envelope_now_ms() - a->occurred_at_ms);
			if (a)
				shiren__v1__quota_alert__free_unpacked(a, NULL);
		}
		rd_kafka_message_destroy(m);
	}
	return NULL;
}

static rd_kafka_t *alerts_consumer(struct log *lg)
{
	char err[512], group[64];
	(void)snprintf(group, sizeof(group), "bench-lat-%lld", (long long)envelope_now_ms());
	struct kafka_opts o = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "127.0.0.1:19092"),
			       .client_id = group};
	rd_kafka_t *rk = kafka_consumer_new(&o, group, lg, err, sizeof(err));
	const char *topic = env_or("MT_ALERTS_TOPIC", "shiren.quota.alerts.v1");
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rk ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
	if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1) {
		fprintf(stderr, "alerts topic %s unavailable\n", topic);
		exit(69);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)
			->offset = RD_KAFKA_OFFSET_END;
	rd_kafka_metadata_destroy(md);
	(void)rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	return rk;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	if (!n)
		return -1;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* When the poller first saw partition p's next_offset above `off`, or -1. */
static int64_t visible_at(int32_t p, int64_t off)
{
	size_t lo = 0, hi = n_checks[p];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (checks[p][mid].next > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < n_checks[p] ? checks[p][lo].t_ms : -1;
}

static char **read_tenants(const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "r");
	char line[128];
	size_t n = 0, cap = 1024;
	char **v = calloc(cap, sizeof(*v));
	if (!f || !v)
		exit(66);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap && !(v = realloc(v, (cap *= 2) * sizeof(*v))))
			exit(70);
		if (!(v[n++] = strdup(line)))
			exit(70);
	}
	fclose(f);
	*ret_n = n;
	return v;
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *tenant, const char *id,
		       struct slot *s)
{
	Shiren__V1__UsageEvent u = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env;
	struct envelope_buf eb;
	uint8_t buf[512];
	if (envelope_new(&env, &eb, tenant, NULL, "bench-lat") < 0)
		return -EIO;
	s->sent_ms = envelope_now_ms();
	s->offset = -1;
	s->dr.cb = dr_cb;
	u.envelope = &env;
	u.event_id = (char *)id;
	u.product = SHIREN__V1__PRODUCT__PRODUCT_PV_FV;
	u.scene_id = 1000001;
	u.quantity = 1;
	u.sub_code = 200;
	u.billable = 1;
	u.occurred_at_ms = s->sent_ms;
	size_t len = shiren__v1__usage_event__pack(&u, buf);
	rd_kafka_resp_err_t e = rd_kafka_producev(
		rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(tenant, strlen(tenant)),
		RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
	return e ? -EIO : 0;
}

/* Produce `n` events at `rate`/s. */
static void produce_all(rd_kafka_t *rk, char **tenants, size_t nt, long n, long rate)
{
	const char *topic = env_or("MT_USAGE_TOPIC", "shiren.usage.v1");
	char id[96];
	int64_t t0 = envelope_now_ms(), run = t0;
	for (long i = 0; i < n; i++) {
		int64_t due = t0 + i * 1000 / rate, wait = due - envelope_now_ms();
		if (wait > 0) {
			struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
		/* CertifyId-shaped (32 hex digits): the run's start time, then i. */
		(void)snprintf(id, sizeof(id), "%016llx%016llx:CompareFaceVerify",
			       (unsigned long long)run, (unsigned long long)i);
		if (produce_one(rk, topic, tenants[(h >> 20) % nt], id, &slots[i]) < 0)
			slots[i].offset = -2;
		rd_kafka_poll(rk, 0);
	}
	while (rd_kafka_outq_len(rk) > 0)
		rd_kafka_flush(rk, 1000);
}

static void report(long n, double secs)
{
	double *vis = calloc((size_t)n, sizeof(*vis));
	size_t nv = 0, lost = 0;
	if (!vis)
		exit(70);
	for (long i = 0; i < n; i++) {
		struct slot *s = &slots[i];
		int64_t t = s->offset >= 0 && s->partition >= 0 && s->partition < MAX_PARTS
				    ? visible_at(s->partition, s->offset)
				    : -1;
		if (t < 0)
			lost++;
		else
			vis[nv++] = (double)(t - s->sent_ms);
	}
	qsort(vis, nv, sizeof(*vis), cmp_d);
	qsort(alert_lat, n_alerts, sizeof(*alert_lat), cmp_d);
	printf("{\"events\":%ld,\"seconds\":%.1f,\"rate\":%.0f,\"visible\":%zu,\"not_visible\":%zu,"
	       "\"visible_ms\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f},"
	       "\"alerts\":%zu,\"alert_ms\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f}}"
	       "\n",
	       n, secs, (double)n / secs, nv, lost, pct(vis, nv, 0.5), pct(vis, nv, 0.9),
	       pct(vis, nv, 0.99), nv ? vis[nv - 1] : -1, n_alerts, pct(alert_lat, n_alerts, 0.5),
	       pct(alert_lat, n_alerts, 0.9), pct(alert_lat, n_alerts, 0.99),
	       n_alerts ? alert_lat[n_alerts - 1] : -1);
	free(vis);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bench_metering_lat TENANTS_FILE RATE SECONDS\n");
		return 64;
	}
	size_t nt;
	char **tenants = read_tenants(argv[1], &nt);
	long rate = strtol(argv[2], NULL, 10), secs = strtol(argv[3], NULL, 10), n = rate * secs;
	char err[512];
	if (!nt || rate <= 0 || secs <= 0)
		return 64;
	struct log *lg = log_new("bench-lat", LOG_LEVEL_ERROR, stderr);
	slots = calloc((size_t)n, sizeof(*slots));
	for (int p = 0; p < MAX_PARTS; p++)
		checks[p] = calloc(MAX_CHECKS, sizeof(struct check));
	struct kafka_opts po = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "127.0.0.1:19092"),
				.client_id = "bench-lat",
				.linger_ms = 1};
	rd_kafka_t *prod = kafka_producer_new(&po, lg, err, sizeof(err));
	rd_kafka_t *cons = alerts_consumer(lg);
	pthread_t tp, ta;
	if (!slots || !prod || pthread_create(&tp, NULL, poll_main, NULL) ||
	    pthread_create(&ta, NULL, alerts_main, cons))
		return 70;
	/* Warm the producer up (broker connection, idempotent producer id) before the clock
	 * starts: otherwise the first events wait for it and that shows as metering latency. */
	struct slot warm;
	char wid[64];
	(void)snprintf(wid, sizeof(wid), "%016llxffffffffffffffff:CompareFaceVerify",
		       (unsigned long long)envelope_now_ms());
	if (produce_one(prod, env_or("MT_USAGE_TOPIC", "shiren.usage.v1"), tenants[0], wid,
			&warm) == 0)
		while (rd_kafka_outq_len(prod) > 0)
			rd_kafka_flush(prod, 1000);
	int64_t t0 = envelope_now_ms();
	produce_all(prod, tenants, nt, n, rate);
	double took = (double)(envelope_now_ms() - t0) / 1000.0;
	/* Let the last events become visible and their alerts arrive. */
	struct timespec ts = {5, 0};
	nanosleep(&ts, NULL);
	atomic_store(&stop_poll, true);
	atomic_store(&stop_alerts, true);
	pthread_join(tp, NULL);
	pthread_join(ta, NULL);
	report(n, took);
	rd_kafka_destroy(prod);
	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	log_free(lg);
	return 0;
}
