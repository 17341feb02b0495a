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
#include "task.h"
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

struct methods_subscribe_params {
	json_object *types;
	const char *request_id, *run_id;
	uint64_t since_seq;
	bool has_since;
};

const struct jsonspec methods_subscribe_spec[] = {
	JSONSPEC_STRINGS(struct methods_subscribe_params, types, 0, 0, 0),
	/* Kept for the subscription's life: no longer than a request_id can be. */
	JSONSPEC_STRING(struct methods_subscribe_params, request_id, 0,
			.lmax = TASK_REQUEST_ID_MAX),
	JSONSPEC_STRING(struct methods_subscribe_params, run_id, 0, .lmax = TASK_REQUEST_ID_MAX),
	JSONSPEC_UINT(struct methods_subscribe_params, since_seq, 0, 0, INT64_MAX, 0,
		      JSONSPEC_SEEN(struct methods_subscribe_params, has_since)),
	{0},
};

static struct rpc_result *methods_subscribe_types(struct rpc_call *call, json_object *types,
						  unsigned *ret)
{
	*ret = 0;
	if (!types)
		return NULL;
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
	struct methods_subscribe_params p;
	struct subscription *sub;
	struct rpc_result *err;
	json_object *o;
	int r;

	if ((err = params_parse(call, params, methods_subscribe_spec, &p)) ||
	    (err = methods_subscribe_types(call, p.types, &filter.types)) ||
	    (p.has_since && (err = methods_subscribe_check_since(call, p.since_seq))))
		return err;
	if (subscription_count(call->conn) >= CONNECTION_MAX_SUBSCRIPTIONS)
		return rpc_failure(
			call, WIRE_BUSY,
			"busy: this connection already has %d subscriptions; use filters "
			"or another connection",
			CONNECTION_MAX_SUBSCRIPTIONS);
	filter.request_id = p.request_id ? strdup(p.request_id) : NULL;
	filter.run_id = p.run_id ? strdup(p.run_id) : NULL;
	r = subscription_new(d, call->conn, &filter, p.has_since, p.since_seq, &sub);
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

struct methods_unsubscribe_params {
	uint64_t subscription;
};

const struct jsonspec methods_unsubscribe_spec[] = {
	JSONSPEC_UINT(struct methods_unsubscribe_params, subscription, JSONSPEC_REQUIRED, 0,
		      INT64_MAX, 0),
	{0},
};

struct rpc_result *methods_unsubscribe(struct rpc_call *call, json_object *params)
{
	struct methods_unsubscribe_params p;
	struct subscription *sub;
	struct rpc_result *err;
	uint64_t id;

	if ((err = params_parse(call, params, methods_unsubscribe_spec, &p)))
		return err;
	id = p.subscription;
	sub = subscription_find(call->conn, id);
	if (!sub)
		return rpc_failure(call, WIRE_NOT_FOUND,
				   "not found: this connection has no subscription %llu",
				   (unsigned long long)id);
	subscription_free(sub);
	return rpc_success(call, NULL);
}
