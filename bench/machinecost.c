/*
 * machinecost: what the machine charges for the operations a task's trip
 * through the daemon is made of, so that the daemon's own figures can be
 * read against them (docs/benchmarks.md, "The machine's unit costs").
 *
 *   machinecost DIR    measures, in DIR (a file system like the state
 *                      directory's), and prints one line of name-value
 *                      pairs, in microseconds:
 *     syscall  one system call that does nothing (getppid)
 *     pwrite   a 4 KiB pwrite to a file (a WAL frame's page)
 *     fcntl    an fcntl record lock or unlock (SQLite's WAL index locks)
 *     wake     a round trip between two threads through eventfds (the
 *              spawner's hand-off and its answer), wall time
 *     spawn    posix_spawn of `true` and its waitpid, one at a time, wall
 *              time; spawn_cpu is the spawning thread's CPU for it, and
 *              child_cpu the CPU of the child itself (its exec, dynamic
 *              loading and exit: what every task costs, whoever spawns it)
 *     clone_cpu  the spawning thread's CPU for the same child started by
 *              clone(CLONE_VM | CLONE_VFORK) on a stack allocated once,
 *              then execve: the system calls posix_spawn makes at its core,
 *              without mapping a stack and masking signals on every call.
 *              spawn_cpu - clone_cpu is what glibc's posix_spawn itself
 *              costs here. The daemon does not spawn that way (it uses
 *              posix_spawn); this only prices the difference.
 *     spawn_par  wall time per spawn when two threads each posix_spawn
 *              `true` and wait for it, one at a time, at once: half of
 *              spawn where the machine starts two processes in parallel,
 *              spawn or more where it cannot (then a second spawning
 *              thread would not make the daemon start tasks faster).
 *
 * Nothing is asserted; it exits non-zero only when an operation fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Repeats of each operation: enough for a stable mean, a second or so in all. */
#define COST_CALLS  200000
#define COST_WRITES 20000
#define COST_LOCKS  20000
#define COST_WAKES  10000
#define COST_SPAWNS 200

struct cost_clock {
	double wall;
	double cpu;
};

static double cost_read(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct cost_clock cost_start(void)
{
	return (struct cost_clock){cost_read(CLOCK_MONOTONIC), cost_read(CLOCK_THREAD_CPUTIME_ID)};
}

/* Microseconds of wall time (cpu false) or of this thread's CPU per operation since c. */
static double cost_per_op(struct cost_clock c, long ops, int cpu)
{
	double now = cpu ? cost_read(CLOCK_THREAD_CPUTIME_ID) : cost_read(CLOCK_MONOTONIC);

	return (now - (cpu ? c.cpu : c.wall)) / (double)ops * 1e6;
}

static void cost_die(const char *what)
{
	fprintf(stderr, "machinecost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double cost_syscall(void)
{
	struct cost_clock c = cost_start();

	for (long i = 0; i < COST_CALLS; i++)
		syscall(SYS_getppid);
	return cost_per_op(c, COST_CALLS, 0);
}

static double cost_pwrite(int fd)
{
	static char page[4096];
	struct cost_clock c;

	memset(page, 'x', sizeof(page));
	c = cost_start();
	for (long i = 0; i < COST_WRITES; i++)
		if (pwrite(fd, page, sizeof(page), (off_t)(i % 256) * (off_t)sizeof(page)) < 0)
			cost_die("pwrite");
	return cost_per_op(c, COST_WRITES, 0);
}

static double cost_fcntl(int fd)
{
	struct flock lock = {.l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
	struct cost_clock c = cost_start();

	for (long i = 0; i < COST_LOCKS; i++) {
		lock.l_type = (i & 1) ? F_UNLCK : F_RDLCK;
		if (fcntl(fd, F_SETLK, &lock) < 0)
			cost_die("fcntl");
	}
	return cost_per_op(c, COST_LOCKS, 0);
}

struct cost_pair {
	int there;	  /* the thread reads here */
	int back;	  /* and answers here */
	_Atomic int stop; /* set before the last wake: the thread ends instead of answering */
};

/* Answers every wake with one of its own until stop. */
static void *cost_echo_thread(void *arg)
{
	struct cost_pair *p = arg;
	uint64_t v;

	while (read(p->there, &v, sizeof(v)) == sizeof(v) && !p->stop)
		if (write(p->back, &v, sizeof(v)) != sizeof(v))
			break;
	return NULL;
}

static double cost_wake(void)
{
	struct cost_pair p = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), 0};
	uint64_t one = 1, v;
	struct cost_clock c;
	pthread_t thread;
	double us;

	if (p.there < 0 || p.back < 0)
		cost_die("eventfd");
	errno = pthread_create(&thread, NULL, cost_echo_thread, &p);
	if (errno)
		cost_die("pthread_create");
	c = cost_start();
	for (long i = 0; i < COST_WAKES; i++)
		if (write(p.there, &one, sizeof(one)) != sizeof(one) ||
		    read(p.back, &v, sizeof(v)) != sizeof(v))
			cost_die("eventfd round trip");
	us = cost_per_op(c, COST_WAKES, 0);
	p.stop = 1;
	if (write(p.there, &one, sizeof(one)) != sizeof(one))
		cost_die("eventfd");
	pthread_join(thread, NULL);
	close(p.there);
	close(p.back);
	return us;
}

/* The CPU seconds of the waited-for children so far. */
static double cost_children_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Spawns `true` and waits for it, n times, one at a time. */
static void cost_spawn_loop(long n)
{
	char *argv[] = {"true", NULL};

	for (long i = 0; i < n; i++) {
		pid_t pid;
		int status;

		errno = posix_spawnp(&pid, "true", NULL, NULL, argv, environ);
		if (errno)
			cost_die("posix_spawn");
		if (waitpid(pid, &status, 0) < 0)
			cost_die("waitpid");
	}
}

static void cost_spawn(double *wall_us, double *cpu_us, double *child_us)
{
	double children = cost_children_cpu();
	struct cost_clock c = cost_start();

	cost_spawn_loop(COST_SPAWNS);
	*wall_us = cost_per_op(c, COST_SPAWNS, 0);
	*cpu_us = cost_per_op(c, COST_SPAWNS, 1);
	*child_us = (cost_children_cpu() - children) / COST_SPAWNS * 1e6;
}

static void *cost_spawn_thread(void *arg)
{
	cost_spawn_loop(COST_SPAWNS / 2);
	return arg;
}

/* Wall time per spawn with two spawning threads at once, each one spawn at a time. */
static double cost_spawn_parallel(void)
{
	pthread_t threads[2];
	struct cost_clock c = cost_start();

	for (int i = 0; i < 2; i++)
		if ((errno = pthread_create(&threads[i], NULL, cost_spawn_thread, NULL)) != 0)
			cost_die("pthread_create");
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	return cost_per_op(c, COST_SPAWNS / 2 * 2, 0);
}

/* The clone child: shares the parent's memory until execve, as posix_spawn's does. */
static int cost_clone_child(void *argv)
{
	execve("/bin/true", argv, environ);
	_exit(127);
}

static double cost_clone(void)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	char *argv[] = {"true", NULL};
	struct cost_clock c = cost_start();

	for (long i = 0; i < COST_SPAWNS; i++) {
		int status;
		pid_t pid = clone(cost_clone_child, stack + sizeof(stack),
				  CLONE_VM | CLONE_VFORK | SIGCHLD, argv);

		if (pid < 0)
			cost_die("clone");
		if (waitpid(pid, &status, 0) < 0)
			cost_die("waitpid");
	}
	return cost_per_op(c, COST_SPAWNS, 1);
}

int main(int argc, char **argv)
{
	double spawn_wall, spawn_cpu, child_cpu, clone_cpu, spawn_par, sys, write_us, lock_us,
		wake_us;
	char path[4096];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: machinecost DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/machinecost.XXXXXX", argv[1]);
	fd = mkstemp(path);
	if (fd < 0)
		cost_die(path);
	unlink(path);
	sys = cost_syscall();
	write_us = cost_pwrite(fd);
	lock_us = cost_fcntl(fd);
	close(fd);
	wake_us = cost_wake();
	cost_spawn(&spawn_wall, &spawn_cpu, &child_cpu);
	clone_cpu = cost_clone();
	spawn_par = cost_spawn_parallel();
	printf("syscall %.2f pwrite %.2f fcntl %.2f wake %.2f spawn %.1f spawn_cpu %.1f "
	       "child_cpu %.1f clone_cpu %.1f spawn_par %.1f\n",
	       sys, write_us, lock_us, wake_us, spawn_wall, spawn_cpu, child_cpu, clone_cpu,
	       spawn_par);
	return 0;
}
