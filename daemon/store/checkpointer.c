/*
 * The WAL checkpointer (see checkpointer.h). It owns its thread and its
 * SQLite connection; the loop's connection stays its caller's. The thread
 * touches nothing but its connection, the fields under lock and the log.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
	bool shrink_due;		 /* under lock: the WAL may be larger than the limit */
	uint64_t limit;			 /* under lock: the WAL's bytes kept when quiet, 0: any */
	struct checkpointer_stats stats; /* under lock */
	atomic_uint commits; /* the loop's commits so far (the loop writes, the thread reads) */
	/* The thread's own. */
	int reported;	      /* the failure last logged, SQLITE_OK: none */
	char *wal_path;	      /* the WAL file, to see its size */
	bool watching;	      /* waiting for the loop to be quiet before shrinking the WAL */
	unsigned seen;	      /* commits at the start of that wait */
	unsigned idle_ms;     /* how long that wait is */
	uint64_t watch_until; /* when it ends (CLOCK_MONOTONIC, ms) */
	/* The loop thread's own. */
	unsigned pages;
	unsigned frame_bytes; /* a WAL frame's size (set before the thread starts) */
	int limit_frames;     /* the frames past which the WAL is larger than the limit */
	bool told; /* the thread was told the WAL passed the limit, since it started over */
	unsigned commit_count;
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

/* The WAL file's size in bytes (0 when there is none), -1 when it cannot be seen. */
static off_t checkpointer_wal_size(const struct checkpointer *c)
{
	struct stat st;

	if (stat(c->wal_path, &st) == 0)
		return st.st_size;
	return errno == ENOENT ? 0 : -1;
}

/*
 * Gives the WAL's space back. A PASSIVE checkpoint copies what is left
 * without the writer's lock; only once it copied everything does a
 * TRUNCATE checkpoint take that lock, for as long as starting the WAL over
 * and cutting the file to zero bytes take. The connection has no busy
 * handler: a transaction of the loop's, or a reader's snapshot that needs
 * the WAL, makes it SQLITE_BUSY at once.
 */
static int checkpointer_shrink(struct checkpointer *c)
{
	int log = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);

	if (rc != SQLITE_OK)
		return rc;
	if (copied < log)
		return SQLITE_BUSY;
	return sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* A checkpoint the loop asked for (lock held, released meanwhile). */
static void checkpointer_run(struct checkpointer *c)
{
	int rc;

	c->requested = false;
	pthread_mutex_unlock(&c->worker.lock);
	/* PASSIVE: copies what no reader still needs, never waits, never blocks the writer. */
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	checkpointer_report(c, rc);
	pthread_mutex_lock(&c->worker.lock);
	checkpointer_count(c, rc);
	c->busy = false;
	c->shrink_due = true;
}

static uint64_t checkpointer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Starts a wait of idle_ms for the loop to be quiet, counting its commits from now. */
static void checkpointer_watch(struct checkpointer *c)
{
	c->seen = atomic_load_explicit(&c->commits, memory_order_relaxed);
	c->watch_until = checkpointer_now_ms() + c->idle_ms;
}

/* Shrinks the WAL now that the loop is quiet (lock held, released meanwhile). */
static void checkpointer_shrink_now(struct checkpointer *c)
{
	int rc;

	pthread_mutex_unlock(&c->worker.lock);
	rc = checkpointer_shrink(c);
	checkpointer_report(c, rc);
	pthread_mutex_lock(&c->worker.lock);
	if (rc == SQLITE_OK) {
		c->stats.shrunk++;
		c->watching = false;
	} else if (checkpointer_is_busy_rc(rc)) {
		/* A reader's snapshot may last: each wait twice as long, up to a limit. */
		c->stats.busy++;
		c->idle_ms = c->idle_ms * 2 > CHECKPOINTER_IDLE_MAX_MS ? CHECKPOINTER_IDLE_MAX_MS
								       : c->idle_ms * 2;
		checkpointer_watch(c);
	} else {
		/* Logged; tried again after the next checkpoint. */
		c->stats.failed++;
		c->watching = false;
		c->shrink_due = false;
	}
}

/*
 * One step (lock held) towards giving the WAL's space back once the loop
 * is quiet: whether the WAL is larger than the limit, else a part of the
 * wait of idle_ms (a checkpoint asked for meanwhile does not start the
 * wait over), after which the loop is quiet if it made few commits in it
 * (a trickle of them would otherwise never let a file grown by a burst go).
 * Each step returns, so that the thread looks at stopping and requested.
 */
static void checkpointer_shrink_step(struct checkpointer *c)
{
	uint64_t now = checkpointer_now_ms();
	unsigned commits;
	off_t size;

	if (!c->watching) {
		pthread_mutex_unlock(&c->worker.lock);
		size = checkpointer_wal_size(c);
		pthread_mutex_lock(&c->worker.lock);
		if (c->limit == 0 || size < 0 || (uint64_t)size <= c->limit) {
			c->shrink_due = false;
			return;
		}
		c->watching = true;
		c->idle_ms = CHECKPOINTER_IDLE_MS;
		checkpointer_watch(c);
		return;
	}
	if (now < c->watch_until) {
		worker_wait_ms(&c->worker, (unsigned)(c->watch_until - now));
		return;
	}
	commits = atomic_load_explicit(&c->commits, memory_order_relaxed);
	/* Quiet: at most CHECKPOINTER_QUIET_COMMITS a CHECKPOINTER_IDLE_MS, the wait's length. */
	if (commits - c->seen > CHECKPOINTER_QUIET_COMMITS * (c->idle_ms / CHECKPOINTER_IDLE_MS)) {
		checkpointer_watch(c);
		return;
	}
	checkpointer_shrink_now(c);
}

static void *checkpointer_thread(void *arg)
{
	struct checkpointer *c = arg;

	pthread_mutex_lock(&c->worker.lock);
	while (!c->worker.stopping) {
		if (c->requested)
			checkpointer_run(c);
		else if (c->shrink_due)
			checkpointer_shrink_step(c);
		else
			pthread_cond_wait(&c->worker.wake, &c->worker.lock);
	}
	pthread_mutex_unlock(&c->worker.lock);
	return NULL;
}

/* The first column of a PRAGMA's one row, as text, into buf (truncated to size). */
static int checkpointer_pragma(sqlite3 *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

/*
 * Whether the connection sees the database in WAL mode (which also opens
 * its WAL), and the size of the WAL's frames.
 */
static int checkpointer_check_wal(struct checkpointer *c)
{
	char mode[16], page_size[16];

	if (checkpointer_pragma(c->db, "PRAGMA journal_mode", mode, sizeof(mode)) < 0 ||
	    checkpointer_pragma(c->db, "PRAGMA page_size", page_size, sizeof(page_size)) < 0)
		return -EIO;
	/* A frame: a page and its header. */
	c->frame_bytes = (unsigned)strtoul(page_size, NULL, 10) + 24;
	return strcmp(mode, "wal") == 0 ? 0 : -EINVAL;
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
	r = checkpointer_check_wal(c);
	if (r == -EINVAL)
		return cause_set(error, r, "the database is not in WAL mode (checkpoints)");
	if (r < 0)
		return cause_set(error, r, "cannot read the database for checkpoints: %s",
				 sqlite3_errmsg(c->db));
	return 0;
}

static void checkpointer_free(struct checkpointer *c)
{
	sqlite3_close(c->db);
	free(c->wal_path);
	free(c);
}

/* The WAL frames past which the WAL is larger than bytes (0: no limit, never). */
static int checkpointer_limit_frames(const struct checkpointer *c, uint64_t bytes)
{
	uint64_t frames = bytes / c->frame_bytes;

	return bytes == 0 || frames > INT_MAX ? INT_MAX : (int)frames;
}

int checkpointer_start(const char *path, int full, unsigned pages, struct checkpointer **ret,
		       char **error)
{
	struct checkpointer *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return cause_set(error, -ENOMEM, "out of memory");
	c->pages = pages;
	c->limit = CHECKPOINTER_DEFAULT_WAL_LIMIT;
	/* A WAL left large (by a crash, say) is given back once the loop is quiet. */
	c->shrink_due = true;
	if (asprintf(&c->wal_path, "%s-wal", path) < 0) {
		free(c);
		return cause_set(error, -ENOMEM, "out of memory");
	}
	r = checkpointer_open_db(c, path, full, error);
	if (r < 0) {
		checkpointer_free(c);
		return r;
	}
	c->limit_frames = checkpointer_limit_frames(c, c->limit); /* frame_bytes is known now */
	r = worker_start(&c->worker, checkpointer_thread, c);
	if (r < 0) {
		checkpointer_free(c);
		return cause_set(error, r, "cannot start the checkpoint thread: %s", strerror(-r));
	}
	*ret = c;
	return 0;
}

void checkpointer_set_pages(struct checkpointer *c, unsigned pages)
{
	c->pages = pages;
}

void checkpointer_set_wal_limit(struct checkpointer *c, uint64_t bytes)
{
	c->limit_frames = checkpointer_limit_frames(c, bytes);
	c->told = false;
	pthread_mutex_lock(&c->worker.lock);
	c->limit = bytes;
	c->shrink_due = true;
	pthread_cond_signal(&c->worker.wake);
	pthread_mutex_unlock(&c->worker.lock);
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

/*
 * Once per start of the WAL, when it passes the limit: the thread is to
 * shrink it once the loop is quiet (a checkpoint of the thread's tells the
 * same, but past the hard size only the loop checkpoints).
 */
static void checkpointer_tell_over_limit(struct checkpointer *c)
{
	c->told = true;
	pthread_mutex_lock(&c->worker.lock);
	if (!c->shrink_due) {
		c->shrink_due = true;
		pthread_cond_signal(&c->worker.wake);
	}
	pthread_mutex_unlock(&c->worker.lock);
}

void checkpointer_note(struct checkpointer *c, sqlite3 *db, int frames)
{
	bool hard = (uint64_t)frames >= (uint64_t)c->pages * CHECKPOINTER_HARD_FACTOR;
	bool idle;

	/* For the thread's idle check: a plain store, no system call. */
	atomic_store_explicit(&c->commits, ++c->commit_count, memory_order_relaxed);
	if (frames < c->frames) {
		c->woke_at = 0;
		c->told = false;
	}
	c->frames = frames;
	if (frames > c->limit_frames && !c->told)
		checkpointer_tell_over_limit(c);
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
	checkpointer_free(c);
}
