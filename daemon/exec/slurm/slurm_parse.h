/*
 * Pure helpers of the slurm strategy: the lines squeue prints, sbatch's
 * answer, and what a job's final state means for the task. No I/O.
 */
#ifndef COORD_SLURM_PARSE_H
#define COORD_SLURM_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

#define SLURM_JOB_ID_MAX 32

/*
 * What the poll asks `squeue --noheader --Format=` for: fields Slurm makes
 * itself (never a job's name or comment, which their owner writes), each
 * followed by '|'. exit_code is the raw wait status.
 */
#define SLURM_POLL_FORMAT "JobID:|,State:|,Reason:|,UserID:|,exit_code:|"

/* What one line of the poll says about a job. */
struct slurm_job_line {
	char job_id[SLURM_JOB_ID_MAX];
	char state[32];
	char reason[128];
	unsigned long uid;
	int exit_code; /* the exit status; -1 when killed by a signal */
	int signal;    /* the signal that killed it; 0 when none */
};

/*
 * Parses one line of the poll (len bytes, no newline, not NUL-terminated).
 * Returns 0, or -EINVAL when it is not exactly the five fields of
 * SLURM_POLL_FORMAT with a numeric job id, user id and status.
 */
int slurm_parse_job_line(const char *line, size_t len, struct slurm_job_line *ret);

/* What the search for jobs left by an earlier run asks squeue for. */
#define SLURM_NAMED_FORMAT "JobID:|,State:|,Name:|"

/* One line of that search. */
struct slurm_named_job {
	char job_id[SLURM_JOB_ID_MAX];
	char state[32];
	char name[96];
};

/* Parses one line of SLURM_NAMED_FORMAT (len bytes, not NUL-terminated). 0 or -EINVAL. */
int slurm_parse_named_line(const char *line, size_t len, struct slurm_named_job *ret);

/*
 * Parses one record of `sacct --parsable2 --format=JobID,JobName,State,ExitCode`
 * (len bytes, not NUL-terminated): the id, the state's first word and the
 * exit code ("EXIT:SIGNAL") into *ret, the name into name. 0, or -EINVAL
 * when it is not such a record of a whole job (a step's id has a '.').
 */
int slurm_parse_acct_line(const char *line, size_t len, struct slurm_job_line *ret, char *name,
			  size_t name_size);

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

/* The job id `sbatch --parsable` printed ("ID" or "ID;CLUSTER"). 0, or -EINVAL. */
int slurm_parse_submit(const char *out, size_t len, char *id, size_t size);

#endif
