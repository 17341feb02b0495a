/*
 * Task environments. A struct taskenv owns its array of the daemon's
 * variables (the strings are borrowed from environ, which outlives it)
 * and its COORD_SOCKET string.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "taskenv.h"

#define TASKENV_OWNED 4 /* the COORD_ variables made per task */

struct taskenv {
	char **base; /* NULL-terminated */
	size_t count;
	char *socket_path;
};

/* systemd's per-service variables: a task must not think it is the service. */
static bool taskenv_hidden(const char *entry)
{
	static const char *const hidden[] = {
		"NOTIFY_SOCKET=",  "LISTEN_FDS=",    "LISTEN_PID=",
		"LISTEN_FDNAMES=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
	};

	if (strncmp(entry, "COORD_", 6) == 0)
		return true;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (strncmp(entry, hidden[i], strlen(hidden[i])) == 0)
			return true;
	return false;
}

/* Whether name (up to '=') is in entries[0..n). */
static bool taskenv_has_name(char *const *entries, size_t n, const char *entry)
{
	size_t keylen = strcspn(entry, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(entries[i], entry, keylen) == 0 && entries[i][keylen] == '=')
			return true;
	return false;
}

struct taskenv *taskenv_new(const char *socket_path)
{
	extern char **environ;
	struct taskenv *te = calloc(1, sizeof(*te));
	size_t n = 0;

	if (!te)
		return NULL;
	while (environ[n])
		n++;
	te->base = calloc(n + 1, sizeof(char *));
	if (!te->base || (socket_path && !(te->socket_path = strdup(socket_path)))) {
		taskenv_free(te);
		return NULL;
	}
	/*
	 * Each name once, the first of several as getenv() reads it (a shell
	 * would take the last one): a task must see one value, not two.
	 */
	for (size_t i = 0; i < n; i++)
		if (strchr(environ[i], '=') && !taskenv_hidden(environ[i]) &&
		    !taskenv_has_name(te->base, te->count, environ[i]))
			te->base[te->count++] = environ[i];
	return te;
}

void taskenv_free(struct taskenv *te)
{
	if (!te)
		return;
	free(te->base);
	free(te->socket_path);
	free(te);
}

static bool taskenv_overridden(const char *entry, char *const *extra)
{
	size_t n = 0;

	while (extra[n])
		n++;
	return taskenv_has_name(extra, n, entry);
}

/* The daemon's own identity, which a task run as its submitter gets from the exec helper. */
static bool taskenv_identity(const char *entry)
{
	static const char *const names[] = {"HOME=", "USER=", "LOGNAME=", "SHELL="};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(entry, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

void taskenv_vars_clear(struct taskenv_vars *vars)
{
	if (vars->owned)
		for (size_t i = 0; i < TASKENV_OWNED; i++)
			free(vars->owned[i]);
	free(vars->owned);
	free(vars->envp);
	vars->owned = vars->envp = NULL;
}

static int taskenv_coord_vars(const struct taskenv *te, const struct task *task, char **owned)
{
	const char *run_id = task->run_id ? task->run_id : task->request_id;

	if (asprintf(&owned[0], "COORD_REQUEST_ID=%s", task->request_id) < 0 ||
	    asprintf(&owned[1], "COORD_NODE_ID=%s", task->node_id) < 0 ||
	    asprintf(&owned[2], "COORD_RUN_ID=%s", run_id) < 0 ||
	    (te->socket_path && asprintf(&owned[3], "COORD_SOCKET=%s", te->socket_path) < 0))
		return -ENOMEM;
	return 0;
}

int taskenv_build_for(const struct taskenv *te, const struct task *task, bool other_user,
		      struct taskenv_vars *ret)
{
	struct taskenv_vars v = {0};
	size_t ntask = 0, j = 0;

	while (task->env[ntask])
		ntask++;
	v.envp = calloc(te->count + ntask + TASKENV_OWNED + 1, sizeof(char *));
	v.owned = calloc(TASKENV_OWNED + 1, sizeof(char *));
	if (!v.envp || !v.owned || taskenv_coord_vars(te, task, v.owned) < 0) {
		taskenv_vars_clear(&v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < te->count; i++)
		if (!taskenv_overridden(te->base[i], task->env) &&
		    !(other_user && taskenv_identity(te->base[i])))
			v.envp[j++] = te->base[i];
	/* The COORD_ variables are ours (task.c refuses them): ours win regardless. */
	for (size_t i = 0; i < ntask; i++)
		if (strncmp(task->env[i], "COORD_", 6) != 0)
			v.envp[j++] = task->env[i];
	for (size_t i = 0; v.owned[i]; i++)
		v.envp[j++] = v.owned[i];
	*ret = v;
	return 0;
}

int taskenv_build(const struct taskenv *te, const struct task *task, struct taskenv_vars *ret)
{
	return taskenv_build_for(te, task, false, ret);
}
