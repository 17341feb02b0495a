/*
 * queue_hot_tasks over the real socket: the first K tasks queued in a mode
 * stay in memory and only the ones behind them go cold. The daemon logs
 * (at debug) how many queued jobs went cold, kept in the history only;
 * the test adds those counts up, waiting for them, not for a time. A task
 * that must keep the one slot blocks on a fifo.
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
#define QH_CONFIG                                                                                  \
	"[daemon]\n"                                                                               \
	"log_level = debug\n"                                                                      \
	HARNESS_CONFIG_MODE("async", "1")                                                          \
	"queue_hot_tasks = 2\n"
/* clang-format on */

#define QH_COLD_LINE " queued jobs are kept in the history only"

static struct harness_daemon daemon_;

/* The queued jobs the daemon made cold so far: the counts of its log lines, added up. */
static long qh_cold_total(void)
{
	return harness_log_sum(&daemon_, QH_COLD_LINE);
}

static bool qh_cold_reached(void *want)
{
	return qh_cold_total() >= *(long *)want;
}

/*
 * One task holds the slot; five queue behind it with queue_hot_tasks = 2:
 * exactly three go cold, and all five run once the slot frees, the cold
 * ones as they were submitted.
 */
START_TEST(test_queue_past_hot_limit)
{
	struct harness_client *c;
	json_object *job;
	char gate[256], id[16], name[16];
	long want = 3;

	harness_daemon_new(&daemon_, QH_CONFIG);
	harness_fifo(&daemon_, "gate", gate, sizeof(gate));
	c = harness_client_new(daemon_.sock);
	harness_submit_json(c,
			    "{\"request_id\":\"blocker\",\"node\":{\"argv\":[\"sh\",\"-c\","
			    "\"read x < %s\"]}}",
			    gate);
	json_object_put(harness_wait_running(c, "blocker"));
	for (int i = 0; i < 5; i++)
		harness_submit_json(c,
				    "{\"request_id\":\"q%d\",\"node\":{\"name\":\"n%d\","
				    "\"argv\":[\"sh\",\"-c\",\"exit %d\"]}}",
				    i, i, i);
	ck_assert_msg(harness_until(qh_cold_reached, &want, HARNESS_WAIT_MS),
		      "%ld queued jobs went cold, not 3", qh_cold_total());
	harness_fifo_write(gate, "\n");
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		snprintf(name, sizeof(name), "n%d", i);
		job = harness_wait_job(c, id);
		ck_assert_int_eq(harness_int(job, "exit_code"), i);
		ck_assert_str_eq(harness_str(job, "name"), name);
		json_object_put(job);
	}
	/* The first two never went cold. */
	ck_assert_int_eq(qh_cold_total(), 3);
	json_object_put(harness_wait_job(c, "blocker"));
	harness_client_free(c);
	harness_daemon_cleanup(&daemon_);
}
END_TEST

/*
 * A cascading cancel reaches queued children hot and cold alike: two of
 * five stay hot, three go cold, and all five end cancelled.
 */
START_TEST(test_cascade_hot_and_cold)
{
	struct harness_client *c;
	json_object *job;
	char gate[256], id[16];
	long want = 3;

	harness_daemon_new(&daemon_, QH_CONFIG);
	harness_fifo(&daemon_, "gate", gate, sizeof(gate));
	c = harness_client_new(daemon_.sock);
	harness_submit_json(c,
			    "{\"request_id\":\"top\",\"node\":{\"id\":\"n-top\","
			    "\"argv\":[\"sh\",\"-c\",\"read x < %s\"]}}",
			    gate);
	json_object_put(harness_wait_running(c, "top"));
	for (int i = 0; i < 5; i++)
		harness_submit_json(c,
				    "{\"request_id\":\"c%d\",\"parent_node_id\":\"n-top\","
				    "\"node\":{\"argv\":[\"true\"]}}",
				    i);
	ck_assert_msg(harness_until(qh_cold_reached, &want, HARNESS_WAIT_MS),
		      "%ld queued jobs went cold, not 3", qh_cold_total());
	json_object_put(
		harness_ok(c, "cancel", harness_json("{\"request_id\":\"top\",\"cascade\":true}")));
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		job = harness_wait_job(c, id);
		ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
		ck_assert_str_eq(harness_str(job, "run_id"), "top");
		json_object_put(job);
	}
	job = harness_wait_job(c, "top");
	ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
	json_object_put(job);
	ck_assert_int_eq(qh_cold_total(), 3);
	harness_client_free(c);
	harness_daemon_cleanup(&daemon_);
}
END_TEST

START_TEST(test_queue_hot_tasks_bad_values)
{
	harness_expect_bad_config(&daemon_, "[mode:async]\nqueue_hot_tasks = -1\n",
				  "queue_hot_tasks must be");
	harness_expect_bad_config(&daemon_, "[mode:async]\nqueue_hot_tasks = 100000001\n",
				  "queue_hot_tasks must be");
}
END_TEST

static Suite *queue_hot_suite(void)
{
	Suite *s = suite_create("daemon-queue-hot");
	TCase *tc = tcase_create("hot");

	tcase_add_test(tc, test_queue_past_hot_limit);
	tcase_add_test(tc, test_cascade_hot_and_cold);
	tcase_add_test(tc, test_queue_hot_tasks_bad_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(queue_hot_suite());
}
