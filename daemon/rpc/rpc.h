/*
 * The JSON-RPC 2.0 layer: parses a request line, runs the method's handler
 * and frames the answer, with batches, notifications and calls that stay
 * pending after their handler returns (submit with wait, wait, cancel).
 */
#ifndef COORD_RPC_H
#define COORD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <json-c/json.h>

struct connection;
struct daemon;
struct rpc_batch;

/*
 * One request in flight. The RPC layer owns it, not the connection; the
 * call holds a reference to its connection. When the client hangs up, the
 * call's abandon hook (if set) runs; a call that still completes later has
 * its answer dropped.
 */
struct rpc_call {
	struct daemon *daemon;
	struct connection *conn; /* a reference; the connection may be closed */
	TAILQ_ENTRY(rpc_call) conn_entry;
	json_object *id; /* owned copy; NULL for a notification */
	bool notification;
	struct rpc_batch *batch;
	size_t batch_slot;
	const char *method;
	size_t cost; /* what the connection is charged while the call is in flight */
	/* For a pending call: undoes whatever waits on it, then ends it. */
	void (*abandon)(struct rpc_call *call);
	void *pending; /* the handler's own state while pending */
};

/* What a handler returns: proof that it answered or left the call pending. */
struct rpc_result;

typedef struct rpc_result *(*rpc_handler)(struct rpc_call *call, json_object *params);

struct rpc_method {
	const char *name;
	rpc_handler handler;
};

/* Answers call with result (taken) and frees the call. */
struct rpc_result *rpc_success(struct rpc_call *call, json_object *result);
/* Answers call with an error (data may be NULL; taken) and frees the call. */
struct rpc_result *rpc_failure_data(struct rpc_call *call, int code, json_object *data,
				    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define rpc_failure(call, code, ...) rpc_failure_data(call, code, NULL, __VA_ARGS__)
/* Leaves the call open: the handler's state answers it later with rpc_success or rpc_failure. */
struct rpc_result *rpc_pending(struct rpc_call *call);

/*
 * Handles one request line from conn: a request, a notification or a
 * batch. A peer that is not allowed gets one 1004 answer, whatever the
 * line holds; nothing of it is parsed.
 */
void rpc_handle_line(struct daemon *daemon, struct connection *conn, const char *line, size_t len);

/* Sends an error response with id null on conn (framing errors, refusals). */
void rpc_send_error(struct connection *conn, int code, const char *message);

/* The client behind call's connection hung up: run its abandon hook, if any. */
void rpc_call_abandon(struct rpc_call *call);

/* How deep a request's JSON may nest. */
#define RPC_MAX_DEPTH 64

#endif
