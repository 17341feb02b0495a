/*
 * Every method and every application error code, against the real
 * coordinatord over its socket.
 */
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define METHODS_CONFIG                                                                             \
	HARNESS_CONFIG_DAEMON                                                                      \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = daemon bin\n"                                                             \
	HARNESS_CONFIG_MODE("async", "8")                                                          \
	HARNESS_CONFIG_MODE("serial", "1")                                                         \
	"strategy = async\n"                                                                       \
	"max_queue = 2\n"                                                                          \
	HARNESS_CONFIG_MODE("small", "2")                                                          \
	"output_limit_bytes = 1000\n"
/* clang-format on */

static struct harness_fixture fx;

static void methods_setup(void)
{
	harness_fixture_start(&fx, METHODS_CONFIG);
}

static void methods_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* submit with params given as JSON text; returns the whole result. */
static json_object *methods_submit(const char *params_json)
{
	return harness_ok(fx.client, "submit", harness_json("%s", params_json));
}

/* The job object of request_id (from the job method). */
static double methods_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double methods_number(json_object *o, const char *path)
{
	json_object *v = harness_get(o, path);

	ck_assert_msg(json_object_is_type(v, json_type_double) ||
			      json_object_is_type(v, json_type_int),
		      "%s is not a number in %s", path, json_object_to_json_string(o));
	return json_object_get_double(v);
}

START_TEST(test_submit_fields)
{
	json_object *r = methods_submit("{\"node\":{\"argv\":[\"/bin/echo\",\"hello\"]}}");
	json_object *job = harness_get(r, "job"), *closed;
	const char *id = harness_str(job, "request_id");
	double now = methods_now();
	char *rid = strdup(id);

	/* A generated request_id is a UUID; a root request is its own run. */
	ck_assert_uint_eq(strlen(id), 36);
	ck_assert_str_eq(harness_str(job, "run_id"), id);
	ck_assert(harness_is_null(job, "parent_node_id"));
	ck_assert_ptr_nonnull(harness_str(job, "child_node_id"));
	ck_assert_str_eq(harness_str(job, "name"), "echo");
	ck_assert_str_eq(harness_str(job, "mode"), "async");
	ck_assert_str_eq(harness_str(job, "status"), "opened");
	ck_assert(harness_is_null(job, "result"));
	ck_assert(harness_is_null(job, "end_time"));
	ck_assert(harness_is_null(job, "exit_code"));
	ck_assert(harness_is_null(job, "error"));
	ck_assert(fabs(methods_number(job, "start_time") - now) < 3600);
	json_object_put(r);

	closed = harness_wait_job(fx.client, rid);
	ck_assert_str_eq(harness_str(closed, "status"), "closed");
	ck_assert_str_eq(harness_str(closed, "phase"), "finished");
	ck_assert_str_eq(harness_str(closed, "result"), "success");
	ck_assert_int_eq(harness_int(closed, "exit_code"), 0);
	ck_assert(harness_is_null(closed, "error"));
	ck_assert(methods_number(closed, "end_time") >= methods_number(closed, "start_time"));
	json_object_put(closed);

	/* job answers with the final message. */
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"%s\"}", rid));
	ck_assert_str_eq(harness_str(r, "message.type"), "request_success");
	ck_assert_str_eq(harness_str(r, "message.request_id"), rid);
	ck_assert_str_eq(harness_str(r, "message.result.stdout"), "hello\n");
	ck_assert_int_eq(harness_int(r, "message.result.exit_code"), 0);
	ck_assert(harness_int(r, "message.seq") > 0);
	json_object_put(r);
	free(rid);
}
END_TEST

START_TEST(test_submit_wait)
{
	json_object *r;
	const char *out;
	char expect[512];

	r = methods_submit("{\"request_id\":\"w1\",\"wait\":true,\"parent_node_id\":null,"
			   "\"node\":{\"id\":\"node-w1\",\"name\":\"label\","
			   "\"argv\":[\"sh\",\"-c\",\"pwd; cat; echo $FOO; "
			   "echo $COORD_REQUEST_ID $COORD_NODE_ID $COORD_RUN_ID $COORD_SOCKET; "
			   "printf 'a\\\\nb\\\\tc\\\\001' >&2\"],"
			   "\"cwd\":\"/tmp\",\"env\":{\"FOO\":\"bar baz\"},"
			   "\"stdin\":\"line one\\nline two\\n\",\"timeout_ms\":60000}}");
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	ck_assert_str_eq(harness_str(r, "job.name"), "label");
	ck_assert_str_eq(harness_str(r, "job.child_node_id"), "node-w1");
	ck_assert_str_eq(harness_str(r, "message.type"), "request_success");
	out = harness_str(r, "message.result.stdout");
	snprintf(expect, sizeof(expect), "/tmp\nline one\nline two\nbar baz\nw1 node-w1 w1 %s\n",
		 fx.daemon.sock);
	ck_assert_str_eq(out, expect);
	/* Control characters travel escaped, inside one line. */
	ck_assert_str_eq(harness_str(r, "message.result.stderr"), "a\nb\tc\001");
	ck_assert(!json_object_get_boolean(harness_get(r, "message.result.stdout_truncated")));
	json_object_put(r);
}
END_TEST

START_TEST(test_submit_failures)
{
	json_object *r;

	r = methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\",\"exit 3\"]}}");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_int_eq(harness_int(r, "job.exit_code"), 3);
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "exit");
	ck_assert_str_eq(harness_str(r, "message.type"), "request_failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "exit");
	ck_assert_int_eq(harness_int(r, "message.error.exit_code"), 3);
	json_object_put(r);

	r = methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\",\"kill -9 $$\"]}}");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "signal");
	ck_assert_int_eq(harness_int(r, "message.error.signal"), 9);
	json_object_put(r);

	r = methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"sleep\",\"30\"],"
			   "\"timeout_ms\":200}}");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "timeout");
	json_object_put(r);

	r = methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"/nonexistent/program\"]}}");
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "spawn");
	json_object_put(r);

	/* Past the mode's output limit: drained, dropped and flagged. */
	r = methods_submit("{\"wait\":true,\"mode\":\"small\",\"node\":{\"argv\":[\"sh\",\"-c\","
			   "\"head -c 100000 /dev/zero | tr '\\\\0' x; echo ok >&2\"]}}");
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	ck_assert_uint_eq(strlen(harness_str(r, "message.result.stdout")), 1000);
	ck_assert(json_object_get_boolean(harness_get(r, "message.result.stdout_truncated")));
	ck_assert_str_eq(harness_str(r, "message.result.stderr"), "ok\n");
	ck_assert(!json_object_get_boolean(harness_get(r, "message.result.stderr_truncated")));
	json_object_put(r);
}
END_TEST

/* The next request_creation_failure on sub, checked against request_id (may be NULL). */
static json_object *methods_next_refusal(struct harness_client *sub, const char *request_id)
{
	json_object *n = harness_notification(sub, "message", HARNESS_WAIT_MS), *msg;

	ck_assert_msg(n != NULL, "no request_creation_failure was published");
	msg = json_object_get(harness_get(n, "params.message"));
	json_object_put(n);
	ck_assert_str_eq(harness_str(msg, "type"), "request_creation_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "invalid");
	ck_assert_ptr_nonnull(harness_str(msg, "error.message"));
	ck_assert(harness_is_null(msg, "result"));
	if (request_id)
		ck_assert_str_eq(harness_str(msg, "request_id"), request_id);
	return msg;
}

static struct harness_client *methods_subscribe_refusals(void)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	json_object *r = harness_ok(sub, "subscribe",
				    harness_json("{\"types\":[\"request_creation_failure\"]}"));

	json_object_put(r);
	return sub;
}

START_TEST(test_submit_invalid)
{
	static const struct {
		const char *params;
		const char *field; /* what the error message must name */
		const char *request_id;
	} cases[] = {
		{"{\"request_id\":\"i1\"}", "node", "i1"},
		{"{\"request_id\":\"i2\",\"node\":[]}", "node", "i2"},
		{"{\"request_id\":\"i3\",\"node\":{}}", "node.argv", "i3"},
		{"{\"request_id\":\"i4\",\"node\":{\"argv\":[]}}", "node.argv", "i4"},
		{"{\"request_id\":\"i5\",\"node\":{\"argv\":\"ls\"}}", "node.argv", "i5"},
		{"{\"request_id\":\"i6\",\"node\":{\"argv\":[\"ls\",7]}}", "node.argv[1]", "i6"},
		{"{\"request_id\":\"bad id!\",\"node\":{\"argv\":[\"true\"]}}", "request_id", NULL},
		{"{\"request_id\":7,\"node\":{\"argv\":[\"true\"]}}", "request_id", NULL},
		{"{\"request_id\":\"i9\",\"mode\":5,\"node\":{\"argv\":[\"true\"]}}", "mode", "i9"},
		{"{\"request_id\":\"i10\",\"parent_node_id\":5,\"node\":{\"argv\":[\"true\"]}}",
		 "parent_node_id", "i10"},
		{"{\"request_id\":\"i11\",\"wait\":\"yes\",\"node\":{\"argv\":[\"true\"]}}", "wait",
		 "i11"},
		{"{\"request_id\":\"i12\",\"node\":{\"argv\":[\"true\"],\"env\":{\"A\":1}}}",
		 "node.env.A", "i12"},
		{"{\"request_id\":\"i13\",\"node\":{\"argv\":[\"true\"],\"env\":[]}}", "node.env",
		 "i13"},
		{"{\"request_id\":\"i14\",\"node\":{\"argv\":[\"true\"],\"timeout_ms\":\"1\"}}",
		 "node.timeout_ms", "i14"},
		{"{\"request_id\":\"i15\",\"node\":{\"argv\":[\"true\"],\"timeout_ms\":-1}}",
		 "node.timeout_ms", "i15"},
		{"{\"request_id\":\"i16\",\"node\":{\"argv\":[\"true\"],\"cwd\":\"relative\"}}",
		 "node.cwd", "i16"},
		{"{\"request_id\":\"i17\",\"node\":{\"argv\":[\"true\"],\"stdin\":3}}",
		 "node.stdin", "i17"},
		{"{\"request_id\":\"i18\",\"node\":{\"argv\":[\"true\"],\"id\":3}}", "node.id",
		 "i18"},
	};
	struct harness_client *sub = methods_subscribe_refusals();
	char long_id[140];
	json_object *r;
	char *msg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *m;

		ck_assert_int_eq(
			harness_err(fx.client, "submit", harness_json("%s", cases[i].params), &msg),
			-32602);
		ck_assert_msg(strstr(msg, cases[i].field), "%s: \"%s\" does not name %s",
			      cases[i].params, msg, cases[i].field);
		free(msg);
		m = methods_next_refusal(sub, cases[i].request_id);
		json_object_put(m);
	}
	/* 128 characters are fine, 129 are not. */
	memset(long_id, 'a', 129);
	long_id[129] = '\0';
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"%s\",\"node\":{\"argv\":["
						  "\"true\"]}}",
						  long_id),
				     NULL),
			 -32602);
	json_object_put(methods_next_refusal(sub, NULL));
	long_id[128] = '\0';
	r = harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"%s\",\"node\":{\"argv\":[\"true\"]}}", long_id));
	json_object_put(r);
	/* None of the refused ones became a job. */
	r = harness_ok(fx.client, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.opened") + harness_int(r, "counts.closed"), 1);
	json_object_put(r);
	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"i3\"}"), NULL), 1001);
	harness_client_free(sub);
}
END_TEST

START_TEST(test_submit_unknown_mode)
{
	struct harness_client *sub = methods_subscribe_refusals();
	json_object *m;
	char *msg;

	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"um\",\"mode\":\"warp\","
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     &msg),
			 1003);
	ck_assert_ptr_nonnull(strstr(msg, "warp"));
	free(msg);
	m = methods_next_refusal(sub, "um");
	ck_assert_str_eq(harness_str(m, "mode"), "warp");
	json_object_put(m);
	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"um\"}"), NULL), 1001);
	harness_client_free(sub);
}
END_TEST

START_TEST(test_submit_duplicate)
{
	struct harness_client *sub = methods_subscribe_refusals();
	json_object *r, *m;
	char *msg;

	r = methods_submit("{\"request_id\":\"dup\",\"wait\":true,\"node\":{\"argv\":[\"true\"]}}");
	json_object_put(r);
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"dup\",\"node\":{\"argv\":["
						  "\"false\"]}}"),
				     &msg),
			 1002);
	ck_assert_ptr_nonnull(strstr(msg, "dup"));
	free(msg);
	m = methods_next_refusal(sub, "dup");
	json_object_put(m);
	/* The first job is untouched. */
	r = harness_job(fx.client, "dup");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	ck_assert_str_eq(harness_str(r, "name"), "true");
	json_object_put(r);
	/* Also while the first one is still running. */
	r = methods_submit("{\"request_id\":\"dup2\",\"node\":{\"argv\":[\"sleep\",\"30\"]}}");
	json_object_put(r);
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"dup2\",\"node\":{\"argv\":["
						  "\"true\"]}}"),
				     NULL),
			 1002);
	json_object_put(methods_next_refusal(sub, "dup2"));
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"dup2\"}"));
	json_object_put(r);
	harness_client_free(sub);
}
END_TEST

START_TEST(test_submit_queue_full)
{
	struct harness_client *sub = methods_subscribe_refusals();
	json_object *r;

	/* serial: one slot and a queue of two. */
	for (int i = 0; i < 3; i++) {
		r = harness_ok(fx.client, "submit",
			       harness_json("{\"request_id\":\"q%d\",\"mode\":\"serial\","
					    "\"node\":{\"argv\":[\"sleep\",\"30\"]}}",
					    i));
		json_object_put(r);
	}
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"q3\",\"mode\":\"serial\","
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     NULL),
			 1005);
	json_object_put(methods_next_refusal(sub, "q3"));
	/* Other modes are not affected. */
	r = methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}");
	json_object_put(r);
	r = harness_job(fx.client, "q1");
	ck_assert_str_eq(harness_str(r, "phase"), "queued");
	json_object_put(r);
	for (int i = 0; i < 3; i++) {
		r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"q%d\"}", i));
		json_object_put(r);
	}
	harness_client_free(sub);
}
END_TEST

START_TEST(test_job_unknown)
{
	char *msg;

	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"never-was\"}"), &msg),
		1001);
	ck_assert_ptr_nonnull(strstr(msg, "never-was"));
	free(msg);
}
END_TEST

START_TEST(test_job_opened)
{
	json_object *r;

	r = methods_submit("{\"request_id\":\"open1\",\"node\":{\"argv\":[\"sleep\",\"30\"]}}");
	json_object_put(r);
	json_object_put(harness_wait_running(fx.client, "open1"));
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"open1\"}"));
	ck_assert_str_eq(harness_str(r, "job.status"), "opened");
	ck_assert_str_eq(harness_str(r, "job.phase"), "running");
	ck_assert(harness_is_null(r, "message"));
	json_object_put(r);
	json_object_put(
		harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"open1\"}")));
}
END_TEST

/* Submits the jobs the status tests filter: a tree, two modes, both results. */
static void methods_status_fixture(void)
{
	static const char *const subs[] = {
		"{\"request_id\":\"root\",\"node\":{\"id\":\"n-root\",\"argv\":[\"true\"]}}",
		"{\"request_id\":\"kid1\",\"parent_node_id\":\"n-root\","
		"\"node\":{\"id\":\"n-kid1\",\"argv\":[\"true\"]}}",
		"{\"request_id\":\"kid2\",\"parent_node_id\":\"n-root\","
		"\"node\":{\"id\":\"n-kid2\",\"argv\":[\"false\"]}}",
		"{\"request_id\":\"grandkid\",\"parent_node_id\":\"n-kid1\","
		"\"node\":{\"argv\":[\"true\"]}}",
		"{\"request_id\":\"other\",\"mode\":\"small\",\"node\":{\"argv\":[\"false\"]}}",
		"{\"request_id\":\"orphan\",\"parent_node_id\":\"n-nobody\","
		"\"node\":{\"argv\":[\"true\"]}}",
	};
	json_object *r;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		json_object *p = harness_json("%s", subs[i]);

		json_object_object_add(p, "wait", json_object_new_boolean(1));
		r = harness_ok(fx.client, "submit", p);
		json_object_put(r);
	}
	r = methods_submit("{\"request_id\":\"running\",\"node\":{\"argv\":[\"sleep\",\"30\"]}}");
	json_object_put(r);
}

/* Asserts status(params) has these counts and exactly these request_ids in this order. */
static void methods_check_status(const char *params, long long opened, long long closed,
				 long long success, long long failure, const char *ids)
{
	json_object *r = harness_ok(fx.client, "status", harness_json("%s", params));
	json_object *jobs = harness_get(r, "jobs");
	char got[512] = "";

	ck_assert_msg(harness_int(r, "counts.opened") == opened &&
			      harness_int(r, "counts.closed") == closed &&
			      harness_int(r, "counts.success") == success &&
			      harness_int(r, "counts.failure") == failure,
		      "%s: counts %s", params,
		      json_object_to_json_string(harness_get(r, "counts")));
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		if (i)
			strcat(got, " ");
		strcat(got, harness_str(json_object_array_get_idx(jobs, i), "request_id"));
	}
	ck_assert_msg(strcmp(got, ids) == 0, "%s: jobs \"%s\", expected \"%s\"", params, got, ids);
	ck_assert(harness_is_null(r, "next"));
	json_object_put(r);
}

START_TEST(test_status_filters)
{
	json_object *r;

	methods_status_fixture();
	/* Newest first. */
	methods_check_status("{}", 1, 6, 4, 2, "running orphan other grandkid kid2 kid1 root");
	/* status and result filter the list, not the counts. */
	methods_check_status("{\"status\":\"opened\"}", 1, 6, 4, 2, "running");
	methods_check_status("{\"status\":\"closed\"}", 1, 6, 4, 2,
			     "orphan other grandkid kid2 kid1 root");
	methods_check_status("{\"result\":\"failure\"}", 1, 6, 4, 2, "other kid2");
	methods_check_status("{\"status\":\"closed\",\"result\":\"success\"}", 1, 6, 4, 2,
			     "orphan grandkid kid1 root");
	/* mode, run_id and parent_node_id filter both. */
	methods_check_status("{\"mode\":\"small\"}", 0, 1, 0, 1, "other");
	methods_check_status("{\"mode\":\"nope\"}", 0, 0, 0, 0, "");
	methods_check_status("{\"run_id\":\"root\"}", 0, 4, 3, 1, "grandkid kid2 kid1 root");
	methods_check_status("{\"parent_node_id\":\"n-root\"}", 0, 2, 1, 1, "kid2 kid1");
	methods_check_status("{\"run_id\":\"root\",\"result\":\"success\"}", 0, 4, 3, 1,
			     "grandkid kid1 root");
	/* A parent nobody knows: its own run. */
	methods_check_status("{\"run_id\":\"orphan\"}", 0, 1, 1, 0, "orphan");
	/* run_id on the jobs themselves. */
	r = harness_job(fx.client, "grandkid");
	ck_assert_str_eq(harness_str(r, "run_id"), "root");
	ck_assert_str_eq(harness_str(r, "parent_node_id"), "n-kid1");
	json_object_put(r);
	json_object_put(
		harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"running\"}")));
}
END_TEST

START_TEST(test_status_pages)
{
	json_object *r, *batch = json_object_new_array();
	char cursor[64] = "";
	bool seen[250] = {false};
	int pages = 0, total = 0, last = 250;
	const char *text;

	/* 250 jobs in one batch. */
	for (int i = 0; i < 250; i++)
		json_object_array_add(
			batch, harness_json("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\","
					    "\"params\":{\"request_id\":\"p%03d\",\"wait\":true,"
					    "\"node\":{\"argv\":[\"true\"]}}}",
					    i, i));
	text = json_object_to_json_string_ext(batch, JSON_C_TO_STRING_PLAIN);
	harness_send(fx.client, text);
	harness_send(fx.client, "\n");
	json_object_put(batch);
	r = harness_read_json(fx.client, HARNESS_WAIT_MS * 2);
	ck_assert(json_object_is_type(r, json_type_array));
	ck_assert_int_eq(json_object_array_length(r), 250);
	json_object_put(r);

	do {
		json_object *p = harness_json("{\"limit\":100}"), *jobs;

		if (cursor[0])
			json_object_object_add(p, "cursor", json_object_new_string(cursor));
		r = harness_ok(fx.client, "status", p);
		ck_assert_int_eq(harness_int(r, "counts.closed"), 250);
		ck_assert_int_eq(harness_int(r, "counts.success"), 250);
		jobs = harness_get(r, "jobs");
		for (size_t i = 0; i < json_object_array_length(jobs); i++) {
			int n = atoi(harness_str(json_object_array_get_idx(jobs, i), "request_id") +
				     1);

			ck_assert(n >= 0 && n < 250);
			ck_assert_msg(!seen[n], "p%03d on two pages", n);
			seen[n] = true;
			/* Newest first, across pages too. */
			ck_assert_int_lt(n, last);
			last = n;
			total++;
		}
		pages++;
		ck_assert_int_eq(json_object_array_length(jobs), pages < 3 ? 100 : 50);
		if (harness_is_null(r, "next")) {
			cursor[0] = '\0';
		} else {
			snprintf(cursor, sizeof(cursor), "%s", harness_str(r, "next"));
			ck_assert_int_lt(pages, 3);
		}
		json_object_put(r);
	} while (cursor[0]);
	ck_assert_int_eq(pages, 3);
	ck_assert_int_eq(total, 250);

	/* Default page size, the largest allowed and one past it. */
	r = harness_ok(fx.client, "status", NULL);
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 100);
	ck_assert(!harness_is_null(r, "next"));
	json_object_put(r);
	r = harness_ok(fx.client, "status", harness_json("{\"limit\":10000}"));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 250);
	ck_assert(harness_is_null(r, "next"));
	json_object_put(r);
	ck_assert_int_eq(harness_err(fx.client, "status", harness_json("{\"limit\":10001}"), NULL),
			 -32602);
	ck_assert_int_eq(
		harness_err(fx.client, "status", harness_json("{\"cursor\":\"bogus\"}"), NULL),
		-32602);
}
END_TEST

START_TEST(test_wait)
{
	json_object *r, *jobs;
	char *msg;

	for (int i = 0; i < 3; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"wt%d\",\"node\":{\"argv\":[\"sh\",\"-c\","
				    "\"sleep 0.%d; exit %d\"]}}",
				    i, i + 1, i);
	r = harness_ok(fx.client, "wait",
		       harness_json("{\"request_ids\":[\"wt2\",\"wt0\",\"wt1\"]}"));
	jobs = harness_get(r, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 3);
	/* In the order asked, every one closed. */
	ck_assert_str_eq(harness_str(jobs, "0.request_id"), "wt2");
	ck_assert_str_eq(harness_str(jobs, "1.request_id"), "wt0");
	ck_assert_str_eq(harness_str(jobs, "2.request_id"), "wt1");
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(harness_str(json_object_array_get_idx(jobs, i), "status"),
				 "closed");
	ck_assert_str_eq(harness_str(jobs, "1.result"), "success");
	ck_assert_str_eq(harness_str(jobs, "0.result"), "failure");
	json_object_put(r);

	/* Already closed: at once. An empty list: at once. */
	r = harness_ok(fx.client, "wait",
		       harness_json("{\"request_ids\":[\"wt0\"],\"timeout_ms\":0}"));
	json_object_put(r);
	r = harness_ok(fx.client, "wait", harness_json("{\"request_ids\":[]}"));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 0);
	json_object_put(r);

	/* Runs out: 1007, with where the jobs stand. */
	json_object_put(methods_submit("{\"request_id\":\"slow\",\"node\":{\"argv\":[\"sleep\","
				       "\"30\"]}}"));
	r = harness_call(fx.client, "wait",
			 harness_json("{\"request_ids\":[\"wt0\",\"slow\"],\"timeout_ms\":300}"),
			 HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1007);
	ck_assert_str_eq(harness_str(r, "error.data.jobs.1.request_id"), "slow");
	ck_assert_str_eq(harness_str(r, "error.data.jobs.1.status"), "opened");
	json_object_put(r);

	ck_assert_int_eq(harness_err(fx.client, "wait",
				     harness_json("{\"request_ids\":[\"wt0\",\"ghost\"]}"), &msg),
			 1001);
	ck_assert_ptr_nonnull(strstr(msg, "ghost"));
	free(msg);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"slow\"}")));
}
END_TEST

START_TEST(test_wait_out_of_order)
{
	long long slow, fast;
	json_object *r;

	/* Two waits on one connection: the later one answers first. */
	json_object_put(methods_submit("{\"request_id\":\"s\",\"node\":{\"argv\":[\"sleep\","
				       "\"1\"]}}"));
	json_object_put(methods_submit("{\"request_id\":\"f\",\"node\":{\"argv\":[\"true\"]}}"));
	slow = harness_call_async(fx.client, "wait", harness_json("{\"request_ids\":[\"s\"]}"));
	fast = harness_call_async(fx.client, "wait", harness_json("{\"request_ids\":[\"f\"]}"));
	r = harness_read_json(fx.client, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "id"), fast);
	json_object_put(r);
	r = harness_read_json(fx.client, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "id"), slow);
	ck_assert_str_eq(harness_str(r, "result.jobs.0.result"), "success");
	json_object_put(r);
}
END_TEST

START_TEST(test_cancel_running)
{
	json_object *r;
	char *msg;

	json_object_put(methods_submit("{\"request_id\":\"c1\",\"node\":{\"argv\":[\"sleep\","
				       "\"30\"]}}"));
	json_object_put(harness_wait_running(fx.client, "c1"));
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"c1\"}"));
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"c1\"}"));
	ck_assert_str_eq(harness_str(r, "message.type"), "request_failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "cancelled");
	json_object_put(r);

	/* Already closed: a conflict. Unknown: not found. */
	ck_assert_int_eq(
		harness_err(fx.client, "cancel", harness_json("{\"request_id\":\"c1\"}"), &msg),
		1002);
	ck_assert_ptr_nonnull(strstr(msg, "c1"));
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "cancel",
				     harness_json("{\"request_id\":\"c1\",\"cascade\":false}"),
				     NULL),
			 1002);
	ck_assert_int_eq(
		harness_err(fx.client, "cancel", harness_json("{\"request_id\":\"zz\"}"), NULL),
		1001);
}
END_TEST

START_TEST(test_cancel_queued)
{
	json_object *r;

	json_object_put(methods_submit("{\"request_id\":\"busy\",\"mode\":\"serial\","
				       "\"node\":{\"argv\":[\"sleep\",\"30\"]}}"));
	json_object_put(methods_submit("{\"request_id\":\"behind\",\"mode\":\"serial\","
				       "\"node\":{\"argv\":[\"sh\",\"-c\",\"echo ran\"]}}"));
	json_object_put(harness_wait_running(fx.client, "busy"));
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"behind\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"behind\"}"));
	ck_assert(harness_is_null(r, "message.result") ||
		  strcmp(harness_str(r, "message.result.stdout"), "") == 0);
	json_object_put(r);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"busy\"}")));
	r = harness_ok(fx.client, "modes", NULL);
	for (size_t i = 0; i < json_object_array_length(harness_get(r, "modes")); i++) {
		json_object *m = json_object_array_get_idx(harness_get(r, "modes"), i);

		ck_assert_int_eq(harness_int(m, "running"), 0);
		ck_assert_int_eq(harness_int(m, "queued"), 0);
	}
	json_object_put(r);
}
END_TEST

/* A tree: t0 (node n0) <- t1 (n1) <- t2, and t0 <- t3, all sleeping. */
static void methods_sleeping_tree(const char *prefix)
{
	static const char *const parents[] = {NULL, "0", "1", "0"};

	for (int i = 0; i < 4; i++) {
		json_object *p = harness_json("{\"request_id\":\"%s%d\",\"node\":{\"id\":\"%sn%d\","
					      "\"argv\":[\"sleep\",\"30\"]}}",
					      prefix, i, prefix, i);
		char parent[64];

		if (parents[i]) {
			snprintf(parent, sizeof(parent), "%sn%s", prefix, parents[i]);
			json_object_object_add(p, "parent_node_id", json_object_new_string(parent));
		}
		json_object_put(harness_ok(fx.client, "submit", p));
	}
}

static void methods_assert_state(const char *request_id, const char *status, const char *kind)
{
	json_object *job = harness_job(fx.client, request_id);

	ck_assert_msg(strcmp(harness_str(job, "status"), status) == 0, "%s is %s", request_id,
		      harness_str(job, "status"));
	if (kind)
		ck_assert_str_eq(harness_str(job, "error.kind"), kind);
	json_object_put(job);
}

START_TEST(test_cancel_cascade)
{
	json_object *r;

	methods_sleeping_tree("t");
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"t0\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	/* Every descendant closes too. */
	for (int i = 1; i < 4; i++) {
		char id[8];

		snprintf(id, sizeof(id), "t%d", i);
		json_object_put(harness_wait_job(fx.client, id));
		methods_assert_state(id, "closed", "cancelled");
	}
	r = harness_ok(fx.client, "status", harness_json("{\"run_id\":\"t0\"}"));
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(r, "counts.failure"), 4);
	json_object_put(r);
}
END_TEST

START_TEST(test_cancel_no_cascade)
{
	json_object *r;

	methods_sleeping_tree("u");
	r = harness_ok(fx.client, "cancel",
		       harness_json("{\"request_id\":\"u1\",\"cascade\":false}"));
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	json_object_put(r);
	/* Only u1: its child u2 and the rest of the tree go on. */
	ck_assert(harness_silent(fx.client, 200));
	methods_assert_state("u0", "opened", NULL);
	methods_assert_state("u2", "opened", NULL);
	methods_assert_state("u3", "opened", NULL);
	/* Cascading from the closed u1 still reaches its opened child, and answers 1002. */
	ck_assert_int_eq(
		harness_err(fx.client, "cancel", harness_json("{\"request_id\":\"u1\"}"), NULL),
		1002);
	json_object_put(harness_wait_job(fx.client, "u2"));
	methods_assert_state("u2", "closed", "cancelled");
	methods_assert_state("u0", "opened", NULL);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"u0\"}")));
	json_object_put(harness_wait_job(fx.client, "u3"));
}
END_TEST

START_TEST(test_modes)
{
	json_object *r, *m;

	r = harness_ok(fx.client, "modes", NULL);
	ck_assert_int_eq(json_object_array_length(harness_get(r, "modes")), 3);
	m = harness_find_named(harness_get(r, "modes"), "async");
	ck_assert_str_eq(harness_str(m, "strategy"), "async");
	ck_assert_int_eq(harness_int(m, "max_concurrency"), 8);
	m = harness_find_named(harness_get(r, "modes"), "serial");
	ck_assert_str_eq(harness_str(m, "strategy"), "async");
	ck_assert_int_eq(harness_int(m, "max_concurrency"), 1);
	ck_assert_int_eq(harness_int(m, "running"), 0);
	ck_assert_int_eq(harness_int(m, "queued"), 0);
	json_object_put(r);

	/* One running, two queued behind it. */
	for (int i = 0; i < 3; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"m%d\",\"mode\":"
				    "\"serial\",\"node\":{\"argv\":[\"sleep\","
				    "\"30\"]}}",
				    i);
	json_object_put(harness_wait_running(fx.client, "m0"));
	r = harness_ok(fx.client, "modes", NULL);
	m = harness_find_named(harness_get(r, "modes"), "serial");
	ck_assert_int_eq(harness_int(m, "running"), 1);
	ck_assert_int_eq(harness_int(m, "queued"), 2);
	m = harness_find_named(harness_get(r, "modes"), "async");
	ck_assert_int_eq(harness_int(m, "running"), 0);
	json_object_put(r);
	/* FIFO: cancelling the running one starts m1, not m2. */
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"m0\"}")));
	json_object_put(harness_wait_running(fx.client, "m1"));
	methods_assert_state("m2", "opened", NULL);
	r = harness_job(fx.client, "m2");
	ck_assert_str_eq(harness_str(r, "phase"), "queued");
	json_object_put(r);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"m2\"}")));
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"m1\"}")));
}
END_TEST

START_TEST(test_modes_default)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r;

	/* No config: async alone, one slot per online CPU. */
	harness_daemon_new(&d, NULL);
	c = harness_client_new(d.sock);
	r = harness_ok(c, "modes", NULL);
	ck_assert_int_eq(json_object_array_length(harness_get(r, "modes")), 1);
	ck_assert_str_eq(harness_str(r, "modes.0.name"), "async");
	ck_assert_int_eq(harness_int(r, "modes.0.max_concurrency"), sysconf(_SC_NPROCESSORS_ONLN));
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_shutdown)
{
	struct harness_client *other = harness_client_new(fx.daemon.sock);
	json_object *r;
	int status;

	json_object_put(methods_submit("{\"request_id\":\"last\",\"node\":{\"argv\":[\"sleep\","
				       "\"0.5\"]}}"));
	json_object_put(harness_wait_running(fx.client, "last"));
	r = harness_ok(fx.client, "shutdown", NULL);
	ck_assert_int_eq(json_object_object_length(r), 0);
	json_object_put(r);
	/* Draining: no new work. */
	ck_assert_int_eq(harness_err(other, "submit",
				     harness_json("{\"node\":{\"argv\":[\"true\"]}}"), NULL),
			 1006);
	status = harness_daemon_wait_exit(&fx.daemon, HARNESS_WAIT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	harness_client_free(other);
	/* The running task was let finish within the grace period. */
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
	r = harness_job(fx.client, "last");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
}
END_TEST

START_TEST(test_unsubscribe)
{
	json_object *r;
	long long sub;

	ck_assert_int_eq(
		harness_err(fx.client, "unsubscribe", harness_json("{\"subscription\":999}"), NULL),
		1001);
	r = harness_ok(fx.client, "subscribe", NULL);
	sub = harness_int(r, "subscription");
	json_object_put(r);
	/* Another connection's subscription is not ours to end. */
	{
		struct harness_client *other = harness_client_new(fx.daemon.sock);

		ck_assert_int_eq(harness_err(other, "unsubscribe",
					     harness_json("{\"subscription\":%lld}", sub), NULL),
				 1001);
		harness_client_free(other);
	}
	r = harness_ok(fx.client, "unsubscribe", harness_json("{\"subscription\":%lld}", sub));
	ck_assert_int_eq(json_object_object_length(r), 0);
	json_object_put(r);
	/* No message after the answer. */
	json_object_put(methods_submit("{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}"));
	ck_assert(harness_silent(fx.client, 300));
	ck_assert_int_eq(harness_err(fx.client, "unsubscribe",
				     harness_json("{\"subscription\":%lld}", sub), NULL),
			 1001);
}
END_TEST

/* Runs fn in a child process as uid/gid; its exit code. */
static int methods_as_user(uid_t uid, gid_t gid, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* error.code of one request from this process's uid, or 0 for success. */
static int methods_code_of(const char *line)
{
	struct harness_client *c = harness_connect(fx.daemon.sock);
	json_object *o, *v;
	bool eof;
	char *text;
	int code = -1;

	if (!c)
		return 99;
	harness_send_raw(c, line, strlen(line));
	text = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	o = text ? json_tokener_parse(text) : NULL;
	if (o && json_object_object_get_ex(o, "error", &v))
		code = json_object_get_int(json_object_object_get(v, "code"));
	else if (o && json_object_object_get_ex(o, "result", &v))
		code = 0;
	json_object_put(o);
	free(text);
	harness_client_free(c);
	return code == 1004 ? 4 : code == 0 ? 0 : 1;
}

static int methods_nobody_pings(void)
{
	return methods_code_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
}

static int methods_nobody_submits(void)
{
	return methods_code_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":"
			       "{\"request_id\":\"by-nobody\",\"node\":{\"argv\":[\"true\"]}}}\n");
}

static int methods_daemon_submits(void)
{
	return methods_code_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":"
			       "{\"request_id\":\"by-daemon\",\"node\":{\"argv\":[\"sleep\","
			       "\"30\"]}}}\n");
}

static int methods_bin_cancels(void)
{
	return methods_code_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":"
			       "{\"request_id\":\"by-daemon\"}}\n");
}

static int methods_bin_shuts_down(void)
{
	return methods_code_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"shutdown\"}\n");
}

START_TEST(test_permissions)
{
	json_object *r;

	if (geteuid() != 0)
		return; /* needs root to act as other users */
	/* Let others reach the socket (socket_mode is 0666). */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	/* nobody is neither root, us, nor allowed. */
	ck_assert_int_eq(methods_as_user(65534, 65534, methods_nobody_pings), 4);
	ck_assert_int_eq(methods_as_user(65534, 65534, methods_nobody_submits), 4);
	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"by-nobody\"}"), NULL),
		1001);
	/* daemon is allowed and owns its job; bin is allowed but may not cancel it. */
	ck_assert_int_eq(methods_as_user(1, 1, methods_daemon_submits), 0);
	ck_assert_int_eq(methods_as_user(2, 2, methods_bin_cancels), 4);
	methods_assert_state("by-daemon", "opened", NULL);
	/* An allowed user may not stop the daemon for everyone: it keeps running. */
	ck_assert_int_eq(methods_as_user(2, 2, methods_bin_shuts_down), 4);
	json_object_put(harness_ok(fx.client, "ping", NULL));
	r = harness_job(fx.client, "by-daemon");
	ck_assert_int_eq(harness_int(r, "owner_uid"), 1);
	json_object_put(r);
	/* root may. */
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"by-daemon\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
}
END_TEST

static Suite *methods_suite(void)
{
	Suite *s = suite_create("daemon-methods");
	TCase *tc = tcase_create("methods");

	tcase_add_checked_fixture(tc, methods_setup, methods_teardown);
	tcase_add_test(tc, test_submit_fields);
	tcase_add_test(tc, test_submit_wait);
	tcase_add_test(tc, test_submit_failures);
	tcase_add_test(tc, test_submit_invalid);
	tcase_add_test(tc, test_submit_unknown_mode);
	tcase_add_test(tc, test_submit_duplicate);
	tcase_add_test(tc, test_submit_queue_full);
	tcase_add_test(tc, test_job_unknown);
	tcase_add_test(tc, test_job_opened);
	tcase_add_test(tc, test_status_filters);
	tcase_add_test(tc, test_status_pages);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_wait_out_of_order);
	tcase_add_test(tc, test_cancel_running);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_cancel_cascade);
	tcase_add_test(tc, test_cancel_no_cascade);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_shutdown);
	tcase_add_test(tc, test_unsubscribe);
	tcase_add_test(tc, test_permissions);
	suite_add_tcase(s, tc);

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_modes_default);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(methods_suite());
}
