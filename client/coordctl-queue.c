/* coordctl pause, resume and parallel: a mode's queue controls, through mode_set; replies are
 * collected in an array owned here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

enum { QUEUE_OPT_MODE = COORDCTL_OPT_FIRST_OWN };

/* The mode a parallel without --mode changes: the one submit uses by default. */
#define QUEUE_DEFAULT_MODE "async"

/* Calls mode_set for mode with the settings in set (borrowed); adds the new mode to modes. */
static int queue_set(struct coordctl *ctl, const char *mode, json_object *set, json_object *modes)
{
	json_object *params = json_object_new_object(), *result = NULL, *m = NULL;
	int r;

	if (!params)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_add(params, "mode", json_object_new_string(mode));
	json_object_object_foreach (set, key, value)
		json_object_object_add(params, key, json_object_get(value));
	r = coordctl_rpc_call(ctl, "mode_set", params, &result);
	json_object_put(params);
	if (r != 0)
		return r;
	if (json_object_object_get_ex(result, "mode", &m))
		json_object_array_add(modes, json_object_get(m));
	json_object_put(result);
	return 0;
}

static void queue_print(struct coordctl *ctl, json_object *modes)
{
	json_object *wrap;

	if (ctl->json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "modes", json_object_get(modes));
		coordctl_format_json(ctl, wrap);
		json_object_put(wrap);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(modes); i++) {
		json_object *m = json_object_array_get_idx(modes, i), *paused = NULL;
		double max = 0;

		coordctl_format_number(m, "max_concurrency", &max);
		json_object_object_get_ex(m, "paused", &paused);
		printf("%s: %s, at most %.0f at once\n", json_get_string(m, "name") ?: "?",
		       json_object_get_boolean(paused) ? "paused" : "running", max);
	}
}

/* Applies set to the modes named in argv (all of them when argc is 0). */
static int queue_apply(struct coordctl *ctl, int argc, char **argv, json_object *set)
{
	json_object *names = NULL, *modes = json_object_new_array();
	int r = 0;

	if (!modes)
		return COORDCTL_EXIT_SOFTWARE;
	if (argc == 0)
		r = coordctl_rpc_mode_names(ctl, &names);
	for (int i = 0; r == 0 && i < argc; i++)
		r = queue_set(ctl, argv[i], set, modes);
	for (size_t i = 0; r == 0 && names && i < json_object_array_length(names); i++)
		r = queue_set(ctl, json_object_get_string(json_object_array_get_idx(names, i)), set,
			      modes);
	if (r == 0)
		queue_print(ctl, modes);
	json_object_put(names);
	json_object_put(modes);
	return r;
}

static int queue_pause_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			    char **argv)
{
	json_object *set;
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, -1);

	if (r != COORDCTL_CONTINUE)
		return r;
	set = json_object_new_object();
	if (!set)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_add(set, "paused",
			       json_object_new_boolean(entry == &coordctl_pause_entry));
	r = queue_apply(ctl, argc - optind, argv + optind, set);
	json_object_put(set);
	return r;
}

static int queue_parallel_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			       char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, QUEUE_OPT_MODE},
		COORDCTL_COMMON_OPTIONS,
	};
	char *mode = QUEUE_DEFAULT_MODE, *end;
	json_object *set;
	long n;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == QUEUE_OPT_MODE)
			mode = optarg;
		else
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (argc - optind != 1)
		return coordctl_usage_error(ctl, "give exactly one number N");
	errno = 0;
	n = strtol(argv[optind], &end, 10);
	if (errno || end == argv[optind] || *end || n < 1 || n > 1000000)
		return coordctl_usage_error(
			ctl, "bad value '%s' for N (a number from 1 to 1000000)", argv[optind]);
	set = json_object_new_object();
	if (!set)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_add(set, "max_concurrency", json_object_new_int64(n));
	r = queue_apply(ctl, 1, &mode, set);
	json_object_put(set);
	return r;
}

const struct coordctl_entry coordctl_pause_entry = {
	.name = "pause",
	.usage = "[MODE]...",
	.summary =
		"Pause modes (all when none is named): work is accepted and queued, none starts.",
	.exec = queue_pause_exec,
};

const struct coordctl_entry coordctl_resume_entry = {
	.name = "resume",
	.usage = "[MODE]...",
	.summary = "Resume paused modes (all when none is named): queued work starts in order.",
	.exec = queue_pause_exec,
};

const struct coordctl_entry coordctl_parallel_entry = {
	.name = "parallel",
	.usage = "N [--mode M]",
	.summary = "Run at most N tasks of a mode at once (default mode: async), until the daemon "
		   "restarts or reloads.",
	.help = "  --mode M          the mode to change (default: async)\n",
	.exec = queue_parallel_exec,
};
