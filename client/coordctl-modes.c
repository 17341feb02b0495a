/* coordctl modes: lists the execution modes and their load; frees its reply. */
#include "coordctl.h"
#include "jsonutil.h"

static void modes_print(struct coordctl *ctl, json_object *result)
{
	int header = !ctl->quiet;
	json_object *modes = NULL, *m, *paused;
	double max, running, queued;

	if (header)
		printf("%s%-16s %-12s %8s %8s %8s  %s%s\n", coordctl_format_color(ctl, "header"),
		       "NAME", "STRATEGY", "MAX", "RUNNING", "QUEUED", "STATE",
		       *coordctl_format_color(ctl, "header") ? coordctl_format_reset(ctl) : "");
	json_object_object_get_ex(result, "modes", &modes);
	for (size_t i = 0; modes && i < json_object_array_length(modes); i++) {
		m = json_object_array_get_idx(modes, i);
		if (ctl->quiet) {
			printf("%s\n", json_get_string(m, "name") ?: "?");
			continue;
		}
		max = running = queued = 0;
		paused = NULL;
		json_object_object_get_ex(m, "paused", &paused);
		coordctl_format_number(m, "max_concurrency", &max);
		coordctl_format_number(m, "running", &running);
		coordctl_format_number(m, "queued", &queued);
		printf("%-16s %-12s %8.0f %8.0f %8.0f  %s\n", json_get_string(m, "name") ?: "?",
		       json_get_string(m, "strategy") ?: "?", max, running, queued,
		       json_object_get_boolean(paused) ? "paused" : "-");
	}
}

static int modes_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		COORDCTL_COMMON_OPTIONS,
	};
	json_object *result = NULL;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE &&
	       (c = coordctl_getopt(ctl, argc, argv, ":hq", opts)) != -1) {
		if (c == 'q')
			ctl->quiet = 1;
		else
			r = coordctl_option(ctl, entry, c);
	}
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
	.usage = "[-q]",
	.summary = "List the execution modes with their concurrency, queue and state.",
	.help = "  -q, --quiet       print only the modes' names\n",
	.exec = modes_exec,
};
