/*
 * One client connection: newline-framed JSON on a bufferevent, the peer's
 * credentials, and what hangs on it (calls in flight, subscriptions) as
 * generic attachments. It knows nothing of JSON-RPC or of its owner: what
 * a line means, who may connect and when output must wait is asked of the
 * ops table its owner gives it.
 */
#ifndef COORD_CONNECTION_H
#define COORD_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "peer.h"

struct connection;
struct event_base;

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
	unsigned notify_coalesce_ms; /* notifications wait this long to go out together; 0: never */
};

/* What the connection asks of its owner; ctx is the owner's, given to connection_new. */
struct connection_ops {
	/* One request line, without its newline (and a trailing CR); never blank. */
	void (*on_line)(void *ctx, struct connection *conn, const char *line, size_t len);
	/* conn closed (its attachments are detached); the owner's reference goes after this. */
	void (*on_close)(void *ctx, struct connection *conn);
	/*
	 * Whether output must wait now (for the history's commit). The first
	 * time it does, hold gets conn (a new reference) and later calls
	 * connection_release_held.
	 */
	bool (*must_hold_output)(void *ctx);
	void (*hold)(void *ctx, struct connection *conn);
	/* Whether this peer may use the daemon by the settings in force now. */
	bool (*peer_allowed)(void *ctx, const struct peer *peer);
};

/* What may hang on a connection; each kind is counted (and detached) apart, in this order. */
enum connection_attachment_kind {
	CONNECTION_SUBSCRIPTION,
	CONNECTION_CALL,
	CONNECTION_ATTACHMENT_KINDS,
};

struct connection_attachment;

/* One per kind: every attachment of a kind uses the same ops. */
struct connection_attachment_ops {
	enum connection_attachment_kind kind;
	/*
	 * The connection closes: undo what waits on it. May free att (after
	 * connection_detach) or leave it attached until it finishes.
	 */
	void (*detach)(struct connection_attachment *att);
	/* Output drained below half of subscriber_max: room to send more. May be NULL. */
	void (*drained)(struct connection_attachment *att);
};

/* Embedded in what attaches; the connection never looks past it. */
struct connection_attachment {
	const struct connection_attachment_ops *ops;
	TAILQ_ENTRY(connection_attachment) entry;
	size_t cost; /* what it holds, counted against max_pending_bytes */
};

/*
 * Wraps an accepted socket fd and its peer (both taken) on base. The owner
 * holds the first reference (dropped by connection_close); calls, batches
 * and subscriptions take their own. ops and ctx are borrowed and must
 * outlive it. NULL on failure (fd closed, peer cleared).
 */
struct connection *connection_new(struct event_base *base, int fd, struct peer *peer,
				  const struct connection_limits *limits,
				  const struct connection_ops *ops, void *ctx);

struct connection *connection_ref(struct connection *conn);
struct connection *connection_unref(struct connection *conn);

/* Hangs up: detaches every attachment, tells the owner, drops the owner's reference. */
void connection_close(struct connection *conn);
/* Closes once everything queued has been written. */
void connection_close_after_flush(struct connection *conn);

bool connection_is_open(const struct connection *conn);

/* Queues text plus a newline. Does nothing on a closed connection. */
void connection_send(struct connection *conn, const char *text, size_t len);
/* Queues several pieces as one line. */
void connection_send_parts(struct connection *conn, const char *const *parts, const size_t *lens,
			   size_t count);
/*
 * Queues a notification line: prefix, text, suffix and a newline. Unlike
 * an answer it may wait (up to limits->notify_coalesce_ms after the
 * connection's last notification went out) to go out with the ones after
 * it; anything queued later goes out after it, and an answer takes it
 * along at once. With release NULL text is copied; else a long text is
 * kept by reference, and release is called once with text, len and ctx
 * when the connection no longer needs it (which may be before this returns).
 */
void connection_notify(struct connection *conn, const char *prefix, size_t prefix_len,
		       const char *text, size_t len,
		       void (*release)(const void *text, size_t len, void *ctx), void *ctx,
		       const char *suffix, size_t suffix_len);
/* Queues a JSON-RPC error response with id null (framing errors, refusals). */
void connection_send_error(struct connection *conn, int code, const char *message);

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

/*
 * Whether the peer may use the daemon by the settings in force now. Asked
 * at accept and on every request line, so a reload that drops a user shuts
 * out its open connections too.
 */
bool connection_allowed(const struct connection *conn);
uid_t connection_peer_uid(const struct connection *conn);
pid_t connection_peer_pid(const struct connection *conn);

/* Hangs att (ops borrowed, static) on conn, holding att->cost. */
void connection_attach(struct connection *conn, struct connection_attachment *att,
		       const struct connection_attachment_ops *ops);
/* att (attached) now holds bytes more. */
void connection_charge(struct connection *conn, struct connection_attachment *att, size_t bytes);
/* Takes att off conn; a half-closed connection may finish now. */
void connection_detach(struct connection *conn, struct connection_attachment *att);
/* How many of kind hang on conn (a call being handled counts). */
size_t connection_attached_count(const struct connection *conn,
				 enum connection_attachment_kind kind);
/* What the attachments of conn hold (the sum of their costs). */
size_t connection_attached_cost(const struct connection *conn);
/* The attachments of kind, oldest first: the first, then the one after att, or NULL. */
struct connection_attachment *connection_attached_first(struct connection *conn,
							enum connection_attachment_kind kind);
struct connection_attachment *connection_attached_next(struct connection_attachment *att);

#endif
