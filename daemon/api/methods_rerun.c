/*
 * The rerun method: a new job from a closed job's stored Task, with some
 * of its node's fields replaced. The Task it builds is the handler's own
 * and is dropped before the handler returns; the job is the coordinator's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "job.h"
#include "jsonspec.h"
#include "methods.h"
#include "params.h"
#include "state.h"
#include "task.h"
#include "wire_errors.h"

struct methods_rerun_params {
	const char *request_id, *new_request_id;
	json_object *node;
};

const struct jsonspec methods_rerun_spec[] = {
	JSONSPEC_STRING(struct methods_rerun_params, request_id, JSONSPEC_REQUIRED),
	JSONSPEC_STRING(struct methods_rerun_params, new_request_id, JSONSPEC_NULLABLE),
	JSONSPEC_OBJECT(struct methods_rerun_params, node, JSONSPEC_NULLABLE),
	{0},
};

/* Refuses a key that no node has; the values are checked when the Task is. */
static struct rpc_result *rerun_check_node(struct rpc_call *call, json_object *node)
{
	const char *unknown = node ? jsonspec_unknown_key(task_node_spec, node) : NULL;

	if (!unknown)
		return NULL;
	return rpc_failure(
		call, WIRE_INVALID_PARAMS,
		"Invalid params: unknown key \"node.%.64s\" in node (known keys: id, name, "
		"argv, cwd, env, stdin, timeout_ms)",
		unknown);
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
	if (new_request_id &&
	    json_object_object_add(task, "request_id", json_object_new_string(new_request_id)) < 0)
		r = -ENOMEM;
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

/* NULL when job may be re-run now, else the call's answer (its owner: RPC_OWNER, in dispatch). */
static struct rpc_result *rerun_check_job(struct rpc_call *call, const struct job *job)
{
	if (job->status == JOB_OPENED)
		return rpc_failure(
			call, WIRE_CONFLICT,
			"conflict: job \"%.128s\" is still opened; only a closed job can "
			"be re-run (cancel it or wait for it)",
			job->request_id);
	if (!job->task)
		return rpc_failure(call, WIRE_CONFLICT,
				   "conflict: job \"%.128s\" was accepted before the daemon kept "
				   "tasks, so there is nothing to re-run",
				   job->request_id);
	return NULL;
}

struct rpc_result *methods_rerun(struct rpc_call *call, json_object *params)
{
	struct methods_rerun_params p;
	struct rpc_result *err;
	json_object *task = NULL;
	char *rerun_of = NULL;
	struct job *job;
	uid_t owner;

	if ((err = params_parse(call, params, methods_rerun_spec, &p)) ||
	    (err = rerun_check_node(call, p.node)))
		return err;
	/* Checked here, or the Task's check would blame request_id, which was right. */
	if (p.new_request_id && !task_request_id_valid(p.new_request_id))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: new_request_id must be 1-%d characters of "
				   "A-Z a-z 0-9 . _ : -",
				   TASK_REQUEST_ID_MAX);
	if (state_get_job(services_of(call)->state, p.request_id, &job) < 0)
		return methods_not_found(call, p.request_id);
	err = rerun_check_job(call, job);
	if (!err) {
		json_object *stored = job_task_json(job);

		task = stored ? rerun_task(stored, p.new_request_id, p.node) : NULL;
		json_object_put(stored);
		rerun_of = strdup(job->request_id);
	}
	owner = job->owner_uid;
	job_unref(job);
	if (err)
		return err;
	if (!task || !rerun_of)
		err = rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	else /* The new job is the original owner's: it runs what that owner wrote. */
		err = methods_submit_as(call, task, owner, rerun_of);
	json_object_put(task);
	free(rerun_of);
	return err;
}
