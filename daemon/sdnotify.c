/* sd_notify and socket activation. struct sdnotify owns its tick timer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <event2/event.h>

#include "build-config.h"
#include "coordinator.h"
#include "log.h"
#include "sdnotify.h"
#include "strategy.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

struct sdnotify {
	struct event_base *base;
	struct coordinator *coordinator;
	struct event *notify_ev; /* status and watchdog pings */
	uint64_t watchdog_usec;	 /* 0: no watchdog */
	bool status_dirty;	 /* counts changed since systemd last heard */
	bool draining;
};

struct sdnotify *sdnotify_new(struct event_base *base, struct coordinator *coordinator)
{
	struct sdnotify *sn = calloc(1, sizeof(*sn));

	if (!sn)
		return NULL;
	sn->base = base;
	sn->coordinator = coordinator;
	return sn;
}

void sdnotify_free(struct sdnotify *sn)
{
	if (!sn)
		return;
	if (sn->notify_ev)
		event_free(sn->notify_ev);
	free(sn);
}

char *sdnotify_socket_path(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0 || sun.sun_family != AF_UNIX ||
	    !sun.sun_path[0])
		return strdup("(socket from systemd)");
	return strndup(sun.sun_path, sizeof(sun.sun_path));
}

#if HAVE_LIBSYSTEMD

int sdnotify_listen_fd(void)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return -1;
	if (n > 1)
		log_warning("systemd passed %d sockets; using the first", n);
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_error("the socket systemd passed is not a listening Unix stream socket");
		return -1;
	}
	return SD_LISTEN_FDS_START;
}

struct sdnotify_counts {
	unsigned running;
	size_t queued;
};

static void sdnotify_count_cb(const struct strategy_info *info, void *userdata)
{
	struct sdnotify_counts *c = userdata;

	c->running += info->running;
	c->queued += info->queued;
}

static void sdnotify_status(struct sdnotify *sn, const char *extra)
{
	struct sdnotify_counts c = {0};

	coordinator_foreach_mode(sn->coordinator, sdnotify_count_cb, &c);
	sd_notifyf(0, "%sSTATUS=%u running, %zu queued%s", extra ? extra : "", c.running, c.queued,
		   sn->draining ? ", draining" : "");
	sn->status_dirty = false;
}

/* Every tick: a watchdog ping if asked for, and STATUS= when counts changed. */
static void sdnotify_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sdnotify *sn = arg;

	if (sn->watchdog_usec)
		sd_notify(0, "WATCHDOG=1");
	if (sn->status_dirty)
		sdnotify_status(sn, NULL);
}

void sdnotify_ready(struct sdnotify *sn)
{
	uint64_t usec = 0;
	struct timeval tick = {1, 0};

	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		sn->watchdog_usec = usec;
		if (usec / 2 < 1000000) {
			tick.tv_sec = (time_t)(usec / 2 / 1000000);
			tick.tv_usec = (suseconds_t)(usec / 2 % 1000000);
		}
	}
	sdnotify_status(sn, "READY=1\n");
	if (!sn->notify_ev && getenv("NOTIFY_SOCKET")) {
		sn->notify_ev = event_new(sn->base, -1, EV_PERSIST, sdnotify_tick_cb, sn);
		if (sn->notify_ev)
			event_add(sn->notify_ev, &tick);
	}
}

void sdnotify_status_changed(struct sdnotify *sn)
{
	sn->status_dirty = true;
}

void sdnotify_stopping(struct sdnotify *sn)
{
	sn->draining = true;
	sdnotify_status(sn, "STOPPING=1\n");
}

void sdnotify_reloading(struct sdnotify *sn)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	sdnotify_status(sn, buf);
}

#else

int sdnotify_listen_fd(void)
{
	return -1;
}

void sdnotify_ready(struct sdnotify *sn)
{
}

void sdnotify_status_changed(struct sdnotify *sn)
{
}

void sdnotify_stopping(struct sdnotify *sn)
{
}

void sdnotify_reloading(struct sdnotify *sn)
{
}

#endif
