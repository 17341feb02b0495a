/*
 * coordctl web in coordctl: execs the coordctl-web helper (the one next to
 * coordctl in a build tree, else the installed one in libexecdir) with the
 * options in force, so that coordctl itself links no HTTP server and starts
 * faster for every other command. What is built here is freed when the
 * exec fails (it returns only then).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "coordctl.h"
#include "paths.h"

#define WEB_LAUNCH_HELPER "coordctl-web"

/* The helper's argv: the global options in force, then the command's own words (borrowed). */
static char **web_launch_argv(const struct coordctl *ctl, char *path, int argc, char **argv)
{
	static char opt_socket[] = "--socket", opt_json[] = "--json", opt_full[] = "--full";
	char **v = calloc((size_t)argc + 6, sizeof(*v));
	size_t j = 0;

	if (!v)
		return NULL;
	v[j++] = path;
	if (ctl->socket) {
		v[j++] = opt_socket;
		v[j++] = (char *)ctl->socket;
	}
	if (ctl->json)
		v[j++] = opt_json;
	if (ctl->full)
		v[j++] = opt_full;
	for (int i = 1; i < argc; i++)
		v[j++] = argv[i];
	return v;
}

int coordctl_web_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	char *path = paths_helper(WEB_LAUNCH_HELPER, COORD_LIBEXECDIR);
	char **v = path ? web_launch_argv(ctl, path, argc, argv) : NULL;
	int e, r;

	if (!v) {
		free(path);
		perror("coordctl: web");
		return COORDCTL_EXIT_SOFTWARE;
	}
	fflush(stdout);
	execv(path, v);
	e = errno;
	r = coordctl_fail(ctl, COORDCTL_EXIT_UNAVAILABLE, "helper", NULL,
			  "cannot run %s: %s (is coordctl-web installed?)", path, strerror(e));
	free(v);
	free(path);
	return r;
}
