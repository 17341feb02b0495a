/*
 * The queue across restarts, over the real socket: jobs that never
 * started (queued, or waiting on their after) keep their place across
 * SIGKILL and a graceful stop and run once afterwards, in their order; a
 * job stored as running when the daemon died is lost, never run again.
 * The first 50 queued stay in memory (queue_hot_tasks), the rest go cold:
 * both kinds come back the same way.
 * Every task appends its name to one file, so a run is counted; tasks that
 * must stay running block on a fifo, so nothing waits a fixed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define QR_CONFIG                                                                                  \
	"[daemon]\n"                                                                               \
	"shutdown_grace_sec = 30\n"                                                                \
	HARNESS_CONFIG_MODE("async", "1")                                                          \
	"queue_hot_tasks = 50\n"
/* clang-format on */

#define QR_QUEUED  200
#define QR_WAITING 20

struct qr_env {
	struct harness_daemon d;
	char runs[256];
	char gate[256];
};

static void qr_setup(struct qr_env *e)
{
	harness_daemon_new(&e->d, QR_CONFIG);
	snprintf(e->runs, sizeof(e->runs), "%s/runs", e->d.dir);
	harness_fifo(&e->d, "gate", e->gate, sizeof(e->gate));
}

static void qr_submit(struct harness_client *c, struct qr_env *e, const char *name,
		      const char *extra, bool gated)
{
	harness_submit_json(c,
			    "{\"request_id\":\"%s\"%s,\"node\":{\"argv\":[\"sh\",\"-c\","
			    "\"echo %s >> %s%s%s\"]}}",
			    name, extra, name, e->runs, gated ? "; read x < " : "",
			    gated ? e->gate : "");
}

/* How many lines of the runs file are name, and the line number of the first (or -1). */
static int qr_count(const char *runs, const char *name, int *ret_line)
{
	size_t len = strlen(name);
	int count = 0, line = 0;

	*ret_line = -1;
	for (const char *p = runs; *p; line++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == len && strncmp(p, name, len) == 0 && count++ == 0)
			*ret_line = line;
		p += n + (nl ? 1 : 0);
	}
	return count;
}

static char *qr_runs(struct qr_env *e)
{
	FILE *f = fopen(e->runs, "r");
	char *text = calloc(1, 1 << 16);
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	if (f) {
		n = fread(text, 1, (1 << 16) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

/* Waits (one wait call) until every queued and waiting job of the test has closed. */
static void qr_wait_all(struct harness_client *c)
{
	json_object *ids = json_object_new_array();
	json_object *params = json_object_new_object();
	json_object *r;
	char id[16];

	for (int i = 0; i < QR_QUEUED; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		json_object_array_add(ids, json_object_new_string(id));
	}
	for (int i = 0; i < QR_WAITING; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		json_object_array_add(ids, json_object_new_string(id));
	}
	json_object_object_add(params, "request_ids", ids);
	json_object_object_add(params, "timeout_ms", json_object_new_int(HARNESS_WAIT_MS * 4));
	r = harness_call(c, "wait", params, HARNESS_WAIT_MS * 5);
	ck_assert_msg(json_object_object_get_ex(r, "result", NULL), "%s",
		      json_object_to_json_string(r));
	for (int i = 0; i < QR_QUEUED + QR_WAITING; i++) {
		json_object *job = harness_get(r, "result.jobs");

		job = json_object_array_get_idx(job, (size_t)i);
		ck_assert_msg(strcmp(harness_str(job, "result"), "success") == 0, "%s",
			      json_object_to_json_string(job));
	}
	json_object_put(r);
}

/* Each queued and waiting job ran exactly once, the queued ones in their order. */
static void qr_check_runs(struct qr_env *e)
{
	char *runs = qr_runs(e);
	int line, prev = -1, first_line;
	char id[16];

	for (int i = 0; i < QR_QUEUED; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		ck_assert_msg(qr_count(runs, id, &line) == 1, "%s ran %d times", id,
			      qr_count(runs, id, &line));
		ck_assert_msg(line > prev, "%s ran out of order", id);
		prev = line;
	}
	for (int i = 0; i < QR_WAITING; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		ck_assert_msg(qr_count(runs, id, &line) == 1, "%s ran %d times", id,
			      qr_count(runs, id, &line));
		/* After what it waited for. */
		snprintf(id, sizeof(id), "q%d", i * 10);
		qr_count(runs, id, &first_line);
		ck_assert_msg(line > first_line, "w%d ran before q%d", i, i * 10);
	}
	free(runs);
}

/* Kills the daemon with SIGKILL and reaps it. */
static void qr_kill9(struct qr_env *e)
{
	int status;

	ck_assert_int_eq(kill(e->d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(e->d.pid, &status, 0), e->d.pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	e->d.pid = 0;
}

/*
 * The gated job "blocker", running, and its line written: phase running
 * is stored before the spawn, so a kill -9 right then could come before
 * the shell has written it (seen on a loaded machine).
 */
static void qr_blocker(struct harness_client *c, struct qr_env *e)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int line;

	qr_submit(c, e, "blocker", "", true);
	json_object_put(harness_wait_running(c, "blocker"));
	for (;;) {
		char *runs = qr_runs(e);
		int n = qr_count(runs, "blocker", &line);

		free(runs);
		if (n > 0)
			break;
		ck_assert_msg(harness_now_ms() < deadline, "blocker never wrote its line");
		harness_sleep_ms(20);
	}
}

/* Waits for request_id to close and checks what field (result, error.kind) says. */
static void qr_expect(struct harness_client *c, const char *request_id, const char *field,
		      const char *want)
{
	json_object *r = harness_wait_job(c, request_id);

	ck_assert_msg(strcmp(harness_str(r, field), want) == 0, "%s: %s", request_id,
		      json_object_to_json_string(r));
	json_object_put(r);
}

/* The running blocker, 200 queued behind it, and 20 waiting on some of those. */
static void qr_fill(struct harness_client *c, struct qr_env *e)
{
	char id[16], extra[64];

	qr_blocker(c, e);
	for (int i = 0; i < QR_QUEUED; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		qr_submit(c, e, id, "", false);
	}
	for (int i = 0; i < QR_WAITING; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		snprintf(extra, sizeof(extra), ",\"after\":[\"q%d\"]", i * 10);
		qr_submit(c, e, id, extra, false);
	}
}

START_TEST(test_kill9_keeps_queue)
{
	struct qr_env e;
	struct harness_client *c;
	json_object *r;
	sqlite3 *db;
	int line;
	char *runs;

	qr_setup(&e);
	c = harness_client_new(e.d.sock);
	qr_fill(c, &e);
	harness_client_free(c);
	qr_kill9(&e);
	/* As stored: one running, the queue and the waiting jobs. */
	db = harness_db_open(&e.d);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE phase = 'running'"),
			 1);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE phase = 'queued'"),
			 QR_QUEUED);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE phase = 'waiting'"),
			 QR_WAITING);
	sqlite3_close(db);

	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	qr_wait_all(c);
	qr_check_runs(&e);
	/* The blocker ran when the daemon died: lost, and never run again. */
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"blocker\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "lost");
	json_object_put(r);
	runs = qr_runs(&e);
	ck_assert_int_eq(qr_count(runs, "blocker", &line), 1);
	ck_assert_int_eq(line, 0);
	free(runs);
	r = harness_ok(c, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(r, "counts.success"), QR_QUEUED + QR_WAITING);
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&e.d);
}
END_TEST

START_TEST(test_graceful_restart_keeps_queue)
{
	struct qr_env e;
	struct harness_client *c;
	json_object *r;
	sqlite3 *db;
	int fd, status;

	qr_setup(&e);
	c = harness_client_new(e.d.sock);
	qr_fill(c, &e);
	ck_assert_int_eq(kill(e.d.pid, SIGTERM), 0);
	/*
	 * Once the daemon drains (a submit is 1006; before, this one is 1001
	 * and creates nothing)...
	 */
	while (harness_err(c, "submit",
			   harness_json("{\"after\":[\"nope\"],\"node\":{\"argv\":[\"true\"]}}"),
			   NULL) != 1006)
		harness_sleep_ms(20);
	harness_client_free(c);
	/* ...the running one finishes in its grace period, and nothing queued starts. */
	fd = open(e.gate, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "go\n", 3), 3);
	close(fd);
	status = harness_daemon_wait_exit(&e.d, HARNESS_WAIT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	db = harness_db_open(&e.d);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE request_id = "
					    "'blocker' AND result = 'success'"),
			 1);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened' "
					    "AND phase = 'queued'"),
			 QR_QUEUED);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened' "
					    "AND phase = 'waiting'"),
			 QR_WAITING);
	/* Nothing was cancelled. */
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'closed'"),
			 1);
	sqlite3_close(db);

	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	qr_wait_all(c);
	qr_check_runs(&e);
	r = harness_ok(c, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(r, "counts.failure"), 0);
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&e.d);
}
END_TEST

START_TEST(test_waiting_on_lost_fails)
{
	struct qr_env e;
	struct harness_client *c;
	int line;
	char *runs;

	/* A job waiting on one that ran at the crash: that one is lost, so it fails. */
	qr_setup(&e);
	c = harness_client_new(e.d.sock);
	qr_blocker(c, &e);
	qr_submit(c, &e, "dep", ",\"after\":[\"blocker\"]", false);
	qr_submit(c, &e, "anyway", ",\"after\":[\"blocker\"],\"after_policy\":\"closed\"", false);
	harness_client_free(c);
	qr_kill9(&e);

	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	qr_expect(c, "dep", "error.kind", "dependency");
	qr_expect(c, "anyway", "result", "success");
	runs = qr_runs(&e);
	ck_assert_int_eq(qr_count(runs, "dep", &line), 0);
	ck_assert_int_eq(qr_count(runs, "anyway", &line), 1);
	ck_assert_int_eq(qr_count(runs, "blocker", &line), 1);
	free(runs);
	harness_client_free(c);
	harness_daemon_cleanup(&e.d);
}
END_TEST

START_TEST(test_mode_gone)
{
	struct qr_env e;
	struct harness_client *c;
	json_object *r;
	int line;
	char *runs;

	/* A job queued in a mode the next start no longer has is lost, not run elsewhere. */
	qr_setup(&e);
	harness_daemon_write_config(&e.d, QR_CONFIG "[mode:gone]\nmax_concurrency = 1\n");
	ck_assert_int_eq(harness_daemon_stop(&e.d), 0);
	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	qr_submit(c, &e, "blocker", ",\"mode\":\"gone\"", true);
	json_object_put(harness_wait_running(c, "blocker"));
	qr_submit(c, &e, "orphan", ",\"mode\":\"gone\"", false);
	harness_client_free(c);
	qr_kill9(&e);

	harness_daemon_write_config(&e.d, QR_CONFIG);
	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	r = harness_wait_job(c, "orphan");
	ck_assert_str_eq(harness_str(r, "error.kind"), "lost");
	ck_assert_msg(strstr(harness_str(r, "error.message"), "mode"), "%s",
		      json_object_to_json_string(r));
	json_object_put(r);
	r = harness_wait_job(c, "blocker");
	ck_assert_str_eq(harness_str(r, "error.kind"), "lost");
	json_object_put(r);
	runs = qr_runs(&e);
	ck_assert_int_eq(qr_count(runs, "orphan", &line), 0);
	free(runs);
	harness_client_free(c);
	harness_daemon_cleanup(&e.d);
}
END_TEST

/*
 * Puts the job request_id back to opened in phase, as a SIGKILL leaves it
 * when the final message was committed in one loop turn and the close
 * that message causes was still to be committed in the next.
 */
static void qr_reopen(struct qr_env *e, const char *request_id, const char *phase)
{
	char path[256], *sql;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/history.sqlite3", e->d.state);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sql = sqlite3_mprintf("UPDATE jobs SET status = 'opened', phase = %Q, result = NULL, "
			      "end_time = NULL, exit_code = NULL, error_kind = NULL, "
			      "error_message = NULL WHERE request_id = %Q",
			      phase, request_id);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_free(sql);
	sqlite3_close(db);
}

/* The final messages the log holds about request_id. */
static long long qr_finals(struct qr_env *e, const char *request_id)
{
	sqlite3 *db = harness_db_open(&e->d);
	char *sql = sqlite3_mprintf("SELECT count(*) FROM messages WHERE request_id = %Q AND type "
				    "IN ('request_success', 'request_failure')",
				    request_id);
	long long n = harness_db_int(db, sql);

	sqlite3_free(sql);
	sqlite3_close(db);
	return n;
}

START_TEST(test_final_message_committed_close_not)
{
	struct qr_env e;
	struct harness_client *c;
	json_object *r;
	int line;
	char *runs;

	/*
	 * The log has a job's final message but its row is still opened (the
	 * SIGKILL came between the two commits): the next start closes it as
	 * that message says, and publishes no second final message.
	 */
	qr_setup(&e);
	c = harness_client_new(e.d.sock);
	qr_submit(c, &e, "ran", "", false);
	json_object_put(harness_wait_job(c, "ran"));
	qr_blocker(c, &e);
	qr_submit(c, &e, "dropped", "", false);
	json_object_put(harness_ok(c, "cancel", harness_json("{\"request_id\":\"dropped\"}")));
	json_object_put(harness_wait_job(c, "dropped"));
	harness_client_free(c);
	qr_kill9(&e);
	qr_reopen(&e, "ran", "running");
	qr_reopen(&e, "dropped", "queued");

	harness_daemon_start(&e.d);
	c = harness_client_new(e.d.sock);
	qr_expect(c, "ran", "result", "success");
	qr_expect(c, "dropped", "error.kind", "cancelled");
	qr_expect(c, "blocker", "error.kind", "lost");
	ck_assert_int_eq(qr_finals(&e, "ran"), 1);
	ck_assert_int_eq(qr_finals(&e, "dropped"), 1);
	runs = qr_runs(&e);
	ck_assert_int_eq(qr_count(runs, "ran", &line), 1);
	ck_assert_int_eq(qr_count(runs, "dropped", &line), 0);
	free(runs);
	r = harness_ok(c, "status", NULL);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&e.d);
}
END_TEST

static Suite *qr_suite(void)
{
	Suite *s = suite_create("daemon-queue-restart");
	TCase *tc = tcase_create("queue-restart");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_kill9_keeps_queue);
	tcase_add_test(tc, test_graceful_restart_keeps_queue);
	tcase_add_test(tc, test_waiting_on_lost_fails);
	tcase_add_test(tc, test_mode_gone);
	tcase_add_test(tc, test_final_message_committed_close_not);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(qr_suite());
}
