/* Check tests for coordctl: usage errors without a daemon (unit) and every command against the real
 * coordinatord (integration). */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "checkrun.h"
#include "ctltest.h"
#include "testd.h"

static struct testd daemon_under_test;

/* ---- unit: no daemon needed ---- */

/*
 * Runs coordctl with the arguments that follow want (up to a NULL) and
 * expects that exit status, with want in its stderr (NULL: anything).
 */
static __attribute__((sentinel)) void ctl_expect(int status, const char *want, ...)
{
	struct testd_run run;
	va_list ap;

	va_start(ap, want);
	ctltest_run_v(&run, NULL, getenv("COORDCTL"), ap);
	va_end(ap);
	ck_assert_msg(run.status == status, "status %d, not %d: %s", run.status, status, run.err);
	if (want)
		ck_assert_msg(strstr(run.err, want) != NULL, "\"%s\" not in: %s", want, run.err);
	testd_run_free(&run);
}

START_TEST(test_usage_errors)
{
	ctl_expect(2, "no command", "--socket", "/nonexistent.sock", NULL);
	ctl_expect(2, "unknown command 'frobnicate'", "frobnicate", NULL);
	ctl_expect(2, NULL, "status", "--bogus", NULL);
	ctl_expect(2, NULL, "status", "--limit", "0", NULL);
	ctl_expect(2, "no COMMAND", "submit", "--mode", "async", NULL);
	ctl_expect(2, NULL, "submit", "--timeout", "soon", "--", "true", NULL);
	ctl_expect(2, NULL, "submit", "--env", "NOEQUALS", "--", "true", NULL);
	ctl_expect(2, NULL, "submit", "--batch", "-", "--wait", NULL);
	ctl_expect(2, NULL, "job", NULL);
	ctl_expect(2, NULL, "job", "a", "b", NULL);
	ctl_expect(2, NULL, "wait", NULL);
	ctl_expect(2, NULL, "wait", "x", "--timeout", "-1", NULL);
	ctl_expect(2, NULL, "cancel", NULL);
	ctl_expect(2, NULL, "watch", "--since", "abc", NULL);
	ctl_expect(2, NULL, "tree", "a", "b", NULL);
	ctl_expect(2, NULL, "ping", "extra", NULL);
}
END_TEST

START_TEST(test_help_and_version)
{
	static const char *const cmds[] = {"submit", "status", "job",	"wait", "cancel",
					   "watch",  "tree",   "modes", "ping", "shutdown"};
	struct testd_run run;

	ctl_run(&run, "--help");
	ck_assert_int_eq(run.status, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		ck_assert_ptr_nonnull(strstr(run.out, cmds[i]));
	testd_run_free(&run);
	ctl_run(&run, "--version");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "coordctl "));
	testd_run_free(&run);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ctl_run(&run, cmds[i], "--help");
		ck_assert_int_eq(run.status, 0);
		ck_assert_ptr_nonnull(strstr(run.out, "usage: coordctl"));
		ck_assert_ptr_nonnull(strstr(run.out, cmds[i]));
		testd_run_free(&run);
	}
}
END_TEST

START_TEST(test_missing_daemon)
{
	static const char *const cmds[] = {"status", "ping", "modes", "shutdown", "tree", "watch"};
	struct testd_run run;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ctl_run(&run, "--socket", "/nonexistent/coord.sock", cmds[i]);
		ck_assert_int_eq(run.status, 69);
		ck_assert_ptr_nonnull(strstr(run.err, "is coordinatord running?"));
		ck_assert_ptr_nonnull(strstr(run.err, "/nonexistent/coord.sock"));
		testd_run_free(&run);
	}
	setenv("COORD_SOCKET", "/nonexistent/env.sock", 1);
	ctl_run(&run, "submit", "--", "true");
	unsetenv("COORD_SOCKET");
	ck_assert_int_eq(run.status, 69);
	ck_assert_ptr_nonnull(strstr(run.err, "/nonexistent/env.sock"));
	testd_run_free(&run);
}
END_TEST

START_TEST(test_watch_resubscribes_when_lagged)
{
	static const char *const script[] = {
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"subscription\":\"s1\",\"seq\":3}}\n",
		">{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":\"s1\","
		"\"message\":{\"seq\":4,\"type\":\"request_success\",\"request_id\":\"a\"}}}\n",
		">{\"jsonrpc\":\"2.0\",\"method\":\"subscription_ended\",\"params\":{"
		"\"subscription\":"
		"\"s1\",\"reason\":\"lagged\",\"resume_seq\":9}}\n",
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"subscription\":\"s2\",\"seq\":12}}\n",
		">{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":\"s2\","
		"\"message\":{\"seq\":9,\"type\":\"request_success\",\"request_id\":\"b\"}}}\n",
		"W",
		NULL,
	};
	struct testd_fake f;
	struct testd_run run;
	json_object *req;

	ck_assert_int_eq(testd_fake_start(&f, script), 0);
	ctl_run(&run, "--socket", f.path, "watch", "--json", "--count", "2");
	testd_fake_join(&f);
	ck_assert_msg(run.status == 0, "status %d: %s", run.status, run.err);
	ck_assert_str_eq(run.out,
			 "{\"seq\":4,\"type\":\"request_success\",\"request_id\":\"a\"}\n"
			 "{\"seq\":9,\"type\":\"request_success\",\"request_id\":\"b\"}\n");
	ck_assert_uint_eq(f.nlines, 2);
	req = ctltest_parse(f.lines[1]);
	ck_assert_str_eq(ctltest_str(req, "method"), "subscribe");
	ck_assert_int_eq(json_object_get_int(ctltest_get(ctltest_get(req, "params"), "since_seq")),
			 8);
	json_object_put(req);
	testd_fake_stop(&f);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_garbage_from_daemon)
{
	static const char *const script[] = {"<", ">HTTP/1.0 400 Bad Request\n", "W", NULL};
	struct testd_fake f;
	struct testd_run run;

	ck_assert_int_eq(testd_fake_start(&f, script), 0);
	ctl_run(&run, "--socket", f.path, "ping");
	testd_fake_stop(&f);
	ck_assert_int_eq(run.status, 76);
	ck_assert_ptr_nonnull(strstr(run.err, "not JSON"));
	testd_run_free(&run);
}
END_TEST

/* ---- integration: a real daemon ---- */

static void real_setup(void)
{
	ck_assert_msg(testd_start(&daemon_under_test, NULL) == 0, "cannot start $COORDINATORD");
	setenv("COORD_SOCKET", daemon_under_test.sock, 1);
}

static void real_teardown(void)
{
	testd_stop(&daemon_under_test);
}

START_TEST(test_ping_modes)
{
	struct testd_run run;
	json_object *obj, *modes;
	int found = 0;

	ctl_run(&run, "ping");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "coordinatord"));
	testd_run_free(&run);
	ctl_run(&run, "--json", "ping");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	ck_assert_int_gt(json_object_get_int(ctltest_get(obj, "pid")), 0);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "modes", "--json");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	modes = ctltest_get(obj, "modes");
	for (size_t i = 0; i < json_object_array_length(modes); i++)
		found |= strcmp(ctltest_str(json_object_array_get_idx(modes, i), "name"),
				"async") == 0;
	ck_assert(found);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "modes");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "async"));
	testd_run_free(&run);
}
END_TEST

START_TEST(test_submit_plain_and_json)
{
	struct testd_run run;
	json_object *obj;

	ctl_run(&run, "submit", "--request-id", "ctl-plain-1", "--", "true");
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "ctl-plain-1\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--json", "--name", "labelled", "--request-id", "ctl-json-1", "--",
		"true");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	ck_assert(json_object_is_type(ctltest_get(obj, "message"), json_type_null));
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "request_id"), "ctl-json-1");
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "name"), "labelled");
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "mode"), "async");
	json_object_put(obj);
	testd_run_free(&run);
	/* The same request_id again is a conflict. */
	ctl_expect(1, "conflict", "submit", "--request-id", "ctl-json-1", "--", "true", NULL);
	ctl_expect(1, "unknown_mode", "submit", "--mode", "no-such-mode", "--", "true", NULL);
}
END_TEST

START_TEST(test_submit_wait_mirrors)
{
	struct testd_run run;
	json_object *obj;

	ctl_run(&run, "submit", "--wait", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 7");
	ck_assert_int_eq(run.status, 7);
	ck_assert_str_eq(run.out, "out\n");
	ck_assert_ptr_nonnull(strstr(run.err, "err\n"));
	testd_run_free(&run);
	ctl_expect(0, NULL, "submit", "--wait", "--", "/bin/sh", "-c", "printf 'a\\0b'", NULL);
	ctl_expect(128 + SIGTERM, NULL, "submit", "--wait", "--", "/bin/sh", "-c", "kill -TERM $$",
		   NULL);
	ctl_expect(124, NULL, "submit", "--wait", "--timeout", "0.5", "--", "sleep", "30", NULL);
	ctl_expect(127, NULL, "submit", "--wait", "--", "/nonexistent/program", NULL);
	ctl_run(&run, "submit", "--wait", "--env", "GREETING=hello", "--cwd", "/", "--", "/bin/sh",
		"-c", "echo $GREETING; pwd");
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "hello\n/\n");
	testd_run_free(&run);
	ctltest_run(&run, "fed through\n", "submit", "--wait", "--stdin", "-", "--", "cat", NULL);
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "fed through\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--wait", "--json", "--", "/bin/sh", "-c", "echo x; exit 4");
	ck_assert_int_eq(run.status, 4);
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "status"), "closed");
	ck_assert_str_eq(ctltest_str(ctltest_get(ctltest_get(obj, "message"), "result"), "stdout"),
			 "x\n");
	json_object_put(obj);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_status_job_wait_cancel)
{
	struct testd_run run;
	json_object *obj, *jobs;

	ctl_expect(0, NULL, "submit", "--request-id", "ctl-ok", "--", "true", NULL);
	ctl_expect(0, NULL, "submit", "--request-id", "ctl-bad", "--", "/bin/sh", "-c",
		   "echo oops; exit 2", NULL);
	ctl_expect(0, NULL, "submit", "--request-id", "ctl-slow", "--", "sleep", "30", NULL);

	ctl_expect(0, NULL, "wait", "ctl-ok", "--timeout", "20", NULL);
	ctl_expect(1, "ctl-bad", "wait", "ctl-ok", "ctl-bad", NULL);
	ctl_expect(124, NULL, "wait", "ctl-slow", "--timeout", "0.2", NULL);
	ctl_expect(1, "not_found", "wait", "ctl-never-submitted", NULL);

	ctl_run(&run, "job", "ctl-bad");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "oops"));
	ck_assert_ptr_nonnull(strstr(run.out, "failure"));
	testd_run_free(&run);
	ctl_run(&run, "job", "--json", "ctl-bad");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(ctltest_str(ctltest_get(ctltest_get(obj, "message"), "result"), "stdout"),
			 "oops\n");
	ck_assert_int_eq(json_object_get_int(ctltest_get(ctltest_get(obj, "job"), "exit_code")), 2);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_expect(1, NULL, "job", "ctl-never-submitted", NULL);

	ctl_run(&run, "status", "--json", "--failed");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	jobs = ctltest_get(obj, "jobs");
	ck_assert_int_ge(json_object_array_length(jobs), 1);
	for (size_t i = 0; i < json_object_array_length(jobs); i++)
		ck_assert_str_eq(ctltest_str(json_object_array_get_idx(jobs, i), "result"),
				 "failure");
	ck_assert_ptr_nonnull(ctltest_get(obj, "counts"));
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "status", "--open", "--json");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	jobs = ctltest_get(obj, "jobs");
	ck_assert_int_ge(json_object_array_length(jobs), 1);
	ck_assert_str_eq(ctltest_str(json_object_array_get_idx(jobs, 0), "status"), "opened");
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "status", "--limit", "5");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "REQUEST_ID"));
	ck_assert_ptr_nonnull(strstr(run.out, "DURATION"));
	ck_assert_ptr_null(strstr(run.out, "\033[")); /* not a terminal: no colour */
	testd_run_free(&run);

	ctl_expect(0, NULL, "cancel", "ctl-slow", NULL);
	ctl_expect(1, NULL, "wait", "ctl-slow", "--timeout", "20", NULL);
	ctl_run(&run, "job", "--json", "ctl-slow");
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(ctltest_str(ctltest_get(ctltest_get(obj, "job"), "error"), "kind"),
			 "cancelled");
	json_object_put(obj);
	testd_run_free(&run);
	ctl_expect(1, "conflict", "cancel", "ctl-slow", NULL);
	ctl_expect(1, NULL, "cancel", "--no-cascade", "ctl-never-submitted", NULL);
}
END_TEST

static char *batch_text(int n, int bad_line)
{
	size_t cap = (size_t)n * 64 + 64, len = 0;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\n",
					i == bad_line ? "{not json"
						      : "{\"node\":{\"argv\":[\"true\"]}}");
	return text;
}

START_TEST(test_batch_10000)
{
	char *text = batch_text(10000, 0);
	struct testd_run run;
	json_object *obj;
	size_t lines = 0;
	long long deadline;
	int opened = -1;

	ctltest_run(&run, text, "submit", "--batch", "-", NULL);
	free(text);
	ck_assert_msg(run.status == 0, "status %d: %.300s", run.status, run.err);
	for (char *p = run.out; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_uint_eq(lines, 10000);
	testd_run_free(&run);
	/* All of them finish: fail only when none closes for a minute (a loaded machine is slow).
	 */
	deadline = testd_now_ms() + 60000;
	while (opened != 0 && testd_now_ms() < deadline) {
		int before = opened;

		ctl_run(&run, "status", "--json", "--limit", "1");
		ck_assert_int_eq(run.status, 0);
		obj = ctltest_parse(run.out);
		opened = json_object_get_int(ctltest_get(ctltest_get(obj, "counts"), "opened"));
		json_object_put(obj);
		testd_run_free(&run);
		if (before < 0 || opened < before)
			deadline = testd_now_ms() + 60000;
		if (opened)
			usleep(200000);
	}
	ck_assert_msg(opened == 0, "%d jobs still opened, none closed for a minute", opened);
}
END_TEST

START_TEST(test_batch_bad_line)
{
	char *text = batch_text(5, 3);
	struct testd_run run;
	size_t lines = 0;

	ctltest_run(&run, text, "submit", "--batch", "-", NULL);
	free(text);
	ck_assert_int_eq(run.status, 1);
	ck_assert_ptr_nonnull(strstr(run.err, "line 3"));
	for (char *p = run.out; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_uint_eq(lines, 4);
	testd_run_free(&run);
	ctltest_run(&run,
		    "{\"request_id\":\"dup-b\",\"node\":{\"argv\":[\"true\"]}}\n"
		    "{\"request_id\":\"dup-b\",\"node\":{\"argv\":[\"true\"]}}\n",
		    "submit", "--batch", "-", NULL);
	ck_assert_int_eq(run.status, 1);
	ck_assert_ptr_nonnull(strstr(run.err, "line 2"));
	ck_assert_str_eq(run.out, "dup-b\n");
	testd_run_free(&run);
}
END_TEST

START_TEST(test_batch_oversized_line)
{
	/* Line 2 is over the daemon's 1 MiB line limit: refused, and the batch still ends. */
	size_t big = 2u * 1024 * 1024, len = 0;
	char *text = malloc(big + 256);
	struct testd_run run;
	size_t lines = 0;

	ck_assert_ptr_nonnull(text);
	len += (size_t)sprintf(text, "{\"node\":{\"argv\":[\"true\"]}}\n");
	len += (size_t)sprintf(text + len, "{\"node\":{\"argv\":[\"true\"],\"stdin\":\"");
	memset(text + len, 'x', big);
	len += big;
	sprintf(text + len, "\"}}\n{\"node\":{\"argv\":[\"true\"]}}\n");
	ctltest_run(&run, text, "submit", "--batch", "-", NULL);
	free(text);
	ck_assert_int_eq(run.status, 1);
	ck_assert_ptr_nonnull(strstr(run.err, "line 2"));
	for (char *p = run.out; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_uint_eq(lines, 2);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_tree_child_from_task)
{
	const char *coordctl = getenv("COORDCTL");
	struct testd_run run;
	json_object *obj, *root, *children, *child;
	char env[1024];

	snprintf(env, sizeof(env), "COORDCTL=%s", coordctl);
	ctl_run(&run, "submit", "--wait", "--request-id", "tree-root", "--name", "parent", "--env",
		env, "--", "/bin/sh", "-c",
		"\"$COORDCTL\" submit --wait --request-id tree-child --name child -- true");
	ck_assert_msg(run.status == 0, "status %d: %s", run.status, run.err);
	testd_run_free(&run);
	ctl_run(&run, "job", "--json", "tree-child");
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "run_id"), "tree-root");
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "tree", "--json", "tree-root");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "roots")), 1);
	root = json_object_array_get_idx(ctltest_get(obj, "roots"), 0);
	ck_assert_str_eq(ctltest_str(ctltest_get(root, "job"), "request_id"), "tree-root");
	children = ctltest_get(root, "children");
	ck_assert_int_eq(json_object_array_length(children), 1);
	child = json_object_array_get_idx(children, 0);
	ck_assert_str_eq(ctltest_str(ctltest_get(child, "job"), "request_id"), "tree-child");
	ck_assert_str_eq(ctltest_str(ctltest_get(child, "job"), "name"), "child");
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "tree", "tree-root");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "tree-root"));
	ck_assert_ptr_nonnull(strstr(run.out, "`- tree-child"));
	testd_run_free(&run);
}
END_TEST

START_TEST(test_watch_in_order)
{
	const char *coordctl = getenv("COORDCTL");
	char out_path[] = "/tmp/coordwatch.XXXXXX";
	char *argv[] = {(char *)coordctl, "watch", "--json", "--type", "success", NULL};
	char id[32], *text, *line, *save = NULL;
	struct testd_run run;
	long long last_seq = 0;
	int fd, status, n = 0;
	pid_t pid;

	fd = mkstemp(out_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	pid = testd_spawn_bg(argv, out_path);
	ck_assert_int_gt(pid, 0);
	usleep(500000); /* let it subscribe */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "watch-%d", i);
		ctl_run(&run, "submit", "--wait", "--request-id", id, "--", "true");
		ck_assert_int_eq(run.status, 0);
		testd_run_free(&run);
	}
	usleep(500000);
	kill(pid, SIGINT);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	text = testd_slurp(out_path, NULL);
	unlink(out_path);
	ck_assert_ptr_nonnull(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *msg = ctltest_parse(line);
		long long seq = json_object_get_int64(ctltest_get(msg, "seq"));

		ck_assert_str_eq(ctltest_str(msg, "type"), "request_success");
		ck_assert_int_gt(seq, last_seq);
		last_seq = seq;
		snprintf(id, sizeof(id), "watch-%d", n++);
		ck_assert_str_eq(ctltest_str(msg, "request_id"), id);
		json_object_put(msg);
	}
	ck_assert_int_eq(n, 5);
	free(text);

	/* Replaying from a seq gives the same messages, and --count stops it. */
	ctl_run(&run, "watch", "--since", "0", "--type", "request_success", "--count", "2");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "success"));
	testd_run_free(&run);
}
END_TEST

START_TEST(test_shutdown)
{
	int status;

	ctl_expect(0, NULL, "shutdown", NULL);
	status = testd_wait_exit(&daemon_under_test, 30000);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ctl_expect(69, NULL, "ping", NULL);
}
END_TEST

static Suite *coordctl_suite(const char *which)
{
	Suite *s = suite_create("coordctl");
	TCase *tc;

	if (strcmp(which, "unit") == 0) {
		tc = tcase_create("unit");
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, test_usage_errors);
		tcase_add_test(tc, test_help_and_version);
		tcase_add_test(tc, test_missing_daemon);
		tcase_add_test(tc, test_watch_resubscribes_when_lagged);
		tcase_add_test(tc, test_garbage_from_daemon);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("integration");
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, real_setup, real_teardown);
	tcase_add_test(tc, test_ping_modes);
	tcase_add_test(tc, test_submit_plain_and_json);
	tcase_add_test(tc, test_submit_wait_mirrors);
	tcase_add_test(tc, test_status_job_wait_cancel);
	tcase_add_test(tc, test_batch_bad_line);
	tcase_add_test(tc, test_batch_oversized_line);
	tcase_add_test(tc, test_tree_child_from_task);
	tcase_add_test(tc, test_watch_in_order);
	tcase_add_test(tc, test_batch_10000);
	suite_add_tcase(s, tc);
	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, 60);
	/* Checked: the daemon must be this test process's child so it can reap it. */
	tcase_add_checked_fixture(tc, real_setup, real_teardown);
	tcase_add_test(tc, test_shutdown);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	return checkrun(coordctl_suite(argc > 1 ? argv[1] : "unit"));
}
