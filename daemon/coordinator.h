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
 * below it in its tree. Each closes as a failure of kind cancelled once its
 * strategy reports back. -ENOENT when there is no such job, -EALREADY when
 * it is already closed.
 */
int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade);

/* The seed's system_detail: the state with every job. */
struct state *coordinator_system_detail(struct coordinator *coord);

/*
 * Lends the slot of the running job request_id to others while it waits
 * for its own descendants, and gives it back. -ENOENT if it is not running.
 */
int coordinator_lend_slot(struct coordinator *coord, const char *request_id);
int coordinator_return_slot(struct coordinator *coord, const char *request_id);

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
