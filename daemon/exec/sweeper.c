/*
 * Leftover sweeps. A struct sweeper owns its list of sweeps; a sweep owns
 * its pidfd and its timer, and is freed when its timer fires or with the
 * sweeper.
 *
 * Why a pidfd: once a task's leader is reaped and its group empties, the
 * kernel may give the group's number to a new process, and kill(-pgid)
 * would reach a stranger's group. A pidfd names the kernel's struct pid,
 * not its number, and PIDFD_SIGNAL_PROCESS_GROUP signals the processes
 * whose group is that struct pid. A reused number gets a new struct pid, so
 * a late signal reaches our leftovers or nobody (ESRCH), never a stranger.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <unistd.h>
#include <event2/event.h>

#include "sweeper.h"

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2) /* linux/pidfd.h, Linux 6.9 */
#endif

struct sweep {
	TAILQ_ENTRY(sweep) link;
	struct sweeper *owner;
	int pidfd;
	struct event *ev;
};

/* Whether the kernel signals a group through a pidfd: not asked yet, or its answer. */
enum sweeper_support {
	SWEEPER_SUPPORT_UNKNOWN,
	SWEEPER_SUPPORT_YES,
	SWEEPER_SUPPORT_NO,
};

struct sweeper {
	struct event_base *base;
	TAILQ_HEAD(, sweep) sweeps;
	enum sweeper_support support;
};

int sweeper_signal_group(int pidfd, int sig)
{
	if (pidfd < 0)
		return -EBADF;
	return pidfd_send_signal(pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) < 0 ? -errno : 0;
}

bool sweeper_supported(struct sweeper *sw, int pidfd)
{
	int r;

	if (!sw || pidfd < 0)
		return false;
	if (sw->support != SWEEPER_SUPPORT_UNKNOWN)
		return sw->support == SWEEPER_SUPPORT_YES;
	/* Signal 0 to a group that its unreaped leader keeps alive: only the flag can fail. */
	r = sweeper_signal_group(pidfd, 0);
	if (r == 0)
		sw->support = SWEEPER_SUPPORT_YES;
	else if (r == -EINVAL || r == -ENOSYS)
		sw->support = SWEEPER_SUPPORT_NO;
	return r == 0;
}

struct sweeper *sweeper_new(struct event_base *base)
{
	struct sweeper *sw = calloc(1, sizeof(*sw));

	if (!sw)
		return NULL;
	sw->base = base;
	TAILQ_INIT(&sw->sweeps);
	return sw;
}

/* The last signal to the group, then the sweep is forgotten. */
static void sweeper_finish(struct sweep *s)
{
	sweeper_signal_group(s->pidfd, SIGKILL);
	TAILQ_REMOVE(&s->owner->sweeps, s, link);
	event_free(s->ev);
	close(s->pidfd);
	free(s);
}

static void sweeper_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	sweeper_finish(arg);
}

int sweeper_add(struct sweeper *sw, int pidfd, unsigned grace_ms)
{
	struct timeval tv = {
		.tv_sec = grace_ms / 1000,
		.tv_usec = (grace_ms % 1000) * 1000,
	};
	struct sweep *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ev = evtimer_new(sw->base, sweeper_timeout_cb, s);
	if (!s->ev || evtimer_add(s->ev, &tv) < 0) {
		if (s->ev)
			event_free(s->ev);
		free(s);
		return -ENOMEM;
	}
	s->owner = sw;
	s->pidfd = pidfd;
	TAILQ_INSERT_TAIL(&sw->sweeps, s, link);
	return 0;
}

void sweeper_free(struct sweeper *sw)
{
	if (!sw)
		return;
	while (!TAILQ_EMPTY(&sw->sweeps))
		sweeper_finish(TAILQ_FIRST(&sw->sweeps));
	free(sw);
}
