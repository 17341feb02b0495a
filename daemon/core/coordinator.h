/*
 * The Coordinator (the seed's central invoker): records a job for every
 * task, hands the task to the strategy its mode names, and closes the job
 * when the strategy's completion message comes back over the publisher.
 */
#ifndef COORD_COORDINATOR_H
#define COORD_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "history.h"
#include "job.h"

struct coordinator;
struct coordinator_cancel;
struct event_base;
struct message_ids;
struct publisher;
struct state;
struct strategy;
struct strategy_info;
struct strategy_tuning;
struct task;

/* The longest a cascading cancel holds the loop at a time, by default (cancel_slice_ms). */
#define COORDINATOR_CANCEL_SLICE_MS 20

/*
 * Borrows base and state, which must outlive the coordinator. A cascading
 * cancel walks for at most cancel_slice_ms per loop turn (0: the default).
 * NULL on ENOMEM.
 */
struct coordinator *coordinator_new(struct event_base *base, struct state *state,
				    unsigned cancel_slice_ms);
/* Frees the coordinator and every strategy it was given. Accepts NULL. */
void coordinator_free(struct coordinator *coord);

/*
 * The most stored Task text the jobs waiting on their after may hold
 * (max_waiting_task_bytes); past it a submit with after is refused
 * (-EBUSY). 0, the default: no limit.
 */
void coordinator_set_max_waiting_bytes(struct coordinator *coord, size_t bytes);

/* Adds a mode; takes ownership of strategy. -EEXIST when its mode is taken. */
int coordinator_add_mode(struct coordinator *coord, struct strategy *strategy);

/*
 * The seed's start: subscribes handle_item to publisher (borrowed) and
 * starts hearing from the strategies. Needs the "async" mode.
 */
int coordinator_start(struct coordinator *coord, struct publisher *publisher);

/*
 * The seed's handle_item: success and failure close their job; creation
 * failures and creations change nothing.
 */
void coordinator_handle_item(struct message *msg, void *coord);

/*
 * The gate every message passes as it is stored, before anyone sees it (the
 * publisher's store calls both): a job ends once. admit refuses a final
 * message for a job that has one already (-EALREADY; the job is
 * "finishing" until that message closes it) or that is not opened
 * (-ENOENT); other messages pass (0). stored marks the job of a final
 * message as finishing, once the message is stored. Both accept NULL coord.
 */
int coordinator_admit_message(struct coordinator *coord, const struct message *msg);
/*
 * Fills in what a final message tells about its job that only the job
 * knows (run_start_time). Call before the message is stored or sent.
 * Accepts NULL coord.
 */
void coordinator_complete_message(struct coordinator *coord, struct message *msg);
void coordinator_message_stored(struct coordinator *coord, const struct message *msg);

/*
 * The seed's submit: adds the job, publishes request_creation and hands
 * task to its mode's strategy (which takes ownership; so does a refusal,
 * which frees task). A task with after waits (phase waiting, no slot)
 * until those jobs close. On success returns 0 and the opened job,
 * borrowed, in *ret_job. A refusal publishes request_creation_failure,
 * creates no job, fills *error with the reason (caller frees) and returns
 * -ENOPROTOOPT (unknown mode), -EEXIST (request_id used before), -EBUSY
 * (the mode's queued and waiting jobs fill max_queue), -ENOENT (after
 * names no job), -EPERM (after names another user's job, and the
 * submitter is neither root nor the daemon's user), -ESHUTDOWN (shutting
 * down), or another negative errno (storage failed).
 */
int coordinator_submit(struct coordinator *coord, struct task *task, struct job **ret_job,
		       char **error);

/*
 * Takes up an opened job of the previous run that never started (phase
 * waiting or queued, loaded from the history with its stored task): it
 * waits again for what it waited for, or is queued again in the order of
 * the calls. One whose task or mode is gone closes as lost. 0 or a
 * negative errno.
 */
int coordinator_restore(struct coordinator *coord, struct job *job);

/* Publishes the request_creation_failure of a task refused before parsing finished. */
int coordinator_publish_refusal(struct coordinator *coord, const struct message_ids *ids,
				const char *reason);

/*
 * Recovery: asks the strategy of the job's mode to take back an opened job
 * an earlier run left, by its stored strategy_ref. 0: the strategy follows
 * it and publishes its outcome; -ENOENT: nothing takes it back.
 */
int coordinator_reattach(struct coordinator *coord, const struct job *job);

/*
 * Publishes a request_failure of kind for an opened job no strategy runs
 * (recovery: kind lost); handle_item then closes it as usual.
 */
int coordinator_publish_failure(struct coordinator *coord, const struct job *job,
				enum error_kind kind, const char *reason);

/*
 * How a cancel ends: result 0, or a negative errno when its walk failed
 * part way (what it reached is stopping all the same), and the request_ids
 * of the job it names (first) and of every opened job below it that it
 * asked to stop, handed over (the callee frees each and the array).
 */
typedef void (*coordinator_cancel_fn)(int result, char **ids, size_t count, void *userdata);

/*
 * Cancels the opened job request_id now and, with cascade, every opened
 * job below it in its tree (jobs of its run submitted after it and before
 * this call, reached through parent_node_id -> child_node_id) that
 * canceller may cancel: its own, or any when canceller is root. The walk
 * below runs on later loop turns, for at most cancel_slice_ms per turn, so
 * the loop goes on serving others meanwhile. Each job closes as a failure
 * of kind cancelled once its strategy reports back; a finishing job closes
 * with the outcome already published. done (may be NULL) is called once,
 * on a later loop turn, when the walk is over or the coordinator shuts
 * down; *ret (may be NULL) is the cancel in progress until then, for
 * coordinator_cancel_forget. Without cascade and done nothing waits for a
 * later turn. Checking that canceller may cancel request_id itself is the
 * caller's. -ENOENT when there is no such job, -EALREADY when it is closed
 * and there is no cascade, -ENOMEM.
 */
int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade,
		       uid_t canceller, coordinator_cancel_fn done, void *userdata,
		       struct coordinator_cancel **ret);

/* Whoever waits for cancel went away: its walk goes on, done is not called. Accepts NULL. */
void coordinator_cancel_forget(struct coordinator_cancel *cancel);

/* The seed's system_detail: the state with every job. */
struct state *coordinator_system_detail(struct coordinator *coord);

/*
 * Lends the slot of the running job request_id to others while it waits
 * for its own descendants, and gives it back. -ENOENT if it is not running.
 */
int coordinator_lend_slot(struct coordinator *coord, const char *request_id);
int coordinator_return_slot(struct coordinator *coord, const char *request_id);

/*
 * Whether the task whose process group is pgid would wait forever for the
 * jobs ids: one of them is the task's own job, or starts only once it has
 * closed (through after, directly or through other waiting jobs). Then 1,
 * the first such id in *ret_id (borrowed from ids) and the task's
 * request_id in *ret_task (caller frees); else 0 (also for a peer that is
 * no task), or -ENOMEM.
 */
int coordinator_wait_deadlock(struct coordinator *coord, pid_t pgid, char *const *ids, size_t count,
			      const char **ret_id, char **ret_task);

/*
 * The running job whose process group is pgid, when one of the jobs ids
 * (distinct) lies below it: its request_id in *ret (caller frees), else
 * NULL. Looks at each node above the jobs at most once. 0 or -ENOMEM.
 */
int coordinator_find_lender(struct coordinator *coord, pid_t pgid, char *const *ids, size_t count,
			    char **ret);

/* Calls cb with what each mode reports, in the order modes were added. */
void coordinator_foreach_mode(struct coordinator *coord,
			      void (*cb)(const struct strategy_info *info, void *userdata),
			      void *userdata);

/* What mode reports now, in *ret: 0, or -ENOENT when there is no such mode. */
int coordinator_describe_mode(struct coordinator *coord, const char *mode,
			      struct strategy_info *ret);

/*
 * Applies tuning to mode at once (mode_set, a reload): queued tasks that
 * now fit start on the next loop turn. -ENOENT when there is no such
 * mode, -EOPNOTSUPP when its strategy cannot change while it runs.
 */
int coordinator_tune_mode(struct coordinator *coord, const char *mode,
			  const struct strategy_tuning *tuning);

/* Whether a mode of that name exists. */
bool coordinator_has_mode(struct coordinator *coord, const char *mode);

/*
 * Refuses new tasks from now on (submit returns -ESHUTDOWN) and starts no
 * more (the daemon drains): queued and waiting jobs stay so, in the
 * history, for the next start.
 */
void coordinator_stop_accepting(struct coordinator *coord);

/*
 * Calls every strategy's shutdown, exactly once in the coordinator's life,
 * then ends the cancels in progress (their done is called now).
 */
void coordinator_shutdown(struct coordinator *coord);

#endif
