/*
 * Pure helpers of the slurm strategy: the batch script that runs a task,
 * the lines of `scontrol -o show job`, and what a job's final state means
 * for the task. No I/O; strings returned are the caller's to free.
 */
#ifndef COORD_SLURM_PARSE_H
#define COORD_SLURM_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

#define SLURM_JOB_ID_MAX 32

/* What one line of `scontrol -o show job` says about a job. */
struct slurm_job_line {
	char job_id[SLURM_JOB_ID_MAX];
	char state[32];
	char reason[128];
	int exit_code; /* the E of ExitCode=E:S; -1 when absent */
	int signal;    /* the S of ExitCode=E:S; 0 when absent */
};

/*
 * Parses one line (len bytes, no newline needed). Returns 0, or -EINVAL
 * when it is not a job line: it does not start with JobId= or has no
 * JobState=.
 */
int slurm_parse_job_line(const char *line, size_t len, struct slurm_job_line *ret);

/* Whether the job has ended for good (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...). */
bool slurm_state_final(const char *state);

/* Whether the job runs now (RUNNING, or COMPLETING after it ran). */
bool slurm_state_running(const char *state);

/* What a final state means for the task. */
struct slurm_outcome {
	enum error_kind kind; /* ERROR_NONE: success */
	int exit_code;	      /* -1: none */
	int signal;	      /* 0: none */
	char message[256];
};

void slurm_outcome_of(const struct slurm_job_line *line, struct slurm_outcome *ret);

/*
 * s quoted for sh in single quotes (a ' becomes '\''), so the shell passes
 * it on as one word, whatever it holds. NULL on ENOMEM.
 */
char *slurm_quote(const char *s);

/*
 * The batch script: "#!/bin/sh" and an exec of argv with its stdin from
 * stdin_path (NULL: /dev/null). NULL on ENOMEM.
 */
char *slurm_script(char *const *argv, const char *stdin_path);

/*
 * A job name that survives scontrol's one-line output: name with every
 * byte outside [A-Za-z0-9._-] made '_', cut to fit size (at most 64 chars).
 */
void slurm_job_name(const char *name, char *buf, size_t size);

/* The job id `sbatch --parsable` printed ("ID" or "ID;CLUSTER"). 0, or -EINVAL. */
int slurm_parse_submit(const char *out, size_t len, char *id, size_t size);

#endif
