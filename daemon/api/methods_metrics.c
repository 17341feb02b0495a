/*
 * The metrics method: the counters of metrics.c, the gauges the daemon's
 * parts report (modes, connections, history), as one JSON object and as
 * Prometheus text under "prometheus". Everything here is built and freed
 * within one call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build-config.h"
#include "coordinator.h"
#include "history.h"
#include "jsonutil.h"
#include "services.h"
#include "exposition.h"
#include "methods.h"
#include "metrics.h"
#include "params.h"
#include "publisher.h"
#include "state.h"
#include "statedir.h"
#include "strategy.h"
#include "wire_errors.h"

/* One mode as the metrics show it: what its strategy reports and what was counted. */
struct methods_metrics_mode {
	const char *name;
	struct strategy_info info; /* zero when the mode is gone (reloaded away) */
	bool configured;
	const struct metrics_mode *counts; /* NULL when nothing was counted yet */
};

/* What one metrics answer shows, gathered first so both forms tell the same numbers. */
struct methods_metrics_view {
	struct methods_metrics_mode *modes;
	size_t mode_count;
	const struct metrics *counts;
	struct job_counts history;
	uint64_t history_bytes;
	uint64_t last_seq;
	uint64_t connections;
	double start_time;
	double uptime;
};

static void methods_metrics_mode_cb(const struct strategy_info *info, void *userdata)
{
	struct methods_metrics_view *v = userdata;
	struct methods_metrics_mode *m = &v->modes[v->mode_count++];

	m->name = info->mode;
	m->info = *info;
	m->configured = true;
}

static void methods_metrics_count_cb(const struct strategy_info *info, void *userdata)
{
	(void)info;
	(*(size_t *)userdata)++;
}

/* Attaches the counters to the modes, and lists modes only counters know of. */
static void methods_metrics_attach(struct methods_metrics_view *v)
{
	for (size_t i = 0; i < v->counts->mode_count; i++) {
		const struct metrics_mode *c = &v->counts->modes[i];
		size_t k;

		for (k = 0; k < v->mode_count; k++)
			if (strcmp(v->modes[k].name, c->mode) == 0)
				break;
		if (k == v->mode_count) {
			memset(&v->modes[k], 0, sizeof(v->modes[k]));
			v->modes[k].name = c->mode;
			v->mode_count++;
		}
		v->modes[k].counts = c;
	}
}

/* The history file and its write-ahead log, in bytes. */
static uint64_t methods_metrics_file_bytes(struct services *d)
{
	static const char *const suffixes[] = {"", "-wal"};
	uint64_t total = 0;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char name[64];
		char *path;
		struct stat st;

		snprintf(name, sizeof(name), "%s%s", HISTORY_FILE, suffixes[i]);
		path = statedir_file(d->statedir, name);
		if (path && stat(path, &st) == 0)
			total += (uint64_t)st.st_size;
		free(path);
	}
	return total;
}

static int methods_metrics_gather(struct services *d, struct methods_metrics_view *v)
{
	struct job_filter all = {0};
	size_t configured = 0;
	int r;

	memset(v, 0, sizeof(*v));
	v->counts = metrics_read();
	coordinator_foreach_mode(d->coordinator, methods_metrics_count_cb, &configured);
	v->modes = calloc(configured + v->counts->mode_count + 1, sizeof(*v->modes));
	if (!v->modes)
		return -ENOMEM;
	coordinator_foreach_mode(d->coordinator, methods_metrics_mode_cb, v);
	methods_metrics_attach(v);
	r = state_counts(d->state, &all, &v->history);
	if (r < 0)
		return r;
	v->history_bytes = methods_metrics_file_bytes(d);
	v->last_seq = publisher_last_seq(d->publisher);
	v->connections = d->connection_count ? d->connection_count(d->ctx) : 0;
	v->start_time = d->start_time;
	v->uptime = time_now() - d->start_time;
	return 0;
}

static json_object *methods_metrics_u64(uint64_t n)
{
	return json_object_new_int64(n > INT64_MAX ? INT64_MAX : (int64_t)n);
}

static json_object *methods_metrics_kinds_json(const struct metrics_mode *c)
{
	json_object *o = json_object_new_object();

	for (size_t k = 0; c && k < c->kind_count; k++)
		json_object_object_add(o, c->kinds[k].kind, methods_metrics_u64(c->kinds[k].count));
	return o;
}

static void methods_metrics_counts_json(json_object *o, const struct metrics_mode *c)
{
	json_object_object_add(o, "submitted", methods_metrics_u64(c ? c->submitted : 0));
	json_object_object_add(o, "started", methods_metrics_u64(c ? c->started : 0));
	json_object_object_add(o, "success", methods_metrics_u64(c ? c->success : 0));
	json_object_object_add(o, "failure", methods_metrics_u64(c ? c->failure : 0));
	json_object_object_add(o, "failure_kinds", methods_metrics_kinds_json(c));
}

static json_object *methods_metrics_mode_json(const struct methods_metrics_mode *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "configured", json_object_new_boolean(m->configured));
	json_object_object_add(o, "running", methods_metrics_u64(m->info.running));
	json_object_object_add(o, "queued", methods_metrics_u64(m->info.queued));
	json_object_object_add(o, "waiting", methods_metrics_u64(m->info.waiting));
	json_object_object_add(o, "paused", json_object_new_boolean(m->info.paused));
	json_object_object_add(o, "max_concurrency", methods_metrics_u64(m->info.max_concurrency));
	json_object_object_add(o, "max_queue", methods_metrics_u64(m->info.max_queue));
	methods_metrics_counts_json(o, m->counts);
	return o;
}

/* The totals over every mode, in the shape of one mode's counters. */
static json_object *methods_metrics_tasks_json(const struct methods_metrics_view *v)
{
	json_object *o = json_object_new_object(), *kinds = json_object_new_object();
	uint64_t submitted = 0, started = 0, success = 0, failure = 0;

	for (size_t i = 0; i < v->counts->mode_count; i++) {
		const struct metrics_mode *c = &v->counts->modes[i];

		submitted += c->submitted;
		started += c->started;
		success += c->success;
		failure += c->failure;
		for (size_t k = 0; k < c->kind_count; k++) {
			json_object *n = json_object_object_get(kinds, c->kinds[k].kind);
			int64_t sum =
				(n ? json_object_get_int64(n) : 0) + (int64_t)c->kinds[k].count;

			json_object_object_add(kinds, c->kinds[k].kind, json_object_new_int64(sum));
		}
	}
	json_object_object_add(o, "submitted", methods_metrics_u64(submitted));
	json_object_object_add(o, "refused", methods_metrics_u64(v->counts->refused));
	json_object_object_add(o, "started", methods_metrics_u64(started));
	json_object_object_add(o, "success", methods_metrics_u64(success));
	json_object_object_add(o, "failure", methods_metrics_u64(failure));
	json_object_object_add(o, "failure_kinds", kinds);
	return o;
}

static json_object *methods_metrics_history_json(const struct methods_metrics_view *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "jobs",
			       methods_metrics_u64(v->history.opened + v->history.closed));
	json_object_object_add(o, "opened", methods_metrics_u64(v->history.opened));
	json_object_object_add(o, "closed", methods_metrics_u64(v->history.closed));
	json_object_object_add(o, "success", methods_metrics_u64(v->history.success));
	json_object_object_add(o, "failure", methods_metrics_u64(v->history.failure));
	json_object_object_add(o, "file_bytes", methods_metrics_u64(v->history_bytes));
	json_object_object_add(o, "last_seq", methods_metrics_u64(v->last_seq));
	return o;
}

static json_object *methods_metrics_latency_json(const struct metrics *c)
{
	json_object *o = json_object_new_object(), *buckets = json_object_new_array();

	for (size_t i = 0; i < METRICS_COMMIT_BUCKETS; i++) {
		json_object *b = json_object_new_object();

		json_object_object_add(b, "le", json_object_new_double(metrics_commit_bounds[i]));
		json_object_object_add(b, "count", methods_metrics_u64(c->commit_buckets[i]));
		json_object_array_add(buckets, b);
	}
	json_object_object_add(o, "count", methods_metrics_u64(c->commit_count));
	json_object_object_add(o, "sum", json_object_new_double(c->commit_sum));
	json_object_object_add(o, "buckets", buckets);
	return o;
}

static json_object *methods_metrics_json(const struct methods_metrics_view *v)
{
	json_object *o = json_object_new_object(), *modes = json_object_new_array();

	for (size_t i = 0; i < v->mode_count; i++)
		json_object_array_add(modes, methods_metrics_mode_json(&v->modes[i]));
	json_object_object_add(o, "version", json_object_new_string(COORD_VERSION));
	json_object_object_add(o, "start_time", json_object_new_double(v->start_time));
	json_object_object_add(o, "uptime", json_object_new_double(v->uptime));
	json_object_object_add(o, "tasks", methods_metrics_tasks_json(v));
	json_object_object_add(o, "modes", modes);
	json_object_object_add(o, "connections", methods_metrics_u64(v->connections));
	json_object_object_add(o, "subscriptions", methods_metrics_u64(v->counts->subscriptions));
	json_object_object_add(o, "subscribers_lagged", methods_metrics_u64(v->counts->lagged));
	json_object_object_add(o, "history", methods_metrics_history_json(v));
	json_object_object_add(o, "commit_latency", methods_metrics_latency_json(v->counts));
	return o;
}

/* A per-mode family: one sample per mode, from field. */
static void methods_metrics_mode_family(struct exposition *e, const struct methods_metrics_view *v,
					const char *name, const char *type, const char *help,
					uint64_t (*field)(const struct methods_metrics_mode *m))
{
	exposition_family(e, name, type, help);
	for (size_t i = 0; i < v->mode_count; i++) {
		struct exposition_label l[] = {{"mode", v->modes[i].name}, {NULL, NULL}};

		exposition_sample_u64(e, name, l, field(&v->modes[i]));
	}
}

static uint64_t methods_metrics_submitted(const struct methods_metrics_mode *m)
{
	return m->counts ? m->counts->submitted : 0;
}

static uint64_t methods_metrics_started(const struct methods_metrics_mode *m)
{
	return m->counts ? m->counts->started : 0;
}

static uint64_t methods_metrics_running(const struct methods_metrics_mode *m)
{
	return m->info.running;
}

static uint64_t methods_metrics_queued(const struct methods_metrics_mode *m)
{
	return m->info.queued;
}

static uint64_t methods_metrics_waiting(const struct methods_metrics_mode *m)
{
	return m->info.waiting;
}

static uint64_t methods_metrics_paused(const struct methods_metrics_mode *m)
{
	return m->info.paused ? 1 : 0;
}

static uint64_t methods_metrics_max_concurrency(const struct methods_metrics_mode *m)
{
	return m->info.max_concurrency;
}

static uint64_t methods_metrics_max_queue(const struct methods_metrics_mode *m)
{
	return m->info.max_queue;
}

/* Closed jobs: a success sample per mode, and a failure sample per mode and kind. */
static void methods_metrics_closed_text(struct exposition *e, const struct methods_metrics_view *v)
{
	static const char name[] = "coordinatord_tasks_closed_total";

	exposition_family(e, name, "counter",
			  "Jobs closed since the daemon started, by mode, result and error kind.");
	for (size_t i = 0; i < v->mode_count; i++) {
		const struct metrics_mode *c = v->modes[i].counts;
		struct exposition_label l[] = {{"mode", v->modes[i].name},
					       {"result", "success"},
					       {NULL, NULL},
					       {NULL, NULL}};

		exposition_sample_u64(e, name, l, c ? c->success : 0);
		l[1].value = "failure";
		l[2].name = "kind";
		for (size_t k = 0; c && k < c->kind_count; k++) {
			l[2].value = c->kinds[k].kind;
			exposition_sample_u64(e, name, l, c->kinds[k].count);
		}
	}
}

static void methods_metrics_history_text(struct exposition *e, const struct methods_metrics_view *v)
{
	static const char jobs[] = "coordinatord_history_jobs";
	struct exposition_label l[] = {{"status", "opened"}, {NULL, NULL}, {NULL, NULL}};

	exposition_family(e, jobs, "gauge", "Jobs in the history, by status and result.");
	exposition_sample_u64(e, jobs, l, v->history.opened);
	l[0].value = "closed";
	l[1].name = "result";
	l[1].value = "success";
	exposition_sample_u64(e, jobs, l, v->history.success);
	l[1].value = "failure";
	exposition_sample_u64(e, jobs, l, v->history.failure);
	exposition_family(e, "coordinatord_history_file_bytes", "gauge",
			  "Size of the history database and its write-ahead log.");
	exposition_sample_u64(e, "coordinatord_history_file_bytes", NULL, v->history_bytes);
	exposition_family(e, "coordinatord_message_seq", "gauge",
			  "The seq of the last message published.");
	exposition_sample_u64(e, "coordinatord_message_seq", NULL, v->last_seq);
}

static void methods_metrics_latency_text(struct exposition *e, const struct metrics *c)
{
	static const char base[] = "coordinatord_commit_duration_seconds";
	char bound[32];
	struct exposition_label l[] = {{"le", bound}, {NULL, NULL}};

	exposition_family(e, base, "histogram", "Time a history commit took.");
	for (size_t i = 0; i < METRICS_COMMIT_BUCKETS; i++) {
		snprintf(bound, sizeof(bound), "%g", metrics_commit_bounds[i]);
		exposition_sample_u64(e, "coordinatord_commit_duration_seconds_bucket", l,
				      c->commit_buckets[i]);
	}
	snprintf(bound, sizeof(bound), "+Inf");
	exposition_sample_u64(e, "coordinatord_commit_duration_seconds_bucket", l, c->commit_count);
	exposition_sample(e, "coordinatord_commit_duration_seconds_sum", NULL, c->commit_sum);
	exposition_sample_u64(e, "coordinatord_commit_duration_seconds_count", NULL,
			      c->commit_count);
}

/* A family with one sample and no labels. */
static void methods_metrics_single(struct exposition *e, const char *name, const char *type,
				   const char *help, uint64_t value)
{
	exposition_family(e, name, type, help);
	exposition_sample_u64(e, name, NULL, value);
}

static int methods_metrics_text(const struct methods_metrics_view *v, char **ret)
{
	struct exposition e;
	struct exposition_label version[] = {{"version", COORD_VERSION}, {NULL, NULL}};
	int r = exposition_open(&e);

	if (r < 0)
		return r;
	exposition_family(&e, "coordinatord_build_info", "gauge",
			  "Always 1; the daemon's version as a label.");
	exposition_sample_u64(&e, "coordinatord_build_info", version, 1);
	exposition_family(&e, "coordinatord_start_time_seconds", "gauge",
			  "When the daemon started, in seconds since the Unix epoch.");
	exposition_sample(&e, "coordinatord_start_time_seconds", NULL, v->start_time);
	methods_metrics_mode_family(&e, v, "coordinatord_tasks_submitted_total", "counter",
				    "Jobs accepted since the daemon started, by mode.",
				    methods_metrics_submitted);
	methods_metrics_single(&e, "coordinatord_tasks_refused_total", "counter",
			       "Tasks refused before a job existed (request_creation_failure).",
			       v->counts->refused);
	methods_metrics_mode_family(&e, v, "coordinatord_tasks_started_total", "counter",
				    "Jobs whose process started since the daemon started, by mode.",
				    methods_metrics_started);
	methods_metrics_closed_text(&e, v);
	methods_metrics_mode_family(&e, v, "coordinatord_jobs_running", "gauge",
				    "Jobs running now, by mode.", methods_metrics_running);
	methods_metrics_mode_family(&e, v, "coordinatord_jobs_queued", "gauge",
				    "Jobs waiting for a slot now, by mode.",
				    methods_metrics_queued);
	methods_metrics_mode_family(&e, v, "coordinatord_jobs_waiting", "gauge",
				    "Jobs waiting on their after dependencies now, by mode.",
				    methods_metrics_waiting);
	methods_metrics_mode_family(&e, v, "coordinatord_mode_paused", "gauge",
				    "1 while the mode is paused (mode_set), else 0.",
				    methods_metrics_paused);
	methods_metrics_mode_family(&e, v, "coordinatord_mode_max_concurrency", "gauge",
				    "How many jobs of the mode may run at once.",
				    methods_metrics_max_concurrency);
	methods_metrics_mode_family(&e, v, "coordinatord_mode_max_queue", "gauge",
				    "How many jobs of the mode may wait for a slot.",
				    methods_metrics_max_queue);
	methods_metrics_single(&e, "coordinatord_connections", "gauge", "Clients connected now.",
			       v->connections);
	methods_metrics_single(&e, "coordinatord_subscriptions", "gauge",
			       "Message subscriptions open now.", v->counts->subscriptions);
	methods_metrics_single(&e, "coordinatord_subscribers_lagged_total", "counter",
			       "Subscriptions ended because their client fell too far behind.",
			       v->counts->lagged);
	methods_metrics_history_text(&e, v);
	methods_metrics_latency_text(&e, v->counts);
	return exposition_close(&e, ret);
}

struct rpc_result *methods_metrics(struct rpc_call *call, json_object *params)
{
	struct methods_metrics_view v;
	struct rpc_result *err;
	json_object *o;
	char *text = NULL;
	int r;

	if ((err = params_parse(call, params, params_none, NULL)))
		return err;
	r = methods_metrics_gather(services_of(call), &v);
	if (r == 0)
		r = methods_metrics_text(&v, &text);
	if (r < 0) {
		free(v.modes);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot gather the metrics: %s",
				   strerror(-r));
	}
	o = methods_metrics_json(&v);
	free(v.modes);
	json_object_object_add(o, "prometheus", json_object_new_string(text));
	free(text);
	return rpc_success(call, o);
}
