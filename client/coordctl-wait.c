/* coordctl wait: blocks until jobs close; exit status says whether all succeeded. Frees its reply.
 */
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

enum { WAIT_OPT_TIMEOUT = COORDCTL_OPT_FIRST_OWN };

/* 0 when every job succeeded, else 1; failures are named on stderr. */
static int wait_report(json_object *result)
{
	json_object *jobs = NULL, *job, *error;
	int r = COORDCTL_EXIT_OK;
	const char *res;

	json_object_object_get_ex(result, "jobs", &jobs);
	for (size_t i = 0; jobs && i < json_object_array_length(jobs); i++) {
		job = json_object_array_get_idx(jobs, i);
		res = json_get_string(job, "result");
		if (res && strcmp(res, "success") == 0)
			continue;
		r = COORDCTL_EXIT_FAILED;
		if (!json_object_object_get_ex(job, "error", &error))
			error = NULL;
		fprintf(stderr, "coordctl: job %s failed: %s: %s\n",
			json_get_string(job, "request_id") ?: "?",
			json_get_string(error, "kind") ?: "?",
			json_get_string(error, "message") ?: "");
	}
	return r;
}

static int wait_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, WAIT_OPT_TIMEOUT},
		COORDCTL_COMMON_OPTIONS,
	};
	json_object *result = NULL;
	struct coord_error err;
	double timeout = 0;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == WAIT_OPT_TIMEOUT && coordctl_format_parse_seconds(optarg, &timeout) < 0)
			r = coordctl_usage_error(ctl, "--timeout takes seconds, not '%s'",
						 optarg);
		else if (c != WAIT_OPT_TIMEOUT)
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind >= argc)
		return coordctl_usage_error(ctl, "give at least one request ID");
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	/* A timeout under a millisecond still has to be a limit, not "none". */
	if (coord_wait(ctl->conn, (const char *const *)argv + optind, (size_t)(argc - optind),
		       timeout > 0 ? (int64_t)(timeout * 1000) + (timeout < 0.001) : 0, &result,
		       &err) < 0)
		return coordctl_rpc_fail(ctl, "wait", &err);
	if (ctl->json)
		coordctl_format_json(ctl, result);
	r = wait_report(result);
	json_object_put(result);
	return r;
}

const struct coordctl_entry coordctl_wait_entry = {
	.name = "wait",
	.usage = "ID... [--timeout SECONDS]",
	.summary = "Wait until the jobs close; exit 0 if all succeeded, 1 if any failed, 124 on "
		   "timeout.",
	.help = "  --timeout SECONDS give up after SECONDS (exit 124)\n",
	.exec = wait_exec,
};
