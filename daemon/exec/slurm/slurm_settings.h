/*
 * The slurm strategy's own settings (the slurm_ keys of a mode), checked
 * when the mode is built: numbers in range, the spool directory safe
 * (slurm_spool.c), sbatch, squeue and scancel found and executable.
 */
#ifndef COORD_SLURM_SETTINGS_H
#define COORD_SLURM_SETTINGS_H

#include <stdbool.h>

#include "strategy.h"

#define SLURM_DEFAULT_POLL_MS		 1000
#define SLURM_DEFAULT_COMMAND_TIMEOUT_MS 30000

/* Owns every string; slurm_settings_clear frees them. */
struct slurm_settings {
	char *partition; /* NULL: the cluster's default partition */
	unsigned poll_ms;
	unsigned command_timeout_ms;
	char *spool_dir; /* absolute, exists, the daemon's alone */
	char *bin_dir;	 /* NULL: the programs are looked up in PATH */
	char *sbatch;	 /* full paths of the programs */
	char *squeue;
	char *scancel;
	char *sacct; /* NULL when missing: then jobs the controller forgot are lost */
	/* run_as = submitter and a daemon run as root: jobs of others run as them (sbatch --uid).
	 */
	bool run_as_submitter;
	char *unreachable; /* then: why their jobs cannot reach spool_dir; NULL if they can */
};

/*
 * Reads config's settings into *ret. Returns 0, or a negative errno and a
 * reason naming the mode and the key in *error (caller frees).
 */
int slurm_settings_parse(const struct strategy_config *config, struct slurm_settings *ret,
			 char **error);

void slurm_settings_clear(struct slurm_settings *s);

#endif
