/*
 * The job history and the message log in SQLite: every job ever accepted
 * and every message ever published, in one database file.
 */
#ifndef COORD_HISTORY_H
#define COORD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* The history's file in the state directory. */
#define HISTORY_FILE "history.sqlite3"

struct checkpointer_stats;
struct event_base;
struct history;
struct message;

enum history_durability {
	HISTORY_DURABILITY_NORMAL, /* survives the daemon being killed */
	HISTORY_DURABILITY_FULL,   /* also survives power loss */
};

/* Which jobs a query or a count covers; NULL strings and false flags match all. */
struct job_filter {
	bool has_status;
	enum job_status status;
	bool has_result;
	enum job_result result;
	const char *mode;
	const char *run_id;
	const char *parent_node_id;
	const char *child_node_id;
	bool has_owner;
	uid_t owner_uid;
	const char *name;	       /* exactly */
	const char *request_id_prefix; /* request_ids that start with it */
	bool has_since;		       /* start_time >= since */
	double since;
	bool has_until; /* start_time <= until */
	double until;
	/*
	 * history_query only: a page ends early, before the job whose stored
	 * Task would take the Tasks read past this many bytes (0: no limit);
	 * it always holds at least one job, and next says where to go on.
	 */
	size_t max_task_bytes;
};

struct job_counts {
	uint64_t opened;
	uint64_t closed;
	uint64_t success;
	uint64_t failure;
};

/*
 * Opens (creating or migrating) the database at path. Writes are grouped:
 * the first write of a loop turn opens a transaction that commits at the
 * end of that turn on base (NULL base: every write commits at once). On
 * failure returns a negative errno and a reason in *error (caller frees).
 */
int history_open(const char *path, struct event_base *base, enum history_durability durability,
		 struct history **ret, char **error);
/* Commits what is pending and closes. Accepts NULL. */
void history_close(struct history *h);

/*
 * With an event base, WAL checkpoints run in a thread of the history's
 * (checkpointer.h), woken each time the WAL grew by pages (default
 * CHECKPOINTER_DEFAULT_PAGES); without one, SQLite checkpoints as it does
 * by default, in the commit. Loop thread.
 */
void history_set_checkpoint_pages(struct history *h, unsigned pages);
/*
 * The WAL's size in bytes kept once a burst is over (0: any; default
 * CHECKPOINTER_DEFAULT_WAL_LIMIT): the checkpoint thread empties a larger
 * WAL once the loop commits seldom (checkpointer_set_wal_limit). Nothing
 * without a checkpoint thread. Loop thread.
 */
void history_set_wal_size_limit(struct history *h, uint64_t bytes);
/* The checkpoints made so far (tests): false without a checkpoint thread. */
bool history_checkpoint_stats(struct history *h, struct checkpointer_stats *ret);

/*
 * Opens a transaction that lasts until history_commit, for bulk writes
 * outside the event loop (tools, benchmarks). 0 or negative errno.
 */
int history_begin(struct history *h);

/* Commits the open transaction now, if any. 0 or negative errno. */
int history_commit(struct history *h);

/* Whether writes of this loop turn are waiting for their commit. */
bool history_in_transaction(const struct history *h);

/*
 * hook runs after every commit of a transaction, with 0 or the commit's
 * negative errno: what waited for durability may go out (or must not).
 * A history has room for a few hooks (the daemon's, the coordinator's):
 * 0, or -ENOSPC; they run in the order they were added. Removing one
 * that is not there does nothing.
 *
 * With an event base, a failed commit (a full disk) is not the end of its
 * writes: the history keeps every job and message write of the lost
 * transaction in memory and becomes "failing". While failing, writes wait
 * in that backlog without touching the database, new jobs are refused
 * (history_insert_job returns the failure's errno), pruning pauses, and
 * the backlog is tried again every second and by history_commit; hook(0)
 * says when it is stored. hook(r < 0) runs once, when failing begins.
 */
int history_add_commit_hook(struct history *h, void (*hook)(int result, void *userdata),
			    void *userdata);
void history_remove_commit_hook(struct history *h, void (*hook)(int result, void *userdata),
				void *userdata);

/*
 * With an event base, hook(userdata) runs in the turn's commit event just
 * before the commit, so that the writes it makes (what the turn's messages
 * cause when they are delivered: a job closed, a dependent started) share
 * the turn's transaction instead of making one of their own. NULL: none.
 */
void history_set_before_commit(struct history *h, void (*hook)(void *userdata), void *userdata);

/* Whether a failed commit left writes waiting (see history_add_commit_hook). */
bool history_failing(const struct history *h);

/*
 * Gives back the pages SQLite keeps cached (they are read again from the
 * file when needed): start-up reads fill the cache, which an idle daemon
 * does not need. Returns the bytes the cache held before.
 */
size_t history_release_memory(struct history *h);
/* The bytes SQLite's page cache of the loop's connection holds now. */
size_t history_cache_bytes(struct history *h);
/* How many writes wait for the database to take them. */
size_t history_backlog_count(const struct history *h);
/* The largest seq whose message is committed: while failing, later ones are not stored yet. */
uint64_t history_stored_seq(const struct history *h);

/* The text of the last storage error (tools; it may be stale: see history_strerror). */
const char *history_last_error(const struct history *h);

/*
 * The text for r, a history call's negative errno, for logs and error
 * replies: SQLite's own message when the last failure was that one,
 * strerror(-r) otherwise (never the stale text of an earlier failure).
 */
const char *history_strerror(const struct history *h, int r);

/*
 * Stores a new job. A job with a seq_no is written with it: that is the
 * seq of its request_creation message, which the row stands for in the
 * message log (history_insert_message then writes nothing for it); one
 * without gets the next free seq_no (a job no message announced: tests).
 * -EEXIST if its request_id or seq_no is taken; while failing, the
 * failure's errno. Keeps a reference to job until the write is committed.
 */
int history_insert_job(struct history *h, struct job *job);
/* Writes back the job's phase, pid, end and result fields (keeps a reference, as above). */
int history_update_job(struct history *h, struct job *job);

/* Loads a job by request_id: 0 and a new reference in *ret, or -ENOENT. */
int history_find_job(struct history *h, const char *request_id, struct job **ret);
/* The newest job whose child_node_id is node_id: 0 and *ret, or -ENOENT. */
int history_find_by_node(struct history *h, const char *node_id, struct job **ret);

/*
 * Up to limit jobs matching filter, newest first, starting after cursor
 * (0: from the newest). *ret_jobs is an array of new references the caller
 * unrefs and frees; *ret_next is the cursor of the next page or 0.
 */
int history_query(struct history *h, const struct job_filter *filter, int64_t cursor, size_t limit,
		  struct job ***ret_jobs, size_t *ret_count, int64_t *ret_next);

/* What a cascading cancel needs to know of a job below a node. */
struct history_child {
	int64_t seq_no;
	const char *request_id;	   /* borrowed: valid during the callback */
	const char *child_node_id; /* the same */
	uid_t owner_uid;
};

/*
 * Calls cb, oldest first, for up to limit jobs of run_id whose
 * parent_node_id is node and whose seq_no lies in (after_seq, upto_seq],
 * with one statement prepared once for the history's life. cb must not
 * write to the history. *ret_count says how many rows there were.
 */
int history_foreach_child(struct history *h, const char *run_id, const char *node,
			  int64_t after_seq, int64_t upto_seq, size_t limit,
			  void (*cb)(const struct history_child *child, void *userdata),
			  void *userdata, size_t *ret_count);

/* The seq_no of the newest job, 0 when there is none. */
int history_last_job_seq(struct history *h, int64_t *ret);

/* Counts of every job matching filter, its status and result aside. */
int history_count(struct history *h, const struct job_filter *filter, struct job_counts *ret);

/* Calls cb for every job still opened, oldest first (recovery). */
int history_foreach_open(struct history *h, int (*cb)(struct job *job, void *userdata),
			 void *userdata);

/*
 * Stores a published message (its seq and time are set; keeps a reference,
 * as above). A request_creation is its job's row (see history_insert_job):
 * nothing is written for it.
 */
int history_insert_message(struct history *h, struct message *msg);
/* The largest seq of the log, or of a job row, 0 for an empty history. */
int history_last_seq(struct history *h, uint64_t *ret);
/* The smallest seq of the log, 0 for an empty log. */
int history_first_seq(struct history *h, uint64_t *ret);

/*
 * Calls cb with the JSON text of up to limit messages of the log (stored,
 * or written from a job row) whose seq is
 * larger than after_seq, in seq order. *ret_last is the last seq passed
 * (after_seq when none). cb returning non-zero stops early.
 */
int history_foreach_message(struct history *h, uint64_t after_seq, size_t limit,
			    int (*cb)(uint64_t seq, const char *type, const char *request_id,
				      const char *run_id, const char *text, size_t len,
				      void *userdata),
			    void *userdata, uint64_t *ret_last);

/*
 * Whether a stored message of a job still names request_id (1) or not
 * (0): the message log may outlive a job that retention removed. A
 * request_creation_failure is no job's and does not count. Negative errno
 * on failure.
 */
int history_id_in_messages(struct history *h, const char *request_id);

/* The JSON text of the message that closed request_id (caller frees), or -ENOENT. */
int history_final_message(struct history *h, const char *request_id, char **ret_text);

/* Told the request_id of each job retention removes (borrowed). */
typedef void (*history_removed_fn)(const char *request_id, void *userdata);

/*
 * Removes up to batch closed jobs beyond max_jobs or older than max_age
 * seconds (0: no such limit), and the messages older than every job kept.
 * removed_cb (may be NULL) hears of each job removed; *ret_removed counts
 * them (closed, success, failure).
 */
int history_prune(struct history *h, uint64_t max_jobs, double max_age, size_t batch,
		  history_removed_fn removed_cb, void *userdata, struct job_counts *ret_removed);

#endif
