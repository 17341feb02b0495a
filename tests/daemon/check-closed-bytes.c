/*
 * How much a closed job wrote (stdout_bytes, stderr_bytes) over the real
 * socket: the same in wait, job and status answers for no output, a little,
 * more than the kept limit (the middle dropped), and a task stopped by its
 * timeout or a cancel; stored with the job when it closes, so the answers
 * stay right (and open no output file) once the job's output files are gone,
 * also after a restart.
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
#define CB_CONFIG                                                                                  \
	HARNESS_CONFIG_DAEMON                                                                      \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	"[mode:small]\n"                                                                           \
	"strategy = async\n"                                                                       \
	"output_limit_bytes = 1000\n"
/* clang-format on */

static struct harness_fixture fx;

/* A job, what it runs (sh -c), its mode and timeout, and what it must have written. */
struct cb_case {
	const char *request_id;
	const char *mode;
	const char *script;
	int timeout_ms;
	long long stdout_bytes;
	long long stderr_bytes;
};

static const struct cb_case cb_cases[] = {
	{"empty", "small", "true", 0, 0, 0},
	{"little", "small", "printf abc; printf de >&2", 0, 3, 2},
	{"failed", "small", "printf 12345678 >&2; exit 3", 0, 0, 8},
	{"over", "small", "head -c 5000 /dev/zero; head -c 3001 /dev/zero >&2", 0, 5000, 3001},
	{"big", "async", "head -c 300000 /dev/zero | tr '\\0' x", 0, 300000, 0},
	{"timeout", "small", "head -c 2500 /dev/zero; printf ab >&2; exec sleep 60", 200, 2500, 2},
};

#define CB_CASES (sizeof(cb_cases) / sizeof(cb_cases[0]))

static void cb_setup(void)
{
	harness_fixture_start(&fx, CB_CONFIG);
}

static void cb_teardown(void)
{
	harness_fixture_stop(&fx);
}

static void cb_submit(const char *request_id, const char *mode, const char *script, int timeout_ms)
{
	json_object *p = json_object_new_object(), *node = json_object_new_object();
	json_object *argv = json_object_new_array();

	json_object_array_add(argv, json_object_new_string("sh"));
	json_object_array_add(argv, json_object_new_string("-c"));
	json_object_array_add(argv, json_object_new_string(script));
	json_object_object_add(node, "argv", argv);
	if (timeout_ms > 0)
		json_object_object_add(node, "timeout_ms", json_object_new_int(timeout_ms));
	json_object_object_add(p, "request_id", json_object_new_string(request_id));
	json_object_object_add(p, "mode", json_object_new_string(mode));
	json_object_object_add(p, "node", node);
	json_object_put(harness_ok(fx.client, "submit", p));
}

static void cb_expect(json_object *job, const char *request_id, long long out, long long err,
		      const char *where)
{
	ck_assert_msg(harness_int(job, "stdout_bytes") == out, "%s %s: stdout_bytes %lld, not %lld",
		      where, request_id, harness_int(job, "stdout_bytes"), out);
	ck_assert_msg(harness_int(job, "stderr_bytes") == err, "%s %s: stderr_bytes %lld, not %lld",
		      where, request_id, harness_int(job, "stderr_bytes"), err);
}

/* Every answer that shows request_id's Job says it wrote out and err bytes. */
static void cb_check_answers(const char *request_id, long long out, long long err)
{
	json_object *r;

	r = harness_ok(fx.client, "wait",
		       harness_json("{\"request_ids\":[\"%s\"],\"timeout_ms\":%d}", request_id,
				    HARNESS_WAIT_MS));
	cb_expect(harness_get(r, "jobs.0"), request_id, out, err, "wait");
	json_object_put(r);
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"%s\"}", request_id));
	cb_expect(harness_get(r, "job"), request_id, out, err, "job");
	json_object_put(r);
	r = harness_ok(fx.client, "status",
		       harness_json("{\"request_id_prefix\":\"%s\"}", request_id));
	ck_assert_str_eq(harness_str(r, "jobs.0.request_id"), request_id);
	cb_expect(harness_get(r, "jobs.0"), request_id, out, err, "status");
	json_object_put(r);
}

static void cb_check_all(void)
{
	for (size_t i = 0; i < CB_CASES; i++)
		cb_check_answers(cb_cases[i].request_id, cb_cases[i].stdout_bytes,
				 cb_cases[i].stderr_bytes);
}

/* Removes whatever output the daemon kept (every job is closed: no writer is open). */
static void cb_remove_output(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/output/*", fx.daemon.state);
	ck_assert_int_eq(system(cmd), 0);
}

static void cb_run_cases(void)
{
	for (size_t i = 0; i < CB_CASES; i++)
		cb_submit(cb_cases[i].request_id, cb_cases[i].mode, cb_cases[i].script,
			  cb_cases[i].timeout_ms);
	for (size_t i = 0; i < CB_CASES; i++)
		json_object_put(harness_wait_job(fx.client, cb_cases[i].request_id));
}

START_TEST(test_totals_in_answers)
{
	json_object *job;

	cb_run_cases();
	job = harness_wait_job(fx.client, "timeout");
	ck_assert_str_eq(harness_str(job, "error.kind"), "timeout");
	json_object_put(job);
	cb_check_all();
}
END_TEST

static bool cb_wrote(void *arg)
{
	json_object *r = harness_ok(fx.client, "job",
				    harness_json("{\"request_id\":\"%s\"}", (const char *)arg));
	bool done = harness_int(r, "job.stdout_bytes") == 7;

	json_object_put(r);
	return done;
}

START_TEST(test_cancelled_running_job)
{
	char script[512], gate[256];
	json_object *r;

	harness_fifo(&fx.daemon, "gate", gate, sizeof(gate));
	snprintf(script, sizeof(script), "printf 'running'; printf 'err' >&2; cat %s", gate);
	cb_submit("victim", "small", script, 0);
	/* Opened: read from the live writer. */
	ck_assert(harness_until(cb_wrote, "victim", HARNESS_WAIT_MS));
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"victim\"}"));
	json_object_put(r);
	r = harness_wait_job(fx.client, "victim");
	ck_assert_str_eq(harness_str(r, "error.kind"), "cancelled");
	json_object_put(r);
	cb_check_answers("victim", 7, 3);
	cb_remove_output();
	cb_check_answers("victim", 7, 3);
}
END_TEST

/* Once closed, the totals are the job's own: its output files are not read for them. */
START_TEST(test_totals_without_output_files)
{
	cb_run_cases();
	cb_remove_output();
	cb_check_all();
}
END_TEST

START_TEST(test_totals_survive_restart)
{
	cb_run_cases();
	ck_assert_int_eq(harness_daemon_stop(&fx.daemon), 0);
	cb_remove_output();
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
	cb_check_all();
}
END_TEST

static Suite *cb_suite(void)
{
	Suite *s = suite_create("daemon-closed-bytes");
	TCase *tc = tcase_create("closed-bytes");

	tcase_add_checked_fixture(tc, cb_setup, cb_teardown);
	tcase_add_test(tc, test_totals_in_answers);
	tcase_add_test(tc, test_cancelled_running_job);
	tcase_add_test(tc, test_totals_without_output_files);
	tcase_add_test(tc, test_totals_survive_restart);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(cb_suite());
}
