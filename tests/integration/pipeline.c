/* pipeline — the exactly-once delivery test harness: a producer writing state changes with
 * their outbox rows, the outbox relay, and an inbox consumer applying them, as separate
 * processes so a test can kill -9 any of them. Configured by environment:
 *   SHIREN_PG_DSN, SHIREN_KAFKA_BROKERS, PIPE_TOPIC, PIPE_SOURCE, PIPE_GROUP, PIPE_DLQ.
 * Subcommands:
 *   setup                      create the test tables (pipe_source, pipe_applied, pipe_totals)
 *   produce START COUNT BATCH  write COUNT changes (seq START..) in transactions of BATCH;
 *                              seq % 1000 == 999 is a poison change (negative amount)
 *                              unless PIPE_NO_POISON is set
 *   produce-rate START COUNT RATE  as produce, paced at RATE changes/s (transactions of 10)
 *   garbage N                  enqueue N payloads that are not protobuf at all
 *   relay                      run the outbox relay until SIGTERM
 *   consume                    run the inbox consumer until SIGTERM
 *   topics                     create PIPE_TOPIC and PIPE_DLQ
 *   dlq-count SECONDS          count dead letters for PIPE_TOPIC (distinct original messages)
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/consumer.h"
#include "common/envelope.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "shiren/v1/metering.pb-c.h"

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	stop_flag = 1;
}

static const char *env_or(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

static long parse_long(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end) {
		fprintf(stderr, "not a number: %s\n", s);
		exit(64);
	}
	return v;
}

static PGconn *connect_or_die(void)
{
	char err[512];
	PGconn *c;
	if (pg_connect(env_or("SHIREN_PG_DSN", ""), "pipeline", &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "postgres: %s\n", err);
		exit(69);
	}
	return c;
}

static int cmd_setup(void)
{
	PGconn *c = connect_or_die();
	char err[512];
	static const char *const stmts[] = {
		"CREATE TABLE IF NOT EXISTS pipe_source (seq bigint PRIMARY KEY, amount bigint NOT "
		"NULL)",
		"CREATE TABLE IF NOT EXISTS pipe_applied (seq bigint NOT NULL, amount bigint NOT "
		"NULL, "
		"message_id text NOT NULL, applied_at timestamptz DEFAULT clock_timestamp(), "
		"produced_at_ms bigint)",
		"CREATE TABLE IF NOT EXISTS pipe_totals (id int PRIMARY KEY, total bigint NOT "
		"NULL, n "
		"bigint NOT NULL)",
		"INSERT INTO pipe_totals VALUES (1, 0, 0) ON CONFLICT DO NOTHING"};
	int rc = 0;
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]) && rc == 0; i++)
		rc = pg_exec(c, stmts[i], 0, NULL, NULL, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "setup: %s\n", err);
	PQfinish(c);
	return rc < 0 ? 1 : 0;
}

static int enqueue_change(PGconn *c, const char *source, const char *topic, long seq, char *err,
			  size_t errlen)
{
	bool poison = seq % 1000 == 999 && !getenv("PIPE_NO_POISON");
	long amount = poison ? -1 : seq % 97 + 1;
	char sseq[24], samt[24];
	snprintf(sseq, sizeof(sseq), "%ld", seq);
	snprintf(samt, sizeof(samt), "%ld", amount);
	const char *p[2] = {sseq, samt};
	int rc = pg_exec(c, "INSERT INTO pipe_source (seq, amount) VALUES ($1, $2)", 2, p, NULL,
			 err, errlen);
	if (rc < 0)
		return rc;
	Shiren__V1__UsageEvent ev = SHIREN__V1__USAGE_EVENT__INIT;
	Shiren__V1__Envelope env;
	struct envelope_buf eb;
	if (envelope_new(&env, &eb, "tenant-pipe", NULL, "pipeline") < 0)
		return -EIO;
	ev.envelope = &env;
	ev.event_id = sseq;
	ev.quantity = amount;
	ev.occurred_at_ms = env.produced_at_ms;
	uint8_t buf[512];
	size_t len = shiren__v1__usage_event__pack(&ev, buf);
	return outbox_enqueue(c, source, topic, sseq, strlen(sseq), buf, len, eb.message_id, err,
			      errlen);
}

static int cmd_produce(long start, long count, long batch)
{
	PGconn *c = connect_or_die();
	const char *source = env_or("PIPE_SOURCE", "pipeline"), *topic = env_or("PIPE_TOPIC", "");
	char err[512];
	for (long i = 0; i < count && !stop_flag;) {
		if (pg_begin(c, err, sizeof(err)) < 0)
			goto fail;
		long j;
		for (j = 0; j < batch && i + j < count; j++)
			if (enqueue_change(c, source, topic, start + i + j, err, sizeof(err)) < 0)
				goto fail;
		if (pg_commit(c, err, sizeof(err)) < 0)
			goto fail;
		i += j;
	}
	PQfinish(c);
	return 0;
fail:
	fprintf(stderr, "produce: %s\n", err);
	PQfinish(c);
	return 1;
}

static int cmd_produce_rate(long start, long count, long rate)
{
	PGconn *c = connect_or_die();
	const char *source = env_or("PIPE_SOURCE", "pipeline"), *topic = env_or("PIPE_TOPIC", "");
	char err[512];
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count && !stop_flag; i += 10) {
		/* Pace: change i is due at t0 + i/rate. */
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			double el = (double)(now.tv_sec - t0.tv_sec) +
				    (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
			double due = (double)i / (double)rate;
			if (el >= due)
				break;
			struct timespec ts = {0, (long)((due - el) * 1e9)};
			nanosleep(&ts, NULL);
		}
		if (pg_begin(c, err, sizeof(err)) < 0)
			goto fail;
		for (long j = 0; j < 10 && i + j < count; j++)
			if (enqueue_change(c, source, topic, start + i + j, err, sizeof(err)) < 0)
				goto fail;
		if (pg_commit(c, err, sizeof(err)) < 0)
			goto fail;
	}
	PQfinish(c);
	return 0;
fail:
	fprintf(stderr, "produce-rate: %s\n", err);
	PQfinish(c);
	return 1;
}

static int cmd_garbage(long n)
{
	PGconn *c = connect_or_die();
	char err[512];
	for (long i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "garbage-%ld", i);
		static const char junk[] = "\xff\xff\xff this is not protobuf";
		if (outbox_enqueue(c, env_or("PIPE_SOURCE", "pipeline"), env_or("PIPE_TOPIC", ""),
				   id, strlen(id), junk, sizeof(junk) - 1, id, err,
				   sizeof(err)) < 0) {
			fprintf(stderr, "garbage: %s\n", err);
			PQfinish(c);
			return 1;
		}
	}
	PQfinish(c);
	return 0;
}

static int cmd_relay(struct log *lg)
{
	struct outbox_relay_opts o = {.pg_dsn = env_or("SHIREN_PG_DSN", ""),
				      .brokers = env_or("SHIREN_KAFKA_BROKERS", ""),
				      .source = env_or("PIPE_SOURCE", "pipeline"),
				      .batch_max = (int)parse_long(env_or("PIPE_BATCH", "2000"))};
	struct outbox_relay *r = outbox_relay_start(&o, lg);
	if (!r)
		return 1;
	while (!stop_flag)
		pause();
	uint64_t n = outbox_relay_published(r);
	outbox_relay_stop(r, 5000);
	log_info(lg, "relay stopped", LF_I("published", n), LOG_END);
	return 0;
}

static int check_cb(const struct consumer_msg *m, void *arg, char *err, size_t errlen)
{
	Shiren__V1__UsageEvent *ev = shiren__v1__usage_event__unpack(NULL, m->len, m->payload);
	if (!ev) {
		snprintf(err, errlen, "not a UsageEvent");
		return -EBADMSG;
	}
	shiren__v1__usage_event__free_unpacked(ev, NULL);
	return 0;
}

/* Appends `v` to a PostgreSQL array literal being built in `b` (values here need no quoting). */
static int arr_add(char **b, size_t *len, size_t *cap, const char *v)
{
	size_t need = strlen(v) + 2;
	if (*len + need + 2 > *cap) {
		size_t ncap = (*cap + need) * 2;
		char *nb = realloc(*b, ncap);
		if (!nb)
			return -ENOMEM;
		*b = nb;
		*cap = ncap;
	}
	*len += (size_t)snprintf(*b + *len, *cap - *len, "%s%s", *len > 1 ? "," : "", v);
	return 0;
}

/* Applies the batch with one INSERT (arrays unnested) and one UPDATE, inside the consumer's
 * transaction; a non-positive amount is the business rule that makes a message poison. */
static int apply_cb(PGconn *c, const struct consumer_msg *const *msgs, size_t n, void *arg,
		    char *err, size_t errlen)
{
	char *a[4] = {NULL, NULL, NULL, NULL};
	size_t len[4] = {0}, cap[4] = {0};
	long total = 0;
	int rc = 0;
	for (int k = 0; k < 4; k++)
		if (arr_add(&a[k], &len[k], &cap[k], "") < 0)
			rc = -ENOMEM;
	for (int k = 0; k < 4 && rc == 0; k++) {
		a[k][0] = '{';
		len[k] = 1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		Shiren__V1__UsageEvent *ev =
			shiren__v1__usage_event__unpack(NULL, msgs[i]->len, msgs[i]->payload);
		if (!ev) {
			snprintf(err, errlen, "decode");
			rc = -EBADMSG;
			break;
		}
		if (ev->quantity <= 0) {
			snprintf(err, errlen, "amount %lld is not positive (seq %s)",
				 (long long)ev->quantity, ev->event_id);
			rc = -EINVAL;
		} else {
			char amt[24], pat[24];
			snprintf(amt, sizeof(amt), "%lld", (long long)ev->quantity);
			snprintf(pat, sizeof(pat), "%lld", (long long)msgs[i]->env.produced_at_ms);
			total += ev->quantity;
			if (arr_add(&a[0], &len[0], &cap[0], ev->event_id) < 0 ||
			    arr_add(&a[1], &len[1], &cap[1], amt) < 0 ||
			    arr_add(&a[2], &len[2], &cap[2], msgs[i]->env.message_id) < 0 ||
			    arr_add(&a[3], &len[3], &cap[3], pat) < 0)
				rc = -ENOMEM;
		}
		shiren__v1__usage_event__free_unpacked(ev, NULL);
	}
	if (rc == 0) {
		for (int k = 0; k < 4; k++) {
			a[k][len[k]++] = '}';
			a[k][len[k]] = '\0';
		}
		const char *p[4] = {a[0], a[1], a[2], a[3]};
		rc = pg_exec(c,
			     "INSERT INTO pipe_applied (seq, amount, message_id, produced_at_ms) "
			     "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
			     "$4::bigint[])",
			     4, p, NULL, err, errlen);
	}
	if (rc == 0) {
		char st[24], sn[24];
		snprintf(st, sizeof(st), "%ld", total);
		snprintf(sn, sizeof(sn), "%zu", n);
		const char *p[2] = {st, sn};
		rc = pg_exec(c,
			     "UPDATE pipe_totals SET total = total + $1, n = n + $2 WHERE id = 1",
			     2, p, NULL, err, errlen);
	}
	for (int k = 0; k < 4; k++)
		free(a[k]);
	return rc;
}

static int cmd_consume(struct log *lg)
{
	const char *topic = env_or("PIPE_TOPIC", "");
	const char *topics[1] = {topic};
	struct consumer_opts o = {.pg_dsn = env_or("SHIREN_PG_DSN", ""),
				  .brokers = env_or("SHIREN_KAFKA_BROKERS", ""),
				  .group = env_or("PIPE_GROUP", "pipeline"),
				  .topics = topics,
				  .ntopics = 1,
				  .dlq_topic = env_or("PIPE_DLQ", "shiren.dlq.v1"),
				  .producer_name = "pipeline",
				  .batch_max =
					  (int)parse_long(env_or("PIPE_CONSUMER_BATCH", "500")),
				  .max_attempts = 3,
				  .retry_backoff_ms = 50,
				  .apply = apply_cb,
				  .check = check_cb};
	struct consumer *c = consumer_start(&o, lg);
	if (!c)
		return 1;
	while (!stop_flag)
		pause();
	uint64_t a, d, x;
	consumer_stats(c, &a, &d, &x);
	consumer_stop(c);
	log_info(lg, "consumer stopped", LF_I("applied", a), LF_I("duplicates", d), LF_I("dead", x),
		 LOG_END);
	return 0;
}

static int cmd_topics(struct log *lg)
{
	char err[512];
	struct kafka_opts ko = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "")};
	rd_kafka_t *rk = kafka_producer_new(&ko, lg, err, sizeof(err));
	if (!rk)
		return 1;
	const char *t[2] = {env_or("PIPE_TOPIC", ""), env_or("PIPE_DLQ", "shiren.dlq.v1")};
	int rc = kafka_topics_ensure(rk, t, 2, (int)parse_long(env_or("PIPE_PARTITIONS", "3")), 1,
				     15000, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "topics: %s\n", err);
	rd_kafka_destroy(rk);
	return rc < 0 ? 1 : 0;
}

/* Read the DLQ from the start for `secs` seconds; print "dead <n> decode <d> apply <a>". */
static int cmd_dlq_count(struct log *lg, long secs)
{
	char err[512], group[64];
	snprintf(group, sizeof(group), "dlq-count-%d", (int)getpid());
	struct kafka_opts ko = {.brokers = env_or("SHIREN_KAFKA_BROKERS", "")};
	rd_kafka_t *rk = kafka_consumer_new(&ko, group, lg, err, sizeof(err));
	if (!rk)
		return 1;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, env_or("PIPE_DLQ", "shiren.dlq.v1"),
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	const char *topic = env_or("PIPE_TOPIC", "");
	enum { MAXD = 4096 };
	static char seen[MAXD][ENVELOPE_ID_MAX];
	int nseen = 0, ndecode = 0, napply = 0, ninvalid = 0;
	for (long t = 0; t < secs * 10; t++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			Shiren__V1__DeadLetter *dl =
				shiren__v1__dead_letter__unpack(NULL, m->len, m->payload);
			if (dl && strcmp(dl->original_topic, topic) == 0) {
				/* One logical message = one envelope id (undecodable payloads:
				 * their bytes), whatever copies the relay or a crash made. */
				struct envelope_info ei;
				char id[ENVELOPE_ID_MAX];
				if (envelope_peek(dl->original_payload.data,
						  dl->original_payload.len, &ei) == 0)
					snprintf(id, sizeof(id), "%s", ei.message_id);
				else
					snprintf(id, sizeof(id), "raw:%.*s",
						 (int)(dl->original_key.len < 40
							       ? dl->original_key.len
							       : 40),
						 (const char *)dl->original_key.data);
				bool dup = false;
				for (int i = 0; i < nseen && !dup; i++)
					dup = strcmp(seen[i], id) == 0;
				if (!dup && nseen < MAXD) {
					snprintf(seen[nseen], sizeof(seen[nseen]), "%s", id);
					nseen++;
					ndecode += strcmp(dl->reason, "decode") == 0;
					napply += strcmp(dl->reason, "apply") == 0;
					ninvalid += strcmp(dl->reason, "invalid") == 0;
				}
			}
			if (dl)
				shiren__v1__dead_letter__free_unpacked(dl, NULL);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("dead %d decode %d apply %d invalid %d\n", nseen, ndecode, napply, ninvalid);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: pipeline setup|produce|garbage|relay|consume|topics|dlq-count\n");
		return 64;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	struct log *lg = log_new(argv[1], LOG_LEVEL_INFO, stderr);
	int rc = 64;
	const char *cmd = argv[1];
	if (strcmp(cmd, "setup") == 0)
		rc = cmd_setup();
	else if (strcmp(cmd, "produce") == 0 && argc == 5)
		rc = cmd_produce(parse_long(argv[2]), parse_long(argv[3]), parse_long(argv[4]));
	else if (strcmp(cmd, "produce-rate") == 0 && argc == 5)
		rc = cmd_produce_rate(parse_long(argv[2]), parse_long(argv[3]),
				      parse_long(argv[4]));
	else if (strcmp(cmd, "garbage") == 0 && argc == 3)
		rc = cmd_garbage(parse_long(argv[2]));
	else if (strcmp(cmd, "relay") == 0)
		rc = cmd_relay(lg);
	else if (strcmp(cmd, "consume") == 0)
		rc = cmd_consume(lg);
	else if (strcmp(cmd, "topics") == 0)
		rc = cmd_topics(lg);
	else if (strcmp(cmd, "dlq-count") == 0 && argc == 3)
		rc = cmd_dlq_count(lg, parse_long(argv[2]));
	else
		fprintf(stderr, "pipeline: bad arguments\n");
	log_free(lg);
	return rc;
}
