/* metrics — a small Prometheus registry: counters, gauges and histograms with a fixed label
 * set each, rendered in the text exposition format for /metrics. Updates are lock-free atomics
 * and safe from any thread; lookups by (name, labels) take the registry lock, so hot paths keep
 * the returned pointer. */
#ifndef SHIREN_COMMON_METRICS_H
#define SHIREN_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Find or create. `labels` is the rendered label list without braces, e.g.
 * `action="InitFaceVerify",code="200"`, or NULL. The name/help/labels are copied. Returns NULL
 * only on allocation failure or when `name` exists with another type (both safe to pass to
 * the update functions, which ignore NULL). */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *labels);
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *labels);
/* `bounds` are the upper bounds of the buckets in ascending order (seconds for latencies);
 * +Inf is implied. At most 24 bounds. */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *labels, const double *bounds, size_t nbounds);

void metrics_counter_add(struct metric *c, uint64_t v);
void metrics_gauge_set(struct metric *g, double v);
void metrics_histogram_observe(struct metric *h, double v);

/* Default latency buckets, seconds: 0.5 ms .. 10 s. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_nbounds;

/* Append the whole registry in Prometheus text format. 0 or -ENOMEM. */
int metrics_render(struct metrics *m, struct evbuffer *out) __attribute__((warn_unused_result));

#endif
