/* libcoord: a thin client for coordinatord's JSON-RPC socket. Ownership is noted per function. */
#ifndef COORD_H
#define COORD_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions:
 * - Functions returning int return 0 on success and -1 on failure; on
 *   failure *err (when err is not NULL) says what happened.
 * - json_object parameters are borrowed; a json_object stored through a
 *   ret_* pointer hands one reference to the caller (json_object_put it).
 *   ret_* pointers are written only on success.
 * - timeout_ms: -1 waits forever, 0 does not block.
 * - A connection is not locked: use one connection per thread. The library
 *   keeps no global state and never forks.
 */

struct coord_conn;

/* What kind of failure a struct coord_error describes. */
enum coord_error_kind {
	COORD_ERR_NONE = 0,
	/* The daemon answered with a JSON-RPC error object: see code. */
	COORD_ERR_RPC,
	/* The daemon could not be reached: see sys_errno and socket_path. */
	COORD_ERR_CONNECT,
	/* Reading or writing the socket failed: see sys_errno. */
	COORD_ERR_IO,
	/* The daemon closed the connection. */
	COORD_ERR_CLOSED,
	/* The daemon sent something that is not a JSON-RPC 2.0 message. */
	COORD_ERR_PROTOCOL,
	/* Nothing arrived within timeout_ms. */
	COORD_ERR_TIMEOUT,
	/* The caller passed an invalid argument. */
	COORD_ERR_INVALID,
	/* Out of memory. */
	COORD_ERR_NOMEM,
};

/* Application error codes (error.code) besides JSON-RPC's -32700..-32603. */
enum coord_rpc_code {
	COORD_RPC_NOT_FOUND = 1001,
	COORD_RPC_CONFLICT = 1002,
	COORD_RPC_UNKNOWN_MODE = 1003,
	COORD_RPC_PERMISSION_DENIED = 1004,
	COORD_RPC_BUSY = 1005,
	COORD_RPC_SHUTTING_DOWN = 1006,
	COORD_RPC_TIMEOUT = 1007,
};

/* A structured error. Plain data: nothing to free. */
struct coord_error {
	enum coord_error_kind kind;
	/* COORD_ERR_RPC: the JSON-RPC error.code; otherwise 0. */
	int code;
	/* COORD_ERR_CONNECT, COORD_ERR_IO: the errno value; otherwise 0. */
	int sys_errno;
	/* A sentence a person can act on (for RPC errors: error.message). */
	char message[512];
	/* The socket path the connection tried or uses (may be empty). */
	char socket_path[256];
};

/* The library's version, e.g. "0.1.0". */
const char *coord_version(void);

/* A short stable name for an error kind ("connect", "rpc", ...). */
const char *coord_error_kind_name(enum coord_error_kind kind);
/* A short stable name for an RPC error code ("not_found", "busy", ...). */
const char *coord_error_code_name(int code);

/*
 * Connects to the daemon. socket_path NULL resolves as the contract says:
 * $COORD_SOCKET, else /run/coordinator/coordinatord.sock for root, else
 * $XDG_RUNTIME_DIR/coordinator/coordinatord.sock. *ret_conn is the
 * caller's to coord_conn_close().
 */
int coord_conn_open(const char *socket_path, struct coord_conn **ret_conn, struct coord_error *err);
/* Closes the socket and frees everything queued on it. Accepts NULL. */
void coord_conn_close(struct coord_conn *conn);
/* The socket path in use (owned by conn). */
const char *coord_conn_socket_path(const struct coord_conn *conn);
/*
 * The socket's file descriptor, for the caller's own event loop (poll for
 * POLLIN, then call coord_conn_dispatch()). Owned by conn: do not close it,
 * do not read from it.
 */
int coord_conn_fd(const struct coord_conn *conn);
/*
 * Reads whatever the socket holds without blocking and queues the
 * responses and notifications it contains. After this, coord_call_recv()
 * and coord_notify_next() with timeout 0 hand them out.
 */
int coord_conn_dispatch(struct coord_conn *conn, struct coord_error *err);
/* 1 when a response or notification is already queued (poll() would not show it). */
int coord_conn_pending(const struct coord_conn *conn);
/* Requests sent on conn whose response has not been handed out yet. */
size_t coord_conn_in_flight(const struct coord_conn *conn);

/*
 * Calls method with params (NULL: no params) and waits up to timeout_ms
 * for its response. On success *ret_result is the "result" member.
 * Notifications that arrive meanwhile are queued for coord_notify_next().
 */
int coord_call(struct coord_conn *conn, const char *method, json_object *params, int timeout_ms,
	       json_object **ret_result, struct coord_error *err);

/*
 * Pipelining: sends a request without waiting and stores its id in
 * *ret_id. Any number of requests may be in flight on one connection.
 */
int coord_call_send(struct coord_conn *conn, const char *method, json_object *params,
		    uint64_t *ret_id, struct coord_error *err);
/*
 * Waits for the response to request id (others arriving meanwhile stay
 * queued). An error response fails with kind COORD_ERR_RPC.
 */
int coord_call_recv(struct coord_conn *conn, uint64_t id, int timeout_ms, json_object **ret_result,
		    struct coord_error *err);
/*
 * Waits for the next response to any request in flight and stores its
 * id in *ret_id; *ret_id is also set when the response is an error
 * (kind COORD_ERR_RPC), so the caller knows which request failed.
 */
int coord_call_recv_any(struct coord_conn *conn, int timeout_ms, uint64_t *ret_id,
			json_object **ret_result, struct coord_error *err);

/*
 * A new Task object ({"node": {"argv": [...]}}) for argv (NULL-terminated,
 * at least one element), or NULL on ENOMEM or an empty argv. Add members
 * with json-c before submitting. New reference.
 */
json_object *coord_task_new(const char *const *argv);
/*
 * A copy of task (borrowed) ready to send: when task has no
 * "parent_node_id" member and $COORD_NODE_ID is set (the caller runs
 * inside a task), the copy's parent_node_id is $COORD_NODE_ID. New
 * reference, or NULL on ENOMEM or when task is not an object.
 */
json_object *coord_task_prepare(json_object *task);

/*
 * Submits task (see coord_task_prepare() for parent_node_id). On success
 * *ret_result is {"job"}, or {"job", "message"} when the task has
 * "wait": true (then this call returns once the job has closed).
 */
int coord_submit(struct coord_conn *conn, json_object *task, int timeout_ms,
		 json_object **ret_result, struct coord_error *err);
/*
 * Waits until every one of the n request_ids has closed, or the daemon's
 * wait_ms (0: no limit) runs out (kind COORD_ERR_RPC, code
 * COORD_RPC_TIMEOUT). *ret_result is {"jobs"}.
 */
int coord_wait(struct coord_conn *conn, const char *const *request_ids, size_t n, int64_t wait_ms,
	       json_object **ret_result, struct coord_error *err);
/* {"job", "message"} for request_id. */
int coord_job(struct coord_conn *conn, const char *request_id, json_object **ret_result,
	      struct coord_error *err);
/* Cancels request_id (and its descendants when cascade). *ret_result is {"job"}. */
int coord_cancel(struct coord_conn *conn, const char *request_id, int cascade,
		 json_object **ret_result, struct coord_error *err);
/*
 * Re-runs the closed job request_id: a new job from its stored Task, under
 * new_request_id (NULL: one the daemon makes), with the fields of node
 * (borrowed; NULL: none) replacing the stored node's (a null field goes
 * back to its default). Only the job's owner and root may. *ret_result is
 * {"job"}; job.rerun_of is request_id. A job still opened fails with code
 * COORD_RPC_CONFLICT.
 */
int coord_rerun(struct coord_conn *conn, const char *request_id, const char *new_request_id,
		json_object *node, json_object **ret_result, struct coord_error *err);

/*
 * Subscribes with params (NULL, or an object with "types", "request_id",
 * "run_id", "since_seq"). *ret_result is {"subscription", "seq"}.
 */
int coord_subscribe(struct coord_conn *conn, json_object *params, json_object **ret_result,
		    struct coord_error *err);
/* Ends a subscription; subscription is the value subscribe returned (borrowed). */
int coord_unsubscribe(struct coord_conn *conn, json_object *subscription, struct coord_error *err);
/*
 * Waits up to timeout_ms for the next notification and stores the whole
 * notification ({"jsonrpc", "method", "params"}) in *ret_notification:
 * method "message" carries params.message; method "subscription_ended"
 * carries params.reason and params.resume_seq. Fails with
 * COORD_ERR_TIMEOUT when none arrived.
 */
int coord_notify_next(struct coord_conn *conn, int timeout_ms, json_object **ret_notification,
		      struct coord_error *err);

/* Which of a task's streams an output call is about. */
enum coord_stream {
	COORD_STREAM_BOTH,
	COORD_STREAM_STDOUT,
	COORD_STREAM_STDERR,
};

/*
 * What is kept of request_id's output now, from byte offset on (negative:
 * that many bytes before the end of each stream). *ret_result is
 * {"chunks": [{"stream", "offset", "next_offset", "data"}], "eof"}; a
 * chunk whose offset is past the previous one's next_offset of the same
 * stream follows a dropped middle. Owner and root only.
 */
int coord_output(struct coord_conn *conn, const char *request_id, enum coord_stream stream,
		 int64_t offset, json_object **ret_result, struct coord_error *err);
/*
 * Follows request_id's output from offset on: *ret_result is
 * {"subscription"}; coord_notify_next() then hands out "output"
 * notifications (params: subscription, request_id, stream, offset,
 * next_offset, data) as the task writes, and "output_ended" (params.job:
 * the closed job) at the end. A follow that fell behind ends with
 * "subscription_ended", reason "lagged", and params.resume_offset (and
 * resume_offsets per stream) to follow again from.
 */
int coord_output_follow(struct coord_conn *conn, const char *request_id, enum coord_stream stream,
			int64_t offset, json_object **ret_result, struct coord_error *err);

#ifdef __cplusplus
}
#endif

#endif
