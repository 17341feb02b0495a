/*
 * Waits on job closure. The waiter owns every wait and a table from
 * request_id (a copy) to the list of waits still expecting that job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/event.h>
#include <json-c/linkhash.h>

#include "job.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "waiter.h"

struct waiter_link {
	TAILQ_ENTRY(waiter_link) entry;
	struct waiter_wait *wait;
	struct waiter_slot *slot;
};

/* Everyone waiting for one request_id. */
struct waiter_slot {
	char *request_id;
	TAILQ_HEAD(, waiter_link) links;
};

struct waiter_wait {
	TAILQ_ENTRY(waiter_wait) entry;
	struct waiter *waiter;
	struct waiter_link *links; /* one per job still expected, array of count */
	size_t count;
	size_t remaining;
	struct event *timeout_ev;
	waiter_done_cb done;
	void *userdata;
};

struct waiter {
	struct event_base *base;
	struct publisher *publisher;
	struct state *state;
	uint64_t subscription;
	struct lh_table *slots; /* request_id -> struct waiter_slot */
	TAILQ_HEAD(, waiter_wait) waits;
	size_t count;
};

static void waiter_slot_free(struct lh_entry *e)
{
	struct waiter_slot *slot = (struct waiter_slot *)lh_entry_v(e);

	free(slot->request_id);
	free(slot);
}

static void waiter_unlink(struct waiter *waiter, struct waiter_link *link)
{
	struct waiter_slot *slot = link->slot;

	if (!slot)
		return;
	TAILQ_REMOVE(&slot->links, link, entry);
	link->slot = NULL;
	if (TAILQ_EMPTY(&slot->links))
		lh_table_delete(waiter->slots, slot->request_id);
}

static void waiter_wait_free(struct waiter_wait *wait)
{
	struct waiter *waiter = wait->waiter;

	for (size_t i = 0; i < wait->count; i++)
		waiter_unlink(waiter, &wait->links[i]);
	if (wait->timeout_ev)
		event_free(wait->timeout_ev);
	TAILQ_REMOVE(&waiter->waits, wait, entry);
	waiter->count--;
	free(wait->links);
	free(wait);
}

static void waiter_finish(struct waiter_wait *wait, enum waiter_end end)
{
	wait->done(wait, end, wait->userdata);
	waiter_wait_free(wait);
}

void waiter_cancel(struct waiter_wait *wait)
{
	waiter_wait_free(wait);
}

static void waiter_message_cb(struct message *msg, void *userdata)
{
	struct waiter *waiter = userdata;
	struct waiter_slot *slot;
	struct waiter_link *link;
	void *v;

	if (!message_closes_job(msg) || !msg->request_id ||
	    !lh_table_lookup_ex(waiter->slots, msg->request_id, &v))
		return;
	slot = v;
	/* Each finished wait frees its links, the slot itself with the last one. */
	while (slot && (link = TAILQ_FIRST(&slot->links))) {
		struct waiter_wait *wait = link->wait;
		bool last = TAILQ_NEXT(link, entry) == NULL;

		waiter_unlink(waiter, link);
		if (--wait->remaining == 0)
			waiter_finish(wait, WAITER_CLOSED);
		if (last)
			slot = NULL;
	}
}

int waiter_new(struct event_base *base, struct publisher *publisher, struct state *state,
	       struct waiter **ret)
{
	struct waiter *waiter = calloc(1, sizeof(*waiter));
	int r;

	if (!waiter)
		return -ENOMEM;
	waiter->base = base;
	waiter->publisher = publisher;
	waiter->state = state;
	TAILQ_INIT(&waiter->waits);
	waiter->slots = lh_kchar_table_new(64, waiter_slot_free);
	if (!waiter->slots) {
		free(waiter);
		return -ENOMEM;
	}
	r = publisher_subscribe_early(publisher, waiter_message_cb, waiter, "waiter",
				      &waiter->subscription);
	if (r < 0) {
		lh_table_free(waiter->slots);
		free(waiter);
		return r;
	}
	*ret = waiter;
	return 0;
}

void waiter_stop(struct waiter *waiter)
{
	struct waiter_wait *wait;

	while ((wait = TAILQ_FIRST(&waiter->waits)))
		waiter_finish(wait, WAITER_STOPPED);
}

void waiter_free(struct waiter *waiter)
{
	struct waiter_wait *wait;

	if (!waiter)
		return;
	while ((wait = TAILQ_FIRST(&waiter->waits)))
		waiter_wait_free(wait);
	publisher_unsubscribe(waiter->publisher, waiter->subscription);
	lh_table_free(waiter->slots);
	free(waiter);
}

static int waiter_slot(struct waiter *waiter, const char *request_id, struct waiter_slot **ret)
{
	struct waiter_slot *slot;
	void *v;

	if (lh_table_lookup_ex(waiter->slots, request_id, &v)) {
		*ret = v;
		return 0;
	}
	slot = calloc(1, sizeof(*slot));
	if (!slot || !(slot->request_id = strdup(request_id))) {
		free(slot);
		return -ENOMEM;
	}
	TAILQ_INIT(&slot->links);
	if (lh_table_insert(waiter->slots, slot->request_id, slot) < 0) {
		free(slot->request_id);
		free(slot);
		return -ENOMEM;
	}
	*ret = slot;
	return 0;
}

static void waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	waiter_finish(arg, WAITER_TIMED_OUT);
}

static int waiter_arm_timeout(struct waiter_wait *wait, uint64_t timeout_ms)
{
	struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};

	if (timeout_ms == 0)
		return 0;
	wait->timeout_ev = evtimer_new(wait->waiter->base, waiter_timeout_cb, wait);
	if (!wait->timeout_ev)
		return -ENOMEM;
	return evtimer_add(wait->timeout_ev, &tv);
}

/* Links wait to every id that is still opened (a queued job kept on disk stays there). */
static int waiter_link_all(struct waiter_wait *wait, const char *const *ids)
{
	struct waiter *waiter = wait->waiter;

	for (size_t i = 0; i < wait->count; i++) {
		struct waiter_link *link = &wait->links[i];
		int r;

		if (!state_is_open(waiter->state, ids[i]))
			continue;
		r = waiter_slot(waiter, ids[i], &link->slot);
		if (r < 0)
			return r;
		link->wait = wait;
		TAILQ_INSERT_TAIL(&link->slot->links, link, entry);
		wait->remaining++;
	}
	return 0;
}

int waiter_add(struct waiter *waiter, const char *const *ids, size_t count, uint64_t timeout_ms,
	       waiter_done_cb done, void *userdata, struct waiter_wait **ret)
{
	struct waiter_wait *wait = calloc(1, sizeof(*wait));
	int r;

	if (!wait || !(wait->links = calloc(count ? count : 1, sizeof(*wait->links)))) {
		free(wait);
		return -ENOMEM;
	}
	wait->waiter = waiter;
	wait->count = count;
	wait->done = done;
	wait->userdata = userdata;
	TAILQ_INSERT_TAIL(&waiter->waits, wait, entry);
	waiter->count++;
	r = waiter_link_all(wait, ids);
	if (r == 0)
		r = waiter_arm_timeout(wait, timeout_ms);
	if (r < 0) {
		waiter_wait_free(wait);
		return r;
	}
	if (ret)
		*ret = wait;
	if (wait->remaining == 0)
		waiter_finish(wait, WAITER_CLOSED);
	return 0;
}

size_t waiter_count(const struct waiter *waiter)
{
	return waiter->count;
}
