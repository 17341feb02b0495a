/*
 * The daemon's life over the real socket: tasks that submit their own
 * children, slot lending, drain on SIGTERM, restarts (clean and after
 * SIGKILL), the state dir and socket locks, and SIGHUP reload.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define LIFE_CONFIG                                                                                \
	HARNESS_CONFIG_DAEMON                                                                      \
	"log_level = info\n"                                                                       \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	HARNESS_CONFIG_MODE("one", "1")
/* clang-format on */

static const char *life_submit_child(void)
{
	const char *p = getenv("SUBMIT_CHILD");

	ck_assert_msg(p != NULL, "SUBMIT_CHILD is not set");
	return p;
}

static bool life_gone_cb(void *arg)
{
	return !harness_pid_alive(*(pid_t *)arg);
}

START_TEST(test_task_submits_child)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r, *parent, *child, *jobs;
	const char *out;

	harness_daemon_new(&d, LIFE_CONFIG);
	c = harness_client_new(d.sock);
	r = harness_ok(
		c, "submit",
		harness_json("{\"request_id\":\"dad\",\"wait\":true,\"node\":{\"id\":\"n-dad\","
			     "\"argv\":[\"%s\",\"-i\",\"kid\",\"sh\",\"-c\","
			     "\"echo from the child\"]}}",
			     life_submit_child()));
	ck_assert_msg(strcmp(harness_str(r, "job.result"), "success") == 0, "%s",
		      json_object_to_json_string(r));
	/* The parent printed the answer it got: the child's job and final message. */
	out = harness_str(r, "message.result.stdout");
	ck_assert_ptr_nonnull(strstr(out, "\"request_id\":\"kid\""));
	ck_assert_ptr_nonnull(strstr(out, "from the child"));
	json_object_put(r);

	child = harness_job(c, "kid");
	ck_assert_str_eq(harness_str(child, "parent_node_id"), "n-dad");
	ck_assert_str_eq(harness_str(child, "run_id"), "dad");
	ck_assert_str_eq(harness_str(child, "result"), "success");
	json_object_put(child);
	/* The tree: the run has both, the parent's children are the one kid. */
	r = harness_ok(c, "status", harness_json("{\"run_id\":\"dad\"}"));
	ck_assert_int_eq(harness_int(r, "counts.success"), 2);
	jobs = harness_get(r, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 2);
	ck_assert_str_eq(harness_str(jobs, "0.request_id"), "kid");
	ck_assert_str_eq(harness_str(jobs, "1.request_id"), "dad");
	json_object_put(r);
	r = harness_ok(c, "status", harness_json("{\"parent_node_id\":\"n-dad\"}"));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 1);
	json_object_put(r);
	parent = harness_job(c, "dad");
	ck_assert(harness_is_null(parent, "parent_node_id"));
	json_object_put(parent);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_slot_lending)
{
	const char *sc = life_submit_child();
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r;

	harness_daemon_new(&d, LIFE_CONFIG);
	c = harness_client_new(d.sock);
	/* One slot, and three parents in a row each waiting for their child. */
	r = harness_call(c, "submit",
			 harness_json("{\"request_id\":\"l0\",\"mode\":\"one\",\"wait\":true,"
				      "\"node\":{\"argv\":[\"%s\",\"-m\",\"one\",\"-i\",\"l1\","
				      "\"%s\",\"-m\",\"one\",\"-i\",\"l2\","
				      "\"%s\",\"-m\",\"one\",\"-i\",\"l3\",\"true\"]}}",
				      sc, sc, sc),
			 HARNESS_WAIT_MS * 2);
	ck_assert_msg(json_object_object_get_ex(r, "result", NULL), "%s",
		      json_object_to_json_string(r));
	ck_assert_str_eq(harness_str(r, "result.job.result"), "success");
	json_object_put(r);
	r = harness_ok(c, "status", harness_json("{\"run_id\":\"l0\"}"));
	ck_assert_int_eq(harness_int(r, "counts.success"), 4);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
	/* The slot is back: the mode runs nothing and a new job gets it. */
	r = harness_ok(c, "modes", NULL);
	for (size_t i = 0; i < json_object_array_length(harness_get(r, "modes")); i++) {
		json_object *m = json_object_array_get_idx(harness_get(r, "modes"), i);

		ck_assert_int_eq(harness_int(m, "running"), 0);
	}
	json_object_put(r);
	r = harness_ok(
		c, "submit",
		harness_json("{\"mode\":\"one\",\"wait\":true,\"node\":{\"argv\":[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_sigterm_drain)
{
	struct harness_daemon d;
	struct harness_client *c, *sub;
	json_object *r, *job;
	char pidfile[256];
	pid_t task;
	int status;

	harness_daemon_new(&d, LIFE_CONFIG);
	c = harness_client_new(d.sock);
	snprintf(pidfile, sizeof(pidfile), "%s/task.pid", d.dir);
	/* One task that ignores SIGTERM's grace, one that finishes in time, one queued. */
	r = harness_ok(c, "submit",
		       harness_json("{\"request_id\":\"long\",\"node\":{\"argv\":[\"sh\",\"-c\","
				    "\"echo $$ > %s; exec sleep 60\"]}}",
				    pidfile));
	json_object_put(r);
	r = harness_ok(c, "submit",
		       harness_json("{\"request_id\":\"short\",\"node\":{\"argv\":[\"sleep\","
				    "\"0.3\"]}}"));
	json_object_put(r);
	r = harness_ok(c, "submit",
		       harness_json("{\"request_id\":\"blocker\",\"mode\":\"one\",\"node\":{"
				    "\"argv\":[\"sleep\",\"60\"]}}"));
	json_object_put(r);
	r = harness_ok(c, "submit",
		       harness_json("{\"request_id\":\"queued\",\"mode\":\"one\",\"node\":{"
				    "\"argv\":[\"true\"]}}"));
	json_object_put(r);
	task = harness_read_pid(pidfile);
	json_object_put(harness_wait_running(c, "long"));
	json_object_put(harness_wait_running(c, "short"));
	json_object_put(harness_wait_running(c, "blocker"));
	sub = harness_client_new(d.sock);
	r = harness_ok(sub, "subscribe",
		       harness_json("{\"types\":[\"request_failure\","
				    "\"request_success\"]}"));
	json_object_put(r);

	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	status = harness_daemon_wait_exit(&d, HARNESS_WAIT_MS);
	ck_assert_msg(status >= 0, "coordinatord did not exit after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert(harness_until(life_gone_cb, &task, HARNESS_WAIT_MS));
	/* Subscribers heard every end before the daemon went; the queued job did not end. */
	for (int i = 0; i < 3; i++) {
		json_object *n = harness_notification(sub, "message", HARNESS_WAIT_MS);

		ck_assert_msg(n != NULL, "only %d of 3 ends were published", i);
		ck_assert_str_ne(harness_str(n, "params.message.request_id"), "queued");
		json_object_put(n);
	}
	harness_client_free(sub);
	harness_client_free(c);

	/* Nothing is lost: cancelled (not lost) after the grace, or finished. */
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	job = harness_job(c, "long");
	ck_assert_str_eq(harness_str(job, "status"), "closed");
	ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
	json_object_put(job);
	job = harness_job(c, "short");
	ck_assert_str_eq(harness_str(job, "result"), "success");
	json_object_put(job);
	/* The queued job never started: it kept its place, and runs now (v2). */
	job = harness_wait_job(c, "queued");
	ck_assert_str_eq(harness_str(job, "result"), "success");
	json_object_put(job);
	r = harness_ok(c, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_sigint_idle)
{
	struct harness_daemon d;
	int status;

	harness_daemon_new(&d, LIFE_CONFIG);
	ck_assert_int_eq(kill(d.pid, SIGINT), 0);
	status = harness_daemon_wait_exit(&d, HARNESS_WAIT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	/* The socket file is gone with it. */
	ck_assert_int_ne(access(d.sock, F_OK), 0);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_restart_keeps_history)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r, *before, *after;
	long long seq, id;

	harness_daemon_new(&d, LIFE_CONFIG);
	c = harness_client_new(d.sock);
	for (int i = 0; i < 5; i++)
		harness_submit_json(c,
				    "{\"request_id\":\"keep%d\",\"wait\":true,"
				    "\"node\":{\"argv\":[\"sh\",\"-c\","
				    "\"echo %d\"]}}",
				    i, i);
	before = harness_job(c, "keep3");
	harness_client_free(c);
	ck_assert_int_eq(harness_daemon_stop(&d), 0);

	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	after = harness_job(c, "keep3");
	ck_assert_msg(json_object_equal(before, after), "%s became %s",
		      json_object_to_json_string(before), json_object_to_json_string(after));
	json_object_put(before);
	json_object_put(after);
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"keep3\"}"));
	ck_assert_str_eq(harness_str(r, "message.result.stdout"), "3\n");
	json_object_put(r);
	/* request_ids stay used. */
	ck_assert_int_eq(harness_err(c, "submit",
				     harness_json("{\"request_id\":\"keep0\",\"node\":{\"argv\":["
						  "\"true\"]}}"),
				     NULL),
			 1002);
	/* seq goes on where it stopped: 10 messages, then the creation failure just now. */
	r = harness_ok(c, "subscribe", harness_json("{\"since_seq\":0}"));
	seq = harness_int(r, "seq");
	id = harness_int(r, "subscription");
	json_object_put(r);
	ck_assert_int_eq(seq, 11);
	for (long long want = 1; want <= seq; want++) {
		json_object *n = harness_notification(c, "message", HARNESS_WAIT_MS);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(harness_int(n, "params.subscription"), id);
		ck_assert_int_eq(harness_int(n, "params.message.seq"), want);
		json_object_put(n);
	}
	harness_submit_json(c, "{\"request_id\":\"next\",\"wait\":true,"
			       "\"node\":{\"argv\":[\"true\"]}}");
	for (long long want = seq + 1; want <= seq + 2; want++) {
		json_object *n = harness_notification(c, "message", HARNESS_WAIT_MS);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(harness_int(n, "params.message.seq"), want);
		ck_assert_str_eq(harness_str(n, "params.message.request_id"), "next");
		json_object_put(n);
	}
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_kill9_restart)
{
	struct harness_daemon d;
	struct harness_client *c;
	char pidfile[256], bgfile[256];
	json_object *r, *job;
	pid_t task, bg;
	long long seq, lost = 0;
	int status;

	harness_daemon_new(&d, LIFE_CONFIG);
	c = harness_client_new(d.sock);
	snprintf(pidfile, sizeof(pidfile), "%s/task.pid", d.dir);
	snprintf(bgfile, sizeof(bgfile), "%s/bg.pid", d.dir);
	/* A task with a process of its own in the background, and one queued behind a slot. */
	harness_submit_json(c,
			    "{\"request_id\":\"victim\",\"node\":{\"argv\":["
			    "\"sh\",\"-c\",\"sleep 60 & echo $! > %s; "
			    "echo $$ > %s; wait\"]}}",
			    bgfile, pidfile);
	harness_submit_json(c, "{\"request_id\":\"slot\",\"mode\":\"one\",\"node\":"
			       "{\"argv\":[\"sleep\",\"60\"]}}");
	harness_submit_json(c, "{\"request_id\":\"waiting\",\"mode\":\"one\","
			       "\"node\":{\"argv\":[\"true\"]}}");
	harness_submit_json(c, "{\"request_id\":\"done\",\"wait\":true,"
			       "\"node\":{\"argv\":[\"true\"]}}");
	task = harness_read_pid(pidfile);
	bg = harness_read_pid(bgfile);
	json_object_put(harness_wait_running(c, "victim"));
	json_object_put(harness_wait_running(c, "slot"));
	r = harness_ok(c, "subscribe", NULL);
	seq = harness_int(r, "seq");
	json_object_put(r);
	harness_client_free(c);

	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	/* The task outlived the daemon... */
	ck_assert(harness_pid_alive(task));
	ck_assert(harness_pid_alive(bg));

	/*
	 * ...until the next start: every job that ran closes as lost, and
	 * nothing is left; the one that never started keeps its place and runs.
	 */
	harness_daemon_start(&d);
	ck_assert(harness_until(life_gone_cb, &task, HARNESS_WAIT_MS));
	ck_assert(harness_until(life_gone_cb, &bg, HARNESS_WAIT_MS));
	c = harness_client_new(d.sock);
	job = harness_wait_job(c, "waiting");
	ck_assert_str_eq(harness_str(job, "result"), "success");
	json_object_put(job);
	static const char *const ids[] = {"victim", "slot"};
	for (size_t i = 0; i < 2; i++) {
		job = harness_job(c, ids[i]);
		ck_assert_str_eq(harness_str(job, "status"), "closed");
		ck_assert_str_eq(harness_str(job, "result"), "failure");
		ck_assert_str_eq(harness_str(job, "error.kind"), "lost");
		json_object_put(job);
	}
	job = harness_job(c, "done");
	ck_assert_str_eq(harness_str(job, "result"), "success");
	json_object_put(job);
	/*
	 * The lost messages were published after what was there, with no gap,
	 * and before the requeued job's end.
	 */
	r = harness_ok(c, "subscribe", harness_json("{\"since_seq\":%lld}", seq));
	ck_assert_int_eq(harness_int(r, "seq"), seq + 3);
	json_object_put(r);
	for (long long want = seq + 1; want <= seq + 3; want++) {
		json_object *n = harness_notification(c, "message", HARNESS_WAIT_MS);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(harness_int(n, "params.message.seq"), want);
		if (want == seq + 3) {
			ck_assert_str_eq(harness_str(n, "params.message.type"), "request_success");
			ck_assert_str_eq(harness_str(n, "params.message.request_id"), "waiting");
		} else if (strcmp(harness_str(n, "params.message.error.kind"), "lost") == 0) {
			lost++;
		}
		json_object_put(n);
	}
	ck_assert_int_eq(lost, 2);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* d, and no other daemon, answers on its socket: a ping from a new connection names its pid. */
static void life_expect_serving(const struct harness_daemon *d)
{
	struct harness_client *c = harness_client_new(d->sock);
	json_object *r = harness_ok(c, "ping", NULL);

	ck_assert_int_eq(harness_int(r, "pid"), d->pid);
	json_object_put(r);
	harness_client_free(c);
}

START_TEST(test_second_daemon_same_state_dir)
{
	const char *daemon = getenv("COORDINATORD");
	struct harness_daemon d;
	char sock2[256], pidtext[32], *err;
	int status;

	harness_daemon_new(&d, LIFE_CONFIG);
	snprintf(sock2, sizeof(sock2), "%s/other.sock", d.dir);
	{
		char *const argv[] = {(char *)daemon, "--socket", sock2,
				      "--state-dir",  d.state,	  NULL};

		status = harness_run(argv, &err);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x", status);
	/* The message names the holder. */
	snprintf(pidtext, sizeof(pidtext), "pid %d", (int)d.pid);
	ck_assert_msg(strstr(err, pidtext), "\"%s\" does not name %s", err, pidtext);
	ck_assert_ptr_nonnull(strstr(err, d.state));
	free(err);
	ck_assert_int_ne(access(sock2, F_OK), 0);
	/* The first is unharmed. */
	life_expect_serving(&d);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_second_daemon_same_socket)
{
	const char *daemon = getenv("COORDINATORD");
	struct harness_daemon d;
	char state2[256], *err;
	int status;

	harness_daemon_new(&d, LIFE_CONFIG);
	snprintf(state2, sizeof(state2), "%s/state2", d.dir);
	{
		char *const argv[] = {(char *)daemon, "--socket", d.sock,
				      "--state-dir",  state2,	  NULL};

		status = harness_run(argv, &err);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x", status);
	ck_assert_msg(strstr(err, d.sock), "\"%s\" does not name the socket", err);
	free(err);
	/* The socket file is still the first daemon's. */
	life_expect_serving(&d);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_stale_socket)
{
	struct harness_daemon d;
	int status;

	/* A socket file left by a killed daemon does not stop the next one. */
	harness_daemon_new(&d, LIFE_CONFIG);
	kill(d.pid, SIGKILL);
	waitpid(d.pid, &status, 0);
	d.pid = 0;
	ck_assert_int_eq(access(d.sock, F_OK), 0);
	harness_daemon_start(&d);
	life_expect_serving(&d);
	harness_daemon_cleanup(&d);
}
END_TEST

struct life_log_wait {
	struct harness_daemon *d;
	const char *needle;
	size_t from;
};

static bool life_log_has_cb(void *arg)
{
	struct life_log_wait *w = arg;
	char *log = harness_daemon_log(w->d);
	bool found = strlen(log) > w->from && strstr(log + w->from, w->needle);

	free(log);
	return found;
}

static size_t life_log_len(struct harness_daemon *d)
{
	char *log = harness_daemon_log(d);
	size_t n = strlen(log);

	free(log);
	return n;
}

static void life_ping(struct harness_daemon *d)
{
	struct harness_client *c = harness_client_new(d->sock);
	json_object *r = harness_ok(c, "ping", NULL);

	json_object_put(r);
	harness_client_free(c);
}

START_TEST(test_sighup_reload)
{
	struct harness_daemon d;
	struct life_log_wait w = {.d = &d};
	char *log;
	size_t mark;

	harness_daemon_new(&d, LIFE_CONFIG);
	/* At info, a client connecting is not logged. */
	life_ping(&d);
	mark = life_log_len(&d);
	life_ping(&d);
	harness_sleep_ms(100);
	log = harness_daemon_log(&d);
	ck_assert_msg(!strstr(log + mark, "debug"), "%s", log + mark);
	free(log);

	/* Reload at debug. */
	harness_daemon_write_config(&d, LIFE_CONFIG "[daemon]\nlog_level = debug\n");
	w.from = life_log_len(&d);
	w.needle = "reloaded";
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(harness_until(life_log_has_cb, &w, HARNESS_WAIT_MS));
	w.from = life_log_len(&d);
	w.needle = "debug";
	life_ping(&d);
	ck_assert(harness_until(life_log_has_cb, &w, HARNESS_WAIT_MS));

	/* A broken file is refused and the running settings stay. */
	harness_daemon_write_config(&d, "[daemon]\nlog_level = loud\n");
	w.from = life_log_len(&d);
	w.needle = "reload refused";
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(harness_until(life_log_has_cb, &w, HARNESS_WAIT_MS));
	log = harness_daemon_log(&d);
	ck_assert_msg(strstr(log + w.from, "d.conf:2"), "the error names no FILE:LINE: %s",
		      log + w.from);
	free(log);
	w.from = life_log_len(&d);
	w.needle = "debug";
	life_ping(&d);
	ck_assert(harness_until(life_log_has_cb, &w, HARNESS_WAIT_MS));
	ck_assert_int_eq(kill(d.pid, 0), 0);

	/* Back to info: quiet again. */
	harness_daemon_write_config(&d, LIFE_CONFIG);
	w.from = life_log_len(&d);
	w.needle = "reloaded";
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(harness_until(life_log_has_cb, &w, HARNESS_WAIT_MS));
	mark = life_log_len(&d);
	life_ping(&d);
	harness_sleep_ms(100);
	log = harness_daemon_log(&d);
	ck_assert_msg(!strstr(log + mark, "debug"), "%s", log + mark);
	free(log);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_bad_config_refused)
{
	struct harness_daemon d;
	char *log;
	pid_t pid;
	int status;

	harness_daemon_init(&d, "[daemon]\nmax_connections = lots\n");
	pid = harness_daemon_spawn(&d);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	log = harness_daemon_log(&d);
	ck_assert_msg(strstr(log, "d.conf:2"), "%s", log);
	ck_assert_msg(strstr(log, "max_connections"), "%s", log);
	free(log);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *life_suite(void)
{
	Suite *s = suite_create("daemon-lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_test(tc, test_task_submits_child);
	tcase_add_test(tc, test_slot_lending);
	tcase_add_test(tc, test_sigterm_drain);
	tcase_add_test(tc, test_sigint_idle);
	tcase_add_test(tc, test_restart_keeps_history);
	tcase_add_test(tc, test_kill9_restart);
	tcase_add_test(tc, test_second_daemon_same_state_dir);
	tcase_add_test(tc, test_second_daemon_same_socket);
	tcase_add_test(tc, test_stale_socket);
	tcase_add_test(tc, test_sighup_reload);
	tcase_add_test(tc, test_bad_config_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(life_suite());
}
