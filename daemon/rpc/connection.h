/*
 * One client connection: newline-framed JSON on a bufferevent, the peer's
 * credentials, and what the client has in flight (calls, subscriptions).
 */
#ifndef COORD_CONNECTION_H
#define COORD_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

struct connection;
struct daemon;
struct peer;
struct rpc_call;
struct server;
struct subscription;

/* Subscriptions one connection may hold at once. */
#define CONNECTION_MAX_SUBSCRIPTIONS 256

/* Limits a connection works within, from the config. */
struct connection_limits {
	size_t max_line;	  /* longest request line */
	size_t max_batch;	  /* requests in one batch */
	size_t max_answer_bytes;  /* answers waiting past which reading stops and calls get 1005 */
	size_t max_pending_calls; /* calls in flight at once */
	size_t max_pending_bytes; /* what they may hold (json_footprint of their requests) */
	size_t subscriber_max;	  /* unsent bytes past which a subscription lags */
};

/*
 * Wraps an accepted socket fd and its peer (both taken). The server holds
 * the first reference; calls and batches take their own. NULL on failure
 * (fd closed, peer cleared).
 */
struct connection *connection_new(struct daemon *daemon, struct server *server, int fd,
				  struct peer *peer, const struct connection_limits *limits);

struct connection *connection_ref(struct connection *conn);
struct connection *connection_unref(struct connection *conn);

/* Hangs up: abandons pending calls, ends subscriptions, drops the server's reference. */
void connection_close(struct connection *conn);
/* Closes once everything queued has been written. */
void connection_close_after_flush(struct connection *conn);

bool connection_is_open(const struct connection *conn);

/* Queues text plus a newline. Does nothing on a closed connection. */
void connection_send(struct connection *conn, const char *text, size_t len);
/* Queues several pieces as one line. */
void connection_send_parts(struct connection *conn, const char *const *parts, const size_t *lens,
			   size_t count);

/* The history committed (or failed to): held output goes out (or the connection closes). */
void connection_release_held(struct connection *conn, bool committed);

/* Bytes queued and not yet written. */
size_t connection_pending_output(const struct connection *conn);
/*
 * Answers of a batch that wait for the rest of it (rpc.c adds them as they
 * are made and takes them back when the batch goes out): they count
 * against max_answer_bytes like queued output.
 */
void connection_add_batch_bytes(struct connection *conn, size_t bytes);
void connection_remove_batch_bytes(struct connection *conn, size_t bytes);
/* Queued output plus batch answers still being assembled. */
size_t connection_answer_bytes(const struct connection *conn);
const struct connection_limits *connection_limits(const struct connection *conn);

/* Called when output has drained below half of subscriber_max. */
void connection_set_drain_cb(struct connection *conn, void (*cb)(struct connection *conn));

/*
 * Whether the peer may use the daemon by the settings in force now. Asked
 * at accept and on every request line, so a reload that drops a user shuts
 * out its open connections too.
 */
bool connection_allowed(const struct connection *conn);
uid_t connection_peer_uid(const struct connection *conn);
pid_t connection_peer_pid(const struct connection *conn);

void connection_track_call(struct connection *conn, struct rpc_call *call);
/* call has been admitted holding bytes (call->cost) until it is forgotten. */
void connection_charge_call(struct connection *conn, struct rpc_call *call, size_t bytes);
void connection_forget_call(struct connection *conn, struct rpc_call *call);

/* Calls in flight on conn (pending ones and the one being handled). */
size_t connection_call_count(const struct connection *conn);
/* What the calls in flight on conn hold (the sum of their costs). */
size_t connection_call_bytes(const struct connection *conn);
size_t connection_subscription_count(const struct connection *conn);

void connection_track_subscription(struct connection *conn, struct subscription *sub);
void connection_forget_subscription(struct connection *conn, struct subscription *sub);
/* The connection's subscriptions (see subscription.h). */
struct subscription_list *connection_subscriptions(struct connection *conn);
/* The subscription with that id on this connection, or NULL. */
struct subscription *connection_find_subscription(struct connection *conn, unsigned long long id);

#endif
