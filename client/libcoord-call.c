/* libcoord's JSON-RPC calls with pipelining; results handed out are the caller's references. */
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "libcoord-private.h"

int coord_call_send(struct coord_conn *conn, const char *method, json_object *params,
		    uint64_t *ret_id, struct coord_error *err)
{
	json_object *req;
	const char *text;
	char *line;
	size_t len;
	uint64_t id;
	int r;

	if (!conn || !method)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "conn or method is NULL");
	if (params && !json_object_is_type(params, json_type_object) &&
	    !json_object_is_type(params, json_type_array))
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0,
					"params must be an object or an array");
	req = json_object_new_object();
	if (!req)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	id = conn->next_id;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", json_object_get(params));
	text = json_to_wire(req, &len);
	line = text ? malloc(len + 1) : NULL;
	if (!line) {
		json_object_put(req);
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	}
	memcpy(line, text, len);
	line[len] = '\n';
	json_object_put(req);
	r = coord_wire_write(conn, line, len + 1, err);
	free(line);
	if (r < 0)
		return -1;
	conn->next_id++;
	conn->in_flight++;
	if (ret_id)
		*ret_id = id;
	return 0;
}

/* The first queued response to id, or the first answering no request (id 0). */
static struct coord_msg *coord_call_find(struct coord_conn *conn, uint64_t id)
{
	struct coord_msg *msg;

	TAILQ_FOREACH (msg, &conn->responses, entry)
		if (msg->id == id || msg->id == 0)
			return msg;
	return NULL;
}

static int coord_call_ready_id(struct coord_conn *conn, void *arg)
{
	return coord_call_find(conn, *(uint64_t *)arg) != NULL;
}

static int coord_call_ready_any(struct coord_conn *conn, void *arg)
{
	return !TAILQ_EMPTY(&conn->responses);
}

/* Hands out msg's result or error and frees msg. */
static int coord_call_take(struct coord_conn *conn, struct coord_msg *msg, json_object **ret_result,
			   struct coord_error *err)
{
	json_object *result = NULL, *error = NULL;
	int r = 0;

	TAILQ_REMOVE(&conn->responses, msg, entry);
	if (msg->id != 0 && conn->in_flight > 0)
		conn->in_flight--;
	if (json_object_object_get_ex(msg->obj, "error", &error)) {
		if (json_object_is_type(error, json_type_object))
			r = coord_error_from_rpc(conn, err, error);
		else
			r = coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					     "daemon sent an error that is not an object");
	} else {
		json_object_object_get_ex(msg->obj, "result", &result);
		if (ret_result)
			*ret_result = json_object_get(result);
	}
	coord_msg_free(msg);
	return r;
}

int coord_call_recv(struct coord_conn *conn, uint64_t id, int timeout_ms, json_object **ret_result,
		    struct coord_error *err)
{
	if (!conn || id == 0)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "conn is NULL or id is 0");
	if (coord_wire_wait(conn, coord_call_ready_id, &id, timeout_ms, err) < 0)
		return -1;
	return coord_call_take(conn, coord_call_find(conn, id), ret_result, err);
}

int coord_call_recv_any(struct coord_conn *conn, int timeout_ms, uint64_t *ret_id,
			json_object **ret_result, struct coord_error *err)
{
	struct coord_msg *msg;

	if (!conn)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "conn is NULL");
	if (coord_wire_wait(conn, coord_call_ready_any, NULL, timeout_ms, err) < 0)
		return -1;
	msg = TAILQ_FIRST(&conn->responses);
	if (ret_id)
		*ret_id = msg->id;
	return coord_call_take(conn, msg, ret_result, err);
}

int coord_call(struct coord_conn *conn, const char *method, json_object *params, int timeout_ms,
	       json_object **ret_result, struct coord_error *err)
{
	uint64_t id;

	if (coord_call_send(conn, method, params, &id, err) < 0)
		return -1;
	return coord_call_recv(conn, id, timeout_ms, ret_result, err);
}
