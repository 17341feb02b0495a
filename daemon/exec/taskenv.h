/* The environment a task runs with, shared by every strategy that starts processes. */
#ifndef COORD_TASKENV_H
#define COORD_TASKENV_H

#include <stdbool.h>

struct task;
struct taskenv;

/* One task's environment: envp for posix_spawn, and the strings made for it. */
struct taskenv_vars {
	char **envp;  /* NULL-terminated; items borrowed or in owned */
	char **owned; /* NULL-terminated; freed by taskenv_vars_clear */
};

/*
 * Takes the daemon's environment without systemd's per-service variables
 * (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*), any COORD_ variable, items with
 * no '=' and the later ones of a name given twice; the socket path (may
 * be NULL) becomes COORD_SOCKET. NULL on ENOMEM.
 */
struct taskenv *taskenv_new(const char *socket_path);
void taskenv_free(struct taskenv *te);

/*
 * The daemon's environment, minus what the task overrides, plus the task's
 * env, plus COORD_SOCKET, COORD_REQUEST_ID, COORD_NODE_ID and COORD_RUN_ID;
 * every name once. 0 or -ENOMEM.
 */
int taskenv_build(const struct taskenv *te, const struct task *task, struct taskenv_vars *ret);

/*
 * taskenv_build for a task that runs as another user than the daemon
 * (other_user): then without the daemon's HOME, USER, LOGNAME and SHELL,
 * which the exec helper sets from the user's passwd entry.
 */
int taskenv_build_for(const struct taskenv *te, const struct task *task, bool other_user,
		      struct taskenv_vars *ret);
void taskenv_vars_clear(struct taskenv_vars *vars);

#endif
