/*
 * The WAL checkpointer (see checkpointer.h). It owns its thread and its
 * SQLite connection; the loop's connection stays its caller's. The thread
 * touches nothing but its connection, the fields under lock and the log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "cause.h"
#include "checkpointer.h"
#include "log.h"
#include "worker.h"

struct checkpointer {
	sqlite3 *db; /* the thread's connection (the loop's only before the thread starts) */
	struct worker worker;		 /* its lock guards what says "under lock", and stopping */
	bool requested;			 /* under lock: a checkpoint is asked for */
	bool busy;			 /* under lock: asked for or running */
	struct checkpointer_stats stats; /* under lock */
	int reported;			 /* thread only: the failure last logged, SQLITE_OK: none */
	/* The loop thread's own. */
	unsigned pages;
	int frames;  /* the WAL's size at the last commit */
	int woke_at; /* its size at the last wake-up (0 once the WAL started over) */
};

static bool checkpointer_is_busy_rc(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/*
 * Logs a failure once, and that checkpoints work again. A failed
 * checkpoint loses nothing: what it did not copy stays in the WAL.
 */
static void checkpointer_report(struct checkpointer *c, int rc)
{
	if (rc == c->reported || checkpointer_is_busy_rc(rc))
		return;
	if (rc == SQLITE_OK)
		log_notice("history: WAL checkpoints work again");
	else
		log_warning("history: cannot copy the WAL into the database: %s; "
			    "its commits stay in the WAL, tried again as it grows",
			    sqlite3_errmsg(c->db));
	c->reported = rc;
}

/* Counts a checkpoint of the thread's (under lock). */
static void checkpointer_count(struct checkpointer *c, int rc)
{
	if (rc == SQLITE_OK)
		c->stats.background++;
	else if (checkpointer_is_busy_rc(rc))
		c->stats.busy++;
	else
		c->stats.failed++;
}

static void *checkpointer_thread(void *arg)
{
	struct checkpointer *c = arg;
	int rc;

	pthread_mutex_lock(&c->worker.lock);
	while (!c->worker.stopping) {
		if (!c->requested) {
			pthread_cond_wait(&c->worker.wake, &c->worker.lock);
			continue;
		}
		c->requested = false;
		pthread_mutex_unlock(&c->worker.lock);
		/* PASSIVE: copies what no reader still needs, never waits, never blocks the writer.
		 */
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		checkpointer_report(c, rc);
		pthread_mutex_lock(&c->worker.lock);
		checkpointer_count(c, rc);
		c->busy = false;
	}
	pthread_mutex_unlock(&c->worker.lock);
	return NULL;
}

/* Whether the connection sees the database in WAL mode (which also opens its WAL). */
static int checkpointer_check_wal(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool wal = false;
	int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -EIO;
	return wal ? 0 : -EINVAL;
}

static int checkpointer_open_db(struct checkpointer *c, const char *path, int full, char **error)
{
	int r, rc;

	/* Each connection is used by one thread only: no mutex around every call. */
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return cause_set(error, rc == SQLITE_NOMEM ? -ENOMEM : -EIO,
				 "cannot open a connection for checkpoints: %s",
				 sqlite3_errmsg(c->db));
	sqlite3_extended_result_codes(c->db, 1);
	/* It writes nothing, so it would never checkpoint by itself; say it all the same. */
	sqlite3_wal_autocheckpoint(c->db, 0);
	/* A checkpoint syncs as its connection's setting says: the same as the loop's. */
	rc = sqlite3_exec(c->db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return cause_set(error, -EIO, "cannot set up the connection for checkpoints: %s",
				 sqlite3_errmsg(c->db));
	r = checkpointer_check_wal(c->db);
	if (r == -EINVAL)
		return cause_set(error, r, "the database is not in WAL mode (checkpoints)");
	if (r < 0)
		return cause_set(error, r, "cannot read the database for checkpoints: %s",
				 sqlite3_errmsg(c->db));
	return 0;
}

int checkpointer_start(const char *path, int full, unsigned pages, struct checkpointer **ret,
		       char **error)
{
	struct checkpointer *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return cause_set(error, -ENOMEM, "out of memory");
	c->pages = pages;
	r = checkpointer_open_db(c, path, full, error);
	if (r < 0) {
		sqlite3_close(c->db);
		free(c);
		return r;
	}
	r = worker_start(&c->worker, checkpointer_thread, c);
	if (r < 0) {
		sqlite3_close(c->db);
		free(c);
		return cause_set(error, r, "cannot start the checkpoint thread: %s", strerror(-r));
	}
	*ret = c;
	return 0;
}

void checkpointer_set_pages(struct checkpointer *c, unsigned pages)
{
	c->pages = pages;
}

/*
 * The WAL starts over only when a writer finds all of it copied; a
 * checkpoint that runs while the loop commits seldom ends so. Past the
 * hard size the loop, being the writer, copies the rest itself (mostly
 * copied by the thread already), so that its next write starts the WAL over.
 */
static void checkpointer_run_in_loop(struct checkpointer *c, sqlite3 *db, int frames)
{
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	pthread_mutex_lock(&c->worker.lock);
	c->stats.loop++;
	pthread_mutex_unlock(&c->worker.lock);
	if (rc != SQLITE_OK && !checkpointer_is_busy_rc(rc))
		log_warning("history: cannot copy the WAL (%d pages) into the database: %s", frames,
			    sqlite3_errmsg(db));
	else
		log_debug("history: the WAL reached %d pages, checkpointed by the loop", frames);
}

void checkpointer_note(struct checkpointer *c, sqlite3 *db, int frames)
{
	bool hard = (uint64_t)frames >= (uint64_t)c->pages * CHECKPOINTER_HARD_FACTOR;
	bool idle;

	if (frames < c->frames)
		c->woke_at = 0;
	c->frames = frames;
	if (frames - c->woke_at < 0 || (unsigned)(frames - c->woke_at) < c->pages)
		return;
	pthread_mutex_lock(&c->worker.lock);
	idle = !c->busy;
	if (idle && !hard) {
		c->busy = true;
		c->requested = true;
		pthread_cond_signal(&c->worker.wake);
	}
	pthread_mutex_unlock(&c->worker.lock);
	/* Busy: at a later commit again. */
	if (!idle)
		return;
	c->woke_at = frames;
	if (hard)
		checkpointer_run_in_loop(c, db, frames);
}

void checkpointer_stats(struct checkpointer *c, struct checkpointer_stats *ret)
{
	pthread_mutex_lock(&c->worker.lock);
	*ret = c->stats;
	pthread_mutex_unlock(&c->worker.lock);
	ret->wal_pages = c->frames;
}

void checkpointer_stop(struct checkpointer *c)
{
	if (!c)
		return;
	/* A checkpoint under way ends first: PASSIVE never waits for a lock. */
	worker_stop(&c->worker);
	sqlite3_close(c->db);
	free(c);
}
