/*
 * The history's schema: a database of schema 5 (jobs_by_parent over every
 * job) migrates to 6 (only jobs with a parent), keeps its jobs, and the
 * queries by parent still find them through the index.
 */
#include <stdint.h>
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

static void hs_setup(void)
{
	dir = tu_mkdtemp();
	ck_assert_int_ge(asprintf(&path, "%s/history.sqlite3", dir), 0);
}

static void hs_teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void hs_exec(const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
	sqlite3_close(db);
}

/* The first column of the first row of sql, as text (caller frees), or NULL. */
static char *hs_text(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *out = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static struct history *hs_open(void)
{
	struct history *h = NULL;
	char *error = NULL;

	ck_assert_msg(history_open(path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error) == 0, "%s",
		      error ? error : "?");
	return h;
}

static void hs_insert(struct history *h, const char *run_id, const char *json)
{
	struct task *task = tu_task(json);
	struct job *job;

	free(task->run_id);
	task->run_id = strdup(run_id);
	job = job_new_from_task(task);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(history_insert_job(h, job), 0);
	job_unref(job);
	task_free(task);
}

static void hs_count_cb(const struct history_child *child, void *userdata)
{
	(void)child;
	(*(size_t *)userdata)++;
}

START_TEST(test_schema_5_migrates)
{
	struct history *h = hs_open();
	struct job_filter filter = {.parent_node_id = "p"};
	struct job **jobs;
	size_t count, seen = 0;
	int64_t next;
	char *text;

	hs_insert(h, "root",
		  "{\"request_id\": \"root\", \"node\": {\"id\": \"p\", \"argv\": [\"true\"]}}");
	hs_insert(h, "root",
		  "{\"request_id\": \"c1\", \"parent_node_id\": \"p\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	hs_insert(h, "root",
		  "{\"request_id\": \"c2\", \"parent_node_id\": \"p\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	hs_insert(h, "other", "{\"request_id\": \"other\", \"node\": {\"argv\": [\"true\"]}}");
	history_close(h);
	/* Back to schema 5 as it was: jobs_by_parent over every row, NULLs included. */
	hs_exec("ALTER TABLE jobs DROP COLUMN stdout_bytes;"
		"ALTER TABLE jobs DROP COLUMN stderr_bytes;"
		"DROP INDEX jobs_by_parent;"
		"CREATE INDEX jobs_by_parent ON jobs (parent_node_id, seq_no);"
		"PRAGMA user_version = 5;");
	text = hs_text("SELECT count(*) FROM jobs INDEXED BY jobs_by_parent WHERE "
		       "parent_node_id IS NULL");
	ck_assert_str_eq(text, "2");
	free(text);

	h = hs_open();
	/* And on to the newest (7: the totals of a closed job, see check-history-bytes). */
	text = hs_text("PRAGMA user_version");
	ck_assert_str_eq(text, "7");
	free(text);
	text = hs_text("SELECT sql FROM sqlite_master WHERE name = 'jobs_by_parent'");
	ck_assert_ptr_nonnull(strstr(text, "WHERE parent_node_id IS NOT NULL"));
	free(text);
	text = hs_text("SELECT count(*) FROM jobs");
	ck_assert_str_eq(text, "4");
	free(text);
	/* Both queries by parent find the two children. */
	ck_assert_int_eq(
		history_foreach_child(h, "root", "p", 0, INT64_MAX, 10, hs_count_cb, &seen, &count),
		0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(seen, 2);
	ck_assert_int_eq(history_query(h, &filter, 0, 10, &jobs, &count, &next), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(jobs[0]->request_id, "c2");
	ck_assert_str_eq(jobs[1]->request_id, "c1");
	for (size_t i = 0; i < count; i++)
		job_unref(jobs[i]);
	free(jobs);
	history_close(h);
}
END_TEST

/* With a bound parent, SQLite takes the partial index (x = ?1 implies x IS NOT NULL). */
START_TEST(test_schema_parent_queries_use_the_index)
{
	static const char *const queries[] = {
		/* history_foreach_child's shape, and status's parent filter. */
		"EXPLAIN QUERY PLAN SELECT seq_no FROM jobs WHERE parent_node_id = ?1 AND "
		"run_id = ?2 AND seq_no > ?3 AND seq_no <= ?4 ORDER BY seq_no LIMIT ?5",
		"EXPLAIN QUERY PLAN SELECT seq_no FROM jobs WHERE seq_no < ?1 AND "
		"parent_node_id = ?2 ORDER BY seq_no DESC LIMIT ?3",
	};
	struct history *h = hs_open();

	history_close(h);
	for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++) {
		sqlite3 *db;
		sqlite3_stmt *st;
		bool uses = false;

		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, queries[i], -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW)
			if (strstr((const char *)sqlite3_column_text(st, 3), "jobs_by_parent"))
				uses = true;
		sqlite3_finalize(st);
		sqlite3_close(db);
		ck_assert_msg(uses, "%s does not use jobs_by_parent", queries[i]);
	}
}
END_TEST

static Suite *history_schema_suite(void)
{
	Suite *s = suite_create("history-schema");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, hs_setup, hs_teardown);
	tcase_add_test(tc, test_schema_5_migrates);
	tcase_add_test(tc, test_schema_parent_queries_use_the_index);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(history_schema_suite());
}
