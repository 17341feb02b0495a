/*
 * Waits for jobs to close: what `wait`, `submit` with wait and `cancel`
 * hang on. One publisher subscription serves every wait.
 */
#ifndef COORD_WAITER_H
#define COORD_WAITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct publisher;
struct state;
struct waiter_wait;
struct waiter;

/* How a wait ended. */
enum waiter_end {
	WAITER_CLOSED,	  /* every job closed */
	WAITER_TIMED_OUT, /* the time ran out */
	WAITER_STOPPED,	  /* the daemon is going: waiter_stop ended it */
};

/* Called once, with how the wait ended. */
typedef void (*waiter_done_cb)(struct waiter_wait *wait, enum waiter_end end, void *userdata);

/*
 * Subscribes to publisher. Must come after the coordinator's own
 * subscription, so a job is closed in the state before its waiters hear.
 */
int waiter_new(struct event_base *base, struct publisher *publisher, struct state *state,
	       struct waiter **ret);
void waiter_free(struct waiter *waiter);

/*
 * Waits until every job in ids is closed, or timeout_ms passes (0: no
 * limit). Jobs already closed count as done; every id must name a job.
 * done may run before this returns when nothing is left to wait for; the
 * wait is freed right after done returns. Returns 0 or a negative errno.
 */
int waiter_add(struct waiter *waiter, const char *const *ids, size_t count, uint64_t timeout_ms,
	       waiter_done_cb done, void *userdata, struct waiter_wait **ret);

/* Drops a wait without calling done (its client went away). */
void waiter_cancel(struct waiter_wait *wait);

/*
 * Ends every wait with WAITER_STOPPED, for a daemon about to exit: jobs
 * kept for the next start would never close in this run.
 */
void waiter_stop(struct waiter *waiter);

/* Number of waits in progress. */
size_t waiter_count(const struct waiter *waiter);

#endif
