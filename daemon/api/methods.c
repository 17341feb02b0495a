/* The method table, and the methods about the daemon itself: ping, modes, shutdown. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "build-config.h"
#include "config.h"
#include "connection.h"
#include "coordinator.h"
#include "daemon.h"
#include "history.h"
#include "methods.h"
#include "params.h"
#include "strategy.h"
#include "wire_errors.h"

static const struct rpc_method methods_table[] = {
	{.name = "cancel", .handler = methods_cancel},
	{.name = "job", .handler = methods_job},
	{.name = "metrics", .handler = methods_metrics},
	{.name = "modes", .handler = methods_modes},
	{.name = "output", .handler = methods_output},
	{.name = "ping", .handler = methods_ping},
	{.name = "rerun", .handler = methods_rerun},
	{.name = "shutdown", .handler = methods_shutdown},
	{.name = "status", .handler = methods_status},
	{.name = "submit", .handler = methods_submit},
	{.name = "subscribe", .handler = methods_subscribe},
	{.name = "unsubscribe", .handler = methods_unsubscribe},
	{.name = "wait", .handler = methods_wait},
};

const struct rpc_method *methods_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods_table) / sizeof(methods_table[0]); i++)
		if (strcmp(methods_table[i].name, name) == 0)
			return &methods_table[i];
	return NULL;
}

struct rpc_result *methods_ping(struct rpc_call *call, json_object *params)
{
	struct rpc_result *err;
	json_object *o;

	if ((err = params_parse(call, params, params_none, NULL)))
		return err;
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string(COORD_VERSION));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "uptime", json_object_new_double(daemon_uptime(call->daemon)));
	return rpc_success(call, o);
}

static void methods_mode_cb(const struct strategy_info *info, void *userdata)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "name", json_object_new_string(info->mode));
	json_object_object_add(m, "strategy", json_object_new_string(info->strategy));
	json_object_object_add(m, "max_concurrency", json_object_new_int64(info->max_concurrency));
	json_object_object_add(m, "running", json_object_new_int64(info->running));
	json_object_object_add(m, "queued", json_object_new_int64((int64_t)info->queued));
	json_object_object_add(m, "max_queue", json_object_new_int64((int64_t)info->max_queue));
	json_object_array_add(userdata, m);
}

struct rpc_result *methods_modes(struct rpc_call *call, json_object *params)
{
	struct rpc_result *err;
	json_object *o, *modes;

	if ((err = params_parse(call, params, params_none, NULL)))
		return err;
	o = json_object_new_object();
	modes = json_object_new_array();

	coordinator_foreach_mode(call->daemon->coordinator, methods_mode_cb, modes);
	json_object_object_add(o, "modes", modes);
	return rpc_success(call, o);
}

struct rpc_result *methods_shutdown(struct rpc_call *call, json_object *params)
{
	struct daemon *d = call->daemon;
	uid_t uid = connection_peer_uid(call->conn);
	struct rpc_result *answered;

	if ((answered = params_parse(call, params, params_none, NULL)))
		return answered;
	/* Stopping the daemon stops everyone's work: only root and its own user may. */
	if (uid != 0 && uid != geteuid())
		return rpc_failure(
			call, WIRE_PERMISSION_DENIED,
			"permission denied: only root or uid %u may shut the daemon down",
			(unsigned)geteuid());
	answered = rpc_success(call, NULL);

	/* After the answer is queued, so the client hears it before the drain. */
	daemon_begin_shutdown(d, "asked to over the socket");
	return answered;
}

json_object *methods_final_message(struct daemon *d, const struct job *job)
{
	json_object *msg;
	char *text;

	if (job->status != JOB_CLOSED ||
	    history_final_message(d->history, job->request_id, &text) < 0)
		return NULL;
	msg = json_tokener_parse(text);
	free(text);
	return msg;
}
