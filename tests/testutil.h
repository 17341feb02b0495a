/*
 * Helpers shared by the Check suites: temporary directories, running the
 * event loop until a condition holds, collecting published messages, and a
 * fixture with a real history, state and publisher.
 */
#ifndef COORD_TESTUTIL_H
#define COORD_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>

#include "job.h"
#include "message.h"

struct event_base;
struct coordinator;
struct history;
struct publisher;
struct state;
struct strategy;
struct strategy_config;
struct task;

/* A new directory under $TMPDIR (caller frees the string, tu_rmtree removes it). */
char *tu_mkdtemp(void);
/* rm -rf path. */
void tu_rmtree(const char *path);

/* Whether the suite runs under the valgrind test setup. */
bool tu_under_valgrind(void);
/* Seconds scaled for slow runs (valgrind). */
double tu_scale(double seconds);

/*
 * Runs base until cond(data) is true, or timeout_s (scaled) passes.
 * Returns whether cond became true.
 */
bool tu_run_until(struct event_base *base, bool (*cond)(void *data), void *data, double timeout_s);

/* Collects every message it is subscribed to, holding a reference to each. */
struct tu_collector {
	struct message **msgs;
	size_t count;
	size_t cap;
};

void tu_collect_cb(struct message *msg, void *collector);
void tu_collector_clear(struct tu_collector *c);
/* The first collected message of type about request_id (NULL: any), or NULL. */
struct message *tu_collector_find(const struct tu_collector *c, enum message_type type,
				  const char *request_id);
size_t tu_collector_count(const struct tu_collector *c, enum message_type type,
			  const char *request_id);

/* A task parsed from JSON text by the real parser; aborts the test on bad input. */
struct task *tu_task(const char *json);

/* The Job as the daemon writes it (job_write_members), parsed back; aborts if it does not parse. */
json_object *tu_job_json(const struct job *job, uid_t viewer);
/* The Message as the daemon writes it (message_wire), parsed back; aborts likewise. */
json_object *tu_message_json(struct message *msg);

/* Whether pid is gone (no such process, or a zombie nobody reaps yet). */
bool tu_pid_gone(pid_t pid);
/* Waits up to timeout_s (scaled) for tu_pid_gone(pid). */
bool tu_wait_pid_gone(pid_t pid, double timeout_s);

/* Reads a whole small file (caller frees), NULL if it cannot. */
char *tu_read_file(const char *path);

/*
 * A history in a fresh temporary directory, a state over it, a publisher
 * whose store writes to the history, and a collector subscribed to it.
 */
struct tu_env {
	char *dir;
	char *db_path;
	struct event_base *base;
	struct history *history;
	struct state *state;
	struct publisher *pub;
	struct tu_collector msgs;
};

void tu_env_setup(struct tu_env *env);
void tu_env_teardown(struct tu_env *env);

/* Runs the loop until a collected message of type about request_id exists. */
struct message *tu_env_wait_message(struct tu_env *env, enum message_type type,
				    const char *request_id, double timeout_s);

/*
 * A coordinator on env's base, state and publisher with one mode made from
 * config (its strategy in *ret_strategy, owned by the coordinator); not
 * started, so the caller may hook the strategy first.
 */
struct coordinator *tu_coordinator_new(struct tu_env *env, const struct strategy_config *config,
				       struct strategy **ret_strategy);

/* Ignores SIGPIPE (as the daemon does), runs suite and returns main's exit status. */
int tu_run_suite(Suite *suite);

#endif
