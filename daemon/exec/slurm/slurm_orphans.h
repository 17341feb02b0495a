/*
 * Slurm jobs of the daemon's that nobody follows: those an earlier run of
 * the daemon left (found by their run directories in the spool at start),
 * and those whose sbatch gave no usable answer. Each is known by its name,
 * which holds 128 random bits and so can only be ours: every round asks
 * squeue for the unfinished jobs of those names, scancels them, and
 * removes the run directory of each name Slurm no longer runs.
 */
#ifndef COORD_SLURM_ORPHANS_H
#define COORD_SLURM_ORPHANS_H

#include <stddef.h>

struct event_base;
struct slurm_collector;
struct slurm_orphans;
struct slurm_settings;

/* Borrows settings and collector, which must outlive it. NULL on ENOMEM. */
struct slurm_orphans *slurm_orphans_new(struct event_base *base,
					const struct slurm_settings *settings,
					struct slurm_collector *collector, const char *mode);

/* Adds a run name (copied); rounds go on every poll interval while any is left. */
int slurm_orphans_add(struct slurm_orphans *o, const char *name);

/*
 * Takes a name back (a job that is followed again after all): its job is
 * not cancelled nor its directory removed. -ENOENT when it is not there,
 * -EBUSY while a round asks about it.
 */
int slurm_orphans_forget(struct slurm_orphans *o, const char *name);

/* Names still waiting for their jobs to end. */
size_t slurm_orphans_count(const struct slurm_orphans *o);

/* Stops the rounds (the names stay in the spool for the next start). Accepts NULL. */
void slurm_orphans_free(struct slurm_orphans *o);

#endif
