/* Method params read by their spec (see params.h). Everything returned is borrowed from params. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "wire_errors.h"

const struct jsonspec params_none[] = {{0}};

int params_check(const char *method, const struct jsonspec *spec, json_object *params, void *out,
		 char **error)
{
	char what[128];
	struct jsonspec_where where = {.what = what, .null_absent = true};

	snprintf(what, sizeof(what), "params of %.100s", method);
	return jsonspec_read(spec, params, &where, out, error);
}

/* The call's answer for a refusal with reason error (taken; NULL: out of memory). */
static struct rpc_result *params_refuse(struct rpc_call *call, char *error)
{
	struct rpc_result *answered;

	if (!error)
		return rpc_failure(call, WIRE_INVALID_PARAMS, "Invalid params (out of memory)");
	answered = rpc_failure(call, WIRE_INVALID_PARAMS, "Invalid params: %s", error);
	free(error);
	return answered;
}

struct rpc_result *params_parse(struct rpc_call *call, json_object *params,
				const struct jsonspec *spec, void *out)
{
	char *error = NULL;

	if (params_check(call->method, spec, params, out, &error) < 0)
		return params_refuse(call, error);
	return NULL;
}

/* Reads the one key entry names into out (at offset 0). */
static struct rpc_result *params_one(struct rpc_call *call, json_object *params,
				     const struct jsonspec *entry, void *out)
{
	struct jsonspec_where where = {.null_absent = true};
	char *error = NULL;

	if (!json_object_is_type(params, json_type_object))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: params of %.100s must be an object",
				   call->method);
	if (jsonspec_read_one(entry, params, &where, out, &error) < 0)
		return params_refuse(call, error);
	return NULL;
}

struct rpc_result *params_string(struct rpc_call *call, json_object *params, const char *key,
				 bool required, const char **ret)
{
	struct jsonspec e = {
		.name = key, .type = JSONSPEC_T_STRING, .flags = required ? JSONSPEC_REQUIRED : 0};

	*ret = NULL;
	return params_one(call, params, &e, ret);
}

struct rpc_result *params_bool(struct rpc_call *call, json_object *params, const char *key,
			       bool *ret)
{
	struct jsonspec e = {.name = key, .type = JSONSPEC_T_BOOL, .def.b = *ret};

	return params_one(call, params, &e, ret);
}

struct rpc_result *params_u64(struct rpc_call *call, json_object *params, const char *key,
			      uint64_t max, uint64_t *ret, bool *present)
{
	struct {
		uint64_t value;
		bool seen;
	} out;
	struct jsonspec e = {.name = key,
			     .type = JSONSPEC_T_UINT,
			     .umax = max,
			     .def.u = *ret,
			     .seen = offsetof(__typeof__(out), seen) + 1};
	struct rpc_result *err = params_one(call, params, &e, &out);

	if (err)
		return err;
	*ret = out.value;
	if (present)
		*present = out.seen;
	return NULL;
}

struct rpc_result *params_string_array(struct rpc_call *call, json_object *params, const char *key,
				       bool required, json_object **ret)
{
	struct jsonspec e = {
		.name = key, .type = JSONSPEC_T_STRINGS, .flags = required ? JSONSPEC_REQUIRED : 0};

	*ret = NULL;
	return params_one(call, params, &e, ret);
}
