/* shiren-liveness — face pipeline workers: detection, quality, embedding, comparison, liveness.
 * main() declares the configuration, opens the models while checking it (a missing or damaged
 * model exits 78 naming the file), and wires the consumer (lsvc_queue.c) and the worker pool
 * (lsvc_pool.c) onto the shared service runtime. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_nn.h"
#include "liveness/lsvc.h"

#define T struct lsvc_cfg
#define ITEM_INT(name, def, lo, hi, field, help)                                         \
	{                                                                                \
		name, CFG_INT, def, lo, hi, false, false, NULL, offsetof(T, field), help \
	}

static const struct cfg_item liveness_items[] = {
	SERVICE_CFG_ITEMS(struct lsvc_cfg, svc, "127.0.0.1:9103"),
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, true, true, NULL, offsetof(T, master_key),
	 "AES-256 master key (Base64 of 32 bytes or 64 hex digits) for data at rest."},
	{"SHIREN_LIVENESS_MODEL_DIR", CFG_STR, "build/models", 0, 0, false, false, NULL,
	 offsetof(T, model_dir),
	 "Directory of the converted models (deploy/models/fetch.sh output: *.shnn)."},
	ITEM_INT("SHIREN_LIVENESS_WORKERS", "0", 0, 256, workers,
		 "Worker threads (one job each, one engine workspace each); 0: one per online "
		 "CPU."),
	{"SHIREN_LIVENESS_CONSUMER_GROUP", CFG_STR, "shiren-liveness", 0, 0, false, false, NULL,
	 offsetof(T, consumer_group), "Kafka consumer group for shiren.liveness.jobs.v1."},
	ITEM_INT("SHIREN_LIVENESS_MAX_ATTEMPTS", "3", 1, 100, max_attempts,
		 "Claims of one job (a crash mid-job counts) before it is stored as failed."),
	ITEM_INT("SHIREN_LIVENESS_DEFAULT_TIMEOUT_MS", "60000", 100, 86400000, default_timeout_ms,
		 "Deadline of a job that carries none, from its production time."),
	ITEM_INT("SHIREN_LIVENESS_MAX_IMAGES", "64", 1, 1024, max_images,
		 "Images (frames included) one job may reference; more: dead-lettered."),
	ITEM_INT("SHIREN_LIVENESS_MAX_IMAGE_BYTES", "8388608", 1024, 67108864, max_image_bytes,
		 "Largest encoded input image decoded."),
	ITEM_INT("SHIREN_LIVENESS_MAX_PIXELS", "16777216", 1024, 67108864, max_pixels,
		 "Largest decoded image, pixels (Code 419 beyond it); 3 bytes a pixel in memory."),
	ITEM_INT("SHIREN_LIVENESS_MAX_SEQUENCE_PIXELS", "24000000", 1024, 268435456,
		 max_sequence_pixels,
		 "Pixels of all frames of one sequence held at once (bounds a worker's memory)."),
	ITEM_INT("SHIREN_LIVENESS_POLL_MS", "1000", 10, 60000, poll_ms,
		 "Workers re-scan the queue this often without a NOTIFY."),
};

static const char *const liveness_topics[] = {TOPIC_LIVENESS_JOBS, TOPIC_VERIFY_COMPLETED,
					      TOPIC_USAGE, TOPIC_DLQ};

static int check_models(struct lsvc_cfg *c, char *err, size_t errlen)
{
	static const char *const files[] = {LIVENESS_MODEL_DETECT, LIVENESS_MODEL_MESH,
					    LIVENESS_MODEL_GEOMETRY, LIVENESS_MODEL_EMBED};
	char path[4096];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", c->model_dir, files[i]);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			snprintf(err, errlen, "SHIREN_LIVENESS_MODEL_DIR is too long");
			return -ENAMETOOLONG;
		}
		if (access(path, R_OK) != 0) {
			snprintf(err, errlen,
				 "model file %s: %s (run deploy/models/fetch.sh, or set "
				 "SHIREN_LIVENESS_MODEL_DIR)",
				 path, strerror(errno));
			return -ENOENT;
		}
	}
	int rc = liveness_engine_open(c->model_dir, &c->engine);
	if (rc < 0)
		snprintf(err, errlen,
			 "the models in %s do not load: %s (a damaged or incompatible file; "
			 "re-run deploy/models/fetch.sh)",
			 c->model_dir, strerror(-rc));
	return rc;
}

static int liveness_validate(void *p, char *err, size_t errlen)
{
	struct lsvc_cfg *c = p;
	uint8_t key[CRYPTO_AES_KEY_LEN];
	int rc = crypto_parse_key(c->master_key, key);
	crypto_wipe(key, sizeof(key));
	if (rc < 0) {
		snprintf(err, errlen,
			 "SHIREN_MASTER_KEY is not 32 bytes of Base64 or 64 hex digits");
		return rc;
	}
	if (!*c->consumer_group || strlen(c->consumer_group) > 200) {
		snprintf(err, errlen, "SHIREN_LIVENESS_CONSUMER_GROUP must be 1 to 200 characters");
		return -EINVAL;
	}
	return check_models(c, err, errlen);
}

static void register_metrics(struct lsvc *s)
{
	struct metrics *m = s->metrics;
	struct lsvc_metrics *x = &s->m;
	x->jobs_queued = metrics_counter(m, "shiren_liveness_jobs_queued_total",
					 "Jobs received and queued in liveness_jobs", NULL);
	x->jobs_unknown =
		metrics_counter(m, "shiren_liveness_jobs_unknown_total",
				"Jobs for a verification this database lacks (skipped)", NULL);
	x->jobs_done =
		metrics_counter(m, "shiren_liveness_jobs_done_total",
				"Results stored (with their completion and usage event)", NULL);
	x->jobs_dup = metrics_counter(m, "shiren_liveness_jobs_duplicate_total",
				      "Jobs found already done when storing", NULL);
	x->jobs_timeout = metrics_counter(m, "shiren_liveness_jobs_timeout_total",
					  "Jobs that passed their deadline", NULL);
	x->jobs_failed = metrics_counter(m, "shiren_liveness_jobs_failed_total",
					 "Jobs stored as failures", NULL);
	x->job_seconds =
		metrics_histogram(m, "shiren_liveness_job_seconds", "Claim to stored result", NULL,
				  metrics_latency_bounds, metrics_latency_nbounds);
	x->compute_seconds =
		metrics_histogram(m, "shiren_liveness_compute_seconds", "Engine time of a job",
				  NULL, metrics_latency_bounds, metrics_latency_nbounds);
	x->queue_seconds = metrics_histogram(m, "shiren_liveness_queue_seconds",
					     "Job production (the API request) to its claim", NULL,
					     metrics_latency_bounds, metrics_latency_nbounds);
	x->busy = metrics_gauge(m, "shiren_liveness_workers_busy", "Workers running a job", NULL);
}

static void on_shutdown(void *arg)
{
	struct lsvc *s = arg;
	/* Before the relay's drain (hooks run last added first): the results written now are
	 * still published by this process. */
	lsvc_queue_stop(s);
	lsvc_pool_stop(s, s->cfg->svc.shutdown_timeout_ms / 2);
}

static void teardown(void *state)
{
	struct lsvc *s = state;
	if (!s)
		return;
	lsvc_queue_stop(s);
	lsvc_pool_stop(s, s->cfg->svc.shutdown_timeout_ms / 2);
	if (s->pool) {
		/* A worker is still computing and uses this state, the engine, the metrics and
		 * the log, which the runtime frees after us: end the process here. Its job is
		 * not lost: the advisory lock goes with the connection and the job is redone;
		 * outbox rows already committed are published by the next relay. */
		log_warn(s->lg, "exiting with a job still running; it will be redone", LOG_END);
		crypto_wipe(s->master, sizeof(s->master));
		fflush(NULL);
		_exit(0);
	}
	liveness_engine_free(s->cfg->engine);
	s->cfg->engine = NULL;
	crypto_wipe(s->master, sizeof(s->master));
	free(s);
}

static int setup(struct service *svc, void *cfgp, void **ret_state)
{
	struct lsvc_cfg *c = cfgp;
	struct lsvc *s = calloc(1, sizeof(*s));
	int rc;
	if (!s)
		return -ENOMEM;
	*ret_state = s;
	s->cfg = c;
	s->svc = svc;
	s->lg = service_log(svc);
	s->metrics = service_metrics(svc);
	s->engine = c->engine;
	if ((rc = crypto_parse_key(c->master_key, s->master)) < 0)
		return rc;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->nworkers = c->workers > 0 ? (int)c->workers : (int)(cpus > 0 ? cpus : 1);
	/* Parallelism comes from the workers; each job's matrices are too small to split. */
	lnn_blas_set_threads(1);
	register_metrics(s);
	log_info(s->lg, "liveness engine loaded", LF_S("model_dir", c->model_dir),
		 LF_I("workers", s->nworkers), LF_S("blas_core", lnn_blas_core()),
		 LF_S("openblas_coretype", getenv("OPENBLAS_CORETYPE")), LOG_END);
	if ((rc = lsvc_pool_start(s)) < 0) {
		log_error(s->lg, "worker pool cannot start", LF_S("error", strerror(-rc)), LOG_END);
		return rc;
	}
	if ((rc = lsvc_queue_start(s)) < 0 || (rc = service_on_shutdown(svc, on_shutdown, s)) < 0)
		return rc;
	return 0;
}

int main(int argc, char **argv)
{
	static struct lsvc_cfg cfg;
	const struct service_def def = {
		.name = LSVC_SOURCE,
		.summary = "face pipeline workers: detection, quality, embedding, comparison, "
			   "liveness",
		.items = liveness_items,
		.nitems = sizeof(liveness_items) / sizeof(liveness_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct lsvc_cfg, svc),
		.topics = liveness_topics,
		.ntopics = sizeof(liveness_topics) / sizeof(liveness_topics[0]),
		.schema_version = 5, /* 005_liveness: the jobs and results tables */
		.validate = liveness_validate,
		.setup = setup,
		.teardown = teardown,
	};
	int rc = service_main(argc, argv, &def);
	return rc;
}
