/* intake_work — a small thread pool for work that must not run on the event loop: image URL
 * downloads (blocking libcurl), Base64 decoding and signature checks of large requests. Jobs
 * run in FIFO order on `nthreads` threads; each completion is delivered back on the loop thread
 * through a pipe. Bounded: at most `max_queue` jobs wait. */
#ifndef SHIREN_INTAKE_WORK_H
#define SHIREN_INTAKE_WORK_H

#include <stddef.h>

struct event_base;
struct intake_work;

typedef int (*intake_work_fn)(void *arg);		/* on a pool thread */
typedef void (*intake_work_done_fn)(void *arg, int rc); /* on the loop thread */

/* NULL on failure. `base` is borrowed. */
struct intake_work *intake_work_new(struct event_base *base, int nthreads, size_t max_queue);
/* 0, -EAGAIN (queue full), -ESHUTDOWN (freeing) or -ENOMEM. */
int intake_work_submit(struct intake_work *w, intake_work_fn fn, intake_work_done_fn done,
		       void *arg) __attribute__((warn_unused_result));
/* Runs what is queued, joins the threads, delivers the remaining completions from inside this
 * call. Accepts NULL. */
void intake_work_free(struct intake_work *w);

#endif
