/*
 * One task's process: spawned with posix_spawn in its own process group,
 * its output captured through non-blocking pipes, its exit seen through a
 * pidfd on the event loop (SIGCHLD where pidfds are not available).
 */
#ifndef COORD_PROCESS_H
#define COORD_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct process;
struct process_result;
struct spawner;
struct sweeper;

/* Called once, when the process has exited and its output is read. res is borrowed. */
typedef void (*process_done_cb)(struct process *proc, const struct process_result *res,
				void *userdata);

/*
 * Called with each piece of output as it is read, in order: fd_no is
 * STDOUT_FILENO or STDERR_FILENO; data is borrowed. userdata is done's.
 */
typedef void (*process_output_cb)(struct process *proc, int fd_no, const char *data, size_t len,
				  void *userdata);

/*
 * Called once when a process handed to a spawner runs (error NULL) or
 * could not start (error: why; the caller frees proc, from inside at the
 * earliest). Both borrowed.
 */
typedef void (*process_started_cb)(struct process *proc, const char *error, void *userdata);

struct process_spec {
	char *const *argv; /* argv[0] is looked up in PATH when it has no '/' */
	char *const *envp;
	const char *cwd; /* NULL: the daemon's */
	const char *stdin_data;
	size_t stdin_len;
	size_t result_tail;	  /* the last bytes of stdout and of stderr kept for the result */
	process_output_cb output; /* may be NULL */
	unsigned kill_grace_ms;	  /* SIGTERM to SIGKILL, also for leftovers */
	/* Holds the group for leftovers' grace period; NULL: they get SIGKILL at once. */
	struct sweeper *sweeper;
	/*
	 * NULL: the task starts directly, as the daemon. Else it starts through
	 * this exec helper (see exechelper.h) as uid, which also enters cwd.
	 */
	const char *exec_helper;
	uid_t uid;
	/*
	 * NULL: process_spawn returns once the program runs. Else the spawner's
	 * thread starts it and started says when; meanwhile the process can be
	 * terminated (on start) and freed (killed on start).
	 */
	struct spawner *spawner;
	process_started_cb started;
};

struct process_result {
	/* The exec helper could not start the task: why (the rest is about the helper). */
	const char *spawn_error;
	bool signaled;
	int exit_code; /* when !signaled */
	int signal;    /* when signaled */
	/* The last bytes of each stream (at most result_tail); truncated: more came before. */
	const char *stdout_data;
	size_t stdout_len;
	bool stdout_truncated;
	const char *stderr_data;
	size_t stderr_len;
	bool stderr_truncated;
};

/*
 * Starts spec as a process. Returns 0 and the process in *ret; the caller
 * frees it with process_free, at the earliest from inside done. When the
 * program cannot be started returns a negative errno and a reason in
 * *error (caller frees).
 */
int process_spawn(struct event_base *base, const struct process_spec *spec, process_done_cb done,
		  void *userdata, struct process **ret, char **error);

/* 0 while a spawner starts it. */
pid_t process_pid(const struct process *proc);
/* The kernel's start time of the process (/proc/PID/stat, read by the spawn), 0 if unknown. */
uint64_t process_starttime(const struct process *proc);

/* SIGTERM to the whole group now, SIGKILL after the grace period. */
void process_terminate(struct process *proc);

/* Kills whatever still runs (SIGKILL), reaps it and frees. Accepts NULL. */
void process_free(struct process *proc);

#endif
