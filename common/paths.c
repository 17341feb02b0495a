/* Socket, state directory and helper paths. Every returned string is the caller's to free. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

static char *paths_join(const char *dir, const char *rest)
{
	char *out;

	if (asprintf(&out, "%s/%s", dir, rest) < 0)
		return NULL;
	return out;
}

char *paths_socket(const char *explicit_path)
{
	const char *env = getenv("COORD_SOCKET");
	const char *runtime;
	char fallback[64];

	if (explicit_path && *explicit_path)
		return strdup(explicit_path);
	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/run/coordinator/coordinatord.sock");
	runtime = getenv("XDG_RUNTIME_DIR");
	if (!runtime || !*runtime) {
		snprintf(fallback, sizeof(fallback), "/run/user/%u", (unsigned)geteuid());
		runtime = fallback;
	}
	return paths_join(runtime, "coordinator/coordinatord.sock");
}

char *paths_state_dir(const char *explicit_dir)
{
	const char *state, *home;
	char *base, *out;

	if (explicit_dir && *explicit_dir)
		return strdup(explicit_dir);
	if (geteuid() == 0)
		return strdup("/var/lib/coordinator");
	state = getenv("XDG_STATE_HOME");
	if (state && *state)
		return paths_join(state, "coordinator");
	home = getenv("HOME");
	if (!home || !*home)
		home = "/tmp";
	base = paths_join(home, ".local/state");
	if (!base)
		return NULL;
	out = paths_join(base, "coordinator");
	free(base);
	return out;
}

int paths_mkdir_parents(const char *path, unsigned mode)
{
	char *copy = strdup(path);
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*p = '/';
	}
	if (r == 0 && mkdir(copy, mode) < 0 && errno != EEXIST)
		r = -errno;
	free(copy);
	return r;
}

char *paths_helper(const char *name, const char *fallback_dir)
{
	char self[PATH_MAX], *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		path = paths_join(dirname(self), name);
		if (!path || access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return paths_join(fallback_dir, name);
}
