/*
 * A queued task is kept on disk only (its job's stored Task) and loaded
 * when a slot frees: over the real socket, a queued job reads back as
 * submitted, starts with everything it was given (argv, env, cwd, stdin,
 * time limit), and a cancel of it, alone or in a cascade, says what it
 * said before. queue_hot_tasks = 0, so even a queue of one goes cold (see
 * check-queue-hot.c for the short queues kept in memory). The daemon logs
 * (at debug) when queued jobs go cold, kept in the history only: the
 * tests wait for that line, not for a time. Tasks that must keep their
 * slot block on a fifo, so nothing waits a fixed time.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define QM_CONFIG                                                                                  \
	"[daemon]\n"                                                                               \
	"log_level = debug\n"                                                                      \
	HARNESS_CONFIG_MODE("async", "1")                                                          \
	"queue_hot_tasks = 0\n"
/* clang-format on */

struct qm_env {
	struct harness_fixture fx;
	char gate[256];
	char out[256];
};

static void qm_setup(struct qm_env *e)
{
	harness_fixture_start(&e->fx, QM_CONFIG);
	harness_fifo(&e->fx.daemon, "gate", e->gate, sizeof(e->gate));
	snprintf(e->out, sizeof(e->out), "%s/out", e->fx.daemon.dir);
}

static void qm_teardown(struct qm_env *e)
{
	harness_fixture_stop(&e->fx);
}

/*
 * "blocker" holds the one slot until the gate opens; node "top" is its
 * node. Returns the log's length then, to wait for what comes next.
 */
static size_t qm_blocker(struct qm_env *e)
{
	harness_submit_json(e->fx.client,
			    "{\"request_id\":\"blocker\",\"node\":{\"id\":\"top\","
			    "\"argv\":[\"sh\",\"-c\",\"read x < %s\"]}}",
			    e->gate);
	json_object_put(harness_wait_running(e->fx.client, "blocker"));
	return harness_log_len(&e->fx.daemon);
}

/* Waits until the daemon says queued jobs went cold, past the log's length mark. */
static void qm_wait_cold(struct qm_env *e, size_t mark)
{
	ck_assert_msg(
		harness_log_wait(&e->fx.daemon, mark, "kept in the history only", HARNESS_WAIT_MS),
		"no queued job went cold");
}

static json_object *qm_job(struct qm_env *e, const char *request_id)
{
	json_object *r = harness_ok(e->fx.client, "job",
				    harness_json("{\"request_id\":\"%s\"}", request_id));
	json_object *job = json_object_get(harness_get(r, "job"));

	json_object_put(r);
	return job;
}

static char *qm_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 4096);
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	if (f) {
		n = fread(text, 1, 4095, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

START_TEST(test_queued_task_starts_whole)
{
	struct qm_env e;
	json_object *job;
	char *out, want[512];
	size_t mark;

	qm_setup(&e);
	mark = qm_blocker(&e);
	harness_submit_json(
		e.fx.client,
		"{\"request_id\":\"full\",\"parent_node_id\":\"top\","
		"\"node\":{\"id\":\"n-full\",\"name\":\"whole\",\"argv\":[\"sh\",\"-c\","
		"\"printf '%%s|%%s|' \\\"$QM_VAR\\\" \\\"$(pwd)\\\" > %s; cat >> %s; "
		"exit 3\"],\"env\":{\"QM_VAR\":\"val ue\"},\"cwd\":\"%s\","
		"\"stdin\":\"in-data\",\"timeout_ms\":600000}}",
		e.out, e.out, e.fx.daemon.dir);
	qm_wait_cold(&e, mark);
	/* Queued, cold: read back as it was submitted, its stored Task included. */
	job = qm_job(&e, "full");
	ck_assert_str_eq(harness_str(job, "phase"), "queued");
	ck_assert_str_eq(harness_str(job, "name"), "whole");
	ck_assert_str_eq(harness_str(job, "child_node_id"), "n-full");
	ck_assert_str_eq(harness_str(job, "parent_node_id"), "top");
	ck_assert_str_eq(harness_str(job, "run_id"), "blocker");
	ck_assert_str_eq(harness_str(job, "task.node.env.QM_VAR"), "val ue");
	ck_assert_str_eq(harness_str(job, "task.node.stdin"), "in-data");
	ck_assert_int_eq(harness_int(job, "task.node.timeout_ms"), 600000);
	json_object_put(job);
	harness_fifo_write(e.gate, "\n");
	job = harness_wait_job(e.fx.client, "full");
	ck_assert_str_eq(harness_str(job, "result"), "failure");
	ck_assert_int_eq(harness_int(job, "exit_code"), 3);
	ck_assert_str_eq(harness_str(job, "error.kind"), "exit");
	ck_assert_str_eq(harness_str(job, "run_id"), "blocker");
	json_object_put(job);
	out = qm_read(e.out);
	snprintf(want, sizeof(want), "val ue|%s|in-data", e.fx.daemon.dir);
	ck_assert_str_eq(out, want);
	free(out);
	qm_teardown(&e);
}
END_TEST

START_TEST(test_cancel_queued)
{
	struct qm_env e;
	json_object *job;
	size_t mark;

	qm_setup(&e);
	mark = qm_blocker(&e);
	harness_submit_json(
		e.fx.client,
		"{\"request_id\":\"q1\",\"node\":{\"id\":\"n-q1\",\"argv\":[\"true\"]}}");
	qm_wait_cold(&e, mark);
	/* The mode counts it queued. */
	job = harness_ok(e.fx.client, "modes", NULL);
	ck_assert_int_eq(
		harness_int(harness_find_named(harness_get(job, "modes"), "async"), "queued"), 1);
	json_object_put(job);
	json_object_put(harness_ok(e.fx.client, "cancel", harness_json("{\"request_id\":\"q1\"}")));
	job = harness_wait_job(e.fx.client, "q1");
	ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
	ck_assert_str_eq(harness_str(job, "error.message"), "cancelled before it started");
	ck_assert_str_eq(harness_str(job, "child_node_id"), "n-q1");
	ck_assert_str_eq(harness_str(job, "run_id"), "q1");
	ck_assert(harness_is_null(job, "run_start_time"));
	json_object_put(job);
	/* The slot goes on: the blocker still runs. */
	job = qm_job(&e, "blocker");
	ck_assert_str_eq(harness_str(job, "phase"), "running");
	json_object_put(job);
	harness_fifo_write(e.gate, "\n");
	json_object_put(harness_wait_job(e.fx.client, "blocker"));
	qm_teardown(&e);
}
END_TEST

START_TEST(test_cascade_cancels_queued_children)
{
	struct qm_env e;
	json_object *job;
	char id[16];
	size_t mark;

	qm_setup(&e);
	mark = qm_blocker(&e);
	for (int i = 0; i < 5; i++)
		harness_submit_json(e.fx.client,
				    "{\"request_id\":\"c%d\",\"parent_node_id\":\"top\","
				    "\"node\":{\"argv\":[\"true\"]}}",
				    i);
	qm_wait_cold(&e, mark);
	json_object_put(harness_ok(e.fx.client, "cancel",
				   harness_json("{\"request_id\":\"blocker\",\"cascade\":true}")));
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		job = harness_wait_job(e.fx.client, id);
		ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
		ck_assert_str_eq(harness_str(job, "run_id"), "blocker");
		ck_assert_str_eq(harness_str(job, "parent_node_id"), "top");
		json_object_put(job);
	}
	job = harness_wait_job(e.fx.client, "blocker");
	ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
	json_object_put(job);
	qm_teardown(&e);
}
END_TEST

static Suite *queue_memory_suite(void)
{
	Suite *s = suite_create("daemon-queue-memory");
	TCase *tc = tcase_create("queued");

	tcase_add_test(tc, test_queued_task_starts_whole);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_cascade_cancels_queued_children);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(queue_memory_suite());
}
