/*
 * The methods about modes: modes (what each runs and how busy it is) and
 * mode_set (pause, resume and max_concurrency while the daemon runs).
 * Every json_object built here is handed over to the answer.
 */
#include <stdio.h>
#include <string.h>

#include "coordinator.h"
#include "services.h"
#include "methods.h"
#include "params.h"
#include "strategy.h"
#include "wire_errors.h"

static json_object *methods_mode_json(const struct strategy_info *info)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "name", json_object_new_string(info->mode));
	json_object_object_add(m, "strategy", json_object_new_string(info->strategy));
	json_object_object_add(m, "max_concurrency", json_object_new_int64(info->max_concurrency));
	json_object_object_add(m, "running", json_object_new_int64(info->running));
	json_object_object_add(m, "queued", json_object_new_int64((int64_t)info->queued));
	json_object_object_add(m, "waiting", json_object_new_int64((int64_t)info->waiting));
	json_object_object_add(m, "max_queue", json_object_new_int64((int64_t)info->max_queue));
	json_object_object_add(m, "paused", json_object_new_boolean(info->paused));
	return m;
}

static void methods_mode_cb(const struct strategy_info *info, void *userdata)
{
	json_object_array_add(userdata, methods_mode_json(info));
}

struct rpc_result *methods_modes(struct rpc_call *call, json_object *params)
{
	struct rpc_result *err;
	json_object *o, *modes;

	if ((err = params_parse(call, params, params_none, NULL)))
		return err;
	o = json_object_new_object();
	modes = json_object_new_array();
	coordinator_foreach_mode(services_of(call)->coordinator, methods_mode_cb, modes);
	json_object_object_add(o, "modes", modes);
	return rpc_success(call, o);
}

struct methods_mode_set_params {
	const char *mode;
	uint64_t max_concurrency;
	bool paused;
	bool has_max_concurrency, has_paused;
};

const struct jsonspec methods_mode_set_spec[] = {
	JSONSPEC_STRING(struct methods_mode_set_params, mode, JSONSPEC_REQUIRED),
	JSONSPEC_UINT(struct methods_mode_set_params, max_concurrency, 0, 1,
		      STRATEGY_MAX_CONCURRENCY, 1,
		      JSONSPEC_SEEN(struct methods_mode_set_params, has_max_concurrency)),
	JSONSPEC_BOOL(struct methods_mode_set_params, paused, 0, false,
		      JSONSPEC_SEEN(struct methods_mode_set_params, has_paused)),
	{0},
};

static void methods_mode_name_cb(const struct strategy_info *info, void *userdata)
{
	json_object *names = userdata;

	json_object_array_add(names, json_object_new_string(info->mode));
}

/* 1003, naming the modes there are. */
static struct rpc_result *methods_unknown_mode(struct rpc_call *call, const char *mode)
{
	json_object *names = json_object_new_array();
	char list[512] = "";
	size_t used = 0;
	struct rpc_result *answer;

	coordinator_foreach_mode(services_of(call)->coordinator, methods_mode_name_cb, names);
	for (size_t i = 0; i < json_object_array_length(names) && used < sizeof(list); i++)
		used += (size_t)snprintf(
			list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
			json_object_get_string(json_object_array_get_idx(names, i)));
	answer = rpc_failure(call, WIRE_UNKNOWN_MODE, "unknown mode \"%.64s\" (modes: %s)", mode,
			     list);
	json_object_put(names);
	return answer;
}

struct rpc_result *methods_mode_set(struct rpc_call *call, json_object *params)
{
	struct coordinator *coord = services_of(call)->coordinator;
	struct methods_mode_set_params p;
	struct strategy_tuning tuning;
	struct strategy_info info;
	struct rpc_result *err;

	/* A mode's limits are everyone's: RPC_ADMIN in the table lets only root and our uid here.
	 */
	if ((err = params_parse(call, params, methods_mode_set_spec, &p)))
		return err;
	if (coordinator_describe_mode(coord, p.mode, &info) < 0)
		return methods_unknown_mode(call, p.mode);
	tuning = (struct strategy_tuning){
		.max_concurrency =
			p.has_max_concurrency ? (unsigned)p.max_concurrency : info.max_concurrency,
		.max_queue = info.max_queue,
		.output_limit = info.output_limit,
		.kill_grace_ms = info.kill_grace_ms,
		.paused = p.has_paused ? p.paused : info.paused,
		.queue_hot_tasks = info.queue_hot_tasks,
	};
	if (coordinator_tune_mode(coord, p.mode, &tuning) < 0 ||
	    coordinator_describe_mode(coord, p.mode, &info) < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR,
				   "mode \"%.64s\" cannot be changed while it runs", p.mode);
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "mode", methods_mode_json(&info));
		return rpc_success(call, o);
	}
}
