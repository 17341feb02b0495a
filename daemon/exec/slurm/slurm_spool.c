/*
 * The spool directory of the slurm strategy and its run directories (see
 * slurm_spool.h). Strings and buffers returned are the caller's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "cause.h"
#include "slurm_spool.h"

#define SLURM_SPOOL_NAME_PART 40
#define SLURM_SPOOL_TOKEN_HEX 32

/* Every file of a run directory, made by the daemon. */
static const char *const slurm_spool_files[] = {
	SLURM_SPOOL_STDIN, SLURM_SPOOL_OUT, SLURM_SPOOL_ERR, SLURM_SPOOL_STATUS, SLURM_SPOOL_SLURM,
};

int slurm_spool_searchable(const char *path, char **why)
{
	char real[PATH_MAX], *end;
	struct stat st;

	*why = NULL;
	if (!realpath(path, real))
		return cause_set(why, -errno, "%s: %s", path, strerror(errno));
	for (end = real + strlen(real);; end = strrchr(real, '/')) {
		const char *dir = end == real ? "/" : real;

		*end = '\0';
		if (stat(dir, &st) < 0)
			st.st_mode = 0;
		if (!(st.st_mode & S_IXOTH))
			return cause_set(why, -EACCES,
					 "others cannot search \"%s\" (mode %04o), so jobs "
					 "of other users cannot reach \"%s\"",
					 dir, (unsigned)(st.st_mode & 07777), path);
		if (end == real)
			return 0;
	}
}

int slurm_spool_prepare(const char *dir, bool for_others, const char *mode, char **error)
{
	mode_t want = for_others ? 0711 : 0700;
	struct stat st;

	*error = NULL;
	if (mkdir(dir, want) < 0 && errno != EEXIST)
		return cause_set(error, -errno,
				 "mode \"%s\": cannot create slurm_spool_dir \"%s\": %s", mode, dir,
				 strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return cause_set(error, -ENOTDIR,
				 "mode \"%s\": slurm_spool_dir \"%s\" is not a directory", mode,
				 dir);
	if (st.st_uid != geteuid())
		return cause_set(error, -EPERM,
				 "mode \"%s\": slurm_spool_dir \"%s\" is owned by uid %u, not "
				 "by the daemon's uid %u: anyone who owns it can plant files "
				 "there",
				 mode, dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return cause_set(error, -EPERM,
				 "mode \"%s\": slurm_spool_dir \"%s\" is writable by others "
				 "than the daemon's user (mode %04o): make it 0700 (0711 for "
				 "slurm_run_as = submitter)",
				 mode, dir, (unsigned)(st.st_mode & 07777));
	if (access(dir, W_OK | X_OK) < 0)
		return cause_set(error, -EACCES,
				 "mode \"%s\": slurm_spool_dir \"%s\" is not a writable "
				 "directory: %s",
				 mode, dir, strerror(errno));
	return 0;
}

static bool slurm_spool_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int slurm_spool_run_name(const char *task_name, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char token[SLURM_SPOOL_TOKEN_HEX / 2];
	size_t n = 0, got = 0;

	while (got < sizeof(token)) {
		ssize_t r = getrandom(token + got, sizeof(token) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	for (; task_name[n] && n < SLURM_SPOOL_NAME_PART; n++)
		buf[n] = slurm_spool_name_char(task_name[n]) ? task_name[n] : '_';
	if (n == 0) {
		memcpy(buf, "task", 4);
		n = 4;
	}
	buf[n++] = '.';
	for (size_t i = 0; i < sizeof(token); i++) {
		buf[n++] = hex[token[i] >> 4];
		buf[n++] = hex[token[i] & 15];
	}
	buf[n] = '\0';
	return 0;
}

bool slurm_spool_run_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < SLURM_SPOOL_TOKEN_HEX + 2 || len >= SLURM_RUN_NAME_MAX ||
	    name[len - SLURM_SPOOL_TOKEN_HEX - 1] != '.')
		return false;
	for (size_t i = 0; i < len - SLURM_SPOOL_TOKEN_HEX - 1; i++)
		if (!slurm_spool_name_char(name[i]))
			return false;
	for (size_t i = len - SLURM_SPOOL_TOKEN_HEX; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Writes all of data to fd. 0 or a negative errno. */
static int slurm_spool_write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Appends one entry of a POSIX ACL in the kernel's xattr form (little-endian). */
static size_t slurm_spool_acl_entry(unsigned char *p, unsigned tag, unsigned perm, uint32_t id)
{
	p[0] = (unsigned char)tag;
	p[1] = (unsigned char)(tag >> 8);
	p[2] = (unsigned char)perm;
	p[3] = 0;
	for (int i = 0; i < 4; i++)
		p[4 + i] = (unsigned char)(id >> (8 * i));
	return 8;
}

/*
 * Lets uid read and write the daemon's file fd by an ACL (user::rw-,
 * user:UID:rw-, group::---, mask::rw-, other::---): the file stays the
 * daemon's and needs no capability. 0 or a negative errno (-EOPNOTSUPP:
 * no ACLs on this filesystem).
 */
static int slurm_spool_grant(int fd, uid_t uid)
{
	enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_MASK = 16, ACL_OTHER = 32 };
	unsigned char acl[4 + 5 * 8] = {2, 0, 0, 0}; /* version 2 */
	size_t n = 4;

	n += slurm_spool_acl_entry(acl + n, ACL_USER_OBJ, 6, UINT32_MAX);
	n += slurm_spool_acl_entry(acl + n, ACL_USER, 6, (uint32_t)uid);
	n += slurm_spool_acl_entry(acl + n, ACL_GROUP_OBJ, 0, UINT32_MAX);
	n += slurm_spool_acl_entry(acl + n, ACL_MASK, 6, UINT32_MAX);
	n += slurm_spool_acl_entry(acl + n, ACL_OTHER, 0, UINT32_MAX);
	return fsetxattr(fd, "system.posix_acl_access", acl, n, 0) < 0 ? -errno : 0;
}

/*
 * Gives the job's user the file fd: by an ACL where the filesystem has
 * them, else by making it theirs (CAP_CHOWN), in the daemon's group so
 * that the daemon still reads it without CAP_DAC_*.
 */
static int slurm_spool_give(int fd, uid_t uid)
{
	int r = slurm_spool_grant(fd, uid);

	if (r != -EOPNOTSUPP)
		return r;
	if (fchown(fd, uid, getegid()) < 0 || fchmod(fd, 0660) < 0)
		return -errno;
	return 0;
}

/* Makes one file of the run, the job user's to use, with data in it. 0 or a negative errno. */
static int slurm_spool_make_file(int dirfd, const char *name, const struct slurm_spool_run *run,
				 const char *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = slurm_spool_write_all(fd, data, len);
	if (r == 0 && run->uid != geteuid())
		r = slurm_spool_give(fd, run->uid);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int slurm_spool_make_run(const struct slurm_spool_run *run, char *why, size_t size)
{
	bool others = run->uid != geteuid();
	int dirfd, r = 0;

	if (mkdir(run->dir, others ? 0711 : 0700) < 0) {
		r = -errno;
		snprintf(why, size, "cannot create %s: %s", run->dir, strerror(-r));
		return r;
	}
	dirfd = open(run->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		r = -errno;
		snprintf(why, size, "cannot open %s: %s", run->dir, strerror(-r));
		rmdir(run->dir);
		return r;
	}
	for (size_t i = 0; r == 0 && i < sizeof(slurm_spool_files) / sizeof(slurm_spool_files[0]);
	     i++) {
		bool is_stdin = strcmp(slurm_spool_files[i], SLURM_SPOOL_STDIN) == 0;

		if (is_stdin && !run->stdin_data)
			continue;
		r = slurm_spool_make_file(dirfd, slurm_spool_files[i], run,
					  is_stdin ? run->stdin_data : "",
					  is_stdin ? run->stdin_len : 0);
		if (r < 0)
			snprintf(why, size, "cannot create %s/%s: %s", run->dir,
				 slurm_spool_files[i], strerror(-r));
	}
	close(dirfd);
	if (r < 0) {
		char ignored[256];

		slurm_spool_remove_run(run->dir, ignored, sizeof(ignored));
	}
	return r;
}

/* Removes every entry of dirfd but directories; the first error. */
static int slurm_spool_empty(int dirfd, char *why, size_t size)
{
	int fd = dup(dirfd), r = 0;
	struct dirent *e;
	DIR *dir;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(why, size, "cannot list it: %s", strerror(-r));
		return r;
	}
	while ((e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT && r == 0) {
			r = -errno;
			snprintf(why, size, "cannot remove %s: %s", e->d_name, strerror(errno));
		}
	}
	closedir(dir);
	return r;
}

int slurm_spool_remove_run(const char *dir, char *why, size_t size)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (dirfd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, size, "cannot open %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(slurm_spool_files) / sizeof(slurm_spool_files[0]); i++)
		unlinkat(dirfd, slurm_spool_files[i], 0);
	if (rmdir(dir) < 0 && errno == ENOTEMPTY) {
		/* The job put more there (it runs as the daemon's user). */
		r = slurm_spool_empty(dirfd, why, size);
		if (r == 0 && rmdir(dir) < 0) {
			r = -errno;
			snprintf(why, size, "cannot remove %s: %s", dir, strerror(errno));
		}
	}
	close(dirfd);
	return r;
}

static int slurm_spool_append(char ***names, size_t *n, const char *name)
{
	char **grown = realloc(*names, (*n + 2) * sizeof(char *));

	if (!grown)
		return -ENOMEM;
	*names = grown;
	if (!(grown[*n] = strdup(name)))
		return -ENOMEM;
	grown[++*n] = NULL;
	return 0;
}

int slurm_spool_scan(const char *spool, char ***ret)
{
	DIR *dir = opendir(spool);
	char **names = calloc(1, sizeof(char *));
	struct dirent *e;
	size_t n = 0;
	int r = 0;

	if (!dir || !names) {
		r = dir ? -ENOMEM : -errno;
		if (dir)
			closedir(dir);
		free(names);
		return r;
	}
	while (r == 0 && (e = readdir(dir))) {
		struct stat st;

		if (slurm_spool_run_name_valid(e->d_name) &&
		    fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			r = slurm_spool_append(&names, &n, e->d_name);
	}
	closedir(dir);
	if (r < 0) {
		for (size_t i = 0; names[i]; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret = names;
	return 0;
}

/* Reads len bytes at off into buf; fewer at the end of the file. The count, or a negative errno. */
static ssize_t slurm_spool_pread(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Head and tail of an open regular file of size bytes into out. */
static int slurm_spool_read_fd(int fd, size_t size, size_t head, size_t tail,
			       struct slurm_output *out)
{
	bool cut = size > head + tail;
	size_t want = cut ? head + tail : size;
	ssize_t a, b = 0;

	out->data = malloc(want ? want : 1);
	if (!out->data)
		return -ENOMEM;
	a = slurm_spool_pread(fd, out->data, cut ? head : want, 0);
	if (a >= 0 && cut)
		b = slurm_spool_pread(fd, out->data + a, tail, (off_t)(size - tail));
	if (a < 0 || b < 0) {
		slurm_spool_output_clear(out);
		return a < 0 ? (int)a : (int)b;
	}
	out->len = (size_t)(a + b);
	out->truncated = cut;
	return 0;
}

int slurm_spool_read(int dirfd, const char *name, uid_t uid, size_t head, size_t tail,
		     struct slurm_output *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	int r;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (st.st_uid != uid && st.st_uid != geteuid())
		r = -EPERM;
	else if (st.st_nlink != 1)
		r = -EMLINK;
	else
		r = slurm_spool_read_fd(fd, (size_t)st.st_size, head, tail, out);
	close(fd);
	return r;
}

void slurm_spool_output_clear(struct slurm_output *out)
{
	free(out->data);
	memset(out, 0, sizeof(*out));
}
