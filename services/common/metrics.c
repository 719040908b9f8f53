/* metrics — Prometheus registry and text rendering (metrics.h). */
#include "common/metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_BOUNDS 24

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric {
	enum metric_type type;
	char *name, *help, *labels;
	_Atomic uint64_t count; /* counter value; histogram observation count */
	_Atomic uint64_t bits;	/* gauge value / histogram sum, as double bits */
	size_t nbounds;
	double bounds[METRICS_MAX_BOUNDS];
	_Atomic uint64_t buckets[METRICS_MAX_BOUNDS + 1];
	struct metric *next;
};

struct metrics {
	pthread_mutex_t mu;
	struct metric *head, *tail; /* registration order, grouped by name at render */
};

const double metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1,	 0.25,	0.5,	1,     2.5,  5,	    10};
const size_t metrics_latency_nbounds = sizeof(metrics_latency_bounds) / sizeof(double);

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	struct metric *x = m->head;
	while (x) {
		struct metric *next = x->next;
		free(x->name);
		free(x->help);
		free(x->labels);
		free(x);
		x = next;
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static struct metric *lookup(struct metrics *m, enum metric_type t, const char *name,
			     const char *help, const char *labels, const double *bounds,
			     size_t nbounds)
{
	if (!m)
		return NULL;
	const char *lb = labels ? labels : "";
	pthread_mutex_lock(&m->mu);
	struct metric *x;
	for (x = m->head; x; x = x->next) {
		if (strcmp(x->name, name) == 0) {
			if (x->type != t) {
				x = NULL;
				goto out;
			}
			if (strcmp(x->labels, lb) == 0)
				goto out;
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto out;
	x->type = t;
	x->name = strdup(name);
	x->help = strdup(help ? help : "");
	x->labels = strdup(lb);
	if (!x->name || !x->help || !x->labels) {
		free(x->name);
		free(x->help);
		free(x->labels);
		free(x);
		x = NULL;
		goto out;
	}
	x->nbounds = nbounds > METRICS_MAX_BOUNDS ? METRICS_MAX_BOUNDS : nbounds;
	for (size_t i = 0; i < x->nbounds; i++)
		x->bounds[i] = bounds[i];
	if (m->tail)
		m->tail->next = x;
	else
		m->head = x;
	m->tail = x;
out:
	pthread_mutex_unlock(&m->mu);
	return x;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *labels)
{
	return lookup(m, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *labels)
{
	return lookup(m, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *labels, const double *bounds, size_t nbounds)
{
	return lookup(m, METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

void metrics_counter_add(struct metric *c, uint64_t v)
{
	if (c)
		atomic_fetch_add(&c->count, v);
}

static uint64_t d2u(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double u2d(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

void metrics_gauge_set(struct metric *g, double v)
{
	if (g)
		atomic_store(&g->bits, d2u(v));
}

void metrics_histogram_observe(struct metric *h, double v)
{
	if (!h)
		return;
	size_t i = 0;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	atomic_fetch_add(&h->buckets[i], 1);
	atomic_fetch_add(&h->count, 1);
	uint64_t old = atomic_load(&h->bits);
	while (!atomic_compare_exchange_weak(&h->bits, &old, d2u(u2d(old) + v)))
		;
}

static int render_one(struct evbuffer *o, const struct metric *x)
{
	const char *lb = x->labels;
	bool has = lb[0] != '\0';
	int rc = 0;
	switch (x->type) {
	case METRIC_COUNTER:
		rc = evbuffer_add_printf(o, "%s%s%s%s %llu\n", x->name, has ? "{" : "", lb,
					 has ? "}" : "",
					 (unsigned long long)atomic_load(&x->count));
		break;
	case METRIC_GAUGE:
		rc = evbuffer_add_printf(o, "%s%s%s%s %.17g\n", x->name, has ? "{" : "", lb,
					 has ? "}" : "", u2d(atomic_load(&x->bits)));
		break;
	case METRIC_HISTOGRAM: {
		uint64_t cum = 0;
		for (size_t i = 0; i <= x->nbounds && rc >= 0; i++) {
			cum += atomic_load(&x->buckets[i]);
			char le[32];
			if (i < x->nbounds)
				snprintf(le, sizeof(le), "%g", x->bounds[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			rc = evbuffer_add_printf(o, "%s_bucket{%s%sle=\"%s\"} %llu\n", x->name, lb,
						 has ? "," : "", le, (unsigned long long)cum);
		}
		if (rc >= 0)
			rc = evbuffer_add_printf(o, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %llu\n",
						 x->name, has ? "{" : "", lb, has ? "}" : "",
						 u2d(atomic_load(&x->bits)), x->name,
						 has ? "{" : "", lb, has ? "}" : "",
						 (unsigned long long)atomic_load(&x->count));
		break;
	}
	}
	return rc < 0 ? -ENOMEM : 0;
}

int metrics_render(struct metrics *m, struct evbuffer *out)
{
	static const char *const tn[] = {"counter", "gauge", "histogram"};
	int rc = 0;
	pthread_mutex_lock(&m->mu);
	/* Group series by name: HELP/TYPE once, then every label set of that name. */
	for (struct metric *x = m->head; x && rc == 0; x = x->next) {
		bool first = true;
		for (struct metric *y = m->head; y != x; y = y->next)
			if (strcmp(y->name, x->name) == 0) {
				first = false;
				break;
			}
		if (!first)
			continue;
		if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
					x->name, tn[x->type]) < 0) {
			rc = -ENOMEM;
			break;
		}
		for (struct metric *y = x; y && rc == 0; y = y->next)
			if (strcmp(y->name, x->name) == 0)
				rc = render_one(out, y);
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}
