/*
 * The methods about modes: modes (what each runs and how busy it is) and
 * mode_set (pause, resume and max_concurrency while the daemon runs).
 * Every json_object built here is handed over to the answer.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connection.h"
#include "coordinator.h"
#include "daemon.h"
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
	json_object *o = json_object_new_object(), *modes = json_object_new_array();

	coordinator_foreach_mode(call->daemon->coordinator, methods_mode_cb, modes);
	json_object_object_add(o, "modes", modes);
	return rpc_success(call, o);
}

/* The params mode_set takes; any other key is refused, so a typo never passes unseen. */
static const char *const methods_mode_set_keys[] = {"mode", "max_concurrency", "paused"};

static struct rpc_result *methods_mode_set_check_keys(struct rpc_call *call, json_object *params)
{
	size_t n = sizeof(methods_mode_set_keys) / sizeof(methods_mode_set_keys[0]);

	if (!json_object_is_type(params, json_type_object))
		return NULL; /* "mode is required" says what is wrong */
	json_object_object_foreach (params, key, value) {
		size_t i = 0;

		(void)value;
		while (i < n && strcmp(key, methods_mode_set_keys[i]) != 0)
			i++;
		if (i == n)
			return rpc_failure(call, WIRE_INVALID_PARAMS,
					   "Invalid params: unknown key \"%.64s\" (mode_set takes "
					   "mode, max_concurrency and paused)",
					   key);
	}
	return NULL;
}

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

	coordinator_foreach_mode(call->daemon->coordinator, methods_mode_name_cb, names);
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
	struct coordinator *coord = call->daemon->coordinator;
	uid_t uid = connection_peer_uid(call->conn);
	uint64_t max_concurrency = 0;
	bool has_max = false, paused;
	struct strategy_tuning tuning;
	struct strategy_info info;
	struct rpc_result *err;
	const char *mode;

	/* A mode's limits are everyone's: only root and the daemon's own user change them. */
	if (uid != 0 && uid != geteuid())
		return rpc_failure(call, WIRE_PERMISSION_DENIED,
				   "permission denied: only root or uid %u may change a mode",
				   (unsigned)geteuid());
	if ((err = methods_mode_set_check_keys(call, params)) ||
	    (err = params_string(call, params, "mode", true, &mode)) ||
	    (err = params_u64(call, params, "max_concurrency", STRATEGY_MAX_CONCURRENCY,
			      &max_concurrency, &has_max)))
		return err;
	if (has_max && max_concurrency == 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: max_concurrency must be a whole number from 1 "
				   "to %d",
				   STRATEGY_MAX_CONCURRENCY);
	if (coordinator_describe_mode(coord, mode, &info) < 0)
		return methods_unknown_mode(call, mode);
	paused = info.paused;
	if ((err = params_bool(call, params, "paused", &paused)))
		return err;
	tuning = (struct strategy_tuning){
		.max_concurrency = has_max ? (unsigned)max_concurrency : info.max_concurrency,
		.max_queue = info.max_queue,
		.output_limit = info.output_limit,
		.kill_grace_ms = info.kill_grace_ms,
		.paused = paused,
	};
	if (coordinator_tune_mode(coord, mode, &tuning) < 0 ||
	    coordinator_describe_mode(coord, mode, &info) < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR,
				   "mode \"%.64s\" cannot be changed while it runs", mode);
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "mode", methods_mode_json(&info));
		return rpc_success(call, o);
	}
}
