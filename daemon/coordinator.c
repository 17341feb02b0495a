/*
 * The Coordinator. It owns its strategies (one per mode, in an array in
 * the order they were added); it borrows the state and the publisher. A
 * walk over the tree (cancel's cascade, the search for a lender) owns its
 * own small tables and frees them before it returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/linkhash.h>

#include "coordinator.h"
#include "log.h"
#include "message.h"
#include "process.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "task.h"

/* Jobs read per query while a cascade walks the children of one node. */
#define COORDINATOR_WALK_PAGE 500
/* Ancestors looked at, at most, above one awaited job when looking for a lender. */
#define COORDINATOR_TREE_MAX_DEPTH 256

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

/*
 * Whether uid may join any owner's tree: root, and the daemon's own user,
 * as whom every task runs under run_as = daemon (a task then submits its
 * children on behalf of whoever owns the task).
 */
static bool coordinator_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
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
	if (!task->run_id && (r = state_run_id_for_parent(
				      coord->state, task->parent_node_id, task->owner_uid,
				      coordinator_privileged(task->owner_uid), &task->run_id)) < 0)
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

	/* Its outcome is published already: it ends with that message, once. */
	if (job->finishing)
		return;
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
 * A cascade's walk down the tree, breadth first, without recursion: the
 * node ids to expand, in order, each at most once (also when client-chosen
 * node ids repeat or form a cycle), so each job is looked at once.
 */
struct coordinator_walk {
	struct coordinator *coord;
	const struct job *top; /* the job named in the cancel */
	uid_t canceller;
	char **nodes; /* node ids, owned; those before next are expanded */
	size_t next;
	size_t count;
	size_t cap;
	struct lh_table *seen; /* node id -> the same string in nodes */
};

static int coordinator_walk_push(struct coordinator_walk *w, const char *node)
{
	char *copy;
	void *v;

	if (lh_table_lookup_ex(w->seen, node, &v))
		return 0;
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		char **nodes = realloc(w->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return -ENOMEM;
		w->nodes = nodes;
		w->cap = cap;
	}
	copy = strdup(node);
	if (!copy || lh_table_insert(w->seen, copy, copy) < 0) {
		free(copy);
		return -ENOMEM;
	}
	w->nodes[w->count++] = copy;
	return 0;
}

/*
 * One job below the top: cancelled when opened, and its own node walked
 * next. The cascade never crosses owners: a job the canceller could not
 * cancel by name (not theirs, and they are not root) is left alone, with
 * what lies below it.
 */
static int coordinator_walk_job(struct coordinator_walk *w, const struct job *job)
{
	struct job *open;

	if (w->canceller != 0 && job->owner_uid != w->canceller)
		return 0;
	open = state_find_open(w->coord->state, job->request_id);
	if (open)
		coordinator_cancel_one(w->coord, open);
	return coordinator_walk_push(w, job->child_node_id);
}

/*
 * The children of node: jobs of the top's run whose parent_node_id is
 * node, submitted after the top (newest first, so the first older one
 * ends the pages).
 */
static int coordinator_walk_node(struct coordinator_walk *w, const char *node)
{
	struct job_filter filter = {.parent_node_id = node, .run_id = w->top->run_id};
	int64_t cursor = 0;
	int r;

	do {
		struct job **jobs;
		size_t count;

		r = state_query(w->coord->state, &filter, cursor, COORDINATOR_WALK_PAGE, &jobs,
				&count, &cursor);
		if (r < 0)
			return r;
		for (size_t i = 0; i < count; i++) {
			if (jobs[i]->seq_no <= w->top->seq_no)
				cursor = 0;
			else if (r == 0)
				r = coordinator_walk_job(w, jobs[i]);
			job_unref(jobs[i]);
		}
		free(jobs);
	} while (r == 0 && cursor);
	return r;
}

/* Cancels every opened job below top that canceller may cancel. */
static int coordinator_cancel_below(struct coordinator *coord, const struct job *top,
				    uid_t canceller)
{
	struct coordinator_walk w = {.coord = coord, .top = top, .canceller = canceller};
	int r = -ENOMEM;

	w.seen = lh_kchar_table_new(64, NULL);
	if (w.seen)
		r = coordinator_walk_push(&w, top->child_node_id);
	while (r == 0 && w.next < w.count) {
		r = coordinator_walk_node(&w, w.nodes[w.next]);
		w.next++;
	}
	if (w.seen)
		lh_table_free(w.seen);
	for (size_t i = 0; i < w.count; i++)
		free(w.nodes[i]);
	free(w.nodes);
	return r;
}

int coordinator_cancel(struct coordinator *coord, const char *request_id, bool cascade,
		       uid_t canceller)
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
		r = coordinator_cancel_below(coord, job, canceller);
	if (r == 0 && !was_open && !cascade)
		r = -EALREADY;
	job_unref(job);
	return r;
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
