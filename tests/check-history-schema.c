/*
 * The history's schema: a database of schema 5 (jobs_by_parent over every
 * job) migrates to 6 (only jobs with a parent), keeps its jobs, and the
 * queries by parent still find them through the index. Schema 7: how much
 * a closed job wrote is stored with its close and loaded back; unknown (-1)
 * while opened and for rows closed before 7, which the migration keeps.
 * Schema 8: jobs_by_run holds only the jobs below a root, and a run's
 * filter still finds its root, its descendants, and nothing else. Schema
 * 9: a new job's row is its request_creation in the message log; the log
 * of a database of schema 8 stays whole, without a message twice, and
 * keeps no gap when retention removes a job an older one outlives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <sqlite3.h>

#include "history.h"
#include "job.h"
#include "message.h"
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

/* Asserts that the first column of the first row of sql is want. */
static void hs_expect_text(const char *sql, const char *want)
{
	char *text = hs_text(sql);

	ck_assert_msg(text && strcmp(text, want) == 0, "%s: \"%s\", not \"%s\"", sql,
		      text ? text : "NULL", want);
	free(text);
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
		"DROP VIEW message_log; DROP TABLE creations_in_jobs;"
		"PRAGMA user_version = 5;");
	hs_expect_text("SELECT count(*) FROM jobs INDEXED BY jobs_by_parent WHERE "
		       "parent_node_id IS NULL",
		       "2");

	h = hs_open();
	/* And on to the newest (7: the totals of a closed job; 8: the run index; see below). */
	hs_expect_text("PRAGMA user_version", "9");
	text = hs_text("SELECT sql FROM sqlite_master WHERE name = 'jobs_by_parent'");
	ck_assert_ptr_nonnull(strstr(text, "WHERE parent_node_id IS NOT NULL"));
	free(text);
	hs_expect_text("SELECT count(*) FROM jobs", "4");
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

/* A new opened job request_id, a root, not stored yet; the caller's reference. */
static struct job *hs_new_job(const char *request_id)
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
	return job;
}

/* A new job request_id, stored opened; the caller's reference. */
static struct job *hs_opened(struct history *h, const char *request_id)
{
	struct job *job = hs_new_job(request_id);

	ck_assert_int_eq(history_insert_job(h, job), 0);
	return job;
}

/* Closes job having written out and err bytes (< 0: unknown). */
static void hs_close(struct history *h, struct job *job, int64_t out, int64_t err)
{
	job->stdout_bytes = out;
	job->stderr_bytes = err;
	ck_assert_int_eq(job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	ck_assert_int_eq(history_update_job(h, job), 0);
	job_unref(job);
}

static void hs_expect(struct history *h, const char *request_id, int64_t out, int64_t err)
{
	struct job *job;

	ck_assert_int_eq(history_find_job(h, request_id, &job), 0);
	ck_assert_int_eq(job->stdout_bytes, out);
	ck_assert_int_eq(job->stderr_bytes, err);
	job_unref(job);
}

START_TEST(test_totals_stored_with_close)
{
	struct history *h = hs_open();
	struct job *opened = hs_opened(h, "opened");

	ck_assert_int_eq(opened->stdout_bytes, -1);
	hs_close(h, hs_opened(h, "none"), 0, 0);
	hs_close(h, hs_opened(h, "big"), 10485782, 3);
	hs_close(h, hs_opened(h, "lost"), -1, -1);
	history_close(h);
	job_unref(opened);

	h = hs_open();
	hs_expect(h, "opened", -1, -1);
	hs_expect(h, "none", 0, 0);
	hs_expect(h, "big", 10485782, 3);
	hs_expect(h, "lost", -1, -1);
	history_close(h);
}
END_TEST

START_TEST(test_schema_6_rows_are_unknown)
{
	struct history *h = hs_open();

	hs_close(h, hs_opened(h, "old"), 5, 6);
	history_close(h);
	/* Back to schema 6: no columns for the totals. */
	hs_exec("ALTER TABLE jobs DROP COLUMN stdout_bytes;"
		"ALTER TABLE jobs DROP COLUMN stderr_bytes;"
		"DROP VIEW message_log; DROP TABLE creations_in_jobs;"
		"PRAGMA user_version = 6;");

	h = hs_open();
	hs_expect(h, "old", -1, -1);
	hs_close(h, hs_opened(h, "new"), 7, 0);
	hs_expect(h, "new", 7, 0);
	history_close(h);
}
END_TEST

/* The request_ids of the page of the jobs of run_id after cursor (0: the first), as "a b c". */
static void hs_run_page(struct history *h, const char *run_id, int64_t cursor, size_t limit,
			const char *want, int64_t *ret_next)
{
	struct job_filter filter = {.run_id = run_id};
	char got[256] = "";
	struct job **jobs;
	size_t count;

	ck_assert_int_eq(history_query(h, &filter, cursor, limit, &jobs, &count, ret_next), 0);
	for (size_t i = 0; i < count; i++) {
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 jobs[i]->request_id);
		job_unref(jobs[i]);
	}
	free(jobs);
	ck_assert_msg(strcmp(got, want) == 0, "run %s: got \"%s\", want \"%s\"", run_id, got, want);
}

static uint64_t hs_run_opened(struct history *h, const char *run_id, const char *parent)
{
	struct job_filter filter = {.run_id = run_id, .parent_node_id = parent};
	struct job_counts counts;

	ck_assert_int_eq(history_count(h, &filter, &counts), 0);
	return counts.opened;
}

START_TEST(test_schema_7_run_index)
{
	struct history *h = hs_open();
	int64_t next;
	char *text;

	hs_insert(h, "r1",
		  "{\"request_id\": \"r1\", \"node\": {\"id\": \"p\", \"argv\": [\"true\"]}}");
	hs_insert(h, "r1",
		  "{\"request_id\": \"c1\", \"parent_node_id\": \"p\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	hs_insert(h, "r2", "{\"request_id\": \"r2\", \"node\": {\"argv\": [\"true\"]}}");
	/* A parent nobody knows: its own run, with a parent_node_id all the same. */
	hs_insert(h, "orphan",
		  "{\"request_id\": \"orphan\", \"parent_node_id\": \"nowhere\", \"node\": "
		  "{\"id\": \"q\", \"argv\": [\"true\"]}}");
	hs_insert(h, "r1",
		  "{\"request_id\": \"c2\", \"parent_node_id\": \"p\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	hs_insert(h, "orphan",
		  "{\"request_id\": \"o1\", \"parent_node_id\": \"q\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	history_close(h);
	/* Back to schema 7: jobs_by_run over every row, roots included. */
	hs_exec("DROP INDEX jobs_by_run;"
		"CREATE INDEX jobs_by_run ON jobs (run_id, seq_no);"
		"DROP VIEW message_log; DROP TABLE creations_in_jobs;"
		"PRAGMA user_version = 7;");
	hs_expect_text("SELECT count(*) FROM jobs INDEXED BY jobs_by_run WHERE run_id > ''", "6");

	h = hs_open();
	hs_expect_text("PRAGMA user_version", "9");
	text = hs_text("SELECT sql FROM sqlite_master WHERE name = 'jobs_by_run'");
	ck_assert_ptr_nonnull(strstr(text, "WHERE run_id <> request_id"));
	free(text);
	/* The three jobs below a root; the roots (orphan too) are not in it. */
	hs_expect_text("SELECT group_concat(request_id, ' ') FROM (SELECT request_id FROM jobs "
		       "INDEXED BY jobs_by_run WHERE run_id <> request_id ORDER BY seq_no)",
		       "c1 c2 o1");
	/* A run is its root and what is below it, newest first, page by page. */
	hs_run_page(h, "r1", 0, 10, "c2 c1 r1", &next);
	ck_assert_int_eq(next, 0);
	hs_run_page(h, "r1", 0, 2, "c2 c1", &next);
	ck_assert_int_gt(next, 0);
	hs_run_page(h, "r1", next, 2, "r1", &next);
	ck_assert_int_eq(next, 0);
	hs_run_page(h, "orphan", 0, 10, "o1 orphan", &next);
	hs_run_page(h, "r2", 0, 10, "r2", &next);
	/* A job below a root is not a run of its own. */
	hs_run_page(h, "c1", 0, 10, "", &next);
	ck_assert_uint_eq(hs_run_opened(h, "r1", NULL), 3);
	ck_assert_uint_eq(hs_run_opened(h, "r1", "p"), 2);
	ck_assert_uint_eq(hs_run_opened(h, "c2", NULL), 0);
	/* A new root and a new child after the migration. */
	hs_insert(h, "r3",
		  "{\"request_id\": \"r3\", \"node\": {\"id\": \"s\", \"argv\": [\"true\"]}}");
	hs_insert(h, "r3",
		  "{\"request_id\": \"c3\", \"parent_node_id\": \"s\", \"node\": {\"argv\": "
		  "[\"true\"]}}");
	hs_run_page(h, "r3", 0, 10, "c3 r3", &next);
	history_close(h);
}
END_TEST

/* A message of type about request_id, stored with seq (a request_creation: nothing is written). */
static void hs_message(struct history *h, enum message_type type, const char *request_id,
		       uint64_t seq)
{
	struct message_ids ids = {.request_id = request_id, .run_id = request_id};
	struct message_output out = {.exit_code = 0};
	struct message *msg =
		message_new(type, &ids, type == MESSAGE_REQUEST_SUCCESS ? &out : NULL);

	ck_assert_ptr_nonnull(msg);
	msg->seq = seq;
	msg->time = 1000.0 + (double)seq;
	ck_assert_int_eq(history_insert_message(h, msg), 0);
	message_unref(msg);
}

/* A new job whose row is its request_creation at seq, and that message. */
static struct job *hs_created(struct history *h, const char *request_id, uint64_t seq)
{
	struct job *job = hs_new_job(request_id);

	job->seq_no = (int64_t)seq;
	ck_assert_int_eq(history_insert_job(h, job), 0);
	hs_message(h, MESSAGE_REQUEST_CREATION, request_id, seq);
	return job;
}

struct hs_log {
	char got[512]; /* "seq:type:request_id " for each message passed */
	size_t count;
};

static int hs_log_cb(uint64_t seq, const char *type, const char *request_id, const char *run_id,
		     const char *text, size_t len, void *userdata)
{
	struct hs_log *log = userdata;
	json_object *o = json_tokener_parse(text);

	/* A job row's creation is written as the message went out. */
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(strlen(text), len);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "seq")), (int64_t)seq);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "type")), type);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "request_id")),
			 request_id);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "run_id")), run_id);
	json_object_put(o);
	snprintf(log->got + strlen(log->got), sizeof(log->got) - strlen(log->got), "%llu:%s:%s ",
		 (unsigned long long)seq, type + strlen("request_"), request_id);
	log->count++;
	return 0;
}

/* Asserts the whole log, as "seq:type:request_id " for each message (type without "request_"). */
static void hs_expect_log(struct history *h, const char *want)
{
	struct hs_log log = {.got = ""};
	uint64_t last;

	ck_assert_int_eq(history_foreach_message(h, 0, 100, hs_log_cb, &log, &last), 0);
	ck_assert_msg(strcmp(log.got, want) == 0, "log \"%s\", want \"%s\"", log.got, want);
}

START_TEST(test_schema_8_creations_in_jobs)
{
	struct history *h = hs_open();
	struct job_counts removed;
	struct job *old1, *new1, *new2;
	uint64_t seq;

	/* Schema 8's way: job rows numbered on their own, every creation a message row. */
	old1 = hs_opened(h, "old1");
	job_unref(hs_opened(h, "old2"));
	history_close(h);
	hs_exec("DROP VIEW message_log; DROP TABLE creations_in_jobs;"
		"INSERT INTO messages VALUES (1, 'request_creation', 'old1', 'old1', 1001, "
		"'{\"seq\":1,\"type\":\"request_creation\",\"request_id\":\"old1\",\"run_id\":"
		"\"old1\"}'), (2, 'request_creation', 'old2', 'old2', 1002, '{\"seq\":2,\"type\":"
		"\"request_creation\",\"request_id\":\"old2\",\"run_id\":\"old2\"}'), "
		"(3, 'request_creation_failure', 'refused', 'refused', 1003, '{\"seq\":3,\"type\":"
		"\"request_creation_failure\",\"request_id\":\"refused\",\"run_id\":"
		"\"refused\"}');"
		"PRAGMA user_version = 8;");

	h = hs_open();
	hs_expect_text("PRAGMA user_version", "9");
	hs_expect_text("SELECT from_seq FROM creations_in_jobs", "4");
	hs_message(h, MESSAGE_REQUEST_SUCCESS, "old1", 4);
	hs_close(h, old1, 0, 0);
	/* From 5 on a job's row is its creation: no message row is written for it. */
	new1 = hs_created(h, "new1", 5);
	hs_message(h, MESSAGE_REQUEST_SUCCESS, "new1", 6);
	hs_close(h, new1, 0, 0);
	new2 = hs_created(h, "new2", 7);
	hs_message(h, MESSAGE_REQUEST_SUCCESS, "new2", 8);
	hs_close(h, new2, 0, 0);
	hs_expect_text("SELECT count(*) FROM messages WHERE request_id LIKE 'new%'", "2");
	hs_expect_log(h, "1:creation:old1 2:creation:old2 3:creation_failure:refused "
			 "4:success:old1 5:creation:new1 6:success:new1 7:creation:new2 "
			 "8:success:new2 ");
	ck_assert_int_eq(history_first_seq(h, &seq), 0);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(history_last_seq(h, &seq), 0);
	ck_assert_uint_eq(seq, 8);

	/*
	 * Keep one closed job: old1 and new1 go. old2, still opened, keeps the
	 * log from its creation on, so new1's creation moves to the messages.
	 */
	ck_assert_int_eq(history_prune(h, 1, 0, 100, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 2);
	hs_expect_log(h, "2:creation:old2 3:creation_failure:refused 4:success:old1 "
			 "5:creation:new1 6:success:new1 7:creation:new2 8:success:new2 ");
	hs_expect_text("SELECT type FROM messages WHERE seq = 5", "request_creation");
	ck_assert_int_eq(history_first_seq(h, &seq), 0);
	ck_assert_uint_eq(seq, 2);
	history_close(h);
}
END_TEST

static Suite *history_schema_suite(void)
{
	Suite *s = suite_create("history-schema");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, hs_setup, hs_teardown);
	tcase_add_test(tc, test_schema_5_migrates);
	tcase_add_test(tc, test_schema_parent_queries_use_the_index);
	tcase_add_test(tc, test_totals_stored_with_close);
	tcase_add_test(tc, test_schema_6_rows_are_unknown);
	tcase_add_test(tc, test_schema_7_run_index);
	tcase_add_test(tc, test_schema_8_creations_in_jobs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(history_schema_suite());
}
