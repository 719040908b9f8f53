/* service — what every shiren daemon shares around its own logic: the common configuration
 * items, the event loop with SIGTERM/SIGINT handling, the admin HTTP server (/healthz, /readyz,
 * /metrics), and a monitor thread that keeps checking PostgreSQL and Kafka (with backoff, never
 * crashing) and creates the service's topics once the broker is reachable. */
#ifndef SHIREN_COMMON_SERVICE_H
#define SHIREN_COMMON_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct event_base;
struct log;
struct metrics;
struct evhttp;
struct evhttp_request;

/* Configuration every service has. Embed it in the service's config struct and list
 * SERVICE_CFG_ITEMS(struct_type, member, "127.0.0.1:PORT") in its cfg table. */
struct service_cfg {
	char *log_level;
	char *pg_dsn;
	char *kafka_brokers;
	char *admin_addr;
	int64_t topic_partitions;
	int64_t topic_replication;
	int64_t shutdown_timeout_ms;
	char *kafka_compression;
};

#define SERVICE_CFG_ITEMS(T, m, admin_default)                                         \
	{"SHIREN_LOG_LEVEL",                                                           \
	 CFG_ENUM,                                                                     \
	 "info",                                                                       \
	 0,                                                                            \
	 0,                                                                            \
	 false,                                                                        \
	 false,                                                                        \
	 "debug|info|warn|error",                                                      \
	 offsetof(T, m.log_level),                                                     \
	 "Lowest level logged."},                                                      \
		{"SHIREN_PG_DSN",                                                      \
		 CFG_STR,                                                              \
		 NULL,                                                                 \
		 0,                                                                    \
		 0,                                                                    \
		 true,                                                                 \
		 true,                                                                 \
		 NULL,                                                                 \
		 offsetof(T, m.pg_dsn),                                                \
		 "PostgreSQL connection string (libpq keyword/value or URI)."},        \
		{"SHIREN_KAFKA_BROKERS",                                               \
		 CFG_STR,                                                              \
		 NULL,                                                                 \
		 0,                                                                    \
		 0,                                                                    \
		 true,                                                                 \
		 false,                                                                \
		 NULL,                                                                 \
		 offsetof(T, m.kafka_brokers),                                         \
		 "Kafka bootstrap servers, host:port[,host:port]."},                   \
		{"SHIREN_ADMIN_ADDR",                                                  \
		 CFG_ADDR,                                                             \
		 admin_default,                                                        \
		 0,                                                                    \
		 0,                                                                    \
		 false,                                                                \
		 false,                                                                \
		 NULL,                                                                 \
		 offsetof(T, m.admin_addr),                                            \
		 "Admin HTTP listener: /healthz, /readyz, /metrics."},                 \
		{"SHIREN_TOPIC_PARTITIONS",                                            \
		 CFG_INT,                                                              \
		 "3",                                                                  \
		 1,                                                                    \
		 1024,                                                                 \
		 false,                                                                \
		 false,                                                                \
		 NULL,                                                                 \
		 offsetof(T, m.topic_partitions),                                      \
		 "Partitions for topics this service creates."},                       \
		{"SHIREN_TOPIC_REPLICATION",                                           \
		 CFG_INT,                                                              \
		 "1",                                                                  \
		 1,                                                                    \
		 16,                                                                   \
		 false,                                                                \
		 false,                                                                \
		 NULL,                                                                 \
		 offsetof(T, m.topic_replication),                                     \
		 "Replication factor for topics it creates."},                         \
		{"SHIREN_SHUTDOWN_TIMEOUT_MS",                                         \
		 CFG_INT,                                                              \
		 "10000",                                                              \
		 100,                                                                  \
		 600000,                                                               \
		 false,                                                                \
		 false,                                                                \
		 NULL,                                                                 \
		 offsetof(T, m.shutdown_timeout_ms),                                   \
		 "SIGTERM drain budget."},                                             \
	{                                                                              \
		"SHIREN_KAFKA_COMPRESSION", CFG_ENUM, "lz4", 0, 0, false, false,       \
			"none|gzip|snappy|lz4|zstd", offsetof(T, m.kafka_compression), \
			"Producer compression codec."                                  \
	}

/* Topic names (DESIGN §4). */
#define TOPIC_VERIFY_REQUESTED "shiren.verify.requested.v1"
#define TOPIC_LIVENESS_JOBS    "shiren.liveness.jobs.v1"
#define TOPIC_VERIFY_COMPLETED "shiren.verify.completed.v1"
#define TOPIC_USAGE	       "shiren.usage.v1"
#define TOPIC_QUOTA_ALERTS     "shiren.quota.alerts.v1"
#define TOPIC_PHOTOS_EXPORTED  "shiren.photos.exported.v1"
#define TOPIC_DLQ	       "shiren.dlq.v1"

struct service;

typedef bool (*service_ready_fn)(void *arg);
typedef void (*service_hook_fn)(void *arg);

/* Create the loop, metrics registry and admin server. `name` like "shiren-intake"; `cfg` and
 * `lg` are borrowed for the service's lifetime. NULL with a logged reason on failure (e.g. the
 * admin address cannot be bound). */
struct service *service_new(const char *name, const struct service_cfg *cfg, struct log *lg);
struct event_base *service_base(struct service *s);
struct metrics *service_metrics(struct service *s);
struct log *service_log(struct service *s);
const char *service_name(struct service *s);

/* Extra readiness condition shown on /readyz under `name`. */
int service_add_ready_check(struct service *s, const char *name, service_ready_fn fn, void *arg)
	__attribute__((warn_unused_result));
/* Serve `path` on the admin HTTP server with `cb` (libevent's evhttp callback; `arg` borrowed).
 * The admin server accepts GET and HEAD only; the callback runs on the loop thread and must not
 * block. 0, -EEXIST (path taken) or -ENODEV (no admin server). */
int service_add_route(struct service *s, const char *path,
		      void (*cb)(struct evhttp_request *req, void *arg), void *arg)
	__attribute__((warn_unused_result));
/* Topics the monitor creates (if missing) once Kafka is reachable. Copied. */
int service_add_topics(struct service *s, const char *const *topics, size_t n)
	__attribute__((warn_unused_result));
/* Called on the loop thread at SIGTERM/SIGINT, last added first, before the loop exits. */
int service_on_shutdown(struct service *s, service_hook_fn fn, void *arg)
	__attribute__((warn_unused_result));
/* True once PostgreSQL answered, the schema is migrated, Kafka is up and topics exist. */
bool service_infra_ready(struct service *s);
/* The schema counts as migrated only from migration `version` on (schema_migrations); before
 * service_run. 0 (the default): the core tables suffice. */
void service_require_schema(struct service *s, int version);

/* Run until SIGTERM/SIGINT; returns the process exit code (0 after a clean drain). */
int service_run(struct service *s);
void service_free(struct service *s);

/* Handle the command line of a daemon: `--help` prints what it is and its environment table,
 * `--config-markdown` prints the table as Markdown. Returns -1 to continue start-up, or the exit
 * code to return (0 after printing, 64 for an unknown argument). */
int service_cli(int argc, char **argv, const char *name, const char *summary,
		const struct cfg_item *items, size_t n);

/* Start the outbox relay for rows with source = service name, with a /readyz check "outbox"
 * and a shutdown hook that drains it within shutdown_timeout_ms. 0 or -ENOMEM. */
int service_start_relay(struct service *s) __attribute__((warn_unused_result));

/* Common start-up for a main(): parse the log level, load `items` into `cfg_struct`, log the
 * effective config. On a bad value: one log line, returns NULL and the caller exits 78. On
 * success returns the logger (owned by the caller). */
struct log *service_boot(const char *name, const struct cfg_item *items, size_t n, void *cfg_struct,
			 const struct service_cfg *common);

/* A daemon described as data, so every main() is its config table plus its own hooks. */
struct service_def {
	const char *name;    /* "shiren-intake" */
	const char *summary; /* one line for --help */
	const struct cfg_item *items;
	size_t nitems;
	void *cfg;		   /* the service's config struct, filled from `items` */
	size_t common_offset;	   /* offsetof(its struct, its struct service_cfg member) */
	const char *const *topics; /* topics it creates (consumed and produced) */
	size_t ntopics;
	/* The highest migration (deploy/sql/NNN_*.sql) its code needs: not ready before it. */
	int schema_version;
	/* Optional: check loaded values beyond the table (e.g. parse the master key). */
	int (*validate)(void *cfg, char *err, size_t errlen);
	/* Optional: start the service's own parts on `s`; *ret_state is passed to teardown. */
	int (*setup)(struct service *s, void *cfg, void **ret_state);
	void (*teardown)(void *state);
};

/* The whole life of a daemon: CLI, config (exit 78), admin server, monitor, relay, setup, loop,
 * drain. Returns the exit code for main(). */
int service_main(int argc, char **argv, const struct service_def *d);

#endif
