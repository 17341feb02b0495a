/* Param getters. Everything returned is borrowed from the params object. */
#include <errno.h>
#include <string.h>

#include "params.h"
#include "wire_errors.h"

static bool params_get(json_object *params, const char *key, json_object **ret)
{
	return json_object_object_get_ex(params, key, ret) && *ret;
}

/* A C string would end early at a NUL character: such a string names nothing here. */
static bool params_has_nul(json_object *string)
{
	return memchr(json_object_get_string(string), '\0',
		      (size_t)json_object_get_string_len(string)) != NULL;
}

struct rpc_result *params_string(struct rpc_call *call, json_object *params, const char *key,
				 bool required, const char **ret)
{
	json_object *v;

	*ret = NULL;
	if (!params_get(params, key, &v)) {
		if (required)
			return rpc_failure(call, WIRE_INVALID_PARAMS,
					   "Invalid params: %s is required", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string))
		return rpc_failure(call, WIRE_INVALID_PARAMS, "Invalid params: %s must be a string",
				   key);
	if (params_has_nul(v))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: %s must not hold a NUL character (\\u0000)",
				   key);
	*ret = json_object_get_string(v);
	return NULL;
}

struct rpc_result *params_bool(struct rpc_call *call, json_object *params, const char *key,
			       bool *ret)
{
	json_object *v;

	if (!params_get(params, key, &v))
		return NULL;
	if (!json_object_is_type(v, json_type_boolean))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: %s must be true or false", key);
	*ret = json_object_get_boolean(v);
	return NULL;
}

struct rpc_result *params_u64(struct rpc_call *call, json_object *params, const char *key,
			      uint64_t max, uint64_t *ret, bool *present)
{
	json_object *v;
	int64_t n;

	if (present)
		*present = false;
	if (!params_get(params, key, &v))
		return NULL;
	errno = 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || errno || n < 0 || (uint64_t)n > max)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: %s must be a whole number from 0 to %llu", key,
				   (unsigned long long)max);
	*ret = (uint64_t)n;
	if (present)
		*present = true;
	return NULL;
}

struct rpc_result *params_string_array(struct rpc_call *call, json_object *params, const char *key,
				       bool required, json_object **ret)
{
	json_object *v;
	size_t n;

	*ret = NULL;
	if (!params_get(params, key, &v)) {
		if (required)
			return rpc_failure(call, WIRE_INVALID_PARAMS,
					   "Invalid params: %s is required", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_array))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: %s must be an array of strings", key);
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(v, i);

		if (!json_object_is_type(item, json_type_string))
			return rpc_failure(call, WIRE_INVALID_PARAMS,
					   "Invalid params: %s[%zu] must be a string", key, i);
		if (params_has_nul(item))
			return rpc_failure(
				call, WIRE_INVALID_PARAMS,
				"Invalid params: %s[%zu] must not hold a NUL character (\\u0000)",
				key, i);
	}
	*ret = v;
	return NULL;
}
