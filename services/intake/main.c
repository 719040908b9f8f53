/* shiren-intake — the Cloudauth-compatible public API (InitFaceVerify, DescribeFaceVerify, ...).
 * main() declares the configuration and wires the modules onto the shared service runtime:
 * setup builds the server (intake_server.h), teardown drains and frees it. */
#include <errno.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/consumer.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/service.h"
#include "intake/intake_fetch.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"
#include "intake/intake_throttle.h"
#include "intake/intake_work.h"

#define T struct intake_cfg
#define ITEM_INT(name, def, lo, hi, field, help)                                         \
	{                                                                                \
		name, CFG_INT, def, lo, hi, false, false, NULL, offsetof(T, field), help \
	}
#define ITEM_BOOL(name, def, field, help)                                               \
	{                                                                               \
		name, CFG_BOOL, def, 0, 0, false, false, NULL, offsetof(T, field), help \
	}

static const struct cfg_item intake_items[] = {
	SERVICE_CFG_ITEMS(struct intake_cfg, svc, "127.0.0.1:9101"),
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, true, true, NULL, offsetof(T, master_key),
	 "AES-256 master key (Base64 of 32 bytes or 64 hex digits) for data at rest."},
	{"SHIREN_INTAKE_ADDR", CFG_ADDR, "127.0.0.1:8900", 0, 0, false, false, NULL,
	 offsetof(T, listen_addr), "Public API listener (POST/GET /), host:port."},
	{"SHIREN_INTAKE_PUBLIC_URL", CFG_STR, "", 0, 0, false, false, NULL, offsetof(T, public_url),
	 "Base URL of CertifyUrl links, e.g. https://verify.example.com (default: "
	 "http://SHIREN_INTAKE_ADDR)."},
	ITEM_INT("SHIREN_INTAKE_MAX_BODY_BYTES", "8388608", 65536, 67108864, max_body,
		 "Largest request body (after de-chunking); larger: HTTP 413."),
	ITEM_INT("SHIREN_INTAKE_MAX_REQUEST_LINE", "16384", 1024, 1048576, max_request_line,
		 "Longest request line (method, URL, version); longer: 414 RequestLineTooLong."),
	ITEM_INT("SHIREN_INTAKE_MAX_HEADER_BYTES", "16384", 1024, 1048576, max_headers,
		 "Header bytes allowed on top of the request line (evhttp counts both together)."),
	ITEM_INT("SHIREN_INTAKE_READ_TIMEOUT_S", "30", 1, 3600, read_timeout_s,
		 "Idle/read timeout of a client connection, seconds."),
	ITEM_INT("SHIREN_INTAKE_DEADLINE_MS", "2700", 100, 60000, deadline_ms,
		 "Answer every request within this time (503 ServiceUnavailable otherwise); the "
		 "SDKs time out at 3000."),
	ITEM_INT("SHIREN_INTAKE_PG_THREADS", "8", 1, 256, pg_threads,
		 "PostgreSQL worker threads (one connection each)."),
	ITEM_INT("SHIREN_INTAKE_PG_QUEUE", "4096", 1, 1000000, pg_queue,
		 "Queued database jobs before requests get 503."),
	ITEM_INT("SHIREN_INTAKE_WORK_THREADS", "4", 1, 256, work_threads,
		 "Worker threads for image downloads, Base64 decoding, large signatures."),
	ITEM_INT("SHIREN_INTAKE_WORK_QUEUE", "1024", 1, 1000000, work_queue,
		 "Queued worker jobs before requests get 503."),
	ITEM_INT("SHIREN_INTAKE_KEY_CACHE_MS", "5000", 0, 600000, key_cache_ms,
		 "How long an AccessKey lookup is reused: a disabled key is refused after at most "
		 "this long."),
	ITEM_INT("SHIREN_INTAKE_THROTTLE_QPS", "50", 0, 1000000, throttle_qps,
		 "Requests per second per tenant (token bucket); 0 turns throttling off."),
	ITEM_INT("SHIREN_INTAKE_THROTTLE_BURST", "100", 1, 1000000, throttle_burst,
		 "Bucket size: requests a tenant may send at once."),
	ITEM_INT("SHIREN_INTAKE_FETCH_TIMEOUT_MS", "2000", 100, 30000, fetch_timeout_ms,
		 "FaceContrastPictureUrl download time limit (Code 422 beyond it)."),
	ITEM_INT("SHIREN_INTAKE_FETCH_MAX_BYTES", "1048576", 1024, 16777216, fetch_max_bytes,
		 "Largest reference image, inline or downloaded (Code 421 beyond it)."),
	ITEM_BOOL("SHIREN_INTAKE_FETCH_ALLOW_PRIVATE", "false", fetch_allow_private,
		  "Allow FaceContrastPictureUrl to reach loopback/private addresses (no proxy)."),
	ITEM_INT("SHIREN_INTAKE_CERTIFY_URL_TTL_S", "1800", 60, 86400, certify_url_ttl_s,
		 "Validity of a CertifyUrl's one-time token, seconds."),
	ITEM_INT("SHIREN_INTAKE_PHOTO_RETENTION_S", "82800", 60, 31536000, photo_retention_s,
		 "DescribeFaceVerify returns photos younger than this (23 h)."),
	ITEM_BOOL("SHIREN_INTAKE_CALLBACK_ALLOW_HTTP", "false", callback_allow_http,
		  "Accept http:// CallbackUrl (API.md requires https)."),
	{"SHIREN_INTAKE_CONSUMER_GROUP", CFG_STR, "shiren-intake", 0, 0, false, false, NULL,
	 offsetof(T, consumer_group), "Kafka consumer group for shiren.verify.completed.v1."},
	{"SHIREN_INTAKE_STATS_TZ", CFG_STR, "Asia/Shanghai", 0, 0, false, false, NULL,
	 offsetof(T, stats_tz), "Time zone of the days of DescribePageFaceVerifyData."},
	ITEM_INT("SHIREN_INTAKE_SYNC_WAIT_MS", "2500", 100, 60000, sync_wait_ms,
		 "Contrast/Liveness/CompareFaceVerify wait this long (from arrival) for the "
		 "result, then answer Code 500 with the CertifyId (at most the request deadline "
		 "less 100 ms)."),
	ITEM_INT("SHIREN_INTAKE_FRAMES_MAX", "40", 1, 64, frames_max,
		 "Frames one H5 capture may upload (POST /h5/<token>/frames)."),
	ITEM_INT("SHIREN_INTAKE_FRAME_MAX_BYTES", "262144", 4096, 1048576, frame_max_bytes,
		 "Largest uploaded frame, bytes."),
	ITEM_INT("SHIREN_INTAKE_FRAME_MAX_SIDE", "1280", 64, 4096, frame_max_side,
		 "Largest frame width or height, pixels."),
	ITEM_INT("SHIREN_INTAKE_FRAMES_MAX_PIXELS", "24000000", 4096, 268435456, frames_max_pixels,
		 "Pixels of all frames of one upload (keep at most SHIREN_LIVENESS_MAX_SEQUENCE_"
		 "PIXELS)."),
	ITEM_INT("SHIREN_INTAKE_CAPTURE_TIMEOUT_MS", "60000", 1000, 3600000, capture_timeout_ms,
		 "Deadline of an uploaded capture's liveness job (then: a timeout result)."),
	ITEM_INT("SHIREN_INTAKE_RISK_FAILURES", "2", 0, 1000, risk_failures,
		 "An H5 capture gets the escalated challenge when the same person (CertType and "
		 "CertNo) failed this many verifications of the tenant within "
		 "SHIREN_INTAKE_RISK_WINDOW_S (0: never)."),
	ITEM_INT("SHIREN_INTAKE_RISK_WINDOW_S", "86400", 60, 2592000, risk_window_s,
		 "Window of SHIREN_INTAKE_RISK_FAILURES, seconds."),
};

static const char *const intake_topics[] = {TOPIC_LIVENESS_JOBS, TOPIC_VERIFY_REQUESTED,
					    TOPIC_USAGE, TOPIC_VERIFY_COMPLETED, TOPIC_DLQ};

static bool tz_ok(const char *tz)
{
	size_t n = strlen(tz);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-",
			    tz[i]))
			return false;
	return true;
}

static int intake_validate(void *p, char *err, size_t errlen)
{
	struct intake_cfg *c = p;
	uint8_t key[CRYPTO_AES_KEY_LEN];
	int rc = crypto_parse_key(c->master_key, key);
	crypto_wipe(key, sizeof(key));
	if (rc < 0) {
		snprintf(err, errlen,
			 "SHIREN_MASTER_KEY is not 32 bytes of Base64 or 64 hex digits");
		return rc;
	}
	size_t pl = strlen(c->public_url);
	if (pl && (pl >= 400 || (strncmp(c->public_url, "http://", 7) != 0 &&
				 strncmp(c->public_url, "https://", 8) != 0))) {
		snprintf(err, errlen, "SHIREN_INTAKE_PUBLIC_URL must be an http(s) URL");
		return -EINVAL;
	}
	if (!tz_ok(c->stats_tz)) {
		snprintf(err, errlen, "SHIREN_INTAKE_STATS_TZ is not a time zone name");
		return -EINVAL;
	}
	if (!*c->consumer_group || strlen(c->consumer_group) > 200) {
		snprintf(err, errlen, "SHIREN_INTAKE_CONSUMER_GROUP must be 1 to 200 characters");
		return -EINVAL;
	}
	return 0;
}

/* Keys derived from the master key for the keyed hashes (never the sealing key itself). */
static int derive(const uint8_t master[32], const char *label, uint8_t out[32])
{
	return crypto_hmac(CRYPTO_HASH_SHA256, master, 32, label, strlen(label), out);
}

static bool pool_ready(void *arg)
{
	return pg_pool_ready(arg);
}

static void on_shutdown(void *arg)
{
	struct intake *s = arg;
	intake_http_stop_accepting(s);
	if (s->purge_timer)
		event_del(s->purge_timer);
	/* Before the runtime's "stopped" line: results arriving now are applied by the next
	 * consumer of the group. */
	consumer_stop(s->consumer);
	s->consumer = NULL;
}

static void teardown(void *state)
{
	struct intake *s = state;
	if (!s)
		return;
	if (s->http)
		intake_http_drain(s, s->cfg->svc.shutdown_timeout_ms);
	consumer_stop(s->consumer);
	pg_pool_free(s->pool);
	intake_sync_stop(s); /* after the pool: its last looks are done */
	intake_work_free(s->work);
	if (s->purge_timer)
		event_free(s->purge_timer);
	if (s->purge_arg_free)
		s->purge_arg_free(s->purge_arg);
	intake_auth_done(s);
	intake_throttle_free(s->throttle);
	intake_fetch_global_done();
	crypto_wipe(s->master, sizeof(s->master));
	crypto_wipe(s->k_cert_no, sizeof(s->k_cert_no));
	crypto_wipe(s->k_fingerprint, sizeof(s->k_fingerprint));
	free(s);
}

static int setup(struct service *svc, void *cfgp, void **ret_state)
{
	const struct intake_cfg *c = cfgp;
	struct intake *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	if (!s)
		return -ENOMEM;
	*ret_state = s;
	s->cfg = c;
	s->svc = svc;
	s->base = service_base(svc);
	s->lg = service_log(svc);
	s->metrics = service_metrics(svc);
	if ((rc = crypto_parse_key(c->master_key, s->master)) < 0 ||
	    (rc = derive(s->master, "shiren/intake/cert-no-hash/v1", s->k_cert_no)) < 0 ||
	    (rc = derive(s->master, "shiren/intake/request-fingerprint/v1", s->k_fingerprint)) < 0)
		goto fail;
	if (*c->public_url) {
		snprintf(s->public_url, sizeof(s->public_url), "%s", c->public_url);
	} else {
		snprintf(s->public_url, sizeof(s->public_url), "http://%s", c->listen_addr);
		if (strncmp(c->listen_addr, "0.0.0.0:", 8) == 0 || c->listen_addr[0] == '[')
			log_warn(s->lg,
				 "SHIREN_INTAKE_PUBLIC_URL is not set: CertifyUrl links will name "
				 "the "
				 "listen address",
				 LF_S("public_url", s->public_url), LOG_END);
	}
	size_t pl = strlen(s->public_url);
	while (pl > 0 && s->public_url[pl - 1] == '/')
		s->public_url[--pl] = '\0';
	if ((rc = intake_fetch_global_init()) < 0)
		goto fail;
	rc = -ENOMEM;
	s->m_untracked =
		metrics_counter(s->metrics, "shiren_intake_throttle_untracked_total",
				"Requests allowed because the throttle table was full", NULL);
	s->throttle =
		intake_throttle_new((double)c->throttle_qps, (double)c->throttle_burst, 65536);
	s->pool = pg_pool_new(s->base, c->svc.pg_dsn, "shiren-intake", (int)c->pg_threads,
			      (size_t)c->pg_queue, s->lg);
	s->work = intake_work_new(s->base, (int)c->work_threads, (size_t)c->work_queue);
	if (!s->throttle || !s->pool || !s->work || intake_auth_init(s) < 0)
		goto fail;
	if ((rc = service_add_ready_check(svc, "pg_pool", pool_ready, s->pool)) < 0 ||
	    (rc = intake_store_start_purge(s)) < 0 || (rc = intake_completed_start(s)) < 0 ||
	    (rc = intake_sync_start(s)) < 0)
		goto fail;
	if ((rc = intake_http_start(s)) < 0) {
		log_error(s->lg, "public listener cannot be started", LF_S("addr", c->listen_addr),
			  LF_S("error", strerror(-rc)), LOG_END);
		goto fail;
	}
	if ((rc = service_on_shutdown(svc, on_shutdown, s)) < 0)
		goto fail;
	log_info(s->lg, "public API listening", LF_S("addr", c->listen_addr),
		 LF_S("public_url", s->public_url), LOG_END);
	return 0;
fail:
	return rc < 0 ? rc : -EIO;
}

int main(int argc, char **argv)
{
	static struct intake_cfg cfg;
	const struct service_def def = {
		.name = INTAKE_SOURCE,
		.summary = "the Cloudauth-compatible public API (InitFaceVerify, "
			   "DescribeFaceVerify, ...)",
		.items = intake_items,
		.nitems = sizeof(intake_items) / sizeof(intake_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct intake_cfg, svc),
		.topics = intake_topics,
		.ntopics = sizeof(intake_topics) / sizeof(intake_topics[0]),
		.schema_version = 6, /* 006_h5_risk: h5_sessions.risk */
		.validate = intake_validate,
		.setup = setup,
		.teardown = teardown,
	};
	return service_main(argc, argv, &def);
}
