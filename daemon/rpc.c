/*
 * JSON-RPC 2.0 dispatch. Calls and batches are allocated here and freed
 * here: a call when it is answered, a batch when its last call is. A
 * response is built as json-c objects, serialized once, and handed to the
 * connection, which copies the text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "jsonutil.h"
#include "log.h"
#include "methods.h"
#include "rpc.h"
#include "wire_errors.h"

struct rpc_batch {
	struct connection *conn; /* a reference */
	json_object *responses;	 /* array, one slot per request (NULL for notifications) */
	size_t outstanding;	 /* calls not yet answered */
	bool dispatching;	 /* still handing out calls: do not send yet */
};

/* The one value every handler's answer points to. */
struct rpc_result {
	int unused;
};
static struct rpc_result rpc_answered;

static void rpc_send_object(struct connection *conn, json_object *o)
{
	size_t len;
	const char *text = json_to_wire(o, &len);

	if (text)
		connection_send(conn, text, len);
}

static json_object *rpc_error_object(int code, const char *message, json_object *data)
{
	json_object *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_int(code));
	/* A client's text cut short (%.100s) may end inside a UTF-8 sequence. */
	json_object_object_add(err, "message", json_string_from_bytes(message, strlen(message)));
	if (data)
		json_object_object_add(err, "data", data);
	return err;
}

static json_object *rpc_response(json_object *id, json_object *result, json_object *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	if (error)
		json_object_object_add(o, "error", error);
	else
		json_object_object_add(o, "result", result ? result : json_object_new_object());
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	return o;
}

void rpc_send_error(struct connection *conn, int code, const char *message)
{
	json_object *o = rpc_response(NULL, NULL, rpc_error_object(code, message, NULL));

	rpc_send_object(conn, o);
	json_object_put(o);
}

static void rpc_batch_maybe_send(struct rpc_batch *batch)
{
	json_object *out;
	size_t n;

	if (batch->outstanding > 0 || batch->dispatching)
		return;
	n = json_object_array_length(batch->responses);
	out = json_object_new_array();
	/* Notifications left holes: the batch answer holds only real responses. */
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(batch->responses, i);

		if (r)
			json_object_array_add(out, json_object_get(r));
	}
	if (json_object_array_length(out) > 0)
		rpc_send_object(batch->conn, out);
	json_object_put(out);
	connection_unref(batch->conn);
	json_object_put(batch->responses);
	free(batch);
}

static void rpc_call_free(struct rpc_call *call)
{
	connection_forget_call(call->conn, call);
	connection_unref(call->conn);
	json_object_put(call->id);
	free(call);
}

/* Delivers response (taken) for call, then frees the call. */
static void rpc_call_finish(struct rpc_call *call, json_object *response)
{
	struct rpc_batch *batch = call->batch;

	if (call->notification) {
		json_object_put(response);
	} else if (batch) {
		json_object_array_put_idx(batch->responses, call->batch_slot, response);
	} else {
		rpc_send_object(call->conn, response);
		json_object_put(response);
	}
	rpc_call_free(call);
	if (batch) {
		batch->outstanding--;
		rpc_batch_maybe_send(batch);
	}
}

struct rpc_result *rpc_success(struct rpc_call *call, json_object *result)
{
	rpc_call_finish(call, rpc_response(call->id, result, NULL));
	return &rpc_answered;
}

struct rpc_result *rpc_failure_data(struct rpc_call *call, int code, json_object *data,
				    const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_debug("%s failed with %d: %s", call->method ? call->method : "request", code, message);
	rpc_call_finish(call, rpc_response(call->id, NULL, rpc_error_object(code, message, data)));
	return &rpc_answered;
}

struct rpc_result *rpc_pending(struct rpc_call *call)
{
	(void)call;
	return &rpc_answered;
}

static bool rpc_id_valid(json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	case json_type_boolean:
	case json_type_object:
	case json_type_array:
		return false;
	}
	return false;
}

static struct rpc_call *rpc_call_new(struct daemon *daemon, struct connection *conn,
				     struct rpc_batch *batch, size_t slot)
{
	struct rpc_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->daemon = daemon;
	call->conn = connection_ref(conn);
	call->batch = batch;
	call->batch_slot = slot;
	connection_track_call(conn, call);
	if (batch)
		batch->outstanding++;
	return call;
}

/* Checks the envelope; fills *method and *params. Answers and returns false if it is invalid. */
static bool rpc_check_request(struct rpc_call *call, json_object *req, const char **method,
			      json_object **params)
{
	json_object *v, *id = NULL;
	bool has_id;

	if (!json_object_is_type(req, json_type_object)) {
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: a request is a JSON object");
		return false;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	if (has_id && rpc_id_valid(id))
		call->id = json_object_get(id);
	call->notification = !has_id;
	if (has_id && !rpc_id_valid(id)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: id must be a string, a number or null");
		return false;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"jsonrpc\" must be \"2.0\"");
		return false;
	}
	if (!json_object_object_get_ex(req, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"method\" must be a string");
		return false;
	}
	*method = json_object_get_string(v);
	*params = NULL;
	if (json_object_object_get_ex(req, "params", params) &&
	    !json_object_is_type(*params, json_type_object) &&
	    !json_object_is_type(*params, json_type_array)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"params\" must be an object or an array");
		return false;
	}
	return true;
}

static void rpc_dispatch(struct rpc_call *call, json_object *req)
{
	const struct rpc_method *m;
	json_object *params, *empty = NULL;
	const char *method;

	if (!rpc_check_request(call, req, &method, &params))
		return;
	if (!connection_allowed(call->conn)) {
		rpc_failure(
			call, WIRE_PERMISSION_DENIED,
			"permission denied: uid %u may not use this daemon (ask its admin to add "
			"you to allowed_users or allowed_groups)",
			(unsigned)connection_peer_uid(call->conn));
		return;
	}
	if (connection_call_count(call->conn) > CONNECTION_MAX_CALLS) {
		rpc_failure(call, WIRE_BUSY,
			    "busy: this connection already has %d requests waiting for an answer; "
			    "read their answers first",
			    CONNECTION_MAX_CALLS);
		return;
	}
	m = methods_find(method);
	if (!m) {
		rpc_failure(call, WIRE_METHOD_NOT_FOUND, "Method not found: \"%.100s\"", method);
		return;
	}
	call->method = m->name;
	if (params && json_object_is_type(params, json_type_array)) {
		if (json_object_array_length(params) > 0) {
			rpc_failure(call, WIRE_INVALID_PARAMS,
				    "Invalid params: %s takes its params as an object", m->name);
			return;
		}
		params = NULL;
	}
	if (!params)
		params = empty = json_object_new_object();
	m->handler(call, params);
	json_object_put(empty);
}

static void rpc_handle_one(struct daemon *daemon, struct connection *conn, json_object *req,
			   struct rpc_batch *batch, size_t slot)
{
	struct rpc_call *call = rpc_call_new(daemon, conn, batch, slot);

	if (!call) {
		rpc_send_error(conn, WIRE_INTERNAL_ERROR, "out of memory");
		return;
	}
	rpc_dispatch(call, req);
}

static void rpc_handle_batch(struct daemon *daemon, struct connection *conn, json_object *reqs)
{
	size_t n = json_object_array_length(reqs);
	struct rpc_batch *batch;

	if (n == 0) {
		rpc_send_error(conn, WIRE_INVALID_REQUEST, "Invalid Request: an empty batch");
		return;
	}
	batch = calloc(1, sizeof(*batch));
	if (!batch || !(batch->responses = json_object_new_array_ext((int)n))) {
		free(batch);
		rpc_send_error(conn, WIRE_INTERNAL_ERROR, "out of memory");
		return;
	}
	batch->conn = connection_ref(conn);
	batch->dispatching = true;
	for (size_t i = 0; i < n; i++)
		rpc_handle_one(daemon, conn, json_object_array_get_idx(reqs, i), batch, i);
	batch->dispatching = false;
	rpc_batch_maybe_send(batch);
}

/*
 * Parses one line as strict JSON (RFC 8259: no single quotes, trailing
 * commas or comments; UTF-8 only). *ret may be NULL for the JSON text null.
 */
static int rpc_parse(const char *line, size_t len, json_object **ret, char *why, size_t why_size)
{
	struct json_tokener *tok = json_tokener_new_ex(RPC_MAX_DEPTH);
	enum json_tokener_error err;
	json_object *obj;
	size_t used;

	if (!tok) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	err = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (err == json_tokener_continue) {
		/* The end of the line ends a bare literal or number ("null", "42"). */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		used = len;
		if (err != json_tokener_success)
			err = json_tokener_continue;
	}
	json_tokener_free(tok);
	if (err == json_tokener_continue) {
		snprintf(why, why_size, "Parse error: the JSON text ends early");
		return -EINVAL;
	}
	if (err != json_tokener_success) {
		snprintf(why, why_size, "Parse error: %s", json_tokener_error_desc(err));
		return -EINVAL;
	}
	for (size_t i = used; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			json_object_put(obj);
			snprintf(why, why_size, "Parse error: text after the JSON value");
			return -EINVAL;
		}
	}
	*ret = obj;
	return 0;
}

void rpc_handle_line(struct daemon *daemon, struct connection *conn, const char *line, size_t len)
{
	char why[128];
	json_object *req = NULL;

	if (rpc_parse(line, len, &req, why, sizeof(why)) < 0) {
		rpc_send_error(conn, WIRE_PARSE_ERROR, why);
		return;
	}
	if (json_object_is_type(req, json_type_array))
		rpc_handle_batch(daemon, conn, req);
	else
		rpc_handle_one(daemon, conn, req, NULL, 0);
	json_object_put(req);
}

void rpc_call_abandon(struct rpc_call *call)
{
	if (call->abandon)
		call->abandon(call);
}
