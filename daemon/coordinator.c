/*
 * The Coordinator. It owns its strategies (one per mode, in an array in
 * the order they were added); it borrows the state and the publisher.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"
#include "message.h"
#include "process.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "task.h"

struct coordinator {
	struct state *state;
	struct publisher *publisher;
	struct strategy **modes;
	size_t mode_count;
	uint64_t subscription;
	bool accepting;
	bool shut_down;
};

struct coordinator *coordinator_new(struct state *state)
{
	struct coordinator *coord = calloc(1, sizeof(*coord));

	if (!coord)
		return NULL;
	coord->state = state;
	coord->accepting = true;
	return coord;
}

void coordinator_free(struct coordinator *coord)
{
	if (!coord)
		return;
	if (coord->publisher && coord->subscription)
		publisher_unsubscribe(coord->publisher, coord->subscription);
	for (size_t i = 0; i < coord->mode_count; i++)
		strategy_free(coord->modes[i]);
	free(coord->modes);
	free(coord);
}

static struct strategy *coordinator_mode(struct coordinator *coord, const char *mode)
{
	for (size_t i = 0; i < coord->mode_count; i++)
		if (strcmp(coord->modes[i]->mode, mode) == 0)
			return coord->modes[i];
	return NULL;
}

bool coordinator_has_mode(struct coordinator *coord, const char *mode)
{
	return coordinator_mode(coord, mode) != NULL;
}

static void coordinator_task_started_cb(void *ctx, const char *request_id, pid_t pid)
{
	struct coordinator *coord = ctx;
	struct job *job = state_find_open(coord->state, request_id);

	if (job && state_set_running(coord->state, job, pid, process_starttime(pid)) < 0)
		log_warning("cannot record that %s runs as pid %d", request_id, (int)pid);
}

int coordinator_add_mode(struct coordinator *coord, struct strategy *strategy)
{
	struct strategy **modes;

	if (coordinator_mode(coord, strategy->mode))
		return -EEXIST;
	modes = realloc(coord->modes, (coord->mode_count + 1) * sizeof(*modes));
	if (!modes)
		return -ENOMEM;
	strategy->hooks.task_started = coordinator_task_started_cb;
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
	return publisher_subscribe(publisher, coordinator_handle_item, coord, "coordinator",
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
	r = state_end_job(coord->state, msg->request_id,
			  msg->type == MESSAGE_REQUEST_SUCCESS ? JOB_SUCCESS : JOB_FAILURE,
			  exit_code, msg->error_kind, msg->error_message);
	if (r == -ENOENT)
		log_warning("message %llu closes %s, which is not an opened job",
			    (unsigned long long)msg->seq, msg->request_id);
	else if (r < 0)
		log_error("cannot store the end of %s: %s", msg->request_id, strerror(-r));
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
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
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

static int coordinator_check_new_id(struct coordinator *coord, const char *request_id)
{
	struct job *old;
	int r = state_get_job(coord->state, request_id, &old);

	if (r == 0) {
		job_unref(old);
		return -EEXIST;
	}
	return r == -ENOENT ? 0 : r;
}

static int coordinator_publish_creation(struct coordinator *coord, const struct task *task)
{
	struct message_ids ids;
	struct message *msg;
	int r;

	message_ids_of_task(task, &ids);
	msg = message_new(MESSAGE_REQUEST_CREATION, &ids, NULL);
	if (!msg)
		return -ENOMEM;
	r = publisher_publish(coord->publisher, msg);
	message_unref(msg);
	return r;
}

int coordinator_submit(struct coordinator *coord, struct task *task, struct job **ret_job,
		       char **error)
{
	struct strategy *strategy;
	struct task stub;
	struct job *job;
	int r;

	*error = NULL;
	if (!coord->accepting)
		return coordinator_refuse(coord, task, -ESHUTDOWN, error,
					  "the daemon is shutting down and accepts no new work");
	strategy = coordinator_mode(coord, task->mode);
	if (!strategy)
		return coordinator_refuse(coord, task, -ENOPROTOOPT, error, "unknown mode \"%s\"",
					  task->mode);
	r = coordinator_check_new_id(coord, task->request_id);
	if (r == -EEXIST)
		return coordinator_refuse(coord, task, r, error,
					  "request_id \"%s\" was used before", task->request_id);
	if (r < 0)
		return coordinator_refuse(coord, task, r, error, "cannot read the history: %s",
					  strerror(-r));
	if (!strategy->ops->can_accept(strategy))
		return coordinator_refuse(coord, task, -EBUSY, error,
					  "the queue of mode \"%s\" is full", task->mode);
	if (!task->run_id &&
	    (r = state_run_id_for_parent(coord->state, task->parent_node_id, &task->run_id)) < 0)
		return coordinator_refuse(coord, task, r, error, "cannot read the history: %s",
					  strerror(-r));
	/* A root request is its own run; its messages and environment say so too. */
	if (!task->run_id && !(task->run_id = strdup(task->request_id)))
		return coordinator_refuse(coord, task, -ENOMEM, error, "out of memory");
	r = state_add_job(coord->state, task, &job);
	if (r < 0)
		return coordinator_refuse(coord, task, r, error, "cannot store the job: %s",
					  strerror(-r));
	r = coordinator_publish_creation(coord, task);
	if (r < 0)
		log_error("cannot publish the creation of %s: %s", task->request_id, strerror(-r));
	*ret_job = job;
	r = strategy->ops->execute(strategy, task);
	if (r < 0) {
		/*
		 * The job exists: it must close, with the reason, through a
		 * final message like any other (handle_item closes it).
		 */
		log_error("mode %s refused %s after accepting it: %s", strategy->mode,
			  job->request_id, strerror(-r));
		coordinator_job_stub(job, &stub);
		if (strategy_publish_failure(strategy, &stub, ERROR_SPAWN, strerror(-r)) < 0) {
			state_end_job(coord->state, stub.request_id, JOB_FAILURE, -1, ERROR_SPAWN,
				      strerror(-r));
			*ret_job = NULL;
			if (asprintf(error, "the task could not start: %s", strerror(-r)) < 0)
				*error = NULL;
			return r;
		}
	}
	return 0;
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
 * Cancels every opened job below node_id, level by level. A child is
 * always submitted after its parent (seq_no above after_seq): that also
 * ends the walk when client-chosen node ids form a cycle.
 */
static int coordinator_cancel_below(struct coordinator *coord, const char *node_id,
				    int64_t after_seq)
{
	struct job_filter filter = {.parent_node_id = node_id};
	int64_t cursor = 0;

	do {
		struct job **jobs;
		size_t count;
		int r = state_query(coord->state, &filter, cursor, 500, &jobs, &count, &cursor);

		if (r < 0)
			return r;
		for (size_t i = 0; i < count; i++) {
			struct job *open = state_find_open(coord->state, jobs[i]->request_id);

			if (jobs[i]->seq_no > after_seq) {
				if (open)
					coordinator_cancel_one(coord, open);
				coordinator_cancel_below(coord, jobs[i]->child_node_id,
							 jobs[i]->seq_no);
			}
			job_unref(jobs[i]);
		}
		free(jobs);
	} while (cursor);
	return 0;
}

int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade)
{
	struct job *job;
	bool was_open;
	int r = state_get_job(coord->state, request_id, &job);

	if (r < 0)
		return r;
	was_open = job->status == JOB_OPENED;
	if (was_open)
		coordinator_cancel_one(coord, job);
	if (cascade)
		r = coordinator_cancel_below(coord, job->child_node_id, job->seq_no);
	if (r == 0 && !was_open && !cascade)
		r = -EALREADY;
	job_unref(job);
	return r;
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
		cb(&info, userdata);
	}
}

void coordinator_stop_accepting(struct coordinator *coord)
{
	coord->accepting = false;
}

void coordinator_shutdown(struct coordinator *coord)
{
	coord->accepting = false;
	if (coord->shut_down)
		return;
	coord->shut_down = true;
	for (size_t i = 0; i < coord->mode_count; i++)
		coord->modes[i]->ops->shutdown(coord->modes[i]);
}
