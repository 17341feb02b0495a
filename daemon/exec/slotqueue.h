/*
 * A mode's slots: how many of its tasks may run at once, the FIFO queue of
 * those waiting for a slot, and the slots lent by tasks that wait for
 * their own descendants. Every strategy that runs tasks uses one.
 */
#ifndef COORD_SLOTQUEUE_H
#define COORD_SLOTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "idmap.h"
#include "reqkey.h"

struct event;
struct event_base;
struct strategy_info;
struct strategy_tuning;
struct task;

/*
 * Embedded in a strategy's own record of a task; the strategy owns both,
 * but for key, which the queue sets when it takes the item and frees
 * when it forgets it.
 */
struct slotqueue_item {
	TAILQ_ENTRY(slotqueue_item) entry; /* in the FIFO while waiting */
	struct reqkey key;		   /* its task's request_id */
	struct task *task; /* the strategy's; may be NULL while it waits (loaded at start) */
	bool waiting;	   /* no slot yet */
	bool admitted;	   /* counted against max_queue before (see task->admitted) */
	unsigned lent;	   /* waits that borrow its slot; while above 0 it holds none */
};

/* The strategy starts item, which now holds a slot. */
typedef void (*slotqueue_start_fn)(struct slotqueue_item *item, void *ctx);

struct slotqueue {
	TAILQ_HEAD(slotqueue_fifo, slotqueue_item) fifo;
	struct idmap items; /* request_id -> item, waiting and started */
	unsigned max_concurrency;
	unsigned holding; /* items holding a slot (lent ones do not) */
	size_t max_queue;
	size_t waiting;
	struct event *start_ev;
	slotqueue_start_fn start;
	void *ctx;
	bool closed;
	bool paused; /* accepts and queues, starts nothing */
};

/* max_concurrency 0: online CPUs; max_queue 0: the default. 0 or -ENOMEM. */
int slotqueue_init(struct slotqueue *q, struct event_base *base, unsigned max_concurrency,
		   size_t max_queue, slotqueue_start_fn start, void *ctx);
/*
 * Frees the queue's own memory and the keys of the items still in it
 * (the strategy frees the items themselves, after this or once it has
 * removed them).
 */
void slotqueue_clear(struct slotqueue *q);

/* Whether one more task fits (false: the queue is full, or closed). */
bool slotqueue_can_accept(const struct slotqueue *q);

/*
 * Queues item (its task and admitted set; its key is its task's
 * request_id, and the task may go once it is in) and starts it on the
 * next loop turn if a slot is free then: a submit's answer leaves before
 * its task is started. -EBUSY when full (but for a task admitted before)
 * or closed, -ENOMEM.
 */
int slotqueue_add(struct slotqueue *q, struct slotqueue_item *item);

/*
 * Adds an item that already runs (taken back after a restart; its task
 * set, as for slotqueue_add): it holds a slot at once, even past
 * max_concurrency. 0 or -ENOMEM.
 */
int slotqueue_add_running(struct slotqueue *q, struct slotqueue_item *item);

struct slotqueue_item *slotqueue_find(struct slotqueue *q, const char *request_id);

/*
 * Forgets item (waiting or started; nothing if it is not in) and frees
 * its slot and key. Does not free item.
 */
void slotqueue_remove(struct slotqueue *q, struct slotqueue_item *item);

/* Starts waiting items while slots are free. */
void slotqueue_start_waiting(struct slotqueue *q);

/*
 * A started item lends its slot, then takes it back. Loans are counted: an
 * item that lends for several waits at once gets its slot back when the
 * last of them returns it. -ENOENT if not started (return: if not lent).
 */
int slotqueue_lend(struct slotqueue *q, const char *request_id);
int slotqueue_return(struct slotqueue *q, const char *request_id);

/*
 * Changes the limits at once (0: the defaults, as for init) and pauses or
 * resumes. Queued items that now fit start on the next loop turn, in FIFO
 * order; with fewer slots than are held, running items go on and nothing
 * starts until they are below the limit. Paused, the queue still accepts
 * (up to max_queue) and lends and returns slots, but starts nothing.
 */
void slotqueue_tune(struct slotqueue *q, const struct strategy_tuning *tuning);

/* Fills the queue's part of what `modes` reports: limits, running, queued, paused. */
void slotqueue_describe(const struct slotqueue *q, struct strategy_info *info);

/* Starts nothing more and accepts nothing more. */
void slotqueue_close(struct slotqueue *q);

/* Calls cb for every item; cb may remove (and then free) the item it is given. */
void slotqueue_foreach(struct slotqueue *q, void (*cb)(struct slotqueue_item *item, void *ctx),
		       void *ctx);

/* Started items (lent or not), and waiting ones. */
size_t slotqueue_running(const struct slotqueue *q);
size_t slotqueue_waiting(const struct slotqueue *q);

#endif
