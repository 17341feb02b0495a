/*
 * Hostile clients against the exec side of the real coordinatord: tasks
 * that try to spoof the daemon's variables, oversized and NUL-laden tasks,
 * and who a task runs as (run_as, the exec helper), seen from the task.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

#define HOSTILE_NOBODY 65534

static struct harness_fixture fx;

static void hostile_start(const char *config)
{
	harness_daemon_new(&fx.daemon, config);
	/* Others reach the socket (socket_mode 0666 in the configs that let them). */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	harness_fixture_connect(&fx);
}

static void hostile_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* submit's error code for params (JSON text); its message in *ret_msg (caller frees). */
static int hostile_refusal(const char *params, char **ret_msg)
{
	return harness_err(fx.client, "submit", harness_json("%s", params), ret_msg);
}

/* Expects submit to refuse params with -32602 and a message naming want. */
static void hostile_expect_refused(const char *params, const char *want)
{
	char *msg = NULL;

	ck_assert_int_eq(hostile_refusal(params, &msg), -32602);
	ck_assert_msg(msg && strstr(msg, want), "refusal \"%s\" does not name \"%s\"",
		      msg ? msg : "(null)", want);
	free(msg);
}

/* The stdout of a task submitted by us with wait (params: JSON text); asserts success. */
static char *hostile_stdout(const char *params)
{
	json_object *r = harness_ok(fx.client, "submit", harness_json("%s", params));
	char *out;

	ck_assert_msg(strcmp(harness_str(r, "job.result"), "success") == 0, "%s failed: %s", params,
		      json_object_to_json_string(r));
	out = strdup(harness_str(r, "message.result.stdout"));
	json_object_put(r);
	return out;
}

/* --- Refusals ------------------------------------------------------------ */

#define HOSTILE_LIMITS_CONFIG                                                                      \
	"[daemon]\n"                                                                               \
	"max_task_argv = 4\n"                                                                      \
	"max_task_argv_bytes = 64\n"                                                               \
	"max_task_env = 2\n"                                                                       \
	"max_task_env_bytes = 32\n"                                                                \
	"max_task_stdin_bytes = 16\n"                                                              \
	"max_task_cwd_bytes = 8\n"

static void hostile_limits_setup(void)
{
	hostile_start(HOSTILE_LIMITS_CONFIG);
}

START_TEST(test_env_coord_refused)
{
	char *out;

	/* Both the spoofed and the real value would reach the task: refused, named. */
	hostile_expect_refused("{\"node\":{\"id\":\"real\",\"argv\":[\"true\"],"
			       "\"env\":{\"COORD_NODE_ID\":\"spoofed\"}}}",
			       "COORD_NODE_ID");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"env\":{\"COORD_SOCKET\":\"/x\"}}}",
			       "COORD_SOCKET");
	/* Nothing ran, and the daemon goes on: the task sees its own id. */
	out = hostile_stdout("{\"wait\":true,\"node\":{\"id\":\"real\",\"argv\":[\"sh\",\"-c\","
			     "\"echo $COORD_NODE_ID\"]}}");
	ck_assert_str_eq(out, "real\n");
	free(out);
}
END_TEST

START_TEST(test_limits_refused)
{
	char *out;

	hostile_expect_refused("{\"node\":{\"argv\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}}",
			       "max_task_argv");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\",\"0123456789012345678901234567890"
			       "123456789012345678901234567890123\"]}}",
			       "max_task_argv_bytes");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"env\":{\"A\":\"1\",\"B\":\"2\","
			       "\"C\":\"3\"}}}",
			       "max_task_env");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"env\":{\"A\":\"0123456789"
			       "012345678901234567890\"}}}",
			       "max_task_env_bytes");
	hostile_expect_refused("{\"node\":{\"argv\":[\"cat\"],\"stdin\":\"0123456789abcdefg\"}}",
			       "max_task_stdin_bytes");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"cwd\":\"/usr/bin/x\"}}",
			       "max_task_cwd_bytes");
	/* At every limit at once: runs. */
	out = hostile_stdout("{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\",\"cat; pwd\",\"x\"],"
			     "\"env\":{\"A\":\"1\",\"B\":\"2\"},\"stdin\":\"0123456789abcde\\n\","
			     "\"cwd\":\"/usr/bin\"}}");
	ck_assert_str_eq(out, "0123456789abcde\n/usr/bin\n");
	free(out);
}
END_TEST

START_TEST(test_nul_refused)
{
	json_object *r;

	hostile_expect_refused("{\"node\":{\"argv\":[\"echo\",\"a\\u0000b\"]}}", "node.argv[1]");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"env\":{\"A\":\"x\\u0000y\"}}}",
			       "node.env.A");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"cwd\":\"/\\u0000tmp\"}}",
			       "node.cwd");
	hostile_expect_refused("{\"node\":{\"argv\":[\"true\"],\"name\":\"a\\u0000\"}}",
			       "node.name");
	/* stdin keeps its bytes exactly, NUL included. */
	r = harness_ok(fx.client, "submit",
		       harness_json("{\"wait\":true,\"node\":{\"argv\":[\"cat\"],"
				    "\"stdin\":\"a\\u0000b\"}}"));
	ck_assert_int_eq(json_object_get_string_len(harness_get(r, "message.result.stdout")), 3);
	ck_assert_mem_eq(harness_str(r, "message.result.stdout"), "a\0b", 3);
	json_object_put(r);
}
END_TEST

/* --- Who a task runs as -------------------------------------------------- */

#define HOSTILE_RUN_AS_CONFIG(run_as)                                                              \
	"[daemon]\n"                                                                               \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = nobody\n"                                                                 \
	"allowed_groups = nogroup\n" run_as "[mode:async]\n"                                       \
	"max_concurrency = 1\n"

/*
 * Sends params (JSON text) to submit as uid/gid with these supplementary
 * groups, from a child process; returns the response.
 */
static json_object *hostile_submit_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
				      const char *params)
{
	char *text;
	json_object *r;

	ck_assert_int_ge(asprintf(&text,
				  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\","
				  "\"params\":%s}\n",
				  params),
			 0);
	r = harness_request_as(fx.daemon.sock, uid, gid, groups, ngroups, text);
	free(text);
	return r;
}

/* The stdout of params run by uid/gid (no supplementary groups) with wait; asserts success. */
static char *hostile_stdout_as(uid_t uid, gid_t gid, const char *params)
{
	json_object *r = hostile_submit_as(uid, gid, NULL, 0, params);
	char *out;

	ck_assert_msg(strcmp(harness_str(r, "result.job.result"), "success") == 0,
		      "%s as %u failed: %s", params, (unsigned)uid, json_object_to_json_string(r));
	out = strdup(harness_str(r, "result.message.result.stdout"));
	json_object_put(r);
	return out;
}

/* The failure message of params run by uid/gid with wait; asserts the kind. */
static char *hostile_failure_as(uid_t uid, gid_t gid, const char *params, const char *kind)
{
	json_object *r = hostile_submit_as(uid, gid, NULL, 0, params);
	char *msg;

	ck_assert_msg(strcmp(harness_str(r, "result.job.result"), "failure") == 0,
		      "%s as %u did not fail: %s", params, (unsigned)uid,
		      json_object_to_json_string(r));
	ck_assert_str_eq(harness_str(r, "result.job.error.kind"), kind);
	msg = strdup(harness_str(r, "result.job.error.message"));
	json_object_put(r);
	return msg;
}

#define HOSTILE_ID_SCRIPT                                                                          \
	"{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\",\"id -u; id -g; id -G; "                 \
	"echo $HOME $USER $LOGNAME\"]}}"

/* Gives the test (and so the daemon it starts) a supplementary group, as root may have. */
static void hostile_extra_group(void)
{
	static const gid_t groups[] = {0, 4};

	ck_assert_int_eq(setgroups(2, groups), 0);
}

START_TEST(test_run_as_submitter)
{
	char *out;

	if (geteuid() != 0)
		return; /* needs root */
	hostile_extra_group();
	hostile_start(HOSTILE_RUN_AS_CONFIG("run_as = submitter\n"));
	/* nobody's task is nobody's, with nobody's groups and none of the daemon's. */
	out = hostile_stdout_as(HOSTILE_NOBODY, HOSTILE_NOBODY, HOSTILE_ID_SCRIPT);
	ck_assert_str_eq(out, "65534\n65534\n65534\n/nonexistent nobody nobody\n");
	free(out);
	/* A task's own HOME is kept; its stdin reaches it through the helper. */
	out = hostile_stdout_as(
		HOSTILE_NOBODY, HOSTILE_NOBODY,
		"{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\",\"cat; echo $HOME\"],"
		"\"env\":{\"HOME\":\"/tmp\"},\"stdin\":\"in\\n\"}}");
	ck_assert_str_eq(out, "in\n/tmp\n");
	free(out);
	/* The daemon still stops nobody's task. */
	free(hostile_failure_as(HOSTILE_NOBODY, HOSTILE_NOBODY,
				"{\"wait\":true,\"node\":{\"argv\":[\"sleep\",\"60\"],"
				"\"timeout_ms\":200}}",
				"timeout"));
	/* root stays root. */
	out = hostile_stdout("{\"wait\":true,\"node\":{\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(out, "0\n");
	free(out);
}
END_TEST

/* Under the run_as line (may be empty), nobody's `id -u` prints want. */
static void hostile_expect_nobody_runs_as(const char *run_as, const char *want)
{
	char config[256], *out;

	snprintf(config, sizeof(config), HOSTILE_RUN_AS_CONFIG("%s"), run_as);
	hostile_start(config);
	out = hostile_stdout_as(HOSTILE_NOBODY, HOSTILE_NOBODY,
				"{\"wait\":true,\"node\":{\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(out, want);
	free(out);
}

START_TEST(test_run_as_default_for_root)
{
	if (geteuid() == 0)
		hostile_expect_nobody_runs_as("", "65534\n");
}
END_TEST

START_TEST(test_run_as_daemon)
{
	if (geteuid() == 0)
		hostile_expect_nobody_runs_as("run_as = daemon\n", "0\n");
}
END_TEST

/* A user other than root with supplementary groups, or NULL. */
static struct passwd *hostile_user_with_groups(gid_t *groups, int *ngroups)
{
	struct passwd *pw;
	int cap = *ngroups;

	setpwent();
	while ((pw = getpwent())) {
		*ngroups = cap;
		if (pw->pw_uid != 0 &&
		    getgrouplist(pw->pw_name, pw->pw_gid, groups, ngroups) >= 0 && *ngroups > 1)
			break;
	}
	endpwent();
	return pw;
}

static int hostile_gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_run_as_supplementary_groups)
{
	gid_t groups[64];
	int ngroups = 64;
	struct passwd *pw;
	char config[512], expect[1024], *p = expect;
	json_object *r;

	if (geteuid() != 0)
		return;
	pw = hostile_user_with_groups(groups, &ngroups);
	if (!pw)
		return; /* no such user on this machine */
	snprintf(config, sizeof(config),
		 "[daemon]\nsocket_mode = 0666\nallowed_users = %s\n[mode:async]\n"
		 "max_concurrency = 1\n",
		 pw->pw_name);
	hostile_start(config);
	/* The client comes with no supplementary groups: the task has the user's. */
	r = hostile_submit_as(pw->pw_uid, pw->pw_gid, NULL, 0,
			      "{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\","
			      "\"id -G | tr ' ' '\\\\n' | sort -n\"]}}");
	qsort(groups, (size_t)ngroups, sizeof(gid_t), hostile_gid_cmp);
	for (int i = 0; i < ngroups; i++)
		if (i == 0 || groups[i] != groups[i - 1])
			p += sprintf(p, "%u\n", (unsigned)groups[i]);
	ck_assert_str_eq(harness_str(r, "result.message.result.stdout"), expect);
	json_object_put(r);
}
END_TEST

START_TEST(test_run_as_cwd_checked_as_submitter)
{
	char dir[256], *msg, *out, params[512];

	if (geteuid() != 0)
		return;
	hostile_start(HOSTILE_RUN_AS_CONFIG(""));
	/* root may enter it, nobody may not: the submitter's rights decide. */
	snprintf(dir, sizeof(dir), "%s/private", fx.daemon.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(params, sizeof(params),
		 "{\"wait\":true,\"node\":{\"argv\":[\"pwd\"],\"cwd\":\"%s\"}}", dir);
	msg = hostile_failure_as(HOSTILE_NOBODY, HOSTILE_NOBODY, params, "spawn");
	ck_assert_ptr_nonnull(strstr(msg, "working directory"));
	ck_assert_ptr_nonnull(strstr(msg, strerror(EACCES)));
	free(msg);
	/* Once it is nobody's, nobody's task runs there. */
	ck_assert_int_eq(chown(dir, HOSTILE_NOBODY, HOSTILE_NOBODY), 0);
	out = hostile_stdout_as(HOSTILE_NOBODY, HOSTILE_NOBODY, params);
	ck_assert_int_eq(strncmp(out, dir, strlen(dir)), 0);
	free(out);
}
END_TEST

START_TEST(test_run_as_helper_failures)
{
	char *msg;

	if (geteuid() != 0)
		return;
	/* A uid with no passwd entry (let in by its group): the helper says so. */
	hostile_start(HOSTILE_RUN_AS_CONFIG(""));
	msg = hostile_failure_as(54321, HOSTILE_NOBODY,
				 "{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}", "spawn");
	ck_assert_ptr_nonnull(strstr(msg, "54321"));
	free(msg);
	/* A program that is not there, looked up as the submitter in the task's PATH. */
	msg = hostile_failure_as(HOSTILE_NOBODY, HOSTILE_NOBODY,
				 "{\"wait\":true,\"node\":{\"argv\":[\"coord-no-such-prog\"],"
				 "\"env\":{\"PATH\":\"/usr/bin:/bin\"}}}",
				 "spawn");
	ck_assert_msg(strstr(msg, "coord-no-such-prog") && strstr(msg, strerror(ENOENT)), "%s",
		      msg);
	free(msg);
}
END_TEST

START_TEST(test_run_as_missing_helper)
{
	char *msg, *out;

	if (geteuid() != 0)
		return;
	hostile_start(HOSTILE_RUN_AS_CONFIG("exec_helper = /nonexistent/coordinatord-exec\n"));
	msg = hostile_failure_as(HOSTILE_NOBODY, HOSTILE_NOBODY,
				 "{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}", "spawn");
	ck_assert_ptr_nonnull(strstr(msg, "/nonexistent/coordinatord-exec"));
	free(msg);
	/* root's tasks need no helper. */
	out = hostile_stdout("{\"wait\":true,\"node\":{\"argv\":[\"id\",\"-u\"]}}");
	ck_assert_str_eq(out, "0\n");
	free(out);
}
END_TEST

START_TEST(test_run_as_bad_helper)
{
	char *msg;

	if (geteuid() != 0)
		return;
	/* A helper that ends without starting the task is a spawn failure, not a result. */
	hostile_start(HOSTILE_RUN_AS_CONFIG("exec_helper = /bin/true\n"));
	msg = hostile_failure_as(HOSTILE_NOBODY, HOSTILE_NOBODY,
				 "{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}", "spawn");
	ck_assert_ptr_nonnull(strstr(msg, "/bin/true"));
	free(msg);
}
END_TEST

/*
 * Runs coordinatord as nobody with config until it exits (its wait status)
 * or accepts on its socket (the test fails). Its stderr goes to its log.
 */
static int hostile_run_daemon_as_nobody(const char *config)
{
	char *argv[] = {getenv("COORDINATORD"), "--config",    fx.daemon.conf,	"--socket",
			fx.daemon.sock,		"--state-dir", fx.daemon.state, NULL};
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	struct harness_client *c;
	int status, fd;
	pid_t pid;

	harness_daemon_init(&fx.daemon, config);
	ck_assert_int_eq(chown(fx.daemon.dir, HOSTILE_NOBODY, HOSTILE_NOBODY), 0);
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	ck_assert_int_eq(chmod(fx.daemon.conf, 0644), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(fx.daemon.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || setgroups(0, NULL) < 0 ||
		    setgid(HOSTILE_NOBODY) < 0 || setuid(HOSTILE_NOBODY) < 0)
			_exit(100);
		execv(argv[0], argv);
		_exit(101);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if ((c = harness_connect(fx.daemon.sock)) || harness_now_ms() > deadline) {
			harness_client_free(c);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("coordinatord as nobody started with that config");
		}
		harness_sleep_ms(20);
	}
	return status;
}

START_TEST(test_run_as_submitter_needs_root)
{
	char *err;
	int status;

	if (geteuid() != 0)
		return; /* needs root to become nobody */
	/* nobody cannot run tasks as others: a config that asks it to is refused. */
	status = hostile_run_daemon_as_nobody("[daemon]\nrun_as = submitter\n"
					      "allowed_users = daemon\n");
	err = harness_daemon_log(&fx.daemon);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x: %s", status, err);
	ck_assert_msg(strstr(err, "run_as"), "no reason given: %s", err);
	free(err);
}
END_TEST

START_TEST(test_run_as_bad_values)
{
	harness_expect_bad_config(&fx.daemon, "[daemon]\nrun_as = someone\n", "run_as must be");
	harness_expect_bad_config(&fx.daemon, "[daemon]\nexec_helper = coordinatord-exec\n",
				  "exec_helper must be an absolute path");
	harness_expect_bad_config(&fx.daemon, "[daemon]\nmax_task_argv = 0\n",
				  "max_task_argv must be");
}
END_TEST

static Suite *hostile_exec_suite(void)
{
	Suite *s = suite_create("daemon-hostile-exec");
	TCase *tc = tcase_create("refusals");

	tcase_add_checked_fixture(tc, hostile_limits_setup, hostile_teardown);
	tcase_add_test(tc, test_env_coord_refused);
	tcase_add_test(tc, test_limits_refused);
	tcase_add_test(tc, test_nul_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("run_as");
	tcase_add_checked_fixture(tc, NULL, hostile_teardown);
	tcase_add_test(tc, test_run_as_submitter);
	tcase_add_test(tc, test_run_as_default_for_root);
	tcase_add_test(tc, test_run_as_daemon);
	tcase_add_test(tc, test_run_as_supplementary_groups);
	tcase_add_test(tc, test_run_as_cwd_checked_as_submitter);
	tcase_add_test(tc, test_run_as_helper_failures);
	tcase_add_test(tc, test_run_as_missing_helper);
	tcase_add_test(tc, test_run_as_bad_helper);
	tcase_add_test(tc, test_run_as_submitter_needs_root);
	tcase_add_test(tc, test_run_as_bad_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(hostile_exec_suite());
}
