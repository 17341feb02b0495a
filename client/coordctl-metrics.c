/* coordctl metrics: prints the daemon's metrics as Prometheus text (--json: the object). */
#include "coordctl.h"
#include "jsonutil.h"

static int metrics_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			char **argv)
{
	json_object *result = NULL;
	const char *text;
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, 0);

	if (r != COORDCTL_CONTINUE)
		return r;
	r = coordctl_rpc_call(ctl, "metrics", NULL, &result);
	if (r == 0 && ctl->json) {
		coordctl_format_json(ctl, result);
	} else if (r == 0) {
		text = json_get_string(result, "prometheus");
		if (!text) {
			r = coordctl_fail(ctl, COORDCTL_EXIT_PROTOCOL, "protocol", NULL,
					  "the daemon sent no \"prometheus\" text");
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
