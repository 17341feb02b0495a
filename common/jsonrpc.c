/* JSON-RPC 2.0 envelopes (see jsonrpc.h for who owns what). */
#include <string.h>

#include "jsonrpc.h"
#include "jsonutil.h"

static json_object *jsonrpc_envelope(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	return o;
}

json_object *jsonrpc_result(json_object *id, json_object *result)
{
	json_object *o = jsonrpc_envelope();

	json_object_object_add(o, "result", result ? result : json_object_new_object());
	json_object_object_add(o, "id", json_object_get(id));
	return o;
}

json_object *jsonrpc_error(json_object *id, int code, const char *message, json_object *data)
{
	json_object *o = jsonrpc_envelope(), *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_int(code));
	/* A client's text cut short (%.100s) may end inside a UTF-8 sequence. */
	json_object_object_add(err, "message", json_string_from_bytes(message, strlen(message)));
	if (data)
		json_object_object_add(err, "data", data);
	json_object_object_add(o, "error", err);
	json_object_object_add(o, "id", json_object_get(id));
	return o;
}

json_object *jsonrpc_notification(const char *method, json_object *params)
{
	json_object *o = jsonrpc_envelope();

	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "params", params);
	return o;
}
