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
struct message_ids;
struct publisher;
struct state;
struct strategy;
struct strategy_info;
struct task;

/* Borrows state, which must outlive the coordinator. NULL on ENOMEM. */
struct coordinator *coordinator_new(struct state *state);
/* Frees the coordinator and every strategy it was given. Accepts NULL. */
void coordinator_free(struct coordinator *coord);

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
void coordinator_message_stored(struct coordinator *coord, const struct message *msg);

/*
 * The seed's submit: adds the job, publishes request_creation and hands
 * task to its mode's strategy (which takes ownership; so does a refusal,
 * which frees task). On success returns 0 and the opened job, borrowed, in
 * *ret_job. A refusal publishes request_creation_failure, creates no job,
 * fills *error with the reason (caller frees) and returns -ENOPROTOOPT
 * (unknown mode), -EEXIST (request_id used before), -EBUSY (the mode's
 * queue is full), -ESHUTDOWN (shutting down), or another negative errno
 * (storage failed).
 */
int coordinator_submit(struct coordinator *coord, struct task *task, struct job **ret_job,
		       char **error);

/* Publishes the request_creation_failure of a task refused before parsing finished. */
int coordinator_publish_refusal(struct coordinator *coord, const struct message_ids *ids,
				const char *reason);

/*
 * Publishes a request_failure of kind for an opened job no strategy runs
 * (recovery: kind lost); handle_item then closes it as usual.
 */
int coordinator_publish_failure(struct coordinator *coord, const struct job *job,
				enum error_kind kind, const char *reason);

/*
 * Cancels the opened job request_id and, with cascade, every opened job
 * below it in its tree (jobs of its run, submitted after it, reached
 * through parent_node_id -> child_node_id) that canceller may cancel: its
 * own, or any when canceller is root. Each closes as a failure of kind
 * cancelled once its strategy reports back; a finishing job closes with
 * the outcome already published. Checking that canceller may cancel
 * request_id itself is the caller's. -ENOENT when there is no such job,
 * -EALREADY when it is already closed.
 */
int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade,
		       uid_t canceller);

/* The seed's system_detail: the state with every job. */
struct state *coordinator_system_detail(struct coordinator *coord);

/*
 * Lends the slot of the running job request_id to others while it waits
 * for its own descendants, and gives it back. -ENOENT if it is not running.
 */
int coordinator_lend_slot(struct coordinator *coord, const char *request_id);
int coordinator_return_slot(struct coordinator *coord, const char *request_id);

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

/* Whether a mode of that name exists. */
bool coordinator_has_mode(struct coordinator *coord, const char *mode);

/* Refuses new tasks from now on (submit returns -ESHUTDOWN). */
void coordinator_stop_accepting(struct coordinator *coord);

/* Calls every strategy's shutdown, exactly once in the coordinator's life. */
void coordinator_shutdown(struct coordinator *coord);

#endif
