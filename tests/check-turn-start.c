/*
 * A task's start is stored in the loop turn's transaction (see
 * strategy_task_starting_turn): the tasks that start in one turn are
 * stored by that turn's one commit, none is spawned before it, and none
 * runs when it fails. A VFS around SQLite's own stands in for a full disk
 * on demand, so the commit that fails is exactly the one of the starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "coordinator.h"
#include "history.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "task.h"
#include "testutil.h"

/* ---- a VFS whose writes fail with SQLITE_FULL while turn_disk_full is set ---- */

struct turn_file {
	sqlite3_file base;
	sqlite3_file *real; /* right after this struct, in the memory SQLite gives */
};

static sqlite3_vfs *turn_real_vfs;
static sqlite3_vfs turn_vfs;
static bool turn_disk_full;
static int turn_refused; /* writes refused */

static sqlite3_file *turn_real(sqlite3_file *f)
{
	return ((struct turn_file *)f)->real;
}

static int turn_close(sqlite3_file *f)
{
	return turn_real(f)->pMethods->xClose(turn_real(f));
}

static int turn_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return turn_real(f)->pMethods->xRead(turn_real(f), buf, amt, off);
}

static int turn_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	if (turn_disk_full) {
		turn_refused++;
		return SQLITE_FULL;
	}
	return turn_real(f)->pMethods->xWrite(turn_real(f), buf, amt, off);
}

static int turn_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return turn_real(f)->pMethods->xTruncate(turn_real(f), size);
}

static int turn_sync(sqlite3_file *f, int flags)
{
	return turn_real(f)->pMethods->xSync(turn_real(f), flags);
}

static int turn_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return turn_real(f)->pMethods->xFileSize(turn_real(f), size);
}

static int turn_lock(sqlite3_file *f, int level)
{
	return turn_real(f)->pMethods->xLock(turn_real(f), level);
}

static int turn_unlock(sqlite3_file *f, int level)
{
	return turn_real(f)->pMethods->xUnlock(turn_real(f), level);
}

static int turn_check_reserved(sqlite3_file *f, int *out)
{
	return turn_real(f)->pMethods->xCheckReservedLock(turn_real(f), out);
}

static int turn_file_control(sqlite3_file *f, int op, void *arg)
{
	return turn_real(f)->pMethods->xFileControl(turn_real(f), op, arg);
}

static int turn_sector_size(sqlite3_file *f)
{
	return turn_real(f)->pMethods->xSectorSize(turn_real(f));
}

static int turn_device(sqlite3_file *f)
{
	return turn_real(f)->pMethods->xDeviceCharacteristics(turn_real(f));
}

static int turn_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
	return turn_real(f)->pMethods->xShmMap(turn_real(f), page, size, extend, out);
}

static int turn_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return turn_real(f)->pMethods->xShmLock(turn_real(f), offset, n, flags);
}

static void turn_shm_barrier(sqlite3_file *f)
{
	turn_real(f)->pMethods->xShmBarrier(turn_real(f));
}

static int turn_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return turn_real(f)->pMethods->xShmUnmap(turn_real(f), delete_flag);
}

static int turn_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	return turn_real(f)->pMethods->xFetch(turn_real(f), off, amt, out);
}

static int turn_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return turn_real(f)->pMethods->xUnfetch(turn_real(f), off, p);
}

static const sqlite3_io_methods turn_io = {
	.iVersion = 3,
	.xClose = turn_close,
	.xRead = turn_read,
	.xWrite = turn_write,
	.xTruncate = turn_truncate,
	.xSync = turn_sync,
	.xFileSize = turn_file_size,
	.xLock = turn_lock,
	.xUnlock = turn_unlock,
	.xCheckReservedLock = turn_check_reserved,
	.xFileControl = turn_file_control,
	.xSectorSize = turn_sector_size,
	.xDeviceCharacteristics = turn_device,
	.xShmMap = turn_shm_map,
	.xShmLock = turn_shm_lock,
	.xShmBarrier = turn_shm_barrier,
	.xShmUnmap = turn_shm_unmap,
	.xFetch = turn_fetch,
	.xUnfetch = turn_unfetch,
};

static int turn_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct turn_file *tf = (struct turn_file *)f;
	int rc;

	tf->real = (sqlite3_file *)(tf + 1);
	rc = turn_real_vfs->xOpen(turn_real_vfs, name, tf->real, flags, out);
	tf->base.pMethods = tf->real->pMethods ? &turn_io : NULL;
	return rc;
}

/* Makes the failing VFS the default, once: every history the tests open goes through it. */
static void turn_vfs_install(void)
{
	if (turn_real_vfs)
		return;
	turn_real_vfs = sqlite3_vfs_find(NULL);
	ck_assert_ptr_nonnull(turn_real_vfs);
	turn_vfs = *turn_real_vfs;
	turn_vfs.zName = "coord-turn-test";
	turn_vfs.szOsFile = (int)sizeof(struct turn_file) + turn_real_vfs->szOsFile;
	turn_vfs.xOpen = turn_open;
	turn_vfs.pNext = NULL;
	ck_assert_int_eq(sqlite3_vfs_register(&turn_vfs, 1), SQLITE_OK);
}

/* ---- the fixture: a coordinator with the real async strategy ---- */

static struct tu_env env;
static struct coordinator *coord;

static void turn_setup(void)
{
	turn_vfs_install();
	turn_disk_full = false;
	turn_refused = 0;
	tu_env_setup(&env);
	coord = NULL;
}

static void turn_teardown(void)
{
	turn_disk_full = false;
	coordinator_free(coord);
	coord = NULL;
	tu_env_teardown(&env);
}

static void turn_start_mode(unsigned max_concurrency, bool paused)
{
	struct strategy_config config = {
		.mode = "async",
		.kind = "async",
		.max_concurrency = max_concurrency,
		.socket_path = "/run/test/coord.sock",
	};
	struct strategy *async;
	coord = tu_coordinator_new(&env, &config, &async);
	ck_assert_int_eq(coordinator_start(coord, env.pub), 0);
	if (paused)
		ck_assert_int_eq(coordinator_tune_mode(coord, "async",
						       &(struct strategy_tuning){
							       .max_concurrency = max_concurrency,
							       .paused = true,
						       }),
				 0);
}

/*
 * Submits request_id, a task that leaves the file DIR/ran-REQUEST_ID when
 * it runs, in cwd (NULL: the daemon's).
 */
static void turn_submit_in(const char *request_id, const char *cwd)
{
	struct job *job = NULL;
	char *error = NULL;
	char json[1024];
	int r;

	snprintf(json, sizeof(json),
		 "{\"request_id\":\"%s\",\"mode\":\"async\",\"node\":{%s%s%s\"argv\":[\"sh\","
		 "\"-c\",\"touch '%s/ran-%s'\"]}}",
		 request_id, cwd ? "\"cwd\":\"" : "", cwd ? cwd : "", cwd ? "\"," : "", env.dir,
		 request_id);
	r = coordinator_submit(coord, tu_task(json), &job, &error);
	ck_assert_msg(r == 0, "submit %s: %s", request_id, error ? error : strerror(-r));
	free(error);
}

static void turn_submit(const char *request_id)
{
	turn_submit_in(request_id, NULL);
}

static bool turn_ran(const char *request_id)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/ran-%s", env.dir, request_id);
	return access(path, F_OK) == 0;
}

/* The number of rows of the jobs named in the three ids that match where (another connection). */
static int turn_count(sqlite3 *db, const char *where)
{
	char sql[256];
	sqlite3_stmt *st;
	int n;

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM jobs WHERE request_id IN ('t1', 't2', 't3') AND %s", where);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* What the commits showed, seen from another connection right after each. */
struct turn_seen {
	sqlite3 *db;
	int commits;
	int first_running; /* jobs stored running at the first commit that stored any, else -1 */
	int first_pids;	   /* of those, how many had a pid stored by then */
};

static void turn_commit_cb(int result, void *userdata)
{
	struct turn_seen *seen = userdata;
	int running;

	if (result < 0)
		return;
	seen->commits++;
	if (seen->first_running >= 0)
		return;
	running = turn_count(seen->db, "phase = 'running'");
	if (running == 0)
		return;
	seen->first_running = running;
	seen->first_pids = turn_count(seen->db, "phase = 'running' AND pid > 0");
}

static bool turn_all_closed(void *data)
{
	const char *const *ids = data;

	for (size_t i = 0; ids[i]; i++)
		if (!tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, ids[i]) &&
		    !tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, ids[i]))
			return false;
	for (size_t i = 0; ids[i]; i++)
		if (state_find_open(env.state, ids[i]))
			return false;
	return true;
}

static bool turn_committed(void *data)
{
	return !history_in_transaction(env.history) && !history_failing(env.history);
}

/*
 * Three tasks that get their slots in the same turn: one commit stores all
 * three starts, before any of them is spawned, and then all three run.
 * (Before: each start had a commit of its own, so the first commit that
 * stored a start stored only one.)
 */
START_TEST(test_turn_starts_share_one_commit)
{
	static const char *const ids[] = {"t1", "t2", "t3", NULL};
	struct turn_seen seen = {.first_running = -1};

	ck_assert_int_eq(sqlite3_open_v2(env.db_path, &seen.db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	turn_start_mode(3, false);
	ck_assert_int_eq(state_add_commit_hook(env.state, turn_commit_cb, &seen), 0);
	for (size_t i = 0; ids[i]; i++)
		turn_submit(ids[i]);
	ck_assert(tu_run_until(env.base, turn_all_closed, (void *)ids, 30));
	state_remove_commit_hook(env.state, turn_commit_cb, &seen);
	ck_assert_int_eq(seen.first_running, 3);
	ck_assert_int_eq(seen.first_pids, 0);
	for (size_t i = 0; ids[i]; i++) {
		ck_assert_ptr_nonnull(
			tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, ids[i]));
		ck_assert(turn_ran(ids[i]));
	}
	sqlite3_close(seen.db);
}
END_TEST

/*
 * The commit that would store two starts fails (a full disk): neither
 * task runs, each fails as kind spawn saying its start could not be
 * stored, as when a start's own commit failed before, and once the disk
 * has room again both are stored closed, never run.
 */
START_TEST(test_turn_start_not_stored_does_not_run)
{
	static const char *const ids[] = {"t1", "t2", NULL};
	char *text;

	turn_start_mode(2, true);
	for (size_t i = 0; ids[i]; i++)
		turn_submit(ids[i]);
	/* Stored queued; the mode is paused, so nothing starts yet. */
	ck_assert(tu_run_until(env.base, turn_committed, NULL, 10));
	turn_disk_full = true;
	ck_assert_int_eq(coordinator_tune_mode(coord, "async",
					       &(struct strategy_tuning){.max_concurrency = 2}),
			 0);
	ck_assert(tu_run_until(env.base, turn_all_closed, (void *)ids, 30));
	ck_assert_int_gt(turn_refused, 0);
	for (size_t i = 0; ids[i]; i++) {
		struct message *msg = tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, ids[i]);

		ck_assert_ptr_nonnull(msg);
		ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
		ck_assert_str_eq(msg->error_message,
				 "cannot store that it starts: No space left on device");
	}
	/* Room again: the backlog is stored (tried every second) and shows no run. */
	turn_disk_full = false;
	ck_assert(tu_run_until(env.base, turn_committed, NULL, 10));
	for (size_t i = 0; ids[i]; i++) {
		struct job *job;

		ck_assert(!turn_ran(ids[i]));
		ck_assert_int_eq(history_find_job(env.history, ids[i], &job), 0);
		ck_assert_int_eq(job->status, JOB_CLOSED);
		ck_assert_int_eq(job->result, JOB_FAILURE);
		ck_assert_int_eq(job->pid, 0);
		job_unref(job);
	}
	ck_assert_int_eq(history_final_message(env.history, "t1", &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "cannot store that it starts"));
	free(text);
}
END_TEST

/*
 * A held start that then cannot be spawned (its cwd is gone) gives its
 * slot back and the queue goes on: the next task runs. (It stalled in the
 * first version: the release did not start what waited.)
 */
START_TEST(test_turn_failed_spawn_frees_its_slot)
{
	static const char *const ids[] = {"t1", "t2", NULL};
	struct message *msg;

	turn_start_mode(1, false);
	turn_submit_in("t1", "/nonexistent-dir");
	turn_submit("t2");
	ck_assert(tu_run_until(env.base, turn_all_closed, (void *)ids, 30));
	msg = tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, "t1");
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_ptr_nonnull(strstr(msg->error_message, "/nonexistent-dir"));
	ck_assert_ptr_nonnull(tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, "t2"));
	ck_assert(turn_ran("t2"));
}
END_TEST

/* Cancels t1 right after the commit that stored its start (before its spawn). */
static void turn_cancel_cb(int result, void *userdata)
{
	bool *done = userdata;

	if (result < 0 || *done || !state_find_open(env.state, "t1") ||
	    state_find_open(env.state, "t1")->phase != JOB_RUNNING)
		return;
	*done = true;
	ck_assert_int_eq(coordinator_cancel(coord, "t1", false, 0, NULL, NULL, NULL), 0);
}

/* A task cancelled between the commit of its start and its spawn never runs. */
START_TEST(test_turn_cancel_before_spawn)
{
	static const char *const ids[] = {"t1", NULL};
	bool done = false;
	struct message *msg;

	turn_start_mode(1, false);
	ck_assert_int_eq(state_add_commit_hook(env.state, turn_cancel_cb, &done), 0);
	turn_submit("t1");
	ck_assert(tu_run_until(env.base, turn_all_closed, (void *)ids, 30));
	state_remove_commit_hook(env.state, turn_cancel_cb, &done);
	ck_assert(done);
	msg = tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, "t1");
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(msg->error_kind, ERROR_CANCELLED);
	ck_assert_str_eq(msg->error_message, "cancelled before it started");
	ck_assert(!turn_ran("t1"));
}
END_TEST

static Suite *turn_suite(void)
{
	Suite *s = suite_create("turn-start");
	TCase *tc = tcase_create("turn");

	tcase_add_checked_fixture(tc, turn_setup, turn_teardown);
	tcase_add_test(tc, test_turn_starts_share_one_commit);
	tcase_add_test(tc, test_turn_start_not_stored_does_not_run);
	tcase_add_test(tc, test_turn_failed_spawn_frees_its_slot);
	tcase_add_test(tc, test_turn_cancel_before_spawn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(turn_suite());
}
