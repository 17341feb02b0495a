/*
 * CoordinatorState. It holds one reference to every opened job, in a hash
 * table keyed by request_id (json-c's linkhash, which does not copy keys:
 * the key is the job's own request_id string), and indexes the running
 * ones by pid (no reference of its own). Closed jobs live in the
 * history; the last few closed are also kept (one reference each), since
 * whoever waited for them asks for them right away.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/linkhash.h>

#include "metrics.h"
#include "state.h"
#include "task.h"

/* How many of the jobs closed last are kept in memory. */
#define STATE_CLOSED_KEPT 16

struct state {
	struct history *history;
	struct lh_table *open_jobs;	       /* request_id -> struct job *, one reference each */
	struct lh_table *running;	       /* pid -> struct job * in open_jobs, pid > 0 */
	struct job_counts counts;	       /* over every job in the history */
	size_t started;			       /* opened jobs in phase running */
	struct job *closed[STATE_CLOSED_KEPT]; /* the jobs closed last (a ring), or NULL */
	size_t closed_next;		       /* where the next closed job goes */
};

#define STATE_PID_KEY(pid) ((const void *)(uintptr_t)(pid))

static void state_entry_free(struct lh_entry *e)
{
	job_unref((struct job *)lh_entry_v(e));
}

struct state *state_new(struct history *history)
{
	struct state *state = calloc(1, sizeof(*state));

	if (!state)
		return NULL;
	state->history = history;
	state->open_jobs = lh_kchar_table_new(64, state_entry_free);
	state->running = lh_kptr_table_new(64, NULL);
	if (!state->open_jobs || !state->running) {
		state_free(state);
		return NULL;
	}
	return state;
}

/* Forgets the jobs closed last (the history may have removed them). */
static void state_forget_closed(struct state *state)
{
	for (size_t i = 0; i < STATE_CLOSED_KEPT; i++) {
		job_unref(state->closed[i]);
		state->closed[i] = NULL;
	}
}

static void state_keep_closed(struct state *state, struct job *job)
{
	job_unref(state->closed[state->closed_next]);
	state->closed[state->closed_next] = job_ref(job);
	state->closed_next = (state->closed_next + 1) % STATE_CLOSED_KEPT;
}

static struct job *state_find_closed(struct state *state, const char *request_id)
{
	for (size_t i = 0; i < STATE_CLOSED_KEPT; i++)
		if (state->closed[i] && strcmp(state->closed[i]->request_id, request_id) == 0)
			return state->closed[i];
	return NULL;
}

void state_free(struct state *state)
{
	if (!state)
		return;
	state_forget_closed(state);
	if (state->running)
		lh_table_free(state->running);
	if (state->open_jobs)
		lh_table_free(state->open_jobs);
	free(state);
}

int state_load(struct state *state)
{
	return history_count(state->history, &(struct job_filter){0}, &state->counts);
}

struct job *state_find_open(struct state *state, const char *request_id)
{
	void *v;

	if (!lh_table_lookup_ex(state->open_jobs, request_id, &v))
		return NULL;
	return v;
}

struct job *state_find_running(struct state *state, pid_t pid)
{
	void *v;

	if (pid <= 0 || !lh_table_lookup_ex(state->running, STATE_PID_KEY(pid), &v))
		return NULL;
	return v;
}

/* Drops job from the pid index, if the index has it under its pid. */
static void state_unindex_running(struct state *state, struct job *job)
{
	if (job->pid > 0 && state_find_running(state, job->pid) == job)
		lh_table_delete(state->running, STATE_PID_KEY(job->pid));
}

int state_add_job(struct state *state, const struct task *task, struct job **ret)
{
	struct job *job;
	int r;

	if (state_find_open(state, task->request_id))
		return -EEXIST;
	job = job_new_from_task(task);
	if (!job)
		return -ENOMEM;
	r = history_insert_job(state->history, job);
	if (r < 0) {
		job_unref(job);
		return r;
	}
	if (lh_table_insert(state->open_jobs, job->request_id, job) < 0) {
		/* The row is written; closing it keeps history and memory in step. */
		job_end(job, JOB_FAILURE, -1, ERROR_SPAWN, "out of memory");
		history_update_job(state->history, job);
		job_unref(job);
		return -ENOMEM;
	}
	state->counts.opened++;
	*ret = job;
	return 0;
}

int state_end_job(struct state *state, const char *request_id, enum job_result result,
		  int exit_code, enum error_kind kind, const char *error_message)
{
	struct job *job = state_find_open(state, request_id);
	bool was_running;
	int r;

	if (!job)
		return -ENOENT;
	was_running = job->phase == JOB_RUNNING;
	r = job_end(job, result, exit_code, kind, error_message);
	if (r < 0)
		return r;
	if (was_running)
		state->started--;
	/* Memory follows the seed: the job is closed (a write whose commit fails is made again). */
	r = history_update_job(state->history, job);
	state->counts.opened--;
	state->counts.closed++;
	if (result == JOB_SUCCESS)
		state->counts.success++;
	else
		state->counts.failure++;
	state_unindex_running(state, job);
	state_keep_closed(state, job);
	lh_table_delete(state->open_jobs, job->request_id);
	return r;
}

int state_adopt_open(struct state *state, struct job *job)
{
	if (job->status != JOB_OPENED)
		return -EINVAL;
	if (state_find_open(state, job->request_id))
		return -EEXIST;
	if (lh_table_insert(state->open_jobs, job->request_id, job_ref(job)) < 0) {
		job_unref(job);
		return -ENOMEM;
	}
	if (job->phase == JOB_RUNNING)
		state->started++;
	return 0;
}

int state_set_ref(struct state *state, struct job *job, const char *ref)
{
	char *copy = strdup(ref);

	if (!copy)
		return -ENOMEM;
	free(job->strategy_ref);
	job->strategy_ref = copy;
	return history_update_job(state->history, job);
}

int state_set_running(struct state *state, struct job *job, pid_t pid, uint64_t pid_starttime)
{
	state_unindex_running(state, job);
	/* A pid freed by a job that is not closed yet may be reused: the newest wins. */
	if (pid > 0) {
		lh_table_delete(state->running, STATE_PID_KEY(pid));
		if (lh_table_insert(state->running, STATE_PID_KEY(pid), job) < 0)
			return -ENOMEM;
	}
	/* Once per job: the start is stored before the spawn, the pid comes after it. */
	if (job->phase != JOB_RUNNING) {
		state->started++;
		metrics_task_started(job->mode);
	}
	job->phase = JOB_RUNNING;
	job_set_run_start(job);
	job->pid = pid;
	job->pid_starttime = pid_starttime;
	return history_update_job(state->history, job);
}

int state_set_queued(struct state *state, struct job *job)
{
	if (job->phase != JOB_WAITING)
		return -EINVAL;
	job->phase = JOB_QUEUED;
	return history_update_job(state->history, job);
}

int state_commit(struct state *state)
{
	return history_commit(state->history);
}

size_t state_started_count(const struct state *state)
{
	return state->started;
}

int state_get_job(struct state *state, const char *request_id, struct job **ret)
{
	struct job *job;

	/* While writes wait for the disk, a job is told as it is stored (or not at all). */
	if (history_failing(state->history))
		return history_find_job(state->history, request_id, ret);
	job = state_find_open(state, request_id);
	if (!job)
		job = state_find_closed(state, request_id);
	if (job) {
		*ret = job_ref(job);
		return 0;
	}
	return history_find_job(state->history, request_id, ret);
}

int state_request_id_used(struct state *state, const char *request_id)
{
	struct job *job;
	int r = state_get_job(state, request_id, &job);

	if (r == 0) {
		job_unref(job);
		return 1;
	}
	if (r != -ENOENT)
		return r;
	return history_id_in_messages(state->history, request_id);
}

int state_find_by_node(struct state *state, const char *node_id, struct job **ret)
{
	return history_find_by_node(state->history, node_id, ret);
}

/* The newest job of owner whose child_node_id is node_id: 0 and a new reference, or -ENOENT. */
static int state_find_by_node_of(struct state *state, const char *node_id, uid_t owner,
				 struct job **ret)
{
	struct job_filter filter = {
		.child_node_id = node_id, .has_owner = true, .owner_uid = owner};
	struct job **jobs;
	size_t count;
	int64_t next;
	int r = history_query(state->history, &filter, 0, 1, &jobs, &count, &next);

	if (r < 0)
		return r;
	r = count == 1 ? 0 : -ENOENT;
	if (r == 0)
		*ret = jobs[0];
	free(jobs);
	return r;
}

int state_run_id_for_parent(struct state *state, const char *parent_node_id, uid_t owner,
			    bool any_owner, char **ret)
{
	struct job *parent;
	int r;

	*ret = NULL;
	if (!parent_node_id)
		return 0;
	r = any_owner ? history_find_by_node(state->history, parent_node_id, &parent)
		      : state_find_by_node_of(state, parent_node_id, owner, &parent);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	*ret = strdup(parent->run_id);
	job_unref(parent);
	return *ret ? 0 : -ENOMEM;
}

int state_counts(struct state *state, const struct job_filter *filter, struct job_counts *ret)
{
	/* While writes wait for the disk, the rows are what may be told, not memory. */
	if (!filter->mode && !filter->run_id && !filter->parent_node_id && !filter->child_node_id &&
	    !filter->has_owner && !filter->name && !filter->request_id_prefix &&
	    !filter->has_since && !filter->has_until && !history_failing(state->history)) {
		*ret = state->counts;
		return 0;
	}
	return history_count(state->history, filter, ret);
}

int state_query(struct state *state, const struct job_filter *filter, int64_t cursor, size_t limit,
		struct job ***ret_jobs, size_t *ret_count, int64_t *ret_next)
{
	return history_query(state->history, filter, cursor, limit, ret_jobs, ret_count, ret_next);
}

int state_foreach_child(struct state *state, const char *run_id, const char *node,
			int64_t after_seq, int64_t upto_seq, size_t limit,
			void (*cb)(const struct history_child *child, void *userdata),
			void *userdata, size_t *ret_count)
{
	return history_foreach_child(state->history, run_id, node, after_seq, upto_seq, limit, cb,
				     userdata, ret_count);
}

int state_last_seq_no(struct state *state, int64_t *ret)
{
	return history_last_job_seq(state->history, ret);
}

void state_foreach_open(struct state *state, void (*cb)(struct job *job, void *userdata),
			void *userdata)
{
	struct lh_entry *e;

	lh_foreach(state->open_jobs, e)
	{
		cb((struct job *)lh_entry_v(e), userdata);
	}
}

int state_prune(struct state *state, uint64_t max_jobs, double max_age, size_t batch,
		history_removed_fn removed_cb, void *userdata, size_t *ret_removed)
{
	struct job_counts removed;
	int r = history_prune(state->history, max_jobs, max_age, batch, removed_cb, userdata,
			      &removed);

	*ret_removed = 0;
	if (removed.closed > 0 || r < 0)
		state_forget_closed(state);
	if (r < 0)
		return r;
	state->counts.closed -= removed.closed;
	state->counts.success -= removed.success;
	state->counts.failure -= removed.failure;
	*ret_removed = (size_t)removed.closed;
	return 0;
}

size_t state_open_count(const struct state *state)
{
	return (size_t)state->open_jobs->count;
}
