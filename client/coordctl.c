/* coordctl: command-line client for coordinatord; main, global options and the command table. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "coordctl.h"

static const struct coordctl_entry *const coordctl_entries[] = {
	&coordctl_submit_entry,	  &coordctl_status_entry,   &coordctl_job_entry,
	&coordctl_logs_entry,	  &coordctl_wait_entry,	    &coordctl_cancel_entry,
	&coordctl_rerun_entry,	  &coordctl_watch_entry,    &coordctl_tree_entry,
	&coordctl_modes_entry,	  &coordctl_pause_entry,    &coordctl_resume_entry,
	&coordctl_parallel_entry, &coordctl_ping_entry,	    &coordctl_metrics_entry,
	&coordctl_web_entry,	  &coordctl_shutdown_entry, &coordctl_help_entry,
};

#define COORDCTL_NENTRIES (sizeof(coordctl_entries) / sizeof(coordctl_entries[0]))

static void coordctl_main_help(FILE *out)
{
	fprintf(out, "usage: coordctl [--socket PATH] [--json] COMMAND [ARG]...\n"
		     "       coordctl --version\n\n"
		     "Talk to coordinatord, the task coordinator.\n\ncommands:\n");
	for (size_t i = 0; i < COORDCTL_NENTRIES; i++)
		fprintf(out, "  %-10s %s\n", coordctl_entries[i]->name,
			coordctl_entries[i]->summary);
	fprintf(out,
		"\noptions:\n%s  --version         print the version\n\n"
		"A job ID may be a unique prefix of its request_id (at least 4 characters) or\n"
		"the name of an open job. Run 'coordctl help COMMAND' for a command's options;\n"
		"see coordctl(1).\n",
		coordctl_common_help);
}

static const struct coordctl_entry *coordctl_find(const char *name)
{
	for (size_t i = 0; i < COORDCTL_NENTRIES; i++)
		if (strcmp(coordctl_entries[i]->name, name) == 0)
			return coordctl_entries[i];
	return NULL;
}

/* Edit distance with transpositions (optimal string alignment), capped at 9. */
static size_t coordctl_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[16][16];

	if (la > 15 || lb > 15)
		return 9;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The command closest to a mistyped name, or NULL when none is close. */
static const struct coordctl_entry *coordctl_guess(const char *name)
{
	const struct coordctl_entry *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < COORDCTL_NENTRIES; i++) {
		size_t dist = coordctl_distance(name, coordctl_entries[i]->name);

		if (dist < best_d && dist < strlen(coordctl_entries[i]->name)) {
			best = coordctl_entries[i];
			best_d = dist;
		}
	}
	return best;
}

static int coordctl_unknown(struct coordctl *ctl, const char *name)
{
	const struct coordctl_entry *guess = coordctl_guess(name);

	if (guess)
		return coordctl_usage_error(ctl, "unknown command '%s'; did you mean '%s'?", name,
					    guess->name);
	return coordctl_usage_error(ctl, "unknown command '%s'", name);
}

static int help_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	const struct coordctl_entry *target;
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, 1);

	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind == argc) {
		coordctl_main_help(stdout);
		return COORDCTL_EXIT_OK;
	}
	target = coordctl_find(argv[optind]);
	if (!target) {
		ctl->entry = NULL;
		return coordctl_unknown(ctl, argv[optind]);
	}
	coordctl_help(target, stdout);
	return COORDCTL_EXIT_OK;
}

const struct coordctl_entry coordctl_help_entry = {
	.name = "help",
	.usage = "[COMMAND]",
	.summary = "Show the commands, or one command's options.",
	.exec = help_exec,
};

enum { COORDCTL_OPT_VERSION = COORDCTL_OPT_FIRST_OWN };

/* Parses options before the command; returns COORDCTL_CONTINUE or an exit code. */
static int coordctl_global_options(struct coordctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", no_argument, NULL, COORDCTL_OPT_VERSION},
		COORDCTL_COMMON_OPTIONS,
	};
	int c;

	while ((c = coordctl_getopt(ctl, argc, argv, "+:h", opts)) != -1) {
		switch (c) {
		case 'h':
			coordctl_main_help(stdout);
			return COORDCTL_EXIT_OK;
		case COORDCTL_OPT_VERSION:
			printf("coordctl %s (libcoord %s)\n", COORD_VERSION, coord_version());
			return COORDCTL_EXIT_OK;
		default:
			c = coordctl_option(ctl, NULL, c);
			if (c != COORDCTL_CONTINUE)
				return c;
		}
	}
	return COORDCTL_CONTINUE;
}

int main(int argc, char **argv)
{
	struct coordctl ctl;
	const struct coordctl_entry *entry;
	int r;

	coordctl_setup(&ctl);
	r = coordctl_global_options(&ctl, argc, argv);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind >= argc)
		return coordctl_usage_error(&ctl, "no command given");
	entry = coordctl_find(argv[optind]);
	if (!entry)
		return coordctl_unknown(&ctl, argv[optind]);
	ctl.entry = entry;
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: start over for the command's own options */
	return coordctl_finish(&ctl, entry->exec(&ctl, entry, argc, argv));
}
