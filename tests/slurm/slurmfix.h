/*
 * What the suites against the private single-node Slurm share: starting
 * and stopping it (slurm-up.sh, slurm-down.sh), submitting to the daemon
 * and asking Slurm about jobs. Everything returned is the caller's.
 */
#ifndef COORD_SLURMFIX_H
#define COORD_SLURMFIX_H

#include <stdbool.h>
#include <json-c/json.h>

#include "harness.h"

/* Fast polls and short command limits: the suites wait on them. */
#define SLURMFIX_CONFIG                                                                            \
	"[daemon]\n"                                                                               \
	"shutdown_grace_sec = 1\n"                                                                 \
	"[mode:cluster]\n"                                                                         \
	"strategy = slurm\n"                                                                       \
	"max_concurrency = 8\n"                                                                    \
	"slurm_poll_ms = 200\n"                                                                    \
	"slurm_command_timeout_ms = 5000\n"

/*
 * Runs /bin/sh SLURM_FIXTURE_DIR/script arg to its end, its output going
 * to our stderr. Its exit status; -1 if it could not run or did not end in
 * time.
 */
int slurmfix_script(const char *script, const char *arg);

/* Our pid as slurm-up.sh's USER_PID argument. */
const char *slurmfix_user_arg(void);

/*
 * main() of a suite: starts the private Slurm (77: skipped where it cannot
 * run), runs the suite and stops Slurm again. The exit status for main.
 */
int slurmfix_main(Suite *suite);

/* Submits params (a Task, taken) and returns the request_id. */
char *slurmfix_submit(struct harness_client *c, json_object *params);

/*
 * Submits `sleep SECONDS` named name in mode "cluster" (with timeout_ms
 * unless 0) and waits until it runs; its request_id.
 */
char *slurmfix_start_sleeper(struct harness_client *c, const char *name, int seconds,
			     long timeout_ms);

/* The job closes as a success that printed out. */
void slurmfix_expect_stdout(struct harness_client *c, const char *request_id, const char *out);

/* The job's final message, once it is closed. */
json_object *slurmfix_final(struct harness_client *c, const char *request_id);

/* Fails the test, showing the whole message, unless msg is of type. */
void slurmfix_expect_type(json_object *msg, const char *type);

/*
 * Calls each(arg) (may be NULL), then waits interval_ms, until the job is
 * closed; fails the test if it is not within twice HARNESS_WAIT_MS.
 */
void slurmfix_until_closed(struct harness_client *c, const char *request_id,
			   void (*each)(void *arg), void *arg, int interval_ms);

/* The job is closed, with error kind (NULL: success). */
void slurmfix_expect_closed(struct harness_client *c, const char *request_id, const char *kind);

/* "coordtest-WHAT-PID": a name no other test uses. */
void slurmfix_unique_name(char *buf, size_t size, const char *what);

/*
 * Runs the shell script text as uid (and its group), with its stdout and
 * stderr in *ret_out (may be NULL); the wait status.
 */
int slurmfix_sh_as(unsigned uid, const char *text, char **ret_out);

/*
 * The ids of Slurm's jobs whose name starts with prefix, as "ID ID ...",
 * and their count in *ret_count (-1 if squeue failed): all that Slurm
 * still shows, or only the unfinished ones.
 */
char *slurmfix_jobs_named(const char *prefix, bool unfinished, int *ret_count);

/*
 * Waits until the job request_id, whose node.name is name (unique to the
 * test), runs in Slurm: phase running only says it was handed to sbatch
 * (its start is stored before that).
 */
void slurmfix_wait_slurm_running(struct harness_client *c, const char *request_id,
				 const char *name);

/* Waits until Slurm has no unfinished job whose name starts with prefix. */
void slurmfix_expect_gone(const char *prefix);

/* Waits until the daemon's log holds text. */
void slurmfix_wait_log(struct harness_daemon *d, const char *text);

/* A daemon with config must refuse to start, saying want1 and want2 in its log. */
void slurmfix_expect_refused(const char *config, const char *want1, const char *want2);

#endif
