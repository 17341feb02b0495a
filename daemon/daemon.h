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

#include "config.h"

struct coordinator;
struct event;
struct event_base;
struct history;
struct output_store;
struct publisher;
struct server;
struct state;
struct statedir;
struct waiter;

/* The history's file in the state directory. */
#define DAEMON_HISTORY_FILE "history.sqlite3"

/* SIGTERM, SIGINT and SIGHUP. */
#define DAEMON_SIGNAL_COUNT 3

struct daemon_options {
	const char *socket_path; /* --socket, or NULL */
	const char *state_dir;	 /* --state-dir, or NULL */
	const char *config_path; /* --config, or NULL for the default (if present) */
	int log_level;		 /* --log-level, or -1 */
};

struct daemon {
	struct event_base *base;
	struct config config;
	struct daemon_options options;
	char *config_path; /* the file actually read, or NULL */
	char *socket_path;
	char *state_dir;
	struct statedir *statedir;
	struct history *history;
	struct output_store *output; /* the jobs' kept output */
	struct state *state;
	struct publisher *publisher;
	struct coordinator *coordinator;
	struct waiter *waiter;
	struct server *server;
	struct event *signal_evs[DAEMON_SIGNAL_COUNT];
	struct event *drain_ev;	 /* grace period, then the hard deadline */
	struct event *prune_ev;	 /* retention steps */
	struct event *notify_ev; /* status and watchdog pings for systemd */
	double start_time;
	double flush_deadline; /* when exiting: stop waiting for clients to read */
	bool draining;
	bool strategies_shut_down;
	bool finishing;		/* the last step of the drain is scheduled */
	bool storage_failing;	/* a commit failed: messages are held until it is made */
	bool status_dirty;	/* counts changed since systemd last heard */
	uint64_t watchdog_usec; /* 0: no watchdog */
	int exit_code;
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

/* Whether a peer with these ids may talk to the daemon (besides root and us). */
bool daemon_peer_allowed(struct daemon *d, uid_t uid, gid_t gid, const gid_t *groups,
			 size_t ngroups);

/* Whether output must wait for the history's commit (see connection.c). */
bool daemon_output_must_wait(const struct daemon *d);

/* Seconds since the daemon started. */
double daemon_uptime(const struct daemon *d);

#endif
