/* The method table, and the methods about the daemon itself: ping, shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "build-config.h"
#include "coordinator.h"
#include "jsonutil.h"
#include "methods.h"
#include "params.h"
#include "services.h"
#include "state.h"
#include "strategy.h"

/* Every method, with its policy (enum rpc_method_flag), checked by rpc.c before the handler. */
static const struct rpc_method methods_table[] = {
	{.name = "cancel", .handler = methods_cancel, .flags = RPC_CAPPED | RPC_OWNER},
	{.name = "job", .handler = methods_job, .flags = RPC_CAPPED},
	{.name = "metrics", .handler = methods_metrics, .flags = RPC_CAPPED},
	{.name = "mode_set", .handler = methods_mode_set, .flags = RPC_CAPPED | RPC_ADMIN},
	{.name = "modes", .handler = methods_modes, .flags = RPC_CAPPED},
	{.name = "output", .handler = methods_output, .flags = RPC_CAPPED | RPC_OWNER},
	{.name = "ping", .handler = methods_ping, .flags = RPC_CAPPED},
	{.name = "rerun", .handler = methods_rerun, .flags = RPC_CAPPED | RPC_OWNER},
	{.name = "shutdown", .handler = methods_shutdown, .flags = RPC_CAPPED | RPC_ADMIN},
	{.name = "status", .handler = methods_status, .flags = RPC_CAPPED},
	{.name = "submit", .handler = methods_submit, .flags = RPC_CAPPED},
	{.name = "subscribe", .handler = methods_subscribe, .flags = RPC_CAPPED},
	{.name = "unsubscribe", .handler = methods_unsubscribe, .flags = RPC_CAPPED},
	{.name = "wait", .handler = methods_wait, .flags = RPC_CAPPED},
};

/* RPC_OWNER: the owner of the job params' request_id names. */
static int methods_owner_of(void *ctx, json_object *params, uid_t *ret_owner)
{
	struct services *svc = ctx;
	const char *id = json_get_string(params, "request_id");
	struct job *job;

	if (!id || state_get_job(svc->state, id, &job) < 0)
		return -ENOENT;
	*ret_owner = job->owner_uid;
	job_unref(job);
	return 0;
}

void methods_table_init(struct rpc_methods *ret, struct services *svc)
{
	ret->methods = methods_table;
	ret->count = sizeof(methods_table) / sizeof(methods_table[0]);
	ret->ctx = svc;
	ret->owner_of = methods_owner_of;
}

struct rpc_result *methods_ping(struct rpc_call *call, json_object *params)
{
	/* The daemon never forks: its pid, read once, spares each ping a system call. */
	static pid_t pid;
	struct rpc_result *err;
	json_object *o;

	if ((err = params_parse(call, params, params_none, NULL)))
		return err;
	if (!pid)
		pid = getpid();
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string(COORD_VERSION));
	json_object_object_add(o, "pid", json_object_new_int((int)pid));
	json_object_object_add(o, "uptime",
			       json_time_new(time_now() - services_of(call)->start_time));
	return rpc_success(call, o);
}

struct rpc_result *methods_shutdown(struct rpc_call *call, json_object *params)
{
	struct services *d = services_of(call);
	struct rpc_result *answered;

	if ((answered = params_parse(call, params, params_none, NULL)))
		return answered;
	/* RPC_ADMIN: stopping the daemon stops everyone's work. */
	answered = rpc_success(call, NULL);

	/* After the answer is queued, so the client hears it before the drain. */
	d->shutdown(d->ctx, "asked to over the socket");
	return answered;
}
