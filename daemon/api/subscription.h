/*
 * A client's subscription: the publisher's messages republished to one
 * connection as notifications, filtered, with replay from the history, and
 * an end (subscription_ended) for a client that stops reading (lagged) or
 * whose replay retention overtook (pruned).
 */
#ifndef COORD_SUBSCRIPTION_H
#define COORD_SUBSCRIPTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "connection.h"

struct message;
struct services;

/* What a subscription that sends nothing itself (an output follow) tells its owner. */
struct subscription_hooks {
	/* A final message of its job (the owner may end the subscription). */
	void (*message)(void *ctx, const struct message *msg);
	/* The connection has room to write again. */
	void (*drain)(void *ctx);
	/* The subscription is being freed: free ctx. */
	void (*free)(void *ctx);
};

struct subscription_filter {
	unsigned types; /* bit (1 << enum message_type); 0: every type */
	char *request_id;
	char *run_id;
};

struct subscription {
	struct connection_attachment att; /* on conn until freed */
	unsigned long long id;
	struct services *services;
	struct connection *conn; /* a reference */
	uint64_t publisher_id;
	struct subscription_filter filter;
	uint64_t last_seq;  /* every message up to here has been sent or skipped */
	uint64_t pruned_at; /* the seq the replay found after a hole, or 0 */
	bool replaying;	    /* still reading from the history */
	char prefix[96];    /* the notification text before the message */
	size_t prefix_len;
	const struct subscription_hooks *hooks; /* NULL: it sends the messages itself */
	void *hooks_ctx;			/* owned: hooks->free frees it */
};

/*
 * Subscribes conn to the daemon's publisher. filter is taken (its strings
 * freed with the subscription). With has_since, messages after since_seq
 * are replayed from the history first. The subscription starts sending
 * once subscription_start is called (after the subscribe answer is queued).
 */
int subscription_new(struct services *services, struct connection *conn,
		     struct subscription_filter *filter, bool has_since, uint64_t since_seq,
		     struct subscription **ret);

/*
 * A subscription that replays nothing and, instead of sending them, hands
 * request_id's final messages to hooks (an output follow). ctx is taken:
 * hooks->free frees it with the subscription. It gets every final message
 * not yet delivered when it is made, so a caller that found the job open in
 * the state is sure to hear of its end.
 */
int subscription_new_hooked(struct services *services, struct connection *conn,
			    const char *request_id, const struct subscription_hooks *hooks,
			    void *ctx, struct subscription **ret);

/*
 * Sends what replay has to send; from then on, live messages as they come.
 * May end and free sub at once (see subscription_ended in docs/protocol.md).
 */
void subscription_start(struct subscription *sub);

/* Unsubscribes, leaves the connection's list and frees. */
void subscription_free(struct subscription *sub);

/* The subscription with that id on conn, or NULL. */
struct subscription *subscription_find(struct connection *conn, unsigned long long id);

/* How many subscriptions conn holds. */
size_t subscription_count(const struct connection *conn);

#endif
