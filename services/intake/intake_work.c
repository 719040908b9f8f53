/* intake_work — thread pool with completions delivered on the loop (intake_work.h). */
#include "intake/intake_work.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
	intake_work_fn fn;
	intake_work_done_fn done;
	void *arg;
	int rc;
	struct job *next;
};

struct intake_work {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;	   /* waiting */
	struct job *done_head, *done_tail; /* finished, for the loop */
	size_t queued, max_queue;
	bool stopping;
	pthread_t *threads;
	int nthreads;
	int pipefd[2];
	struct event *wake;
};

static void deliver(struct intake_work *w)
{
	pthread_mutex_lock(&w->mu);
	struct job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (j) {
		struct job *next = j->next;
		j->done(j->arg, j->rc);
		free(j);
		j = next;
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver(arg);
}

static void *worker(void *arg)
{
	struct intake_work *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		struct job *j = w->head;
		if (!j) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->mu);

		j->rc = j->fn(j->arg);

		pthread_mutex_lock(&w->mu);
		j->next = NULL;
		if (w->done_tail)
			w->done_tail->next = j;
		else
			w->done_head = j;
		w->done_tail = j;
		pthread_mutex_unlock(&w->mu);
		ssize_t n = write(w->pipefd[1], "x", 1);
		(void)n; /* a full pipe already guarantees a wake-up */
	}
}

struct intake_work *intake_work_new(struct event_base *base, int nthreads, size_t max_queue)
{
	struct intake_work *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->max_queue = max_queue;
	w->pipefd[0] = w->pipefd[1] = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pipe2(w->pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	w->wake = event_new(base, w->pipefd[0], EV_READ | EV_PERSIST, wake_cb, w);
	if (!w->wake || event_add(w->wake, NULL) < 0)
		goto fail;
	w->threads = calloc((size_t)nthreads, sizeof(*w->threads));
	if (!w->threads)
		goto fail;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker, w) != 0)
			goto fail;
		w->nthreads++;
	}
	return w;
fail:
	intake_work_free(w);
	return NULL;
}

int intake_work_submit(struct intake_work *w, intake_work_fn fn, intake_work_done_fn done,
		       void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){.fn = fn, .done = done, .arg = arg};
	pthread_mutex_lock(&w->mu);
	int rc = w->stopping ? -ESHUTDOWN : w->queued >= w->max_queue ? -EAGAIN : 0;
	if (rc == 0) {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		w->queued++;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (rc < 0)
		free(j);
	return rc;
}

void intake_work_free(struct intake_work *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	deliver(w);
	if (w->wake)
		event_free(w->wake);
	if (w->pipefd[0] >= 0)
		close(w->pipefd[0]);
	if (w->pipefd[1] >= 0)
		close(w->pipefd[1]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->threads);
	free(w);
}
