/*
 * The daemon's side of the exec helper. Every string returned here is the
 * caller's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "exechelper.h"
#include "paths.h"

char *exechelper_path(const char *configured)
{
	if (configured)
		return strdup(configured);
	return paths_helper(EXECHELPER_NAME, COORD_LIBEXECDIR);
}

bool exechelper_needed(uid_t submitter)
{
	return submitter != 0 && submitter != geteuid();
}

char **exechelper_argv(const char *helper, uid_t uid, const char *cwd, char *const *argv)
{
	size_t n = 0, j = 0;
	char **v;

	while (argv[n])
		n++;
	v = calloc(n + 5, sizeof(char *));
	if (!v)
		return NULL;
	v[j++] = (char *)helper;
	if (asprintf(&v[j++], "--uid=%u", (unsigned)uid) < 0 ||
	    (cwd && asprintf(&v[j++], "--cwd=%s", cwd) < 0)) {
		v[j - 1] = NULL;
		exechelper_argv_free(v);
		return NULL;
	}
	v[j++] = "--";
	for (size_t i = 0; i < n; i++)
		v[j++] = argv[i];
	return v;
}

void exechelper_argv_free(char **argv)
{
	if (!argv)
		return;
	/* The options are ours; the rest was borrowed. */
	for (size_t i = 1; argv[i] && strcmp(argv[i], "--") != 0; i++)
		free(argv[i]);
	free(argv);
}

char *exechelper_read_status(int fd, const char *helper)
{
	char buf[1024], *error, *out;
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	error = strstr(buf, EXECHELPER_STATUS_ERROR);
	if (error) {
		error += strlen(EXECHELPER_STATUS_ERROR);
		error[strcspn(error, "\n")] = '\0';
		return strdup(error);
	}
	if (strncmp(buf, EXECHELPER_STATUS_EXEC, strlen(EXECHELPER_STATUS_EXEC)) == 0)
		return NULL;
	if (asprintf(&out, "the exec helper \"%s\" ended without starting the task", helper) < 0)
		return strdup("the exec helper ended without starting the task");
	return out;
}
