/*
 * Modes while the daemon runs, over the real socket: mode_set pauses and
 * resumes a mode and changes its max_concurrency at once, only for root
 * and the daemon's own user; SIGHUP applies the config's limits and adds
 * new modes. Tasks block on fifos the test opens, never on fixed sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define MODES_CONFIG                                                                               \
	HARNESS_CONFIG_DAEMON                                                                      \
	"log_level = info\n"                                                                       \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = daemon\n"                                                                 \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	HARNESS_CONFIG_MODE("one", "1")
/* clang-format on */

static struct harness_fixture fx;

static void modes_setup(void)
{
	harness_fixture_start(&fx, MODES_CONFIG);
}

static void modes_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* The entry of `modes` for mode (new reference), or NULL when there is none. */
static json_object *modes_entry(const char *mode)
{
	json_object *r = harness_ok(fx.client, "modes", NULL), *list = harness_get(r, "modes");
	json_object *found = NULL;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *m = json_object_array_get_idx(list, i);

		if (strcmp(harness_str(m, "name"), mode) == 0)
			found = json_object_get(m);
	}
	json_object_put(r);
	return found;
}

struct modes_counts {
	const char *mode;
	long long running, queued;
};

static bool modes_counts_cb(void *arg)
{
	struct modes_counts *want = arg;
	json_object *m = modes_entry(want->mode);
	bool ok = m && harness_int(m, "running") == want->running &&
		  harness_int(m, "queued") == want->queued;

	json_object_put(m);
	return ok;
}

/* Waits until mode has that many running and queued tasks; fails the test if it never does. */
static void modes_expect(const char *mode, long long running, long long queued)
{
	struct modes_counts want = {mode, running, queued};
	json_object *m;

	if (harness_until(modes_counts_cb, &want, HARNESS_WAIT_MS))
		return;
	m = modes_entry(mode);
	ck_abort_msg("mode %s never had %lld running and %lld queued: %s", mode, running, queued,
		     m ? json_object_to_json_string(m) : "(no such mode)");
}

/* mode_set of paused (the result) and of max_concurrency. */
static json_object *modes_pause(const char *mode, bool paused)
{
	return harness_ok(
		fx.client, "mode_set",
		harness_json("{\"mode\":\"%s\",\"paused\":%s}", mode, paused ? "true" : "false"));
}

static json_object *modes_max(const char *mode, int max_concurrency)
{
	return harness_ok(
		fx.client, "mode_set",
		harness_json("{\"mode\":\"%s\",\"max_concurrency\":%d}", mode, max_concurrency));
}

/* A fifo in the daemon's temp dir; a task that reads it runs until the test opens it. */
static void modes_fifo(char *path, size_t size, const char *name)
{
	snprintf(path, size, "%s/%s.fifo", fx.daemon.dir, name);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
}

static void modes_submit_blocked(const char *mode, const char *request_id, const char *fifo)
{
	harness_submit_json(fx.client,
			    "{\"request_id\":\"%s\",\"mode\":\"%s\",\"node\":{\"argv\":[\"sh\","
			    "\"-c\",\"exec cat \\\"$0\\\" >/dev/null\",\"%s\"]}}",
			    request_id, mode, fifo);
}

/* Lets the task reading fifo end: opens it for writing once it has a reader, and closes it. */
static void modes_release(const char *fifo)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int fd;

	while ((fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		ck_assert_msg(errno == ENXIO, "open %s: %s", fifo, strerror(errno));
		ck_assert_msg(harness_now_ms() < deadline, "nobody ever read %s", fifo);
		harness_sleep_ms(10);
	}
	close(fd);
}

static const char *modes_phase(const char *request_id, char *buf, size_t size)
{
	json_object *r =
		harness_ok(fx.client, "job", harness_json("{\"request_id\":\"%s\"}", request_id));

	snprintf(buf, size, "%s", harness_str(r, "job.phase"));
	json_object_put(r);
	return buf;
}

static char *modes_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = calloc(1, 4096);

	ck_assert_ptr_nonnull(text);
	if (f) {
		size_t n = fread(text, 1, 4095, f);

		text[n] = '\0';
		fclose(f);
	}
	return text;
}

/* ---- pause and resume ---- */

START_TEST(test_pause_queues_then_resume_in_order)
{
	static const char *const ids[] = {"p-a", "p-b", "p-c", "p-d"};
	char order[256], phase[32];
	json_object *r;
	char *text;

	snprintf(order, sizeof(order), "%s/order", fx.daemon.dir);
	r = modes_pause("one", true);
	ck_assert(json_object_get_boolean(harness_get(r, "mode.paused")));
	ck_assert_str_eq(harness_str(r, "mode.name"), "one");
	ck_assert_int_eq(harness_int(r, "mode.max_concurrency"), 1);
	json_object_put(r);
	/* Paused: every submit is accepted and queued, nothing starts. */
	for (size_t i = 0; i < 4; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"%s\",\"mode\":\"one\",\"node\":{\"argv\":["
				    "\"sh\",\"-c\",\"echo $COORD_REQUEST_ID >> \\\"$0\\\"\","
				    "\"%s\"]}}",
				    ids[i], order);
	modes_expect("one", 0, 4);
	/* Another mode is not paused by it. */
	r = harness_submit(fx.client, NULL, (const char *const[]){"true", NULL});
	json_object_put(harness_wait_job(fx.client, harness_str(r, "request_id")));
	json_object_put(r);
	/* Nothing can be awaited for "never starts": give it a moment to go wrong. */
	harness_sleep_ms(300);
	modes_expect("one", 0, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(modes_phase(ids[i], phase, sizeof(phase)), "queued");
	ck_assert_int_eq(access(order, F_OK), -1);
	r = modes_entry("one");
	ck_assert(json_object_get_boolean(harness_get(r, "paused")));
	json_object_put(r);

	/* Resumed: they run, one at a time, in the order they were submitted. */
	r = modes_pause("one", false);
	ck_assert(!json_object_get_boolean(harness_get(r, "mode.paused")));
	json_object_put(r);
	for (size_t i = 0; i < 4; i++)
		json_object_put(harness_wait_job(fx.client, ids[i]));
	text = modes_read_file(order);
	ck_assert_str_eq(text, "p-a\np-b\np-c\np-d\n");
	free(text);
	modes_expect("one", 0, 0);
}
END_TEST

/* A paused mode still has its max_queue: past it, 1005, and the daemon goes on. */
START_TEST(test_paused_queue_full)
{
	harness_fixture_start_over(&fx, MODES_CONFIG "max_queue = 2\npaused = true\n");
	{
		json_object *m = modes_entry("one");

		/* paused = true in the config: it starts paused. */
		ck_assert(json_object_get_boolean(harness_get(m, "paused")));
		json_object_put(m);
	}
	for (int i = 0; i < 2; i++)
		json_object_put(
			harness_submit(fx.client, "one", (const char *const[]){"true", NULL}));
	ck_assert_int_eq(
		harness_err(fx.client, "submit",
			    harness_json("{\"mode\":\"one\",\"node\":{\"argv\":[\"true\"]}}"),
			    NULL),
		1005);
	modes_expect("one", 0, 2);
	json_object_put(modes_pause("one", false));
	modes_expect("one", 0, 0);
}
END_TEST

/* ---- max_concurrency up and down while tasks run ---- */

START_TEST(test_concurrency_up_and_down)
{
	char fifos[4][256], id[16], phase[32];
	json_object *r;

	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		modes_fifo(fifos[i], sizeof(fifos[i]), id);
		modes_submit_blocked("one", id, fifos[i]);
	}
	modes_expect("one", 1, 3);
	ck_assert_str_eq(modes_phase("c0", phase, sizeof(phase)), "running");

	/* Up: the queued ones start at once, oldest first. */
	r = modes_max("one", 3);
	ck_assert_int_eq(harness_int(r, "mode.max_concurrency"), 3);
	json_object_put(r);
	modes_expect("one", 3, 1);
	ck_assert_str_eq(modes_phase("c1", phase, sizeof(phase)), "running");
	ck_assert_str_eq(modes_phase("c2", phase, sizeof(phase)), "running");
	ck_assert_str_eq(modes_phase("c3", phase, sizeof(phase)), "queued");

	/* Down: the running ones go on, and nothing new starts until fewer than 1 run. */
	json_object_put(modes_max("one", 1));
	modes_expect("one", 3, 1);
	modes_release(fifos[0]);
	json_object_put(harness_wait_job(fx.client, "c0"));
	modes_expect("one", 2, 1);
	modes_release(fifos[1]);
	json_object_put(harness_wait_job(fx.client, "c1"));
	modes_expect("one", 1, 1);
	ck_assert_str_eq(modes_phase("c3", phase, sizeof(phase)), "queued");
	/* The last of the three ends: c3 takes the one slot. */
	modes_release(fifos[2]);
	json_object_put(harness_wait_job(fx.client, "c2"));
	modes_expect("one", 1, 0);
	ck_assert_str_eq(modes_phase("c3", phase, sizeof(phase)), "running");
	modes_release(fifos[3]);
	r = harness_wait_job(fx.client, "c3");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
}
END_TEST

/* ---- slot loans through a pause and a changed limit ---- */

START_TEST(test_loan_through_pause)
{
	const char *child = getenv("SUBMIT_CHILD");
	char fifo[256], fifos[2][256], phase[32];
	json_object *r;

	ck_assert_ptr_nonnull(child);
	modes_fifo(fifo, sizeof(fifo), "dad");
	/* dad (mode one, max 1) waits on the fifo, then submits kid to one and waits for it. */
	harness_submit_json(
		fx.client,
		"{\"request_id\":\"dad\",\"mode\":\"one\",\"node\":{\"id\":\"n-dad\","
		"\"argv\":[\"sh\",\"-c\",\"cat \\\"$0\\\" >/dev/null && exec \\\"$1\\\" -m "
		"one -i kid true\",\"%s\",\"%s\"]}}",
		fifo, child);
	modes_expect("one", 1, 0);
	json_object_put(modes_pause("one", true));
	modes_release(fifo);
	/* dad lends its slot to kid, but the mode is paused: kid waits. */
	modes_expect("one", 1, 1);
	ck_assert_str_eq(modes_phase("kid", phase, sizeof(phase)), "queued");
	/* A higher limit while paused starts nothing either. */
	json_object_put(modes_max("one", 3));
	harness_sleep_ms(200);
	modes_expect("one", 1, 1);
	/* Resumed: kid runs (on the lent slot), then dad ends. */
	json_object_put(modes_max("one", 1));
	json_object_put(modes_pause("one", false));
	r = harness_wait_job(fx.client, "kid");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	r = harness_wait_job(fx.client, "dad");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	modes_expect("one", 0, 0);
	/* The loan came back whole: the limit of 1 holds for the next two. */
	for (int i = 0; i < 2; i++) {
		char id[16];

		snprintf(id, sizeof(id), "after%d", i);
		modes_fifo(fifos[i], sizeof(fifos[i]), id);
		modes_submit_blocked("one", id, fifos[i]);
	}
	modes_expect("one", 1, 1);
	modes_release(fifos[0]);
	modes_expect("one", 1, 0);
	modes_release(fifos[1]);
	json_object_put(harness_wait_job(fx.client, "after1"));
	modes_expect("one", 0, 0);
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_mode_set_refusals)
{
	char *msg = NULL;

	ck_assert_int_eq(
		harness_err(fx.client, "mode_set", harness_json("{\"mode\":\"nope\"}"), &msg),
		1003);
	ck_assert_msg(strstr(msg, "nope") && strstr(msg, "async") && strstr(msg, "one"),
		      "the message does not list the modes: %s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "mode_set",
				     harness_json("{\"mode\":\"one\",\"pasued\":true}"), &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "pasued") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(
		harness_err(fx.client, "mode_set", harness_json("{\"paused\":true}"), &msg),
		-32602);
	ck_assert_msg(strstr(msg, "mode") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "mode_set",
				     harness_json("{\"mode\":\"one\",\"max_concurrency\":0}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "mode_set",
				     harness_json("{\"mode\":\"one\",\"max_concurrency\":100001}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "mode_set",
				     harness_json("{\"mode\":\"one\",\"max_concurrency\":-1}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "mode_set",
				     harness_json("{\"mode\":\"one\",\"paused\":\"yes\"}"), NULL),
			 -32602);
	/* The bound itself is fine; nothing refused changed anything. */
	json_object_put(modes_max("one", 100000));
	{
		json_object *m = modes_entry("one");

		ck_assert_int_eq(harness_int(m, "max_concurrency"), 100000);
		ck_assert(!json_object_get_boolean(harness_get(m, "paused")));
		json_object_put(m);
	}
}
END_TEST

/* mode_set as uid (an allowed user, not root nor the daemon's): the answer's code. */
static int modes_set_as(uid_t uid, const char *params)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"mode_set\",\"params\":%s}\n", params);
	return harness_call_as(fx.daemon.sock, uid, line);
}

START_TEST(test_mode_set_admin_only)
{
	json_object *m;

	if (geteuid() != 0)
		return; /* needs root to act as another user */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	/* uid 1 may submit (allowed_users), but not change a mode: 1004, and nothing changed. */
	ck_assert_int_eq(modes_set_as(1, "{\"mode\":\"one\",\"paused\":true}"), 1004);
	ck_assert_int_eq(modes_set_as(1, "{\"mode\":\"async\",\"max_concurrency\":1}"), 1004);
	m = modes_entry("one");
	ck_assert(!json_object_get_boolean(harness_get(m, "paused")));
	json_object_put(m);
	m = modes_entry("async");
	ck_assert_int_eq(harness_int(m, "max_concurrency"), 4);
	json_object_put(m);
	/* Root may. */
	json_object_put(modes_pause("one", true));
}
END_TEST

/* ---- SIGHUP ---- */

static void modes_expect_log(size_t from, const char *needle)
{
	char *log;

	if (harness_log_wait(&fx.daemon, from, needle, HARNESS_WAIT_MS))
		return;
	log = harness_daemon_log(&fx.daemon);
	ck_abort_msg("the log never said \"%s\": %s", needle, log + from);
}

START_TEST(test_sighup_applies_limits_and_adds_modes)
{
	char fifos[3][256], id[16];
	json_object *m, *r;
	size_t mark;

	/* Three tasks in "one" (max 1), and a mode_set that the reload overrides. */
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "h%d", i);
		modes_fifo(fifos[i], sizeof(fifos[i]), id);
		modes_submit_blocked("one", id, fifos[i]);
	}
	modes_expect("one", 1, 2);
	json_object_put(modes_pause("one", true));

	harness_daemon_write_config(&fx.daemon, MODES_CONFIG "max_concurrency = 3\n"
							     "max_queue = 50\n"
							     "[mode:extra]\n"
							     "max_concurrency = 2\n"
							     "[daemon]\n"
							     "max_connections = 77\n"
							     "log_level = debug\n");
	mark = harness_log_len(&fx.daemon);
	ck_assert_int_eq(kill(fx.daemon.pid, SIGHUP), 0);
	modes_expect_log(mark, "reloaded");
	/* The config is the source again: max_concurrency 3 and no pause; the queue runs. */
	modes_expect("one", 3, 0);
	m = modes_entry("one");
	ck_assert_int_eq(harness_int(m, "max_concurrency"), 3);
	ck_assert_int_eq(harness_int(m, "max_queue"), 50);
	ck_assert(!json_object_get_boolean(harness_get(m, "paused")));
	json_object_put(m);
	/* Every change is logged, and what needs a restart is named. */
	modes_expect_log(mark, "mode one: max_concurrency 1 -> 3");
	modes_expect_log(mark, "mode one: max_queue 1000000 -> 50");
	modes_expect_log(mark, "mode one: resumed");
	modes_expect_log(mark, "mode extra: added");
	modes_expect_log(mark, "log_level apply now");
	modes_expect_log(mark, "until a restart: max_connections");

	/* The new mode runs tasks at once. */
	m = modes_entry("extra");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(harness_int(m, "max_concurrency"), 2);
	ck_assert_str_eq(harness_str(m, "strategy"), "async");
	json_object_put(m);
	r = harness_submit(fx.client, "extra", (const char *const[]){"true", NULL});
	json_object_put(harness_wait_job(fx.client, harness_str(r, "request_id")));
	json_object_put(r);

	for (int i = 0; i < 3; i++)
		modes_release(fifos[i]);
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "h%d", i);
		json_object_put(harness_wait_job(fx.client, id));
	}

	/* Lowered and a mode dropped from the file: the mode stays until a restart. */
	harness_daemon_write_config(&fx.daemon, MODES_CONFIG);
	mark = harness_log_len(&fx.daemon);
	ck_assert_int_eq(kill(fx.daemon.pid, SIGHUP), 0);
	modes_expect_log(mark, "mode one: max_concurrency 3 -> 1");
	modes_expect_log(mark, "mode extra: no longer in the config");
	m = modes_entry("extra");
	ck_assert_ptr_nonnull(m);
	json_object_put(m);
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

static Suite *modes_suite(void)
{
	Suite *s = suite_create("daemon-modes");
	TCase *tc = tcase_create("modes");

	tcase_add_checked_fixture(tc, modes_setup, modes_teardown);
	tcase_add_test(tc, test_pause_queues_then_resume_in_order);
	tcase_add_test(tc, test_paused_queue_full);
	tcase_add_test(tc, test_concurrency_up_and_down);
	tcase_add_test(tc, test_loan_through_pause);
	tcase_add_test(tc, test_mode_set_refusals);
	tcase_add_test(tc, test_mode_set_admin_only);
	tcase_add_test(tc, test_sighup_applies_limits_and_adds_modes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(modes_suite());
}
