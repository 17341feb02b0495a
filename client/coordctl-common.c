/*
 * What coordctl and coordctl-web share around a command: the common options,
 * the help text and the set-up and finish of main. Nothing here allocates.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordctl.h"

const char coordctl_common_help[] =
	"  --json            print JSON instead of text (see coordctl(1) for the shapes)\n"
	"  --full            show whole request_ids, not their first 8 characters\n"
	"  --socket PATH     the daemon's socket (default: $COORD_SOCKET, then the\n"
	"                    per-user or system socket)\n"
	"  -h, --help        show this help\n";

void coordctl_help(const struct coordctl_entry *entry, FILE *out)
{
	fprintf(out, "usage: coordctl %s %s\n\n%s\n\noptions:\n%s%s", entry->name, entry->usage,
		entry->summary, entry->help ? entry->help : "", coordctl_common_help);
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
	case COORDCTL_OPT_FULL:
		ctl->full = 1;
		return COORDCTL_CONTINUE;
	case COORDCTL_OPT_SOCKET:
		ctl->socket = optarg;
		return COORDCTL_CONTINUE;
	case COORDCTL_OPT_BAD:
		return COORDCTL_EXIT_USAGE; /* coordctl_getopt said what was wrong */
	default:
		return coordctl_usage_error(ctl, "option '%s' is not handled", ctl->optname);
	}
}

int coordctl_common_args(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			 char **argv, int min, int max)
{
	static const struct option opts[] = {COORDCTL_COMMON_OPTIONS};
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1)
		r = coordctl_option(ctl, entry, c);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (max >= 0 && argc - optind > max)
		return coordctl_usage_error(ctl, "unexpected argument '%s'", argv[optind + max]);
	if (argc - optind < min)
		return coordctl_usage_error(ctl, "missing argument");
	return COORDCTL_CONTINUE;
}

/* Colour only on a terminal that shows it and for a user who did not opt out. */
static int coordctl_wants_color(int is_tty)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

	return is_tty && !(no_color && *no_color) && !(term && strcmp(term, "dumb") == 0);
}

void coordctl_setup(struct coordctl *ctl)
{
	*ctl = (struct coordctl){0};
	ctl->is_tty = isatty(STDOUT_FILENO);
	ctl->color = coordctl_wants_color(ctl->is_tty);
}

int coordctl_finish(struct coordctl *ctl, int r)
{
	coord_conn_close(ctl->conn);
	ctl->conn = NULL;
	if (fflush(stdout) != 0 && r == COORDCTL_EXIT_OK) {
		perror("coordctl: stdout");
		r = COORDCTL_EXIT_SOFTWARE;
	}
	return r;
}
