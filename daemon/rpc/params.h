/*
 * Typed access to a method's params. Each getter returns NULL when the
 * value is fine (or absent and optional), or answers the call with
 * Invalid params naming the field and returns that answer, which the
 * handler returns in turn.
 */
#ifndef COORD_PARAMS_H
#define COORD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "rpc.h"

/* *ret is borrowed from params; NULL when absent or null and optional. */
struct rpc_result *params_string(struct rpc_call *call, json_object *params, const char *key,
				 bool required, const char **ret);
/* *ret keeps def when absent. */
struct rpc_result *params_bool(struct rpc_call *call, json_object *params, const char *key,
			       bool *ret);
/* A whole number in [0, max]; *ret keeps its value when absent; *present says if it was there. */
struct rpc_result *params_u64(struct rpc_call *call, json_object *params, const char *key,
			      uint64_t max, uint64_t *ret, bool *present);
/* An array of strings (borrowed, owned by params). *ret is NULL when absent and optional. */
struct rpc_result *params_string_array(struct rpc_call *call, json_object *params, const char *key,
				       bool required, json_object **ret);

#endif
