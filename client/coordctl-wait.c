/* coordctl wait: blocks until jobs close; exit status says whether all succeeded. Owns the id list
 * and the jobs it collects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

enum {
	WAIT_OPT_TIMEOUT = COORDCTL_OPT_FIRST_OWN,
	WAIT_OPT_ALL,
	WAIT_OPT_MODE,
	WAIT_OPT_RUN,
};

/* Ids per wait call: well under the daemon's max_wait_ids (default 10000). */
#define WAIT_CHUNK 1000
/* Jobs named on stderr when a wait runs out of time. */
#define WAIT_LIST_MAX 20

struct wait_args {
	double timeout;
	int all;
	const char *mode, *run;
};

/* 0 when every job succeeded, else 1; failures are named on stderr. */
static int wait_report(struct coordctl *ctl, json_object *jobs)
{
	json_object *job, *error;
	int r = COORDCTL_EXIT_OK;
	const char *res;
	char label[256];

	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		job = json_object_array_get_idx(jobs, i);
		res = json_get_string(job, "result");
		if (res && strcmp(res, "success") == 0)
			continue;
		r = COORDCTL_EXIT_FAILED;
		if (ctl->json)
			continue;
		if (!json_object_object_get_ex(job, "error", &error))
			error = NULL;
		fprintf(stderr, "coordctl wait: job %s failed: %s: %s\n",
			coordctl_job_label(ctl, job, label, sizeof(label)),
			json_get_string(error, "kind") ?: "?",
			json_get_string(error, "message") ?: "");
	}
	return r;
}

static void wait_add_id_cb(json_object *job, void *data)
{
	json_object *id;

	if (json_object_object_get_ex(job, "request_id", &id))
		json_object_array_add(data, json_object_get(id));
}

/* Every open job matching the filters, at this moment, into ids (request_ids, as strings). */
static int wait_collect_open(struct coordctl *ctl, const struct wait_args *a, json_object *ids)
{
	json_object *params = json_object_new_object();
	int r;

	if (!params)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_add(params, "status", json_object_new_string("opened"));
	json_object_object_add(params, "limit", json_object_new_int(10000));
	if (a->mode)
		json_object_object_add(params, "mode", json_object_new_string(a->mode));
	if (a->run)
		json_object_object_add(params, "run_id", json_object_new_string(a->run));
	r = coordctl_rpc_status_pages(ctl, params, SIZE_MAX, wait_add_id_cb, ids);
	json_object_put(params);
	return r;
}

/* Past this many ids, the open ones are found by listing open jobs, not one lookup each. */
#define WAIT_LOOKUP_MAX 50

/* Adds job (borrowed) to open when it is still opened. */
static void wait_add_open(json_object *open, json_object *job)
{
	if (strcmp(json_get_string(job, "status") ?: "", "opened") == 0)
		json_object_array_add(open, json_object_get(job));
}

struct wait_open {
	json_object *set;  /* borrowed: request_id -> anything */
	json_object *open; /* borrowed: where the open ones go */
};

static void wait_open_cb(json_object *job, void *data)
{
	struct wait_open *w = data;

	if (json_object_object_get_ex(w->set, json_get_string(job, "request_id") ?: "", NULL))
		wait_add_open(w->open, job);
}

/* The jobs named in set that are open, from listing every open job. */
static int wait_list_open(struct coordctl *ctl, json_object *set, json_object *open)
{
	json_object *params = json_object_new_object();
	struct wait_open w = {.set = set, .open = open};
	int r;

	if (!params)
		return -1;
	json_object_object_add(params, "status", json_object_new_string("opened"));
	json_object_object_add(params, "limit", json_object_new_int(10000));
	r = coordctl_rpc_status_pages(ctl, params, SIZE_MAX, wait_open_cb, &w);
	json_object_put(params);
	return r == 0 ? 0 : -1;
}

/* The jobs among ids[from..] that are still open (new array in *ret). */
static int wait_still_open(struct coordctl *ctl, json_object *ids, size_t from, json_object **ret)
{
	json_object *open = json_object_new_array(), *set, *params, *result, *job;
	size_t n = json_object_array_length(ids);
	int r = 0;

	if (!open)
		return COORDCTL_EXIT_SOFTWARE;
	if (n - from > WAIT_LOOKUP_MAX) {
		set = json_object_new_object();
		for (size_t i = from; set && i < n; i++)
			json_object_object_add(
				set, json_object_get_string(json_object_array_get_idx(ids, i)),
				NULL);
		r = set ? wait_list_open(ctl, set, open) : -1;
		json_object_put(set);
		n = from; /* nothing left to look up one by one */
	}
	for (size_t i = from; r == 0 && i < n; i++) {
		params = json_object_new_object();
		result = job = NULL;
		json_object_object_add(params, "request_id",
				       json_object_get(json_object_array_get_idx(ids, i)));
		if (coord_call(ctl->conn, "job", params, -1, &result, NULL) == 0 &&
		    json_object_object_get_ex(result, "job", &job))
			wait_add_open(open, job);
		json_object_put(result);
		json_object_put(params);
	}
	if (r != 0) {
		json_object_put(open);
		return COORDCTL_EXIT_SOFTWARE;
	}
	*ret = open;
	return 0;
}

/* Ran out of time: name the jobs still open (stdout in --json: {"jobs"}), exit 124. */
static int wait_timed_out(struct coordctl *ctl, json_object *ids, size_t from,
			  const struct coord_error *err)
{
	json_object *open = NULL, *wrap, *extra;
	size_t n;
	char label[256];

	if (wait_still_open(ctl, ids, from, &open) != 0)
		return coordctl_rpc_fail(ctl, "wait", err);
	n = json_object_array_length(open);
	extra = json_object_new_object();
	json_object_object_add(extra, "jobs", json_object_get(open));
	coordctl_fail(ctl, COORDCTL_EXIT_TIMEOUT, "timeout", extra,
		      "timed out; %zu job%s still open%s", n, n == 1 ? " is" : "s are",
		      n ? ":" : "");
	json_object_put(extra);
	if (ctl->json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "jobs", json_object_get(open));
		coordctl_format_json(ctl, wrap);
		json_object_put(wrap);
	}
	for (size_t i = 0; !ctl->json && i < n && i < WAIT_LIST_MAX; i++)
		fprintf(stderr, "  %s %s\n",
			coordctl_job_label(ctl, json_object_array_get_idx(open, i), label,
					   sizeof(label)),
			coordctl_format_state(json_object_array_get_idx(open, i)));
	if (!ctl->json && n > WAIT_LIST_MAX)
		fprintf(stderr, "  ... and %zu more\n", n - WAIT_LIST_MAX);
	json_object_put(open);
	return COORDCTL_EXIT_TIMEOUT;
}

/* Waits for ids in chunks, all under one deadline; the closed jobs go to jobs. */
static int wait_ids(struct coordctl *ctl, const struct wait_args *a, json_object *ids,
		    json_object *jobs)
{
	size_t n = json_object_array_length(ids);
	double deadline = time_now() + a->timeout, left;
	const char *chunk[WAIT_CHUNK];
	json_object *result, *got;
	struct coord_error err;
	int64_t ms = 0;

	for (size_t from = 0; from < n; from += WAIT_CHUNK) {
		size_t k = n - from < WAIT_CHUNK ? n - from : WAIT_CHUNK;

		for (size_t i = 0; i < k; i++)
			chunk[i] = json_object_get_string(json_object_array_get_idx(ids, from + i));
		if (a->timeout > 0) {
			/* A limit under a millisecond still has to be a limit, not "none". */
			left = deadline - time_now();
			ms = left > 0.001 ? (int64_t)(left * 1000) : 1;
		}
		result = got = NULL;
		if (coord_wait(ctl->conn, chunk, k, ms, &result, &err) < 0) {
			if (err.kind == COORD_ERR_RPC && err.code == COORD_RPC_TIMEOUT)
				return wait_timed_out(ctl, ids, from, &err);
			return coordctl_rpc_fail(ctl, "wait", &err);
		}
		json_object_object_get_ex(result, "jobs", &got);
		for (size_t i = 0; got && i < json_object_array_length(got); i++)
			json_object_array_add(jobs,
					      json_object_get(json_object_array_get_idx(got, i)));
		json_object_put(result);
	}
	return 0;
}

static int wait_run(struct coordctl *ctl, const struct wait_args *a, int argc, char **argv)
{
	json_object *ids = json_object_new_array(), *jobs = json_object_new_array(), *wrap;
	char **resolved = NULL;
	int r = ids && jobs ? coordctl_rpc_connect(ctl) : COORDCTL_EXIT_SOFTWARE;

	if (r == 0 && a->all)
		r = wait_collect_open(ctl, a, ids);
	else if (r == 0)
		r = coordctl_resolve_all(ctl, argc, argv, &resolved);
	for (int i = 0; r == 0 && resolved && i < argc; i++)
		json_object_array_add(ids, json_object_new_string(resolved[i]));
	coordctl_resolve_free(resolved);
	if (r == 0)
		r = wait_ids(ctl, a, ids, jobs);
	if (r == 0 && ctl->json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "jobs", json_object_get(jobs));
		coordctl_format_json(ctl, wrap);
		json_object_put(wrap);
	}
	if (r == 0)
		r = wait_report(ctl, jobs);
	json_object_put(ids);
	json_object_put(jobs);
	return r;
}

static int wait_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, WAIT_OPT_TIMEOUT},
		{"all", no_argument, NULL, WAIT_OPT_ALL},
		{"mode", required_argument, NULL, WAIT_OPT_MODE},
		{"run", required_argument, NULL, WAIT_OPT_RUN},
		COORDCTL_COMMON_OPTIONS,
	};
	struct wait_args a = {0};
	char *run = NULL;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == WAIT_OPT_TIMEOUT && coordctl_format_parse_seconds(optarg, &a.timeout) < 0)
			r = coordctl_bad_value(ctl, optarg);
		else if (c == WAIT_OPT_ALL)
			a.all = 1;
		else if (c == WAIT_OPT_MODE)
			a.mode = optarg;
		else if (c == WAIT_OPT_RUN)
			a.run = optarg;
		else if (c != WAIT_OPT_TIMEOUT)
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (a.all && optind < argc)
		return coordctl_usage_error(ctl, "--all takes no IDs");
	if (!a.all && (a.mode || a.run))
		return coordctl_usage_error(ctl, "--mode and --run go with --all");
	if (!a.all && optind >= argc)
		return coordctl_usage_error(ctl, "give at least one job ID, or --all");
	if (a.run) {
		r = coordctl_resolve(ctl, a.run, &run);
		if (r != 0)
			return r;
		a.run = run;
	}
	r = wait_run(ctl, &a, argc - optind, argv + optind);
	free(run);
	return r;
}

const struct coordctl_entry coordctl_wait_entry = {
	.name = "wait",
	.usage = "ID... [--timeout SECONDS]\n"
		 "       coordctl wait --all [--mode M] [--run ID] [--timeout SECONDS]",
	.summary = "Wait until the jobs close; exit 0 if all succeeded, 1 if any failed, 124 on "
		   "timeout.",
	.help = "  --timeout SECONDS give up after SECONDS (exit 124; the jobs still open are\n"
		"                    named)\n"
		"  --all             wait for every job open now (later ones are not waited for)\n"
		"  --mode M          with --all: only jobs of mode M\n"
		"  --run ID          with --all: only jobs of run ID\n",
	.exec = wait_exec,
};
