/*
 * A method's params, declared once and read in one call. Each method
 * keeps a spec (common/jsonspec.h: name, type, required or default,
 * bounds) next to its handler and calls params_parse first thing; any
 * mistake (a missing or unknown key, a wrong type, a value out of bounds)
 * answers the call with -32602 naming the key, and the handler returns
 * that answer. A null value counts as absent.
 *
 * Example: cancel takes {"request_id", "cascade"}.
 *
 *	struct cancel_params {
 *		const char *request_id;
 *		bool cascade;
 *	};
 *	const struct jsonspec methods_cancel_spec[] = {
 *		JSONSPEC_STRING(struct cancel_params, request_id, JSONSPEC_REQUIRED),
 *		JSONSPEC_BOOL(struct cancel_params, cascade, 0, true),
 *		{0},
 *	};
 *
 *	struct rpc_result *methods_cancel(struct rpc_call *call, json_object *params)
 *	{
 *		struct cancel_params p;
 *		struct rpc_result *err;
 *
 *		if ((err = params_parse(call, params, methods_cancel_spec, &p)))
 *			return err;
 *		... p.request_id, p.cascade ...
 *	}
 *
 * {"request_id": "x", "cascde": false} is answered with
 * `Invalid params: unknown key "cascde" in params of cancel (known keys:
 * request_id, cascade)`. A method without params uses params_none.
 * Everything written to the struct is borrowed from params.
 */
#ifndef COORD_PARAMS_H
#define COORD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "jsonspec.h"
#include "rpc.h"

/* The spec of a method that takes no params: absent, null, [] or {}. */
extern const struct jsonspec params_none[];

/*
 * Reads params (an object: the dispatcher turned absent, null and [] into
 * {}) by spec into out. NULL when all is well; else the call's answer
 * (-32602 naming the key), which the handler returns.
 */
struct rpc_result *params_parse(struct rpc_call *call, json_object *params,
				const struct jsonspec *spec, void *out);

/* params_parse without a call: 0, or -EINVAL and the reason in *error (caller frees). */
int params_check(const char *method, const struct jsonspec *spec, json_object *params, void *out,
		 char **error);

/*
 * Single getters, for code that has not moved to a spec yet; they do not
 * refuse unknown keys. *ret is borrowed from params; NULL when absent or
 * null and optional.
 */
struct rpc_result *params_string(struct rpc_call *call, json_object *params, const char *key,
				 bool required, const char **ret);
/* *ret keeps its value when absent. */
struct rpc_result *params_bool(struct rpc_call *call, json_object *params, const char *key,
			       bool *ret);
/* A whole number in [0, max]; *ret keeps its value when absent; *present says if it was there. */
struct rpc_result *params_u64(struct rpc_call *call, json_object *params, const char *key,
			      uint64_t max, uint64_t *ret, bool *present);
/* An array of strings (borrowed, owned by params). *ret is NULL when absent and optional. */
struct rpc_result *params_string_array(struct rpc_call *call, json_object *params, const char *key,
				       bool required, json_object **ret);

#endif
