/*
 * The spawner thread (see spawner.h). The spawner owns its thread, its
 * eventfd and its event; the requests belong to their callers throughout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <event2/event.h>

#include "spawner.h"
#include "worker.h"

struct spawner_list {
	struct spawner_req *head;
	struct spawner_req *tail;
};

struct spawner {
	struct worker worker;	  /* its lock guards the lists and stopping */
	struct spawner_list todo; /* under lock */
	struct spawner_list done; /* under lock */
	int efd;
	struct event *ev;
};

static void spawner_list_push(struct spawner_list *l, struct spawner_req *req)
{
	req->next = NULL;
	if (l->tail)
		l->tail->next = req;
	else
		l->head = req;
	l->tail = req;
}

static struct spawner_req *spawner_list_take(struct spawner_list *l)
{
	struct spawner_req *all = l->head;

	l->head = l->tail = NULL;
	return all;
}

void spawner_run(struct spawner_req *req)
{
	if (req->search)
		req->err = posix_spawnp(&req->pid, req->path, req->fa, req->attr, req->argv,
					req->envp);
	else
		req->err =
			posix_spawn(&req->pid, req->path, req->fa, req->attr, req->argv, req->envp);
}

static void *spawner_thread(void *arg)
{
	struct spawner *sp = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&sp->worker.lock);
	for (;;) {
		struct spawner_req *req = sp->todo.head;

		if (!req && sp->worker.stopping)
			break;
		if (!req) {
			pthread_cond_wait(&sp->worker.wake, &sp->worker.lock);
			continue;
		}
		sp->todo.head = req->next;
		if (!sp->todo.head)
			sp->todo.tail = NULL;
		pthread_mutex_unlock(&sp->worker.lock);
		if (req->work)
			req->work(req);
		else
			spawner_run(req);
		pthread_mutex_lock(&sp->worker.lock);
		spawner_list_push(&sp->done, req);
		/* Cannot fail but with a counter near overflow, which the loop's reads prevent. */
		(void)!write(sp->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&sp->worker.lock);
	return NULL;
}

static void spawner_deliver(struct spawner *sp)
{
	struct spawner_req *req;

	pthread_mutex_lock(&sp->worker.lock);
	req = spawner_list_take(&sp->done);
	pthread_mutex_unlock(&sp->worker.lock);
	while (req) {
		struct spawner_req *next = req->next;

		req->done(req);
		req = next;
	}
}

static void spawner_event_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	spawner_deliver(arg);
}

int spawner_new(struct event_base *base, struct spawner **ret)
{
	struct spawner *sp = calloc(1, sizeof(*sp));
	int r;

	if (!sp)
		return -ENOMEM;
	sp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sp->efd < 0) {
		r = -errno;
		free(sp);
		return r;
	}
	sp->ev = event_new(base, sp->efd, EV_READ | EV_PERSIST, spawner_event_cb, sp);
	if (!sp->ev || event_add(sp->ev, NULL) < 0) {
		if (sp->ev)
			event_free(sp->ev);
		close(sp->efd);
		free(sp);
		return -ENOMEM;
	}
	r = worker_start(&sp->worker, spawner_thread, sp);
	if (r < 0) {
		event_free(sp->ev);
		close(sp->efd);
		free(sp);
		return r;
	}
	*ret = sp;
	return 0;
}

void spawner_submit(struct spawner *sp, struct spawner_req *req)
{
	pthread_mutex_lock(&sp->worker.lock);
	spawner_list_push(&sp->todo, req);
	pthread_cond_signal(&sp->worker.wake);
	pthread_mutex_unlock(&sp->worker.lock);
}

void spawner_free(struct spawner *sp)
{
	if (!sp)
		return;
	worker_stop(&sp->worker);
	spawner_deliver(sp);
	event_free(sp->ev);
	close(sp->efd);
	free(sp);
}
