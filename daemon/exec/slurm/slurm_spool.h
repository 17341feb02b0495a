/*
 * The slurm strategy's spool directory: one directory per job, named like
 * the job (the task's name and 128 random bits, so that no client chooses
 * a path and no one can guess one), with files the daemon makes before
 * sbatch and removes once the job is over. Nothing here follows a symlink
 * or opens anything but a regular file.
 */
#ifndef COORD_SLURM_SPOOL_H
#define COORD_SLURM_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The files of a run directory. */
#define SLURM_SPOOL_STDIN  "stdin"  /* the task's stdin, when it has one */
#define SLURM_SPOOL_OUT	   "out"    /* its stdout, within the limit */
#define SLURM_SPOOL_ERR	   "err"    /* its stderr, within the limit */
#define SLURM_SPOOL_STATUS "status" /* its exit status, for the job script */
#define SLURM_SPOOL_SLURM  "slurm"  /* what Slurm and the job script say (sbatch -o/-e) */

/* "NAME.TOKEN": up to 40 bytes of the task's name, '.', 32 hex digits. */
#define SLURM_RUN_NAME_MAX 80

/*
 * Makes the spool directory (one level; mode 0711 when jobs run as other
 * users, for_others, else 0700) if it is missing and checks it: a
 * directory owned by the daemon's user and writable by no one else. 0, or
 * a negative errno and a reason naming the mode in *error (caller frees).
 */
int slurm_spool_prepare(const char *dir, bool for_others, const char *mode, char **error);

/*
 * Whether jobs of other users can reach path: every directory from it up
 * to "/" lets others search it (x). 0, or -EACCES (or another negative
 * errno) and a reason in *why (caller frees).
 */
int slurm_spool_searchable(const char *path, char **why);

/*
 * A fresh run name for a task called task_name: its name with every byte
 * outside [A-Za-z0-9._-] made '_' (at most 40), '.', 32 random hex digits.
 * buf holds SLURM_RUN_NAME_MAX bytes. 0 or a negative errno.
 */
int slurm_spool_run_name(const char *task_name, char *buf);

/* Whether name has the form slurm_spool_run_name gives. */
bool slurm_spool_run_name_valid(const char *name);

/* What a run directory is made with. */
struct slurm_spool_run {
	const char *dir;	/* SPOOL/NAME */
	uid_t uid;		/* whom the job runs as: the files are theirs to use */
	const char *stdin_data; /* NULL: no stdin file */
	size_t stdin_len;
};

/*
 * Makes the run directory (O_EXCL: it must not exist) and its files, all
 * created by the daemon with O_EXCL|O_NOFOLLOW. When the job runs as
 * another user the directory stays the daemon's (mode 0711: the job can
 * use the files but not add, remove or swap any) and the job's user may
 * read and write the files: by an ACL where the filesystem has them (they
 * stay the daemon's), else by owning them (CAP_CHOWN; the daemon's group
 * keeps reading them). 0, or a negative errno and a reason in why (and
 * nothing of it left behind).
 */
int slurm_spool_make_run(const struct slurm_spool_run *run, char *why, size_t size);

/*
 * Removes the run directory and what is in it (a directory inside is left
 * and reported). 0, or a negative errno and a reason in why.
 */
int slurm_spool_remove_run(const char *dir, char *why, size_t size);

/*
 * The names of the run directories in the spool (what an earlier run of
 * the daemon left), in *ret (NULL-terminated; caller frees each and the
 * array). 0 or a negative errno.
 */
int slurm_spool_scan(const char *spool, char ***ret);

/* Output kept of one stream: the first and the last bytes, within the limit. */
struct slurm_output {
	char *data; /* malloc'ed; NULL when empty */
	size_t len;
	bool truncated; /* the file held more than head + tail bytes */
};

/*
 * Reads the file name in the directory dirfd: only a regular file owned
 * by uid or by the daemon, with a single link, opened without following a symlink and
 * without blocking. Keeps all of it when it holds at most head + tail
 * bytes, else its first head and last tail bytes. A missing file is
 * empty output. 0, or a negative errno (-EINVAL: not a regular file,
 * -EPERM: not uid's, -EMLINK: more links) and *out empty.
 */
int slurm_spool_read(int dirfd, const char *name, uid_t uid, size_t head, size_t tail,
		     struct slurm_output *out);

void slurm_spool_output_clear(struct slurm_output *out);

#endif
