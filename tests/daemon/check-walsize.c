/*
 * The history's WAL gives its disk space back after a burst: a burst of
 * submits grows the WAL far past wal_size_limit (a reader's snapshot
 * keeps it from starting over meanwhile); once the daemon is idle the
 * WAL shrinks to at most the limit, and SIGKILL afterwards loses no
 * answered submit. A bad wal_size_limit is refused with a clear error.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "harness.h"

#define WS_LIMIT     (4 * 1024 * 1024) /* the default wal_size_limit */
#define WS_GROWN     (3 * WS_LIMIT)    /* the WAL's size the burst reaches at least */
#define WS_MAX_TASKS 20000
#define WS_BATCH     200
#define WS_AFTER     50 /* submits after the shrink, before the kill */
#define WS_PAD_BYTES 1500

/* The default wal_size_limit: no key for it, so that the same test runs on older daemons. */
#define WS_CONFIG                                                                                  \
	"[daemon]\n"                                                                               \
	"log_level = info\n"                                                                       \
	"checkpoint_pages = 100\n"                                                                 \
	"[mode:held]\n"                                                                            \
	"strategy = async\n"                                                                       \
	"max_queue = 100000\n"                                                                     \
	"paused = true\n"

struct ws_run {
	const struct harness_daemon *d;
	char prefix[64];
	char pad[WS_PAD_BYTES + 1];
	int submitted;
	int answered;
	off_t limit; /* what ws_wal_within waits for */
};

static off_t ws_size(const struct harness_daemon *d, const char *suffix)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/history.sqlite3%s", d->state, suffix);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool ws_wal_within(void *arg)
{
	struct ws_run *run = arg;

	return ws_size(run->d, "-wal") <= run->limit;
}

/* Submits a batch pipelined and takes every answer (each a success). */
static void ws_submit_batch(struct harness_client *c, struct ws_run *run, int n)
{
	long long first = 0, deadline = harness_now_ms() + HARNESS_WAIT_MS;

	for (int i = 0; i < n; i++) {
		long long id = harness_call_async(
			c, "submit",
			harness_json(
				"{\"request_id\":\"%s%d\",\"mode\":\"held\",\"node\":{\"argv\":"
				"[\"true\"],\"env\":{\"PAD\":\"%s\"}}}",
				run->prefix, run->submitted + i, run->pad));

		if (i == 0)
			first = id;
	}
	for (int i = 0; i < n; i++) {
		json_object *r = harness_response(c, first + i, (int)(deadline - harness_now_ms()));

		ck_assert_msg(r && json_object_object_get_ex(r, "result", NULL), "submit %d: %s",
			      run->submitted + i, r ? json_object_to_json_string(r) : "no answer");
		json_object_put(r);
	}
	run->submitted += n;
	run->answered += n;
}

START_TEST(test_wal_shrinks_when_idle)
{
	static struct ws_run run;
	struct harness_daemon d;
	struct harness_client *c;
	sqlite3 *reader, *db;
	sqlite3_stmt *st;
	char sql[256];
	off_t grown;
	int status;

	memset(&run, 0, sizeof(run));
	run.d = &d;
	snprintf(run.prefix, sizeof(run.prefix), "ws%d-", (int)getpid());
	memset(run.pad, 'x', WS_PAD_BYTES);
	harness_daemon_new(&d, WS_CONFIG);
	c = harness_client_new(d.sock);
	ws_submit_batch(c, &run, 1);

	/* A snapshot held open: no checkpoint copies past it, the WAL cannot start over. */
	reader = harness_db_open(&d);
	ck_assert_int_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(reader, "SELECT count(*) FROM jobs", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	while (ws_size(&d, "-wal") < WS_GROWN && run.submitted < WS_MAX_TASKS)
		ws_submit_batch(c, &run, WS_BATCH);
	grown = ws_size(&d, "-wal");
	ck_assert_msg(grown >= WS_GROWN, "the WAL grew to %lld bytes only", (long long)grown);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);

	/* Idle now: the WAL gives its space back. */
	run.limit = WS_LIMIT;
	ck_assert_msg(harness_until(ws_wal_within, &run, HARNESS_WAIT_MS),
		      "the WAL stays at %lld bytes (it grew to %lld) %s",
		      (long long)ws_size(&d, "-wal"), (long long)grown, harness_daemon_log(&d));

	/* The daemon goes on taking submits, then dies without a clean stop. */
	ws_submit_batch(c, &run, WS_AFTER);
	harness_client_free(c);
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Every answered submit is there, before the shrink and after it. */
	db = harness_db_open(&d);
	snprintf(sql, sizeof(sql),
		 "SELECT count(DISTINCT request_id) FROM jobs WHERE request_id LIKE '%s%%'",
		 run.prefix);
	ck_assert_int_eq(harness_db_int(db, sql), run.answered);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE request_id = '%s%d'",
		 run.prefix, run.submitted - 1);
	ck_assert_int_eq(harness_db_int(db, sql), 1);
	sqlite3_close(db);
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	ws_submit_batch(c, &run, 1);
	harness_client_free(c);
	ck_assert_int_eq(harness_daemon_stop(&d), 0);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_bad_wal_size_limit)
{
	struct harness_daemon bad;

	harness_expect_bad_config(&bad, "[daemon]\nwal_size_limit = -1\n",
				  "wal_size_limit must be");
	harness_expect_bad_config(&bad, "[daemon]\nwal_size_limit = 4MiB\n",
				  "wal_size_limit must be");
	harness_expect_bad_config(&bad, "[daemon]\nwal_size_limit = 1099511627777\n",
				  "wal_size_limit must be");
}
END_TEST

static Suite *walsize_suite(void)
{
	Suite *s = suite_create("daemon-walsize");
	TCase *tc = tcase_create("shrink");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_wal_shrinks_when_idle);
	tcase_add_test(tc, test_bad_wal_size_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(walsize_suite());
}
