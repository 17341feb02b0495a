/*
 * Looking up a job Slurm's controller has forgotten in its records: first
 * `sacct` (the accounting database, when slurmdbd runs), then `sacct -c`
 * (the job completion log, e.g. jobcomp/filetxt). A job id may come back
 * after a controller lost its state, so a record counts only when it also
 * bears the job's name (which holds 128 random bits). A struct slurm_acct
 * owns the command it runs.
 */
#ifndef COORD_SLURM_ACCT_H
#define COORD_SLURM_ACCT_H

#include "slurm_parse.h"

struct event_base;
struct slurm_acct;
struct slurm_settings;

/*
 * Called once: line is the job's final record (borrowed), or NULL when
 * nothing knows it (why says what was asked). The callback frees acct.
 */
typedef void (*slurm_acct_done_cb)(struct slurm_acct *acct, const struct slurm_job_line *line,
				   const char *why, void *userdata);

/*
 * Starts the lookup of job_id named name (both copied). settings is
 * borrowed and must outlive it. 0 and *ret, or a negative errno.
 */
int slurm_acct_lookup(struct event_base *base, const struct slurm_settings *settings,
		      const char *job_id, const char *name, slurm_acct_done_cb done, void *userdata,
		      struct slurm_acct **ret);

/* Stops the lookup without calling back. Accepts NULL. */
void slurm_acct_free(struct slurm_acct *acct);

#endif
