/*
 * The batch script of a task: it runs the task's argv with the task's
 * environment and stdin, and keeps its stdout and stderr within the output
 * limit on disk. Pure text; strings returned are the caller's to free.
 */
#ifndef COORD_SLURM_SCRIPT_H
#define COORD_SLURM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

struct slurm_script_spec {
	char *const *argv;	/* at least one item */
	char *const *user_envp; /* set first, so that envp may override them; may be empty */
	char *const *envp;	/* the task's whole environment, "KEY=VALUE" */
	const char *run_dir;	/* absolute: its files are in slurm_spool.h */
	bool has_stdin;		/* read RUN_DIR/stdin, else /dev/null */
	size_t head;		/* bytes kept of the start of each stream */
	size_t tail;		/* bytes kept of the end of each stream */
};

/*
 * s quoted for sh in single quotes (a ' becomes '\''), so the shell passes
 * it on as one word, whatever it holds. NULL on ENOMEM.
 */
char *slurm_script_quote(const char *s);

/* The script for spec. NULL on ENOMEM. */
char *slurm_script(const struct slurm_script_spec *spec);

#endif
