/*
 * Subscriptions. The connection lists them and frees them when it closes;
 * each holds a reference to its connection and a publisher subscription.
 * A message's JSON text is made once (message_wire) and shared by every
 * subscriber: only the short prefix naming the subscription differs. The
 * connections keep a long one by reference, each holding a reference to
 * the message until its copy is written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "jsonrpc.h"
#include "jsonutil.h"
#include "history.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "publisher.h"
#include "services.h"
#include "subscription.h"

#define SUBSCRIPTION_REPLAY_BATCH 256

static const char subscription_suffix[] = "}}";
static unsigned long long subscription_next_id = 1;

static bool subscription_matches(const struct subscription *sub, const char *type,
				 const char *request_id, const char *run_id)
{
	const struct subscription_filter *f = &sub->filter;
	enum message_type t;

	if (f->types && (message_type_from_name(type, &t) < 0 || !(f->types & (1u << t))))
		return false;
	if (f->request_id && (!request_id || strcmp(f->request_id, request_id) != 0))
		return false;
	if (f->run_id && (!run_id || strcmp(f->run_id, run_id) != 0))
		return false;
	return true;
}

/* Sends a copy of text (a replayed one: the history's row goes away after the call). */
static void subscription_send(struct subscription *sub, const char *text, size_t len)
{
	connection_notify(sub->conn, sub->prefix, sub->prefix_len, text, len, NULL, NULL,
			  subscription_suffix, sizeof(subscription_suffix) - 1);
}

/* The connection no longer needs the message's text it shared. */
static void subscription_message_released(const void *text, size_t len, void *ctx)
{
	message_unref(ctx);
}

/* A live message: its text stays the message's, shared by every subscriber that gets it. */
static void subscription_send_message(struct subscription *sub, struct message *msg,
				      const char *text, size_t len)
{
	connection_notify(sub->conn, sub->prefix, sub->prefix_len, text, len,
			  subscription_message_released, message_ref(msg), subscription_suffix,
			  sizeof(subscription_suffix) - 1);
}

/*
 * Ends the subscription with a subscription_ended notification: reason,
 * the first seq it did not receive, and (when retention removed messages
 * it had yet to send) the oldest seq still stored.
 */
static void subscription_end(struct subscription *sub, const char *reason, uint64_t resume_seq,
			     uint64_t oldest_seq)
{
	json_object *params = json_object_new_object(), *note;
	const char *text;
	size_t len;

	json_object_object_add(params, "subscription", json_object_new_int64((int64_t)sub->id));
	json_object_object_add(params, "reason", json_object_new_string(reason));
	json_object_object_add(params, "resume_seq", json_object_new_int64((int64_t)resume_seq));
	if (oldest_seq)
		json_object_object_add(params, "oldest_seq",
				       json_object_new_int64((int64_t)oldest_seq));
	note = jsonrpc_notification("subscription_ended", params);
	text = json_to_wire(note, &len);
	if (text)
		connection_send(sub->conn, text, len);
	json_object_put(note);
	subscription_free(sub);
}

/* The client fell behind: tell it where to resume, and end the subscription. */
static void subscription_lagged(struct subscription *sub, uint64_t resume_seq)
{
	log_notice("subscription %llu of uid %u lagged at seq %llu: %zu bytes unsent", sub->id,
		   (unsigned)connection_peer_uid(sub->conn), (unsigned long long)resume_seq,
		   connection_pending_output(sub->conn));
	metrics_subscriber_lagged();
	subscription_end(sub, "lagged", resume_seq, 0);
}

/* Retention removed messages the replay had not sent yet: never skip them silently. */
static void subscription_pruned(struct subscription *sub)
{
	log_notice("subscription %llu of uid %u: retention removed seq %llu to %llu before its "
		   "replay sent them",
		   sub->id, (unsigned)connection_peer_uid(sub->conn),
		   (unsigned long long)sub->last_seq + 1, (unsigned long long)sub->pruned_at - 1);
	subscription_end(sub, "pruned", sub->last_seq + 1, sub->pruned_at);
}

static void subscription_live_cb(struct message *msg, void *userdata)
{
	struct subscription *sub = userdata;
	const char *text;
	size_t len;

	if (sub->replaying || msg->seq <= sub->last_seq)
		return;
	sub->last_seq = msg->seq;
	if (!subscription_matches(sub, message_type_name(msg->type), msg->request_id, msg->run_id))
		return;
	if (sub->hooks) {
		sub->hooks->message(sub->hooks_ctx, msg); /* may free sub */
		return;
	}
	text = message_wire(msg, &len);
	if (!text)
		return;
	/* Lagging is about output left unread: one message alone may exceed the limit. */
	if (connection_pending_output(sub->conn) >= connection_limits(sub->conn)->subscriber_max) {
		subscription_lagged(sub, msg->seq);
		return;
	}
	subscription_send_message(sub, msg, text, len);
}

static int subscription_replay_one(uint64_t seq, const char *type, const char *request_id,
				   const char *run_id, const char *text, size_t len, void *userdata)
{
	struct subscription *sub = userdata;

	/* The log is pruned as a prefix: a hole means the replay was overtaken. */
	if (seq != sub->last_seq + 1) {
		sub->pruned_at = seq;
		return 1;
	}
	sub->last_seq = seq;
	if (subscription_matches(sub, type, request_id, run_id))
		subscription_send(sub, text, len);
	/* Stop within a batch too: a batch of large messages must not pile up. */
	return connection_pending_output(sub->conn) >
	       connection_limits(sub->conn)->subscriber_max / 2;
}

/*
 * Replays from the history while the client keeps up; live messages wait
 * meanwhile. May end (and free) sub when retention overtook the replay.
 */
static void subscription_replay(struct subscription *sub)
{
	size_t budget = connection_limits(sub->conn)->subscriber_max / 2;

	while (sub->replaying && connection_is_open(sub->conn)) {
		uint64_t before = sub->last_seq, passed;
		int r;

		if (connection_pending_output(sub->conn) > budget)
			return; /* resumed from the connection's drain callback */
		r = history_foreach_message(sub->services->history, sub->last_seq,
					    SUBSCRIPTION_REPLAY_BATCH, subscription_replay_one, sub,
					    &passed);
		if (r < 0) {
			log_error("replay for subscription %llu: %s", sub->id,
				  history_strerror(sub->services->history, r));
			sub->replaying = false;
		} else if (sub->pruned_at) {
			subscription_pruned(sub);
			return;
		} else if (sub->last_seq == before) {
			sub->replaying = false; /* caught up: the rest comes live */
		}
	}
}

static struct subscription *subscription_of(struct connection_attachment *att)
{
	return (struct subscription *)((char *)att - offsetof(struct subscription, att));
}

/* The connection closes. */
static void subscription_detach(struct connection_attachment *att)
{
	subscription_free(subscription_of(att));
}

/* The connection has room again: go on with a replay (which may end this subscription). */
static void subscription_drained(struct connection_attachment *att)
{
	struct subscription *sub = subscription_of(att);

	if (sub->hooks)
		sub->hooks->drain(sub->hooks_ctx);
	else if (sub->replaying)
		subscription_replay(sub);
}

static const struct connection_attachment_ops subscription_attachment = {
	.kind = CONNECTION_SUBSCRIPTION,
	.detach = subscription_detach,
	.drained = subscription_drained,
};

struct subscription *subscription_find(struct connection *conn, unsigned long long id)
{
	struct connection_attachment *att;

	for (att = connection_attached_first(conn, CONNECTION_SUBSCRIPTION); att;
	     att = connection_attached_next(att)) {
		if (subscription_of(att)->id == id)
			return subscription_of(att);
	}
	return NULL;
}

size_t subscription_count(const struct connection *conn)
{
	return connection_attached_count(conn, CONNECTION_SUBSCRIPTION);
}

/*
 * The text of this subscription's message notification before the
 * message: the envelope from jsonrpc_notification with a null message,
 * cut where the null is (subscription_suffix closes it).
 */
static int subscription_prefix(struct subscription *sub)
{
	json_object *params = json_object_new_object(), *note;
	const char *text;
	size_t len, end = sizeof("null") - 1 + sizeof(subscription_suffix) - 1;
	int r = -ENOMEM;

	json_object_object_add(params, "subscription", json_object_new_int64((int64_t)sub->id));
	json_object_object_add(params, "message", NULL);
	note = jsonrpc_notification("message", params);
	text = json_to_wire(note, &len);
	if (text && len > end && len - end < sizeof(sub->prefix) &&
	    memcmp(text + len - end, "null}}", end) == 0) {
		sub->prefix_len = len - end;
		memcpy(sub->prefix, text, sub->prefix_len);
		r = 0;
	}
	json_object_put(note);
	return r;
}

/*
 * A new subscription with filter (taken). undelivered: it also gets the
 * messages published but not delivered yet (see publisher_subscribe_undelivered).
 */
static int subscription_create(struct services *services, struct connection *conn,
			       struct subscription_filter *filter, bool has_since,
			       uint64_t since_seq, bool undelivered, struct subscription **ret)
{
	struct subscription *sub = calloc(1, sizeof(*sub));
	int r;

	if (!sub)
		return -ENOMEM;
	sub->id = subscription_next_id++;
	sub->services = services;
	sub->filter = *filter;
	memset(filter, 0, sizeof(*filter));
	sub->last_seq = publisher_last_seq(services->publisher);
	/* Until started, live messages wait: they are in the history too. */
	sub->replaying = true;
	if (has_since && since_seq < sub->last_seq)
		sub->last_seq = since_seq;
	r = subscription_prefix(sub);
	if (r == 0 && undelivered)
		r = publisher_subscribe_undelivered(services->publisher, subscription_live_cb, sub,
						    "client", &sub->publisher_id);
	else if (r == 0)
		r = publisher_subscribe(services->publisher, subscription_live_cb, sub, "client",
					&sub->publisher_id);
	if (r < 0) {
		free(sub->filter.request_id);
		free(sub->filter.run_id);
		free(sub);
		return r;
	}
	sub->conn = connection_ref(conn);
	connection_attach(conn, &sub->att, &subscription_attachment);
	metrics_subscription_opened();
	*ret = sub;
	return 0;
}

int subscription_new(struct services *services, struct connection *conn,
		     struct subscription_filter *filter, bool has_since, uint64_t since_seq,
		     struct subscription **ret)
{
	return subscription_create(services, conn, filter, has_since, since_seq, false, ret);
}

int subscription_new_hooked(struct services *services, struct connection *conn,
			    const char *request_id, const struct subscription_hooks *hooks,
			    void *ctx, struct subscription **ret)
{
	struct subscription_filter filter = {
		.types = (1u << MESSAGE_REQUEST_SUCCESS) | (1u << MESSAGE_REQUEST_FAILURE),
		.request_id = strdup(request_id),
	};
	int r;

	if (!filter.request_id)
		return -ENOMEM;
	/* The caller has just read the job from the state: what it has not seen yet counts. */
	r = subscription_create(services, conn, &filter, false, 0, true, ret);
	if (r < 0) {
		free(filter.request_id);
		return r;
	}
	(*ret)->replaying = false;
	(*ret)->last_seq = 0;
	(*ret)->hooks = hooks;
	(*ret)->hooks_ctx = ctx;
	return 0;
}

void subscription_start(struct subscription *sub)
{
	subscription_replay(sub);
}

void subscription_free(struct subscription *sub)
{
	metrics_subscription_closed();
	if (sub->hooks)
		sub->hooks->free(sub->hooks_ctx);
	publisher_unsubscribe(sub->services->publisher, sub->publisher_id);
	connection_detach(sub->conn, &sub->att);
	connection_unref(sub->conn);
	free(sub->filter.request_id);
	free(sub->filter.run_id);
	free(sub);
}
