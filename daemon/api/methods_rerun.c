/*
 * The rerun method: a new job from a closed job's stored Task, with some
 * of its node's fields replaced. The Task it builds is the handler's own
 * and is dropped before the handler returns; the job is the coordinator's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "daemon.h"
#include "job.h"
#include "methods.h"
#include "params.h"
#include "state.h"
#include "task.h"
#include "wire_errors.h"

/* The keys rerun's params may have. */
static const char *const rerun_keys[] = {"request_id", "new_request_id", "node"};

static const char *rerun_unknown_key(json_object *params)
{
	json_object_object_foreach (params, key, val) {
		bool known = false;

		(void)val;
		for (size_t i = 0; i < sizeof(rerun_keys) / sizeof(*rerun_keys); i++)
			known = known || strcmp(key, rerun_keys[i]) == 0;
		if (!known)
			return key;
	}
	return NULL;
}

/*
 * The optional node replacements: NULL when fine (*ret: borrowed, or NULL
 * when absent), else the call's answer.
 */
static struct rpc_result *rerun_node_param(struct rpc_call *call, json_object *params,
					   json_object **ret)
{
	json_object *node = NULL;

	*ret = NULL;
	if (!json_object_object_get_ex(params, "node", &node) || !node)
		return NULL;
	if (!json_object_is_type(node, json_type_object))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: node must be an object of the node fields to "
				   "replace");
	json_object_object_foreach (node, key, val) {
		(void)val;
		if (!task_node_key_known(key))
			return rpc_failure(call, WIRE_INVALID_PARAMS,
					   "Invalid params: unknown key \"node.%.64s\" (a node has "
					   "id, name, argv, cwd, env, stdin, timeout_ms)",
					   key);
	}
	*ret = node;
	return NULL;
}

/* Puts a copy of value (NULL: removes key) into obj under key. 0 or -ENOMEM. */
static int rerun_replace(json_object *obj, const char *key, json_object *value)
{
	json_object *copy = NULL;

	if (!value) {
		json_object_object_del(obj, key);
		return 0;
	}
	if (json_object_deep_copy(value, &copy, NULL) < 0)
		return -ENOMEM;
	if (json_object_object_add(obj, key, copy) < 0) {
		json_object_put(copy);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The Task of the new job (new reference): the stored one without its
 * request_id (new_request_id instead, if given) and with node's fields
 * replaced; a null field goes back to its default. NULL on ENOMEM.
 */
static json_object *rerun_task(json_object *stored, const char *new_request_id, json_object *node)
{
	json_object *task = NULL, *stored_node;
	int r = 0;

	if (json_object_deep_copy(stored, &task, NULL) < 0)
		return NULL;
	json_object_object_del(task, "request_id");
	json_object_object_del(task, "wait");
	if (new_request_id)
		r = rerun_replace(task, "request_id", json_object_new_string(new_request_id));
	if (!json_object_object_get_ex(task, "node", &stored_node) ||
	    !json_object_is_type(stored_node, json_type_object)) {
		stored_node = json_object_new_object();
		if (!stored_node || json_object_object_add(task, "node", stored_node) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && node) {
		json_object_object_foreach (node, key, val) {
			if ((r = rerun_replace(stored_node, key, val)) < 0)
				break;
		}
	}
	if (r < 0) {
		json_object_put(task);
		return NULL;
	}
	return task;
}

struct rpc_result *methods_rerun(struct rpc_call *call, json_object *params)
{
	const char *id, *new_id, *unknown;
	uid_t uid = connection_peer_uid(call->conn), owner;
	json_object *node, *task;
	struct rpc_result *err;
	char *rerun_of = NULL;
	struct job *job;

	if (params && (unknown = rerun_unknown_key(params)))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: unknown key \"%.64s\" (rerun takes request_id, "
				   "new_request_id, node)",
				   unknown);
	if ((err = params_string(call, params, "request_id", true, &id)) ||
	    (err = params_string(call, params, "new_request_id", false, &new_id)) ||
	    (err = rerun_node_param(call, params, &node)))
		return err;
	if (state_get_job(call->daemon->state, id, &job) < 0)
		return methods_not_found(call, id);
	owner = job->owner_uid;
	if (uid != 0 && uid != owner) {
		job_unref(job);
		return rpc_failure(call, WIRE_PERMISSION_DENIED,
				   "permission denied: job \"%.128s\" belongs to uid %u; only its "
				   "owner or root may re-run it",
				   id, (unsigned)owner);
	}
	if (job->status == JOB_OPENED || !job->task) {
		const char *why =
			job->status == JOB_OPENED
				? "is still opened; only a closed job can be re-run "
				  "(cancel it or wait for it)"
				: "was accepted before the daemon kept tasks, so there is "
				  "nothing to re-run";

		job_unref(job);
		return rpc_failure(call, WIRE_CONFLICT, "conflict: job \"%.128s\" %s", id, why);
	}
	task = rerun_task(job->task, new_id, node);
	rerun_of = strdup(job->request_id);
	job_unref(job);
	if (!task || !rerun_of) {
		json_object_put(task);
		free(rerun_of);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	/* The new job is the original owner's: it runs what that owner wrote. */
	err = methods_submit_as(call, task, owner, rerun_of);
	json_object_put(task);
	free(rerun_of);
	return err;
}
