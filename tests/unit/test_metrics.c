/* Unit tests for common/metrics: registry, types, Prometheus text. */
#include "common/metrics.h"

#include <event2/buffer.h>
#include <stdlib.h>

#include "unit.h"

static char *render(struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	if (metrics_render(m, b) < 0)
		return NULL;
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static void test_counter_and_labels(void)
{
	struct metrics *m = metrics_new();
	struct metric *a = metrics_counter(m, "req_total", "Requests", "code=\"200\"");
	struct metric *b = metrics_counter(m, "req_total", "Requests", "code=\"500\"");
	CHECK(a != b);
	CHECK(metrics_counter(m, "req_total", "Requests", "code=\"200\"") == a);
	metrics_counter_add(a, 3);
	metrics_counter_add(b, 1);
	CHECK(metrics_gauge(m, "req_total", "x", NULL) == NULL); /* type clash */
	char *s = render(m);
	REQUIRE(s != NULL);
	CHECK_STR(s, "# HELP req_total Requests\n# TYPE req_total counter\n"
		     "req_total{code=\"200\"} 3\nreq_total{code=\"500\"} 1\n");
	free(s);
	metrics_free(m);
}

static void test_histogram(void)
{
	struct metrics *m = metrics_new();
	const double bounds[] = {0.1, 1};
	struct metric *h = metrics_histogram(m, "lat_seconds", "Latency", NULL, bounds, 2);
	metrics_histogram_observe(h, 0.05);
	metrics_histogram_observe(h, 0.5);
	metrics_histogram_observe(h, 0.5);
	metrics_histogram_observe(h, 7);
	char *s = render(m);
	REQUIRE(s != NULL);
	CHECK(strstr(s, "lat_seconds_bucket{le=\"0.1\"} 1\n") != NULL);
	CHECK(strstr(s, "lat_seconds_bucket{le=\"1\"} 3\n") != NULL);
	CHECK(strstr(s, "lat_seconds_bucket{le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(s, "lat_seconds_sum 8.05") != NULL);
	CHECK(strstr(s, "lat_seconds_count 4\n") != NULL);
	free(s);
	metrics_free(m);
}

static void test_gauge_and_null_safety(void)
{
	struct metrics *m = metrics_new();
	metrics_gauge_set(metrics_gauge(m, "up", "Up", NULL), 1);
	metrics_counter_add(NULL, 1);
	metrics_histogram_observe(NULL, 1);
	char *s = render(m);
	CHECK(s && strstr(s, "# TYPE up gauge\nup 1\n") != NULL);
	free(s);
	metrics_free(m);
	metrics_free(NULL);
}

UNIT_MAIN("metrics", UNIT_CASE(test_counter_and_labels), UNIT_CASE(test_histogram),
	  UNIT_CASE(test_gauge_and_null_safety))
