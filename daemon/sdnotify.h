/*
 * systemd integration through libsystemd (optional at build time):
 * socket activation, readiness, status, watchdog. Without libsystemd, or
 * outside systemd, every call does nothing.
 */
#ifndef COORD_SDNOTIFY_H
#define COORD_SDNOTIFY_H

struct daemon;

/* The listening socket systemd passed (socket activation), or -1. */
int sdnotify_listen_fd(void);
/* The path that socket is bound to (caller frees), or NULL. */
char *sdnotify_socket_path(int fd);

/* READY=1 with a STATUS=, and starts the watchdog and status pings. */
void sdnotify_ready(struct daemon *d);
/* Counts changed: STATUS= is refreshed at most once a second. */
void sdnotify_status_changed(struct daemon *d);
void sdnotify_stopping(struct daemon *d);
void sdnotify_reloading(struct daemon *d);

#endif
