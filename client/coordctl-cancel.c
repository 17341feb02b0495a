/* coordctl cancel: cancels a job (and by default its descendants); frees its reply. */
#include "coordctl.h"

enum { CANCEL_OPT_NO_CASCADE = COORDCTL_OPT_FIRST_OWN };

static int cancel_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		{"no-cascade", no_argument, NULL, CANCEL_OPT_NO_CASCADE},
		COORDCTL_COMMON_OPTIONS,
	};
	json_object *result = NULL;
	struct coord_error err;
	int c, cascade = 1, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == CANCEL_OPT_NO_CASCADE)
			cascade = 0;
		else
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (argc - optind != 1)
		return coordctl_usage_error(ctl, "give exactly one request ID");
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	if (coord_cancel(ctl->conn, argv[optind], cascade, &result, &err) < 0)
		return coordctl_rpc_fail(ctl, "cancel", &err);
	if (ctl->json) {
		json_object *job = NULL;

		json_object_object_get_ex(result, "job", &job);
		coordctl_format_json(ctl, job);
	}
	json_object_put(result);
	return 0;
}

const struct coordctl_entry coordctl_cancel_entry = {
	.name = "cancel",
	.usage = "ID [--no-cascade]",
	.summary = "Cancel a job and, unless --no-cascade, its descendants.",
	.help = "  --no-cascade      leave the job's descendants running\n",
	.exec = cancel_exec,
};
