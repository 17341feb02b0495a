/*
 * Queued tasks are kept by their request_id in 16 bytes (daemon/model/
 * reqkey.h): a UUID in the daemon's own form in binary, any other id as
 * text. Over the real socket, ids of every shape (the daemon's, a
 * client's lower- and upper-case UUID with the same bytes, a UUID of
 * another variant, a plain id, one of 128 characters) go cold in a paused
 * mode, stay apart, survive a restart (which takes them back cold), and
 * each starts as itself once the mode resumes; a cold one is cancelled by
 * its id. The daemon logs (at debug) how many queued jobs went cold: the
 * test waits for that, not for a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "harness.h"

#define QK_CONFIG                                                                                  \
	"[daemon]\n"                                                                               \
	"log_level = debug\n"                                                                      \
	"[mode:held]\n"                                                                            \
	"strategy = async\n"                                                                       \
	"paused = true\n"                                                                          \
	"max_concurrency = 1\n"                                                                    \
	"queue_hot_tasks = 0\n"

#define QK_COLD_LINE " queued jobs are kept in the history only"
#define QK_IDS	     7

static struct harness_daemon daemon_;

/* The queued jobs the daemon made cold so far: the counts of its log lines, added up. */
static long qk_cold_total(void)
{
	return harness_log_sum(&daemon_, QK_COLD_LINE);
}

static bool qk_cold_reached(void *want)
{
	return qk_cold_total() >= *(long *)want;
}

/* Waits until want queued jobs (counted over the daemon's whole log) went cold. */
static void qk_wait_cold(long want)
{
	ck_assert_msg(harness_until(qk_cold_reached, &want, HARNESS_WAIT_MS),
		      "%ld queued jobs went cold, not %ld", qk_cold_total(), want);
}

/* Submits a task to held that exits with status and says its index; its request_id in id. */
static void qk_submit(struct harness_client *c, const char *request_id, int status, char *id,
		      size_t size)
{
	char field[200] = "";
	json_object *res;

	if (request_id)
		snprintf(field, sizeof(field), "\"request_id\":\"%s\",", request_id);
	res = harness_ok(c, "submit",
			 harness_json("{%s\"mode\":\"held\",\"node\":{\"name\":\"n%d\","
				      "\"argv\":[\"sh\",\"-c\",\"exit %d\"]}}",
				      field, status, status));
	snprintf(id, size, "%s", harness_str(res, "job.request_id"));
	json_object_put(res);
}

START_TEST(test_queue_keys_every_shape)
{
	static const char *const given[QK_IDS] = {
		NULL, /* the daemon makes one */
		"0190f3a2-7b1c-7def-8abc-0123456789ab",
		"0190F3A2-7B1C-7DEF-8ABC-0123456789AB",
		"0190f3a2-7b1c-7def-cabc-0123456789ab", /* not RFC 9562's variant: kept as text */
		"plain-id",
		NULL, /* 128 characters, below */
		"to-cancel",
	};
	char ids[QK_IDS][160], name[16], longid[129];
	struct harness_client *c;
	json_object *job, *modes;

	memset(longid, 'k', 128);
	longid[128] = '\0';
	harness_daemon_new(&daemon_, QK_CONFIG);
	c = harness_client_new(daemon_.sock);
	for (int i = 0; i < QK_IDS; i++)
		qk_submit(c, i == 5 ? longid : given[i], i, ids[i], sizeof(ids[i]));
	ck_assert_str_eq(ids[5], longid);
	qk_wait_cold(QK_IDS);
	/* Cold, each reads back as itself. */
	for (int i = 0; i < QK_IDS; i++) {
		job = harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", ids[i]));
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_str_eq(harness_str(job, "job.name"), name);
		ck_assert_str_eq(harness_str(job, "job.phase"), "queued");
		json_object_put(job);
	}
	/* A restart takes the queue back (cold again, job by job). */
	ck_assert_int_eq(harness_daemon_stop(&daemon_), 0);
	harness_daemon_start(&daemon_);
	harness_client_free(c);
	c = harness_client_new(daemon_.sock);
	modes = harness_ok(c, "modes", NULL);
	ck_assert_int_eq(
		harness_int(harness_find_named(harness_get(modes, "modes"), "held"), "queued"),
		QK_IDS);
	json_object_put(modes);
	json_object_put(harness_ok(c, "cancel", harness_json("{\"request_id\":\"to-cancel\"}")));
	json_object_put(harness_ok(
		c, "mode_set",
		harness_json("{\"mode\":\"held\",\"paused\":false,\"max_concurrency\":2}")));
	for (int i = 0; i < QK_IDS; i++) {
		job = harness_wait_job(c, ids[i]);
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_str_eq(harness_str(job, "name"), name);
		if (i == QK_IDS - 1) {
			ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
		} else {
			ck_assert_msg(harness_int(job, "exit_code") == i, "%s exited %lld, not %d",
				      ids[i], harness_int(job, "exit_code"), i);
		}
		json_object_put(job);
	}
	harness_client_free(c);
	harness_daemon_cleanup(&daemon_);
}
END_TEST

static Suite *queue_keys_suite(void)
{
	Suite *s = suite_create("daemon-queue-keys");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_queue_keys_every_shape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(queue_keys_suite());
}
