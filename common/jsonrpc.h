/*
 * JSON-RPC 2.0 envelopes, built in one place for every sender (dispatch,
 * refusals at accept, framing errors, notifications). Each returns a new
 * object the caller puts; id is borrowed, result, data and params are taken.
 */
#ifndef COORD_JSONRPC_H
#define COORD_JSONRPC_H

#include <json-c/json.h>

/* {"jsonrpc":"2.0","result":result,"id":id}; a NULL result is {}. */
json_object *jsonrpc_result(json_object *id, json_object *result);

/* {"jsonrpc":"2.0","error":{"code","message"[,"data"]},"id":id}; data may be NULL. */
json_object *jsonrpc_error(json_object *id, int code, const char *message, json_object *data);

/* {"jsonrpc":"2.0","method":method,"params":params}. */
json_object *jsonrpc_notification(const char *method, json_object *params);

#endif
