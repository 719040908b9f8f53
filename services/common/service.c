/* service — loop, signals, admin HTTP and the infrastructure monitor shared by the daemons
 * (service.h). */
#include "common/clock.h"
#include "common/service.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/pg.h"

#define SERVICE_MAX_CHECKS 16
#define SERVICE_MAX_HOOKS  16
#define SERVICE_MAX_TOPICS 16

struct ready_check {
	char name[48];
	service_ready_fn fn;
	void *arg;
};

struct hook {
	service_hook_fn fn;
	void *arg;
};

#define SERVICE_REASON_MAX 160

struct service {
	char name[48];
	const struct service_cfg *cfg;
	struct log *lg;
	struct event_base *base;
	struct metrics *metrics;
	struct evhttp *admin;
	struct event *sigterm, *sigint;

	struct ready_check checks[SERVICE_MAX_CHECKS];
	size_t nchecks;
	struct hook hooks[SERVICE_MAX_HOOKS];
	size_t nhooks;
	char *topics[SERVICE_MAX_TOPICS];
	size_t ntopics;

	pthread_t monitor;
	bool monitor_started;
	atomic_bool stop;
	atomic_bool pg_ok, schema_ok, kafka_ok, topics_ok;
	int schema_version; /* the migration this binary needs; 0: the core tables suffice */
	char not_ready_said[4][SERVICE_REASON_MAX]; /* per flag: the reason last logged */
	int exit_code;
};

struct event_base *service_base(struct service *s)
{
	return s->base;
}

struct metrics *service_metrics(struct service *s)
{
	return s->metrics;
}

struct log *service_log(struct service *s)
{
	return s->lg;
}

const char *service_name(struct service *s)
{
	return s->name;
}

bool service_infra_ready(struct service *s)
{
	return atomic_load(&s->pg_ok) && atomic_load(&s->schema_ok) && atomic_load(&s->kafka_ok) &&
	       atomic_load(&s->topics_ok);
}

/* ---- admin HTTP ---- */

static void reply(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Service Unavailable", body);
}

static void healthz_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, "{\"status\":\"ok\"}\n");
	reply(req, 200, "application/json", b);
	evbuffer_free(b);
}

static void readyz_cb(struct evhttp_request *req, void *arg)
{
	struct service *s = arg;
	char buf[1024];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	bool all = true;
	json_obj_begin(&w);
	json_key(&w, "checks");
	json_obj_begin(&w);
	const struct {
		const char *n;
		bool ok;
	} infra[] = {{"postgres", atomic_load(&s->pg_ok)},
		     {"schema", atomic_load(&s->schema_ok)},
		     {"kafka", atomic_load(&s->kafka_ok)},
		     {"topics", atomic_load(&s->topics_ok)}};
	for (size_t i = 0; i < 4; i++) {
		json_key_bool(&w, infra[i].n, infra[i].ok);
		all = all && infra[i].ok;
	}
	for (size_t i = 0; i < s->nchecks; i++) {
		bool ok = s->checks[i].fn(s->checks[i].arg);
		json_key_bool(&w, s->checks[i].name, ok);
		all = all && ok;
	}
	json_obj_end(&w);
	json_key_str(&w, "status", all ? "ready" : "not ready");
	json_obj_end(&w);
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, buf, json_writer_len(&w));
	evbuffer_add(b, "\n", 1);
	reply(req, all ? 200 : 503, "application/json", b);
	evbuffer_free(b);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	struct service *s = arg;
	struct evbuffer *b = evbuffer_new();
	metrics_gauge_set(
		metrics_gauge(s->metrics, "shiren_up", "1 when the process is ready", NULL),
		service_infra_ready(s) ? 1 : 0);
	if (metrics_render(s->metrics, b) < 0) {
		evbuffer_drain(b, evbuffer_get_length(b));
		reply(req, 503, "text/plain", b);
	} else {
		reply(req, 200, "text/plain; version=0.0.4", b);
	}
	evbuffer_free(b);
}

static void notfound_cb(struct evhttp_request *req, void *arg)
{
	evhttp_send_error(req, 404, "Not Found");
}

static int admin_start(struct service *s)
{
	char host[256];
	int port;
	if (cfg_split_addr(s->cfg->admin_addr, host, sizeof(host), &port) < 0)
		return -EINVAL;
	s->admin = evhttp_new(s->base);
	if (!s->admin)
		return -ENOMEM;
	evhttp_set_max_headers_size(s->admin, 8192);
	evhttp_set_max_body_size(s->admin, 4096);
	evhttp_set_allowed_methods(s->admin, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(s->admin, 10);
	evhttp_set_cb(s->admin, "/healthz", healthz_cb, s);
	evhttp_set_cb(s->admin, "/readyz", readyz_cb, s);
	evhttp_set_cb(s->admin, "/metrics", metrics_cb, s);
	evhttp_set_gencb(s->admin, notfound_cb, s);
	if (!evhttp_bind_socket_with_handle(s->admin, host, (ev_uint16_t)port))
		return -EADDRINUSE;
	return 0;
}

/* ---- infrastructure monitor ---- */

/* Set a readiness flag; log when it turns ready, and when it is not ready for a reason not
 * logged yet (also the first time: every flag starts false). Monitor thread only. */
static void set_flag(struct service *s, atomic_bool *flag, bool v, const char *what,
		     const char *err)
{
	atomic_bool *const flags[] = {&s->pg_ok, &s->schema_ok, &s->kafka_ok, &s->topics_ok};
	char *said = NULL;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i] == flag)
			said = s->not_ready_said[i];
	bool old = atomic_exchange(flag, v);
	if (v) {
		if (said)
			said[0] = '\0';
		if (!old)
			log_info(s->lg, "dependency ready", LF_S("check", what), LOG_END);
		return;
	}
	if (!err)
		err = "";
	if (said && old == v && strncmp(said, err, SERVICE_REASON_MAX - 1) == 0)
		return;
	if (said)
		(void)snprintf(said, SERVICE_REASON_MAX, "%s", err);
	else if (old == v)
		return;
	log_warn(s->lg, "dependency not ready", LF_S("check", what), LF_S("error", err), LOG_END);
}

static void monitor_pg(struct service *s, PGconn **conn)
{
	char err[512] = "";
	if (!*conn && pg_connect(s->cfg->pg_dsn, s->name, conn, err, sizeof(err)) < 0) {
		set_flag(s, &s->pg_ok, false, "postgres", err);
		set_flag(s, &s->schema_ok, false, "schema", "postgres unreachable");
		return;
	}
	PGresult *r = NULL;
	int rc = pg_exec(*conn,
			 "SELECT count(*) FROM pg_tables WHERE tablename IN ('schema_migrations', "
			 "'outbox', 'inbox')",
			 0, NULL, &r, err, sizeof(err));
	if (rc < 0) {
		set_flag(s, &s->pg_ok, false, "postgres", err);
		PQfinish(*conn);
		*conn = NULL;
		return;
	}
	bool migrated = strcmp(PQgetvalue(r, 0, 0), "3") == 0;
	PQclear(r);
	set_flag(s, &s->pg_ok, true, "postgres", NULL);
	if (!migrated) {
		set_flag(s, &s->schema_ok, false, "schema",
			 "tables missing: run `shirenctl migrate` first");
		return;
	}
	if (s->schema_version <= 0) {
		set_flag(s, &s->schema_ok, true, "schema", NULL);
		return;
	}
	/* A binary newer than the database (an upgrade that skipped the migration) would fail
	 * on tables it expects: not ready, with what to do, until the migration has run. */
	if (pg_exec(*conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, &r,
		    err, sizeof(err)) < 0) {
		set_flag(s, &s->schema_ok, false, "schema", err);
		return;
	}
	long have = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	(void)snprintf(err, sizeof(err),
		       "the database is at migration %ld and this binary needs %d: run `shirenctl "
		       "migrate`",
		       have, s->schema_version);
	set_flag(s, &s->schema_ok, have >= s->schema_version, "schema", err);
}

static void monitor_kafka(struct service *s, rd_kafka_t *rk)
{
	bool up = kafka_broker_up(rk, 2000);
	set_flag(s, &s->kafka_ok, up, "kafka", "no broker reachable");
	if (!up || atomic_load(&s->topics_ok))
		return;
	char err[512] = "";
	if (s->ntopics == 0 ||
	    kafka_topics_ensure(rk, (const char *const *)s->topics, s->ntopics,
				(int)s->cfg->topic_partitions, (int)s->cfg->topic_replication,
				10000, err, sizeof(err)) == 0)
		set_flag(s, &s->topics_ok, true, "topics", NULL);
	else
		set_flag(s, &s->topics_ok, false, "topics", err);
}

static void *monitor_main(void *arg)
{
	struct service *s = arg;
	char err[512];
	struct kafka_opts ko = {.brokers = s->cfg->kafka_brokers, .client_id = s->name};
	rd_kafka_t *rk = kafka_producer_new(&ko, s->lg, err, sizeof(err));
	if (!rk)
		log_error(s->lg, "kafka client cannot be created", LF_S("error", err), LOG_END);
	PGconn *conn = NULL;
	while (!atomic_load(&s->stop)) {
		monitor_pg(s, &conn);
		if (rk)
			monitor_kafka(s, rk);
		clock_nap_ms(&s->stop, service_infra_ready(s) ? 5000 : 1000);
	}
	PQfinish(conn);
	if (rk)
		rd_kafka_destroy(rk);
	return NULL;
}

/* ---- lifecycle ---- */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct service *s = arg;
	log_info(s->lg, "shutting down", LF_S("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
		 LOG_END);
	event_del(s->sigterm);
	event_del(s->sigint);
	if (s->admin) {
		evhttp_free(s->admin);
		s->admin = NULL;
	}
	for (size_t i = s->nhooks; i-- > 0;)
		s->hooks[i].fn(s->hooks[i].arg);
	event_base_loopexit(s->base, NULL);
}

struct service *service_new(const char *name, const struct service_cfg *cfg, struct log *lg)
{
	struct service *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->cfg = cfg;
	s->lg = lg;
	s->base = event_base_new();
	s->metrics = metrics_new();
	if (!s->base || !s->metrics)
		goto fail;
	s->sigterm = evsignal_new(s->base, SIGTERM, signal_cb, s);
	s->sigint = evsignal_new(s->base, SIGINT, signal_cb, s);
	if (!s->sigterm || !s->sigint || event_add(s->sigterm, NULL) < 0 ||
	    event_add(s->sigint, NULL) < 0)
		goto fail;
	signal(SIGPIPE, SIG_IGN);
	int rc = admin_start(s);
	if (rc < 0) {
		log_error(lg, "admin listener cannot be started", LF_S("addr", cfg->admin_addr),
			  LF_S("error", strerror(-rc)), LOG_END);
		goto fail;
	}
	return s;
fail:
	service_free(s);
	return NULL;
}

int service_add_ready_check(struct service *s, const char *name, service_ready_fn fn, void *arg)
{
	if (s->nchecks >= SERVICE_MAX_CHECKS)
		return -ENOSPC;
	struct ready_check *c = &s->checks[s->nchecks++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->fn = fn;
	c->arg = arg;
	return 0;
}

int service_add_route(struct service *s, const char *path,
		      void (*cb)(struct evhttp_request *req, void *arg), void *arg)
{
	if (!s->admin)
		return -ENODEV;
	return evhttp_set_cb(s->admin, path, cb, arg) == 0 ? 0 : -EEXIST;
}

int service_add_topics(struct service *s, const char *const *topics, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->ntopics >= SERVICE_MAX_TOPICS)
			return -ENOSPC;
		s->topics[s->ntopics] = strdup(topics[i]);
		if (!s->topics[s->ntopics])
			return -ENOMEM;
		s->ntopics++;
	}
	return 0;
}

int service_on_shutdown(struct service *s, service_hook_fn fn, void *arg)
{
	if (s->nhooks >= SERVICE_MAX_HOOKS)
		return -ENOSPC;
	s->hooks[s->nhooks].fn = fn;
	s->hooks[s->nhooks].arg = arg;
	s->nhooks++;
	return 0;
}

void service_require_schema(struct service *s, int version)
{
	s->schema_version = version;
}

int service_run(struct service *s)
{
	if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0) {
		log_error(s->lg, "cannot start monitor thread", LOG_END);
		return 1;
	}
	s->monitor_started = true;
	log_info(s->lg, "started", LF_S("admin", s->cfg->admin_addr), LOG_END);
	event_base_dispatch(s->base);
	atomic_store(&s->stop, true);
	pthread_join(s->monitor, NULL);
	s->monitor_started = false;
	log_info(s->lg, "stopped", LOG_END);
	return s->exit_code;
}

void service_free(struct service *s)
{
	if (!s)
		return;
	if (s->monitor_started) {
		atomic_store(&s->stop, true);
		pthread_join(s->monitor, NULL);
	}
	if (s->admin)
		evhttp_free(s->admin);
	if (s->sigterm)
		event_free(s->sigterm);
	if (s->sigint)
		event_free(s->sigint);
	for (size_t i = 0; i < s->ntopics; i++)
		free(s->topics[i]);
	metrics_free(s->metrics);
	if (s->base)
		event_base_free(s->base);
	free(s);
}

struct log *service_boot(const char *name, const struct cfg_item *items, size_t n, void *cfg_struct,
			 const struct service_cfg *common)
{
	struct log *lg = log_new(name, LOG_LEVEL_INFO, stdout);
	if (!lg)
		return NULL;
	char err[512];
	if (cfg_load(items, n, cfg_struct, err, sizeof(err)) < 0) {
		log_error(lg, "bad configuration", LF_S("error", err), LOG_END);
		cfg_free(items, n, cfg_struct);
		log_free(lg);
		return NULL;
	}
	enum log_level lvl;
	if (common->log_level && log_level_parse(common->log_level, &lvl) == 0)
		log_set_level(lg, lvl);
	log_route_libevent(lg);
	cfg_log_effective(lg, items, n, cfg_struct);
	return lg;
}

int service_cli(int argc, char **argv, const char *name, const char *summary,
		const struct cfg_item *items, size_t n)
{
	if (argc <= 1)
		return -1;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s — %s\n\nUsage: %s\n\nConfigured only by environment variables; logs "
		       "JSON lines on stdout; SIGTERM drains and exits 0; exit 78 on bad "
		       "configuration.\n\n",
		       name, summary, name);
		cfg_print_markdown(items, n);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--config-markdown") == 0) {
		cfg_print_markdown(items, n);
		return 0;
	}
	fprintf(stderr, "%s: unknown argument \"%s\" (try --help)\n", name, argv[1]);
	return 64;
}

static bool relay_ready(void *arg)
{
	return outbox_relay_ready(arg);
}

struct relay_hook {
	struct service *s;
	struct outbox_relay *r;
};

static void relay_stop_hook(void *arg)
{
	struct relay_hook *h = arg;
	outbox_relay_stop(h->r, (int)h->s->cfg->shutdown_timeout_ms);
	free(h);
}

int service_start_relay(struct service *s)
{
	char codec[64];
	snprintf(codec, sizeof(codec), "compression.codec=%s", s->cfg->kafka_compression);
	const char *extra[] = {codec, NULL};
	struct outbox_relay_opts o = {.pg_dsn = s->cfg->pg_dsn,
				      .brokers = s->cfg->kafka_brokers,
				      .source = s->name,
				      .metrics = s->metrics,
				      .kafka_extra = extra};
	struct relay_hook *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->s = s;
	h->r = outbox_relay_start(&o, s->lg);
	if (!h->r) {
		free(h);
		return -ENOMEM;
	}
	if (service_add_ready_check(s, "outbox", relay_ready, h->r) < 0 ||
	    service_on_shutdown(s, relay_stop_hook, h) < 0) {
		outbox_relay_stop(h->r, 0);
		free(h);
		return -ENOSPC;
	}
	return 0;
}

int service_main(int argc, char **argv, const struct service_def *d)
{
	int rc = service_cli(argc, argv, d->name, d->summary, d->items, d->nitems);
	if (rc >= 0)
		return rc;
	struct service_cfg *common = (struct service_cfg *)((char *)d->cfg + d->common_offset);
	struct log *lg = service_boot(d->name, d->items, d->nitems, d->cfg, common);
	if (!lg)
		return CFG_EXIT_CONFIG;
	void *state = NULL;
	struct service *s = NULL;
	rc = 1;
	if (d->validate) {
		char err[256] = "";
		if (d->validate(d->cfg, err, sizeof(err)) < 0) {
			log_error(lg, "bad configuration", LF_S("error", err), LOG_END);
			rc = CFG_EXIT_CONFIG;
			goto out;
		}
	}
	s = service_new(d->name, common, lg);
	if (!s)
		goto out;
	service_require_schema(s, d->schema_version);
	if (service_add_topics(s, d->topics, d->ntopics) < 0 || service_start_relay(s) < 0) {
		log_error(lg, "start-up failed", LOG_END);
		goto out;
	}
	if (d->setup && d->setup(s, d->cfg, &state) < 0) {
		log_error(lg, "start-up failed", LOG_END);
		goto out;
	}
	rc = service_run(s);
out:
	if (d->teardown)
		d->teardown(state);
	service_free(s);
	cfg_free(d->items, d->nitems, d->cfg);
	log_free(lg);
	return rc;
}
