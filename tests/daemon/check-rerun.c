/*
 * The stored Task, rerun and honest timing (issue 11) over the real socket:
 * a failed job re-run with a new argv, the refusals of rerun, the Task shown
 * to its owner and root only, the run time of a job that waited in the
 * queue, what survives a restart, and coordctl's view of a job.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define RERUN_CONFIG                                                                               \
	HARNESS_CONFIG_DAEMON                                                                      \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = daemon bin\n"                                                             \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	HARNESS_CONFIG_MODE("one", "1")
/* clang-format on */

static struct harness_fixture fx;

static void rerun_setup(void)
{
	harness_fixture_start(&fx, RERUN_CONFIG);
}

static void rerun_teardown(void)
{
	harness_fixture_stop(&fx);
}

static double rerun_time(json_object *o, const char *path)
{
	json_object *v = harness_get(o, path);

	ck_assert_msg(json_object_is_type(v, json_type_double) ||
			      json_object_is_type(v, json_type_int),
		      "%s is not a number", path);
	return json_object_get_double(v);
}

START_TEST(test_rerun_failed_with_new_argv)
{
	json_object *r, *job;
	char *msg = NULL;

	r = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"orig\",\"wait\":true,\"node\":{"
				    "\"id\":\"n1\",\"argv\":[\"sh\",\"-c\",\"exit 3\"],"
				    "\"cwd\":\"/tmp\",\"env\":{\"SECRET\":\"s3\"},"
				    "\"stdin\":\"from stdin\\n\",\"timeout_ms\":60000}}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "failure");
	/* The owner (root here) sees the stored Task, without wait. */
	ck_assert_str_eq(harness_str(r, "job.task.node.argv.2"), "exit 3");
	ck_assert_str_eq(harness_str(r, "job.task.node.env.SECRET"), "s3");
	ck_assert_str_eq(harness_str(r, "job.task.request_id"), "orig");
	ck_assert(!json_object_object_get_ex(harness_get(r, "job.task"), "wait", NULL));
	ck_assert(harness_is_null(r, "job.rerun_of"));
	ck_assert(harness_is_null(r, "job.after"));
	json_object_put(r);

	/* The same Task with a new argv: env, cwd, stdin, node id kept. */
	r = harness_ok(fx.client, "rerun",
		       harness_json("{\"request_id\":\"orig\",\"new_request_id\":\"again\","
				    "\"node\":{\"argv\":[\"sh\",\"-c\",\"pwd; cat; echo "
				    "$SECRET\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.request_id"), "again");
	ck_assert_str_eq(harness_str(r, "job.rerun_of"), "orig");
	ck_assert_str_eq(harness_str(r, "job.child_node_id"), "n1");
	ck_assert_str_eq(harness_str(r, "job.task.request_id"), "again");
	ck_assert_str_eq(harness_str(r, "job.task.node.argv.2"), "pwd; cat; echo $SECRET");
	json_object_put(r);
	job = harness_wait_job(fx.client, "again");
	ck_assert_str_eq(harness_str(job, "result"), "success");
	ck_assert_str_eq(harness_str(job, "rerun_of"), "orig");
	json_object_put(job);
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"again\"}"));
	ck_assert_str_eq(harness_str(r, "message.result.stdout"), "/tmp\nfrom stdin\ns3\n");
	ck_assert_int_eq(harness_int(r, "job.task.node.timeout_ms"), 60000);
	json_object_put(r);

	/* Without a new id one is made; a re-run of a re-run links to its own source. */
	r = harness_ok(fx.client, "rerun", harness_json("{\"request_id\":\"again\"}"));
	ck_assert_str_ne(harness_str(r, "job.request_id"), "again");
	ck_assert_str_eq(harness_str(r, "job.rerun_of"), "again");
	json_object_put(harness_wait_job(fx.client, harness_str(r, "job.request_id")));
	json_object_put(r);

	/* A node field given as null goes back to its default. */
	r = harness_ok(fx.client, "rerun",
		       harness_json("{\"request_id\":\"again\",\"new_request_id\":\"nulled\","
				    "\"node\":{\"cwd\":null,\"stdin\":null,\"id\":null}}"));
	ck_assert_str_ne(harness_str(r, "job.child_node_id"), "n1");
	json_object_put(r);
	json_object_put(harness_wait_job(fx.client, "nulled"));
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"nulled\"}"));
	ck_assert_str_ne(harness_str(r, "message.result.stdout"), "/tmp\nfrom stdin\ns3\n");
	ck_assert_msg(strstr(harness_str(r, "message.result.stdout"), "from stdin") == NULL, "%s",
		      harness_str(r, "message.result.stdout"));
	json_object_put(r);

	/* The new id must be new. */
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"orig\",\"new_request_id\":"
						  "\"again\"}"),
				     &msg),
			 1002);
	ck_assert_msg(strstr(msg, "again") != NULL, "%s", msg);
	free(msg);
}
END_TEST

START_TEST(test_rerun_refusals)
{
	json_object *r;
	char *msg = NULL;

	r = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"long\",\"node\":{\"argv\":[\"sleep\","
				    "\"60\"]}}"));
	json_object_put(r);
	/* Still opened: 1002. */
	ck_assert_int_eq(
		harness_err(fx.client, "rerun", harness_json("{\"request_id\":\"long\"}"), &msg),
		1002);
	ck_assert_msg(strstr(msg, "opened") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(
		harness_err(fx.client, "rerun", harness_json("{\"request_id\":\"nope\"}"), NULL),
		1001);
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"long\"}")));
	/* Unknown keys, at the top and in node, are named. */
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"long\",\"cascde\":true}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "cascde") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"long\",\"node\":{\"argvv\":"
						  "[\"true\"]}}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "argvv") != NULL, "%s", msg);
	free(msg);
	/* The replaced node is checked as a submit's is. */
	ck_assert_int_eq(
		harness_err(fx.client, "rerun",
			    harness_json("{\"request_id\":\"long\",\"node\":{\"argv\":[]}}"), &msg),
		-32602);
	ck_assert_msg(strstr(msg, "node.argv") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"long\",\"node\":{\"env\":{"
						  "\"COORD_X\":\"1\"}}}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"long\",\"new_request_id\":"
						  "\"bad id\"}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "rerun", harness_json("{\"node\":{}}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"long\",\"node\":[1]}"), NULL),
			 -32602);
	/* None of these made a job; the daemon goes on. */
	r = harness_ok(fx.client, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.closed"), 1);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
}
END_TEST

/* The response to method with params (JSON text) sent as uid; parsed. */
static json_object *rerun_call_as(uid_t uid, const char *method, const char *params)
{
	char line[1024];

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}\n", method,
		 params);
	return harness_request_as(fx.daemon.sock, uid, uid, NULL, 0, line);
}

START_TEST(test_task_shown_to_owner_and_root_only)
{
	json_object *r;

	if (geteuid() != 0)
		return; /* needs root to act as other users */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	/* uid 1 (daemon) submits a task with a secret in its env. */
	r = rerun_call_as(
		1, "submit",
		"{\"request_id\":\"mine\",\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\","
		"\"exit 1\"],\"env\":{\"TOKEN\":\"hunter2\"},\"stdin\":\"pw\"}}");
	ck_assert_str_eq(harness_str(r, "result.job.task.node.env.TOKEN"), "hunter2");
	ck_assert_int_eq(harness_int(r, "result.job.owner_uid"), 1);
	json_object_put(r);
	/* uid 2 (bin), allowed to talk to the daemon, sees the job but not its Task. */
	r = rerun_call_as(2, "job", "{\"request_id\":\"mine\"}");
	ck_assert_str_eq(harness_str(r, "result.job.request_id"), "mine");
	ck_assert(harness_is_null(r, "result.job.task"));
	ck_assert_msg(strstr(json_object_to_json_string(r), "hunter2") == NULL, "%s",
		      json_object_to_json_string(r));
	json_object_put(r);
	r = rerun_call_as(2, "status", "{}");
	ck_assert(harness_is_null(r, "result.jobs.0.task"));
	ck_assert_msg(strstr(json_object_to_json_string(r), "hunter2") == NULL, "%s",
		      json_object_to_json_string(r));
	json_object_put(r);
	r = rerun_call_as(2, "wait", "{\"request_ids\":[\"mine\"]}");
	ck_assert(harness_is_null(r, "result.jobs.0.task"));
	json_object_put(r);
	/* Nor may uid 2 re-run it. */
	r = rerun_call_as(2, "rerun", "{\"request_id\":\"mine\"}");
	ck_assert_int_eq(harness_int(r, "error.code"), 1004);
	json_object_put(r);
	/* The owner sees it in job and status, and may re-run it. */
	r = rerun_call_as(1, "job", "{\"request_id\":\"mine\"}");
	ck_assert_str_eq(harness_str(r, "result.job.task.node.stdin"), "pw");
	json_object_put(r);
	r = rerun_call_as(1, "status", "{}");
	ck_assert_str_eq(harness_str(r, "result.jobs.0.task.node.env.TOKEN"), "hunter2");
	json_object_put(r);
	r = rerun_call_as(1, "rerun", "{\"request_id\":\"mine\",\"new_request_id\":\"mine2\"}");
	ck_assert_str_eq(harness_str(r, "result.job.rerun_of"), "mine");
	ck_assert_int_eq(harness_int(r, "result.job.owner_uid"), 1);
	json_object_put(r);
	/* root sees every Task; a job root re-runs stays its owner's. */
	json_object_put(harness_wait_job(fx.client, "mine2"));
	r = harness_job(fx.client, "mine");
	ck_assert_str_eq(harness_str(r, "task.node.env.TOKEN"), "hunter2");
	json_object_put(r);
	r = harness_ok(fx.client, "rerun",
		       harness_json("{\"request_id\":\"mine\",\"new_request_id\":\"mine3\"}"));
	ck_assert_int_eq(harness_int(r, "job.owner_uid"), 1);
	json_object_put(r);
	r = rerun_call_as(2, "job", "{\"request_id\":\"mine3\"}");
	ck_assert(harness_is_null(r, "result.job.task"));
	json_object_put(r);
}
END_TEST

START_TEST(test_run_time_after_queue)
{
	char fifo[256], script[320];
	json_object *r, *blocker, *job, *msg;
	double released, start, run_start, end;

	harness_fifo(&fx.daemon, "gate", fifo, sizeof(fifo));
	snprintf(script, sizeof(script), "cat %s >/dev/null", fifo);
	r = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"blocker\",\"mode\":\"one\","
				    "\"node\":{\"argv\":[\"sh\",\"-c\",\"%s\"]}}",
				    script));
	json_object_put(r);
	blocker = harness_wait_running(fx.client, "blocker");
	ck_assert(!harness_is_null(blocker, "run_start_time"));
	json_object_put(blocker);
	r = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"queued\",\"mode\":\"one\",\"node\":{"
				    "\"argv\":[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.phase"), "queued");
	ck_assert(harness_is_null(r, "job.run_start_time"));
	json_object_put(r);
	job = harness_job(fx.client, "queued");
	ck_assert_str_eq(harness_str(job, "phase"), "queued");
	ck_assert(harness_is_null(job, "run_start_time"));
	json_object_put(job);

	/* Everything after this instant: the queued job cannot start before it. */
	released = (double)harness_now_ms() / 1000.0;
	harness_fifo_write(fifo, "go\n");
	json_object_put(harness_wait_job(fx.client, "blocker"));
	job = harness_wait_job(fx.client, "queued");
	start = rerun_time(job, "start_time");
	run_start = rerun_time(job, "run_start_time");
	end = rerun_time(job, "end_time");
	ck_assert_msg(run_start > start, "run_start_time %f, start_time %f", run_start, start);
	ck_assert_msg(run_start >= released - 0.001, "ran at %f, released at %f", run_start,
		      released);
	ck_assert_msg(end >= run_start, "end %f before run start %f", end, run_start);
	/* The run time counts only the run: less than the whole time from acceptance. */
	ck_assert_msg(end - run_start < end - start, "ran %f of %f", end - run_start, end - start);
	json_object_put(job);
	/* The completion message says when it started too. */
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"queued\"}"));
	msg = harness_get(r, "message");
	ck_assert_double_eq_tol(rerun_time(msg, "run_start_time"), run_start, 1e-5);
	json_object_put(r);
}
END_TEST

static void rerun_assert_private(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
	ck_assert_msg((st.st_mode & 0777) == 0600, "%s has mode %o", path, st.st_mode & 0777);
}

START_TEST(test_task_survives_restart)
{
	json_object *r, *before, *after;

	r = harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"kept\",\"wait\":true,\"node\":{"
			     "\"name\":\"keeper\",\"argv\":[\"sh\",\"-c\",\"cat\"],"
			     "\"env\":{\"A\":\"1\",\"B\":\"two words\"},\"stdin\":\"x\\u0000y\","
			     "\"timeout_ms\":5000}}"));
	json_object_put(r);
	before = harness_job(fx.client, "kept");
	ck_assert(!harness_is_null(before, "run_start_time"));
	ck_assert_int_eq(json_object_get_string_len(harness_get(before, "task.node.stdin")), 3);
	/* env and stdin are in the history: only the daemon's user may read it. */
	rerun_assert_private(fx.daemon.state, "history.sqlite3");
	rerun_assert_private(fx.daemon.state, "history.sqlite3-wal");
	ck_assert_int_eq(harness_daemon_stop(&fx.daemon), 0);
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
	after = harness_job(fx.client, "kept");
	ck_assert_msg(json_object_equal(harness_get(before, "task"), harness_get(after, "task")),
		      "%s became %s", json_object_to_json_string(before),
		      json_object_to_json_string(after));
	ck_assert_double_eq_tol(rerun_time(after, "run_start_time"),
				rerun_time(before, "run_start_time"), 1e-5);
	json_object_put(before);
	json_object_put(after);
	/* And it can be re-run from there, NUL byte and all. */
	json_object_put(harness_ok(fx.client, "rerun",
				   harness_json("{\"request_id\":\"kept\",\"new_request_id\":"
						"\"kept2\"}")));
	json_object_put(harness_wait_job(fx.client, "kept2"));
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"kept2\"}"));
	ck_assert_str_eq(harness_str(r, "job.name"), "keeper");
	ck_assert_int_eq(json_object_get_string_len(harness_get(r, "message.result.stdout")), 3);
	json_object_put(r);
}
END_TEST

/* coordctl's stdout for args (after the command name), with the daemon's socket. */
static char *rerun_coordctl(const char *args)
{
	const char *coordctl = getenv("COORDCTL");
	char cmd[1024], *out;
	size_t len = 0, cap = 65536;
	FILE *p;
	size_t n;

	ck_assert_msg(coordctl != NULL, "COORDCTL is not set");
	snprintf(cmd, sizeof(cmd), "COORD_SOCKET='%s' NO_COLOR=1 '%s' %s", fx.daemon.sock, coordctl,
		 args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(out + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	return out;
}

START_TEST(test_coordctl_job_shows_command)
{
	char *out;

	harness_submit_json(fx.client,
			    "{\"request_id\":\"quoted\",\"wait\":true,\"node\":{\"argv\":["
			    "\"sh\",\"-c\",\"echo 'hi there' \",\"plain\",\"\"],\"cwd\":"
			    "\"/tmp\",\"env\":{\"X\":\"secret-value\",\"OTHER\":\"v\"}}}");
	out = rerun_coordctl("job quoted");
	ck_assert_msg(strstr(out, "sh -c 'echo '\\''hi there'\\'' ' plain ''") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "/tmp") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "OTHER") != NULL && strstr(out, "X") != NULL, "%s", out);
	/* Names of env variables, never their values. */
	ck_assert_msg(strstr(out, "secret-value") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "run time") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "waited") != NULL, "%s", out);
	free(out);
	out = rerun_coordctl("status");
	ck_assert_msg(strstr(out, "WAITED") != NULL, "%s", out);
	free(out);
	/* coordctl rerun prints the new id, with a new argv after --. */
	out = rerun_coordctl("rerun --request-id quoted-again quoted -- sh -c 'exit 0'");
	ck_assert_str_eq(out, "quoted-again\n");
	free(out);
	json_object_put(harness_wait_job(fx.client, "quoted-again"));
	out = rerun_coordctl("job quoted-again");
	ck_assert_msg(strstr(out, "sh -c 'exit 0'") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "quoted") != NULL, "%s", out);
	free(out);
}
END_TEST

/* A status page of large Tasks ends early past max_status_task_bytes; next goes on. */
START_TEST(test_status_page_of_large_tasks)
{
	size_t big = 100000;
	char *stdin_text = malloc(big + 1);
	json_object *r;
	const char *next;
	char cursor[32];
	int pages = 0, jobs = 0;

	ck_assert_ptr_nonnull(stdin_text);
	memset(stdin_text, 'x', big);
	stdin_text[big] = '\0';
	ck_assert_int_eq(harness_daemon_stop(&fx.daemon), 0);
	harness_daemon_write_config(&fx.daemon,
				    RERUN_CONFIG "[daemon]\nmax_status_task_bytes = 150000\n");
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
	for (int i = 0; i < 3; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"big%d\",\"wait\":true,"
				    "\"node\":{\"argv\":[\"true\"],\"stdin\":"
				    "\"%s\"}}",
				    i, stdin_text);
	free(stdin_text);
	/* Two of these Tasks pass the limit: one job a page, newest first. */
	r = harness_ok(fx.client, "status", harness_json("{\"limit\":10}"));
	for (;;) {
		pages++;
		ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 1);
		jobs++;
		ck_assert_int_eq(harness_int(r, "counts.closed"), 3);
		next = harness_str(r, "next");
		if (!next)
			break;
		snprintf(cursor, sizeof(cursor), "%s", next);
		json_object_put(r);
		r = harness_ok(fx.client, "status",
			       harness_json("{\"limit\":10,\"cursor\":\"%s\"}", cursor));
	}
	json_object_put(r);
	ck_assert_int_eq(pages, 3);
	ck_assert_int_eq(jobs, 3);
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

static Suite *rerun_suite(void)
{
	Suite *s = suite_create("daemon-rerun");
	TCase *tc = tcase_create("rerun");

	tcase_add_checked_fixture(tc, rerun_setup, rerun_teardown);
	tcase_add_test(tc, test_rerun_failed_with_new_argv);
	tcase_add_test(tc, test_rerun_refusals);
	tcase_add_test(tc, test_task_shown_to_owner_and_root_only);
	tcase_add_test(tc, test_run_time_after_queue);
	tcase_add_test(tc, test_task_survives_restart);
	tcase_add_test(tc, test_coordctl_job_shows_command);
	tcase_add_test(tc, test_status_page_of_large_tasks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(rerun_suite());
}
