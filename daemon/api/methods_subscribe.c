/* The methods subscribe and unsubscribe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "services.h"
#include "history.h"
#include "message.h"
#include "methods.h"
#include "params.h"
#include "publisher.h"
#include "subscription.h"
#include "wire_errors.h"

/* "request_creation, request_success, ...": every type, named by message_type_name. */
static void methods_subscribe_type_list(char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int t = 0; t < MESSAGE_TYPE_COUNT && n < size; t++) {
		int w = snprintf(buf + n, size - n, "%s%s", t ? ", " : "",
				 message_type_name((enum message_type)t));

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static struct rpc_result *methods_subscribe_types(struct rpc_call *call, json_object *params,
						  unsigned *ret)
{
	struct rpc_result *err;
	json_object *types;

	*ret = 0;
	if ((err = params_string_array(call, params, "types", false, &types)) || !types)
		return err;
	if (json_object_array_length(types) == 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: types is empty, so the subscription would "
				   "match nothing; leave types out to receive every type");
	for (size_t i = 0; i < json_object_array_length(types); i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(types, i));
		enum message_type t;

		if (message_type_from_name(name, &t) < 0) {
			char known[256];

			methods_subscribe_type_list(known, sizeof(known));
			return rpc_failure(
				call, WIRE_INVALID_PARAMS,
				"Invalid params: unknown message type \"%.64s\" (known: %s)", name,
				known);
		}
		*ret |= 1u << t;
	}
	return NULL;
}

/* since_seq must not reach below what retention kept. */
static struct rpc_result *methods_subscribe_check_since(struct rpc_call *call, uint64_t since)
{
	uint64_t first = 0;

	if (history_first_seq(services_of(call)->history, &first) < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot read the history");
	if (first > 0 && since + 1 < first) {
		json_object *data = json_object_new_object();

		json_object_object_add(data, "oldest_seq", json_object_new_int64((int64_t)first));
		return rpc_failure_data(call, WIRE_NOT_FOUND, data,
					"not found: messages before seq %llu were pruned by "
					"retention; subscribe with since_seq >= %llu",
					(unsigned long long)first, (unsigned long long)first - 1);
	}
	return NULL;
}

struct rpc_result *methods_subscribe(struct rpc_call *call, json_object *params)
{
	struct services *d = services_of(call);
	struct subscription_filter filter = {0};
	const char *request_id, *run_id;
	struct subscription *sub;
	struct rpc_result *err;
	uint64_t since = 0;
	bool has_since;
	json_object *o;
	int r;

	if ((err = methods_subscribe_types(call, params, &filter.types)) ||
	    (err = params_string(call, params, "request_id", false, &request_id)) ||
	    (err = params_string(call, params, "run_id", false, &run_id)) ||
	    (err = params_u64(call, params, "since_seq", INT64_MAX, &since, &has_since)) ||
	    (has_since && (err = methods_subscribe_check_since(call, since))))
		return err;
	if (subscription_count(call->conn) >= CONNECTION_MAX_SUBSCRIPTIONS)
		return rpc_failure(
			call, WIRE_BUSY,
			"busy: this connection already has %d subscriptions; use filters "
			"or another connection",
			CONNECTION_MAX_SUBSCRIPTIONS);
	filter.request_id = request_id ? strdup(request_id) : NULL;
	filter.run_id = run_id ? strdup(run_id) : NULL;
	r = subscription_new(d, call->conn, &filter, has_since, since, &sub);
	if (r < 0) {
		free(filter.request_id);
		free(filter.run_id);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot subscribe: %s", strerror(-r));
	}
	o = json_object_new_object();
	json_object_object_add(o, "subscription", json_object_new_int64((int64_t)sub->id));
	json_object_object_add(o, "seq",
			       json_object_new_int64((int64_t)publisher_last_seq(d->publisher)));
	err = rpc_success(call, o);
	/* The answer is queued: now the replay may follow it. */
	subscription_start(sub);
	return err;
}

struct rpc_result *methods_unsubscribe(struct rpc_call *call, json_object *params)
{
	struct subscription *sub;
	uint64_t id = 0;
	bool present;
	struct rpc_result *err;

	if ((err = params_u64(call, params, "subscription", INT64_MAX, &id, &present)))
		return err;
	if (!present)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: subscription is required");
	sub = subscription_find(call->conn, id);
	if (!sub)
		return rpc_failure(call, WIRE_NOT_FOUND,
				   "not found: this connection has no subscription %llu",
				   (unsigned long long)id);
	subscription_free(sub);
	return rpc_success(call, NULL);
}
