/*
 * Job lifecycle and its JSON form. A job is reference counted and owns all
 * of its strings (run_id may be its request_id itself: it is freed once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jsonout.h"
#include "jsonutil.h"
#include "wire_kinds.h"
#include "task.h"

struct job *job_new_empty(void)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->refcount = 1;
	job->stdout_bytes = job->stderr_bytes = -1;
	return job;
}

static int job_dup(char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return 0;
	}
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

struct job *job_new_from_task(const struct task *task)
{
	struct job *job = job_new_empty();

	if (!job)
		return NULL;
	if (job_dup(&job->request_id, task->request_id) < 0 ||
	    job_dup(&job->parent_node_id, task->parent_node_id) < 0 ||
	    job_dup(&job->child_node_id, task->node_id) < 0 ||
	    job_dup(&job->name, task->name) < 0 || job_dup(&job->mode, task->mode) < 0 ||
	    job_dup(&job->rerun_of, task->rerun_of) < 0)
		return job_unref(job);
	/* A root request is its own run: its run_id is its request_id, kept once. */
	if (!task->run_id || strcmp(task->run_id, task->request_id) == 0)
		job->run_id = job->request_id;
	else if (job_dup(&job->run_id, task->run_id) < 0)
		return job_unref(job);
	if (job_dup(&job->task, task->stored) < 0)
		return job_unref(job);
	/* after as submitted, shared with the task: nobody changes it. */
	job->after = task->after_json ? json_object_get(task->after_json) : NULL;
	job->status = JOB_OPENED;
	job->phase = task->after_count ? JOB_WAITING : JOB_QUEUED;
	job->result = JOB_RESULT_NONE;
	job->start_time = time_now();
	job->owner_uid = task->owner_uid;
	return job;
}

struct job *job_ref(struct job *job)
{
	job->refcount++;
	return job;
}

struct job *job_unref(struct job *job)
{
	if (!job || --job->refcount > 0)
		return NULL;
	free(job->request_id);
	free(job->parent_node_id);
	free(job->child_node_id);
	if (job->run_id != job->request_id)
		free(job->run_id);
	free(job->name);
	free(job->mode);
	free(job->error_message);
	free(job->rerun_of);
	json_object_put(job->after);
	free(job->task);
	free(job->strategy_ref);
	free(job);
	return NULL;
}

int job_end(struct job *job, enum job_result result, int exit_code, enum error_kind kind,
	    const char *error_message)
{
	char *msg = NULL;

	if (job->status == JOB_CLOSED)
		return -EALREADY;
	if (result == JOB_RESULT_NONE)
		return -EINVAL;
	if (error_message && !(msg = strdup(error_message)))
		return -ENOMEM;
	job->status = JOB_CLOSED;
	job->phase = JOB_FINISHED;
	job->result = result;
	job->end_time = time_now();
	job->has_exit_code = exit_code >= 0;
	job->exit_code = exit_code >= 0 ? exit_code : 0;
	job->error_kind = kind;
	free(job->error_message);
	job->error_message = msg;
	return 0;
}

void job_set_run_start(struct job *job)
{
	if (job->run_start_time == 0)
		job->run_start_time = time_now();
}

bool job_ran(const struct job *job)
{
	return job->run_start_time > 0 || job->pid > 0;
}

json_object *job_task_json(const struct job *job)
{
	json_object *o = job->task ? json_tokener_parse(job->task) : NULL;

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static bool job_task_visible(const struct job *job, uid_t viewer)
{
	return viewer != JOB_VIEWER_NONE && (viewer == 0 || viewer == job->owner_uid);
}

/*
 * The stored Task's text when viewer may see it (else NULL): only for the
 * job's owner and root, as its env and stdin may hold secrets; and only an
 * object, written out as it was kept, never parsed again.
 */
static const char *job_task_shown(const struct job *job, uid_t viewer)
{
	size_t len = job->task ? strlen(job->task) : 0;

	if (!job_task_visible(job, viewer) || len < 2 || job->task[0] != '{' ||
	    job->task[len - 1] != '}')
		return NULL;
	return job->task;
}

void job_write_members(const struct job *job, uid_t viewer, struct jsonout *out)
{
	const char *task = job_task_shown(job, viewer);

	jsonout_lit(out, "{\"request_id\":");
	jsonout_string(out, job->request_id);
	jsonout_lit(out, ",\"parent_node_id\":");
	jsonout_string(out, job->parent_node_id);
	jsonout_lit(out, ",\"child_node_id\":");
	jsonout_string(out, job->child_node_id);
	jsonout_lit(out, ",\"run_id\":");
	jsonout_string(out, job->run_id);
	jsonout_lit(out, ",\"name\":");
	jsonout_string(out, job->name);
	jsonout_lit(out, ",\"mode\":");
	jsonout_string(out, job->mode);
	jsonout_lit(out, ",\"status\":");
	jsonout_string(out, job_status_name(job->status));
	jsonout_lit(out, ",\"phase\":");
	jsonout_string(out, job_phase_name(job->phase));
	jsonout_lit(out, ",\"result\":");
	jsonout_string(out, job_result_name(job->result));
	jsonout_lit(out, ",\"start_time\":");
	jsonout_time(out, job->start_time);
	jsonout_lit(out, ",\"end_time\":");
	jsonout_time_or_null(out, job->status == JOB_CLOSED, job->end_time);
	jsonout_lit(out, ",\"exit_code\":");
	jsonout_int64_or_null(out, job->has_exit_code, job->exit_code);
	jsonout_lit(out, ",\"error\":");
	if (job->error_kind == ERROR_NONE) {
		jsonout_lit(out, "null");
	} else {
		jsonout_lit(out, "{\"kind\":");
		jsonout_string(out, error_kind_name(job->error_kind));
		jsonout_lit(out, ",\"message\":");
		jsonout_string(out, job->error_message);
		jsonout_lit(out, "}");
	}
	jsonout_lit(out, ",\"owner_uid\":");
	jsonout_int64(out, (int64_t)job->owner_uid);
	jsonout_lit(out, ",\"run_start_time\":");
	jsonout_time_or_null(out, job->run_start_time > 0, job->run_start_time);
	jsonout_lit(out, ",\"rerun_of\":");
	jsonout_string(out, job->rerun_of);
	jsonout_lit(out, ",\"after\":");
	jsonout_value(out, job->after);
	jsonout_lit(out, ",\"task\":");
	if (task)
		jsonout_raw(out, task, strlen(task));
	else
		jsonout_lit(out, "null");
}

const char *job_to_string(const struct job *job, char *buf, size_t size)
{
	const char *result = job_result_name(job->result);

	snprintf(buf, size,
		 "Job(request_id=%s, parent_node_id=%s, child_node_id=%s, status=%s, "
		 "result=%s, start_time=%.6f, end_time=%.6f)",
		 job->request_id, job->parent_node_id ? job->parent_node_id : "None",
		 job->child_node_id, job_status_name(job->status), result ? result : "None",
		 job->start_time, job->end_time);
	return buf;
}

const char *job_status_name(enum job_status status)
{
	switch (status) {
	case JOB_OPENED:
		return "opened";
	case JOB_CLOSED:
		return "closed";
	}
	return "?";
}

const char *job_phase_name(enum job_phase phase)
{
	switch (phase) {
	case JOB_WAITING:
		return "waiting";
	case JOB_QUEUED:
		return "queued";
	case JOB_RUNNING:
		return "running";
	case JOB_FINISHED:
		return "finished";
	}
	return "?";
}

const char *job_result_name(enum job_result result)
{
	switch (result) {
	case JOB_RESULT_NONE:
		return NULL;
	case JOB_SUCCESS:
		return "success";
	case JOB_FAILURE:
		return "failure";
	}
	return NULL;
}

const char *error_kind_name(enum error_kind kind)
{
	switch (kind) {
	case ERROR_NONE:
		return NULL;
	case ERROR_EXIT:
		return WIRE_KIND_EXIT;
	case ERROR_SIGNAL:
		return WIRE_KIND_SIGNAL;
	case ERROR_TIMEOUT:
		return WIRE_KIND_TIMEOUT;
	case ERROR_CANCELLED:
		return WIRE_KIND_CANCELLED;
	case ERROR_SPAWN:
		return WIRE_KIND_SPAWN;
	case ERROR_LOST:
		return WIRE_KIND_LOST;
	case ERROR_DEPENDENCY:
		return WIRE_KIND_DEPENDENCY;
	case ERROR_INVALID:
		return WIRE_KIND_INVALID;
	}
	return NULL;
}

/* Looks name up among the names that namer gives for 0..count-1. */
static int job_enum_from_name(const char *name, const char *(*namer)(int), int count, int *ret)
{
	for (int i = 0; i < count; i++) {
		const char *candidate = namer(i);

		if (candidate && strcmp(candidate, name) == 0) {
			*ret = i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *job_status_namer(int v)
{
	return job_status_name((enum job_status)v);
}

static const char *job_phase_namer(int v)
{
	return job_phase_name((enum job_phase)v);
}

static const char *job_result_namer(int v)
{
	return job_result_name((enum job_result)v);
}

static const char *error_kind_namer(int v)
{
	return error_kind_name((enum error_kind)v);
}

int job_status_from_name(const char *name, enum job_status *ret)
{
	int v, r = job_enum_from_name(name, job_status_namer, JOB_CLOSED + 1, &v);

	if (r == 0)
		*ret = (enum job_status)v;
	return r;
}

int job_phase_from_name(const char *name, enum job_phase *ret)
{
	int v, r = job_enum_from_name(name, job_phase_namer, JOB_FINISHED + 1, &v);

	if (r == 0)
		*ret = (enum job_phase)v;
	return r;
}

int job_result_from_name(const char *name, enum job_result *ret)
{
	int v, r = job_enum_from_name(name, job_result_namer, JOB_FAILURE + 1, &v);

	if (r == 0)
		*ret = (enum job_result)v;
	return r;
}

int error_kind_from_name(const char *name, enum error_kind *ret)
{
	int v, r = job_enum_from_name(name, error_kind_namer, ERROR_DEPENDENCY + 1, &v);

	if (r == 0)
		*ret = (enum error_kind)v;
	return r;
}
