/* coordctl status: lists jobs as a table or JSON; the reply object is freed here. */
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

enum {
	STATUS_OPT_OPEN = COORDCTL_OPT_FIRST_OWN,
	STATUS_OPT_CLOSED,
	STATUS_OPT_FAILED,
	STATUS_OPT_SUCCEEDED,
	STATUS_OPT_MODE,
	STATUS_OPT_RUN,
	STATUS_OPT_LIMIT,
};

#define STATUS_COLUMNS 8

/* DURATION is how long it ran (from run_start_time), WAITED how long it waited before. */
static const char *const status_headers[STATUS_COLUMNS] = {
	"REQUEST_ID", "NAME", "MODE", "STATUS", "RESULT", "STARTED", "DURATION", "WAITED",
};

/* The cells of one row, written into cells (each 64 bytes). */
static void status_row(json_object *job, double now, char cells[STATUS_COLUMNS][64])
{
	double start = 0, run, waited;
	char buf[64];

	snprintf(cells[0], 64, "%s", json_get_string(job, "request_id") ?: "?");
	snprintf(cells[1], 64, "%.24s", json_get_string(job, "name") ?: "-");
	snprintf(cells[2], 64, "%s", json_get_string(job, "mode") ?: "-");
	snprintf(cells[3], 64, "%s", coordctl_format_state(job));
	snprintf(cells[4], 64, "%s", coordctl_format_result(job, buf, sizeof(buf)));
	if (coordctl_format_number(job, "start_time", &start) == 0 &&
	    coordctl_format_times(job, now, &run, &waited) == 0) {
		coordctl_format_ago(cells[5], 64, start, now);
		if (run >= 0)
			coordctl_format_duration(cells[6], 64, run);
		else
			snprintf(cells[6], 64, "-");
		coordctl_format_duration(cells[7], 64, waited);
	} else {
		snprintf(cells[5], 64, "-");
		snprintf(cells[6], 64, "-");
		snprintf(cells[7], 64, "-");
	}
}

static const char *status_cell_color(struct coordctl *ctl, int col, const char *cell)
{
	if (col == 4 && strncmp(cell, "failure", 7) == 0)
		return coordctl_format_color(ctl, "failure");
	if (col == 4 && strcmp(cell, "success") == 0)
		return coordctl_format_color(ctl, "success");
	if (col == 3 && strcmp(cell, "running") == 0)
		return coordctl_format_color(ctl, "running");
	return "";
}

static void status_print_line(struct coordctl *ctl, char cells[STATUS_COLUMNS][64],
			      const int *width, int header)
{
	for (int c = 0; c < STATUS_COLUMNS; c++) {
		const char *color = header ? coordctl_format_color(ctl, "header")
					   : status_cell_color(ctl, c, cells[c]);
		int last = c == STATUS_COLUMNS - 1;

		printf("%s%-*s%s%s", color, last ? 0 : width[c], cells[c],
		       *color ? coordctl_format_reset(ctl) : "", last ? "\n" : "  ");
	}
}

static void status_print_table(struct coordctl *ctl, json_object *result)
{
	json_object *jobs = NULL, *counts = NULL;
	char(*rows)[STATUS_COLUMNS][64];
	char head[STATUS_COLUMNS][64];
	int width[STATUS_COLUMNS];
	double now = time_now(), v;
	size_t n;

	json_object_object_get_ex(result, "jobs", &jobs);
	n = json_object_is_type(jobs, json_type_array) ? json_object_array_length(jobs) : 0;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return;
	for (int c = 0; c < STATUS_COLUMNS; c++) {
		snprintf(head[c], 64, "%s", status_headers[c]);
		width[c] = (int)strlen(head[c]);
	}
	for (size_t i = 0; i < n; i++) {
		status_row(json_object_array_get_idx(jobs, i), now, rows[i]);
		for (int c = 0; c < STATUS_COLUMNS; c++)
			if ((int)strlen(rows[i][c]) > width[c])
				width[c] = (int)strlen(rows[i][c]);
	}
	status_print_line(ctl, head, width, 1);
	for (size_t i = 0; i < n; i++)
		status_print_line(ctl, rows[i], width, 0);
	free(rows);
	if (!ctl->is_tty || !json_object_object_get_ex(result, "counts", &counts))
		return;
	printf("\n");
	json_object_object_foreach (counts, key, val) {
		(void)val;
		if (coordctl_format_number(counts, key, &v) == 0)
			printf("%s: %.0f  ", key, v);
	}
	printf("%s\n", json_get_string(result, "next") ? "(more: raise --limit)" : "");
}

static int status_option(json_object *params, int c, const char *arg)
{
	char *end;
	long n;

	switch (c) {
	case STATUS_OPT_OPEN:
	case STATUS_OPT_CLOSED:
		json_object_object_add(
			params, "status",
			json_object_new_string(c == STATUS_OPT_OPEN ? "opened" : "closed"));
		return 0;
	case STATUS_OPT_FAILED:
	case STATUS_OPT_SUCCEEDED:
		json_object_object_add(
			params, "result",
			json_object_new_string(c == STATUS_OPT_FAILED ? "failure" : "success"));
		return 0;
	case STATUS_OPT_MODE:
		json_object_object_add(params, "mode", json_object_new_string(arg));
		return 0;
	case STATUS_OPT_RUN:
		json_object_object_add(params, "run_id", json_object_new_string(arg));
		return 0;
	case STATUS_OPT_LIMIT:
		n = strtol(arg, &end, 10);
		if (*arg == '\0' || *end || n < 1 || n > 10000)
			return -1;
		json_object_object_add(params, "limit", json_object_new_int64(n));
		return 0;
	}
	return 1;
}

static int status_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		{"open", no_argument, NULL, STATUS_OPT_OPEN},
		{"closed", no_argument, NULL, STATUS_OPT_CLOSED},
		{"failed", no_argument, NULL, STATUS_OPT_FAILED},
		{"succeeded", no_argument, NULL, STATUS_OPT_SUCCEEDED},
		{"mode", required_argument, NULL, STATUS_OPT_MODE},
		{"run", required_argument, NULL, STATUS_OPT_RUN},
		{"limit", required_argument, NULL, STATUS_OPT_LIMIT},
		COORDCTL_COMMON_OPTIONS,
	};
	json_object *params = json_object_new_object(), *result = NULL;
	int c, r = COORDCTL_CONTINUE;

	if (!params)
		return COORDCTL_EXIT_SOFTWARE;
	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int o = status_option(params, c, optarg);

		if (o < 0)
			r = coordctl_usage_error(entry, "--limit takes a number from 1 to 10000");
		else if (o > 0)
			r = coordctl_option(ctl, entry, c);
	}
	if (r == COORDCTL_CONTINUE && optind < argc)
		r = coordctl_usage_error(entry, "unexpected argument '%s'", argv[optind]);
	if (r != COORDCTL_CONTINUE) {
		json_object_put(params);
		return r;
	}
	r = coordctl_rpc_call(ctl, "status", params, &result);
	if (r == 0 && ctl->json)
		coordctl_format_json(ctl, result);
	else if (r == 0)
		status_print_table(ctl, result);
	json_object_put(result);
	json_object_put(params);
	return r;
}

const struct coordctl_entry coordctl_status_entry = {
	.name = "status",
	.usage = "[--open|--closed] [--failed|--succeeded] [--mode M] [--run ID] [--limit N]",
	.summary = "List jobs, newest first.",
	.help = "  --open, --closed       only opened or only closed jobs\n"
		"  --failed, --succeeded  only failed or only successful jobs\n"
		"  --mode M               only jobs of mode M\n"
		"  --run ID               only jobs of run ID\n"
		"  --limit N              at most N jobs (default 100, at most 10000)\n",
	.exec = status_exec,
};
