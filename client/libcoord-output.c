/* libcoord's wrappers for a job's output: read at once, or follow; results are the caller's. */
#include "libcoord-private.h"

/* Calls output for request_id with stream, offset and follow; see coord.h. */
static int coord_output_call(struct coord_conn *conn, const char *request_id,
			     enum coord_stream stream, int64_t offset, int follow,
			     json_object **ret_result, struct coord_error *err)
{
	static const char *const names[] = {
		[COORD_STREAM_BOTH] = NULL,
		[COORD_STREAM_STDOUT] = "stdout",
		[COORD_STREAM_STDERR] = "stderr",
	};
	json_object *params;
	int r;

	if (!request_id)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "request_id is NULL");
	if ((unsigned)stream > COORD_STREAM_STDERR)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "unknown stream %d",
					(int)stream);
	params = json_object_new_object();
	if (!params)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	json_object_object_add(params, "request_id", json_object_new_string(request_id));
	if (names[stream])
		json_object_object_add(params, "stream", json_object_new_string(names[stream]));
	if (offset != 0)
		json_object_object_add(params, "offset", json_object_new_int64(offset));
	if (follow)
		json_object_object_add(params, "follow", json_object_new_boolean(1));
	r = coord_call(conn, "output", params, -1, ret_result, err);
	json_object_put(params);
	return r;
}

int coord_output(struct coord_conn *conn, const char *request_id, enum coord_stream stream,
		 int64_t offset, json_object **ret_result, struct coord_error *err)
{
	return coord_output_call(conn, request_id, stream, offset, 0, ret_result, err);
}

int coord_output_follow(struct coord_conn *conn, const char *request_id, enum coord_stream stream,
			int64_t offset, json_object **ret_result, struct coord_error *err)
{
	return coord_output_call(conn, request_id, stream, offset, 1, ret_result, err);
}
