/*
 * One Slurm client command (sbatch, scontrol, scancel) run on the event
 * loop through process.c, with its own time limit: a controller that does
 * not answer must never stall the daemon nor leave a call hanging. Every
 * command runs with the same clean environment, never a task's: PATH,
 * LC_ALL=C and the daemon's SLURM_CONF, if it has one.
 */
#ifndef COORD_SLURM_COMMAND_H
#define COORD_SLURM_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct slurm_command;

struct slurm_command_spec {
	char *const *argv; /* argv[0]: a full path */
	const char *stdin_data;
	size_t stdin_len;
	size_t output_limit; /* bytes kept of stdout and of stderr each */
	unsigned timeout_ms;
};

struct slurm_command_result {
	bool ok;	 /* it exited with status 0 in time */
	bool timed_out;	 /* it was stopped at its time limit */
	const char *out; /* stdout, not NUL-terminated; borrowed for the callback */
	size_t out_len;
	bool out_truncated;
	const char *err;
	size_t err_len;
	int status;	     /* exit status; -1 when killed by a signal */
	unsigned timeout_ms; /* the limit it had */
};

/* Called once when the command has ended. The callback may free cmd. */
typedef void (*slurm_command_done_cb)(struct slurm_command *cmd,
				      const struct slurm_command_result *res, void *userdata);

/*
 * Starts spec. Returns 0 and the command in *ret, or a negative errno and
 * a reason in *error (caller frees) when it cannot be started.
 */
int slurm_command_run(struct event_base *base, const struct slurm_command_spec *spec,
		      slurm_command_done_cb done, void *userdata, struct slurm_command **ret,
		      char **error);

/*
 * Blocks up to timeout_ms until the command has exited, without reaping it
 * or calling back: for the last commands of a daemon about to exit.
 */
void slurm_command_wait(struct slurm_command *cmd, unsigned timeout_ms);

/* Kills the command if it still runs and frees it. Accepts NULL. */
void slurm_command_free(struct slurm_command *cmd);

/* What res says went wrong, for a log line or an error message: "exit status 1: <stderr>". */
void slurm_command_describe(const struct slurm_command_result *res, char *buf, size_t size);

#endif
