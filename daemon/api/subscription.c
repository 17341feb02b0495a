/*
 * Subscriptions. The connection lists them and frees them when it closes;
 * each holds a reference to its connection and a publisher subscription.
 * A message's JSON text is made once (message_wire) and shared by every
 * subscriber: only the short prefix naming the subscription differs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "daemon.h"
#include "history.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "output_follow.h"
#include "publisher.h"
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

static void subscription_send(struct subscription *sub, const char *text, size_t len)
{
	const char *parts[] = {sub->prefix, text, subscription_suffix};
	size_t lens[] = {sub->prefix_len, len, sizeof(subscription_suffix) - 1};

	connection_send_parts(sub->conn, parts, lens, 3);
}

/*
 * Ends the subscription with a subscription_ended notification: reason,
 * the first seq it did not receive, and (when retention removed messages
 * it had yet to send) the oldest seq still stored.
 */
static void subscription_end(struct subscription *sub, const char *reason, uint64_t resume_seq,
			     uint64_t oldest_seq)
{
	char text[256];
	int n = snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"subscription_ended\",\"params\":"
			 "{\"subscription\":%llu,\"reason\":\"%s\",\"resume_seq\":%llu",
			 sub->id, reason, (unsigned long long)resume_seq);

	if (oldest_seq)
		n += snprintf(text + n, sizeof(text) - (size_t)n, ",\"oldest_seq\":%llu",
			      (unsigned long long)oldest_seq);
	n += snprintf(text + n, sizeof(text) - (size_t)n, "}}");
	connection_send(sub->conn, text, (size_t)n);
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
	if (sub->follow) {
		output_follow_message(sub->follow, msg); /* may free sub */
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
	subscription_send(sub, text, len);
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
		r = history_foreach_message(sub->daemon->history, sub->last_seq,
					    SUBSCRIPTION_REPLAY_BATCH, subscription_replay_one, sub,
					    &passed);
		if (r < 0) {
			log_error("replay for subscription %llu: %s", sub->id,
				  history_last_error(sub->daemon->history));
			sub->replaying = false;
		} else if (sub->pruned_at) {
			subscription_pruned(sub);
			return;
		} else if (sub->last_seq == before) {
			sub->replaying = false; /* caught up: the rest comes live */
		}
	}
}

static void subscription_drain_cb(struct connection *conn)
{
	struct subscription *sub, *next;

	/* The connection has room again: go on with any replay (which may end only its own). */
	for (sub = TAILQ_FIRST(connection_subscriptions(conn)); sub; sub = next) {
		next = TAILQ_NEXT(sub, conn_entry);
		if (sub->follow)
			output_follow_drain(sub->follow);
		else if (sub->replaying)
			subscription_replay(sub);
	}
}

int subscription_new(struct daemon *daemon, struct connection *conn,
		     struct subscription_filter *filter, bool has_since, uint64_t since_seq,
		     struct subscription **ret)
{
	struct subscription *sub = calloc(1, sizeof(*sub));
	int r;

	if (!sub)
		return -ENOMEM;
	sub->id = subscription_next_id++;
	sub->daemon = daemon;
	sub->filter = *filter;
	memset(filter, 0, sizeof(*filter));
	sub->last_seq = publisher_last_seq(daemon->publisher);
	/* Until started, live messages wait: they are in the history too. */
	sub->replaying = true;
	if (has_since && since_seq < sub->last_seq)
		sub->last_seq = since_seq;
	sub->prefix_len = (size_t)snprintf(sub->prefix, sizeof(sub->prefix),
					   "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":"
					   "{\"subscription\":%llu,\"message\":",
					   sub->id);
	r = publisher_subscribe(daemon->publisher, subscription_live_cb, sub, "client",
				&sub->publisher_id);
	if (r < 0) {
		free(sub->filter.request_id);
		free(sub->filter.run_id);
		free(sub);
		return r;
	}
	sub->conn = connection_ref(conn);
	connection_track_subscription(conn, sub);
	connection_set_drain_cb(conn, subscription_drain_cb);
	metrics_subscription_opened();
	*ret = sub;
	return 0;
}

int subscription_new_follow(struct daemon *daemon, struct connection *conn, const char *request_id,
			    struct output_follow *follow, struct subscription **ret)
{
	struct subscription_filter filter = {
		.types = (1u << MESSAGE_REQUEST_SUCCESS) | (1u << MESSAGE_REQUEST_FAILURE),
		.request_id = strdup(request_id),
	};
	int r;

	if (!filter.request_id)
		return -ENOMEM;
	r = subscription_new(daemon, conn, &filter, false, 0, ret);
	if (r < 0) {
		free(filter.request_id);
		return r;
	}
	/* Whatever comes next about the job counts, even if published before. */
	(*ret)->replaying = false;
	(*ret)->last_seq = 0;
	(*ret)->follow = follow;
	return 0;
}

void subscription_start(struct subscription *sub)
{
	subscription_replay(sub);
}

void subscription_free(struct subscription *sub)
{
	metrics_subscription_closed();
	output_follow_free(sub->follow);
	publisher_unsubscribe(sub->daemon->publisher, sub->publisher_id);
	connection_forget_subscription(sub->conn, sub);
	connection_unref(sub->conn);
	free(sub->filter.request_id);
	free(sub->filter.run_id);
	free(sub);
}
