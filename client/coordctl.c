/* coordctl: command-line client for coordinatord; main, global options and the command table. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "coordctl.h"

static const struct coordctl_entry *const coordctl_entries[] = {
	&coordctl_submit_entry, &coordctl_status_entry,	  &coordctl_job_entry,
	&coordctl_logs_entry,	&coordctl_wait_entry,	  &coordctl_cancel_entry,
	&coordctl_rerun_entry,	&coordctl_watch_entry,	  &coordctl_tree_entry,
	&coordctl_modes_entry,	&coordctl_ping_entry,	  &coordctl_metrics_entry,
	&coordctl_web_entry,	&coordctl_shutdown_entry,
};

#define COORDCTL_NENTRIES (sizeof(coordctl_entries) / sizeof(coordctl_entries[0]))

static const char coordctl_common_help[] =
	"  --json            print JSON instead of text\n"
	"  --socket PATH     the daemon's socket (default: $COORD_SOCKET, then the\n"
	"                    per-user or system socket)\n"
	"  -h, --help        show this help\n";

void coordctl_help(const struct coordctl_entry *entry, FILE *out)
{
	fprintf(out, "usage: coordctl %s %s\n\n%s\n\noptions:\n%s%s", entry->name, entry->usage,
		entry->summary, entry->help ? entry->help : "", coordctl_common_help);
}

int coordctl_usage_error(const struct coordctl_entry *entry, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "coordctl%s%s: ", entry ? " " : "", entry ? entry->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (entry)
		fprintf(stderr, "\nusage: coordctl %s %s\nTry 'coordctl %s --help'.\n", entry->name,
			entry->usage, entry->name);
	else
		fprintf(stderr, "\nTry 'coordctl --help'.\n");
	return COORDCTL_EXIT_USAGE;
}

int coordctl_option(struct coordctl *ctl, const struct coordctl_entry *entry, int opt)
{
	switch (opt) {
	case 'h':
		coordctl_help(entry, stdout);
		return COORDCTL_EXIT_OK;
	case COORDCTL_OPT_JSON:
		ctl->json = 1;
		return COORDCTL_CONTINUE;
	case COORDCTL_OPT_SOCKET:
		ctl->socket = optarg;
		return COORDCTL_CONTINUE;
	default:
		/* getopt already said what was wrong. */
		fprintf(stderr, "usage: coordctl %s %s\nTry 'coordctl %s --help'.\n", entry->name,
			entry->usage, entry->name);
		return COORDCTL_EXIT_USAGE;
	}
}

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
		"Run 'coordctl COMMAND --help' for a command's options; see coordctl(1).\n",
		coordctl_common_help);
}

static const struct coordctl_entry *coordctl_find(const char *name)
{
	for (size_t i = 0; i < COORDCTL_NENTRIES; i++)
		if (strcmp(coordctl_entries[i]->name, name) == 0)
			return coordctl_entries[i];
	return NULL;
}

enum { COORDCTL_OPT_VERSION = COORDCTL_OPT_FIRST_OWN };

/* Parses options before the command; returns COORDCTL_CONTINUE or an exit code. */
static int coordctl_global_options(struct coordctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", no_argument, NULL, COORDCTL_OPT_VERSION},
		COORDCTL_COMMON_OPTIONS,
	};
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			coordctl_main_help(stdout);
			return COORDCTL_EXIT_OK;
		case COORDCTL_OPT_VERSION:
			printf("coordctl %s (libcoord %s)\n", COORD_VERSION, coord_version());
			return COORDCTL_EXIT_OK;
		case COORDCTL_OPT_JSON:
			ctl->json = 1;
			break;
		case COORDCTL_OPT_SOCKET:
			ctl->socket = optarg;
			break;
		default:
			fprintf(stderr, "Try 'coordctl --help'.\n");
			return COORDCTL_EXIT_USAGE;
		}
	}
	return COORDCTL_CONTINUE;
}

int main(int argc, char **argv)
{
	struct coordctl ctl = {0};
	const struct coordctl_entry *entry;
	const char *no_color = getenv("NO_COLOR");
	int r;

	ctl.is_tty = isatty(STDOUT_FILENO);
	ctl.color = ctl.is_tty && !(no_color && *no_color);
	r = coordctl_global_options(&ctl, argc, argv);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind >= argc)
		return coordctl_usage_error(NULL, "no command given");
	entry = coordctl_find(argv[optind]);
	if (!entry)
		return coordctl_usage_error(NULL, "unknown command '%s'", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: start over for the command's own options */
	r = entry->exec(&ctl, entry, argc, argv);
	coord_conn_close(ctl.conn);
	if (fflush(stdout) != 0 && r == COORDCTL_EXIT_OK) {
		perror("coordctl: stdout");
		r = COORDCTL_EXIT_SOFTWARE;
	}
	return r;
}
