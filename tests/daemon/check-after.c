/*
 * Dependencies over the real socket: a Task's after and after_policy.
 * Every task records that it ran by appending its name to one file, and
 * the tasks that must stay open block on a fifo the test opens when it is
 * ready, so nothing here waits a fixed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define AFTER_CONFIG                                                                               \
	HARNESS_CONFIG_DAEMON                                                                      \
	"max_task_after = 4\n"                                                                     \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	HARNESS_CONFIG_MODE("one", "1")                                                            \
	"max_queue = 2\n"
/* clang-format on */

/* A daemon, a client, and the file every task appends its name to. */
struct after_env {
	struct harness_fixture fx;
	char runs[256];
};

static void after_setup(struct after_env *e)
{
	harness_fixture_start(&e->fx, AFTER_CONFIG);
	snprintf(e->runs, sizeof(e->runs), "%s/runs", e->fx.daemon.dir);
}

static void after_teardown(struct after_env *e)
{
	harness_fixture_stop(&e->fx);
}

/*
 * Submits name: it appends its name to the runs file, after reading a line
 * from gate (NULL: at once), and exits with status. extra is more Task
 * members (",\"after\":[...]"), or "".
 */
static json_object *after_submit(struct after_env *e, const char *name, const char *gate,
				 int status, const char *extra)
{
	char script[768];
	json_object *r, *job;

	snprintf(script, sizeof(script), "%s%s%secho %s >> %s; exit %d", gate ? "read x < " : "",
		 gate ? gate : "", gate ? "; " : "", name, e->runs, status);
	r = harness_ok(e->fx.client, "submit",
		       harness_json("{\"request_id\":\"%s\"%s,\"node\":{\"argv\":[\"sh\",\"-c\","
				    "\"%s\"]}}",
				    name, extra, script));
	job = json_object_get(harness_get(r, "job"));
	json_object_put(r);
	return job;
}

static void after_submit_ok(struct after_env *e, const char *name, const char *gate, int status,
			    const char *extra)
{
	json_object_put(after_submit(e, name, gate, status, extra));
}

static void after_expect_phase(struct after_env *e, const char *name, const char *phase)
{
	json_object *job = harness_job(e->fx.client, name);

	ck_assert_msg(strcmp(harness_str(job, "phase"), phase) == 0, "%s: %s", name,
		      json_object_to_json_string(job));
	json_object_put(job);
}

/* What the runs file holds, one name a line ("" when nothing ran). */
static char *after_runs(struct after_env *e)
{
	FILE *f = fopen(e->runs, "r");
	char *text = calloc(1, 65536);
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	if (f) {
		n = fread(text, 1, 65535, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static void after_expect_runs(struct after_env *e, const char *want)
{
	char *runs = after_runs(e);

	ck_assert_msg(strcmp(runs, want) == 0, "ran \"%s\", expected \"%s\"", runs, want);
	free(runs);
}

/* The job closed as a dependency failure, naming dep, with that final message. */
static void after_expect_dependency(struct after_env *e, const char *name, const char *dep)
{
	json_object *r =
		harness_ok(e->fx.client, "job", harness_json("{\"request_id\":\"%s\"}", name));

	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "dependency");
	ck_assert_msg(strstr(harness_str(r, "job.error.message"), dep), "%s",
		      json_object_to_json_string(r));
	ck_assert_str_eq(harness_str(r, "message.type"), "request_failure");
	ck_assert_str_eq(harness_str(r, "message.error.kind"), "dependency");
	ck_assert(harness_is_null(r, "job.exit_code"));
	json_object_put(r);
}

START_TEST(test_chain_fails)
{
	struct after_env e;
	char gate[256];
	json_object *b, *c;

	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate-a", gate, sizeof(gate));
	after_submit_ok(&e, "a", gate, 1, "");
	b = after_submit(&e, "b", NULL, 0, ",\"after\":[\"a\"]");
	c = after_submit(&e, "c", NULL, 0, ",\"after\":[\"b\"],\"after_policy\":\"success\"");
	/* Accepted at once, waiting, and shown with their after. */
	ck_assert_str_eq(harness_str(b, "phase"), "waiting");
	ck_assert_str_eq(harness_str(b, "status"), "opened");
	ck_assert_str_eq(harness_str(b, "after.0"), "a");
	ck_assert_str_eq(harness_str(c, "phase"), "waiting");
	ck_assert_str_eq(harness_str(c, "after.0"), "b");
	json_object_put(b);
	json_object_put(c);
	json_object_put(harness_wait_running(e.fx.client, "a"));
	after_expect_phase(&e, "b", "waiting");

	harness_fifo_write(gate, "go\n");
	json_object_put(harness_wait_job(e.fx.client, "c"));
	after_expect_dependency(&e, "b", "\"a\"");
	after_expect_dependency(&e, "c", "\"b\"");
	/* Neither ran. */
	after_expect_runs(&e, "a\n");
	after_teardown(&e);
}
END_TEST

START_TEST(test_long_chain)
{
	struct after_env e;
	char gate[256], id[16], extra[64];
	json_object *r;

	/* A failure walks down a long chain one message at a time, not by recursion. */
	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate", gate, sizeof(gate));
	after_submit_ok(&e, "n0", gate, 3, "");
	for (int i = 1; i <= 2000; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(extra, sizeof(extra), ",\"after\":[\"n%d\"]", i - 1);
		after_submit_ok(&e, id, NULL, 0, extra);
	}
	json_object_put(harness_wait_running(e.fx.client, "n0"));
	harness_fifo_write(gate, "go\n");
	json_object_put(harness_wait_job(e.fx.client, "n2000"));
	after_expect_dependency(&e, "n2000", "\"n1999\"");
	r = harness_ok(e.fx.client, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.failure"), 2001);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
	after_expect_runs(&e, "n0\n");
	after_teardown(&e);
}
END_TEST

START_TEST(test_diamond_closed)
{
	struct after_env e;
	char gate_a[256], gate_b[256];
	json_object *r;
	char *runs;

	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate-a", gate_a, sizeof(gate_a));
	harness_fifo(&e.fx.daemon, "gate-b", gate_b, sizeof(gate_b));
	after_submit_ok(&e, "a", gate_a, 1, "");
	after_submit_ok(&e, "b", gate_b, 0, ",\"after\":[\"a\"],\"after_policy\":\"closed\"");
	after_submit_ok(&e, "c", NULL, 0, ",\"after\":[\"a\"],\"after_policy\":\"closed\"");
	/* d names b twice: it waits for it once. */
	after_submit_ok(&e, "d", NULL, 0,
			",\"after\":[\"b\",\"c\",\"b\"],\"after_policy\":\"closed\"");
	json_object_put(harness_wait_running(e.fx.client, "a"));
	harness_fifo_write(gate_a, "go\n");
	/* a failed: b and c run all the same; d waits for b, which waits for its gate. */
	json_object_put(harness_wait_job(e.fx.client, "c"));
	json_object_put(harness_wait_running(e.fx.client, "b"));
	after_expect_phase(&e, "d", "waiting");
	harness_fifo_write(gate_b, "go\n");
	r = harness_wait_job(e.fx.client, "d");
	/* Shown as submitted. */
	ck_assert_int_eq(json_object_array_length(harness_get(r, "after")), 3);
	ck_assert_str_eq(harness_str(r, "after.2"), "b");
	json_object_put(r);
	runs = after_runs(&e);
	ck_assert_msg(strcmp(runs, "a\nc\nb\nd\n") == 0, "ran %s", runs);
	free(runs);
	after_teardown(&e);
}
END_TEST

START_TEST(test_waiting_takes_no_slot)
{
	struct after_env e;
	char gate[256];
	json_object *r;

	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate", gate, sizeof(gate));
	after_submit_ok(&e, "first", gate, 0, "");
	json_object_put(harness_wait_running(e.fx.client, "first"));
	/* Mode one has a single slot: the waiting job must not hold it. */
	after_submit_ok(&e, "later", NULL, 0, ",\"mode\":\"one\",\"after\":[\"first\"]");
	r = harness_ok(e.fx.client, "submit",
		       harness_json("{\"request_id\":\"other\",\"mode\":\"one\",\"wait\":true,"
				    "\"node\":{\"argv\":[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
	after_expect_phase(&e, "later", "waiting");
	harness_fifo_write(gate, "go\n");
	r = harness_wait_job(e.fx.client, "later");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	after_expect_runs(&e, "first\nlater\n");
	after_teardown(&e);
}
END_TEST

START_TEST(test_after_refused)
{
	struct after_env e;
	json_object *r;
	char *msg = NULL;

	after_setup(&e);
	after_submit_ok(&e, "done", NULL, 0, "");
	json_object_put(harness_wait_job(e.fx.client, "done"));
	/* A missing id: 1001 naming it, and nothing is created. */
	ck_assert_int_eq(harness_err(e.fx.client, "submit",
				     harness_json("{\"request_id\":\"orphan\",\"after\":[\"done\","
						  "\"nope\"],\"node\":{\"argv\":[\"true\"]}}"),
				     &msg),
			 1001);
	ck_assert_msg(strstr(msg, "\"nope\""), "%s", msg);
	free(msg);
	ck_assert_int_eq(
		harness_err(e.fx.client, "job", harness_json("{\"request_id\":\"orphan\"}"), NULL),
		1001);
	r = harness_ok(e.fx.client, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.closed"), 1);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
	/* Its own id cannot be named: it does not exist yet (no cycle can be built). */
	ck_assert_int_eq(harness_err(e.fx.client, "submit",
				     harness_json("{\"request_id\":\"self\",\"after\":[\"self\"],"
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     NULL),
			 1001);
	/* Bad shapes and an unknown policy: invalid params. */
	ck_assert_int_eq(
		harness_err(e.fx.client, "submit",
			    harness_json("{\"after\":\"done\",\"node\":{\"argv\":[\"true\"]}}"),
			    NULL),
		-32602);
	ck_assert_int_eq(harness_err(e.fx.client, "submit",
				     harness_json("{\"after\":[7],\"node\":{\"argv\":[\"true\"]}}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(e.fx.client, "submit",
				     harness_json("{\"after\":[\"done\"],\"after_policy\":\"any\","
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "after_policy"), "%s", msg);
	free(msg);
	/* Past max_task_after (4 here): refused, naming the key. */
	ck_assert_int_eq(harness_err(e.fx.client, "submit",
				     harness_json("{\"after\":[\"a1\",\"a2\",\"a3\",\"a4\",\"a5\"],"
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "max_task_after"), "%s", msg);
	free(msg);
	/* The daemon goes on. */
	r = harness_ok(e.fx.client, "submit",
		       harness_json("{\"after\":[\"done\"],\"wait\":true,\"node\":{\"argv\":"
				    "[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	ck_assert(harness_is_null(r, "job.error"));
	json_object_put(r);
	/* A job without after shows null. */
	r = harness_job(e.fx.client, "done");
	ck_assert(harness_is_null(r, "after"));
	json_object_put(r);
	after_teardown(&e);
}
END_TEST

START_TEST(test_after_closed_already)
{
	struct after_env e;
	json_object *r;

	after_setup(&e);
	after_submit_ok(&e, "ok", NULL, 0, "");
	after_submit_ok(&e, "bad", NULL, 2, "");
	json_object_put(harness_wait_job(e.fx.client, "ok"));
	json_object_put(harness_wait_job(e.fx.client, "bad"));
	/* Their dependencies closed already: queued at once, or failed at once. */
	after_submit_ok(&e, "runs", NULL, 0, ",\"after\":[\"ok\"]");
	after_submit_ok(&e, "never", NULL, 0, ",\"after\":[\"ok\",\"bad\"]");
	after_submit_ok(&e, "anyway", NULL, 0, ",\"after\":[\"bad\"],\"after_policy\":\"closed\"");
	r = harness_wait_job(e.fx.client, "runs");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	r = harness_wait_job(e.fx.client, "anyway");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	json_object_put(harness_wait_job(e.fx.client, "never"));
	after_expect_dependency(&e, "never", "\"bad\"");
	after_teardown(&e);
}
END_TEST

START_TEST(test_cancel_waiting)
{
	struct after_env e;
	char gate[256];
	json_object *r;

	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate", gate, sizeof(gate));
	after_submit_ok(&e, "a", gate, 0, "");
	after_submit_ok(&e, "w", NULL, 0, ",\"after\":[\"a\"]");
	after_submit_ok(&e, "x", NULL, 0, ",\"after\":[\"w\"]");
	r = harness_ok(e.fx.client, "cancel",
		       harness_json("{\"request_id\":\"w\",\"cascade\":false}"));
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	/* x waited for w, which failed: it follows. */
	json_object_put(harness_wait_job(e.fx.client, "x"));
	after_expect_dependency(&e, "x", "\"w\"");
	json_object_put(harness_wait_running(e.fx.client, "a"));
	harness_fifo_write(gate, "go\n");
	r = harness_wait_job(e.fx.client, "a");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	after_expect_runs(&e, "a\n");
	/* Cancelling it again: it is closed. */
	ck_assert_int_eq(harness_err(e.fx.client, "cancel",
				     harness_json("{\"request_id\":\"w\",\"cascade\":false}"),
				     NULL),
			 1002);
	after_teardown(&e);
}
END_TEST

START_TEST(test_max_queue_counts_waiting)
{
	struct after_env e;
	char gate[256], gate_hold[256];
	json_object *r;
	char *msg = NULL;

	after_setup(&e);
	harness_fifo(&e.fx.daemon, "gate", gate, sizeof(gate));
	harness_fifo(&e.fx.daemon, "gate-hold", gate_hold, sizeof(gate_hold));
	after_submit_ok(&e, "a", gate, 0, "");
	json_object_put(harness_wait_running(e.fx.client, "a"));
	/* Mode one: one slot, max_queue 2. Two waiting jobs fill it... */
	after_submit_ok(&e, "w1", NULL, 0, ",\"mode\":\"one\",\"after\":[\"a\"]");
	after_submit_ok(&e, "w2", NULL, 0, ",\"mode\":\"one\",\"after\":[\"a\"]");
	harness_submit_json(e.fx.client,
			    "{\"request_id\":\"hold\",\"mode\":\"one\",\"node\":"
			    "{\"argv\":[\"sh\",\"-c\",\"read x < %s\"]}}",
			    gate_hold);
	json_object_put(harness_wait_running(e.fx.client, "hold"));
	/* ...with the slot taken, a third is refused, waiting or not. */
	ck_assert_int_eq(
		harness_err(e.fx.client, "submit",
			    harness_json("{\"request_id\":\"w3\",\"mode\":\"one\",\"after\":"
					 "[\"a\"],\"node\":{\"argv\":[\"true\"]}}"),
			    &msg),
		1005);
	free(msg);
	ck_assert_int_eq(
		harness_err(e.fx.client, "submit",
			    harness_json("{\"request_id\":\"q3\",\"mode\":\"one\",\"node\":"
					 "{\"argv\":[\"true\"]}}"),
			    NULL),
		1005);
	/* Released, both run (they were counted already, so the full queue takes them). */
	harness_fifo_write(gate, "go\n");
	harness_fifo_write(gate_hold, "go\n");
	r = harness_wait_job(e.fx.client, "w2");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	r = harness_wait_job(e.fx.client, "w1");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	after_teardown(&e);
}
END_TEST

static Suite *after_suite(void)
{
	Suite *s = suite_create("daemon-after");
	TCase *tc = tcase_create("after");

	tcase_add_test(tc, test_chain_fails);
	tcase_add_test(tc, test_long_chain);
	tcase_add_test(tc, test_diamond_closed);
	tcase_add_test(tc, test_waiting_takes_no_slot);
	tcase_add_test(tc, test_after_refused);
	tcase_add_test(tc, test_after_closed_already);
	tcase_add_test(tc, test_cancel_waiting);
	tcase_add_test(tc, test_max_queue_counts_waiting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(after_suite());
}
