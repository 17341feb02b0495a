/*
 * The slurm strategy against a real single-node Slurm: the real
 * coordinatord sends tasks to slurmctld and slurmd started by
 * slurm-up.sh, and slurm-down.sh stops them at the end. Everything the
 * harness returns is freed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <check.h>

#include "slurmfix.h"

#define SLURM_CONFIG SLURMFIX_CONFIG

/* How many unfinished jobs whose name starts with name Slurm has; -1 if squeue fails. */
static int slurm_squeue_count(const char *name)
{
	int n;

	free(slurmfix_jobs_named(name, true, &n));
	return n;
}

START_TEST(test_success_output_stdin_env_cwd)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id, want[1024];

	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"echo id=$COORD_REQUEST_ID foo=$FOO; pwd; cat; "
					  "echo to-err >&2\"],"
					  "\"env\":{\"FOO\":\"b a'r\"},\"cwd\":\"%s\","
					  "\"stdin\":\"line one\\nit's \\\"two\\\"\\n\"}}",
					  d.dir));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_success");
	snprintf(want, sizeof(want), "id=%s foo=b a'r\n%s\nline one\nit's \"two\"\n", id, d.dir);
	ck_assert_str_eq(harness_str(msg, "result.stdout"), want);
	ck_assert_str_eq(harness_str(msg, "result.stderr"), "to-err\n");
	ck_assert_int_eq(harness_int(msg, "result.exit_code"), 0);
	ck_assert(!json_object_get_boolean(harness_get(msg, "result.stdout_truncated")));
	json_object_put(msg);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_exit_code_and_missing_program)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id, *missing;

	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"echo oops >&2; exit 3\"]}}"));
	missing = slurmfix_submit(
		c,
		harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"/nonexistent/prog\"]}}"));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "exit");
	ck_assert_int_eq(harness_int(msg, "error.exit_code"), 3);
	ck_assert_int_eq(harness_int(msg, "result.exit_code"), 3);
	ck_assert_str_eq(harness_str(msg, "result.stderr"), "oops\n");
	json_object_put(msg);
	/* Slurm runs the script; the shell cannot exec the program: 127. */
	msg = slurmfix_final(c, missing);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "exit");
	ck_assert_int_eq(harness_int(msg, "error.exit_code"), 127);
	ck_assert_ptr_nonnull(strstr(harness_str(msg, "result.stderr"), "/nonexistent/prog"));
	json_object_put(msg);
	free(id);
	free(missing);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_output_limit)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id;

	harness_daemon_new(&d, SLURM_CONFIG "output_limit_bytes = 8\n");
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"echo 0123456789; echo ab >&2\"]}}"));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_success");
	/* The start and the end, the middle dropped (contract v2). */
	ck_assert_str_eq(harness_str(msg, "result.stdout"), "0123789\n");
	ck_assert(json_object_get_boolean(harness_get(msg, "result.stdout_truncated")));
	ck_assert_str_eq(harness_str(msg, "result.stderr"), "ab\n");
	ck_assert(!json_object_get_boolean(harness_get(msg, "result.stderr_truncated")));
	json_object_put(msg);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_cancel_running)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char name[64], *id;

	slurmfix_unique_name(name, sizeof(name), "cancel");
	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_start_sleeper(c, name, 60, 0);
	json_object_put(harness_ok(c, "cancel", harness_json("{\"request_id\":\"%s\"}", id)));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "cancelled");
	json_object_put(msg);
	slurmfix_expect_gone(name);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_timeout)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char name[64], *id;

	slurmfix_unique_name(name, sizeof(name), "timeout");
	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					     "\"argv\":[\"sleep\",\"60\"],\"timeout_ms\":1000}}",
					     name));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "timeout");
	json_object_put(msg);
	slurmfix_expect_gone(name);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* The mode's running count, from `modes`. */
static long long slurm_mode_running(struct harness_client *c, long long *queued)
{
	json_object *r = harness_ok(c, "modes", NULL), *modes = harness_get(r, "modes");
	long long running = -1;

	for (size_t i = 0; i < json_object_array_length(modes); i++) {
		json_object *m = json_object_array_get_idx(modes, i);

		if (strcmp(harness_str(m, "name"), "cluster") != 0)
			continue;
		ck_assert_str_eq(harness_str(m, "strategy"), "slurm");
		running = harness_int(m, "running");
		*queued = harness_int(m, "queued");
	}
	json_object_put(r);
	ck_assert_int_ge(running, 0);
	return running;
}

static long long slurm_opened(struct harness_client *c)
{
	json_object *r =
		harness_ok(c, "status", harness_json("{\"mode\":\"cluster\",\"limit\":1}"));
	long long n = harness_int(r, "counts.opened");

	json_object_put(r);
	return n;
}

START_TEST(test_max_concurrency_and_modes)
{
	struct harness_daemon d;
	struct harness_client *c;
	char name[64], *ids[6];
	long long deadline, queued = 0, most = 0;
	json_object *msg;

	slurmfix_unique_name(name, sizeof(name), "cap");
	harness_daemon_new(&d, "[daemon]\nshutdown_grace_sec = 1\n"
			       "[mode:cluster]\nstrategy = slurm\nmax_concurrency = 2\n"
			       "slurm_poll_ms = 200\n");
	c = harness_client_new(d.sock);
	ck_assert_int_eq(slurm_mode_running(c, &queued), 0);
	for (int i = 0; i < 6; i++)
		ids[i] = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":"
							 "\"%s\",\"argv\":[\"sleep\",\"1\"]}}",
							 name));
	deadline = harness_now_ms() + 4 * HARNESS_WAIT_MS;
	while (slurm_opened(c) > 0) {
		long long running = slurm_mode_running(c, &queued);
		int in_slurm = slurm_squeue_count(name);

		ck_assert_int_le(running, 2);
		ck_assert_int_le(in_slurm, 2);
		if (running > most)
			most = running;
		ck_assert_msg(harness_now_ms() < deadline, "6 jobs did not end in time");
		harness_sleep_ms(50);
	}
	ck_assert_int_ge(most, 1);
	for (int i = 0; i < 6; i++) {
		msg = slurmfix_final(c, ids[i]);
		slurmfix_expect_type(msg, "request_success");
		json_object_put(msg);
		free(ids[i]);
	}
	ck_assert_int_eq(slurm_mode_running(c, &queued), 0);
	ck_assert_int_eq(queued, 0);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_bad_settings_refused)
{
	slurmfix_expect_refused("[mode:cluster]\nstrategy = slurm\nslurm_poll_ms = often\n",
				"\"cluster\"", "slurm_poll_ms");
	slurmfix_expect_refused("[mode:cluster]\nstrategy = slurm\nslurm_bin_dir = /nonexistent\n",
				"\"cluster\"", "sbatch");
	slurmfix_expect_refused("[mode:cluster]\nstrategy = slurm\nslurm_partiton = debug\n",
				"\"cluster\"", "slurm_partiton");
	slurmfix_expect_refused("[mode:cluster]\nstrategy = async\nslurm_partition = debug\n",
				"\"cluster\"", "slurm_partition");
}
END_TEST

START_TEST(test_shutdown_cancels_jobs_in_slurm)
{
	struct harness_daemon d;
	struct harness_client *c;
	char name[64], *id;

	slurmfix_unique_name(name, sizeof(name), "shutdown");
	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_start_sleeper(c, name, 60, 0);
	harness_client_free(c);
	ck_assert_int_eq(harness_daemon_stop(&d), 0);
	slurmfix_expect_gone(name);
	/* The job was closed as cancelled before the daemon exited, not lost. */
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	slurmfix_expect_closed(c, id, "cancelled");
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_controller_outage)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r;
	char *id, name[64];

	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	slurmfix_unique_name(name, sizeof(name), "outage");
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					  "\"argv\":[\"sh\",\"-c\",\"sleep 6; echo survived\"]}}",
					  name));
	slurmfix_wait_slurm_running(c, id, name);
	ck_assert_int_eq(slurmfix_script("slurm-down.sh", "--controller"), 0);
	/* Polls fail while the controller is away; the job stays opened meanwhile. */
	slurmfix_wait_log(&d, "cannot poll Slurm");
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", id));
	ck_assert_str_eq(harness_str(r, "job.status"), "opened");
	json_object_put(r);
	ck_assert_int_eq(slurmfix_script("slurm-up.sh", slurmfix_user_arg()), 0);
	slurmfix_expect_stdout(c, id, "survived\n");
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_job_forgotten_by_slurm_is_lost)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id, name[64];

	harness_daemon_new(&d, SLURM_CONFIG);
	c = harness_client_new(d.sock);
	slurmfix_unique_name(name, sizeof(name), "forgotten");
	id = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					     "\"argv\":[\"sleep\",\"30\"]}}",
					     name));
	slurmfix_wait_slurm_running(c, id, name);
	/* A controller that comes back without its saved state knows no job. */
	ck_assert_int_eq(slurmfix_script("slurm-down.sh", "--controller-state"), 0);
	ck_assert_int_eq(slurmfix_script("slurm-up.sh", slurmfix_user_arg()), 0);
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "lost");
	ck_assert_ptr_nonnull(strstr(harness_str(msg, "error.message"), "no longer knows"));
	json_object_put(msg);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *slurm_suite(void)
{
	Suite *s = suite_create("slurm");
	TCase *tc = tcase_create("cluster");

	tcase_add_test(tc, test_bad_settings_refused);
	tcase_add_test(tc, test_success_output_stdin_env_cwd);
	tcase_add_test(tc, test_exit_code_and_missing_program);
	tcase_add_test(tc, test_output_limit);
	tcase_add_test(tc, test_cancel_running);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_max_concurrency_and_modes);
	tcase_add_test(tc, test_shutdown_cancels_jobs_in_slurm);
	/* These two restart the controller: last. */
	tcase_add_test(tc, test_controller_outage);
	tcase_add_test(tc, test_job_forgotten_by_slurm_is_lost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return slurmfix_main(slurm_suite());
}
