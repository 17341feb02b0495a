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

struct connection;
struct daemon;
struct output_follow;

struct subscription_filter {
	unsigned types; /* bit (1 << enum message_type); 0: every type */
	char *request_id;
	char *run_id;
};

struct subscription {
	TAILQ_ENTRY(subscription) conn_entry;
	unsigned long long id;
	struct daemon *daemon;
	struct connection *conn; /* a reference */
	uint64_t publisher_id;
	struct subscription_filter filter;
	uint64_t last_seq;  /* every message up to here has been sent or skipped */
	uint64_t pruned_at; /* the seq the replay found after a hole, or 0 */
	bool replaying;	    /* still reading from the history */
	char prefix[96];    /* the notification text before the message */
	size_t prefix_len;
	struct output_follow *follow; /* an output follow's (owned), or NULL */
};

TAILQ_HEAD(subscription_list, subscription);

/*
 * Subscribes conn to the daemon's publisher. filter is taken (its strings
 * freed with the subscription). With has_since, messages after since_seq
 * are replayed from the history first. The subscription starts sending
 * once subscription_start is called (after the subscribe answer is queued).
 */
int subscription_new(struct daemon *daemon, struct connection *conn,
		     struct subscription_filter *filter, bool has_since, uint64_t since_seq,
		     struct subscription **ret);

/*
 * The subscription of an output follow (taken): it replays nothing, and
 * instead of sending them hands request_id's final messages to follow.
 */
int subscription_new_follow(struct daemon *daemon, struct connection *conn, const char *request_id,
			    struct output_follow *follow, struct subscription **ret);

/*
 * Sends what replay has to send; from then on, live messages as they come.
 * May end and free sub at once (see subscription_ended in docs/protocol.md).
 */
void subscription_start(struct subscription *sub);

/* Unsubscribes, leaves the connection's list and frees. */
void subscription_free(struct subscription *sub);

#endif
