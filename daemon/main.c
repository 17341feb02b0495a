/* coordinatord: options, then the daemon's life. The only file that calls exit(). */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: coordinatord [OPTION]...\n"
		"Run the task coordinator in the foreground (as systemd expects).\n"
		"\n"
		"  -s, --socket PATH     listen on PATH (default: $COORD_SOCKET, the socket\n"
		"                        systemd passes, the config's, then\n"
		"                        /run/coordinator/coordinatord.sock for root or\n"
		"                        $XDG_RUNTIME_DIR/coordinator/coordinatord.sock)\n"
		"  -d, --state-dir DIR   keep the job history in DIR (default:\n"
		"                        /var/lib/coordinator for root, else\n"
		"                        $XDG_STATE_HOME/coordinator)\n"
		"  -c, --config FILE     read settings from FILE (default: %s, if present)\n"
		"  -l, --log-level LEVEL debug, info, notice, warning or error\n"
		"  -h, --help            show this help and exit\n"
		"  -V, --version         show the version and exit\n"
		"\n"
		"Signals: SIGTERM and SIGINT drain and stop; SIGHUP reloads the config.\n"
		"See coordinatord(8) and docs/protocol.md.\n",
		CONFIG_DEFAULT_PATH);
}

/*
 * getopt_long takes "--sock" for "--socket": a guess a daemon must not make
 * (a typo would silently pick another option). 1 when the option just
 * returned (longopts[idx]) was written out in full.
 */
static int main_option_whole(char **argv, const struct option *opt)
{
	const char *text = argv[optind - 1];
	size_t len;

	if (opt->has_arg == required_argument && optind >= 2 && optarg == argv[optind - 1])
		text = argv[optind - 2];
	len = strcspn(text, "=");
	if (strncmp(text, "--", 2) == 0 && len - 2 == strlen(opt->name) &&
	    strncmp(text + 2, opt->name, len - 2) == 0)
		return 1;
	fprintf(stderr, "coordinatord: unknown option \"%.*s\" (did you mean \"--%s\"?)\n",
		(int)len, text, opt->name);
	return 0;
}

static int main_parse(int argc, char **argv, struct daemon_options *opts)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c, idx = -1;

	while ((c = getopt_long(argc, argv, "s:d:c:l:hV", longopts, &idx)) != -1) {
		if (idx >= 0 && !main_option_whole(argv, &longopts[idx]))
			c = '?';
		idx = -1;
		switch (c) {
		case 's':
			opts->socket_path = optarg;
			break;
		case 'd':
			opts->state_dir = optarg;
			break;
		case 'c':
			opts->config_path = optarg;
			break;
		case 'l':
			opts->log_level = log_level_from_name(optarg);
			if (opts->log_level < 0) {
				fprintf(stderr,
					"coordinatord: unknown log level \"%s\" (debug, "
					"info, notice, warning, error)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("coordinatord %s\n", COORD_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'coordinatord --help' for more information.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "coordinatord: unexpected argument \"%s\"\n", argv[optind]);
		fprintf(stderr, "Try 'coordinatord --help' for more information.\n");
		return 2;
	}
	return -1;
}

/*
 * A notification to N subscribers allocates N output buffers of about a
 * KiB, freed once written: with glibc's default trim threshold (128 KiB
 * until a large mmap'd block is freed), each such round gave the heap's
 * top back to the kernel and took it again (brk, page faults, TLB
 * flushes: dear on a VM). Keeping up to this much free at the top ends
 * that. (Raising the mmap threshold as well measured slower.)
 */
#define MAIN_MALLOC_TRIM_THRESHOLD (8 << 20)

static void main_tune_malloc(void)
{
	mallopt(M_TRIM_THRESHOLD, MAIN_MALLOC_TRIM_THRESHOLD);
}

int main(int argc, char **argv)
{
	struct daemon_options opts = {.log_level = -1};
	struct daemon *d = NULL;
	char *error = NULL;
	int r;

	log_init("coordinatord");
	main_tune_malloc();
	r = main_parse(argc, argv, &opts);
	if (r >= 0)
		exit(r);
	r = daemon_new(&opts, &d, &error);
	if (r < 0) {
		log_error("cannot start: %s", error ? error : strerror(-r));
		free(error);
		daemon_free(d);
		exit(EXIT_FAILURE);
	}
	r = daemon_run(d);
	daemon_free(d);
	exit(r);
}
