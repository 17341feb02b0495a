/*
 * State directory lock. The statedir owns its path and the lock file's fd;
 * the lock (a POSIX record lock) goes away with the process, even on
 * SIGKILL, so a crash never leaves the directory locked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cause.h"
#include "paths.h"
#include "statedir.h"

#define STATEDIR_LOCK_FILE "coordinatord.lock"

struct statedir {
	char *path;
	int lock_fd;
};

static int statedir_fail(char **error, int err, const char *what, const char *dir)
{
	return cause_set(error, -err, "state directory %s: %s: %s", dir, what, strerror(err));
}

static int statedir_lock(struct statedir *sd, char **error)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char *lock_path = statedir_file(sd, STATEDIR_LOCK_FILE);
	char pid[32];
	int n;

	if (!lock_path)
		return -ENOMEM;
	sd->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock_path);
	if (sd->lock_fd < 0)
		return statedir_fail(error, errno, "cannot open the lock file", sd->path);
	if (fcntl(sd->lock_fd, F_SETLK, &fl) < 0) {
		int e = errno;

		if (e != EACCES && e != EAGAIN)
			return statedir_fail(error, e, "cannot lock", sd->path);
		fcntl(sd->lock_fd, F_GETLK, &fl);
		return cause_set(error, -EBUSY,
				 "state directory %s is in use by another coordinatord (pid %d)",
				 sd->path, fl.l_type == F_UNLCK ? -1 : (int)fl.l_pid);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(sd->lock_fd, 0) < 0 || pwrite(sd->lock_fd, pid, (size_t)n, 0) != n)
		return statedir_fail(error, errno, "cannot write the lock file", sd->path);
	return 0;
}

int statedir_open(const char *dir, struct statedir **ret, char **error)
{
	struct statedir *sd = calloc(1, sizeof(*sd));
	struct stat st;
	int r;

	*error = NULL;
	if (!sd || !(sd->path = strdup(dir))) {
		free(sd);
		return -ENOMEM;
	}
	sd->lock_fd = -1;
	r = paths_mkdir_parents(dir, 0700);
	if (r < 0) {
		statedir_fail(error, -r, "cannot create it", dir);
		statedir_close(sd);
		return r;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = statedir_fail(error, errno ? errno : ENOTDIR, "not a directory", dir);
		statedir_close(sd);
		return r;
	}
	if (access(dir, W_OK) < 0) {
		r = statedir_fail(error, errno, "cannot write to it", dir);
		statedir_close(sd);
		return r;
	}
	r = statedir_lock(sd, error);
	if (r < 0) {
		statedir_close(sd);
		return r;
	}
	*ret = sd;
	return 0;
}

char *statedir_file(const struct statedir *sd, const char *name)
{
	char *out;

	if (asprintf(&out, "%s/%s", sd->path, name) < 0)
		return NULL;
	return out;
}

void statedir_close(struct statedir *sd)
{
	if (!sd)
		return;
	if (sd->lock_fd >= 0)
		close(sd->lock_fd);
	free(sd->path);
	free(sd);
}
