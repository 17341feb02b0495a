/* libcoord's typed wrappers for the daemon's job methods; results are the caller's references. */
#include <string.h>

#include "libcoord-private.h"

int coord_submit(struct coord_conn *conn, json_object *task, int timeout_ms,
		 json_object **ret_result, struct coord_error *err)
{
	json_object *prepared = coord_task_prepare(task);
	int r;

	if (!prepared)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0,
					"task is not a JSON object (or out of memory)");
	r = coord_call(conn, "submit", prepared, timeout_ms, ret_result, err);
	json_object_put(prepared);
	return r;
}

int coord_wait(struct coord_conn *conn, const char *const *request_ids, size_t n, int64_t wait_ms,
	       json_object **ret_result, struct coord_error *err)
{
	json_object *params = json_object_new_object();
	json_object *ids = json_object_new_array();
	int r;

	if (!params || !ids) {
		json_object_put(ids);
		json_object_put(params);
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	}
	json_object_object_add(params, "request_ids", ids);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(ids, json_object_new_string(request_ids[i]));
	if (wait_ms > 0)
		json_object_object_add(params, "timeout_ms", json_object_new_int64(wait_ms));
	r = coord_call(conn, "wait", params, -1, ret_result, err);
	json_object_put(params);
	return r;
}

/* Calls method with {"request_id": request_id} plus extra (may be NULL, taken). */
static int coord_methods_by_id(struct coord_conn *conn, const char *method, const char *request_id,
			       const char *extra_key, json_object *extra, json_object **ret_result,
			       struct coord_error *err)
{
	json_object *params;
	int r;

	if (!request_id) {
		json_object_put(extra);
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "request_id is NULL");
	}
	params = json_object_new_object();
	if (!params) {
		json_object_put(extra);
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	}
	json_object_object_add(params, "request_id", json_object_new_string(request_id));
	if (extra_key)
		json_object_object_add(params, extra_key, extra);
	r = coord_call(conn, method, params, -1, ret_result, err);
	json_object_put(params);
	return r;
}

int coord_job(struct coord_conn *conn, const char *request_id, json_object **ret_result,
	      struct coord_error *err)
{
	return coord_methods_by_id(conn, "job", request_id, NULL, NULL, ret_result, err);
}

int coord_cancel(struct coord_conn *conn, const char *request_id, int cascade,
		 json_object **ret_result, struct coord_error *err)
{
	return coord_methods_by_id(conn, "cancel", request_id, "cascade",
				   json_object_new_boolean(cascade), ret_result, err);
}

int coord_rerun(struct coord_conn *conn, const char *request_id, const char *new_request_id,
		json_object *node, json_object **ret_result, struct coord_error *err)
{
	json_object *params;
	int r;

	if (!request_id)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "request_id is NULL");
	if (node && !json_object_is_type(node, json_type_object))
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "node is not an object");
	params = json_object_new_object();
	if (!params)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	json_object_object_add(params, "request_id", json_object_new_string(request_id));
	if (new_request_id)
		json_object_object_add(params, "new_request_id",
				       json_object_new_string(new_request_id));
	if (node)
		json_object_object_add(params, "node", json_object_get(node));
	r = coord_call(conn, "rerun", params, -1, ret_result, err);
	json_object_put(params);
	return r;
}
