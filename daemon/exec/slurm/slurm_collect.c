/*
 * The worker thread of the slurm strategy (see slurm_collect.h). A request
 * belongs to the loop until submitted, to the worker until it is on the
 * done list, then to the loop again, which frees it in the callback. The
 * collector owns its thread, its pipe and the requests it holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "slurm_collect.h"
#include "worker.h"

/* What is kept of Slurm's own messages about a job (slurmstepd's, the script's). */
#define SLURM_COLLECT_MESSAGES_TAIL 4096

TAILQ_HEAD(slurm_collect_list, slurm_collect);

struct slurm_collector {
	struct worker worker;		/* its lock guards the lists and stopping */
	bool started;			/* the worker runs */
	struct slurm_collect_list todo; /* under lock */
	struct slurm_collect_list done; /* under lock */
	int pipe[2];			/* the worker writes a byte when done has grown */
	struct event *ev;
	slurm_collect_done_cb cb;
	void *ctx;
};

struct slurm_collect *slurm_collect_new(const char *dir, uid_t uid)
{
	struct slurm_collect *req = calloc(1, sizeof(*req));

	if (req && !(req->dir = strdup(dir))) {
		free(req);
		return NULL;
	}
	if (req)
		req->uid = uid;
	return req;
}

void slurm_collect_free(struct slurm_collect *req)
{
	if (!req)
		return;
	slurm_spool_output_clear(&req->out);
	slurm_spool_output_clear(&req->err);
	slurm_spool_output_clear(&req->slurm);
	free(req->dir);
	free(req);
}

/* One stream of the job; a file that is not what it should be is skipped and reported. */
static void slurm_collect_read_one(struct slurm_collect *req, int dirfd, const char *name,
				   size_t head, size_t tail, struct slurm_output *out)
{
	int r = slurm_spool_read(dirfd, name, req->uid, head, tail, out);
	size_t n = strlen(req->problem);

	if (r == 0 || n + 1 >= sizeof(req->problem))
		return;
	snprintf(req->problem + n, sizeof(req->problem) - n, "%s%s/%s skipped: %s", n ? "; " : "",
		 req->dir, name,
		 r == -EINVAL	? "not a regular file"
		 : r == -EPERM	? "not the job user's file"
		 : r == -EMLINK ? "it has other links"
				: strerror(-r));
}

static void slurm_collect_work(struct slurm_collect *req)
{
	char why[256];
	int dirfd;

	if (req->read) {
		dirfd = open(req->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd < 0) {
			snprintf(req->problem, sizeof(req->problem), "cannot open %s: %s", req->dir,
				 strerror(errno));
		} else {
			slurm_collect_read_one(req, dirfd, SLURM_SPOOL_OUT, req->head, req->tail,
					       &req->out);
			slurm_collect_read_one(req, dirfd, SLURM_SPOOL_ERR, req->head, req->tail,
					       &req->err);
			slurm_collect_read_one(req, dirfd, SLURM_SPOOL_SLURM, 0,
					       SLURM_COLLECT_MESSAGES_TAIL, &req->slurm);
			close(dirfd);
		}
	}
	if (slurm_spool_remove_run(req->dir, why, sizeof(why)) < 0) {
		size_t n = strlen(req->problem);

		snprintf(req->problem + n, sizeof(req->problem) - n, "%s%s", n ? "; " : "", why);
	}
}

static void *slurm_collector_main(void *arg)
{
	struct slurm_collector *c = arg;

	pthread_mutex_lock(&c->worker.lock);
	for (;;) {
		struct slurm_collect *req = TAILQ_FIRST(&c->todo);
		ssize_t n;

		if (!req && c->worker.stopping)
			break;
		if (!req) {
			pthread_cond_wait(&c->worker.wake, &c->worker.lock);
			continue;
		}
		TAILQ_REMOVE(&c->todo, req, link);
		pthread_mutex_unlock(&c->worker.lock);
		slurm_collect_work(req);
		pthread_mutex_lock(&c->worker.lock);
		TAILQ_INSERT_TAIL(&c->done, req, link);
		/* A full pipe already holds a wake-up. */
		do
			n = write(c->pipe[1], "", 1);
		while (n < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&c->worker.lock);
	return NULL;
}

static void slurm_collector_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slurm_collector *c = arg;
	struct slurm_collect_list done = TAILQ_HEAD_INITIALIZER(done);
	struct slurm_collect *req;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&c->worker.lock);
	TAILQ_CONCAT(&done, &c->done, link);
	pthread_mutex_unlock(&c->worker.lock);
	while ((req = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, req, link);
		c->cb(req, c->ctx);
	}
}

struct slurm_collector *slurm_collector_new(struct event_base *base, slurm_collect_done_cb done,
					    void *ctx)
{
	struct slurm_collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pipe[0] = c->pipe[1] = -1;
	c->cb = done;
	c->ctx = ctx;
	TAILQ_INIT(&c->todo);
	TAILQ_INIT(&c->done);
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    !(c->ev = event_new(base, c->pipe[0], EV_READ | EV_PERSIST, slurm_collector_read_cb,
				c)) ||
	    event_add(c->ev, NULL) < 0 || worker_start(&c->worker, slurm_collector_main, c) < 0) {
		slurm_collector_free(c);
		return NULL;
	}
	c->started = true;
	return c;
}

void slurm_collector_submit(struct slurm_collector *c, struct slurm_collect *req)
{
	pthread_mutex_lock(&c->worker.lock);
	TAILQ_INSERT_TAIL(&c->todo, req, link);
	pthread_cond_signal(&c->worker.wake);
	pthread_mutex_unlock(&c->worker.lock);
}

void slurm_collector_remove(struct slurm_collector *c, const char *dir, uid_t uid)
{
	struct slurm_collect *req = slurm_collect_new(dir, uid);

	if (req)
		slurm_collector_submit(c, req);
}

static void slurm_collect_list_free(struct slurm_collect_list *list)
{
	struct slurm_collect *req;

	while ((req = TAILQ_FIRST(list))) {
		TAILQ_REMOVE(list, req, link);
		slurm_collect_free(req);
	}
}

void slurm_collector_free(struct slurm_collector *c)
{
	if (!c)
		return;
	if (c->started)
		worker_stop(&c->worker); /* and its lock and condition with it */
	slurm_collect_list_free(&c->todo);
	slurm_collect_list_free(&c->done);
	if (c->ev)
		event_free(c->ev);
	if (c->pipe[0] >= 0)
		close(c->pipe[0]);
	if (c->pipe[1] >= 0)
		close(c->pipe[1]);
	free(c);
}
