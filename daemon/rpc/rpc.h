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
#include <sys/types.h>
#include <json-c/json.h>

#include "connection.h"

struct rpc_batch;

/*
 * One request in flight. The RPC layer owns it, not the connection; the
 * call holds a reference to its connection. When the client hangs up, the
 * call's abandon hook (if set) runs; a call that still completes later has
 * its answer dropped.
 */
struct rpc_call {
	void *ctx;			  /* the ctx of the struct rpc_methods it came through */
	struct connection *conn;	  /* a reference; the connection may be closed */
	struct connection_attachment att; /* on conn while in flight; att.cost is charged */
	json_object *id;		  /* owned copy; NULL for a notification */
	bool notification;
	struct rpc_batch *batch;
	size_t batch_slot;
	const char *method;
	/* For a pending call: undoes whatever waits on it, then ends it. */
	void (*abandon)(struct rpc_call *call);
	void *pending; /* the handler's own state while pending */
};

/* What a handler returns: proof that it answered or left the call pending. */
struct rpc_result;

typedef struct rpc_result *(*rpc_handler)(struct rpc_call *call, json_object *params);

/* Policy a method entry carries, checked once in dispatch before its handler runs. */
enum rpc_method_flag {
	/* Only root and the daemon's own uid may call it (1004 for others). */
	RPC_ADMIN = 1u << 0,
	/*
	 * It acts on the job its params name (request_id): only that job's
	 * owner and root may call it (1004 for others). A job that cannot be
	 * found is left to the handler to report.
	 */
	RPC_OWNER = 1u << 1,
	/* It counts against the connection's max_pending_calls and max_pending_bytes (1005). */
	RPC_CAPPED = 1u << 2,
};

struct rpc_method {
	const char *name;
	rpc_handler handler;
	unsigned flags; /* enum rpc_method_flag */
};

/* The methods a connection's lines are dispatched to, and what they share. */
struct rpc_methods {
	const struct rpc_method *methods;
	size_t count;
	void *ctx; /* every call's ctx */
	/*
	 * For RPC_OWNER methods: the owner of the job params name, 0 and
	 * *ret_owner, or a negative errno (no such job, no request_id) to let
	 * the handler answer.
	 */
	int (*owner_of)(void *ctx, json_object *params, uid_t *ret_owner);
};

/* Answers call with result (taken) and frees the call. */
struct rpc_result *rpc_success(struct rpc_call *call, json_object *result);
struct jsonout;
/*
 * Answers call with result given as JSON text (an object, written with
 * jsonout; borrowed), as rpc_success would answer with its tree, and frees
 * the call. A result that ran out of memory answers an internal error.
 */
struct rpc_result *rpc_success_text(struct rpc_call *call, const struct jsonout *result);
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
void rpc_handle_line(const struct rpc_methods *methods, struct connection *conn, const char *line,
		     size_t len);

/* How deep a request's JSON may nest. */
#define RPC_MAX_DEPTH 64

#endif
