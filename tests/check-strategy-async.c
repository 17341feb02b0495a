/*
 * The async strategy with real processes on a real event loop, behind a
 * real coordinator: outcomes, output, input, environment, process groups,
 * time limits, cancellation, the concurrency cap and the queue.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <event2/event.h>

#include "coordinator.h"
#include "jsonutil.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "task.h"
#include "testutil.h"

static struct tu_env env;
static struct coordinator *coord;
static struct strategy *async;

static void async_fixture_setup(void)
{
	tu_env_setup(&env);
	coord = NULL;
	async = NULL;
}

static void async_fixture_teardown(void)
{
	/* Frees the strategy too, killing whatever a test left running. */
	coordinator_free(coord);
	coord = NULL;
	tu_env_teardown(&env);
}

/* A coordinator with one "async" mode of the real strategy, kill_grace_ms as given. */
static void async_start_grace(unsigned max_concurrency, size_t max_queue, size_t output_limit,
			      unsigned kill_grace_ms)
{
	struct strategy_config config = {
		.mode = "async",
		.kind = "async",
		.max_concurrency = max_concurrency,
		.max_queue = max_queue,
		.output_limit = output_limit,
		.kill_grace_ms = kill_grace_ms,
		.socket_path = "/run/test/coord.sock",
	};
	coord = tu_coordinator_new(&env, &config, &async);
	ck_assert_int_eq(coordinator_start(coord, env.pub), 0);
}

static void async_start(unsigned max_concurrency, size_t max_queue, size_t output_limit)
{
	async_start_grace(max_concurrency, max_queue, output_limit, 300);
}

static int async_submit(const char *json)
{
	struct job *job = NULL;
	char *error = NULL;
	int r = coordinator_submit(coord, tu_task(json), &job, &error);

	free(error);
	return r;
}

static void async_submit_ok(const char *json)
{
	int r = async_submit(json);

	ck_assert_msg(r == 0, "submit %s: %s", json, strerror(-r));
}

struct async_wait {
	const char *request_id;
	struct message *found;
};

static bool async_has_final(void *data)
{
	struct async_wait *w = data;

	w->found = tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, w->request_id);
	if (!w->found)
		w->found = tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, w->request_id);
	/* Closed in the state too: handle_item has run. */
	return w->found && !state_find_open(env.state, w->request_id);
}

/* Runs the loop until request_id's final message is delivered; returns it. */
static struct message *async_wait_final(const char *request_id, double timeout_s)
{
	struct async_wait w = {.request_id = request_id};

	ck_assert_msg(tu_run_until(env.base, async_has_final, &w, timeout_s),
		      "%s did not finish in time", request_id);
	return w.found;
}

/* Submits json, runs the loop until request_id's final message, checks its type; returns it. */
static struct message *async_run(const char *json, const char *request_id, enum message_type type)
{
	struct message *msg;

	async_submit_ok(json);
	msg = async_wait_final(request_id, 10);
	ck_assert_int_eq(msg->type, type);
	return msg;
}

static const char *async_result_string(struct message *msg, const char *key)
{
	ck_assert_ptr_nonnull(msg->result);
	return json_get_string(msg->result, key);
}

static bool async_result_bool(struct message *msg, const char *key)
{
	ck_assert_ptr_nonnull(msg->result);
	return json_object_get_boolean(json_object_object_get(msg->result, key));
}

static struct job *async_job(const char *request_id)
{
	struct job *job;

	ck_assert_int_eq(state_get_job(env.state, request_id, &job), 0);
	return job;
}

START_TEST(test_async_success_output)
{
	struct message *msg;
	struct job *job;

	async_start(2, 0, 0);
	msg = async_run("{\"request_id\": \"ok\", \"node\": {\"argv\": [\"sh\", \"-c\","
			" \"echo out; echo err >&2\"]}}",
			"ok", MESSAGE_REQUEST_SUCCESS);
	ck_assert_str_eq(async_result_string(msg, "stdout"), "out\n");
	ck_assert_str_eq(async_result_string(msg, "stderr"), "err\n");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(msg->result, "exit_code")), 0);
	ck_assert(!async_result_bool(msg, "stdout_truncated"));
	ck_assert_int_eq(msg->error_kind, ERROR_NONE);
	job = async_job("ok");
	ck_assert_int_eq(job->status, JOB_CLOSED);
	ck_assert_int_eq(job->phase, JOB_FINISHED);
	ck_assert_int_eq(job->result, JOB_SUCCESS);
	ck_assert_int_eq(job->exit_code, 0);
	ck_assert_int_gt(job->pid, 0);
	job_unref(job);
}
END_TEST

START_TEST(test_async_exit_status)
{
	struct message *msg;
	struct job *job;

	async_start(2, 0, 0);
	msg = async_run("{\"request_id\": \"e3\", \"node\": {\"argv\": [\"sh\", \"-c\", \"exit "
			"3\"]}}",
			"e3", MESSAGE_REQUEST_FAILURE);
	ck_assert_int_eq(msg->error_kind, ERROR_EXIT);
	ck_assert_int_eq(msg->error_exit_code, 3);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "3"));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(msg->result, "exit_code")), 3);
	job = async_job("e3");
	ck_assert_int_eq(job->result, JOB_FAILURE);
	ck_assert_int_eq(job->exit_code, 3);
	ck_assert_int_eq(job->error_kind, ERROR_EXIT);
	job_unref(job);
}
END_TEST

START_TEST(test_async_killed_by_signal)
{
	struct message *msg;
	struct job *job;
	json_object *v;

	async_start(2, 0, 0);
	msg = async_run("{\"request_id\": \"sig\", \"node\": {\"argv\": [\"sh\", \"-c\", \"kill "
			"-KILL $$\"]}}",
			"sig", MESSAGE_REQUEST_FAILURE);
	ck_assert_int_eq(msg->error_kind, ERROR_SIGNAL);
	ck_assert_int_eq(msg->error_signal, SIGKILL);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "SIGKILL"));
	ck_assert(json_object_object_get_ex(msg->result, "exit_code", &v));
	ck_assert_ptr_null(v);
	job = async_job("sig");
	ck_assert(!job->has_exit_code);
	ck_assert_int_eq(job->error_kind, ERROR_SIGNAL);
	job_unref(job);
}
END_TEST

START_TEST(test_async_missing_program)
{
	struct message *msg;
	struct job *job;

	async_start(2, 0, 0);
	async_submit_ok("{\"request_id\": \"abs\", \"node\": {\"argv\": [\"/nonexistent/prog\"]}}");
	async_submit_ok(
		"{\"request_id\": \"path\", \"node\": {\"argv\": [\"coord-no-such-prog\"]}}");
	msg = async_wait_final("abs", 10);
	ck_assert_int_eq(msg->type, MESSAGE_REQUEST_FAILURE);
	if (tu_under_valgrind()) {
		/* Valgrind turns posix_spawn into a plain fork: exec fails in the child. */
		ck_assert_int_eq(msg->error_exit_code, 127);
		return;
	}
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_ptr_null(msg->result);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "/nonexistent/prog"));
	ck_assert_ptr_nonnull(strstr(msg->error_message, strerror(ENOENT)));
	msg = async_wait_final("path", 10);
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "coord-no-such-prog"));
	job = async_job("path");
	ck_assert_int_eq(job->result, JOB_FAILURE);
	ck_assert_int_eq(job->error_kind, ERROR_SPAWN);
	job_unref(job);
}
END_TEST

START_TEST(test_async_bad_cwd)
{
	char json[512];
	struct message *msg;

	async_start(2, 0, 0);
	async_submit_ok("{\"request_id\": \"nodir\", \"node\": {\"argv\": [\"true\"],"
			" \"cwd\": \"/nonexistent-dir\"}}");
	msg = async_wait_final("nodir", 10);
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "working directory"));
	ck_assert_ptr_nonnull(strstr(msg->error_message, "/nonexistent-dir"));
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"file\", \"node\": {\"argv\": [\"true\"], \"cwd\": \"%s\"}}",
		 env.db_path);
	async_submit_ok(json);
	msg = async_wait_final("file", 10);
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "not a directory"));
	/* A good one runs there. */
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"pwd\", \"node\": {\"argv\": [\"pwd\"], \"cwd\": \"%s\"}}",
		 env.dir);
	msg = async_run(json, "pwd", MESSAGE_REQUEST_SUCCESS);
	snprintf(json, sizeof(json), "%s\n", env.dir);
	ck_assert_str_eq(async_result_string(msg, "stdout"), json);
}
END_TEST

START_TEST(test_async_timeout)
{
	struct message *msg;
	struct job *job;

	async_start(2, 0, 0);
	msg = async_run("{\"request_id\": \"slow\", \"node\": {\"argv\": [\"sleep\", \"100\"],"
			" \"timeout_ms\": 200}}",
			"slow", MESSAGE_REQUEST_FAILURE);
	ck_assert_int_eq(msg->error_kind, ERROR_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "200"));
	job = async_job("slow");
	ck_assert_int_eq(job->error_kind, ERROR_TIMEOUT);
	ck_assert_double_lt(job->end_time - job->start_time, tu_scale(8));
	ck_assert(tu_wait_pid_gone(job->pid, 5));
	job_unref(job);
}
END_TEST

struct async_file {
	const char *path;
	pid_t pid;
};

static bool async_file_has_pid(void *data)
{
	struct async_file *f = data;
	char *text = tu_read_file(f->path);

	f->pid = text ? (pid_t)atoi(text) : 0;
	free(text);
	return f->pid > 0;
}

/* Runs the loop until the task has written a pid to path; returns it. */
static pid_t async_wait_pid_file(const char *path)
{
	struct async_file f = {.path = path};

	ck_assert_msg(tu_run_until(env.base, async_file_has_pid, &f, 10), "no pid in %s", path);
	return f.pid;
}

/*
 * Submits request_id: sh runs background in the background, writes its pid
 * to a file in env.dir, then runs after. The file's path (caller frees).
 */
static char *async_submit_background(const char *request_id, const char *background,
				     const char *after)
{
	char json[512], *file;

	ck_assert_int_ge(asprintf(&file, "%s/pid", env.dir), 0);
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"%s\", \"node\": {\"argv\": [\"sh\", \"-c\","
		 " \"%s & echo $! > %s%s\"]}}",
		 request_id, background, file, after);
	async_submit_ok(json);
	return file;
}

START_TEST(test_async_cancel_kills_group)
{
	struct message *msg;
	pid_t grandchild;
	char *file;

	async_start(2, 0, 0);
	file = async_submit_background("tree", "sleep 100", "; wait");
	grandchild = async_wait_pid_file(file);
	ck_assert(!tu_pid_gone(grandchild));
	ck_assert_int_eq(coordinator_cancel(coord, "tree", true, 0, NULL, NULL, NULL), 0);
	msg = async_wait_final("tree", 10);
	ck_assert_int_eq(msg->type, MESSAGE_REQUEST_FAILURE);
	ck_assert_int_eq(msg->error_kind, ERROR_CANCELLED);
	ck_assert_msg(tu_wait_pid_gone(grandchild, 5), "grandchild %d survived the cancel",
		      (int)grandchild);
	free(file);
}
END_TEST

START_TEST(test_async_leftover_stopped)
{
	struct message *msg;
	pid_t leftover;
	char *file;

	async_start(2, 0, 0);
	file = async_submit_background("bg", "sleep 100 >/dev/null 2>&1", "");
	msg = async_wait_final("bg", 10);
	ck_assert_int_eq(msg->type, MESSAGE_REQUEST_SUCCESS);
	leftover = async_wait_pid_file(file);
	ck_assert_msg(tu_wait_pid_gone(leftover, 5), "leftover %d outlived its job", (int)leftover);
	free(file);
}
END_TEST

START_TEST(test_async_leftover_holding_output)
{
	struct message *msg;
	pid_t leftover;

	async_start(2, 0, 0);
	/* The leftover keeps stdout open: the job still ends, and so does it. */
	msg = async_run("{\"request_id\": \"bg\", \"node\": {\"argv\": [\"sh\", \"-c\","
			" \"sleep 100 & echo $!\"]}}",
			"bg", MESSAGE_REQUEST_SUCCESS);
	leftover = (pid_t)atoi(async_result_string(msg, "stdout"));
	ck_assert_int_gt(leftover, 0);
	ck_assert(tu_wait_pid_gone(leftover, 5));
}
END_TEST

static bool async_pid_gone_cond(void *data)
{
	return tu_pid_gone(*(pid_t *)data);
}

START_TEST(test_async_leftover_ignoring_sigterm)
{
	char json[512], *file;
	pid_t leftover;

	async_start(2, 0, 0);
	ck_assert_int_ge(asprintf(&file, "%s/pid", env.dir), 0);
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"stubborn\", \"node\": {\"argv\": [\"sh\", \"-c\","
		 " \"trap '' TERM; sleep 100 >/dev/null 2>&1 & echo $! > %s\"]}}",
		 file);
	async_submit_ok(json);
	async_wait_final("stubborn", 10);
	leftover = async_wait_pid_file(file);
	/* SIGTERM is not enough: it gets SIGKILL too, once the grace period is over. */
	ck_assert_msg(tu_run_until(env.base, async_pid_gone_cond, &leftover, 5),
		      "leftover %d ignoring SIGTERM survived", (int)leftover);
	free(file);
}
END_TEST

/*
 * A process with exactly pid as its pid (clone3 with set_tid, root only),
 * leading a process group of its own and waiting to be killed. 0 when the
 * kernel or our privileges do not allow it.
 */
static pid_t async_spawn_with_pid(pid_t pid)
{
	pid_t tid = pid;
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long r;

	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0) {
		/* Raw syscalls only: this child is a clone, not a fork. */
		setpgid(0, 0);
		for (;;)
			pause();
	}
	return r < 0 ? 0 : (pid_t)r;
}

static bool async_group_led_by(void *data)
{
	pid_t pid = *(pid_t *)data;

	return getpgid(pid) == pid;
}

struct async_deadline {
	struct event *ev;
	bool passed;
};

static void async_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	((struct async_deadline *)arg)->passed = true;
}

static bool async_deadline_passed(void *data)
{
	return ((struct async_deadline *)data)->passed;
}

START_TEST(test_async_sweep_spares_reused_group)
{
	static const unsigned grace_ms = 2000;
	struct async_deadline deadline = {0};
	struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
	struct message *msg;
	pid_t leader, leftover, intruder;
	int status;

	if (geteuid() != 0)
		return; /* clone3 with set_tid needs root */
	/* Orphans come to us: we reap the leftover ourselves, so its pid is free at once. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	async_start_grace(2, 0, 0, grace_ms);
	/* The leftover ignores SIGTERM and lets go of the pipes: the sweep waits for it. */
	msg = async_run("{\"request_id\": \"reuse\", \"node\": {\"argv\": [\"sh\", \"-c\","
			" \"(trap '' TERM; exec sleep 0.3) </dev/null >/dev/null 2>&1 &"
			" echo $!\"]}}",
			"reuse", MESSAGE_REQUEST_SUCCESS);
	leftover = (pid_t)atoi(async_result_string(msg, "stdout"));
	ck_assert_int_gt(leftover, 0);
	{
		struct job *job = async_job("reuse");

		leader = job->pid;
		job_unref(job);
	}
	/* The group empties before the grace period is over ... */
	ck_assert_int_eq(waitpid(leftover, &status, 0), leftover);
	ck_assert_int_eq(kill(-leader, 0), -1);
	/* ... and its id goes to a new group, which is none of ours. */
	intruder = async_spawn_with_pid(leader);
	if (intruder == 0)
		return; /* no clone3 with set_tid here: nothing to show */
	ck_assert_int_eq(intruder, leader);
	ck_assert(tu_run_until(env.base, async_group_led_by, &intruder, 5));
	/* Past the moment the sweep was due: the new group is left alone. */
	deadline.ev = evtimer_new(env.base, async_deadline_cb, &deadline);
	evtimer_add(deadline.ev, &tv);
	ck_assert(tu_run_until(env.base, async_deadline_passed, &deadline, 30));
	event_free(deadline.ev);
	ck_assert_msg(waitpid(intruder, &status, WNOHANG) == 0,
		      "the sweep signalled a new process group that reused the task's id");
	kill(intruder, SIGKILL);
	ck_assert_int_eq(waitpid(intruder, &status, 0), intruder);
}
END_TEST

START_TEST(test_async_output_limit)
{
	struct message *msg;

	async_start(2, 0, 1000);
	msg = async_run("{\"request_id\": \"big\", \"node\": {\"argv\": [\"sh\", \"-c\","
			" \"head -c 300000 /dev/zero | tr '\\\\0' a; echo e >&2\"]}}",
			"big", MESSAGE_REQUEST_SUCCESS);
	ck_assert_uint_eq(strlen(async_result_string(msg, "stdout")), 1000);
	ck_assert_int_eq(async_result_string(msg, "stdout")[999], 'a');
	ck_assert(async_result_bool(msg, "stdout_truncated"));
	ck_assert_str_eq(async_result_string(msg, "stderr"), "e\n");
	ck_assert(!async_result_bool(msg, "stderr_truncated"));
}
END_TEST

START_TEST(test_async_stdin)
{
	struct message *msg;
	size_t big = 300000;
	char *json, *data;

	async_start(2, 0, 0);
	msg = async_run("{\"request_id\": \"cat\", \"node\": {\"argv\": [\"cat\"],"
			" \"stdin\": \"hello\\nworld\"}}",
			"cat", MESSAGE_REQUEST_SUCCESS);
	ck_assert_str_eq(async_result_string(msg, "stdout"), "hello\nworld");
	/* More than a pipe holds: written as the task reads. */
	data = malloc(big + 1);
	memset(data, 'x', big);
	data[big] = '\0';
	ck_assert_int_ge(asprintf(&json,
				  "{\"request_id\": \"wc\", \"node\": {\"argv\": [\"wc\", \"-c\"],"
				  " \"stdin\": \"%s\"}}",
				  data),
			 0);
	async_submit_ok(json);
	msg = async_wait_final("wc", 10);
	ck_assert_int_eq(atoi(async_result_string(msg, "stdout")), (int)big);
	/* No stdin: reads end of file at once. */
	async_submit_ok("{\"request_id\": \"empty\", \"node\": {\"argv\": [\"cat\"]}}");
	msg = async_wait_final("empty", 10);
	ck_assert_str_eq(async_result_string(msg, "stdout"), "");
	/* A task that ignores its input does not hold anything up. */
	msg = async_run("{\"request_id\": \"deaf\", \"node\": {\"argv\": [\"true\"],"
			" \"stdin\": \"ignored\"}}",
			"deaf", MESSAGE_REQUEST_SUCCESS);
	free(json);
	free(data);
}
END_TEST

START_TEST(test_async_environment)
{
	static const char script[] =
		"echo \\\"$COORD_REQUEST_ID|$COORD_NODE_ID|$COORD_RUN_ID|$COORD_SOCKET|$FOO|"
		"${NOTIFY_SOCKET-unset}|${LISTEN_FDS-unset}|${WATCHDOG_USEC-unset}|$HOME_T\\\"";
	char json[1024];
	struct message *msg;

	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("WATCHDOG_USEC", "100", 1);
	setenv("COORD_SOCKET", "/wrong", 1);
	setenv("HOME_T", "kept", 1);
	async_start(2, 0, 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("WATCHDOG_USEC");
	unsetenv("COORD_SOCKET");
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"root\", \"node\": {\"id\": \"n-root\", \"argv\": [\"sh\","
		 " \"-c\", \"%s\"]}}",
		 script);
	async_submit_ok(json);
	snprintf(json, sizeof(json),
		 "{\"request_id\": \"child\", \"parent_node_id\": \"n-root\", \"node\": {\"id\":"
		 " \"n-child\", \"env\": {\"FOO\": \"bar\", \"HOME_T\": \"over\"},"
		 " \"argv\": [\"sh\", \"-c\", \"%s\"]}}",
		 script);
	async_submit_ok(json);
	msg = async_wait_final("root", 10);
	ck_assert_str_eq(async_result_string(msg, "stdout"),
			 "root|n-root|root|/run/test/coord.sock||unset|unset|unset|kept\n");
	msg = async_wait_final("child", 10);
	ck_assert_str_eq(async_result_string(msg, "stdout"),
			 "child|n-child|root|/run/test/coord.sock|bar|unset|unset|unset|over\n");
	unsetenv("HOME_T");
}
END_TEST

/* How many lines of text start with prefix; *ret_first is the first one's rest. */
static int async_count_lines(const char *text, const char *prefix, const char **ret_first)
{
	size_t len = strlen(prefix);
	int n = 0;

	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, prefix, len) == 0 && n++ == 0)
			*ret_first = line + len;
	}
	return n;
}

START_TEST(test_async_environment_unique)
{
	extern char **environ;
	char **saved = environ;
	char *dup_env[] = {"DUP_T=first", "PATH=/usr/bin:/bin", "DUP_T=second",
			   "NOEQUALS",	  "COORD_RUN_ID=stale", NULL};
	const char *out, *first = NULL;
	struct message *msg;

	/* A daemon started with a name twice: a task sees it once, the first (as getenv). */
	environ = dup_env;
	async_start(2, 0, 0);
	environ = saved;
	async_submit_ok("{\"request_id\": \"env\", \"node\": {\"argv\": [\"env\"]}}");
	msg = async_wait_final("env", 10);
	out = async_result_string(msg, "stdout");
	ck_assert_int_eq(async_count_lines(out, "DUP_T=", &first), 1);
	ck_assert_int_eq(strncmp(first, "first\n", 6), 0);
	ck_assert_int_eq(async_count_lines(out, "COORD_RUN_ID=", &first), 1);
	ck_assert_int_eq(strncmp(first, "env\n", 4), 0);
	ck_assert_int_eq(async_count_lines(out, "NOEQUALS", &first), 0);
}
END_TEST

struct async_cap {
	unsigned max_running;
	unsigned max_reported;
};

static void async_count_running_cb(struct job *job, void *userdata)
{
	unsigned *n = userdata;

	if (job->phase == JOB_RUNNING)
		(*n)++;
}

static void async_describe_cb(const struct strategy_info *info, void *userdata)
{
	struct async_cap *cap = userdata;

	if (info->running > cap->max_reported)
		cap->max_reported = info->running;
}

static bool async_cap_all_closed(void *data)
{
	struct async_cap *cap = data;
	unsigned running = 0;

	state_foreach_open(env.state, async_count_running_cb, &running);
	if (running > cap->max_running)
		cap->max_running = running;
	coordinator_foreach_mode(coord, async_describe_cb, cap);
	return state_open_count(env.state) == 0;
}

static void async_info_cb(const struct strategy_info *info, void *userdata)
{
	*(struct strategy_info *)userdata = *info;
}

/* Runs one loop turn: queued tasks start on the turn after their submit. */
static void async_turn(void)
{
	event_base_loop(env.base, EVLOOP_NONBLOCK);
}

/* Turns the loop until the spawner thread has started id's process. */
static void async_await_running(const char *id)
{
	time_t deadline = time(NULL) + 10;

	while (state_find_open(env.state, id)->phase != JOB_RUNNING && time(NULL) < deadline)
		event_base_loop(env.base, EVLOOP_ONCE);
	ck_assert_int_eq(state_find_open(env.state, id)->phase, JOB_RUNNING);
}

START_TEST(test_async_concurrency_cap)
{
	struct async_cap cap = {0};
	struct strategy_info info;
	char json[256], id[8];

	async_start(2, 0, 0);
	for (int i = 0; i < 5; i++) {
		snprintf(json, sizeof(json),
			 "{\"request_id\": \"j%d\", \"node\": {\"argv\": [\"sleep\", \"0.3\"]}}",
			 i);
		async_submit_ok(json);
	}
	async_turn();
	/* The first two run at once, the rest wait their turn in order. */
	async_await_running("j0");
	async_await_running("j1");
	for (int i = 2; i < 5; i++) {
		snprintf(id, sizeof(id), "j%d", i);
		ck_assert_int_eq(state_find_open(env.state, id)->phase, JOB_QUEUED);
	}
	coordinator_foreach_mode(coord, async_info_cb, &info);
	ck_assert_str_eq(info.strategy, "async");
	ck_assert_uint_eq(info.max_concurrency, 2);
	ck_assert_uint_eq(info.running, 2);
	ck_assert_uint_eq(info.queued, 3);
	ck_assert(tu_run_until(env.base, async_cap_all_closed, &cap, 20));
	ck_assert_uint_le(cap.max_running, 2);
	ck_assert_uint_le(cap.max_reported, 2);
	ck_assert_uint_eq(cap.max_running, 2);
	ck_assert_uint_eq(tu_collector_count(&env.msgs, MESSAGE_REQUEST_SUCCESS, NULL), 5);
	/* FIFO: the queued ones started in the order they came. */
	for (int i = 1; i < 5; i++) {
		struct job *a, *b;
		char prev[8];

		snprintf(prev, sizeof(prev), "j%d", i - 1);
		snprintf(id, sizeof(id), "j%d", i);
		a = async_job(prev);
		b = async_job(id);
		ck_assert_uint_le(a->pid_starttime, b->pid_starttime);
		job_unref(a);
		job_unref(b);
	}
	coordinator_foreach_mode(coord, async_info_cb, &info);
	ck_assert_uint_eq(info.running, 0);
	ck_assert_uint_eq(info.queued, 0);
}
END_TEST

START_TEST(test_async_max_queue)
{
	struct strategy_info info;
	struct job *job;
	struct message *msg;

	async_start(1, 1, 0);
	async_submit_ok("{\"request_id\": \"a\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_submit_ok("{\"request_id\": \"b\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_turn();
	ck_assert_int_eq(
		async_submit("{\"request_id\": \"c\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}"),
		-EBUSY);
	ck_assert_int_eq(state_get_job(env.state, "c", &job), -ENOENT);
	msg = tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, "c", 5);
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "full"));
	coordinator_foreach_mode(coord, async_info_cb, &info);
	ck_assert_uint_eq(info.running, 1);
	ck_assert_uint_eq(info.queued, 1);
	ck_assert_uint_eq(info.max_queue, 1);
}
END_TEST

START_TEST(test_async_cancel_queued)
{
	struct message *msg;
	struct job *job;

	async_start(1, 0, 0);
	async_submit_ok("{\"request_id\": \"a\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_submit_ok("{\"request_id\": \"b\", \"node\": {\"argv\": [\"true\"]}}");
	ck_assert_int_eq(coordinator_cancel(coord, "b", false, 0, NULL, NULL, NULL), 0);
	msg = async_wait_final("b", 5);
	ck_assert_int_eq(msg->error_kind, ERROR_CANCELLED);
	ck_assert_ptr_null(msg->result);
	job = async_job("b");
	ck_assert_int_eq(job->pid, 0);
	job_unref(job);
	async_await_running("a");
}
END_TEST

START_TEST(test_async_lend_slot)
{
	struct message *msg;

	async_start(1, 0, 0);
	async_submit_ok("{\"request_id\": \"parent\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_submit_ok("{\"request_id\": \"child\", \"node\": {\"argv\": [\"true\"]}}");
	async_turn();
	ck_assert_int_eq(state_find_open(env.state, "child")->phase, JOB_QUEUED);
	async_await_running("parent");
	/* The parent waits for its child: its slot goes to the child. */
	ck_assert_int_eq(coordinator_lend_slot(coord, "parent"), 0);
	msg = async_wait_final("child", 10);
	ck_assert_int_eq(msg->type, MESSAGE_REQUEST_SUCCESS);
	ck_assert_int_eq(state_find_open(env.state, "parent")->phase, JOB_RUNNING);
	ck_assert_int_eq(coordinator_return_slot(coord, "parent"), 0);
	ck_assert_int_eq(coordinator_return_slot(coord, "parent"), -ENOENT);
	/* With the slot back, the next task waits again. */
	async_submit_ok("{\"request_id\": \"next\", \"node\": {\"argv\": [\"true\"]}}");
	async_turn();
	ck_assert_int_eq(state_find_open(env.state, "next")->phase, JOB_QUEUED);
	ck_assert_int_eq(coordinator_cancel(coord, "parent", false, 0, NULL, NULL, NULL), 0);
	ck_assert_int_eq(async_wait_final("parent", 10)->error_kind, ERROR_CANCELLED);
	ck_assert_int_eq(async_wait_final("next", 10)->type, MESSAGE_REQUEST_SUCCESS);
}
END_TEST

START_TEST(test_async_shutdown)
{
	struct message *msg;

	async_start(1, 0, 0);
	async_submit_ok("{\"request_id\": \"a\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_submit_ok("{\"request_id\": \"b\", \"node\": {\"argv\": [\"sleep\", \"100\"]}}");
	async_turn();
	ck_assert_int_eq(state_find_open(env.state, "a")->phase, JOB_RUNNING);
	coordinator_shutdown(coord);
	msg = async_wait_final("a", 10);
	ck_assert_int_eq(msg->error_kind, ERROR_CANCELLED);
	/* b never started: it stays queued (in the history too) for the next start. */
	async_turn();
	ck_assert_ptr_null(tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, "b"));
	ck_assert_int_eq(state_find_open(env.state, "b")->phase, JOB_QUEUED);
	ck_assert_uint_eq(state_open_count(env.state), 1);
	ck_assert_int_eq(async_submit("{\"request_id\": \"c\", \"node\": {\"argv\": [\"true\"]}}"),
			 -ESHUTDOWN);
	/* The strategy itself refuses too. */
	ck_assert(!async->ops->can_accept(async));
	ck_assert_int_eq(async->ops->execute(async, tu_task("{\"node\": {\"argv\": [\"x\"]}}")),
			 -ESHUTDOWN);
}
END_TEST

START_TEST(test_async_unknown_kind)
{
	struct strategy_config config = {.mode = "m", .kind = "threads"};
	struct strategy *s = NULL;
	char *error = NULL;

	ck_assert_int_eq(strategy_kind_new(env.base, env.pub, &config, &s, &error), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(error, "threads"));
	free(error);
	ck_assert(strategy_kind_known("async"));
	ck_assert(!strategy_kind_known("threads"));
}
END_TEST

static Suite *strategy_async_suite(void)
{
	Suite *s = suite_create("strategy-async");
	TCase *tc = tcase_create("processes");

	tcase_add_checked_fixture(tc, async_fixture_setup, async_fixture_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_async_success_output);
	tcase_add_test(tc, test_async_exit_status);
	tcase_add_test(tc, test_async_killed_by_signal);
	tcase_add_test(tc, test_async_missing_program);
	tcase_add_test(tc, test_async_bad_cwd);
	tcase_add_test(tc, test_async_timeout);
	tcase_add_test(tc, test_async_cancel_kills_group);
	tcase_add_test(tc, test_async_leftover_stopped);
	tcase_add_test(tc, test_async_leftover_holding_output);
	tcase_add_test(tc, test_async_leftover_ignoring_sigterm);
	tcase_add_test(tc, test_async_sweep_spares_reused_group);
	tcase_add_test(tc, test_async_output_limit);
	tcase_add_test(tc, test_async_stdin);
	tcase_add_test(tc, test_async_environment);
	tcase_add_test(tc, test_async_environment_unique);
	tcase_add_test(tc, test_async_concurrency_cap);
	tcase_add_test(tc, test_async_max_queue);
	tcase_add_test(tc, test_async_cancel_queued);
	tcase_add_test(tc, test_async_lend_slot);
	tcase_add_test(tc, test_async_shutdown);
	tcase_add_test(tc, test_async_unknown_kind);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(strategy_async_suite());
}
