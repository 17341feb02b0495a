/*
 * Slots and the FIFO queue behind them. The queue owns its index (an
 * idmap by the items' keys, their request_ids in 16 bytes), the keys
 * themselves, and its start event; the items belong to the strategy.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <event2/event.h>

#include "slotqueue.h"
#include "strategy.h"
#include "task.h"

static void slotqueue_start_cb(evutil_socket_t fd, short what, void *arg)
{
	slotqueue_start_waiting(arg);
}

static const struct reqkey *slotqueue_item_key(const void *item)
{
	return &((const struct slotqueue_item *)item)->key;
}

static unsigned slotqueue_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

int slotqueue_init(struct slotqueue *q, struct event_base *base, unsigned max_concurrency,
		   size_t max_queue, slotqueue_start_fn start, void *ctx)
{
	TAILQ_INIT(&q->fifo);
	q->max_concurrency = max_concurrency ? max_concurrency : slotqueue_online_cpus();
	q->max_queue = max_queue ? max_queue : STRATEGY_DEFAULT_MAX_QUEUE;
	q->holding = 0;
	q->waiting = 0;
	q->start = start;
	q->ctx = ctx;
	q->closed = false;
	q->paused = false;
	idmap_init_keyed(&q->items, slotqueue_item_key);
	q->start_ev = evtimer_new(base, slotqueue_start_cb, q);
	if (!q->start_ev) {
		slotqueue_clear(q);
		return -ENOMEM;
	}
	return 0;
}

static void slotqueue_clear_key_cb(void *item, void *ctx)
{
	reqkey_clear(&((struct slotqueue_item *)item)->key);
}

void slotqueue_clear(struct slotqueue *q)
{
	idmap_foreach(&q->items, slotqueue_clear_key_cb, NULL);
	idmap_clear(&q->items);
	if (q->start_ev)
		event_free(q->start_ev);
	q->start_ev = NULL;
}

static size_t slotqueue_free_slots(const struct slotqueue *q)
{
	if (q->paused)
		return 0;
	return q->holding < q->max_concurrency ? q->max_concurrency - q->holding : 0;
}

bool slotqueue_can_accept(const struct slotqueue *q)
{
	/* Items queued this turn may not have taken their free slots yet. */
	return !q->closed && q->waiting < q->max_queue + slotqueue_free_slots(q);
}

/*
 * Starts what can start once this loop turn's other work is done (the
 * same turn, so a start shares the commit of the submit that queued it).
 */
static void slotqueue_start_soon(struct slotqueue *q)
{
	event_active(q->start_ev, EV_TIMEOUT, 0);
}

/* Indexes item by its task's request_id. 0 or -ENOMEM. */
static int slotqueue_index(struct slotqueue *q, struct slotqueue_item *item)
{
	int r = reqkey_set(&item->key, item->task->request_id);

	if (r == 0 && (r = idmap_insert(&q->items, item)) < 0)
		reqkey_clear(&item->key);
	return r;
}

int slotqueue_add(struct slotqueue *q, struct slotqueue_item *item)
{
	/* One admitted before (a dependency released it, or a restart) was counted already. */
	if (q->closed || (!item->admitted && !slotqueue_can_accept(q)))
		return -EBUSY;
	if (slotqueue_index(q, item) < 0)
		return -ENOMEM;
	item->waiting = true;
	item->lent = 0;
	TAILQ_INSERT_TAIL(&q->fifo, item, entry);
	q->waiting++;
	slotqueue_start_soon(q);
	return 0;
}

int slotqueue_add_running(struct slotqueue *q, struct slotqueue_item *item)
{
	if (slotqueue_index(q, item) < 0)
		return -ENOMEM;
	item->waiting = false;
	item->lent = 0;
	q->holding++;
	return 0;
}

struct slotqueue_item *slotqueue_find(struct slotqueue *q, const char *request_id)
{
	return idmap_find(&q->items, request_id);
}

void slotqueue_remove(struct slotqueue *q, struct slotqueue_item *item)
{
	if (reqkey_empty(&item->key))
		return; /* not in the queue */
	if (item->waiting) {
		TAILQ_REMOVE(&q->fifo, item, entry);
		q->waiting--;
		item->waiting = false;
	} else if (item->lent == 0) {
		q->holding--;
	}
	idmap_remove(&q->items, item);
	reqkey_clear(&item->key);
}

void slotqueue_start_waiting(struct slotqueue *q)
{
	struct slotqueue_item *item;

	while (!q->closed && !q->paused && q->holding < q->max_concurrency &&
	       (item = TAILQ_FIRST(&q->fifo))) {
		TAILQ_REMOVE(&q->fifo, item, entry);
		q->waiting--;
		item->waiting = false;
		q->holding++;
		q->start(item, q->ctx); /* may remove item again */
	}
}

int slotqueue_lend(struct slotqueue *q, const char *request_id)
{
	struct slotqueue_item *item = slotqueue_find(q, request_id);

	if (!item || item->waiting)
		return -ENOENT;
	if (item->lent++ > 0)
		return 0;
	q->holding--;
	slotqueue_start_waiting(q);
	return 0;
}

int slotqueue_return(struct slotqueue *q, const char *request_id)
{
	struct slotqueue_item *item = slotqueue_find(q, request_id);

	if (!item || item->lent == 0)
		return -ENOENT;
	if (--item->lent > 0)
		return 0;
	q->holding++; /* may exceed the cap until a task ends: the waiter must go on */
	return 0;
}

void slotqueue_tune(struct slotqueue *q, const struct strategy_tuning *tuning)
{
	q->max_concurrency =
		tuning->max_concurrency ? tuning->max_concurrency : slotqueue_online_cpus();
	q->max_queue = tuning->max_queue ? tuning->max_queue : STRATEGY_DEFAULT_MAX_QUEUE;
	q->paused = tuning->paused;
	if (!TAILQ_EMPTY(&q->fifo))
		slotqueue_start_soon(q);
}

void slotqueue_describe(const struct slotqueue *q, struct strategy_info *info)
{
	info->max_concurrency = q->max_concurrency;
	info->running = (unsigned)slotqueue_running(q);
	info->queued = slotqueue_waiting(q);
	info->max_queue = q->max_queue;
	info->paused = q->paused;
}

void slotqueue_close(struct slotqueue *q)
{
	q->closed = true;
}

struct slotqueue_foreach {
	void (*cb)(struct slotqueue_item *item, void *ctx);
	void *ctx;
};

static void slotqueue_foreach_cb(void *item, void *ctx)
{
	struct slotqueue_foreach *f = ctx;

	f->cb(item, f->ctx);
}

void slotqueue_foreach(struct slotqueue *q, void (*cb)(struct slotqueue_item *item, void *ctx),
		       void *ctx)
{
	struct slotqueue_foreach f = {.cb = cb, .ctx = ctx};

	/* cb may remove the item it is given: the idmap allows that. */
	idmap_foreach(&q->items, slotqueue_foreach_cb, &f);
}

size_t slotqueue_running(const struct slotqueue *q)
{
	return q->items.count - q->waiting;
}

size_t slotqueue_waiting(const struct slotqueue *q)
{
	return q->waiting;
}
