/*
 * CoordinatorState: every job the coordinator has accepted. Opened jobs
 * stay in memory, indexed by request_id; every job, opened or closed, is in
 * the history, which answers the queries.
 */
#ifndef COORD_STATE_H
#define COORD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "history.h"
#include "job.h"

struct state;
struct task;

/* Borrows history, which must outlive the state. NULL on ENOMEM. */
struct state *state_new(struct history *history);
/* Drops the opened jobs it holds. Accepts NULL. */
void state_free(struct state *state);

/*
 * The seed's add_job: a new opened job for task, stored and indexed.
 * creation_seq is the seq its request_creation message is published with
 * next (the job's row stands for that message in the log: docs/storage.md);
 * 0 gives the row the next free seq_no. Returns 0 and a borrowed pointer
 * in *ret (valid while the job is opened; take a reference to keep it
 * longer), -EEXIST when the request_id was used before, or another
 * negative errno when it cannot be stored.
 */
int state_add_job(struct state *state, const struct task *task, uint64_t creation_seq,
		  struct job **ret);

/*
 * The seed's end_job: closes the opened job request_id. Returns -ENOENT
 * when no opened job has that id (also when it is already closed).
 */
int state_end_job(struct state *state, const char *request_id, enum job_result result,
		  int exit_code, enum error_kind kind, const char *error_message);

/*
 * state_end_job for a job whose task ran: also records how much it wrote
 * to each stream in all (-1: unknown), stored in the same row write.
 */
int state_end_job_with_output(struct state *state, const char *request_id, enum job_result result,
			      int exit_code, enum error_kind kind, const char *error_message,
			      int64_t stdout_bytes, int64_t stderr_bytes);

/*
 * Takes an opened job loaded from the history (recovery) back into memory,
 * with a reference of its own, so it can be closed as usual.
 */
int state_adopt_open(struct state *state, struct job *job);

/* Stores what the job's strategy needs to find it again after a restart (ref is copied). */
int state_set_ref(struct state *state, struct job *job, const char *ref);

/*
 * Records that an opened job's task started running as pid (0: it is
 * about to be spawned, and its pid comes later).
 */
int state_set_running(struct state *state, struct job *job, pid_t pid, uint64_t pid_starttime);

/* A waiting job's dependencies have closed: it is queued now. -EINVAL if it was not waiting. */
int state_set_queued(struct state *state, struct job *job);

/* Commits what is written so far now, not at the end of the loop turn. 0 or negative errno. */
int state_commit(struct state *state);

/*
 * Records that an opened job's task is about to be spawned (as
 * state_set_running with pid 0), in the loop turn's transaction: 1 when
 * that write waits for the turn's commit (a commit hook hears how it
 * went, and the task must not start before it succeeded), 0 when it is
 * committed already (no event base; or the history was failing and its
 * backlog, this write with it, is stored now), or a negative errno (it is
 * not stored: the task must not start).
 */
int state_set_starting(struct state *state, struct job *job);

/* See history_add_commit_hook: 0 or -ENOSPC. */
int state_add_commit_hook(struct state *state, void (*hook)(int result, void *userdata),
			  void *userdata);
void state_remove_commit_hook(struct state *state, void (*hook)(int result, void *userdata),
			      void *userdata);

/* Number of opened jobs in phase running (started, not closed). */
size_t state_started_count(const struct state *state);

/*
 * The opened job request_id (borrowed), or NULL: O(1). A cold job is
 * loaded back from the history (and stays in memory from then on); when
 * that fails it is logged and NULL returned.
 */
struct job *state_find_open(struct state *state, const char *request_id);
/* Whether request_id is an opened job, hot or cold; never loads a cold one back. O(1). */
bool state_is_open(struct state *state, const char *request_id);

/*
 * A queued job's memory: once its task waits in a strategy that loads it
 * back at start, the job itself may live in the history only ("cold"),
 * with just its request_id in memory, until someone looks for it
 * (state_find_open). state_cool_later lists an opened job to make cold;
 * state_cool does it, on a later loop turn than the submit (whose caller
 * still uses the job), for each listed job still queued that keep (may
 * be NULL) does not keep, and returns how many; one that someone else
 * holds a reference to stays listed for a later call (*ret_left says how
 * many). state_cool_now makes job cold at once (a reference
 * the caller holds stays valid, on a copy nobody else sees): 0, -EBUSY
 * when it is not a queued job in memory, -ENOMEM.
 */
void state_cool_later(struct state *state, struct job *job);
size_t state_cool(struct state *state, bool (*keep)(const struct job *job, void *ctx), void *ctx,
		  size_t *ret_left);
int state_cool_now(struct state *state, struct job *job);
/* Whether request_id is a cold job (tests). */
bool state_is_cold(struct state *state, const char *request_id);

/* The opened job whose process (and process group) is pid (borrowed), or NULL: O(1). */
struct job *state_find_running(struct state *state, pid_t pid);

/*
 * Whether request_id names anything stored, a job or (after retention
 * removed its job) a message: 1 or 0, or a negative errno.
 */
int state_request_id_used(struct state *state, const char *request_id);

/*
 * Any job, opened or closed: 0 and a new reference in *ret, or -ENOENT.
 * While the history is failing, the job as it is stored; a cold one (see
 * state_cool) as it is stored too, a copy, and it stays cold.
 */
int state_get_job(struct state *state, const char *request_id, struct job **ret);

/* The newest job whose child_node_id is node_id: 0 and a new reference, or -ENOENT. */
int state_find_by_node(struct state *state, const char *node_id, struct job **ret);

/*
 * The run a new request of owner with this parent belongs to (caller
 * frees; NULL: its own): the run of the newest job of the same owner whose
 * child_node_id is parent_node_id, or of any owner with any_owner.
 */
int state_run_id_for_parent(struct state *state, const char *parent_node_id, uid_t owner,
			    bool any_owner, char **ret);

/*
 * Counts over all jobs (O(1); from the history's rows while it is failing),
 * or over those matching filter (status and result aside).
 */
int state_counts(struct state *state, const struct job_filter *filter, struct job_counts *ret);

/* The seed's job_list: a page of jobs newest first, see history_query. */
int state_query(struct state *state, const struct job_filter *filter, int64_t cursor, size_t limit,
		struct job ***ret_jobs, size_t *ret_count, int64_t *ret_next);

/* The jobs of run_id below node, oldest first: see history_foreach_child. */
int state_foreach_child(struct state *state, const char *run_id, const char *node,
			int64_t after_seq, int64_t upto_seq, size_t limit,
			void (*cb)(const struct history_child *child, void *userdata),
			void *userdata, size_t *ret_count);

/* The seq_no of the newest job (0: none yet). */
int state_last_seq_no(struct state *state, int64_t *ret);

/*
 * Calls cb for each opened job held in memory (in no particular order; a
 * cold one is not loaded for it); cb must not add or end jobs.
 */
void state_foreach_open(struct state *state, void (*cb)(struct job *job, void *userdata),
			void *userdata);

/*
 * Retention: removes up to batch closed jobs past the limits (see
 * history_prune; removed_cb may be NULL) and keeps the counts right.
 * *ret_removed says how many.
 */
int state_prune(struct state *state, uint64_t max_jobs, double max_age, size_t batch,
		history_removed_fn removed_cb, void *userdata, size_t *ret_removed);

/* Number of opened jobs, cold ones included. */
size_t state_open_count(const struct state *state);

/* Loads the counts from the history: after opening it, and after it failed and recovered. */
int state_load(struct state *state);

#endif
