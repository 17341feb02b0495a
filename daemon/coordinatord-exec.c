/*
 * coordinatord-exec: starts one task as its submitter. coordinatord (as
 * root) posix_spawns it in the task's process group, with the task's
 * environment and pipes; it takes on the user's uid, gid and supplementary
 * groups (from the passwd and group databases, as initgroups does), makes
 * sure there is no way back to root, enters the working directory as that
 * user and execs the task. glibc's posix_spawn cannot change the uid
 * itself, and the daemon never forks.
 *
 *   coordinatord-exec --uid=UID [--cwd=DIR] -- PROGRAM [ARG]...
 *
 * It reports through fd 3 (close-on-exec): "exec\n" just before the exec,
 * "error: REASON\n" when it cannot go on (then it exits 127). Run by hand,
 * without fd 3, it says why on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exechelper.h"

#define EXEC_FAILED 127

static bool exec_have_status; /* fd 3 is open: the daemon listens there */

static void exec_report(const char *text)
{
	size_t len = strlen(text);

	if (!exec_have_status || write(EXECHELPER_STATUS_FD, text, len) != (ssize_t)len)
		fputs(text, stderr);
}

static void exec_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void exec_fail(const char *fmt, ...)
{
	char reason[1024], line[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s%s\n", EXECHELPER_STATUS_ERROR, reason);
	exec_report(line);
	_exit(EXEC_FAILED);
}

struct exec_args {
	uid_t uid;
	const char *cwd; /* NULL: stay where we are */
	char **argv;
};

static void exec_parse(int argc, char **argv, struct exec_args *args)
{
	bool have_uid = false;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *end;
		unsigned long v;

		if (strncmp(argv[i], "--uid=", 6) == 0) {
			errno = 0;
			v = strtoul(argv[i] + 6, &end, 10);
			if (errno || *end || end == argv[i] + 6 || v > (uid_t)-2)
				exec_fail("bad option \"%s\"", argv[i]);
			args->uid = (uid_t)v;
			have_uid = true;
		} else if (strncmp(argv[i], "--cwd=", 6) == 0) {
			args->cwd = argv[i] + 6;
		} else {
			exec_fail("unknown option \"%s\" (usage: %s --uid=UID [--cwd=DIR] -- "
				  "PROGRAM [ARG]...)",
				  argv[i], EXECHELPER_NAME);
		}
	}
	if (!have_uid || i + 1 >= argc)
		exec_fail("usage: %s --uid=UID [--cwd=DIR] -- PROGRAM [ARG]...", EXECHELPER_NAME);
	args->argv = &argv[i + 1];
}

/* The user's supplementary groups, as initgroups would set them (caller frees). */
static gid_t *exec_groups(const struct passwd *pw, int *ret_n)
{
	int n = 32;

	for (;;) {
		gid_t *groups = malloc((size_t)n * sizeof(gid_t));
		int want = n;

		if (!groups)
			exec_fail("out of memory");
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &want) >= 0) {
			*ret_n = want;
			return groups;
		}
		free(groups);
		if (want <= n)
			exec_fail("cannot read the groups of %s", pw->pw_name);
		n = want;
	}
}

/* No capability left: a non-root uid that still had one could get root back. */
static void exec_check_no_caps(uid_t uid)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		exec_fail("cannot read our capabilities: %s", strerror(errno));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].permitted || data[i].effective || data[i].inheritable)
			exec_fail("still holding capabilities as uid %u: refusing to run the task",
				  (unsigned)uid);
}

/* Becomes uid with the user's gid and groups, for good. */
static void exec_drop(const struct passwd *pw)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	gid_t *groups;
	int n;

	groups = exec_groups(pw, &n);
	if (setgroups((size_t)n, groups) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		exec_fail("cannot become uid %u (%s): %s", (unsigned)pw->pw_uid, pw->pw_name,
			  strerror(errno));
	free(groups);
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid || rgid != pw->pw_gid ||
	    egid != pw->pw_gid || sgid != pw->pw_gid)
		exec_fail("did not become uid %u gid %u", (unsigned)pw->pw_uid,
			  (unsigned)pw->pw_gid);
	if (pw->pw_uid == 0)
		return;
	if (setuid(0) == 0 || seteuid(0) == 0)
		exec_fail("could become root again after dropping to uid %u", (unsigned)pw->pw_uid);
	exec_check_no_caps(pw->pw_uid);
}

/* HOME, USER, LOGNAME and SHELL of the user, unless the task set them itself. */
static void exec_identity(const struct passwd *pw)
{
	if (setenv("HOME", pw->pw_dir, 0) < 0 || setenv("USER", pw->pw_name, 0) < 0 ||
	    setenv("LOGNAME", pw->pw_name, 0) < 0 ||
	    setenv("SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh", 0) < 0)
		exec_fail("out of memory");
}

int main(int argc, char **argv)
{
	struct exec_args args = {0};
	struct passwd *pw;

	/* The status pipe must not reach the task. */
	exec_have_status = fcntl(EXECHELPER_STATUS_FD, F_SETFD, FD_CLOEXEC) == 0;
	exec_parse(argc, argv, &args);
	errno = 0;
	pw = getpwuid(args.uid);
	/* Not found may leave errno alone or set one of these (getpwuid(3)). */
	if (!pw && errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
		exec_fail("cannot look up uid %u: %s", (unsigned)args.uid, strerror(errno));
	if (!pw)
		exec_fail("uid %u has no user entry (passwd): cannot run tasks as it",
			  (unsigned)args.uid);
	exec_drop(pw);
	exec_identity(pw);
	/* As the user: a directory root may enter and the user may not is refused. */
	if (args.cwd && chdir(args.cwd) < 0)
		exec_fail("cannot use working directory \"%s\": %s", args.cwd, strerror(errno));
	if (exec_have_status)
		exec_report(EXECHELPER_STATUS_EXEC);
	execvp(args.argv[0], args.argv);
	exec_fail("cannot run \"%s\": %s", args.argv[0], strerror(errno));
}
