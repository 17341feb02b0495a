/*
 * The history's WAL checkpoints, made by a thread of their own so that the
 * event loop never copies the WAL into the database nor waits for its
 * fsyncs. The thread has its own SQLite connection to the database; the
 * loop tells it, after each commit, how many pages the WAL holds.
 */
#ifndef COORD_CHECKPOINTER_H
#define COORD_CHECKPOINTER_H

#include <stdint.h>

struct checkpointer;
struct sqlite3;

/* The WAL pages that wake the thread unless set otherwise (SQLite's own autocheckpoint). */
#define CHECKPOINTER_DEFAULT_PAGES 1000
/*
 * Past this many times the wake-up size without the WAL starting over (a
 * checkpoint never caught up with the writes), the loop checkpoints itself.
 */
#define CHECKPOINTER_HARD_FACTOR 10
/* The WAL's bytes kept once the loop is idle unless set otherwise (0: any). */
#define CHECKPOINTER_DEFAULT_WAL_LIMIT (4 * 1024 * 1024)
/*
 * The thread gives the WAL's space back once the loop made at most
 * CHECKPOINTER_QUIET_COMMITS commits a CHECKPOINTER_IDLE_MS (a burst is
 * over: cutting the file in a burst would only make the next writes grow
 * it again), and waits at most CHECKPOINTER_IDLE_MAX_MS between tries
 * SQLite puts off.
 */
#define CHECKPOINTER_IDLE_MS	   1000
#define CHECKPOINTER_QUIET_COMMITS 10
#define CHECKPOINTER_IDLE_MAX_MS   60000

struct checkpointer_stats {
	uint64_t background; /* checkpoints the thread made */
	uint64_t busy;	     /* of its attempts, those SQLite put off (SQLITE_BUSY) */
	uint64_t failed;     /* of its attempts, those that failed otherwise (logged) */
	uint64_t loop;	     /* checkpoints the loop made itself, past the hard size */
	uint64_t shrunk;     /* times the thread cut the WAL to zero bytes, the loop idle */
	int wal_pages;	     /* the WAL's size at the loop's last commit */
};

/*
 * Opens a second connection to the database at path, which must be in WAL
 * mode already (history_open sets it first), with the same synchronous
 * setting (full: true for FULL, NORMAL otherwise), and starts the thread.
 * pages: the WAL size that wakes it (> 0). On failure a negative errno and
 * a reason in *error (caller frees).
 */
int checkpointer_start(const char *path, int full, unsigned pages, struct checkpointer **ret,
		       char **error);

/* The WAL size that wakes the thread from now on (> 0). Loop thread. */
void checkpointer_set_pages(struct checkpointer *c, unsigned pages);

/*
 * The WAL's size in bytes kept once the loop is quiet (0: any): past it,
 * the thread waits until the loop makes at most CHECKPOINTER_QUIET_COMMITS
 * commits a CHECKPOINTER_IDLE_MS, then copies the rest of the WAL and cuts
 * it to zero bytes. The thread looks
 * after every checkpoint it makes, at start and after this call. Loop
 * thread.
 */
void checkpointer_set_wal_limit(struct checkpointer *c, uint64_t bytes);

/*
 * After a commit of db (the loop's connection), with the pages the WAL
 * holds (what sqlite3_wal_hook says). Wakes the thread when the WAL grew
 * by pages since the last wake-up and it is idle: no system call
 * otherwise, never waits for a checkpoint.
 */
void checkpointer_note(struct checkpointer *c, struct sqlite3 *db, int frames);

/* How many checkpoints were made so far, and by whom (tests). */
void checkpointer_stats(struct checkpointer *c, struct checkpointer_stats *ret);

/* Stops and joins the thread, then closes its connection. Accepts NULL. */
void checkpointer_stop(struct checkpointer *c);

#endif
