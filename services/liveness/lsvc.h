/* lsvc — the shared state of the shiren-liveness service (the layer above the engine,
 * liveness_*.h): its configuration, the service object the modules hang off, and the module
 * entry points that main() wires together. Design: docs/architecture.md ("Liveness: jobs
 * off the consumer thread") and docs/liveness.md ("The service").
 *
 * Threads: main() owns the event loop (admin server only). The inbox consumer thread
 * (lsvc_queue.c) turns Kafka jobs into rows of liveness_jobs; the worker threads
 * (lsvc_pool.c) claim those rows, run the engine and write the results. Everything in
 * struct lsvc is set up before the threads start and read-only afterwards (the metrics are
 * atomic). */
#ifndef SHIREN_LIVENESS_LSVC_H
#define SHIREN_LIVENESS_LSVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/service.h"

struct liveness_engine;
struct consumer;
struct lsvc_pool;
struct metric;

#define LSVC_SOURCE "shiren-liveness" /* outbox source = service name */
/* NOTIFY channel: a job row was committed (payload empty). */
#define LSVC_JOBS_CHANNEL "shiren_liveness_jobs"

struct lsvc_cfg {
	struct service_cfg svc;
	char *master_key;
	char *model_dir;
	int64_t workers; /* 0: one per online CPU */
	char *consumer_group;
	int64_t max_attempts;
	int64_t default_timeout_ms;
	int64_t max_images;
	int64_t max_image_bytes;
	int64_t max_pixels;
	int64_t max_sequence_pixels;
	int64_t poll_ms;
	/* Filled by the validate hook (main.c), not from the environment: the models are opened
	 * while the configuration is checked, so a missing or damaged file exits 78. */
	struct liveness_engine *engine;
};

struct lsvc_metrics {
	struct metric *jobs_queued;	/* counter: job rows inserted */
	struct metric *jobs_unknown;	/* counter: jobs for a verification this database lacks */
	struct metric *jobs_done;	/* counter: results written */
	struct metric *jobs_dup;	/* counter: claimed but already done elsewhere */
	struct metric *jobs_timeout;	/* counter: deadline passed */
	struct metric *jobs_failed;	/* counter: gave up (attempts, bad inputs) */
	struct metric *job_seconds;	/* histogram: claim to commit */
	struct metric *compute_seconds; /* histogram: engine time */
	struct metric *queue_seconds;	/* histogram: request (job produced) to claim */
	struct metric *busy;		/* gauge: workers running a job */
};

struct lsvc {
	struct lsvc_cfg *cfg;
	struct service *svc;
	struct log *lg;
	struct metrics *metrics;
	const struct liveness_engine *engine;
	uint8_t master[32];
	int nworkers;
	struct consumer *consumer;
	struct lsvc_pool *pool;
	struct lsvc_metrics m;
};

/* ---- lsvc_queue.c: the inbox consumer that fills liveness_jobs ---- */
int lsvc_queue_start(struct lsvc *s) __attribute__((warn_unused_result));
void lsvc_queue_stop(struct lsvc *s);

/* ---- lsvc_pool.c: the worker threads ---- */
int lsvc_pool_start(struct lsvc *s) __attribute__((warn_unused_result));
/* Stop claiming, let the jobs in hand finish within timeout_ms (a job still running then is
 * abandoned: its advisory lock dies with the connection and another worker redoes it). */
void lsvc_pool_stop(struct lsvc *s, int64_t timeout_ms);
bool lsvc_pool_ready(struct lsvc *s);

#endif
