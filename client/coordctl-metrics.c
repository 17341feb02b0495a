/* coordctl metrics: prints the daemon's metrics as Prometheus text (--json: the object). */
#include "coordctl.h"
#include "jsonutil.h"

static int metrics_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			char **argv)
{
	static const struct option opts[] = {COORDCTL_COMMON_OPTIONS};
	json_object *result = NULL;
	const char *text;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		r = coordctl_option(ctl, entry, c);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind < argc)
		return coordctl_usage_error(entry, "unexpected argument '%s'", argv[optind]);
	r = coordctl_rpc_call(ctl, "metrics", NULL, &result);
	if (r == 0 && ctl->json) {
		coordctl_format_json(ctl, result);
	} else if (r == 0) {
		text = json_get_string(result, "prometheus");
		if (!text) {
			fprintf(stderr,
				"coordctl: metrics: the daemon sent no \"prometheus\" text\n");
			r = COORDCTL_EXIT_PROTOCOL;
		} else {
			fputs(text, stdout);
		}
	}
	json_object_put(result);
	return r;
}

const struct coordctl_entry coordctl_metrics_entry = {
	.name = "metrics",
	.usage = "",
	.summary = "Print the daemon's metrics in Prometheus text format.",
	.help = "  (with --json: the whole metrics object, the text under \"prometheus\")\n",
	.exec = metrics_exec,
};
