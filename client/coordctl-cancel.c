/* coordctl cancel: cancels jobs (and by default their descendants); owns the jobs it collects. */
#include <stdlib.h>

#include "coordctl.h"

enum { CANCEL_OPT_NO_CASCADE = COORDCTL_OPT_FIRST_OWN };

/* Cancels one job as the user named it; adds it to jobs. Returns 0 or an exit code. */
static int cancel_one(struct coordctl *ctl, const char *arg, int cascade, json_object *jobs)
{
	json_object *result = NULL, *job = NULL;
	struct coord_error err;
	char *id;
	int r = coordctl_resolve(ctl, arg, &id);

	if (r != 0)
		return r;
	if (coord_cancel(ctl->conn, id, cascade, &result, &err) < 0)
		r = coordctl_rpc_fail(ctl, "cancel", &err);
	else if (json_object_object_get_ex(result, "job", &job))
		json_object_array_add(jobs, json_object_get(job));
	json_object_put(result);
	free(id);
	return r;
}

static int cancel_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		{"no-cascade", no_argument, NULL, CANCEL_OPT_NO_CASCADE},
		COORDCTL_COMMON_OPTIONS,
	};
	json_object *jobs, *wrap;
	int c, cascade = 1, r = COORDCTL_CONTINUE, first = 0;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == CANCEL_OPT_NO_CASCADE)
			cascade = 0;
		else
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind >= argc)
		return coordctl_usage_error(ctl, "give at least one job ID");
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	jobs = json_object_new_array();
	if (!jobs)
		return COORDCTL_EXIT_SOFTWARE;
	/* Each one named is tried; the first failure is the exit status. */
	for (int i = optind; i < argc; i++) {
		r = cancel_one(ctl, argv[i], cascade, jobs);
		if (r != 0 && first == 0)
			first = r;
	}
	if (ctl->json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "jobs", json_object_get(jobs));
		coordctl_format_json(ctl, wrap);
		json_object_put(wrap);
	}
	json_object_put(jobs);
	return first;
}

const struct coordctl_entry coordctl_cancel_entry = {
	.name = "cancel",
	.usage = "ID... [--no-cascade]",
	.summary = "Cancel jobs and, unless --no-cascade, their descendants.",
	.help = "  --no-cascade      leave the jobs' descendants running\n",
	.exec = cancel_exec,
};
