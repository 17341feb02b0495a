/* Check tests for coordctl's everyday use (issue 12): usage errors, short ids, completion, shell
 * strings, environments, wait --all, queue control and the documented JSON shapes. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "checkrun.h"
#include "ctltest.h"

static struct testd ux_daemon;

static void daemon_run(struct testd_run *run, ...)
{
	va_list ap;

	va_start(ap, run);
	ctltest_run_v(run, NULL, getenv("COORDINATORD"), ap);
	va_end(ap);
}

/* Asserts that run failed with status and that its stderr holds every string given. */
static void expect_fail(struct testd_run *run, int status, ...)
{
	va_list ap;

	ck_assert_msg(run->status == status, "status %d, not %d; stderr: %s", run->status, status,
		      run->err);
	va_start(ap, status);
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
		ck_assert_msg(strstr(run->err, s), "stderr lacks '%s': %s", s, run->err);
	va_end(ap);
	testd_run_free(run);
}

#define expect_usage(run, ...) expect_fail(run, 2, __VA_ARGS__, NULL)

/* ---- unit: no daemon needed ---- */

START_TEST(test_did_you_mean)
{
	struct testd_run run;

	ctl_run(&run, "stauts");
	expect_usage(&run, "unknown command 'stauts'", "did you mean 'status'?");
	ctl_run(&run, "sumbit", "--", "true");
	expect_usage(&run, "did you mean 'submit'?");
	ctl_run(&run, "frobnicate");
	expect_usage(&run, "unknown command 'frobnicate'");
}
END_TEST

START_TEST(test_help_command)
{
	struct testd_run run;

	ctl_run(&run, "help");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "commands:"));
	ck_assert_ptr_nonnull(strstr(run.out, "pause"));
	ck_assert_ptr_nonnull(strstr(run.out, "parallel"));
	testd_run_free(&run);
	ctl_run(&run, "help", "wait");
	ck_assert_int_eq(run.status, 0);
	ck_assert_ptr_nonnull(strstr(run.out, "usage: coordctl wait"));
	ck_assert_ptr_nonnull(strstr(run.out, "--all"));
	testd_run_free(&run);
	ctl_run(&run, "help", "wiat");
	expect_usage(&run, "did you mean 'wait'?");
}
END_TEST

START_TEST(test_option_errors_name_the_option)
{
	struct testd_run run;

	ctl_run(&run, "wait", "x", "--timeout", "-1");
	expect_usage(&run, "coordctl wait: bad value '-1' for --timeout");
	ctl_run(&run, "submit", "--timeout", "soon", "--", "true");
	expect_usage(&run, "coordctl submit: bad value 'soon' for --timeout");
	ctl_run(&run, "status", "--limit", "0");
	expect_usage(&run, "coordctl status: bad value '0' for --limit");
	ctl_run(&run, "watch", "--since", "abc");
	expect_usage(&run, "coordctl watch: bad value 'abc' for --since");
	ctl_run(&run, "status", "--bogus");
	expect_usage(&run, "coordctl status: unknown option '--bogus'");
	ctl_run(&run, "wait", "x", "--timeout");
	expect_usage(&run, "coordctl wait: option '--timeout' needs a value");
	/* An abbreviation is refused, not guessed. */
	ctl_run(&run, "wait", "x", "--time", "3");
	expect_usage(&run, "coordctl wait: unknown option '--time'");
	ctl_run(&run, "status", "--fail");
	expect_usage(&run, "unknown option '--fail'");
}
END_TEST

START_TEST(test_usage_conflicts)
{
	struct testd_run run;

	ctl_run(&run, "status", "--open", "--closed");
	expect_usage(&run, "coordctl status:", "--open", "--closed");
	ctl_run(&run, "status", "--failed", "--succeeded");
	expect_usage(&run, "--failed", "--succeeded");
	ctl_run(&run, "watch", "--type", "bogus");
	expect_usage(&run, "coordctl watch:", "bogus");
	ctl_run(&run, "status", "--since", "yesterday-ish");
	expect_usage(&run, "bad value 'yesterday-ish' for --since");
	ctl_run(&run, "parallel", "0");
	expect_usage(&run, "coordctl parallel:");
	ctl_run(&run, "parallel");
	expect_usage(&run, "coordctl parallel:");
	ctl_run(&run, "wait", "--all", "x");
	expect_usage(&run, "coordctl wait:", "--all");
	ctl_run(&run, "wait", "--mode", "async", "x");
	expect_usage(&run, "--mode and --run go with --all");
	ctl_run(&run, "parallel", "lots");
	expect_usage(&run, "coordctl parallel: bad value 'lots'");
	ctl_run(&run, "pause", "--bogus");
	expect_usage(&run, "coordctl pause: unknown option '--bogus'");
	ctl_run(&run, "help", "wait", "status");
	expect_usage(&run, "coordctl help: unexpected argument 'status'");
	ctl_run(&run, "submit", "--after", "a,,b", "--", "true");
	expect_usage(&run, "bad value 'a,,b' for --after");
	ctl_run(&run, "watch", "--count", "0");
	expect_usage(&run, "bad value '0' for --count");
	ctl_run(&run, "submit", "--wait=yes", "--", "true");
	expect_usage(&run, "option '--wait' takes no value");
	ctl_run(&run, "status", "--since", "2026-13-45");
	expect_usage(&run, "bad value '2026-13-45' for --since");
}
END_TEST

START_TEST(test_daemon_refuses_abbreviations)
{
	struct testd_run run;

	daemon_run(&run, "--sock", "/tmp/nowhere.sock", NULL);
	ck_assert_int_eq(run.status, 2);
	ck_assert_ptr_nonnull(strstr(run.err, "--sock"));
	testd_run_free(&run);
	daemon_run(&run, "--vers", NULL);
	ck_assert_int_eq(run.status, 2);
	testd_run_free(&run);
	daemon_run(&run, "--version", NULL);
	ck_assert_int_eq(run.status, 0);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_submit_shell_hint)
{
	struct testd_run run;

	/* One argument with spaces and no "--": a hint, not a job that cannot spawn. */
	ctl_run(&run, "--socket", "/nonexistent/x.sock", "submit", "echo hi; exit 3");
	expect_usage(&run, "-c");
	ctl_run(&run, "submit", "-e", "COORD_UX_SURELY_UNSET", "--", "true");
	expect_usage(&run, "COORD_UX_SURELY_UNSET");
	ctl_run(&run, "submit", "-c");
	expect_usage(&run, "coordctl submit:");
	ctl_run(&run, "submit", "--after-any", "--", "true");
	expect_usage(&run, "--after-any", "--after");
}
END_TEST

START_TEST(test_json_errors_on_stderr)
{
	struct testd_run run;
	json_object *obj, *error;

	ctl_run(&run, "--json", "--socket", "/nonexistent/coord.sock", "ping");
	ck_assert_int_eq(run.status, 69);
	ck_assert_str_eq(run.out, "");
	obj = ctltest_parse(run.err);
	error = ctltest_get(obj, "error");
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(ctltest_str(error, "kind"), "connect");
	ck_assert(json_object_is_type(ctltest_get(error, "code"), json_type_null));
	ck_assert_ptr_nonnull(strstr(ctltest_str(error, "message"), "/nonexistent/coord.sock"));
	ck_assert_int_eq(json_object_get_int(ctltest_get(error, "exit_status")), 69);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "status", "--json", "--open", "--closed");
	ck_assert_int_eq(run.status, 2);
	obj = ctltest_parse(run.err);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "error"), "kind"), "usage");
	json_object_put(obj);
	testd_run_free(&run);
}
END_TEST

/* Runs the bash completion for the words (the last is the one completed); returns its words. */
static char *complete(const char *words)
{
	const char *script = getenv("COORDCTL_COMPLETION");
	const char *coordctl = getenv("COORDCTL");
	char cmd[4096], dir[1024];
	struct testd_run run;
	char *out, *slash;

	ck_assert_ptr_nonnull(script);
	snprintf(dir, sizeof(dir), "%s", coordctl);
	slash = strrchr(dir, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	snprintf(cmd, sizeof(cmd),
		 "PATH='%s':\"$PATH\"; . '%s'; COMP_WORDS=(%s); "
		 "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
		 "[[ '%s' == *' ' ]] && COMP_WORDS+=('') && COMP_CWORD=$((COMP_CWORD + 1)); "
		 "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}; _coordctl; "
		 "printf '%%s\\n' \"${COMPREPLY[@]}\"",
		 dir, script, words, words);
	{
		char *argv[] = {"/bin/bash", "--norc", "-c", cmd, NULL};

		ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
	}
	ck_assert_msg(run.status == 0, "bash: %s", run.err);
	out = strdup(run.out);
	testd_run_free(&run);
	return out;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

START_TEST(test_completion_commands)
{
	char *out = complete("coordctl pa");

	ck_assert_msg(has_line(out, "pause") && has_line(out, "parallel"), "got: %s", out);
	ck_assert(!has_line(out, "status"));
	free(out);
	out = complete("coordctl wait --");
	ck_assert_msg(has_line(out, "--all") && has_line(out, "--timeout") &&
			      has_line(out, "--full"),
		      "got: %s", out);
	free(out);
	out = complete("coordctl submit --");
	ck_assert_msg(has_line(out, "--after") && has_line(out, "--env-all") &&
			      has_line(out, "--shell"),
		      "got: %s", out);
	free(out);
	out = complete("coordctl submit --wait -- ech");
	ck_assert_msg(has_line(out, "echo"), "got: %s", out);
	free(out);
	out = complete("coordctl submit --name x cat /et");
	ck_assert_msg(has_line(out, "/etc"), "got: %s", out);
	free(out);
	out = complete("coordctl help sta");
	ck_assert_msg(has_line(out, "status"), "got: %s", out);
	free(out);
	out = complete("coordctl watch --type ");
	ck_assert_msg(has_line(out, "success") && has_line(out, "creation_failure"), "got: %s",
		      out);
	free(out);
}
END_TEST

START_TEST(test_old_daemon_without_prefix)
{
	static const char *const script[] = {
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,\"message\":"
		"\"Invalid params: unknown key request_id_prefix\"}}\n",
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":1001,\"message\":\"no "
		"job\"}}\n",
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":"
		"\"Invalid params: unknown key name\"}}\n",
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":1001,\"message\":\"no job "
		"abcd1234\"}}\n",
		"W",
		NULL,
	};
	struct testd_fake f;
	struct testd_run run;

	ck_assert_int_eq(testd_fake_start(&f, script), 0);
	ctl_run(&run, "--socket", f.path, "job", "abcd1234");
	testd_fake_join(&f);
	ck_assert_uint_eq(f.nlines, 4);
	ck_assert_ptr_nonnull(strstr(f.lines[0], "\"request_id_prefix\":\"abcd1234\""));
	ck_assert_ptr_nonnull(strstr(f.lines[3], "\"request_id\":\"abcd1234\""));
	testd_fake_stop(&f);
	expect_fail(&run, 1, "not_found", "does not look up short ids", NULL);
}
END_TEST

/* ---- integration: a real daemon ---- */

static void ux_setup(void)
{
	ck_assert_msg(testd_start(&ux_daemon, "[mode:async]\nmax_concurrency = 4\n") == 0,
		      "cannot start $COORDINATORD");
	setenv("COORD_SOCKET", ux_daemon.sock, 1);
}

static void ux_teardown(void)
{
	testd_stop(&ux_daemon);
}

/* Submits argv (after "--") with extra options before it; returns the request_id (owned). */
static char *submit(const char *opt1, const char *opt2, const char *cmd)
{
	struct testd_run run;
	char *id;

	if (opt1)
		ctl_run(&run, "submit", opt1, opt2, "--", "/bin/sh", "-c", cmd);
	else
		ctl_run(&run, "submit", "--", "/bin/sh", "-c", cmd);
	ck_assert_msg(run.status == 0, "submit: %s", run.err);
	id = strndup(run.out, strcspn(run.out, "\n"));
	testd_run_free(&run);
	return id;
}

/* Submits true as request_id id. */
static void submit_as(const char *id)
{
	char *got = submit("--request-id", id, "true");

	ck_assert_str_eq(got, id);
	free(got);
}

START_TEST(test_tree_unknown_is_an_error)
{
	struct testd_run run;

	ctl_run(&run, "tree", "no-such-run-at-all");
	expect_fail(&run, 1, "no-such-run-at-all", NULL);
}
END_TEST

START_TEST(test_cancel_several)
{
	char *a = submit("--name", "cancel-a", "sleep 30");
	char *b = submit("--name", "cancel-b", "sleep 30");
	struct testd_run run;
	json_object *obj, *jobs;

	ctl_run(&run, "cancel", "--json", a, b);
	ck_assert_msg(run.status == 0, "cancel: %s", run.err);
	obj = ctltest_parse(run.out);
	jobs = ctltest_get(obj, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 2);
	ck_assert_str_eq(ctltest_str(json_object_array_get_idx(jobs, 0), "request_id"), a);
	ck_assert_str_eq(ctltest_str(json_object_array_get_idx(jobs, 1), "request_id"), b);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "wait", a, b, "--timeout", "30");
	ck_assert_int_eq(run.status, 1);
	testd_run_free(&run);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_relative_cwd)
{
	char dir[512], *here = getcwd(NULL, 0);
	struct testd_run run;

	snprintf(dir, sizeof(dir), "%s/sub", ux_daemon.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chdir(ux_daemon.dir), 0);
	ctl_run(&run, "submit", "--wait", "--cwd", "sub", "--", "pwd");
	ck_assert_int_eq(chdir(here), 0);
	free(here);
	ck_assert_msg(run.status == 0, "status %d: %s", run.status, run.err);
	ck_assert_int_eq(strncmp(run.out, dir, strlen(dir)), 0);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_unknown_mode_lists_modes)
{
	struct testd_run run;

	ctl_run(&run, "submit", "--mode", "asinc", "--", "true");
	expect_fail(&run, 1, "asinc", "async", NULL);
}
END_TEST

/* Runs coordctl and returns its stdout parsed as JSON (owned); asserts it exits with status. */
static json_object *ctl_json(int status, const char *first, ...)
{
	struct testd_run run;
	json_object *obj;
	va_list ap;

	va_start(ap, first);
	{
		const char *args[64];
		int n = 0;
		char *argv[66];

		for (const char *a = first; a && n < 63; a = va_arg(ap, const char *))
			args[n++] = a;
		argv[0] = (char *)getenv("COORDCTL");
		argv[1] = "--json";
		for (int i = 0; i < n; i++)
			argv[2 + i] = (char *)args[i];
		argv[2 + n] = NULL;
		ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
	}
	va_end(ap);
	ck_assert_msg(run.status == status, "status %d, not %d: %s", run.status, status, run.err);
	obj = ctltest_parse(run.out);
	testd_run_free(&run);
	return obj;
}

/* Asserts obj has exactly the keys named (NULL-terminated). */
static void expect_keys(json_object *obj, const char *what, ...)
{
	size_t n = 0;
	va_list ap;

	ck_assert_msg(json_object_is_type(obj, json_type_object), "%s: not an object", what);
	va_start(ap, what);
	for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
		ck_assert_msg(json_object_object_get_ex(obj, k, NULL), "%s lacks '%s': %s", what, k,
			      json_object_to_json_string(obj));
		n++;
	}
	va_end(ap);
	ck_assert_msg((size_t)json_object_object_length(obj) == n, "%s has other keys: %s", what,
		      json_object_to_json_string(obj));
}

/* A Job is always the daemon's Job object: these keys at least, whatever the command. */
static void expect_job(json_object *job)
{
	static const char *const keys[] = {
		"request_id", "parent_node_id", "child_node_id", "run_id", "name",
		"mode",	      "status",		"phase",	 "result", "start_time",
		"end_time",   "exit_code",	"error",
	};

	ck_assert_msg(json_object_is_type(job, json_type_object), "a job is an object");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_object_get_ex(job, keys[i], NULL), "job lacks '%s': %s",
			      keys[i], json_object_to_json_string(job));
}

static void expect_jobs(json_object *list, size_t at_least)
{
	ck_assert_msg(json_object_is_type(list, json_type_array), "jobs is an array");
	ck_assert_uint_ge(json_object_array_length(list), at_least);
	for (size_t i = 0; i < json_object_array_length(list); i++)
		expect_job(json_object_array_get_idx(list, i));
}

/* Cancels every open job, so each test starts with an idle daemon. */
static void cancel_open(void)
{
	json_object *obj = ctl_json(0, "status", "--open", "--limit", "10000", NULL), *jobs;
	struct testd_run run;
	char **argv;
	size_t n;

	jobs = ctltest_get(obj, "jobs");
	n = json_object_array_length(jobs);
	argv = calloc(n + 3, sizeof(*argv));
	ck_assert_ptr_nonnull(argv);
	argv[0] = getenv("COORDCTL");
	argv[1] = "cancel";
	for (size_t i = 0; i < n; i++)
		argv[2 + i] = (char *)ctltest_str(json_object_array_get_idx(jobs, i), "request_id");
	if (n > 0) {
		/* One cancel for them all; one that closed meanwhile is a conflict, no matter. */
		ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
		testd_run_free(&run);
	}
	free(argv);
	json_object_put(obj);
}

START_TEST(test_prefix_and_name_resolution)
{
	struct testd_run run;
	json_object *obj, *error;

	submit_as("uxr-alpha-1111");
	submit_as("uxr-alpha-2222");
	submit_as("uxr-beta-3333");
	submit_as("uxr-exact");
	submit_as("uxr-exact-longer");
	/* A unique prefix names its job. */
	ctl_run(&run, "job", "uxr-beta");
	ck_assert_msg(run.status == 0, "job: %s", run.err);
	ck_assert_ptr_nonnull(strstr(run.out, "uxr-beta-3333"));
	testd_run_free(&run);
	ctl_run(&run, "wait", "uxr-b", "uxr-alpha-1", "--timeout", "30");
	ck_assert_msg(run.status == 0, "wait: %s", run.err);
	testd_run_free(&run);
	/* An ambiguous one lists the candidates. */
	ctl_run(&run, "job", "uxr-alpha");
	expect_fail(&run, 1, "coordctl job:", "ambiguous", "uxr-alpha-1111", "uxr-alpha-2222",
		    NULL);
	ctl_run(&run, "--json", "job", "uxr-alpha");
	ck_assert_int_eq(run.status, 1);
	obj = ctltest_parse(run.err);
	error = ctltest_get(obj, "error");
	ck_assert_str_eq(ctltest_str(error, "kind"), "ambiguous");
	expect_jobs(ctltest_get(error, "candidates"), 2);
	ck_assert_int_eq(json_object_array_length(ctltest_get(error, "candidates")), 2);
	json_object_put(obj);
	testd_run_free(&run);
	/* The whole request_id wins over a longer one it prefixes. */
	ctl_run(&run, "--json", "job", "uxr-exact");
	ck_assert_msg(run.status == 0, "job: %s", run.err);
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "request_id"), "uxr-exact");
	json_object_put(obj);
	testd_run_free(&run);
	/* Nothing matches: the daemon's not found. */
	ctl_run(&run, "job", "uxr-nothing-here");
	expect_fail(&run, 1, "not_found", NULL);

	/* The name of an open job, unique among open jobs. */
	free(submit("--name", "uxr-sleeper", "sleep 30"));
	free(submit("--name", "uxr-twin", "sleep 30"));
	free(submit("--name", "uxr-twin", "sleep 30"));
	ctl_run(&run, "--json", "cancel", "uxr-sleeper");
	ck_assert_msg(run.status == 0, "cancel: %s", run.err);
	obj = ctltest_parse(run.out);
	ck_assert_str_eq(
		ctltest_str(json_object_array_get_idx(ctltest_get(obj, "jobs"), 0), "name"),
		"uxr-sleeper");
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "cancel", "uxr-twin");
	expect_fail(&run, 1, "ambiguous", "uxr-twin", NULL);
	cancel_open();
}
END_TEST

START_TEST(test_shell_string)
{
	struct testd_run run;
	json_object *obj;

	ctl_run(&run, "submit", "--wait", "-c", "echo hi; exit 3");
	ck_assert_int_eq(run.status, 3);
	ck_assert_str_eq(run.out, "hi\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--wait", "--shell", "echo \"$1-$2\"", "a", "b");
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "a-b\n");
	testd_run_free(&run);
	obj = ctl_json(0, "submit", "-c", "/bin/echo x | cat", NULL);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "name"), "echo");
	json_object_put(obj);
	/* With -- a program whose name has spaces is taken as it is (and fails to spawn). */
	ctl_run(&run, "submit", "--wait", "--", "/no such/program");
	ck_assert_int_eq(run.status, 127);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_environment)
{
	struct testd_run run;

	/* The daemon started before this variable existed: only -e or --env-all carry it. */
	setenv("UX_FROM_CALLER", "caller's value", 1);
	ctl_run(&run, "submit", "--wait", "-c", "echo \"${UX_FROM_CALLER-unset}\"");
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "unset\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--wait", "-e", "UX_FROM_CALLER", "-c", "echo \"$UX_FROM_CALLER\"");
	ck_assert_msg(run.status == 0, "%s", run.err);
	ck_assert_str_eq(run.out, "caller's value\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--wait", "--env-all", "-c", "echo \"$UX_FROM_CALLER\"");
	ck_assert_msg(run.status == 0, "%s", run.err);
	ck_assert_str_eq(run.out, "caller's value\n");
	testd_run_free(&run);
	ctl_run(&run, "submit", "--wait", "--env-all", "--env", "UX_FROM_CALLER=given", "-c",
		"echo \"$UX_FROM_CALLER\"");
	ck_assert_msg(run.status == 0, "%s", run.err);
	ck_assert_str_eq(run.out, "given\n");
	testd_run_free(&run);
	unsetenv("UX_FROM_CALLER");
}
END_TEST

START_TEST(test_wait_all)
{
	struct testd_run run;
	json_object *obj, *error;

	cancel_open();
	free(submit("--name", "uxw-one", "exit 0"));
	free(submit("--name", "uxw-two", "exit 0"));
	ctl_run(&run, "wait", "--all", "--timeout", "60");
	ck_assert_msg(run.status == 0, "wait --all: %s", run.err);
	testd_run_free(&run);
	/* Nothing open: nothing to wait for. */
	obj = ctl_json(0, "wait", "--all", NULL);
	expect_keys(obj, "wait --all", "jobs", NULL);
	json_object_put(obj);

	free(submit("--name", "uxw-slow-a", "sleep 30"));
	free(submit("--name", "uxw-slow-b", "sleep 30"));
	free(submit("--name", "uxw-quick", "exit 0"));
	ctl_run(&run, "wait", "--all", "--timeout", "0.5");
	expect_fail(&run, 124, "coordctl wait:", "2 jobs are still open", "uxw-slow-a",
		    "uxw-slow-b", NULL);
	ctl_run(&run, "--json", "wait", "--all", "--timeout", "0.3");
	ck_assert_int_eq(run.status, 124);
	obj = ctltest_parse(run.out);
	expect_keys(obj, "wait timeout", "jobs", NULL);
	expect_jobs(ctltest_get(obj, "jobs"), 2);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 2);
	json_object_put(obj);
	obj = ctltest_parse(run.err);
	error = ctltest_get(obj, "error");
	ck_assert_str_eq(ctltest_str(error, "kind"), "timeout");
	ck_assert_int_eq(json_object_get_int(ctltest_get(error, "exit_status")), 124);
	expect_jobs(ctltest_get(error, "jobs"), 2);
	json_object_put(obj);
	testd_run_free(&run);
	/* --mode filters; an unknown one matches nothing. */
	obj = ctl_json(0, "wait", "--all", "--mode", "no-such-mode", "--timeout", "1", NULL);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 0);
	json_object_put(obj);
	cancel_open();

	/* Many open jobs: all of them are named in --json (the text lists the first 20). */
	{
		char lines[60 * 10 + 1] = "";

		for (int i = 0; i < 60; i++)
			strcat(lines, "sleep 30\n");
		ctltest_run(&run, lines, "submit", "--batch", "-", NULL);
		ck_assert_int_eq(run.status, 0);
		testd_run_free(&run);
	}
	ctl_run(&run, "--json", "wait", "--all", "--timeout", "0.3");
	ck_assert_int_eq(run.status, 124);
	obj = ctltest_parse(run.out);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 60);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "wait", "--all", "--timeout", "0.3");
	expect_fail(&run, 124, "60 jobs are still open", "and 40 more", NULL);
	cancel_open();
}
END_TEST

START_TEST(test_batch_shell_lines)
{
	struct testd_run run;
	char *ids, *line, *save = NULL;
	int n = 0, failed = 0;

	ctltest_run(&run, "echo one\n# a comment\n\n{\"node\":{\"argv\":[\"true\"]}}\nexit 3\n",
		    "submit", "--batch", "-", NULL);
	ck_assert_msg(run.status == 0, "batch: %s", run.err);
	ids = strdup(run.out);
	testd_run_free(&run);
	for (line = strtok_r(ids, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ctl_run(&run, "wait", line, "--timeout", "30");
		failed += run.status == 1;
		testd_run_free(&run);
		n++;
	}
	free(ids);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(failed, 1);
}
END_TEST

START_TEST(test_json_shapes)
{
	json_object *obj, *roots;
	struct testd_run run;
	char *id;

	obj = ctl_json(0, "submit", "--request-id", "uxj-1", "--", "true", NULL);
	expect_keys(obj, "submit", "job", "message", NULL);
	expect_job(ctltest_get(obj, "job"));
	json_object_put(obj);
	obj = ctl_json(0, "submit", "--wait", "--request-id", "uxj-2", "--", "true", NULL);
	expect_keys(obj, "submit --wait", "job", "message", NULL);
	expect_job(ctltest_get(obj, "job"));
	json_object_put(obj);
	obj = ctl_json(0, "logs", "uxj-2", NULL);
	expect_keys(obj, "logs", "chunks", "eof", NULL);
	json_object_put(obj);
	obj = ctl_json(0, "job", "uxj-2", NULL);
	expect_keys(obj, "job", "job", "message", NULL);
	expect_job(ctltest_get(obj, "job"));
	json_object_put(obj);
	obj = ctl_json(0, "wait", "uxj-1", "uxj-2", NULL);
	expect_keys(obj, "wait", "jobs", NULL);
	expect_jobs(ctltest_get(obj, "jobs"), 2);
	json_object_put(obj);
	obj = ctl_json(0, "status", "--limit", "3", NULL);
	expect_keys(obj, "status", "counts", "jobs", "next", NULL);
	expect_jobs(ctltest_get(obj, "jobs"), 1);
	json_object_put(obj);
	obj = ctl_json(0, "tree", "uxj-1", NULL);
	expect_keys(obj, "tree", "roots", NULL);
	roots = ctltest_get(obj, "roots");
	ck_assert_int_eq(json_object_array_length(roots), 1);
	expect_keys(json_object_array_get_idx(roots, 0), "tree node", "job", "children", NULL);
	expect_job(ctltest_get(json_object_array_get_idx(roots, 0), "job"));
	json_object_put(obj);
	obj = ctl_json(0, "modes", NULL);
	expect_keys(obj, "modes", "modes", NULL);
	json_object_put(obj);
	obj = ctl_json(0, "ping", NULL);
	expect_keys(obj, "ping", "version", "pid", "uptime", NULL);
	json_object_put(obj);
	obj = ctl_json(0, "metrics", NULL);
	ck_assert_ptr_nonnull(ctltest_get(obj, "prometheus"));
	json_object_put(obj);
	id = submit(NULL, NULL, "sleep 30");
	obj = ctl_json(0, "cancel", id, NULL);
	expect_keys(obj, "cancel", "jobs", NULL);
	expect_jobs(ctltest_get(obj, "jobs"), 1);
	json_object_put(obj);
	free(id);
	ctltest_run(&run, "true\n", "--json", "submit", "--batch", "-", NULL);
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	expect_keys(obj, "submit --batch", "jobs", NULL);
	expect_jobs(ctltest_get(obj, "jobs"), 1);
	json_object_put(obj);
	testd_run_free(&run);
	ctl_run(&run, "--json", "watch", "--since", "0", "--count", "1");
	ck_assert_int_eq(run.status, 0);
	obj = ctltest_parse(run.out);
	ck_assert_ptr_nonnull(ctltest_get(obj, "seq"));
	ck_assert_ptr_nonnull(ctltest_get(obj, "type"));
	json_object_put(obj);
	testd_run_free(&run);
	/* Errors: JSON on stderr, nothing on stdout. */
	ctl_run(&run, "--json", "job", "uxj-none");
	ck_assert_int_eq(run.status, 1);
	ck_assert_str_eq(run.out, "");
	obj = ctltest_parse(run.err);
	expect_keys(obj, "error wrapper", "error", NULL);
	expect_keys(ctltest_get(obj, "error"), "error", "kind", "code", "message", "exit_status",
		    NULL);
	ck_assert_int_eq(json_object_get_int(ctltest_get(ctltest_get(obj, "error"), "code")), 1001);
	json_object_put(obj);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_completion_asks_daemon)
{
	char *id = submit("--name", "uxc-open", "sleep 30"), *out;

	out = complete("coordctl job ");
	ck_assert_msg(has_line(out, id), "got: %s", out);
	free(out);
	out = complete("coordctl logs ");
	ck_assert_msg(has_line(out, id), "got: %s", out);
	free(out);
	out = complete("coordctl submit --mode ");
	ck_assert_msg(has_line(out, "async"), "got: %s", out);
	free(out);
	out = complete("coordctl pause ");
	ck_assert_msg(has_line(out, "async"), "got: %s", out);
	free(out);
	free(id);
	cancel_open();
}
END_TEST

/* The mode async as modes reports it (owned). */
static json_object *mode_async(void)
{
	json_object *obj = ctl_json(0, "modes", NULL), *modes = ctltest_get(obj, "modes"),
		    *m = NULL;

	for (size_t i = 0; i < json_object_array_length(modes); i++)
		if (strcmp(ctltest_str(json_object_array_get_idx(modes, i), "name"), "async") == 0)
			m = json_object_get(json_object_array_get_idx(modes, i));
	json_object_put(obj);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Waits (up to a minute) until async runs `running` tasks and queues `queued`. */
static void await_load(int running, int queued)
{
	long long deadline = testd_now_ms() + 60000;
	int r = -1, q = -1;

	while (testd_now_ms() < deadline) {
		json_object *m = mode_async();

		r = json_object_get_int(ctltest_get(m, "running"));
		q = json_object_get_int(ctltest_get(m, "queued"));
		json_object_put(m);
		if (r == running && q == queued)
			return;
		usleep(50000);
	}
	ck_abort_msg("async runs %d and queues %d, not %d and %d", r, q, running, queued);
}

START_TEST(test_pause_resume_parallel)
{
	struct testd_run run;
	json_object *obj, *m;
	char *id;

	cancel_open();
	obj = ctl_json(0, "pause", "async", NULL);
	expect_keys(obj, "pause", "modes", NULL);
	m = json_object_array_get_idx(ctltest_get(obj, "modes"), 0);
	ck_assert_str_eq(ctltest_str(m, "name"), "async");
	ck_assert(json_object_get_boolean(ctltest_get(m, "paused")));
	json_object_put(obj);
	/* Paused: accepted and queued, not started. */
	id = submit(NULL, NULL, "exit 0");
	ctl_run(&run, "wait", id, "--timeout", "0.5");
	ck_assert_int_eq(run.status, 124);
	testd_run_free(&run);
	obj = ctl_json(0, "job", id, NULL);
	ck_assert_str_eq(ctltest_str(ctltest_get(obj, "job"), "phase"), "queued");
	json_object_put(obj);
	ctl_run(&run, "modes");
	ck_assert_ptr_nonnull(strstr(run.out, "paused"));
	testd_run_free(&run);
	/* resume with no mode named resumes them all. */
	obj = ctl_json(0, "resume", NULL);
	expect_keys(obj, "resume", "modes", NULL);
	json_object_put(obj);
	ctl_run(&run, "wait", id, "--timeout", "30");
	ck_assert_msg(run.status == 0, "wait: %s", run.err);
	testd_run_free(&run);
	free(id);
	m = mode_async();
	ck_assert(!json_object_get_boolean(ctltest_get(m, "paused")));
	json_object_put(m);

	/* parallel down while tasks wait, then up: the queued one starts. */
	obj = ctl_json(0, "parallel", "1", NULL);
	ck_assert_int_eq(json_object_get_int(ctltest_get(
				 json_object_array_get_idx(ctltest_get(obj, "modes"), 0),
				 "max_concurrency")),
			 1);
	json_object_put(obj);
	free(submit("--name", "uxp-a", "sleep 30"));
	free(submit("--name", "uxp-b", "sleep 30"));
	await_load(1, 1);
	obj = ctl_json(0, "parallel", "2", "--mode", "async", NULL);
	json_object_put(obj);
	await_load(2, 0);
	cancel_open();
	json_object_put(ctl_json(0, "parallel", "4", NULL));

	ctl_run(&run, "pause", "no-such-mode");
	expect_fail(&run, 1, "no-such-mode", "async", NULL);
}
END_TEST

START_TEST(test_after)
{
	struct testd_run run;
	char *a, *b, *c, *d, gate[512], cmd[600];
	json_object *obj;
	FILE *f;

	/* The first job stays open (its name resolves) until the gate exists, however slow we are.
	 */
	snprintf(gate, sizeof(gate), "%s/uxa-gate", ux_daemon.dir);
	snprintf(cmd, sizeof(cmd), "while [ ! -e '%s' ]; do sleep 0.05; done; exit 3", gate);
	a = submit("--name", "uxa-first", cmd);
	b = submit("--after", a, "exit 0");
	/* A name and a prefix work as for any command. */
	c = submit("--after-any", "--after=uxa-first", "exit 0");
	f = fopen(gate, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ctl_run(&run, "wait", b, "--timeout", "30");
	ck_assert_int_eq(run.status, 1);
	testd_run_free(&run);
	obj = ctl_json(0, "job", b, NULL);
	ck_assert_str_eq(ctltest_str(ctltest_get(ctltest_get(obj, "job"), "error"), "kind"),
			 "dependency");
	json_object_put(obj);
	ctl_run(&run, "wait", c, "--timeout", "30");
	ck_assert_msg(run.status == 0, "wait: %s", run.err);
	testd_run_free(&run);
	obj = ctl_json(0, "job", c, NULL);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
				 ctltest_get(ctltest_get(obj, "job"), "after"), 0)),
			 a);
	json_object_put(obj);
	d = submit("--after", c, "exit 0");
	ctl_run(&run, "wait", d, "--timeout", "30");
	ck_assert_msg(run.status == 0, "wait: %s", run.err);
	testd_run_free(&run);
	ctl_run(&run, "submit", "--after", "uxa-no-such-job", "--", "true");
	expect_fail(&run, 1, "not_found", NULL);
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

START_TEST(test_status_filters)
{
	json_object *obj, *jobs;
	char *id = submit("--name", "uxs-filtered", "exit 0");

	obj = ctl_json(0, "status", "--name", "uxs-filtered", NULL);
	jobs = ctltest_get(obj, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 1);
	ck_assert_str_eq(ctltest_str(json_object_array_get_idx(jobs, 0), "request_id"), id);
	json_object_put(obj);
	obj = ctl_json(0, "status", "--name", "uxs-filtered", "--since", "1h", "--until", "now",
		       NULL);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 1);
	json_object_put(obj);
	/* The daemon started less than an hour ago: nothing is older. */
	obj = ctl_json(0, "status", "--until", "1h", NULL);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 0);
	json_object_put(obj);
	obj = ctl_json(0, "status", "--since", "@4102444800", NULL);
	ck_assert_int_eq(json_object_array_length(ctltest_get(obj, "jobs")), 0);
	json_object_put(obj);
	free(id);
}
END_TEST

/* What coordctl modes prints on a terminal (script(1) gives it one) with TERM set to term. */
static char *modes_on_terminal(const char *term)
{
	char cmd[1024];
	struct testd_run run;
	char *out;

	snprintf(cmd, sizeof(cmd), "env -u NO_COLOR TERM=%s '%s' modes", term, getenv("COORDCTL"));
	{
		char *argv[] = {"/usr/bin/script", "-qec", cmd, "/dev/null", NULL};

		ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
	}
	ck_assert_msg(run.status == 0, "script: %s", run.err);
	out = strdup(run.out);
	testd_run_free(&run);
	return out;
}

START_TEST(test_no_colour_on_dumb_terminal)
{
	char *out = modes_on_terminal("xterm");

	ck_assert_msg(strstr(out, "\033["), "no colour on a terminal: %s", out);
	free(out);
	out = modes_on_terminal("dumb");
	ck_assert_msg(strstr(out, "async") && !strstr(out, "\033["), "colour on TERM=dumb: %s",
		      out);
	free(out);
}
END_TEST

START_TEST(test_example_spawn_failure)
{
	struct testd_run run;

	{
		char *argv[] = {getenv("COORD_EXAMPLE"), "/nonexistent/program", NULL};

		ck_assert_ptr_nonnull(argv[0]);
		ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
	}
	ck_assert_int_ne(run.status, 0);
	ck_assert_msg(strstr(run.out, "spawn") && !strstr(run.out, "exit 0"), "out: %s", run.out);
	testd_run_free(&run);
}
END_TEST

static Suite *ux_suite(const char *which)
{
	Suite *s = suite_create("coordctl-ux");
	TCase *tc;

	if (strcmp(which, "unit") == 0) {
		tc = tcase_create("unit");
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, test_did_you_mean);
		tcase_add_test(tc, test_help_command);
		tcase_add_test(tc, test_option_errors_name_the_option);
		tcase_add_test(tc, test_usage_conflicts);
		tcase_add_test(tc, test_daemon_refuses_abbreviations);
		tcase_add_test(tc, test_submit_shell_hint);
		tcase_add_test(tc, test_json_errors_on_stderr);
		tcase_add_test(tc, test_completion_commands);
		tcase_add_test(tc, test_old_daemon_without_prefix);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("integration");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, ux_setup, ux_teardown);
	tcase_add_test(tc, test_tree_unknown_is_an_error);
	tcase_add_test(tc, test_cancel_several);
	tcase_add_test(tc, test_relative_cwd);
	tcase_add_test(tc, test_unknown_mode_lists_modes);
	tcase_add_test(tc, test_example_spawn_failure);
	tcase_add_test(tc, test_no_colour_on_dumb_terminal);
	tcase_add_test(tc, test_shell_string);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_wait_all);
	tcase_add_test(tc, test_batch_shell_lines);
	tcase_add_test(tc, test_json_shapes);
	tcase_add_test(tc, test_completion_asks_daemon);
	suite_add_tcase(s, tc);
	return s;
}

/* What needs the daemon's v2 queue control: status filters, mode_set, after. */
static Suite *ux_queue_suite(void)
{
	Suite *s = suite_create("coordctl-ux-queue");
	TCase *tc = tcase_create("queue");

	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, ux_setup, ux_teardown);
	tcase_add_test(tc, test_prefix_and_name_resolution);
	tcase_add_test(tc, test_pause_resume_parallel);
	tcase_add_test(tc, test_after);
	tcase_add_test(tc, test_status_filters);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * The queue suite needs the daemon's v2 queue control; until a daemon has
 * it (mode_set, status request_id_prefix), the suite is skipped (exit 77)
 * with a line saying what is missing, rather than failing for the daemon.
 */
static int ux_queue_missing(void)
{
	char *pause[] = {getenv("COORDCTL"), "--json", "pause", "no-such-mode", NULL};
	char *status[] = {getenv("COORDCTL"), "--json", "status", "--name", "x", NULL};
	struct testd_run run;
	int missing = 0;

	/* No ck_assert here: this runs outside any test. */
	if (!pause[0] || testd_start(&ux_daemon, NULL) < 0)
		return 0; /* the suite then fails and says why */
	setenv("COORD_SOCKET", ux_daemon.sock, 1);
	if (testd_run(pause, NULL, &run) == 0) {
		if (strstr(run.err, "-32601")) {
			printf("SKIP: this coordinatord has no mode_set\n");
			missing = 1;
		}
		testd_run_free(&run);
	}
	if (testd_run(status, NULL, &run) == 0) {
		if (strstr(run.err, "-32602")) {
			printf("SKIP: this coordinatord's status has no name filter\n");
			missing = 1;
		}
		testd_run_free(&run);
	}
	testd_stop(&ux_daemon);
	return missing;
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "unit";

	if (strcmp(which, "queue") == 0 && ux_queue_missing())
		return 77;

	return checkrun(strcmp(which, "queue") == 0 ? ux_queue_suite() : ux_suite(which));
}
