/*
 * The daemon: one event loop running the coordinator, its state and
 * history, the publisher, the strategies and the socket server; start-up,
 * recovery, signals and the graceful drain.
 */
#ifndef COORD_DAEMON_H
#define COORD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon; /* opaque: only daemon.c sees its parts */

struct daemon_options {
	const char *socket_path; /* --socket, or NULL */
	const char *state_dir;	 /* --state-dir, or NULL */
	const char *config_path; /* --config, or NULL for the default (if present) */
	int log_level;		 /* --log-level, or -1 */
};

/*
 * Reads the config, opens the state directory and history, recovers what
 * the previous run left opened, and listens. Returns 0 or a negative errno
 * with a reason in *error (caller frees). *ret is set in both cases: the
 * caller frees it with daemon_free.
 */
int daemon_new(const struct daemon_options *options, struct daemon **ret, char **error);

/* Runs until the daemon has drained; returns the exit code. */
int daemon_run(struct daemon *d);

void daemon_free(struct daemon *d);

/* Stops accepting work and drains (SIGTERM, SIGINT, the shutdown method). */
void daemon_begin_shutdown(struct daemon *d, const char *why);

/* Re-reads what can change at run time (SIGHUP). */
void daemon_reload(struct daemon *d);

struct event_base *daemon_event_base(struct daemon *d);

/* Nothing left to happen: no task runs, nothing waits for a commit or to be written (tests). */
bool daemon_idle(struct daemon *d);

/* Whether a drain has begun (tests). */
bool daemon_draining(struct daemon *d);

/* Open client connections (tests). */
size_t daemon_connection_count(struct daemon *d);

#endif
