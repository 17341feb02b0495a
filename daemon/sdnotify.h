/*
 * systemd integration through libsystemd (optional at build time):
 * socket activation, readiness, status, watchdog. Without libsystemd, or
 * outside systemd, every call does nothing.
 */
#ifndef COORD_SDNOTIFY_H
#define COORD_SDNOTIFY_H

struct coordinator;
struct event_base;
struct sdnotify;

/* The listening socket systemd passed (socket activation), or -1. */
int sdnotify_listen_fd(void);
/* The path that socket is bound to (caller frees), or NULL. */
char *sdnotify_socket_path(int fd);

/*
 * What tells systemd how the daemon is: counts from coordinator (borrowed,
 * must outlive it), ticks on base. NULL on ENOMEM.
 */
struct sdnotify *sdnotify_new(struct event_base *base, struct coordinator *coordinator);
/* Stops the ticks. Accepts NULL. */
void sdnotify_free(struct sdnotify *sn);

/* READY=1 with a STATUS=, and starts the watchdog and status pings. */
void sdnotify_ready(struct sdnotify *sn);
/* Counts changed: STATUS= is refreshed at most once a second. */
void sdnotify_status_changed(struct sdnotify *sn);
/* STOPPING=1; from now on STATUS= says "draining". */
void sdnotify_stopping(struct sdnotify *sn);
void sdnotify_reloading(struct sdnotify *sn);

#endif
