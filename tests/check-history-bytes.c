/*
 * How much a closed job wrote (schema 7): stored with its close and loaded
 * back; unknown (-1) while opened and for rows closed before schema 7, which
 * the migration keeps as they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <sqlite3.h>

#include "history.h"
#include "job.h"
#include "task.h"
#include "testutil.h"

static char *dir, *path;

static void hb_setup(void)
{
	dir = tu_mkdtemp();
	ck_assert_int_ge(asprintf(&path, "%s/history.sqlite3", dir), 0);
}

static void hb_teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void hb_exec(const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
	sqlite3_close(db);
}

static struct history *hb_open(void)
{
	struct history *h = NULL;
	char *error = NULL;

	ck_assert_msg(history_open(path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error) == 0, "%s",
		      error ? error : "?");
	return h;
}

/* A new job request_id, stored opened; the caller's reference. */
static struct job *hb_insert(struct history *h, const char *request_id)
{
	struct task *task;
	struct job *job;
	char json[160];

	snprintf(json, sizeof(json), "{\"request_id\": \"%s\", \"node\": {\"argv\": [\"true\"]}}",
		 request_id);
	task = tu_task(json);
	free(task->run_id);
	task->run_id = strdup(request_id);
	job = job_new_from_task(task);
	task_free(task);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(history_insert_job(h, job), 0);
	return job;
}

/* Closes job having written out and err bytes (< 0: unknown). */
static void hb_close(struct history *h, struct job *job, int64_t out, int64_t err)
{
	job->stdout_bytes = out;
	job->stderr_bytes = err;
	ck_assert_int_eq(job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	ck_assert_int_eq(history_update_job(h, job), 0);
	job_unref(job);
}

static void hb_expect(struct history *h, const char *request_id, int64_t out, int64_t err)
{
	struct job *job;

	ck_assert_int_eq(history_find_job(h, request_id, &job), 0);
	ck_assert_int_eq(job->stdout_bytes, out);
	ck_assert_int_eq(job->stderr_bytes, err);
	job_unref(job);
}

START_TEST(test_totals_stored_with_close)
{
	struct history *h = hb_open();
	struct job *opened = hb_insert(h, "opened");

	ck_assert_int_eq(opened->stdout_bytes, -1);
	hb_close(h, hb_insert(h, "none"), 0, 0);
	hb_close(h, hb_insert(h, "big"), 10485782, 3);
	hb_close(h, hb_insert(h, "lost"), -1, -1);
	history_close(h);
	job_unref(opened);

	h = hb_open();
	hb_expect(h, "opened", -1, -1);
	hb_expect(h, "none", 0, 0);
	hb_expect(h, "big", 10485782, 3);
	hb_expect(h, "lost", -1, -1);
	history_close(h);
}
END_TEST

START_TEST(test_schema_6_rows_are_unknown)
{
	struct history *h = hb_open();

	hb_close(h, hb_insert(h, "old"), 5, 6);
	history_close(h);
	/* Back to schema 6: no columns for the totals. */
	hb_exec("ALTER TABLE jobs DROP COLUMN stdout_bytes;"
		"ALTER TABLE jobs DROP COLUMN stderr_bytes;"
		"PRAGMA user_version = 6;");

	h = hb_open();
	hb_expect(h, "old", -1, -1);
	hb_close(h, hb_insert(h, "new"), 7, 0);
	hb_expect(h, "new", 7, 0);
	history_close(h);
}
END_TEST

static Suite *history_bytes_suite(void)
{
	Suite *s = suite_create("history-bytes");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, hb_setup, hb_teardown);
	tcase_add_test(tc, test_totals_stored_with_close);
	tcase_add_test(tc, test_schema_6_rows_are_unknown);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(history_bytes_suite());
}
