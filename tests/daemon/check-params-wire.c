/*
 * Unknown keys over the socket (contract v2): every method's params, a
 * Task and its node refuse a key they do not know with -32602 naming it,
 * and nothing happens: no job is cancelled, none is created, and a refused
 * submit publishes its request_creation_failure like any other refusal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "harness.h"

#define PARAMS_CONFIG                                                                              \
	HARNESS_CONFIG_DAEMON                                                                      \
	"[mode:async]\n"                                                                           \
	"max_concurrency = 4\n"                                                                    \
	"kill_grace_ms = 200\n"

#define WIRE_INVALID_PARAMS (-32602)
#define WIRE_NOT_FOUND	    1001

static struct harness_fixture fx;

static void params_setup(void)
{
	harness_fixture_start(&fx, PARAMS_CONFIG);
}

static void params_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* Calls method with params (JSON text) and expects -32602 with want in its message. */
static void params_expect_refused(const char *method, const char *params, const char *want)
{
	char *msg = NULL;
	int code = harness_err(fx.client, method, harness_json("%s", params), &msg);

	ck_assert_msg(code == WIRE_INVALID_PARAMS, "%s %s: code %d (%s), not -32602", method,
		      params, code, msg ? msg : "");
	ck_assert_msg(msg && strstr(msg, want), "%s %s: \"%s\" does not name \"%s\"", method,
		      params, msg ? msg : "", want);
	free(msg);
}

/* The job request_id names, from the job method. */
static void params_expect_no_job(const char *request_id)
{
	int code = harness_err(fx.client, "job",
			       harness_json("{\"request_id\":\"%s\"}", request_id), NULL);

	ck_assert_msg(code == WIRE_NOT_FOUND, "job %s exists after a refused submit (code %d)",
		      request_id, code);
}

/* How many jobs the history holds (counts of a status over everything). */
static long long params_job_count(void)
{
	json_object *r = harness_ok(fx.client, "status", harness_json("{\"limit\":1}"));
	long long n = harness_int(r, "counts.opened") + harness_int(r, "counts.closed");

	json_object_put(r);
	return n;
}

START_TEST(test_cancel_typo_cancels_nothing)
{
	static const char *const sleeper[] = {"sleep", "30", NULL};
	json_object *job = harness_submit(fx.client, NULL, sleeper), *after;
	char *id = strdup(harness_str(job, "request_id"));
	char params[256];

	json_object_put(job);
	json_object_put(harness_wait_running(fx.client, id));
	snprintf(params, sizeof(params), "{\"request_id\":\"%s\",\"cascde\":false}", id);
	params_expect_refused("cancel", params, "unknown key \"cascde\" in params of cancel");

	/* The call was answered after the refusal: had it cancelled, the job would be closing. */
	after = harness_job(fx.client, id);
	ck_assert_str_eq(harness_str(after, "status"), "opened");
	ck_assert_str_eq(harness_str(after, "phase"), "running");
	json_object_put(after);

	/* The spelled-right call still works. */
	snprintf(params, sizeof(params), "{\"request_id\":\"%s\",\"cascade\":false}", id);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("%s", params)));
	after = harness_job(fx.client, id);
	ck_assert_str_eq(harness_str(after, "status"), "closed");
	json_object_put(after);
	free(id);
}
END_TEST

/* The next request_creation_failure on sub; its error.message must hold want. */
static void params_expect_refusal_published(struct harness_client *sub, const char *request_id,
					    const char *want)
{
	json_object *n = harness_notification(sub, "message", HARNESS_WAIT_MS), *msg;

	ck_assert_msg(n != NULL, "no request_creation_failure was published for %s", request_id);
	msg = harness_get(n, "params.message");
	ck_assert_str_eq(harness_str(msg, "type"), "request_creation_failure");
	ck_assert_str_eq(harness_str(msg, "request_id"), request_id);
	ck_assert_str_eq(harness_str(msg, "error.kind"), "invalid");
	ck_assert_msg(strstr(harness_str(msg, "error.message"), want),
		      "published \"%s\" does not name \"%s\"", harness_str(msg, "error.message"),
		      want);
	json_object_put(n);
}

START_TEST(test_submit_unknown_keys_create_nothing)
{
	static const struct {
		const char *params;
		const char *want;
		const char *request_id;
	} cases[] = {
		{"{\"request_id\":\"k1\",\"wiat\":true,\"node\":{\"argv\":[\"true\"]}}",
		 "unknown key \"wiat\" in the Task", "k1"},
		{"{\"request_id\":\"k2\",\"node\":{\"argvv\":[\"true\"]}}",
		 "unknown key \"node.argvv\" in node", "k2"},
		{"{\"request_id\":\"k3\",\"node\":{\"argv\":[\"true\"],\"timeout\":5}}",
		 "unknown key \"node.timeout\"", "k3"},
		{"{\"request_id\":\"k4\",\"node\":{\"argv\":[\"true\"]},\"after_policy\":"
		 "\"never\"}",
		 "after_policy", "k4"},
	};
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	long long before;

	json_object_put(harness_ok(sub, "subscribe",
				   harness_json("{\"types\":[\"request_creation_failure\"]}")));
	before = params_job_count();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		params_expect_refused("submit", cases[i].params, cases[i].want);
		params_expect_no_job(cases[i].request_id);
		params_expect_refusal_published(sub, cases[i].request_id, cases[i].want);
	}
	ck_assert_int_eq(params_job_count(), before);

	/* The v2 keys are known: after (an array of ids) and after_policy are not refused as
	 * unknown. */
	harness_submit_json(fx.client, "{\"request_id\":\"k5\",\"node\":{\"argv\":[\"true\"],"
				       "\"id\":\"n5\",\"name\":\"five\",\"cwd\":\"/\","
				       "\"env\":{\"A\":\"1\"},\"stdin\":\"\","
				       "\"timeout_ms\":0},\"mode\":\"async\","
				       "\"parent_node_id\":null,\"wait\":false}");
	json_object_put(harness_wait_job(fx.client, "k5"));
	harness_client_free(sub);
}
END_TEST

START_TEST(test_every_method_refuses_unknown_keys)
{
	static const struct {
		const char *method;
		const char *params;
	} cases[] = {
		{"ping", "{\"verbose\":true}"},
		{"modes", "{\"name\":\"async\"}"},
		{"shutdown", "{\"force\":true}"},
		{"metrics", "{\"format\":\"text\"}"},
		{"job", "{\"request_id\":\"x\",\"cascde\":1}"},
		{"status", "{\"limt\":5}"},
		{"wait", "{\"request_ids\":[],\"timeout\":5}"},
		{"cancel", "{\"request_id\":\"x\",\"cascde\":false}"},
		{"subscribe", "{\"type\":[\"request_success\"]}"},
		{"unsubscribe", "{\"subscription\":1,\"all\":true}"},
	};
	char want[128];
	json_object *r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "in params of %s", cases[i].method);
		params_expect_refused(cases[i].method, cases[i].params, want);
	}
	/* shutdown with a typo did not shut the daemon down; no params at all is fine. */
	r = harness_ok(fx.client, "ping", NULL);
	json_object_put(r);
	json_object_put(harness_ok(fx.client, "ping", harness_json("{}")));
	json_object_put(harness_ok(fx.client, "modes", harness_json("[]")));
	json_object_put(harness_ok(fx.client, "status", harness_json("{\"mode\":null}")));
}
END_TEST

START_TEST(test_wrong_types_and_bounds)
{
	params_expect_refused("cancel", "{\"request_id\":\"x\",\"cascade\":\"no\"}",
			      "cascade must be true or false");
	params_expect_refused("cancel", "{}", "request_id is required");
	params_expect_refused("status", "{\"limit\":10001}", "limit must be a whole number from 1");
	params_expect_refused("status", "{\"limit\":0}", "limit must be a whole number from 1");
	params_expect_refused("wait", "{\"request_ids\":\"x\"}", "request_ids must be an array");
	params_expect_refused("unsubscribe", "{\"subscription\":-1}", "subscription must be");
	params_expect_refused("subscribe", "{\"since_seq\":1.5}", "since_seq must be");
}
END_TEST

/* Params that are an array: every method takes named params, and a refused submit is published. */
START_TEST(test_array_params)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	json_object *n;
	long long before;

	json_object_put(harness_ok(sub, "subscribe",
				   harness_json("{\"types\":[\"request_creation_failure\"]}")));
	before = params_job_count();
	params_expect_refused("submit", "[{\"node\":{\"argv\":[\"true\"]}}]",
			      "must be a Task object");
	n = harness_notification(sub, "message", HARNESS_WAIT_MS);
	ck_assert_msg(n != NULL, "a submit refused for array params published nothing");
	ck_assert_str_eq(harness_str(n, "params.message.type"), "request_creation_failure");
	ck_assert_str_eq(harness_str(n, "params.message.error.kind"), "invalid");
	json_object_put(n);
	ck_assert_int_eq(params_job_count(), before);
	params_expect_refused("cancel", "[\"x\", false]", "params of cancel must be an object");
	params_expect_refused("ping", "[1]", "params of ping must be an object");
	/* An empty array is no params at all. */
	json_object_put(harness_ok(fx.client, "ping", harness_json("[]")));
	harness_client_free(sub);
}
END_TEST

static Suite *params_wire_suite(void)
{
	Suite *s = suite_create("params-wire");
	TCase *tc = tcase_create("unknown-keys");

	tcase_add_checked_fixture(tc, params_setup, params_teardown);
	tcase_add_test(tc, test_cancel_typo_cancels_nothing);
	tcase_add_test(tc, test_submit_unknown_keys_create_nothing);
	tcase_add_test(tc, test_every_method_refuses_unknown_keys);
	tcase_add_test(tc, test_wrong_types_and_bounds);
	tcase_add_test(tc, test_array_params);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(params_wire_suite());
}
