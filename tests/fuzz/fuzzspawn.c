/*
 * The fuzzer's guard: a fuzzer writes arbitrary tasks, so no task it
 * submits may run what it names, and the daemon may signal nothing but
 * what it started. This file defines posix_spawn, posix_spawnp and kill
 * for the whole executable it is linked into: a definition in the
 * executable wins over libc's and over the sanitizers' (weak)
 * interceptors, and the daemon library is linked statically.
 *
 * Every spawn runs FUZZSPAWN_PROGRAM (echo, which only writes its
 * arguments) with the task's arguments and an empty environment, whatever
 * argv[0], node.env (LD_PRELOAD...) or PATH say; argv[0] "false" runs
 * false instead, for failures. The file actions (cwd, pipes) and the
 * attributes (process group) stay the daemon's. Once armed (while a
 * daemon runs in this process), kill() reaches only the pids and process
 * groups spawned here; any other target (0, -1, a stranger) is a daemon
 * bug and aborts. Owns the table of spawned pids.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzzspawn.h"

#define FUZZSPAWN_PROGRAM "/bin/echo"
#define FUZZSPAWN_FALSE	  "/bin/false"
#define FUZZSPAWN_MAX_ARG 64
#define FUZZSPAWN_PID_MAX (1u << 22) /* the kernel's largest pid_max */

typedef int (*fuzzspawn_fn)(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);

static uint8_t fuzzspawn_pids[FUZZSPAWN_PID_MAX / 8];
static unsigned long fuzzspawn_count;
static bool fuzzspawn_armed;

static void fuzzspawn_remember(pid_t pid)
{
	if (pid > 0 && (unsigned)pid < FUZZSPAWN_PID_MAX)
		fuzzspawn_pids[pid / 8] |= (uint8_t)(1u << (pid % 8));
}

static bool fuzzspawn_ours(pid_t pid)
{
	return pid > 0 && (unsigned)pid < FUZZSPAWN_PID_MAX &&
	       (fuzzspawn_pids[pid / 8] & (1u << (pid % 8)));
}

void fuzzspawn_arm(void)
{
	fuzzspawn_armed = true;
}

unsigned long fuzzspawn_spawned(void)
{
	return fuzzspawn_count;
}

static int fuzzspawn_run(pid_t *pid, const posix_spawn_file_actions_t *actions,
			 const posix_spawnattr_t *attr, char *const argv[])
{
	static fuzzspawn_fn real;
	char *args[FUZZSPAWN_MAX_ARG + 2];
	char *const no_env[] = {NULL};
	const char *program = FUZZSPAWN_PROGRAM;
	size_t n = 1;
	pid_t child;
	int r;

	if (!real)
		real = (fuzzspawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
	if (!real) {
		fprintf(stderr, "fuzzspawn: cannot find the real posix_spawn: %s\n", dlerror());
		abort();
	}
	if (argv && argv[0] && strcmp(argv[0], "false") == 0)
		program = FUZZSPAWN_FALSE;
	args[0] = (char *)program;
	for (; argv && argv[0] && argv[n] && n <= FUZZSPAWN_MAX_ARG; n++)
		args[n] = argv[n];
	args[n] = NULL;
	r = real(&child, program, actions, attr, args, no_env);
	if (r == 0) {
		fuzzspawn_remember(child);
		fuzzspawn_count++;
		if (pid)
			*pid = child;
	}
	return r;
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	(void)path;
	(void)envp;
	return fuzzspawn_run(pid, actions, attr, argv);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	(void)file;
	(void)envp;
	return fuzzspawn_run(pid, actions, attr, argv);
}

int kill(pid_t pid, int sig)
{
	bool bad = pid == 0 || pid == -1 || pid == INT32_MIN;

	if (!bad && sig != 0)
		bad = !fuzzspawn_ours(pid < 0 ? -pid : pid);
	if (fuzzspawn_armed && bad) {
		fprintf(stderr,
			"fuzzspawn: the daemon sent signal %d to %d, which it did not spawn\n", sig,
			(int)pid);
		abort();
	}
	return (int)syscall(SYS_kill, pid, sig);
}
