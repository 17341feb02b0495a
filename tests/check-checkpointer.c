/*
 * The history's WAL checkpoints run in a thread of their own: the loop's
 * commits never checkpoint (the WAL grows past SQLite's 1000 pages while
 * no wake-up is due); the thread copies the WAL once it grew by the set
 * pages, after which the next commit starts the WAL over; with a reader
 * that keeps the WAL from starting over, the loop checkpoints itself past
 * the hard size and goes on; closing with a checkpoint under way joins
 * the thread, leaves no WAL behind and loses no commit. A WAL grown past
 * the size limit keeps its size while commits come one after the other,
 * and is emptied by the thread once the loop is quiet (idle, or a trickle).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <check.h>
#include <sqlite3.h>

#include "checkpointer.h"
#include "history.h"
#include "state.h"
#include "job.h"
#include "task.h"
#include "testutil.h"

static struct tu_env env;
static unsigned ck_jobs; /* inserted so far */

static void ck_setup(void)
{
	tu_env_setup(&env);
	ck_jobs = 0;
}

static void ck_teardown(void)
{
	tu_env_teardown(&env);
}

/* One transaction of a few jobs, each with a Task of some kilobytes (so, pages). */
static void ck_commit_some(void)
{
	char json[4096], pad[2049];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 4; i++) {
		struct task *task;
		struct job *job;

		snprintf(json, sizeof(json),
			 "{\"request_id\": \"ck-%u\", \"node\": {\"argv\": [\"true\"], \"env\": "
			 "{\"PAD\": \"%s\"}}}",
			 ck_jobs++, pad);
		task = tu_task(json);
		job = job_new_from_task(task);
		ck_assert_ptr_nonnull(job);
		ck_assert_int_eq(history_insert_job(env.history, job), 0);
		job_unref(job);
		task_free(task);
	}
	ck_assert_int_eq(history_commit(env.history), 0);
}

static struct checkpointer_stats ck_stats(void)
{
	struct checkpointer_stats st;

	ck_assert(history_checkpoint_stats(env.history, &st));
	return st;
}

static off_t ck_file_size(const char *suffix)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", env.db_path, suffix);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static int ck_page_size(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int size;

	ck_assert_int_eq(sqlite3_open_v2(env.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	size = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return size;
}

/*
 * Polls (bounded) until the count at offset in struct checkpointer_stats
 * (background: checkpoints of the thread, shrunk: WALs it emptied) passed before.
 */
static bool ck_wait_count(size_t offset, uint64_t before)
{
	struct timespec pause = {0, 2 * 1000 * 1000};
	double deadline = tu_scale(30) * 1000 / 2;

	for (double waited = 0; waited < deadline; waited++) {
		struct checkpointer_stats st = ck_stats();
		uint64_t count;

		memcpy(&count, (const char *)&st + offset, sizeof(count));
		if (count > before)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static bool ck_wait_background(uint64_t before)
{
	return ck_wait_count(offsetof(struct checkpointer_stats, background), before);
}

static uint64_t ck_count_jobs(struct history *h)
{
	struct job_filter all = {0};
	struct job_counts counts;

	ck_assert_int_eq(history_count(h, &all, &counts), 0);
	return counts.opened + counts.closed;
}

START_TEST(test_loop_never_checkpoints)
{
	off_t past = (off_t)1100 * ck_page_size();
	struct checkpointer_stats st;

	/* No wake-up due: under SQLite's autocheckpoint the WAL would start over near 1000 pages.
	 */
	history_set_checkpoint_pages(env.history, 1000000);
	while (ck_file_size("-wal") < past && ck_jobs < 20000)
		ck_commit_some();
	ck_assert_msg(ck_file_size("-wal") >= past, "the WAL stays at %lld bytes after %u jobs",
		      (long long)ck_file_size("-wal"), ck_jobs);
	st = ck_stats();
	ck_assert_int_gt(st.wal_pages, 1000);
	ck_assert_uint_eq(st.background, 0);
	ck_assert_uint_eq(st.loop, 0);
}
END_TEST

START_TEST(test_thread_checkpoints)
{
	off_t db_before = ck_file_size("");
	struct checkpointer_stats st;

	history_set_checkpoint_pages(env.history, 100);
	for (int round = 0; round < 3; round++) {
		uint64_t before = ck_stats().background;
		unsigned commits = 0;

		while (ck_stats().wal_pages < 100 && commits++ < 5000)
			ck_commit_some();
		ck_assert_int_ge(ck_stats().wal_pages, 100);
		ck_assert_msg(ck_wait_background(before), "no checkpoint in round %d", round);
		/* All of the WAL is in the database: the next commit starts it over. */
		ck_commit_some();
		st = ck_stats();
		ck_assert_msg(st.wal_pages < 100, "round %d: the WAL holds %d pages", round,
			      st.wal_pages);
	}
	st = ck_stats();
	ck_assert_uint_eq(st.loop, 0);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_int_gt(ck_file_size(""), db_before);
}
END_TEST

START_TEST(test_hard_size_with_a_reader)
{
	sqlite3 *reader;
	sqlite3_stmt *st;
	struct checkpointer_stats stats;
	unsigned commits = 0;

	history_set_checkpoint_pages(env.history, 20);
	ck_commit_some();
	/* A snapshot held open: no checkpoint can copy past it, the WAL cannot start over. */
	ck_assert_int_eq(sqlite3_open_v2(env.db_path, &reader, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(reader, "SELECT count(*) FROM jobs", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	while (ck_stats().loop == 0 && commits++ < 5000)
		ck_commit_some();
	stats = ck_stats();
	ck_assert_uint_gt(stats.loop, 0);
	ck_assert_int_ge(stats.wal_pages, 20 * CHECKPOINTER_HARD_FACTOR);
	ck_assert(!history_failing(env.history));
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);
	/* Without the reader the WAL starts over again. */
	commits = 0;
	while (ck_stats().wal_pages >= 20 * CHECKPOINTER_HARD_FACTOR && commits++ < 5000)
		ck_commit_some();
	ck_assert_int_lt(ck_stats().wal_pages, 20 * CHECKPOINTER_HARD_FACTOR);
	ck_assert_uint_eq(ck_count_jobs(env.history), ck_jobs);
}
END_TEST

/* A snapshot held open: no checkpoint can copy past it, the WAL cannot start over. */
static sqlite3 *ck_hold_snapshot(void)
{
	sqlite3 *reader;

	ck_assert_int_eq(sqlite3_open_v2(env.db_path, &reader, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM jobs", NULL, NULL, NULL),
			 SQLITE_OK);
	return reader;
}

static void ck_release_snapshot(sqlite3 *reader)
{
	ck_assert_int_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);
}

/* Commits while the reader holds its snapshot until the WAL file has at least bytes. */
static void ck_grow_wal(off_t bytes)
{
	sqlite3 *reader = ck_hold_snapshot();
	unsigned commits = 0;

	while (ck_file_size("-wal") < bytes && commits++ < 5000)
		ck_commit_some();
	ck_assert_int_ge(ck_file_size("-wal"), bytes);
	ck_release_snapshot(reader);
}

static bool ck_wait_shrunk(uint64_t before)
{
	return ck_wait_count(offsetof(struct checkpointer_stats, shrunk), before);
}

/* Seconds on the monotonic clock. */
static double ck_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_trickle_empties_the_wal)
{
	const off_t limit = 64 * 1024;
	uint64_t shrunk = ck_stats().shrunk;
	struct timespec pause = {0, 200 * 1000 * 1000};
	unsigned commits = 0;

	history_set_checkpoint_pages(env.history, 20);
	history_set_wal_size_limit(env.history, limit);
	ck_grow_wal(16 * limit);
	/* A commit every 200 ms: never idle, but quiet (under CHECKPOINTER_QUIET_COMMITS a second).
	 */
	while (ck_stats().shrunk == shrunk && commits++ < 300) {
		ck_commit_some();
		nanosleep(&pause, NULL);
	}
	ck_assert_msg(ck_stats().shrunk > shrunk, "the WAL stays at %lld bytes",
		      (long long)ck_file_size("-wal"));
	ck_assert_int_lt(ck_file_size("-wal"), 16 * limit);
	ck_assert_uint_eq(ck_count_jobs(env.history), ck_jobs);
}
END_TEST

START_TEST(test_burst_keeps_the_wal)
{
	const off_t limit = 64 * 1024;
	uint64_t shrunk = ck_stats().shrunk, loop = ck_stats().loop;
	off_t smallest = INT64_MAX;
	double end;

	history_set_checkpoint_pages(env.history, 20);
	history_set_wal_size_limit(env.history, limit);
	ck_grow_wal(16 * limit);
	/*
	 * Commits one after the other for three of the thread's waits: the WAL
	 * starts over and over, and its file keeps its size all along (cutting
	 * it would only make the next writes grow it again).
	 */
	end = ck_now() + 3.0 * CHECKPOINTER_IDLE_MS / 1000;
	while (ck_now() < end) {
		ck_commit_some();
		if (ck_file_size("-wal") < smallest)
			smallest = ck_file_size("-wal");
	}
	ck_assert_int_gt(ck_stats().loop, loop); /* it did start over */
	ck_assert_msg(smallest >= 16 * limit, "the WAL was cut to %lld bytes in the burst",
		      (long long)smallest);
	ck_assert_uint_eq(ck_stats().shrunk, shrunk);
	ck_assert_uint_eq(ck_count_jobs(env.history), ck_jobs);
}
END_TEST

START_TEST(test_idle_empties_the_wal)
{
	const off_t limit = 64 * 1024;
	uint64_t shrunk = ck_stats().shrunk;
	struct history *h;
	char *error = NULL;

	history_set_checkpoint_pages(env.history, 20);
	history_set_wal_size_limit(env.history, limit);
	ck_grow_wal(16 * limit);
	/* No commit any more: the thread empties the WAL. */
	ck_assert_msg(ck_wait_shrunk(shrunk), "the WAL stays at %lld bytes",
		      (long long)ck_file_size("-wal"));
	ck_assert_int_eq(ck_file_size("-wal"), 0);
	/* Its commits are in the database: a connection that ignores the WAL finds them all. */
	ck_assert_int_eq(history_open(env.db_path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error), 0);
	ck_assert_uint_eq(ck_count_jobs(h), ck_jobs);
	history_close(h);
	ck_commit_some();
	ck_assert_uint_eq(ck_count_jobs(env.history), ck_jobs);
}
END_TEST

START_TEST(test_no_limit_keeps_the_wal)
{
	uint64_t shrunk = ck_stats().shrunk;
	unsigned commits = 0;
	off_t grown;

	history_set_checkpoint_pages(env.history, 20);
	history_set_wal_size_limit(env.history, 0);
	ck_grow_wal(1024 * 1024);
	grown = ck_file_size("-wal");
	/* Commits that start the WAL over leave its size as it is. */
	while (ck_stats().wal_pages >= 20 * CHECKPOINTER_HARD_FACTOR && commits++ < 5000)
		ck_commit_some();
	ck_assert_int_lt(ck_stats().wal_pages, 20 * CHECKPOINTER_HARD_FACTOR);
	ck_assert_int_ge(ck_file_size("-wal"), grown);
	ck_assert_uint_eq(ck_stats().shrunk, shrunk);
}
END_TEST

START_TEST(test_close_with_checkpoint_under_way)
{
	struct history *h;
	char *error = NULL;

	history_set_checkpoint_pages(env.history, 10);
	for (int i = 0; i < 200; i++)
		ck_commit_some();
	/* Wake-ups every 10 pages: one is likely running or asked for now. */
	state_free(env.state);
	env.state = NULL;
	history_close(env.history);
	env.history = NULL;
	ck_assert_int_eq(ck_file_size("-wal"), -1);
	ck_assert_int_eq(history_open(env.db_path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error), 0);
	ck_assert_uint_eq(ck_count_jobs(h), ck_jobs);
	history_close(h);
}
END_TEST

static Suite *checkpointer_suite(void)
{
	Suite *s = suite_create("checkpointer");
	TCase *tc = tcase_create("wal");

	tcase_add_checked_fixture(tc, ck_setup, ck_teardown);
	tcase_add_test(tc, test_loop_never_checkpoints);
	tcase_add_test(tc, test_thread_checkpoints);
	tcase_add_test(tc, test_hard_size_with_a_reader);
	tcase_add_test(tc, test_close_with_checkpoint_under_way);
	tcase_add_test(tc, test_trickle_empties_the_wal);
	tcase_add_test(tc, test_burst_keeps_the_wal);
	tcase_add_test(tc, test_idle_empties_the_wal);
	tcase_add_test(tc, test_no_limit_keeps_the_wal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(checkpointer_suite());
}
