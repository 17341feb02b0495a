/* coordctl modes: lists the execution modes and their load; frees its reply. */
#include "coordctl.h"
#include "jsonutil.h"

static void modes_print(struct coordctl *ctl, json_object *result)
{
	json_object *modes = NULL, *m;
	double max, running, queued;

	printf("%s%-16s %-12s %8s %8s %8s%s\n", coordctl_format_color(ctl, "header"), "NAME",
	       "STRATEGY", "MAX", "RUNNING", "QUEUED",
	       *coordctl_format_color(ctl, "header") ? coordctl_format_reset(ctl) : "");
	json_object_object_get_ex(result, "modes", &modes);
	for (size_t i = 0; modes && i < json_object_array_length(modes); i++) {
		m = json_object_array_get_idx(modes, i);
		max = running = queued = 0;
		coordctl_format_number(m, "max_concurrency", &max);
		coordctl_format_number(m, "running", &running);
		coordctl_format_number(m, "queued", &queued);
		printf("%-16s %-12s %8.0f %8.0f %8.0f\n", json_get_string(m, "name") ?: "?",
		       json_get_string(m, "strategy") ?: "?", max, running, queued);
	}
}

static int modes_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	static const struct option opts[] = {COORDCTL_COMMON_OPTIONS};
	json_object *result = NULL;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1)
		r = coordctl_option(ctl, entry, c);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind < argc)
		return coordctl_usage_error(ctl, "unexpected argument '%s'", argv[optind]);
	r = coordctl_rpc_call(ctl, "modes", NULL, &result);
	if (r == 0 && ctl->json)
		coordctl_format_json(ctl, result);
	else if (r == 0)
		modes_print(ctl, result);
	json_object_put(result);
	return r;
}

const struct coordctl_entry coordctl_modes_entry = {
	.name = "modes",
	.usage = "",
	.summary = "List the execution modes with their concurrency and queue.",
	.exec = modes_exec,
};
