/*
 * The metrics method: its Prometheus text parses under a strict reading of
 * the text format (names, HELP and TYPE, label escaping, histograms), and
 * its numbers agree with the JSON object, with status and with modes.
 * Everything allocated here is freed by the test that made it.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "exposition.h"
#include "harness.h"

/* clang-format off */
#define METRICS_CONFIG                                                                             \
	HARNESS_CONFIG_DAEMON                                                                      \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	HARNESS_CONFIG_MODE("serial", "1")                                                         \
	"strategy = async\n"
/* clang-format on */

#define PROM_MAX 512

struct prom_family {
	char name[128];
	char type[16];
	bool has_help;
	bool has_samples;
};

struct prom_sample {
	char name[128];
	char labels[512]; /* canonical: name="unescaped value", sorted as written */
	double value;
};

struct prom {
	struct prom_family families[PROM_MAX];
	size_t family_count;
	struct prom_sample samples[PROM_MAX];
	size_t sample_count;
};

static bool prom_name_ok(const char *s, size_t len, bool label)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || (!label && s[0] == ':')))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (!label && s[i] == ':')))
			return false;
	return true;
}

static struct prom_family *prom_family(struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->family_count; i++)
		if (strcmp(p->families[i].name, name) == 0)
			return &p->families[i];
	return NULL;
}

/* The family a sample name belongs to: itself, or a histogram's base. */
static struct prom_family *prom_family_of(struct prom *p, const char *sample)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	struct prom_family *f = prom_family(p, sample);
	char base[128];

	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(sample), s = strlen(suffixes[i]);

		if (n > s && strcmp(sample + n - s, suffixes[i]) == 0 && n - s < sizeof(base)) {
			memcpy(base, sample, n - s);
			base[n - s] = '\0';
			f = prom_family(p, base);
			if (f && strcmp(f->type, "histogram") == 0)
				return f;
		}
	}
	return NULL;
}

/* A comment line: HELP or TYPE, each once per family and before its samples. */
static void prom_comment(struct prom *p, const char *line)
{
	char kind[8], name[128];
	int used = 0;
	struct prom_family *f;

	ck_assert_msg(sscanf(line, "# %7s %127s %n", kind, name, &used) == 2, "bad comment: %s",
		      line);
	ck_assert_msg(prom_name_ok(name, strlen(name), false), "bad name in: %s", line);
	f = prom_family(p, name);
	if (!f) {
		ck_assert_int_lt(p->family_count, PROM_MAX);
		f = &p->families[p->family_count++];
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	ck_assert_msg(!f->has_samples, "%s after the samples of %s", kind, name);
	if (strcmp(kind, "HELP") == 0) {
		ck_assert_msg(!f->has_help, "two HELP lines for %s", name);
		f->has_help = true;
		/* HELP escapes only backslash and newline. */
		for (const char *c = line + used; *c; c++)
			if (*c == '\\') {
				ck_assert_msg(c[1] == '\\' || c[1] == 'n', "bad escape in %s",
					      line);
				c++;
			}
		return;
	}
	ck_assert_str_eq(kind, "TYPE");
	ck_assert_msg(!f->type[0], "two TYPE lines for %s", name);
	ck_assert_msg(strcmp(line + used, "counter") == 0 || strcmp(line + used, "gauge") == 0 ||
			      strcmp(line + used, "histogram") == 0,
		      "unknown type in %s", line);
	snprintf(f->type, sizeof(f->type), "%s", line + used);
}

/* Labels from *s (just past '{') to the closing '}', unescaped into out. */
static const char *prom_labels(const char *s, char *out, size_t size, const char *line)
{
	size_t o = 0;

	while (*s != '}') {
		const char *eq = strchr(s, '=');

		ck_assert_msg(eq && prom_name_ok(s, (size_t)(eq - s), true), "bad label in %s",
			      line);
		ck_assert_msg(eq[1] == '"', "unquoted label value in %s", line);
		o += (size_t)snprintf(out + o, size - o, "%s%.*s=", o ? "," : "", (int)(eq - s), s);
		for (s = eq + 2; *s != '"'; s++) {
			char c = *s;

			ck_assert_msg(c && c != '\n', "unterminated label value in %s", line);
			if (c == '\\') {
				s++;
				ck_assert_msg(*s == '\\' || *s == '"' || *s == 'n',
					      "bad escape in %s", line);
				c = *s == 'n' ? '\n' : *s;
			}
			ck_assert_int_lt(o + 1, size);
			out[o++] = c;
			out[o] = '\0';
		}
		s++;
		if (*s == ',')
			s++;
		else
			ck_assert_msg(*s == '}', "labels not separated by commas in %s", line);
	}
	return s + 1;
}

static double prom_value(const char *s, const char *line)
{
	char *end;
	double v;

	if (strcmp(s, "+Inf") == 0)
		return INFINITY;
	if (strcmp(s, "-Inf") == 0)
		return -INFINITY;
	if (strcmp(s, "NaN") == 0)
		return NAN;
	v = strtod(s, &end);
	ck_assert_msg(end != s && *end == '\0', "bad value in %s", line);
	return v;
}

static void prom_sample_line(struct prom *p, const char *line)
{
	struct prom_sample *s;
	struct prom_family *f;
	size_t n = strcspn(line, "{ ");
	const char *rest;

	ck_assert_int_lt(p->sample_count, PROM_MAX);
	s = &p->samples[p->sample_count++];
	ck_assert_msg(prom_name_ok(line, n, false) && n < sizeof(s->name), "bad name: %s", line);
	memcpy(s->name, line, n);
	s->name[n] = '\0';
	rest = line + n;
	if (*rest == '{')
		rest = prom_labels(rest + 1, s->labels, sizeof(s->labels), line);
	ck_assert_msg(*rest == ' ', "no value in %s", line);
	s->value = prom_value(rest + 1, line);
	f = prom_family_of(p, s->name);
	ck_assert_msg(f && f->type[0] && f->has_help, "%s has no TYPE or HELP before it", line);
	/* A family's samples come together: no other family's samples in between. */
	ck_assert_msg(!f->has_samples ||
			      prom_family_of(p, p->samples[p->sample_count - 2].name) == f,
		      "the samples of %s are not together", f->name);
	f->has_samples = true;
}

/* Parses text strictly into p; fails the test on anything the format does not allow. */
static void prom_parse(struct prom *p, const char *text)
{
	const char *line = text;

	memset(p, 0, sizeof(*p));
	ck_assert_msg(*text && text[strlen(text) - 1] == '\n', "the text must end with a newline");
	while (*line) {
		size_t n = strcspn(line, "\n");
		char buf[1024];

		ck_assert_int_lt(n, sizeof(buf));
		memcpy(buf, line, n);
		buf[n] = '\0';
		ck_assert_msg(n > 0, "empty line");
		if (buf[0] == '#')
			prom_comment(p, buf);
		else
			prom_sample_line(p, buf);
		line += n + 1;
	}
}

/* The value of the sample name{labels}; fails the test when there is none. */
static double prom_get(const struct prom *p, const char *name, const char *labels)
{
	for (size_t i = 0; i < p->sample_count; i++)
		if (strcmp(p->samples[i].name, name) == 0 &&
		    strcmp(p->samples[i].labels, labels) == 0)
			return p->samples[i].value;
	ck_abort_msg("no sample %s{%s}", name, labels);
	return 0;
}

/* Our own conventions on top of the format. */
static void prom_check_conventions(const struct prom *p)
{
	for (size_t i = 0; i < p->family_count; i++) {
		const struct prom_family *f = &p->families[i];
		size_t n = strlen(f->name);
		bool total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;

		ck_assert_msg(strncmp(f->name, "coordinatord_", 13) == 0, "%s lacks the prefix",
			      f->name);
		ck_assert_msg(f->type[0] && f->has_help, "%s lacks TYPE or HELP", f->name);
		ck_assert_msg(strcmp(f->type, "counter") == 0 ? total : !total,
			      "%s: only counters end in _total, and all of them do", f->name);
	}
}

static struct harness_fixture fx;

static void metrics_setup(void)
{
	harness_fixture_start(&fx, METRICS_CONFIG);
}

static void metrics_teardown(void)
{
	harness_fixture_stop(&fx);
}

static void metrics_submit(const char *id, const char *mode, const char *cmd)
{
	harness_submit_json(fx.client,
			    "{\"request_id\":\"%s\",\"mode\":\"%s\",\"node\":"
			    "{\"argv\":[\"sh\",\"-c\",\"%s\"]}}",
			    id, mode, cmd);
}

START_TEST(test_metrics_match_status_and_modes)
{
	json_object *metrics, *modes, *status, *m, *mm;
	struct prom *p = malloc(sizeof(*p));
	const char *names[] = {"async", "serial"};
	char labels[128];

	ck_assert_ptr_nonnull(p);
	metrics_submit("ok", "async", "true");
	metrics_submit("bad", "async", "exit 3");
	json_object_put(harness_wait_job(fx.client, "ok"));
	json_object_put(harness_wait_job(fx.client, "bad"));
	metrics_submit("long", "serial", "sleep 30");
	metrics_submit("behind", "serial", "true");
	json_object_put(harness_wait_running(fx.client, "long"));
	/* Waiting on its after, and a paused mode. */
	harness_submit_json(fx.client, "{\"request_id\":\"later\",\"mode\":\"serial\","
				       "\"after\":[\"long\"],\"node\":{\"argv\":[\"true\"]}}");
	json_object_put(harness_ok(fx.client, "mode_set",
				   harness_json("{\"mode\":\"async\",\"paused\":true}")));
	/* A refused task: unknown mode. */
	json_object_put(
		harness_call(fx.client, "submit",
			     harness_json("{\"mode\":\"nope\",\"node\":{\"argv\":[\"true\"]}}"),
			     HARNESS_WAIT_MS));
	json_object_put(harness_ok(fx.client, "subscribe", NULL));

	metrics = harness_ok(fx.client, "metrics", NULL);
	modes = harness_ok(fx.client, "modes", NULL);
	status = harness_ok(fx.client, "status", NULL);
	prom_parse(p, harness_str(metrics, "prometheus"));
	prom_check_conventions(p);

	for (size_t i = 0; i < 2; i++) {
		m = harness_find_named(harness_get(modes, "modes"), names[i]);
		mm = harness_find_named(harness_get(metrics, "modes"), names[i]);
		snprintf(labels, sizeof(labels), "mode=%s", names[i]);
		ck_assert_int_eq(prom_get(p, "coordinatord_jobs_running", labels),
				 harness_int(m, "running"));
		ck_assert_int_eq(prom_get(p, "coordinatord_jobs_queued", labels),
				 harness_int(m, "queued"));
		ck_assert_int_eq(prom_get(p, "coordinatord_jobs_waiting", labels),
				 harness_int(m, "waiting"));
		ck_assert_int_eq(prom_get(p, "coordinatord_mode_paused", labels),
				 json_object_get_boolean(harness_get(m, "paused")));
		ck_assert_int_eq(prom_get(p, "coordinatord_mode_max_concurrency", labels),
				 harness_int(m, "max_concurrency"));
		ck_assert_int_eq(harness_int(mm, "running"), harness_int(m, "running"));
		ck_assert_int_eq(harness_int(mm, "queued"), harness_int(m, "queued"));
		ck_assert_int_eq(prom_get(p, "coordinatord_tasks_submitted_total", labels),
				 harness_int(mm, "submitted"));
		ck_assert_int_eq(prom_get(p, "coordinatord_tasks_started_total", labels),
				 harness_int(mm, "started"));
	}
	ck_assert_int_eq(prom_get(p, "coordinatord_jobs_running", "mode=serial"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_jobs_queued", "mode=serial"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_tasks_submitted_total", "mode=async"), 2);
	ck_assert_int_eq(prom_get(p, "coordinatord_jobs_waiting", "mode=serial"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_jobs_waiting", "mode=async"), 0);
	ck_assert_int_eq(prom_get(p, "coordinatord_mode_paused", "mode=async"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_mode_paused", "mode=serial"), 0);
	ck_assert_int_eq(prom_get(p, "coordinatord_tasks_submitted_total", "mode=serial"), 3);
	ck_assert_int_eq(prom_get(p, "coordinatord_tasks_started_total", "mode=serial"), 1);
	ck_assert_int_eq(
		prom_get(p, "coordinatord_tasks_closed_total", "mode=async,result=success"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_tasks_closed_total",
				  "mode=async,result=failure,kind=exit"),
			 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_tasks_refused_total", ""), 1);
	ck_assert_int_eq(harness_int(metrics, "tasks.refused"), 1);
	ck_assert_int_eq(harness_int(metrics, "tasks.failure_kinds.exit"), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_subscriptions", ""), 1);
	ck_assert_int_eq(prom_get(p, "coordinatord_connections", ""), 1);

	/* The history's numbers are status's counts. */
	ck_assert_int_eq(prom_get(p, "coordinatord_history_jobs", "status=opened"),
			 harness_int(status, "counts.opened"));
	ck_assert_int_eq(prom_get(p, "coordinatord_history_jobs", "status=closed,result=success"),
			 harness_int(status, "counts.success"));
	ck_assert_int_eq(prom_get(p, "coordinatord_history_jobs", "status=closed,result=failure"),
			 harness_int(status, "counts.failure"));
	ck_assert_int_eq(harness_int(metrics, "history.jobs"), 5);
	ck_assert_int_eq(harness_int(metrics, "history.opened"),
			 harness_int(status, "counts.opened"));
	ck_assert_int_gt(prom_get(p, "coordinatord_history_file_bytes", ""), 0);

	/* The histogram: cumulative buckets, +Inf as the count, and commits were made. */
	ck_assert_int_gt(prom_get(p, "coordinatord_commit_duration_seconds_count", ""), 0);
	ck_assert_int_eq(prom_get(p, "coordinatord_commit_duration_seconds_bucket", "le=+Inf"),
			 prom_get(p, "coordinatord_commit_duration_seconds_count", ""));
	ck_assert_int_eq(harness_int(metrics, "commit_latency.count"),
			 prom_get(p, "coordinatord_commit_duration_seconds_count", ""));
	{
		double last = 0;

		for (size_t i = 0; i < p->sample_count; i++)
			if (strcmp(p->samples[i].name,
				   "coordinatord_commit_duration_seconds_bucket") == 0) {
				ck_assert_double_ge(p->samples[i].value, last);
				last = p->samples[i].value;
			}
	}
	ck_assert_double_eq_tol(prom_get(p, "coordinatord_start_time_seconds", ""),
				json_object_get_double(harness_get(metrics, "start_time")), 1e-6);

	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"long\"}")));
	json_object_put(metrics);
	json_object_put(modes);
	json_object_put(status);
	free(p);
}
END_TEST

static long long metrics_commits(void)
{
	json_object *m = harness_ok(fx.client, "metrics", NULL);
	long long n = harness_int(m, "commit_latency.count");

	json_object_put(m);
	return n;
}

/*
 * A task run to its end, one at a time, costs the history three commits:
 * its submit with its start, its pid, and its end (the final message with
 * the job it closes and the wait it answers). It once took five: the start
 * and the end each had a commit of their own.
 */
START_TEST(test_commits_per_task)
{
	long long before = metrics_commits(), spent;

	for (int i = 0; i < 20; i++)
		harness_submit_json(fx.client, "{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}");
	spent = metrics_commits() - before;
	ck_assert_msg(spent >= 20 && spent <= 70, "20 tasks took %lld commits", spent);
}
END_TEST

START_TEST(test_metrics_unknown_key)
{
	char *msg = NULL;

	ck_assert_int_eq(
		harness_err(fx.client, "metrics", harness_json("{\"verbose\":true}"), &msg),
		-32602);
	ck_assert_ptr_nonnull(strstr(msg, "verbose"));
	free(msg);
}
END_TEST

/* The lagged count and the subscriptions gauge of prometheus text r (taken). */
static void metrics_lagged_now(json_object *r, double *lagged, double *subscriptions)
{
	struct prom *p = malloc(sizeof(*p));

	ck_assert_ptr_nonnull(p);
	prom_parse(p, harness_str(r, "prometheus"));
	*lagged = prom_get(p, "coordinatord_subscribers_lagged_total", "");
	*subscriptions = prom_get(p, "coordinatord_subscriptions", "");
	ck_assert_int_eq(*lagged, harness_int(r, "subscribers_lagged"));
	free(p);
	json_object_put(r);
}

/* A subscriber that reads nothing is cut off, and the counter says so. */
START_TEST(test_metrics_lagged)
{
	struct harness_daemon d;
	struct harness_client *c, *stuck;
	double lagged = 0, subscriptions = 0;
	int submitted = 0;

	harness_daemon_new(&d, "[daemon]\nshutdown_grace_sec = 1\nsubscriber_buffer_bytes = "
			       "65536\n[mode:async]\nmax_concurrency = 4\n");
	c = harness_client_new(d.sock);
	stuck = harness_client_new(d.sock);
	json_object_put(harness_ok(stuck, "subscribe", NULL));
	metrics_lagged_now(harness_ok(c, "metrics", NULL), &lagged, &subscriptions);
	ck_assert_int_eq(lagged, 0);
	ck_assert_int_eq(subscriptions, 1);
	/* Messages of 4 KB each until the socket and the 64 KiB buffer are full. */
	while (lagged == 0 && subscriptions == 1) {
		ck_assert_msg(submitted < 2000, "no lag after %d jobs", submitted);
		harness_submit_json(c, "{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\","
				       "\"printf '%%04000d' 0\"]}}");
		submitted++;
		metrics_lagged_now(harness_ok(c, "metrics", NULL), &lagged, &subscriptions);
	}
	ck_assert_int_eq(lagged, 1);
	ck_assert_int_eq(subscriptions, 0);
	harness_client_free(stuck);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* The writer escapes what the format asks for, and the strict parser reads it back. */
START_TEST(test_exposition_escaping)
{
	struct prom *p = malloc(sizeof(*p));
	struct exposition e;
	struct exposition_label l[] = {{"path", "a\"b\\c\nd"}, {NULL, NULL}};
	char *text = NULL;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(exposition_open(&e), 0);
	exposition_family(&e, "coordinatord_x", "gauge", "back\\slash and\nnewline");
	exposition_sample(&e, "coordinatord_x", l, 0.25);
	exposition_sample(&e, "coordinatord_x", NULL, 1e-7);
	ck_assert_int_eq(exposition_close(&e, &text), 0);
	prom_parse(p, text);
	ck_assert_ptr_nonnull(strstr(text, "{path=\"a\\\"b\\\\c\\nd\"} 0.25\n"));
	ck_assert_ptr_nonnull(strstr(text, "# HELP coordinatord_x back\\\\slash and\\nnewline\n"));
	ck_assert_double_eq(prom_get(p, "coordinatord_x", "path=a\"b\\c\nd"), 0.25);
	ck_assert_double_eq(prom_get(p, "coordinatord_x", ""), 1e-7);
	free(text);
	free(p);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, metrics_setup, metrics_teardown);
	tcase_add_test(tc, test_metrics_match_status_and_modes);
	tcase_add_test(tc, test_metrics_unknown_key);
	tcase_add_test(tc, test_commits_per_task);
	suite_add_tcase(s, tc);
	tc = tcase_create("lagged");
	tcase_add_test(tc, test_metrics_lagged);
	suite_add_tcase(s, tc);
	tc = tcase_create("exposition");
	tcase_add_test(tc, test_exposition_escaping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(metrics_suite());
}
