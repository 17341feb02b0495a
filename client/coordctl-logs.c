/* coordctl logs: a job's kept output, its last lines, or followed live until the job closes. */
#include <stdlib.h>
#include <string.h>

#include "coordctl-output.h"
#include "jsonutil.h"

enum {
	LOGS_OPT_STDOUT = COORDCTL_OPT_FIRST_OWN,
	LOGS_OPT_STDERR,
	LOGS_OPT_TAIL,
};

struct logs_args {
	int follow, want_stdout, want_stderr;
	long tail; /* lines; -1: all */
};

/* Prints the last lines of what o printed into mem for stream i (markers included). */
static void logs_print_tail(FILE *out, const char *text, size_t len, long lines)
{
	size_t start = len;
	long seen = 0;

	/* A last line without its newline counts as a line too. */
	if (start > 0 && text[start - 1] == '\n')
		start--;
	while (start > 0) {
		if (text[start - 1] == '\n' && ++seen >= lines)
			break;
		start--;
	}
	if (lines > 0)
		fwrite(text + start, 1, len - start, out);
	fflush(out);
}

/* Reads what is kept now and prints it (with --tail, only the last lines). 0 or an exit code. */
static int logs_print_kept(struct coordctl *ctl, struct coordctl_output *o,
			   const struct logs_args *a, int *ret_eof)
{
	json_object *result = NULL, *chunks, *eof;
	char *text[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	FILE *real[2] = {o->s[0].out, o->s[1].out};
	struct coord_error err;
	enum coord_stream which = a->want_stdout && a->want_stderr ? COORD_STREAM_BOTH
				  : a->want_stdout		   ? COORD_STREAM_STDOUT
								   : COORD_STREAM_STDERR;

	if (coord_output(ctl->conn, o->request_id, which, 0, &result, &err) < 0)
		return coordctl_rpc_fail("logs", &err);
	if (ctl->json && !a->follow) {
		coordctl_format_json(ctl, result);
		json_object_put(result);
		return 0;
	}
	if (a->tail >= 0)
		for (int i = 0; i < 2; i++)
			o->s[i].out = open_memstream(&text[i], &len[i]);
	json_object_object_get_ex(result, "chunks", &chunks);
	for (size_t i = 0; chunks && i < json_object_array_length(chunks); i++)
		coordctl_output_chunk(o, json_object_array_get_idx(chunks, i));
	*ret_eof = json_object_object_get_ex(result, "eof", &eof) && json_object_get_boolean(eof);
	json_object_put(result);
	if (a->tail < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		fclose(o->s[i].out);
		o->s[i].out = real[i];
		logs_print_tail(real[i], text[i], len[i], a->tail);
		free(text[i]);
	}
	return 0;
}

/* The job's exit status, as submit --wait gives it. */
static int logs_job_exit(struct coordctl *ctl, const char *request_id)
{
	json_object *result = NULL, *message = NULL;
	struct coord_error err;
	int r;

	if (coord_job(ctl->conn, request_id, &result, &err) < 0)
		return coordctl_rpc_fail("logs", &err);
	json_object_object_get_ex(result, "message", &message);
	r = coordctl_submit_exit_code(message);
	json_object_put(result);
	return r;
}

static int logs_run(struct coordctl *ctl, const struct logs_args *a, const char *request_id)
{
	struct coordctl_output o;
	int eof = 0, r;

	coordctl_output_init(&o, request_id, a->want_stdout, a->want_stderr);
	r = coordctl_rpc_connect(ctl);
	/* -f without --tail starts at the beginning; the follow sends what is kept. */
	if (r == 0 && (!a->follow || a->tail >= 0))
		r = logs_print_kept(ctl, &o, a, &eof);
	if (r == 0 && a->follow) {
		r = coordctl_output_follow(ctl, &o);
		if (r == 0)
			r = coordctl_output_wait(ctl, &o, 0, NULL, NULL);
		if (r == 0)
			r = logs_job_exit(ctl, request_id);
	}
	coordctl_output_clear(&o);
	return r;
}

static int logs_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"stdout", no_argument, NULL, LOGS_OPT_STDOUT},
		{"stderr", no_argument, NULL, LOGS_OPT_STDERR},
		{"tail", required_argument, NULL, LOGS_OPT_TAIL},
		COORDCTL_COMMON_OPTIONS,
	};
	struct logs_args a = {.tail = -1};
	int c, r = COORDCTL_CONTINUE;
	char *end;

	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "+hfn:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			a.follow = 1;
			break;
		case LOGS_OPT_STDOUT:
			a.want_stdout = 1;
			break;
		case LOGS_OPT_STDERR:
			a.want_stderr = 1;
			break;
		case 'n':
		case LOGS_OPT_TAIL:
			a.tail = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || a.tail < 0)
				r = coordctl_usage_error(entry, "bad value '%s' for --tail",
							 optarg);
			break;
		default:
			r = coordctl_option(ctl, entry, c);
		}
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind + 1 != argc)
		return coordctl_usage_error(entry, "give exactly one request_id");
	if (!a.want_stdout && !a.want_stderr)
		a.want_stdout = a.want_stderr = 1;
	return logs_run(ctl, &a, argv[optind]);
}

const struct coordctl_entry coordctl_logs_entry = {
	.name = "logs",
	.usage = "[-f] [--stdout|--stderr] [--tail N] REQUEST_ID",
	.summary = "Print a job's output as kept (its stdout to stdout, its stderr to stderr).",
	.help = "  -f, --follow      go on printing as the task writes, until the job closes;\n"
		"                    then exit with the job's status, as submit --wait does\n"
		"  --stdout          only the task's stdout\n"
		"  --stderr          only the task's stderr\n"
		"  -n, --tail N      only the last N lines of each stream (then follow, with -f)\n",
	.exec = logs_exec,
};
