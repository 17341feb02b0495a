/*
 * The methods about jobs: submit, job, status, wait, cancel. A pending
 * call's state (struct methods_wait, with the distinct ids it waits for)
 * is owned by the call until the wait answers it or the client goes away.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/linkhash.h>

#include "connection.h"
#include "coordinator.h"
#include "history.h"
#include "jsonout.h"
#include "jsonutil.h"
#include "log.h"
#include "message.h"
#include "methods.h"
#include "params.h"
#include "services.h"
#include "state.h"
#include "task.h"
#include "waiter.h"
#include "wire_errors.h"

#define METHODS_STATUS_DEFAULT_LIMIT 100
#define METHODS_STATUS_MAX_LIMIT     10000

enum methods_wait_kind {
	WAIT_FOR_SUBMIT,	/* answer {job, message} */
	WAIT_FOR_JOBS,		/* answer {jobs} */
	WAIT_FOR_CANCEL,	/* answer {job}: the first id, which the cancel names */
	WAIT_FOR_CANCEL_CLOSED, /* answer 1002: the job named was closed already */
};

/* The ids a call names: each distinct one once, and the order they were asked in. */
struct methods_ids {
	char **ids; /* distinct, owned */
	size_t count;
	uint32_t *order; /* for each id asked, its index in ids; NULL: ids is the order */
	size_t asked;
};

/* A call that waits for jobs to close. */
struct methods_wait {
	struct rpc_call *call;
	struct waiter_wait *wait;
	enum methods_wait_kind kind;
	struct methods_ids ids;
	char *lender; /* the running job whose slot is lent while it waits, or NULL */
};

static void methods_ids_clear(struct methods_ids *ids)
{
	for (size_t i = 0; i < ids->count; i++)
		free(ids->ids[i]);
	free(ids->ids);
	free(ids->order);
	*ids = (struct methods_ids){0};
}

static void methods_wait_free(struct methods_wait *mw, struct services *d)
{
	if (mw->lender) {
		coordinator_return_slot(d->coordinator, mw->lender);
		free(mw->lender);
	}
	methods_ids_clear(&mw->ids);
	free(mw);
}

uid_t methods_viewer(struct rpc_call *call)
{
	return call->conn ? connection_peer_uid(call->conn) : JOB_VIEWER_NONE;
}

static json_object *methods_job_json(struct rpc_call *call, const char *request_id)
{
	struct job *job;
	json_object *o;

	if (state_get_job(services_of(call)->state, request_id, &job) < 0)
		return NULL;
	o = methods_job_object(services_of(call), job, methods_viewer(call));
	job_unref(job);
	return o;
}

/*
 * The jobs in the order asked; a job asked for several times is built once.
 * NULL when their text, each copy counted, would pass max_wait_answer_bytes
 * (*ret_bytes: how much; one line listing one large job 10000 times must
 * not make an answer of gigabytes), or when memory ran out (*ret_bytes
 * within the bound). *ret_gone: the first id whose job is no longer kept
 * (retention pruned it after it closed; its element is null), or NULL.
 */
static json_object *methods_jobs_json(struct rpc_call *call, const struct methods_ids *ids,
				      size_t *ret_bytes, const char **ret_gone)
{
	json_object **distinct = calloc(ids->count ? ids->count : 1, sizeof(*distinct));
	size_t *lens = calloc(ids->count ? ids->count : 1, sizeof(*lens)), bytes = 0;
	json_object *jobs = NULL;

	*ret_gone = NULL;
	if (distinct && lens) {
		for (size_t i = 0; i < ids->count; i++) {
			distinct[i] = methods_job_json(call, ids->ids[i]);
			lens[i] = json_raw_len(distinct[i]) + 1;
			if (!distinct[i] && !*ret_gone)
				*ret_gone = ids->ids[i];
		}
		for (size_t i = 0; i < ids->asked; i++)
			bytes += lens[ids->order ? ids->order[i] : i];
		if (bytes <= services_of(call)->config.max_wait_answer_bytes)
			jobs = json_object_new_array_ext((int)ids->asked);
		for (size_t i = 0; jobs && i < ids->asked; i++)
			json_object_array_add(
				jobs, json_object_get(distinct[ids->order ? ids->order[i] : i]));
	}
	for (size_t i = 0; distinct && i < ids->count; i++)
		json_object_put(distinct[i]);
	free(distinct);
	free(lens);
	*ret_bytes = bytes;
	return jobs;
}

static json_object *methods_final_message(struct services *d, const struct job *job)
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

static json_object *methods_job_with_message(struct rpc_call *call, const char *request_id)
{
	json_object *o = json_object_new_object();
	struct job *job;

	if (state_get_job(services_of(call)->state, request_id, &job) < 0)
		return o;
	json_object_object_add(o, "job",
			       methods_job_object(services_of(call), job, methods_viewer(call)));
	json_object_object_add(o, "message", methods_final_message(services_of(call), job));
	job_unref(job);
	return o;
}

static struct rpc_result *methods_already_closed(struct rpc_call *call, const char *request_id,
						 bool cascade)
{
	return rpc_failure(call, WIRE_CONFLICT, "conflict: job \"%.128s\" is already closed%s",
			   request_id,
			   cascade ? " (its opened descendants, if any, were cancelled)" : "");
}

/* 1001 for a job that closed and was pruned by retention before the wait could answer. */
static struct rpc_result *methods_gone(struct rpc_call *call, const char *request_id)
{
	return rpc_failure(call, WIRE_NOT_FOUND,
			   "not found: job \"%.128s\" closed and was removed by retention before "
			   "the answer (retention_max_jobs, retention_max_age_sec; a new job may "
			   "have its request_id now); read the others with job or status",
			   request_id);
}

/*
 * A wait's answer: {"jobs"}, or 1007 with them in data.jobs (null for a
 * job retention removed meanwhile); past the bound 1005, or no data; 1001
 * when a job listed is gone by the time all have closed.
 */
static void methods_wait_answer(struct rpc_call *call, const struct methods_ids *ids,
				bool timed_out)
{
	size_t bytes, max = services_of(call)->config.max_wait_answer_bytes;
	const char *gone;
	json_object *jobs = methods_jobs_json(call, ids, &bytes, &gone), *o;

	/* All closed: one opened now is a new job that took the request_id of one gone. */
	for (size_t i = 0; !timed_out && !gone && i < ids->count; i++)
		if (state_is_open(services_of(call)->state, ids->ids[i]))
			gone = ids->ids[i];
	if (gone && !timed_out) {
		json_object_put(jobs);
		methods_gone(call, gone);
	} else if (!jobs && bytes <= max) {
		rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	} else if (!jobs && timed_out) {
		rpc_failure(call, WIRE_TIMEOUT,
			    "timeout: not every job closed in time (data.jobs left out: the %zu "
			    "jobs listed would take %zu bytes, more than max_wait_answer_bytes "
			    "(%zu))",
			    ids->asked, bytes, max);
	} else if (!jobs) {
		rpc_failure(call, WIRE_BUSY,
			    "busy: the %zu jobs listed (each copy counted) would make an answer "
			    "of %zu bytes, more than max_wait_answer_bytes (%zu); wait for fewer "
			    "at a time, or list each id once",
			    ids->asked, bytes, max);
	} else if (timed_out) {
		o = json_object_new_object();
		json_object_object_add(o, "jobs", jobs);
		rpc_failure_data(call, WIRE_TIMEOUT, o,
				 "timeout: not every job closed in time (see data.jobs)");
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "jobs", jobs);
		rpc_success(call, o);
	}
}

static void methods_wait_done_cb(struct waiter_wait *wait, enum waiter_end end, void *userdata)
{
	struct methods_wait *mw = userdata;
	struct rpc_call *call = mw->call;
	struct services *d = services_of(call);
	json_object *o;

	call->abandon = NULL;
	if (end == WAITER_STOPPED) {
		rpc_failure(call, WIRE_SHUTTING_DOWN,
			    "shutting down: the daemon stopped before every job closed; those "
			    "that never started stay queued and run after its next start (wait "
			    "for them again then)");
	} else if (end == WAITER_TIMED_OUT || mw->kind == WAIT_FOR_JOBS) {
		methods_wait_answer(call, &mw->ids, end == WAITER_TIMED_OUT);
	} else if (mw->kind == WAIT_FOR_SUBMIT) {
		rpc_success(call, methods_job_with_message(call, mw->ids.ids[0]));
	} else if (mw->kind == WAIT_FOR_CANCEL) {
		json_object *job = methods_job_json(call, mw->ids.ids[0]);

		if (!job) {
			methods_gone(call, mw->ids.ids[0]);
		} else {
			o = json_object_new_object();
			json_object_object_add(o, "job", job);
			rpc_success(call, o);
		}
	} else if (mw->kind == WAIT_FOR_CANCEL_CLOSED) {
		methods_already_closed(call, mw->ids.ids[0], true);
	}
	methods_wait_free(mw, d);
}

static void methods_wait_abandon(struct rpc_call *call)
{
	struct methods_wait *mw = call->pending;
	struct services *d = services_of(call);

	waiter_cancel(mw->wait);
	methods_wait_free(mw, d);
	rpc_failure(call, WIRE_INTERNAL_ERROR, "the client went away");
}

/* The process group of the caller, or -1: a task's own, when the caller runs in one. */
static pid_t methods_peer_pgid(struct rpc_call *call)
{
	pid_t pid = connection_peer_pid(call->conn);

	return pid > 0 ? getpgid(pid) : -1;
}

/*
 * When the caller is a running task waiting for jobs of its own tree (its
 * process group is that of a running ancestor of one of them), the
 * ancestor's request_id (caller frees), else NULL.
 */
static char *methods_waiting_ancestor(struct services *d, pid_t pgid, const struct methods_ids *ids)
{
	char *lender = NULL;

	if (pgid > 0 &&
	    coordinator_find_lender(d->coordinator, pgid, ids->ids, ids->count, &lender) < 0)
		log_warning("cannot look for the task waiting on its children: out of memory");
	return lender;
}

/*
 * A task waiting for its own job, or for one that starts only once its
 * own job has closed, would wait for ever (or until its timeout): 1002,
 * and ids cleared. NULL when the wait may go on.
 */
static struct rpc_result *methods_wait_deadlock(struct rpc_call *call, pid_t pgid,
						struct methods_ids *ids)
{
	const char *id;
	char *task;
	struct rpc_result *err;
	int r = coordinator_wait_deadlock(services_of(call)->coordinator, pgid, ids->ids,
					  ids->count, &id, &task);

	if (r == 0)
		return NULL;
	if (r < 0)
		err = rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	else if (strcmp(id, task) == 0)
		err = rpc_failure(call, WIRE_CONFLICT,
				  "conflict: \"%.128s\" is the job of the task that waits: it "
				  "cannot close while it waits for itself",
				  task);
	else
		err = rpc_failure(
			call, WIRE_CONFLICT,
			"conflict: waiting for \"%.128s\" would never end: it starts "
			"only once \"%.128s\", the job of the task that waits, has closed "
			"(its after)",
			id, task);
	free(task);
	methods_ids_clear(ids);
	return err;
}

/* Leaves call pending until every job in ids (taken) has closed. */
static struct rpc_result *methods_wait_for(struct rpc_call *call, enum methods_wait_kind kind,
					   struct methods_ids *ids, uint64_t timeout_ms)
{
	struct services *d = services_of(call);
	struct rpc_result *err;
	struct methods_wait *mw;
	pid_t pgid;
	int r;

	/*
	 * Nobody hears a notification's answer: what it did stays done (a job
	 * submitted, a cascade walked), but waiting on its behalf would only
	 * hold a call slot of the connection, a lent slot, and the answers of
	 * its batch, for nothing.
	 */
	if (call->notification) {
		methods_ids_clear(ids);
		return rpc_success(call, NULL);
	}
	/* A submit's wait was checked before its job was made (coordinator_submit). */
	pgid = kind != WAIT_FOR_CANCEL ? methods_peer_pgid(call) : -1;
	if (kind == WAIT_FOR_JOBS && (err = methods_wait_deadlock(call, pgid, ids)))
		return err;
	mw = calloc(1, sizeof(*mw));
	if (!mw) {
		methods_ids_clear(ids);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	mw->call = call;
	mw->kind = kind;
	mw->ids = *ids;
	if (kind != WAIT_FOR_CANCEL) {
		mw->lender = methods_waiting_ancestor(d, pgid, &mw->ids);
		if (mw->lender && coordinator_lend_slot(d->coordinator, mw->lender) < 0) {
			free(mw->lender);
			mw->lender = NULL;
		}
	}
	call->pending = mw;
	call->abandon = methods_wait_abandon;
	r = waiter_add(d->waiter, (const char *const *)mw->ids.ids, mw->ids.count, timeout_ms,
		       methods_wait_done_cb, mw, &mw->wait);
	if (r < 0) {
		call->abandon = NULL;
		methods_wait_free(mw, d);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot wait: %s", strerror(-r));
	}
	return rpc_pending(call);
}

/* ids holding the one id given. 0 or -ENOMEM. */
static int methods_one_id(const char *id, struct methods_ids *ids)
{
	*ids = (struct methods_ids){.count = 1, .asked = 1};
	ids->ids = calloc(1, sizeof(char *));
	if (!ids->ids || !(ids->ids[0] = strdup(id))) {
		methods_ids_clear(ids);
		return -ENOMEM;
	}
	return 0;
}

static int methods_submit_code(int r)
{
	switch (r) {
	case -ENOPROTOOPT:
		return WIRE_UNKNOWN_MODE;
	case -ENOENT:
		return WIRE_NOT_FOUND; /* after names no job */
	case -EPERM:
		return WIRE_PERMISSION_DENIED; /* after names another user's job */
	case -EEXIST:
	case -EDEADLK: /* a wait that could never end */
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
	coordinator_publish_refusal(services_of(call)->coordinator, &ids, reason);
	return rpc_failure(call, WIRE_INVALID_PARAMS, "Invalid params: %s", reason);
}

/* {"job": Job} for a submit without wait, written as text (no json-c tree). */
static struct rpc_result *methods_submit_answer(struct rpc_call *call, const struct job *job)
{
	struct rpc_result *answered;
	struct jsonout out;

	jsonout_init(&out);
	jsonout_lit(&out, "{\"job\":");
	methods_job_write(services_of(call), job, methods_viewer(call), &out);
	jsonout_lit(&out, "}");
	answered = rpc_success_text(call, &out);
	jsonout_free(&out);
	return answered;
}

struct rpc_result *methods_submit_as(struct rpc_call *call, json_object *params, uid_t owner,
				     const char *rerun_of)
{
	struct services *d = services_of(call);
	struct rpc_result *answered;
	struct methods_ids ids;
	char *error = NULL;
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
	task->owner_uid = owner;
	if (rerun_of && !(task->rerun_of = strdup(rerun_of))) {
		task_free(task);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	wait = task->wait;
	/* Only a wait for a job with after can be one without end. */
	if (wait && task->after_count > 0)
		task->waiter_pgid = methods_peer_pgid(call);
	r = coordinator_submit(d->coordinator, task, &job, &error);
	if (r < 0) {
		answered = rpc_failure(call, methods_submit_code(r), "%s",
				       error ? error : strerror(-r));
		free(error);
		return answered;
	}
	if (!wait)
		return methods_submit_answer(call, job);
	if (methods_one_id(job->request_id, &ids) < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	return methods_wait_for(call, WAIT_FOR_SUBMIT, &ids, 0);
}

struct rpc_result *methods_submit(struct rpc_call *call, json_object *params)
{
	return methods_submit_as(call, params, connection_peer_uid(call->conn), NULL);
}

struct methods_job_params {
	const char *request_id;
};

const struct jsonspec methods_job_spec[] = {
	JSONSPEC_STRING(struct methods_job_params, request_id, JSONSPEC_REQUIRED),
	{0},
};

struct rpc_result *methods_job(struct rpc_call *call, json_object *params)
{
	struct methods_job_params p;
	struct rpc_result *err;
	struct job *job;

	if ((err = params_parse(call, params, methods_job_spec, &p)))
		return err;
	if (state_get_job(services_of(call)->state, p.request_id, &job) < 0)
		return methods_not_found(call, p.request_id);
	job_unref(job);
	return rpc_success(call, methods_job_with_message(call, p.request_id));
}

struct methods_status_params {
	const char *status, *result, *mode, *run_id, *parent_node_id, *cursor;
	const char *name, *request_id_prefix;
	double since, until; /* start_time, both inclusive */
	bool has_since, has_until;
	uint64_t limit;
};

const struct jsonspec methods_status_spec[] = {
	JSONSPEC_STRING(struct methods_status_params, status, 0),
	JSONSPEC_STRING(struct methods_status_params, result, 0),
	JSONSPEC_STRING(struct methods_status_params, mode, 0),
	JSONSPEC_STRING(struct methods_status_params, run_id, 0),
	JSONSPEC_STRING(struct methods_status_params, parent_node_id, 0),
	JSONSPEC_UINT(struct methods_status_params, limit, 0, 1, METHODS_STATUS_MAX_LIMIT,
		      METHODS_STATUS_DEFAULT_LIMIT),
	JSONSPEC_STRING(struct methods_status_params, cursor, 0),
	JSONSPEC_STRING(struct methods_status_params, name, 0),
	JSONSPEC_STRING(struct methods_status_params, request_id_prefix, 0),
	JSONSPEC_NUMBER(struct methods_status_params, since, 0, -1e300, 1e300, 0,
			JSONSPEC_SEEN(struct methods_status_params, has_since)),
	JSONSPEC_NUMBER(struct methods_status_params, until, 0, -1e300, 1e300, 0,
			JSONSPEC_SEEN(struct methods_status_params, has_until)),
	{0},
};

static struct rpc_result *methods_status_filter(struct rpc_call *call,
						const struct methods_status_params *p,
						struct job_filter *f)
{
	const char *status = p->status, *result = p->result;

	f->mode = p->mode;
	f->run_id = p->run_id;
	f->parent_node_id = p->parent_node_id;
	f->name = p->name;
	f->request_id_prefix = p->request_id_prefix;
	f->has_since = p->has_since;
	f->since = p->since;
	f->has_until = p->has_until;
	f->until = p->until;
	/* A prefix holds request_id characters only: the range it becomes relies on that. */
	if (f->request_id_prefix && !task_request_id_valid(f->request_id_prefix))
		return rpc_failure(call, WIRE_INVALID_PARAMS,
				   "Invalid params: request_id_prefix must be 1-%d characters of "
				   "A-Z a-z 0-9 . _ : -",
				   TASK_REQUEST_ID_MAX);
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

/*
 * A cursor is the "next" of an earlier answer, a seq_no written plainly:
 * digits, no leading zero, within 64 bits. strtoll alone would also take
 * blanks, a sign, and (clamped) a number past 64 bits, which reads as no
 * cursor: the first page again.
 */
static struct rpc_result *methods_status_cursor(struct rpc_call *call, const char *cursor,
						int64_t *ret)
{
	size_t len = cursor ? strlen(cursor) : 0;

	*ret = 0;
	if (!cursor)
		return NULL;
	errno = 0;
	if (len > 0 && len < 20 && cursor[0] >= '1' && cursor[0] <= '9' &&
	    strspn(cursor, "0123456789") == len)
		*ret = strtoll(cursor, NULL, 10);
	if (*ret <= 0 || errno)
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
	struct services *d = services_of(call);
	struct methods_status_params p;
	struct job_filter filter = {0};
	struct job_counts counts;
	struct rpc_result *err;
	struct job **jobs;
	int64_t cursor, next;
	json_object *o, *list;
	char next_text[32];
	size_t count;
	int r;

	if ((err = params_parse(call, params, methods_status_spec, &p)) ||
	    (err = methods_status_filter(call, &p, &filter)) ||
	    (err = methods_status_cursor(call, p.cursor, &cursor)))
		return err;
	/* Long stored Tasks end a page early rather than fill memory (next goes on). */
	filter.max_task_bytes = d->config.max_status_task_bytes;
	r = state_counts(d->state, &filter, &counts);
	if (r == 0)
		r = state_query(d->state, &filter, cursor, p.limit, &jobs, &count, &next);
	if (r < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot read the history: %s",
				   history_strerror(d->history, r));
	list = json_object_new_array_ext((int)count);
	for (size_t i = 0; i < count; i++) {
		json_object_array_add(list, methods_job_object(d, jobs[i], methods_viewer(call)));
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

/* Adds id to ids unless it is there already (distinct: id -> its index). */
static int methods_ids_add(struct methods_ids *ids, struct lh_table *distinct, const char *id)
{
	void *v;

	if (lh_table_lookup_ex(distinct, id, &v)) {
		ids->order[ids->asked++] = (uint32_t)(uintptr_t)v;
		return 0;
	}
	if (!(ids->ids[ids->count] = strdup(id)))
		return -ENOMEM;
	if (lh_table_insert(distinct, ids->ids[ids->count], (void *)(uintptr_t)ids->count) < 0) {
		free(ids->ids[ids->count]);
		return -ENOMEM;
	}
	ids->order[ids->asked++] = (uint32_t)ids->count++;
	return 0;
}

/*
 * Fills ids from a request_ids array, each distinct id once and looked up
 * once: 0, -ENOENT with the unknown id in *ret_unknown (borrowed from
 * array), or -ENOMEM.
 */
static int methods_ids_collect(struct state *state, json_object *array, struct methods_ids *ids,
			       const char **ret_unknown)
{
	size_t n = json_object_array_length(array);
	struct lh_table *distinct = lh_kchar_table_new(64, NULL);
	int r = 0;

	ids->ids = calloc(n ? n : 1, sizeof(char *));
	ids->order = calloc(n ? n : 1, sizeof(uint32_t));
	if (!distinct || !ids->ids || !ids->order)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(array, i));
		size_t before = ids->count;
		struct job *job;

		r = methods_ids_add(ids, distinct, id);
		if (r < 0 || ids->count == before)
			continue;
		if (state_is_open(state, id))
			continue; /* known without reading a queued job's row */
		if (state_get_job(state, id, &job) < 0) {
			*ret_unknown = id;
			r = -ENOENT;
		} else {
			job_unref(job);
		}
	}
	if (distinct)
		lh_table_free(distinct);
	return r;
}

/* The ids of a request_ids array; fails the call past max_wait_ids or for an unknown id. */
static struct rpc_result *methods_wait_ids(struct rpc_call *call, json_object *array,
					   struct methods_ids *ret)
{
	size_t n = json_object_array_length(array), max = services_of(call)->config.max_wait_ids;
	struct methods_ids ids = {0};
	const char *unknown = NULL;
	int r;

	if (n > max)
		return rpc_failure(
			call, WIRE_INVALID_PARAMS,
			"Invalid params: request_ids holds %zu ids; a wait takes at most "
			"%zu (max_wait_ids)",
			n, max);
	r = methods_ids_collect(services_of(call)->state, array, &ids, &unknown);
	if (r < 0) {
		methods_ids_clear(&ids);
		return r == -ENOENT ? methods_not_found(call, unknown)
				    : rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	if (ids.count == ids.asked) {
		free(ids.order);
		ids.order = NULL;
	}
	*ret = ids;
	return NULL;
}

struct methods_wait_params {
	json_object *request_ids;
	uint64_t timeout_ms;
};

const struct jsonspec methods_wait_spec[] = {
	JSONSPEC_STRINGS(struct methods_wait_params, request_ids, JSONSPEC_REQUIRED, 0, 0),
	JSONSPEC_UINT(struct methods_wait_params, timeout_ms, 0, 0, UINT64_C(1) << 40, 0),
	{0},
};

struct rpc_result *methods_wait(struct rpc_call *call, json_object *params)
{
	struct methods_wait_params p;
	struct methods_ids ids = {0};
	struct rpc_result *err;

	if ((err = params_parse(call, params, methods_wait_spec, &p)) ||
	    (err = methods_wait_ids(call, p.request_ids, &ids)))
		return err;
	return methods_wait_for(call, WAIT_FOR_JOBS, &ids, p.timeout_ms);
}

/* A cancel whose walk is still under way. */
struct methods_cancel {
	struct rpc_call *call;
	struct coordinator_cancel *cancel;
	bool was_open; /* the job named was opened when the cancel came */
};

/* The walk is over: the call waits until every job it stopped has closed. */
static void methods_cancel_done_cb(int result, char **ids, size_t count, void *userdata)
{
	struct methods_cancel *mc = userdata;
	struct rpc_call *call = mc->call;
	struct methods_ids wait_ids = {.ids = ids, .count = count, .asked = count};
	enum methods_wait_kind kind = mc->was_open ? WAIT_FOR_CANCEL : WAIT_FOR_CANCEL_CLOSED;

	free(mc);
	call->abandon = NULL;
	call->pending = NULL;
	if (result < 0) {
		methods_ids_clear(&wait_ids);
		rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot cancel: %s", strerror(-result));
		return;
	}
	methods_wait_for(call, kind, &wait_ids, 0);
}

static void methods_cancel_abandon(struct rpc_call *call)
{
	struct methods_cancel *mc = call->pending;

	coordinator_cancel_forget(mc->cancel);
	free(mc);
	rpc_failure(call, WIRE_INTERNAL_ERROR, "the client went away");
}

struct methods_cancel_params {
	const char *request_id;
	bool cascade;
};

const struct jsonspec methods_cancel_spec[] = {
	JSONSPEC_STRING(struct methods_cancel_params, request_id, JSONSPEC_REQUIRED),
	JSONSPEC_BOOL(struct methods_cancel_params, cascade, 0, true),
	{0},
};

struct rpc_result *methods_cancel(struct rpc_call *call, json_object *params)
{
	struct services *d = services_of(call);
	uid_t uid = connection_peer_uid(call->conn);
	struct methods_cancel_params p;
	struct rpc_result *err;
	struct methods_cancel *mc;
	bool cascade, was_open;
	struct job *job;
	const char *id;
	int r;

	if ((err = params_parse(call, params, methods_cancel_spec, &p)))
		return err;
	id = p.request_id;
	cascade = p.cascade;
	if (state_get_job(d->state, id, &job) < 0)
		return methods_not_found(call, id);
	/* Its owner or root only: RPC_OWNER, checked in dispatch. */
	was_open = job->status == JOB_OPENED;
	job_unref(job);
	/* A notification: the cancel and its cascade go on, with no answer to wait for. */
	if (call->notification) {
		r = coordinator_cancel(d->coordinator, id, cascade, uid, NULL, NULL, NULL);
		return r < 0 && r != -EALREADY ? rpc_failure(call, WIRE_INTERNAL_ERROR,
							     "cannot cancel: %s", strerror(-r))
					       : rpc_success(call, NULL);
	}
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	mc->call = call;
	mc->was_open = was_open;
	r = coordinator_cancel(d->coordinator, id, cascade, uid, methods_cancel_done_cb, mc,
			       &mc->cancel);
	if (r < 0) {
		free(mc);
		return r == -EALREADY ? methods_already_closed(call, id, cascade)
				      : rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot cancel: %s",
						    strerror(-r));
	}
	/* It is answered once the walk is over and every job it stopped has closed. */
	call->pending = mc;
	call->abandon = methods_cancel_abandon;
	return rpc_pending(call);
}
