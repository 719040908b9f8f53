/* bench_metering_gen — usage events for shiren-metering's tests and benchmarks, produced to the
 * real broker with the idempotent producer (key = tenant id, as intake does).
 * Environment: SHIREN_KAFKA_BROKERS; MT_USAGE_TOPIC (default shiren.usage.v1), MT_DLQ_TOPIC
 * (default shiren.dlq.v1), MT_ALERTS_TOPIC (default shiren.quota.alerts.v1).
 * Subcommands:
 *   topics PARTITIONS            create the three topics
 *   events                       produce the events read from stdin, one per line:
 *                                TENANT PRODUCT EVENT_ID SUB_CODE QUANTITY OCCURRED_MS
 *                                [SCENE [INGEST_MS [BILLABLE]]]  (INGEST_MS: the Kafka timestamp;
 *                                BILLABLE overrides the flag derived from SUB_CODE)
 *   gen TENANTS_FILE N [options] a synthetic stream: event i goes to tenant (i*7919) % T,
 *                                ids "<prefix>-<i>:Verify", SubCode 200 except every 10th (i %
 *                                10 == 9: 107, not billable); with --dup-pct P, P% of events
 *                                are followed by a re-send of the event 1..50 before them.
 *       --rate R      events/s (0: as fast as possible)   --prefix S   --start I
 *       --product P   (default 4)                          --quantity Q (default 1)
 *       --dup-pct P   --expect FILE (per tenant: "tenant calls billable" of unique events)
 *   garbage N TENANT             N payloads that are not protobuf
 *   dlq SECONDS                  count dead letters whose original topic is MT_USAGE_TOPIC,
 *                                by reason ("reason count" lines), reading until idle
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/envelope.h"
#include "common/kafka.h"
#include "common/log.h"
#include "shiren/v1/envelope.pb-c.h"
#include "shiren/v1/metering.pb-c.h"

#define MAX_TENANTS 100000

static const char *env_or(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

static long long num(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno) {
		fprintf(stderr, "not a number: %s\n", s);
		exit(64);
	}
	return v;
}

static int64_t now_ms(void)
{
	return envelope_now_ms();
}

static struct log *quiet_log(void)
{
	return log_new("bench-metering-gen", LOG_LEVEL_ERROR, stderr);
}

static rd_kafka_t *producer(struct log *lg)
{
	char err[512];
	const char *extra[] = {"linger.ms=20", "batch.num.messages=10000", NULL};
	struct kafka_opts o = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "127.0.0.1:19092"),
			       .client_id = "bench-metering-gen",
			       .compression = "lz4",
			       .extra = extra};
	rd_kafka_t *rk = kafka_producer_new(&o, lg, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "producer: %s\n", err);
		exit(69);
	}
	return rk;
}

struct ev {
	const char *tenant, *event_id;
	int product, sub_code;
	int64_t quantity, occurred_ms, scene, ingest_ms;
	int billable; /* -1: from the SubCode */
};

static int produce_ev(rd_kafka_t *rk, const char *topic, const struct ev *e)
{
	Shiren__V1__UsageEvent u = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env;
	struct envelope_buf eb;
	uint8_t buf[1024];
	if (envelope_new(&env, &eb, e->tenant, NULL, "bench-metering-gen") < 0)
		return -EIO;
	u.envelope = &env;
	/* The fields the producers set from the id: "<CertifyId>:<Action>". */
	char certify[128] = "";
	const char *colon = strchr(e->event_id, ':');
	if (colon && (size_t)(colon - e->event_id) < sizeof(certify))
		(void)snprintf(certify, sizeof(certify), "%.*s", (int)(colon - e->event_id),
			       e->event_id);
	u.event_id = (char *)e->event_id;
	u.certify_id = certify;
	u.action = (char *)(colon ? colon + 1 : "");
	u.product = (Shiren__V1__Product)e->product;
	u.scene_id = e->scene;
	u.quantity = e->quantity;
	u.sub_code = e->sub_code;
	u.billable = e->billable >= 0 ? e->billable : (e->sub_code >= 200 && e->sub_code <= 206);
	u.occurred_at_ms = e->occurred_ms;
	size_t len = shiren__v1__usage_event__pack(&u, buf);
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(e->tenant, strlen(e->tenant)),
			RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_TIMESTAMP(e->ingest_ms > 0 ? e->ingest_ms : 0), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 10);
			continue;
		}
		return err ? -EIO : 0;
	}
}

static int flush_all(rd_kafka_t *rk)
{
	while (rd_kafka_outq_len(rk) > 0)
		if (rd_kafka_flush(rk, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    rd_kafka_outq_len(rk) > 0)
			continue;
	return 0;
}

static int cmd_topics(int parts)
{
	struct log *lg = quiet_log();
	rd_kafka_t *rk = producer(lg);
	char err[512];
	const char *t[] = {env_or("MT_USAGE_TOPIC", "shiren.usage.v1"),
			   env_or("MT_DLQ_TOPIC", "shiren.dlq.v1"),
			   env_or("MT_ALERTS_TOPIC", "shiren.quota.alerts.v1")};
	int rc = -EIO;
	/* A broker that is restarting refuses for a while ("fenced"): retry for up to a minute. */
	for (int attempt = 0; attempt < 30 && rc < 0; attempt++) {
		if (attempt) {
			struct timespec ts = {2, 0};
			nanosleep(&ts, NULL);
		}
		rc = kafka_topics_ensure(rk, t, 3, parts, 1, 20000, err, sizeof(err));
	}
	if (rc < 0)
		fprintf(stderr, "topics: %s\n", err);
	rd_kafka_destroy(rk);
	log_free(lg);
	return rc < 0 ? 1 : 0;
}

/* Split `line` on blanks into at most `max` fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; *p && n < max;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			break;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	return n;
}

static int cmd_events(void)
{
	struct log *lg = quiet_log();
	rd_kafka_t *rk = producer(lg);
	const char *topic = env_or("MT_USAGE_TOPIC", "shiren.usage.v1");
	char line[1024];
	long n = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char *f[10];
		int nf = split(line, f, 10);
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 6) {
			fprintf(stderr, "events: want TENANT PRODUCT EVENT_ID SUB_CODE QUANTITY "
					"OCCURRED_MS [SCENE [INGEST_MS [BILLABLE]]]\n");
			return 64;
		}
		struct ev e = {.tenant = f[0],
			       .product = (int)num(f[1]),
			       .event_id = f[2],
			       .sub_code = (int)num(f[3]),
			       .quantity = num(f[4]),
			       .occurred_ms = num(f[5]),
			       .scene = nf > 6 ? num(f[6]) : 0,
			       .ingest_ms = nf > 7 ? num(f[7]) : 0,
			       .billable = nf > 8 ? (int)num(f[8]) : -1};
		if (produce_ev(rk, topic, &e) < 0) {
			fprintf(stderr, "produce failed\n");
			return 1;
		}
		n++;
	}
	flush_all(rk);
	printf("%ld\n", n);
	rd_kafka_destroy(rk);
	log_free(lg);
	return 0;
}

struct gen_opts {
	long long rate, start, product, quantity, dup_pct;
	const char *prefix, *expect;
};

static char **read_tenants(const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "r");
	char line[128];
	char **v = calloc(MAX_TENANTS, sizeof(*v));
	size_t n = 0;
	if (!f || !v) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(66);
	}
	while (n < MAX_TENANTS && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] && !(v[n++] = strdup(line)))
			exit(70);
	}
	fclose(f);
	*ret_n = n;
	return v;
}

static void pace(int64_t t0, long long sent, long long rate)
{
	if (rate <= 0)
		return;
	int64_t due = t0 + sent * 1000 / rate;
	int64_t wait = due - now_ms();
	if (wait > 0) {
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* A cheap deterministic mix of i (so duplicates are the same across runs). */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void gen_event(const struct gen_opts *o, char **tenants, size_t nt, long long i, char *id,
		      size_t idlen, struct ev *e, int64_t t)
{
	/* A CertifyId as intake makes them: 32 random-looking hex digits (here a function of the
	 * prefix and i, so a duplicate repeats its id), then the action. */
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = o->prefix; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	(void)snprintf(id, idlen, "%016llx%016llx:CompareFaceVerify",
		       (unsigned long long)mix(h ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL),
		       (unsigned long long)mix(h + (uint64_t)i + 1));
	e->tenant = tenants[(size_t)((i * 7919) % (long long)nt)];
	e->event_id = id;
	e->product = (int)o->product;
	e->sub_code = i % 10 == 9 ? 107 : 200;
	e->quantity = o->quantity;
	e->occurred_ms = t;
	e->scene = 1000001 + i % 3;
	e->ingest_ms = 0;
	e->billable = -1;
}

static void write_expect(const struct gen_opts *o, char **tenants, size_t nt, long long n)
{
	FILE *f = fopen(o->expect, "w");
	long long *calls = calloc(nt, sizeof(*calls)), *bill = calloc(nt, sizeof(*bill));
	if (!f || !calls || !bill)
		exit(73);
	for (long long i = o->start; i < o->start + n; i++) {
		size_t k = (size_t)((i * 7919) % (long long)nt);
		calls[k] += o->quantity;
		bill[k] += i % 10 == 9 ? 0 : o->quantity;
	}
	for (size_t k = 0; k < nt; k++)
		fprintf(f, "%s %lld %lld\n", tenants[k], calls[k], bill[k]);
	fclose(f);
	free(calls);
	free(bill);
}

static int cmd_gen(const char *tfile, long long n, const struct gen_opts *o)
{
	size_t nt;
	char **tenants = read_tenants(tfile, &nt);
	struct log *lg = quiet_log();
	rd_kafka_t *rk = producer(lg);
	const char *topic = env_or("MT_USAGE_TOPIC", "shiren.usage.v1");
	char id[128];
	long long sent = 0, dups = 0;
	int64_t t0 = now_ms();
	if (!nt)
		return 66;
	for (long long i = o->start; i < o->start + n; i++) {
		struct ev e;
		pace(t0, sent, o->rate);
		gen_event(o, tenants, nt, i, id, sizeof(id), &e, now_ms());
		if (produce_ev(rk, topic, &e) < 0)
			return 1;
		sent++;
		uint64_t h = mix((uint64_t)i);
		if (o->dup_pct > 0 && (long long)(h % 100) < o->dup_pct) {
			long long j = i - 1 - (long long)((h >> 8) % 50);
			if (j < o->start)
				j = i;
			gen_event(o, tenants, nt, j, id, sizeof(id), &e, now_ms());
			if (produce_ev(rk, topic, &e) < 0)
				return 1;
			sent++;
			dups++;
		}
		rd_kafka_poll(rk, 0);
	}
	flush_all(rk);
	double secs = (double)(now_ms() - t0) / 1000.0;
	printf("{\"events\":%lld,\"messages\":%lld,\"duplicates\":%lld,\"seconds\":%.3f,"
	       "\"rate\":%.0f}\n",
	       n, sent, dups, secs, secs > 0 ? (double)sent / secs : 0.0);
	if (o->expect)
		write_expect(o, tenants, nt, n);
	rd_kafka_destroy(rk);
	log_free(lg);
	for (size_t k = 0; k < nt; k++)
		free(tenants[k]);
	free(tenants);
	return 0;
}

static int cmd_garbage(long long n, const char *tenant)
{
	struct log *lg = quiet_log();
	rd_kafka_t *rk = producer(lg);
	const char *topic = env_or("MT_USAGE_TOPIC", "shiren.usage.v1");
	static const uint8_t junk[] = {0xff, 0xfe, 0x00, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80};
	for (long long i = 0; i < n; i++)
		if (rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(tenant, strlen(tenant)),
			    RD_KAFKA_V_VALUE((void *)junk, sizeof(junk) - (size_t)(i % 3)),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
			return 1;
	flush_all(rk);
	rd_kafka_destroy(rk);
	log_free(lg);
	return 0;
}

/* ---- dead letters ---- */

struct reason_count {
	char reason[32];
	long n;
};

static void count_reason(struct reason_count *rc, size_t *n, const char *reason)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(rc[i].reason, reason) == 0) {
			rc[i].n++;
			return;
		}
	if (*n < 32) {
		(void)snprintf(rc[*n].reason, sizeof(rc[*n].reason), "%s", reason);
		rc[(*n)++].n = 1;
	}
}

static int cmd_dlq(long long seconds)
{
	struct log *lg = quiet_log();
	char err[512], group[64];
	struct reason_count rc[32];
	size_t nr = 0;
	const char *usage = env_or("MT_USAGE_TOPIC", "shiren.usage.v1");
	(void)snprintf(group, sizeof(group), "bench-dlq-%lld", (long long)now_ms());
	struct kafka_opts o = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "127.0.0.1:19092"),
			       .client_id = group};
	rd_kafka_t *rk = kafka_consumer_new(&o, group, lg, err, sizeof(err));
	if (!rk)
		return 69;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, env_or("MT_DLQ_TOPIC", "shiren.dlq.v1"),
					  RD_KAFKA_PARTITION_UA);
	(void)rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	int64_t deadline = now_ms() + seconds * 1000, idle_since = 0;
	while (now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m) {
			if (idle_since && now_ms() - idle_since > 3000)
				break;
			continue;
		}
		idle_since = now_ms();
		if (!m->err) {
			Shiren__V1__DeadLetter *d =
				shiren__v1__dead_letter__unpack(NULL, m->len, m->payload);
			if (d && d->original_topic && strcmp(d->original_topic, usage) == 0)
				count_reason(rc, &nr, d->reason ? d->reason : "");
			if (d)
				shiren__v1__dead_letter__free_unpacked(d, NULL);
		}
		rd_kafka_message_destroy(m);
	}
	for (size_t i = 0; i < nr; i++)
		printf("%s %ld\n", rc[i].reason, rc[i].n);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	log_free(lg);
	return 0;
}

static int gen_main(int argc, char **argv)
{
	struct gen_opts o = {.product = 4, .quantity = 1, .prefix = "gen"};
	for (int i = 4; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--rate") == 0)
			o.rate = num(v);
		else if (strcmp(k, "--start") == 0)
			o.start = num(v);
		else if (strcmp(k, "--product") == 0)
			o.product = num(v);
		else if (strcmp(k, "--quantity") == 0)
			o.quantity = num(v);
		else if (strcmp(k, "--dup-pct") == 0)
			o.dup_pct = num(v);
		else if (strcmp(k, "--prefix") == 0)
			o.prefix = v;
		else if (strcmp(k, "--expect") == 0)
			o.expect = v;
		else {
			fprintf(stderr, "unknown option %s\n", k);
			return 64;
		}
	}
	return cmd_gen(argv[2], num(argv[3]), &o);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "topics") == 0)
		return cmd_topics((int)num(argv[2]));
	if (argc == 2 && strcmp(argv[1], "events") == 0)
		return cmd_events();
	if (argc >= 4 && strcmp(argv[1], "gen") == 0)
		return gen_main(argc, argv);
	if (argc == 4 && strcmp(argv[1], "garbage") == 0)
		return cmd_garbage(num(argv[2]), argv[3]);
	if (argc == 3 && strcmp(argv[1], "dlq") == 0)
		return cmd_dlq(num(argv[2]));
	fprintf(stderr, "usage: bench_metering_gen topics P | events | gen TENANTS N [opts] | "
			"garbage N TENANT | dlq SECONDS\n");
	return 64;
}
