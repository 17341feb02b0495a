/*
 * Publisher. It owns its subscriber records and one reference to every
 * message still waiting for delivery. Subscribers removed while a delivery
 * is under way are only marked, and freed once that delivery is over, so a
 * callback may unsubscribe anyone, itself included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/event.h>

#include "jsonutil.h"
#include "log.h"
#include "message.h"
#include "publisher.h"

struct publisher_subscriber {
	TAILQ_ENTRY(publisher_subscriber) entry;
	uint64_t id;
	uint64_t after_seq; /* receives only messages with a larger seq */
	publisher_cb cb;
	publisher_filter filter; /* listeners only */
	void *userdata;
	char *name;
	bool removed;
	bool early; /* hears each message before its commit (publisher_deliver_early) */
};

struct publisher_pending {
	TAILQ_ENTRY(publisher_pending) entry;
	struct message *msg;
	bool early_done; /* the early subscribers have it */
};

struct publisher {
	struct event *deliver_ev;
	TAILQ_HEAD(, publisher_subscriber) subscribers;
	TAILQ_HEAD(publisher_pending_head, publisher_pending) pending;
	uint64_t next_seq;
	uint64_t delivered_seq; /* the last message whose delivery (to the early ones) began */
	uint64_t
		hold_after; /* messages with a larger seq wait (not stored yet); UINT64_MAX: none */
	uint64_t next_subscriber_id;
	bool gated;	     /* the others wait for their message to be stored */
	uint64_t stored_seq; /* the last message stored, when gated */
	publisher_store_fn store;
	void *store_data;
	int delivering; /* depth: removals are deferred while non-zero */
	bool has_removed;
	bool shut_down;
};

static void publisher_deliver_cb(evutil_socket_t fd, short what, void *arg);

struct publisher *publisher_new(struct event_base *base, uint64_t first_seq)
{
	struct publisher *pub = calloc(1, sizeof(*pub));

	if (!pub)
		return NULL;
	pub->deliver_ev = event_new(base, -1, 0, publisher_deliver_cb, pub);
	if (!pub->deliver_ev) {
		free(pub);
		return NULL;
	}
	TAILQ_INIT(&pub->subscribers);
	TAILQ_INIT(&pub->pending);
	pub->next_seq = first_seq ? first_seq : 1;
	pub->delivered_seq = pub->next_seq - 1;
	pub->hold_after = UINT64_MAX;
	pub->next_subscriber_id = 1;
	return pub;
}

static void publisher_subscriber_free(struct publisher_subscriber *sub)
{
	free(sub->name);
	free(sub);
}

void publisher_free(struct publisher *pub)
{
	struct publisher_subscriber *sub;
	struct publisher_pending *p;

	if (!pub)
		return;
	while ((sub = TAILQ_FIRST(&pub->subscribers))) {
		TAILQ_REMOVE(&pub->subscribers, sub, entry);
		publisher_subscriber_free(sub);
	}
	while ((p = TAILQ_FIRST(&pub->pending))) {
		TAILQ_REMOVE(&pub->pending, p, entry);
		message_unref(p->msg);
		free(p);
	}
	event_free(pub->deliver_ev);
	free(pub);
}

void publisher_set_store(struct publisher *pub, publisher_store_fn store, void *userdata)
{
	pub->store = store;
	pub->store_data = userdata;
}

static int publisher_add(struct publisher *pub, uint64_t after_seq, bool early, publisher_cb cb,
			 publisher_filter filter, void *userdata, const char *name,
			 uint64_t *ret_id)
{
	struct publisher_subscriber *sub = calloc(1, sizeof(*sub));

	if (!sub)
		return -ENOMEM;
	sub->name = strdup(name ? name : "listener");
	if (!sub->name) {
		free(sub);
		return -ENOMEM;
	}
	sub->id = pub->next_subscriber_id++;
	sub->after_seq = after_seq;
	sub->early = early;
	sub->cb = cb;
	sub->filter = filter;
	sub->userdata = userdata;
	TAILQ_INSERT_TAIL(&pub->subscribers, sub, entry);
	if (ret_id)
		*ret_id = sub->id;
	return 0;
}

int publisher_subscribe(struct publisher *pub, publisher_cb cb, void *userdata, const char *name,
			uint64_t *ret_id)
{
	return publisher_add(pub, publisher_last_seq(pub), false, cb, NULL, userdata, name, ret_id);
}

int publisher_subscribe_early(struct publisher *pub, publisher_cb cb, void *userdata,
			      const char *name, uint64_t *ret_id)
{
	return publisher_add(pub, publisher_last_seq(pub), true, cb, NULL, userdata, name, ret_id);
}

int publisher_subscribe_undelivered(struct publisher *pub, publisher_cb cb, void *userdata,
				    const char *name, uint64_t *ret_id)
{
	return publisher_add(pub, pub->delivered_seq, false, cb, NULL, userdata, name, ret_id);
}

int publisher_listen(struct publisher *pub, publisher_filter filter, publisher_cb cb,
		     void *userdata, uint64_t *ret_id)
{
	return publisher_add(pub, publisher_last_seq(pub), false, cb, filter, userdata, "listener",
			     ret_id);
}

static void publisher_remove(struct publisher *pub, struct publisher_subscriber *sub)
{
	if (pub->delivering) {
		sub->removed = true;
		pub->has_removed = true;
		return;
	}
	TAILQ_REMOVE(&pub->subscribers, sub, entry);
	publisher_subscriber_free(sub);
}

int publisher_unsubscribe(struct publisher *pub, uint64_t id)
{
	struct publisher_subscriber *sub;

	TAILQ_FOREACH (sub, &pub->subscribers, entry) {
		if (sub->id == id && !sub->removed) {
			publisher_remove(pub, sub);
			return 0;
		}
	}
	return -ENOENT;
}

int publisher_publish(struct publisher *pub, struct message *msg)
{
	struct publisher_pending *p;
	int r;

	if (pub->shut_down)
		return -ESHUTDOWN;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	msg->seq = pub->next_seq;
	if (msg->time == 0)
		msg->time = time_now();
	if (pub->store && (r = pub->store(msg, pub->store_data)) != 0) {
		msg->seq = 0;
		free(p);
		return r;
	}
	pub->next_seq++;
	p->msg = message_ref(msg);
	TAILQ_INSERT_TAIL(&pub->pending, p, entry);
	event_active(pub->deliver_ev, EV_TIMEOUT, 0);
	return 0;
}

uint64_t publisher_next_seq(const struct publisher *pub)
{
	return pub->next_seq;
}

uint64_t publisher_last_seq(const struct publisher *pub)
{
	return pub->next_seq - 1 < pub->hold_after ? pub->next_seq - 1 : pub->hold_after;
}

void publisher_hold_after(struct publisher *pub, uint64_t seq)
{
	if (seq < pub->hold_after)
		pub->hold_after = seq;
}

void publisher_release(struct publisher *pub)
{
	pub->hold_after = UINT64_MAX;
	if (!TAILQ_EMPTY(&pub->pending))
		event_active(pub->deliver_ev, EV_TIMEOUT, 0);
}

/* Whether the oldest undelivered message may go out now (to everyone). */
static bool publisher_can_deliver(const struct publisher *pub)
{
	const struct publisher_pending *p = TAILQ_FIRST(&pub->pending);

	return p && p->msg->seq <= pub->hold_after &&
	       (!pub->gated || p->msg->seq <= pub->stored_seq);
}

void publisher_gate_on_store(struct publisher *pub, uint64_t stored_seq)
{
	pub->gated = true;
	pub->stored_seq = stored_seq;
}

void publisher_stored(struct publisher *pub, uint64_t seq)
{
	if (seq <= pub->stored_seq)
		return;
	pub->stored_seq = seq;
	if (publisher_can_deliver(pub))
		event_active(pub->deliver_ev, EV_TIMEOUT, 0);
}

static void publisher_purge_removed(struct publisher *pub)
{
	struct publisher_subscriber *sub, *next;

	if (pub->delivering || !pub->has_removed)
		return;
	for (sub = TAILQ_FIRST(&pub->subscribers); sub; sub = next) {
		next = TAILQ_NEXT(sub, entry);
		if (sub->removed) {
			TAILQ_REMOVE(&pub->subscribers, sub, entry);
			publisher_subscriber_free(sub);
		}
	}
	pub->has_removed = false;
}

/* Hands msg to the early subscribers (early true), or to the others. */
static void publisher_deliver_one(struct publisher *pub, struct message *msg, bool early)
{
	struct publisher_subscriber *sub;

	if (early)
		pub->delivered_seq = msg->seq;
	pub->delivering++;
	TAILQ_FOREACH (sub, &pub->subscribers, entry) {
		if (sub->removed || sub->early != early || msg->seq <= sub->after_seq)
			continue;
		if (sub->filter) {
			if (!sub->filter(msg, sub->userdata))
				continue;
			sub->removed =
				true; /* one-shot: before the call, so it cannot fire twice */
			pub->has_removed = true;
		}
		sub->cb(msg, sub->userdata);
	}
	pub->delivering--;
	publisher_purge_removed(pub);
}

void publisher_deliver_early(struct publisher *pub)
{
	struct publisher_pending *p, *last = TAILQ_LAST(&pub->pending, publisher_pending_head);

	if (pub->shut_down || !last)
		return;
	/* Those queued now; what their delivery publishes waits for the turn's delivery. */
	for (p = TAILQ_FIRST(&pub->pending); p && p->msg->seq <= pub->hold_after;
	     p = TAILQ_NEXT(p, entry)) {
		if (!p->early_done) {
			p->early_done = true;
			publisher_deliver_one(pub, p->msg, true);
		}
		if (p == last)
			break;
	}
}

/*
 * Delivers the messages queued before this turn; later ones wait for the
 * next. Held ones wait for publisher_release.
 */
static void publisher_deliver_queued(struct publisher *pub)
{
	struct publisher_pending *p, *last = TAILQ_LAST(&pub->pending, publisher_pending_head);

	if (!last)
		return;
	publisher_deliver_early(pub);
	while (publisher_can_deliver(pub)) {
		bool at_last;

		p = TAILQ_FIRST(&pub->pending);
		at_last = p == last;
		TAILQ_REMOVE(&pub->pending, p, entry);
		/* The early subscribers had it above: the same bounds, up to last. */
		publisher_deliver_one(pub, p->msg, false);
		message_unref(p->msg);
		free(p);
		if (at_last)
			break;
	}
	if (publisher_can_deliver(pub))
		event_active(pub->deliver_ev, EV_TIMEOUT, 0);
}

static void publisher_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	publisher_deliver_queued(arg);
}

void publisher_shutdown(struct publisher *pub)
{
	pub->gated = false; /* the history is flushed after */
	while (publisher_can_deliver(pub))
		publisher_deliver_queued(pub);
	pub->shut_down = true;
}
