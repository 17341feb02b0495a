/*
 * The methods about jobs: submit, job, status, wait, cancel. A pending
 * call's state (struct methods_wait) is owned by the call until the wait
 * answers it or the client goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connection.h"
#include "coordinator.h"
#include "daemon.h"
#include "jsonutil.h"
#include "log.h"
#include "message.h"
#include "methods.h"
#include "params.h"
#include "state.h"
#include "task.h"
#include "waiter.h"
#include "wire_errors.h"

#define METHODS_STATUS_DEFAULT_LIMIT 100
#define METHODS_STATUS_MAX_LIMIT     10000
#define METHODS_TREE_MAX_DEPTH	     256

enum methods_wait_kind {
	WAIT_FOR_SUBMIT, /* answer {job, message} */
	WAIT_FOR_JOBS,	 /* answer {jobs} */
	WAIT_FOR_CANCEL, /* answer {job} */
};

/* A call that waits for jobs to close. */
struct methods_wait {
	struct rpc_call *call;
	struct wait *wait;
	enum methods_wait_kind kind;
	char **ids;
	size_t count;
	char *lender; /* the running job whose slot is lent while it waits, or NULL */
};

static void methods_wait_free(struct methods_wait *mw, struct daemon *d)
{
	if (mw->lender) {
		coordinator_return_slot(d->coordinator, mw->lender);
		free(mw->lender);
	}
	for (size_t i = 0; i < mw->count; i++)
		free(mw->ids[i]);
	free(mw->ids);
	free(mw);
}

static json_object *methods_job_json(struct daemon *d, const char *request_id)
{
	struct job *job;
	json_object *o;

	if (state_get_job(d->state, request_id, &job) < 0)
		return NULL;
	o = job_to_json(job);
	job_unref(job);
	return o;
}

static json_object *methods_jobs_json(struct daemon *d, char **ids, size_t count)
{
	json_object *jobs = json_object_new_array_ext((int)count);

	for (size_t i = 0; i < count; i++)
		json_object_array_add(jobs, methods_job_json(d, ids[i]));
	return jobs;
}

static json_object *methods_job_with_message(struct daemon *d, const char *request_id)
{
	json_object *o = json_object_new_object();
	struct job *job;

	if (state_get_job(d->state, request_id, &job) < 0)
		return o;
	json_object_object_add(o, "job", job_to_json(job));
	json_object_object_add(o, "message", methods_final_message(d, job));
	job_unref(job);
	return o;
}

static void methods_wait_done_cb(struct wait *wait, bool timed_out, void *userdata)
{
	struct methods_wait *mw = userdata;
	struct rpc_call *call = mw->call;
	struct daemon *d = call->daemon;
	json_object *o;

	call->abandon = NULL;
	if (timed_out) {
		json_object *data = json_object_new_object();

		json_object_object_add(data, "jobs", methods_jobs_json(d, mw->ids, mw->count));
		rpc_failure_data(call, WIRE_TIMEOUT, data,
				 "timeout: not every job closed in time (see data.jobs)");
	} else if (mw->kind == WAIT_FOR_SUBMIT) {
		rpc_success(call, methods_job_with_message(d, mw->ids[0]));
	} else if (mw->kind == WAIT_FOR_CANCEL) {
		o = json_object_new_object();
		json_object_object_add(o, "job", methods_job_json(d, mw->ids[0]));
		rpc_success(call, o);
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "jobs", methods_jobs_json(d, mw->ids, mw->count));
		rpc_success(call, o);
	}
	methods_wait_free(mw, d);
}

static void methods_wait_abandon(struct rpc_call *call)
{
	struct methods_wait *mw = call->pending;
	struct daemon *d = call->daemon;

	wait_cancel(mw->wait);
	methods_wait_free(mw, d);
	rpc_failure(call, WIRE_INTERNAL_ERROR, "the client went away");
}

/* The process group of the peer, or -1. */
static pid_t methods_peer_pgid(struct connection *conn)
{
	pid_t pid = connection_peer_pid(conn);

	return pid > 0 ? getpgid(pid) : -1;
}

/*
 * When the caller is a running task waiting for jobs of its own tree, the
 * running ancestor whose process group the caller is in (caller frees).
 */
static char *methods_waiting_ancestor(struct daemon *d, struct connection *conn, char **ids,
				      size_t count)
{
	pid_t pgid = methods_peer_pgid(conn);

	if (pgid <= 0 || pgid == getpgid(0))
		return NULL;
	for (size_t i = 0; i < count; i++) {
		struct job *job;
		char *node;

		if (state_get_job(d->state, ids[i], &job) < 0)
			continue;
		node = job->parent_node_id ? strdup(job->parent_node_id) : NULL;
		job_unref(job);
		for (int depth = 0; node && depth < METHODS_TREE_MAX_DEPTH; depth++) {
			struct job *anc;

			if (state_find_by_node(d->state, node, &anc) < 0)
				break;
			free(node);
			node = NULL;
			if (anc->status == JOB_OPENED && anc->phase == JOB_RUNNING &&
			    anc->pid == pgid) {
				char *id = strdup(anc->request_id);

				job_unref(anc);
				return id;
			}
			if (anc->parent_node_id &&
			    strcmp(anc->parent_node_id, anc->child_node_id) != 0)
				node = strdup(anc->parent_node_id);
			job_unref(anc);
		}
		free(node);
	}
	return NULL;
}

/* Leaves call pending until every job in ids (taken) has closed. */
static struct rpc_result *methods_wait_for(struct rpc_call *call, enum methods_wait_kind kind,
					   char **ids, size_t count, uint64_t timeout_ms)
{
	struct daemon *d = call->daemon;
	struct methods_wait *mw = calloc(1, sizeof(*mw));
	int r;

	if (!mw) {
		for (size_t i = 0; i < count; i++)
			free(ids[i]);
		free(ids);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	mw->call = call;
	mw->kind = kind;
	mw->ids = ids;
	mw->count = count;
	if (kind != WAIT_FOR_CANCEL) {
		mw->lender = methods_waiting_ancestor(d, call->conn, ids, count);
		if (mw->lender && coordinator_lend_slot(d->coordinator, mw->lender) < 0) {
			free(mw->lender);
			mw->lender = NULL;
		}
	}
	call->pending = mw;
	call->abandon = methods_wait_abandon;
	r = waiter_add(d->waiter, (const char *const *)ids, count, timeout_ms, methods_wait_done_cb,
		       mw, &mw->wait);
	if (r < 0) {
		call->abandon = NULL;
		methods_wait_free(mw, d);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot wait: %s", strerror(-r));
	}
	return rpc_pending(call);
}

static char **methods_one_id(const char *id)
{
	char **ids = calloc(1, sizeof(char *));

	if (ids && !(ids[0] = strdup(id))) {
		free(ids);
		return NULL;
	}
	return ids;
}

static int methods_submit_code(int r)
{
	switch (r) {
	case -ENOPROTOOPT:
		return WIRE_UNKNOWN_MODE;
	case -EEXIST:
		return WIRE_CONFLICT;
	case -EBUSY:
	case -ENOSPC:
		return WIRE_BUSY;
	case -ESHUTDOWN:
		return WIRE_SHUTTING_DOWN;
	default:
		return WIRE_INTERNAL_ERROR;
	}
}

/* A submit refused before it parsed: still published, with the ids we can see. */
static struct rpc_result *methods_submit_invalid(struct rpc_call *call, json_object *params,
						 const char *reason)
{
	json_object *node = NULL;
	struct message_ids ids = {
		.request_id = json_get_string(params, "request_id"),
		.parent_node_id = json_get_string(params, "parent_node_id"),
		.mode = json_get_string(params, "mode"),
	};

	if (json_object_object_get_ex(params, "node", &node))
		ids.child_node_id = json_get_string(node, "id");
	coordinator_publish_refusal(call->daemon->coordinator, &ids, reason);
	return rpc_failure(call, WIRE_INVALID_PARAMS, "Invalid params: %s", reason);
}

struct rpc_result *methods_submit(struct rpc_call *call, json_object *params)
{
	struct daemon *d = call->daemon;
	struct rpc_result *answered;
	char *error = NULL, **ids;
	struct task *task;
	struct job *job;
	bool wait;
	int r;

	r = task_from_json(params, &d->config.task_limits, &task, &error);
	if (r < 0) {
		answered = methods_submit_invalid(call, params, error ? error : strerror(-r));
		free(error);
		return answered;
	}
	task->owner_uid = connection_peer_uid(call->conn);
	wait = task->wait;
	r = coordinator_submit(d->coordinator, task, &job, &error);
	if (r < 0) {
		answered = rpc_failure(call, methods_submit_code(r), "%s",
				       error ? error : strerror(-r));
		free(error);
		return answered;
	}
	if (!wait) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "job", job_to_json(job));
		return rpc_success(call, o);
	}
	ids = methods_one_id(job->request_id);
	if (!ids)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	return methods_wait_for(call, WAIT_FOR_SUBMIT, ids, 1, 0);
}

static struct rpc_result *methods_not_found(struct rpc_call *call, const char *request_id)
{
	return rpc_failure(call, WIRE_NOT_FOUND, "not found: no job has request_id \"%.128s\"",
			   request_id);
}

struct rpc_result *methods_job(struct rpc_call *call, json_object *params)
{
	struct rpc_result *err;
	const char *id;
	struct job *job;

	if ((err = params_string(call, params, "request_id", true, &id)))
		return err;
	if (state_get_job(call->daemon->state, id, &job) < 0)
		return methods_not_found(call, id);
	job_unref(job);
	return rpc_success(call, methods_job_with_message(call->daemon, id));
}

static struct rpc_result *methods_status_filter(struct rpc_call *call, json_object *params,
						struct job_filter *f)
{
	struct rpc_result *err;
	const char *status, *result;

	if ((err = params_string(call, params, "status", false, &status)) ||
	    (err = params_string(call, params, "result", false, &result)) ||
	    (err = params_string(call, params, "mode", false, &f->mode)) ||
	    (err = params_string(call, params, "run_id", false, &f->run_id)) ||
	    (err = params_string(call, params, "parent_node_id", false, &f->parent_node_id)))
		return err;
	if (status && job_status_from_name(status, &f->status) < 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: status must be \"opened\" or \"closed\"");
	f->has_status = status != NULL;
	if (result && job_result_from_name(result, &f->result) < 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: result must be \"success\" or \"failure\"");
	f->has_result = result != NULL;
	return NULL;
}

static struct rpc_result *methods_status_cursor(struct rpc_call *call, json_object *params,
						int64_t *ret)
{
	struct rpc_result *err;
	const char *cursor;
	char *end;

	*ret = 0;
	if ((err = params_string(call, params, "cursor", false, &cursor)))
		return err;
	if (!cursor)
		return NULL;
	*ret = strtoll(cursor, &end, 10);
	if (!*cursor || *end || *ret <= 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: cursor must be the \"next\" of an earlier "
				   "status answer");
	return NULL;
}

static json_object *methods_counts_json(const struct job_counts *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "opened", json_object_new_int64((int64_t)c->opened));
	json_object_object_add(o, "closed", json_object_new_int64((int64_t)c->closed));
	json_object_object_add(o, "success", json_object_new_int64((int64_t)c->success));
	json_object_object_add(o, "failure", json_object_new_int64((int64_t)c->failure));
	return o;
}

struct rpc_result *methods_status(struct rpc_call *call, json_object *params)
{
	struct daemon *d = call->daemon;
	uint64_t limit = METHODS_STATUS_DEFAULT_LIMIT;
	struct job_filter filter = {0};
	struct job_counts counts;
	struct rpc_result *err;
	struct job **jobs;
	int64_t cursor, next;
	json_object *o, *list;
	char next_text[32];
	size_t count;
	int r;

	if ((err = methods_status_filter(call, params, &filter)) ||
	    (err = params_u64(call, params, "limit", METHODS_STATUS_MAX_LIMIT, &limit, NULL)) ||
	    (err = methods_status_cursor(call, params, &cursor)))
		return err;
	if (limit == 0)
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: limit must be a whole number from 1 to %d",
				   METHODS_STATUS_MAX_LIMIT);
	r = state_counts(d->state, &filter, &counts);
	if (r == 0)
		r = state_query(d->state, &filter, cursor, limit, &jobs, &count, &next);
	if (r < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot read the history: %s",
				   history_last_error(d->history));
	list = json_object_new_array_ext((int)count);
	for (size_t i = 0; i < count; i++) {
		json_object_array_add(list, job_to_json(jobs[i]));
		job_unref(jobs[i]);
	}
	free(jobs);
	o = json_object_new_object();
	json_object_object_add(o, "counts", methods_counts_json(&counts));
	json_object_object_add(o, "jobs", list);
	snprintf(next_text, sizeof(next_text), "%lld", (long long)next);
	json_object_object_add(o, "next", next ? json_object_new_string(next_text) : NULL);
	return rpc_success(call, o);
}

/* Copies the ids of a request_ids array; fails the call for an unknown one. */
static struct rpc_result *methods_wait_ids(struct rpc_call *call, json_object *array, char ***ret,
					   size_t *ret_count)
{
	size_t n = json_object_array_length(array);
	char **ids = calloc(n ? n : 1, sizeof(char *));

	if (!ids)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(array, i));
		struct job *job;

		if (state_get_job(call->daemon->state, id, &job) < 0) {
			for (size_t j = 0; j < i; j++)
				free(ids[j]);
			free(ids);
			return methods_not_found(call, id);
		}
		job_unref(job);
		ids[i] = strdup(id);
	}
	*ret = ids;
	*ret_count = n;
	return NULL;
}

struct rpc_result *methods_wait(struct rpc_call *call, json_object *params)
{
	uint64_t timeout_ms = 0;
	struct rpc_result *err;
	json_object *array;
	size_t count = 0;
	char **ids = NULL;

	if ((err = params_string_array(call, params, "request_ids", true, &array)) ||
	    (err = params_u64(call, params, "timeout_ms", UINT64_C(1) << 40, &timeout_ms, NULL)) ||
	    (err = methods_wait_ids(call, array, &ids, &count)))
		return err;
	return methods_wait_for(call, WAIT_FOR_JOBS, ids, count, timeout_ms);
}

struct rpc_result *methods_cancel(struct rpc_call *call, json_object *params)
{
	struct daemon *d = call->daemon;
	uid_t uid = connection_peer_uid(call->conn), owner;
	struct rpc_result *err;
	bool cascade = true, was_open;
	struct job *job;
	const char *id;
	char **ids;
	int r;

	if ((err = params_string(call, params, "request_id", true, &id)) ||
	    (err = params_bool(call, params, "cascade", &cascade)))
		return err;
	if (state_get_job(d->state, id, &job) < 0)
		return methods_not_found(call, id);
	was_open = job->status == JOB_OPENED;
	owner = job->owner_uid;
	/* A closed job read back from the history is freed here: use owner after this. */
	job_unref(job);
	if (uid != 0 && uid != owner)
		return rpc_failure(call, WIRE_PERMISSION_DENIED,
				   "permission denied: job \"%.128s\" belongs to uid %u; only its "
				   "owner or root may cancel it",
				   id, (unsigned)owner);
	r = coordinator_cancel(d->coordinator, id, cascade);
	if (r < 0 && r != -EALREADY)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot cancel: %s", strerror(-r));
	if (!was_open)
		return rpc_failure(
			call, WIRE_CONFLICT, "conflict: job \"%.128s\" is already closed%s", id,
			cascade ? " (its opened descendants, if any, were cancelled)" : "");
	ids = methods_one_id(id);
	if (!ids)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	return methods_wait_for(call, WAIT_FOR_CANCEL, ids, 1, 0);
}
