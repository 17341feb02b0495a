/*
 * The Coordinator. It owns its strategies (one per mode, in an array in
 * the order they were added, with a count of each mode's waiting jobs),
 * the jobs waiting on their after (deps, with their tasks) and the
 * cancels in progress (each with its walk's tables and the ids it
 * collects, until it hands those to its caller); it borrows the event
 * base, the state and the publisher. The search for a lender owns its
 * small table and frees it before it returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/linkhash.h>

#include "cause.h"
#include "coordinator.h"
#include "deps.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "privilege.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "task.h"

/* Jobs read per query while a cascade walks the children of one node. */
#define COORDINATOR_WALK_PAGE 16
/* How long after it is queued a job goes cold, and how often one still held is tried again. */
#define COORDINATOR_COOL_DELAY_MS 10
#define COORDINATOR_COOL_RETRY_MS 100
/* Ancestors looked at, at most, above one awaited job when looking for a lender. */
#define COORDINATOR_TREE_MAX_DEPTH 256

struct coordinator {
	struct event_base *base;
	struct state *state;
	struct publisher *publisher;
	struct strategy **modes;
	size_t *mode_waiting; /* per mode, its jobs in deps */
	size_t mode_count;
	struct deps *deps; /* the jobs waiting on their after */
	uint64_t subscription;
	TAILQ_HEAD(, coordinator_cancel) cancels; /* in progress, owned */
	unsigned cancel_slice_ms;
	size_t max_waiting_bytes; /* deps_bytes past which a task with after is refused; 0: none */
	struct event *cool_ev;	  /* makes queued jobs cold, a loop turn after they were queued */
	bool accepting;
	bool holding; /* draining: nothing more starts, the queue stays for the next start */
	bool shut_down;
	bool hooked; /* its commit hook is in the state's history */
};

static void coordinator_cancel_free(struct coordinator_cancel *c);
static void coordinator_cool_cb(evutil_socket_t fd, short what, void *arg);
static void coordinator_commit_cb(int result, void *userdata);
static void coordinator_deps_ready_cb(struct job *job, struct task *task, void *ctx);
static void coordinator_deps_failed_cb(struct job *job, struct task *task, const char *failed_id,
				       void *ctx);

struct coordinator *coordinator_new(struct event_base *base, struct state *state,
				    unsigned cancel_slice_ms)
{
	struct coordinator *coord = calloc(1, sizeof(*coord));

	if (!coord)
		return NULL;
	coord->base = base;
	coord->state = state;
	coord->cancel_slice_ms = cancel_slice_ms ? cancel_slice_ms : COORDINATOR_CANCEL_SLICE_MS;
	TAILQ_INIT(&coord->cancels);
	coord->accepting = true;
	coord->cool_ev = evtimer_new(base, coordinator_cool_cb, coord);
	coord->deps = deps_new(&(struct deps_ops){.ready = coordinator_deps_ready_cb,
						  .failed = coordinator_deps_failed_cb,
						  .ctx = coord});
	if (!coord->deps || !coord->cool_ev ||
	    state_add_commit_hook(state, coordinator_commit_cb, coord) < 0) {
		coordinator_free(coord);
		return NULL;
	}
	coord->hooked = true;
	return coord;
}

void coordinator_free(struct coordinator *coord)
{
	if (!coord)
		return;
	while (!TAILQ_EMPTY(&coord->cancels))
		coordinator_cancel_free(TAILQ_FIRST(&coord->cancels));
	if (coord->hooked)
		state_remove_commit_hook(coord->state, coordinator_commit_cb, coord);
	if (coord->publisher && coord->subscription)
		publisher_unsubscribe(coord->publisher, coord->subscription);
	/* Waiting jobs stay waiting in the history: the next start takes them up. */
	deps_free(coord->deps);
	if (coord->cool_ev)
		event_free(coord->cool_ev);
	for (size_t i = 0; i < coord->mode_count; i++)
		strategy_free(coord->modes[i]);
	free(coord->modes);
	free(coord->mode_waiting);
	free(coord);
}

/* The index of mode in coord->modes, or -1. */
static ssize_t coordinator_mode_index(struct coordinator *coord, const char *mode)
{
	for (size_t i = 0; i < coord->mode_count; i++)
		if (strcmp(coord->modes[i]->mode, mode) == 0)
			return (ssize_t)i;
	return -1;
}

static struct strategy *coordinator_mode(struct coordinator *coord, const char *mode)
{
	ssize_t i = coordinator_mode_index(coord, mode);

	return i < 0 ? NULL : coord->modes[i];
}

/* One more (delta 1) or one less (-1) job of mode waits in deps. */
static void coordinator_count_waiting(struct coordinator *coord, const char *mode, int delta)
{
	ssize_t i = coordinator_mode_index(coord, mode);

	if (i >= 0)
		coord->mode_waiting[i] += (size_t)(ssize_t)delta;
}

bool coordinator_has_mode(struct coordinator *coord, const char *mode)
{
	return coordinator_mode(coord, mode) != NULL;
}

/* A task is about to start: that is stored, committed, before it runs (never twice). */
static int coordinator_task_starting_cb(void *ctx, const char *request_id)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);
	int r;

	if (!job)
		return -ENOENT;
	r = state_set_running(coord->state, job, 0, 0);
	if (r == 0)
		r = state_commit(coord->state);
	return r;
}

/*
 * The same, in the loop turn's transaction: every task that starts in a
 * turn is stored by that turn's one commit, and runs only once it is
 * committed (coordinator_commit_cb tells its strategy).
 */
static int coordinator_task_starting_turn_cb(void *ctx, const char *request_id)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);

	if (!job)
		return -ENOENT;
	return state_set_starting(coord->state, job);
}

/* The history committed the turn's transaction, or lost it: the strategies take note. */
static void coordinator_commit_cb(int result, void *userdata)
{
	struct coordinator *coord = userdata;

	for (size_t i = 0; i < coord->mode_count; i++)
		if (coord->modes[i]->ops->turn_stored)
			coord->modes[i]->ops->turn_stored(coord->modes[i], result);
}

/* A queued task, whole again, from its opened job and the Task stored with it. */
static int coordinator_task_load_cb(void *ctx, const char *request_id, struct task **ret)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);

	if (!job || job->phase != JOB_QUEUED)
		return -ENOENT;
	return task_from_stored(job->task, job, ret);
}

static void coordinator_task_started_cb(void *ctx, const char *request_id, pid_t pid,
					uint64_t starttime)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);

	if (job && state_set_running(coord->state, job, pid, starttime) < 0)
		log_warning("cannot record that %s runs as pid %d", request_id, (int)pid);
}

static void coordinator_task_ref_cb(void *ctx, const char *request_id, const char *ref)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);

	if (job && state_set_ref(coord->state, job, ref) < 0)
		log_warning("cannot store how to find %s again (%s): a restart loses it",
			    request_id, ref);
}

int coordinator_add_mode(struct coordinator *coord, struct strategy *strategy)
{
	struct strategy **modes;
	size_t *waiting;

	if (coordinator_mode(coord, strategy->mode))
		return -EEXIST;
	waiting = realloc(coord->mode_waiting, (coord->mode_count + 1) * sizeof(*waiting));
	if (!waiting)
		return -ENOMEM;
	coord->mode_waiting = waiting;
	waiting[coord->mode_count] = 0;
	modes = realloc(coord->modes, (coord->mode_count + 1) * sizeof(*modes));
	if (!modes)
		return -ENOMEM;
	strategy->hooks.task_starting = coordinator_task_starting_cb;
	strategy->hooks.task_starting_turn = coordinator_task_starting_turn_cb;
	strategy->hooks.task_load = coordinator_task_load_cb;
	strategy->hooks.task_started = coordinator_task_started_cb;
	strategy->hooks.task_ref = coordinator_task_ref_cb;
	strategy->hooks.ctx = coord;
	modes[coord->mode_count++] = strategy;
	coord->modes = modes;
	return 0;
}

int coordinator_start(struct coordinator *coord, struct publisher *publisher)
{
	if (!coordinator_mode(coord, "async"))
		return -EINVAL;
	coord->publisher = publisher;
	return publisher_subscribe_early(publisher, coordinator_handle_item, coord, "coordinator",
					 &coord->subscription);
}

/* The job's exit code and error, as the closing message tells them. */
static void coordinator_message_outcome(const struct message *msg, int *exit_code)
{
	json_object *v;

	*exit_code = -1;
	if (msg->result && json_object_object_get_ex(msg->result, "exit_code", &v) && v)
		*exit_code = json_object_get_int(v);
}

void coordinator_handle_item(struct message *msg, void *userdata)
{
	struct coordinator *coord = userdata;
	int exit_code, r;

	if (!message_closes_job(msg) || !msg->request_id)
		return;
	coordinator_message_outcome(msg, &exit_code);
	/* What the task wrote is stored with the close, in the same row write. */
	r = state_end_job_with_output(
		coord->state, msg->request_id,
		msg->type == MESSAGE_REQUEST_SUCCESS ? JOB_SUCCESS : JOB_FAILURE, exit_code,
		msg->error_kind, msg->error_message, msg->stdout_written, msg->stderr_written);
	if (r == 0)
		metrics_task_closed(msg->mode, msg->type == MESSAGE_REQUEST_SUCCESS
						       ? NULL
						       : error_kind_name(msg->error_kind));
	if (r == -ENOENT) {
		log_warning("message %llu closes %s, which is not an opened job",
			    (unsigned long long)msg->seq, msg->request_id);
		return;
	}
	if (r < 0)
		log_error("cannot store the end of %s: %s", msg->request_id, strerror(-r));
	/* Its dependents hear now; theirs hear when their own messages come here in turn. */
	deps_job_closed(coord->deps, msg->request_id, msg->type == MESSAGE_REQUEST_SUCCESS);
}

int coordinator_admit_message(struct coordinator *coord, const struct message *msg)
{
	struct job *job;

	if (!coord || !message_closes_job(msg) || !msg->request_id)
		return 0;
	job = state_find_open(coord->state, msg->request_id);
	if (!job)
		return -ENOENT;
	return job->finishing ? -EALREADY : 0;
}

void coordinator_complete_message(struct coordinator *coord, struct message *msg)
{
	struct job *job;

	if (!coord || !message_closes_job(msg) || !msg->request_id)
		return;
	job = state_find_open(coord->state, msg->request_id);
	if (job && msg->run_start_time == 0)
		msg->run_start_time = job->run_start_time;
}

void coordinator_message_stored(struct coordinator *coord, const struct message *msg)
{
	struct job *job;

	if (!coord || !message_closes_job(msg) || !msg->request_id)
		return;
	job = state_find_open(coord->state, msg->request_id);
	if (job)
		job->finishing = true;
}

/* Publishes a message of type with no result and the error kind and reason. */
static int coordinator_publish_error(struct coordinator *coord, enum message_type type,
				     const struct message_ids *ids, enum error_kind kind,
				     const char *reason)
{
	struct message *msg;
	int r;

	if (!coord->publisher)
		return -EINVAL;
	msg = message_new_error(type, ids, kind, reason);
	if (!msg)
		return -ENOMEM;
	if (type == MESSAGE_REQUEST_CREATION_FAILURE)
		metrics_task_refused();
	r = publisher_publish(coord->publisher, msg);
	message_unref(msg);
	return r;
}

int coordinator_publish_refusal(struct coordinator *coord, const struct message_ids *ids,
				const char *reason)
{
	return coordinator_publish_error(coord, MESSAGE_REQUEST_CREATION_FAILURE, ids,
					 ERROR_INVALID, reason);
}

int coordinator_reattach(struct coordinator *coord, const struct job *job)
{
	struct strategy *strategy = coordinator_mode(coord, job->mode);

	if (!strategy || !strategy->ops->reattach || !job->strategy_ref)
		return -ENOENT;
	return strategy->ops->reattach(strategy, job, job->strategy_ref);
}

int coordinator_publish_failure(struct coordinator *coord, const struct job *job,
				enum error_kind kind, const char *reason)
{
	struct message_ids ids;

	message_ids_of_job(job, &ids);
	return coordinator_publish_error(coord, MESSAGE_REQUEST_FAILURE, &ids, kind, reason);
}

/* Refuses task: publishes the creation failure, frees task, returns r. */
static int coordinator_refuse(struct coordinator *coord, struct task *task, int r, char **error,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int coordinator_refuse(struct coordinator *coord, struct task *task, int r, char **error,
			      const char *fmt, ...)
{
	struct message_ids ids;
	va_list ap;

	va_start(ap, fmt);
	cause_setv(error, r, fmt, ap);
	va_end(ap);
	message_ids_of_task(task, &ids);
	coordinator_publish_refusal(coord, &ids, *error ? *error : "refused");
	task_free(task);
	return r;
}

/* A task that only names job, for messages about a job whose task is gone. */
static void coordinator_job_stub(struct job *job, struct task *stub)
{
	*stub = (struct task){
		.request_id = job->request_id,
		.parent_node_id = job->parent_node_id,
		.node_id = job->child_node_id,
		.run_id = job->run_id,
		.mode = job->mode,
	};
}

/*
 * A request_id is new when nothing stored names it: no job, and no message
 * left in the log by a job that retention has removed (the log would
 * otherwise tell two jobs' lives under one id).
 */
static int coordinator_check_new_id(struct coordinator *coord, const char *request_id)
{
	int r = state_request_id_used(coord->state, request_id);

	if (r < 0)
		return r;
	return r ? -EEXIST : 0;
}

/*
 * The job's row, written just before with this message's seq, is the
 * message in the log: so it also carries the job's start_time.
 */
static int coordinator_publish_creation(struct coordinator *coord, const struct task *task,
					const struct job *job)
{
	struct message_ids ids;
	struct message *msg;
	int r;

	message_ids_of_task(task, &ids);
	msg = message_new(MESSAGE_REQUEST_CREATION, &ids, NULL);
	if (!msg)
		return -ENOMEM;
	msg->time = job->start_time;
	r = publisher_publish(coord->publisher, msg);
	if (r == 0 && msg->seq != (uint64_t)job->seq_no)
		log_error("the creation of %s was published as seq %llu, its job row is %lld",
			  task->request_id, (unsigned long long)msg->seq, (long long)job->seq_no);
	message_unref(msg);
	return r;
}

/*
 * Whether mode (index i) has no room for one more job: its strategy's
 * queue is full, or its queued and waiting jobs together reach max_queue
 * (beyond the slots still free).
 */
static bool coordinator_mode_full(struct coordinator *coord, size_t i)
{
	struct strategy *strategy = coord->modes[i];
	struct strategy_info info = {0};
	size_t free_slots;

	if (!strategy->ops->can_accept(strategy))
		return true;
	if (coord->mode_waiting[i] == 0)
		return false;
	strategy->ops->describe(strategy, &info);
	free_slots = info.running < info.max_concurrency ? info.max_concurrency - info.running : 0;
	return info.queued + coord->mode_waiting[i] >= info.max_queue + free_slots;
}

/* What the jobs of a task's after are now. */
struct coordinator_after {
	char **open; /* the opened ones (borrowed from the task), for deps */
	size_t open_count;
	const char *failed;  /* the first that closed as a failure (borrowed), or NULL */
	const char *missing; /* the first not in the history (borrowed), or NULL */
	const char *foreign; /* the first of another owner (borrowed), or NULL */
};

/*
 * Looks at each job of task's after. A job of another owner counts only
 * for root and the daemon's own user, as when a parent_node_id links a run.
 * 0, -ENOMEM, or the history's error.
 */
static int coordinator_after_scan(struct coordinator *coord, const struct task *task,
				  struct coordinator_after *ret)
{
	*ret = (struct coordinator_after){0};
	if (task->after_count == 0)
		return 0;
	ret->open = calloc(task->after_count, sizeof(char *));
	if (!ret->open)
		return -ENOMEM;
	for (size_t i = 0; i < task->after_count; i++) {
		struct job *dep;
		int r = state_get_job(coord->state, task->after[i], &dep);

		if (r == -ENOENT) {
			if (!ret->missing)
				ret->missing = task->after[i];
			continue;
		}
		if (r < 0)
			return r;
		if (dep->owner_uid != task->owner_uid && !privilege_is_admin(task->owner_uid) &&
		    !ret->foreign)
			ret->foreign = task->after[i];
		if (dep->status == JOB_OPENED)
			ret->open[ret->open_count++] = task->after[i];
		else if (dep->result == JOB_FAILURE && !ret->failed)
			ret->failed = task->after[i];
		job_unref(dep);
	}
	return 0;
}

/*
 * A job that waited closes as a failure of kind dependency, without
 * running; its own dependents follow when that message closes it.
 */
static void coordinator_fail_dependency(struct coordinator *coord, struct job *job,
					const char *failed_id, const char *how)
{
	char reason[TASK_REQUEST_ID_MAX + 96];

	snprintf(reason, sizeof(reason), "its dependency \"%s\" %s, so it never ran", failed_id,
		 how);
	if (coordinator_publish_failure(coord, job, ERROR_DEPENDENCY, reason) < 0)
		state_end_job(coord->state, job->request_id, JOB_FAILURE, -1, ERROR_DEPENDENCY,
			      reason);
}

/* Whether every queued job of job's mode has a slot free: they start now, from memory. */
static bool coordinator_keep_hot_cb(const struct job *job, void *ctx)
{
	struct strategy *strategy = coordinator_mode(ctx, job->mode);
	struct strategy_info info = {0};

	if (!strategy)
		return true;
	strategy->ops->describe(strategy, &info);
	return !info.paused && info.running + info.queued <= info.max_concurrency;
}

/*
 * Queued jobs whose strategy keeps no task in memory need not keep their
 * job there either; those the turn's transaction still holds go later.
 */
static void coordinator_cool_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval later = {0, COORDINATOR_COOL_RETRY_MS * 1000};
	struct coordinator *coord = arg;
	size_t left, cooled = state_cool(coord->state, coordinator_keep_hot_cb, coord, &left);

	if (cooled > 0)
		log_debug("%zu queued jobs are kept in the history only", cooled);
	if (left > 0)
		evtimer_add(coord->cool_ev, &later);
}

/*
 * job's task waits in strategy, which loads it back at start: the job may
 * go cold, unless the strategy keeps its task (one of the first in a
 * queue, see queue_hot_tasks): then it starts from memory, job and task.
 */
static void coordinator_cool_later(struct coordinator *coord, struct strategy *strategy,
				   struct job *job)
{
	static const struct timeval soon = {0, COORDINATOR_COOL_DELAY_MS * 1000};

	if (!strategy_can_load(strategy) || strategy_keeps_task(strategy, job->request_id))
		return;
	state_cool_later(coord->state, job);
	if (!evtimer_pending(coord->cool_ev, NULL))
		evtimer_add(coord->cool_ev, &soon);
}

/*
 * Hands job's task (taken) to its mode's strategy. A refusal closes the
 * job, with the reason, through a final message like any other
 * (handle_item closes it); when even that cannot be published, it is
 * closed here and the error returned.
 */
static int coordinator_execute(struct coordinator *coord, struct strategy *strategy,
			       struct job *job, struct task *task)
{
	struct task stub;
	int r = strategy->ops->execute(strategy, task);

	if (r == 0) {
		coordinator_cool_later(coord, strategy, job);
		return 0;
	}
	log_error("mode %s refused %s after accepting it: %s", strategy->mode, job->request_id,
		  strerror(-r));
	coordinator_job_stub(job, &stub);
	if (strategy_publish_failure(strategy, &stub, ERROR_SPAWN, strerror(-r)) < 0) {
		state_end_job(coord->state, stub.request_id, JOB_FAILURE, -1, ERROR_SPAWN,
			      strerror(-r));
		return r;
	}
	return 0;
}

/*
 * An opened job and its task (taken) go where they belong now: closed as
 * a dependency failure, waiting in deps, or (queued) to the strategy, or,
 * while the daemon drains, left queued in the history for the next start.
 */
static int coordinator_place(struct coordinator *coord, struct strategy *strategy, struct job *job,
			     struct task *task, const struct coordinator_after *after)
{
	int r;

	if (after->failed && task->after_policy == TASK_AFTER_SUCCESS) {
		coordinator_fail_dependency(coord, job, after->failed, "failed");
		task_free(task);
		return 0;
	}
	if (after->missing && task->after_policy == TASK_AFTER_SUCCESS) {
		coordinator_fail_dependency(coord, job, after->missing,
					    "is no longer in the history");
		task_free(task);
		return 0;
	}
	if (after->open_count > 0) {
		r = deps_add(coord->deps, job, task, after->open, after->open_count);
		if (r == 0) {
			coordinator_count_waiting(coord, job->mode, 1);
			return 0;
		}
		task_free(task);
		coordinator_publish_failure(coord, job, ERROR_SPAWN, strerror(-r));
		return 0;
	}
	if (job->phase == JOB_WAITING && (r = state_set_queued(coord->state, job)) < 0)
		log_error("cannot store that %s is queued: %s", job->request_id, strerror(-r));
	if (coord->holding) {
		task_free(task);
		return 0;
	}
	return coordinator_execute(coord, strategy, job, task);
}

/* Every job of a task's after was closed (ready) or one failed under policy success. */
static void coordinator_deps_ready_cb(struct job *job, struct task *task, void *ctx)
{
	struct coordinator *coord = ctx;
	struct strategy *strategy = coordinator_mode(coord, job->mode);
	struct coordinator_after none = {0};

	coordinator_count_waiting(coord, job->mode, -1);
	/* It was counted against max_queue when it was accepted. */
	task->admitted = true;
	if (!strategy) {
		task_free(task);
		coordinator_publish_failure(coord, job, ERROR_SPAWN, "its mode is gone");
		return;
	}
	coordinator_place(coord, strategy, job, task, &none);
}

static void coordinator_deps_failed_cb(struct job *job, struct task *task, const char *failed_id,
				       void *ctx)
{
	struct coordinator *coord = ctx;

	coordinator_count_waiting(coord, job->mode, -1);
	task_free(task);
	coordinator_fail_dependency(coord, job, failed_id, "failed");
}

/* The refusal of a task whose after names a job that is not there, or not the submitter's. */
static int coordinator_refuse_after(struct coordinator *coord, struct task *task,
				    struct coordinator_after *after, char **error)
{
	int r;

	if (after->missing)
		r = coordinator_refuse(coord, task, -ENOENT, error,
				       "not found: after names \"%s\", but no job has that "
				       "request_id",
				       after->missing);
	else
		r = coordinator_refuse(coord, task, -EPERM, error,
				       "permission denied: after names \"%s\", a job of "
				       "another user",
				       after->foreign);
	free(after->open);
	return r;
}

/*
 * A submit with wait from a task whose after needs that task's own job to
 * close first: the job could never start while the task waits for it.
 * The refusal (-EDEADLK), 0 when there is none.
 */
static int coordinator_refuse_deadlock(struct coordinator *coord, struct task *task, char **error)
{
	const char *id;
	char *waiter;
	int r = coordinator_wait_deadlock(coord, task->waiter_pgid, task->after, task->after_count,
					  &id, &waiter);

	if (r <= 0)
		return r < 0 ? coordinator_refuse(coord, task, r, error, "out of memory") : 0;
	r = coordinator_refuse(coord, task, -EDEADLK, error,
			       "conflict: with wait this submit would never be answered: its "
			       "after needs \"%s\", the job of the task that submits it, to close "
			       "first (submit it without wait)",
			       waiter);
	free(waiter);
	return r;
}

void coordinator_set_max_waiting_bytes(struct coordinator *coord, size_t bytes)
{
	coord->max_waiting_bytes = bytes;
}

/*
 * Whether task, were it to wait, would take the waiting jobs' Tasks past
 * max_waiting_bytes: unlike a queued job's, a waiting job's task stays in
 * memory (several times its stored text), and max_queue counts jobs, not
 * bytes.
 */
static bool coordinator_waiting_full(struct coordinator *coord, const struct task *task)
{
	return coord->max_waiting_bytes &&
	       deps_bytes(coord->deps) + deps_task_bytes(task) > coord->max_waiting_bytes;
}

int coordinator_submit(struct coordinator *coord, struct task *task, struct job **ret_job,
		       char **error)
{
	struct coordinator_after after;
	struct strategy *strategy;
	struct job *job;
	ssize_t mode;
	int r;

	*error = NULL;
	if (!coord->accepting)
		return coordinator_refuse(coord, task, -ESHUTDOWN, error,
					  "the daemon is shutting down and accepts no new work");
	mode = coordinator_mode_index(coord, task->mode);
	if (mode < 0)
		return coordinator_refuse(coord, task, -ENOPROTOOPT, error, "unknown mode \"%s\"",
					  task->mode);
	strategy = coord->modes[mode];
	/* A UUID v7 the daemon just made is new: no lookup (two per submit) for it. */
	r = task->request_id_made ? 0 : coordinator_check_new_id(coord, task->request_id);
	if (r == -EEXIST)
		return coordinator_refuse(coord, task, r, error,
					  "request_id \"%s\" was used before", task->request_id);
	if (r < 0)
		return coordinator_refuse(coord, task, r, error, "cannot read the history: %s",
					  strerror(-r));
	if (coordinator_mode_full(coord, (size_t)mode))
		return coordinator_refuse(coord, task, -EBUSY, error,
					  "the queue of mode \"%s\" is full", task->mode);
	if (task->after_count > 0 && coordinator_waiting_full(coord, task))
		return coordinator_refuse(
			coord, task, -EBUSY, error,
			"busy: the jobs waiting on their after hold %zu bytes of Tasks in memory, "
			"and this one would take them past max_waiting_task_bytes (%zu); submit it "
			"once some of them have started",
			deps_bytes(coord->deps), coord->max_waiting_bytes);
	r = coordinator_after_scan(coord, task, &after);
	if (r < 0) {
		free(after.open);
		return coordinator_refuse(coord, task, r, error, "cannot read the history: %s",
					  strerror(-r));
	}
	if (after.missing || after.foreign)
		return coordinator_refuse_after(coord, task, &after, error);
	if (task->wait && (r = coordinator_refuse_deadlock(coord, task, error)) != 0) {
		free(after.open);
		return r;
	}
	if (!task->run_id &&
	    (r = state_run_id_for_parent(coord->state, task->parent_node_id, task->owner_uid,
					 privilege_is_admin(task->owner_uid), &task->run_id)) < 0) {
		free(after.open);
		return coordinator_refuse(coord, task, r, error, "cannot read the history: %s",
					  strerror(-r));
	}
	/* A root request is its own run; its messages and environment say so too. */
	if (!task->run_id && !(task->run_id = strdup(task->request_id))) {
		free(after.open);
		return coordinator_refuse(coord, task, -ENOMEM, error, "out of memory");
	}
	r = state_add_job(coord->state, task, publisher_next_seq(coord->publisher), &job);
	if (r < 0) {
		free(after.open);
		return coordinator_refuse(coord, task, r, error, "cannot store the job: %s",
					  strerror(-r));
	}
	metrics_task_submitted(job->mode);
	r = coordinator_publish_creation(coord, task, job);
	if (r < 0)
		log_error("cannot publish the creation of %s: %s", task->request_id, strerror(-r));
	*ret_job = job;
	r = coordinator_place(coord, strategy, job, task, &after);
	free(after.open);
	if (r < 0) {
		*ret_job = NULL;
		return cause_set(error, r, "the task could not start: %s", strerror(-r));
	}
	return 0;
}

int coordinator_restore(struct coordinator *coord, struct job *job)
{
	struct coordinator_after after = {0};
	struct strategy *strategy = coordinator_mode(coord, job->mode);
	struct task *task = NULL;
	int r;

	r = state_adopt_open(coord->state, job);
	if (r < 0)
		return r;
	if (!strategy)
		return coordinator_publish_failure(
			coord, job, ERROR_LOST,
			"the daemon restarted before it started, and its mode is no longer "
			"configured");
	r = task_from_stored(job->task, job, &task);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return coordinator_publish_failure(
			coord, job, ERROR_LOST,
			"the daemon restarted before it started, and its task was not stored");
	/* Its after was checked when it was accepted; what is gone since counts as missing. */
	if (job->phase == JOB_WAITING)
		r = coordinator_after_scan(coord, task, &after);
	if (r == 0)
		r = coordinator_place(coord, strategy, job, task, &after);
	else
		task_free(task);
	free(after.open);
	/* A long queue taken back goes cold job by job, not all in memory first. */
	if (r == 0 && job->cooling && !coordinator_keep_hot_cb(job, coord))
		state_cool_now(coord->state, job);
	return r;
}

struct state *coordinator_system_detail(struct coordinator *coord)
{
	return coord->state;
}

/* Asks the strategy to stop one opened job; a job it does not know is closed here. */
static void coordinator_cancel_one(struct coordinator *coord, struct job *job)
{
	struct strategy *strategy = coordinator_mode(coord, job->mode);
	struct task stub;

	struct task *waiting;

	/* Its outcome is published already: it ends with that message, once. */
	if (job->finishing || job->status != JOB_OPENED)
		return;
	waiting = job->phase == JOB_WAITING ? deps_remove(coord->deps, job->request_id) : NULL;
	if (waiting) {
		coordinator_count_waiting(coord, job->mode, -1);
		task_free(waiting);
		coordinator_publish_failure(coord, job, ERROR_CANCELLED,
					    "cancelled while it waited for its dependencies");
		return;
	}
	coordinator_job_stub(job, &stub);
	if (strategy && strategy->ops->cancel(strategy, job->request_id) == 0)
		return;
	/* No strategy runs it (its mode is gone): publish its end ourselves. */
	if (strategy)
		strategy_publish_failure(strategy, &stub, ERROR_CANCELLED, "cancelled");
	else
		state_end_job(coord->state, job->request_id, JOB_FAILURE, -1, ERROR_CANCELLED,
			      "cancelled");
}

/*
 * A cancel in progress. Its walk down the tree goes breadth first, without
 * recursion, a page of children at a time and for at most slice_ms per
 * loop turn: the node ids to expand, in order, each at most once (also
 * when client-chosen node ids repeat or form a cycle), so each job is
 * looked at once.
 */
struct coordinator_cancel {
	TAILQ_ENTRY(coordinator_cancel) entry; /* in coord->cancels */
	struct coordinator *coord;
	struct job *top; /* the job named in the cancel, a reference */
	uid_t canceller;
	int64_t upto_seq; /* the newest job when the cancel came: later ones are not part of it */
	char **nodes;	  /* node ids, owned; those before next are expanded */
	size_t next;
	size_t count;
	size_t cap;
	int64_t cursor;	       /* the seq_no of the last child of nodes[next] looked at */
	struct lh_table *seen; /* node id -> the same string in nodes */
	struct job *page[COORDINATOR_WALK_PAGE]; /* opened jobs a page found, references */
	size_t page_count;
	char **ids; /* the job named, then every job asked to stop; owned */
	size_t id_count;
	size_t id_cap;
	int error;
	struct event *step_ev;
	coordinator_cancel_fn done; /* NULL once its caller went away */
	void *userdata;
};

static double coordinator_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void coordinator_cancel_free(struct coordinator_cancel *c)
{
	TAILQ_REMOVE(&c->coord->cancels, c, entry);
	if (c->step_ev)
		event_free(c->step_ev);
	if (c->seen)
		lh_table_free(c->seen);
	for (size_t i = 0; i < c->count; i++)
		free(c->nodes[i]);
	free(c->nodes);
	for (size_t i = 0; c->ids && i < c->id_count; i++)
		free(c->ids[i]);
	free(c->ids);
	job_unref(c->top);
	free(c);
}

/* The walk is over (or cut short): its caller hears, and takes the ids. */
static void coordinator_cancel_finish(struct coordinator_cancel *c)
{
	coordinator_cancel_fn done = c->done;
	char **ids = c->ids;
	size_t count = c->id_count;
	int error = c->error;
	void *userdata = c->userdata;

	if (done)
		c->ids = NULL;
	coordinator_cancel_free(c);
	if (done)
		done(error, ids, count, userdata);
}

/* Makes room for one more string in *array, which holds count of *cap. 0 or -ENOMEM. */
static int coordinator_grow(char ***array, size_t count, size_t *cap)
{
	size_t more = *cap ? *cap * 2 : 64;
	char **grown;

	if (count < *cap)
		return 0;
	grown = realloc(*array, more * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*array = grown;
	*cap = more;
	return 0;
}

static int coordinator_cancel_add_id(struct coordinator_cancel *c, const char *id)
{
	char *copy;

	if (coordinator_grow(&c->ids, c->id_count, &c->id_cap) < 0 || !(copy = strdup(id)))
		return -ENOMEM;
	c->ids[c->id_count++] = copy;
	return 0;
}

static int coordinator_walk_push(struct coordinator_cancel *c, const char *node)
{
	char *copy;
	void *v;

	if (lh_table_lookup_ex(c->seen, node, &v))
		return 0;
	if (coordinator_grow(&c->nodes, c->count, &c->cap) < 0)
		return -ENOMEM;
	copy = strdup(node);
	if (!copy || lh_table_insert(c->seen, copy, copy) < 0) {
		free(copy);
		return -ENOMEM;
	}
	c->nodes[c->count++] = copy;
	return 0;
}

/*
 * One job below the top, as the history reads it: kept for cancelling
 * when opened, and its own node walked later. The cascade never crosses
 * owners: a job the canceller could not cancel by name (not theirs, and
 * they are not root) is left alone, with what lies below it.
 */
static void coordinator_walk_child_cb(const struct history_child *child, void *userdata)
{
	struct coordinator_cancel *c = userdata;
	struct job *open;

	c->cursor = child->seq_no;
	if (c->error || (c->canceller != 0 && child->owner_uid != c->canceller))
		return;
	open = state_find_open(c->coord->state, child->request_id);
	if (open)
		c->page[c->page_count++] = job_ref(open);
	c->error = coordinator_walk_push(c, child->child_node_id);
}

/*
 * Looks at one page of the children of the node being expanded (jobs of
 * the top's run whose parent_node_id is that node, submitted after the top
 * and before the cancel) and stops the opened ones. True once the walk is
 * over.
 */
static bool coordinator_walk_page(struct coordinator_cancel *c)
{
	size_t rows = 0;
	int r;

	if (c->error || c->next == c->count)
		return true;
	r = state_foreach_child(c->coord->state, c->top->run_id, c->nodes[c->next], c->cursor,
				c->upto_seq, COORDINATOR_WALK_PAGE, coordinator_walk_child_cb, c,
				&rows);
	if (r < 0 && c->error == 0)
		c->error = r;
	for (size_t i = 0; i < c->page_count; i++) {
		r = coordinator_cancel_add_id(c, c->page[i]->request_id);
		if (r < 0 && c->error == 0)
			c->error = r;
		coordinator_cancel_one(c->coord, c->page[i]);
		job_unref(c->page[i]);
	}
	c->page_count = 0;
	if (rows < COORDINATOR_WALK_PAGE) {
		c->next++;
		c->cursor = c->top->seq_no;
	}
	return c->error || c->next == c->count;
}

/* One slice of the walk; the next one comes on a later loop turn, after other work. */
static void coordinator_cancel_step_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = {0, 0};
	struct coordinator_cancel *c = arg;
	double deadline = coordinator_clock_ms() + c->coord->cancel_slice_ms;

	while (!coordinator_walk_page(c))
		if (coordinator_clock_ms() >= deadline) {
			evtimer_add(c->step_ev, &now);
			return;
		}
	coordinator_cancel_finish(c);
}

/* A cancel of top (a reference, taken) that walks below it when cascade. */
static int coordinator_cancel_new(struct coordinator *coord, struct job *top, bool cascade,
				  uid_t canceller, struct coordinator_cancel **ret)
{
	static const struct timeval now = {0, 0};
	struct coordinator_cancel *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		job_unref(top);
		return -ENOMEM;
	}
	c->coord = coord;
	c->top = top;
	c->canceller = canceller;
	c->cursor = top->seq_no;
	TAILQ_INSERT_TAIL(&coord->cancels, c, entry);
	r = state_last_seq_no(coord->state, &c->upto_seq);
	if (r == 0 && (!(c->seen = lh_kchar_table_new(64, NULL)) ||
		       !(c->step_ev = evtimer_new(coord->base, coordinator_cancel_step_cb, c))))
		r = -ENOMEM;
	if (r == 0)
		r = coordinator_cancel_add_id(c, top->request_id);
	if (r == 0 && cascade)
		r = coordinator_walk_push(c, top->child_node_id);
	if (r == 0)
		r = evtimer_add(c->step_ev, &now) < 0 ? -ENOMEM : 0;
	if (r < 0) {
		coordinator_cancel_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade,
		       uid_t canceller, coordinator_cancel_fn done, void *userdata,
		       struct coordinator_cancel **ret)
{
	struct coordinator_cancel *c;
	struct job *job;
	int r = state_get_job(coord->state, request_id, &job);

	if (ret)
		*ret = NULL;
	if (r < 0)
		return r;
	if (job->status != JOB_OPENED && !cascade) {
		job_unref(job);
		return -EALREADY;
	}
	coordinator_cancel_one(coord, job);
	if (!cascade && !done) {
		job_unref(job);
		return 0;
	}
	r = coordinator_cancel_new(coord, job, cascade, canceller, &c);
	if (r < 0)
		return r;
	c->done = done;
	c->userdata = userdata;
	if (ret)
		*ret = c;
	return 0;
}

void coordinator_cancel_forget(struct coordinator_cancel *cancel)
{
	if (!cancel)
		return;
	cancel->done = NULL;
	cancel->userdata = NULL;
}

static void coordinator_seen_free(struct lh_entry *e)
{
	free((void *)lh_entry_k(e));
}

/*
 * Whether job lies below ancestor. Descendants share their ancestor's run
 * and came after it; then the walk goes up parent_node_id links (the
 * newest job of each node, as submit links them), and stops at a node in
 * seen: an earlier walk went on from there in vain, or a cycle closed.
 */
static bool coordinator_below(struct coordinator *coord, const struct job *ancestor,
			      const struct job *job, struct lh_table *seen)
{
	const char *node = job->parent_node_id;
	struct job *cur = NULL;
	bool found = false;

	if (strcmp(job->run_id, ancestor->run_id) != 0 || job->seq_no <= ancestor->seq_no)
		return false;
	for (int depth = 0; node && depth < COORDINATOR_TREE_MAX_DEPTH; depth++) {
		struct job *up;
		char *key;
		void *v;

		if (strcmp(node, ancestor->child_node_id) == 0) {
			found = true;
			break;
		}
		if (lh_table_lookup_ex(seen, node, &v))
			break;
		key = strdup(node);
		if (!key || lh_table_insert(seen, key, key) < 0) {
			free(key);
			break;
		}
		if (state_find_by_node(coord->state, node, &up) < 0)
			break;
		job_unref(cur);
		cur = up;
		if (strcmp(cur->run_id, ancestor->run_id) != 0 || cur->seq_no <= ancestor->seq_no)
			break;
		node = cur->parent_node_id;
	}
	job_unref(cur);
	return found;
}

int coordinator_find_lender(struct coordinator *coord, pid_t pgid, char *const *ids, size_t count,
			    char **ret)
{
	struct job *lender = state_find_running(coord->state, pgid);
	struct lh_table *seen;
	int r = 0;

	*ret = NULL;
	if (!lender)
		return 0;
	seen = lh_kchar_table_new(64, coordinator_seen_free);
	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < count && !*ret && r == 0; i++) {
		struct job *job;

		if (state_get_job(coord->state, ids[i], &job) < 0)
			continue;
		if (coordinator_below(coord, lender, job, seen) &&
		    !(*ret = strdup(lender->request_id)))
			r = -ENOMEM;
		job_unref(job);
	}
	lh_table_free(seen);
	return r;
}

int coordinator_wait_deadlock(struct coordinator *coord, pid_t pgid, char *const *ids, size_t count,
			      const char **ret_id, char **ret_task)
{
	struct job *task = pgid > 0 ? state_find_running(coord->state, pgid) : NULL;

	*ret_id = NULL;
	*ret_task = NULL;
	if (!task)
		return 0;
	for (size_t i = 0; i < count; i++) {
		int r = deps_reaches(coord->deps, ids[i], task->request_id);

		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (!(*ret_task = strdup(task->request_id)))
			return -ENOMEM;
		*ret_id = ids[i];
		return 1;
	}
	return 0;
}

static int coordinator_slot(struct coordinator *coord, const char *request_id, bool lend)
{
	struct job *job = state_find_open(coord->state, request_id);
	struct strategy *strategy;

	if (!job || job->phase != JOB_RUNNING)
		return -ENOENT;
	strategy = coordinator_mode(coord, job->mode);
	if (!strategy)
		return -ENOENT;
	return lend ? strategy->ops->lend_slot(strategy, request_id)
		    : strategy->ops->return_slot(strategy, request_id);
}

int coordinator_lend_slot(struct coordinator *coord, const char *request_id)
{
	return coordinator_slot(coord, request_id, true);
}

int coordinator_return_slot(struct coordinator *coord, const char *request_id)
{
	return coordinator_slot(coord, request_id, false);
}

void coordinator_foreach_mode(struct coordinator *coord,
			      void (*cb)(const struct strategy_info *info, void *userdata),
			      void *userdata)
{
	for (size_t i = 0; i < coord->mode_count; i++) {
		struct strategy_info info = {0};

		coord->modes[i]->ops->describe(coord->modes[i], &info);
		info.waiting = coord->mode_waiting[i];
		cb(&info, userdata);
	}
}

int coordinator_describe_mode(struct coordinator *coord, const char *mode,
			      struct strategy_info *ret)
{
	ssize_t i = coordinator_mode_index(coord, mode);

	if (i < 0)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	coord->modes[i]->ops->describe(coord->modes[i], ret);
	ret->waiting = coord->mode_waiting[i];
	return 0;
}

int coordinator_tune_mode(struct coordinator *coord, const char *mode,
			  const struct strategy_tuning *tuning)
{
	struct strategy *strategy = coordinator_mode(coord, mode);

	if (!strategy)
		return -ENOENT;
	if (!strategy->ops->tune)
		return -EOPNOTSUPP;
	strategy->ops->tune(strategy, tuning);
	return 0;
}

void coordinator_stop_accepting(struct coordinator *coord)
{
	coord->accepting = false;
	if (coord->holding)
		return;
	coord->holding = true;
	for (size_t i = 0; i < coord->mode_count; i++)
		coord->modes[i]->ops->hold(coord->modes[i]);
}

void coordinator_shutdown(struct coordinator *coord)
{
	coordinator_stop_accepting(coord);
	if (coord->shut_down)
		return;
	coord->shut_down = true;
	/*
	 * A cancel in progress walks to its end first: queued jobs outlive a
	 * stop, so one cut short would leave descendants it answered for to
	 * run after the restart.
	 */
	while (!TAILQ_EMPTY(&coord->cancels)) {
		struct coordinator_cancel *c = TAILQ_FIRST(&coord->cancels);

		while (!coordinator_walk_page(c))
			;
		coordinator_cancel_finish(c);
	}
	for (size_t i = 0; i < coord->mode_count; i++)
		coord->modes[i]->ops->shutdown(coord->modes[i]);
}
