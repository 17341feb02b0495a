/*
 * CoordinatorState. It holds one reference to every opened job, in an
 * idmap by request_id (the job's own string: a compact index, since a
 * long queue is many opened jobs), and indexes the running ones by pid
 * (json-c's linkhash, no reference of its own). Closed jobs live in the
 * history; the last few closed are also kept (one reference each), since
 * whoever waited for them asks for them right away. Queued jobs live in
 * the history only once they are cold (state_cool): of those it keeps
 * only the request_id (in cold_ids, 16 bytes inline for the ids the
 * daemon makes), and loads the job back the first time anyone looks for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/linkhash.h>

#include "idmap.h"
#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "state.h"
#include "task.h"

/* How many of the jobs closed last are kept in memory. */
#define STATE_CLOSED_KEPT 16

struct state {
	struct history *history;
	struct idmap open_jobs;	   /* request_id -> struct job *, one reference each */
	struct idset cold_ids;	   /* request_ids of opened jobs kept in the history only */
	TAILQ_HEAD(, job) cooling; /* opened jobs to make cold (no reference of its own) */
	struct lh_table *running;  /* pid -> struct job * in open_jobs, pid > 0 */
	struct job_counts counts;  /* over every job in the history */
	size_t started;		   /* opened jobs in phase running */
	struct job *closed[STATE_CLOSED_KEPT]; /* the jobs closed last (a ring), or NULL */
	size_t closed_next;		       /* where the next closed job goes */
};

#define STATE_PID_KEY(pid) ((const void *)(uintptr_t)(pid))

static const char *state_job_id(const void *job)
{
	return ((const struct job *)job)->request_id;
}

static void state_job_unref_cb(void *job, void *userdata)
{
	job_unref(job);
}

/* Takes job out of the list of jobs to make cold, if it is in it. */
static void state_uncool(struct state *state, struct job *job)
{
	if (!job->cooling)
		return;
	TAILQ_REMOVE(&state->cooling, job, cool_entry);
	job->cooling = false;
}

struct state *state_new(struct history *history)
{
	struct state *state = calloc(1, sizeof(*state));

	if (!state)
		return NULL;
	state->history = history;
	idmap_init(&state->open_jobs, state_job_id);
	idset_init(&state->cold_ids);
	TAILQ_INIT(&state->cooling);
	state->running = lh_kptr_table_new(64, NULL);
	if (!state->running) {
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
	while (!TAILQ_EMPTY(&state->cooling))
		state_uncool(state, TAILQ_FIRST(&state->cooling));
	idmap_foreach(&state->open_jobs, state_job_unref_cb, NULL);
	idmap_clear(&state->open_jobs);
	idset_clear(&state->cold_ids);
	free(state);
}

int state_load(struct state *state)
{
	return history_count(state->history, &(struct job_filter){0}, &state->counts);
}

/* The cold job request_id, loaded back from the history and kept in memory again, or NULL. */
static struct job *state_thaw(struct state *state, const char *request_id)
{
	struct job *job;
	int r;

	if (!idset_has(&state->cold_ids, request_id))
		return NULL;
	r = history_find_job(state->history, request_id, &job);
	if (r < 0) {
		log_warning("cannot load the queued job %s back: %s", request_id, strerror(-r));
		return NULL;
	}
	if (job->status != JOB_OPENED || idmap_insert(&state->open_jobs, job) < 0) {
		log_warning("cannot load the queued job %s back: %s", request_id,
			    job->status != JOB_OPENED ? "it is closed" : strerror(ENOMEM));
		job_unref(job);
		return NULL;
	}
	idset_remove(&state->cold_ids, request_id);
	return job;
}

struct job *state_find_open(struct state *state, const char *request_id)
{
	struct job *job = idmap_find(&state->open_jobs, request_id);

	if (job || state->cold_ids.count == 0)
		return job;
	return state_thaw(state, request_id);
}

bool state_is_open(struct state *state, const char *request_id)
{
	return idmap_find(&state->open_jobs, request_id) || idset_has(&state->cold_ids, request_id);
}

int state_cool_now(struct state *state, struct job *job)
{
	int r;

	state_uncool(state, job);
	if (job->status != JOB_OPENED || job->phase != JOB_QUEUED || job->finishing ||
	    idmap_find(&state->open_jobs, job->request_id) != job)
		return -EBUSY;
	r = idset_add(&state->cold_ids, job->request_id);
	if (r < 0)
		return r;
	idmap_remove(&state->open_jobs, job);
	job_unref(job);
	return 0;
}

void state_cool_later(struct state *state, struct job *job)
{
	if (job->cooling)
		return;
	job->cooling = true;
	TAILQ_INSERT_TAIL(&state->cooling, job, cool_entry);
}

size_t state_cool(struct state *state, bool (*keep)(const struct job *job, void *ctx), void *ctx,
		  size_t *ret_left)
{
	TAILQ_HEAD(, job) held = TAILQ_HEAD_INITIALIZER(held);
	struct job *job;
	size_t left = 0, cooled = 0;

	while ((job = TAILQ_FIRST(&state->cooling))) {
		TAILQ_REMOVE(&state->cooling, job, cool_entry);
		/* Another holder (the turn's unwritten transaction, a cancel) would see a copy. */
		if (job->refcount > 1 && job->phase == JOB_QUEUED) {
			TAILQ_INSERT_TAIL(&held, job, cool_entry);
			left++;
			continue;
		}
		job->cooling = false;
		if (!(keep && keep(job, ctx)) && state_cool_now(state, job) == 0)
			cooled++;
	}
	TAILQ_CONCAT(&state->cooling, &held, cool_entry);
	*ret_left = left;
	return cooled;
}

bool state_is_cold(struct state *state, const char *request_id)
{
	return idset_has(&state->cold_ids, request_id);
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

int state_add_job(struct state *state, const struct task *task, uint64_t creation_seq,
		  struct job **ret)
{
	struct job *job;
	int r;

	/* A UUID the daemon just made is new (see coordinator_submit): no lookup for it. */
	if (!task->request_id_made && state_find_open(state, task->request_id))
		return -EEXIST;
	job = job_new_from_task(task);
	if (!job)
		return -ENOMEM;
	job->seq_no = (int64_t)creation_seq;
	/* Indexed first: once the row is written, nothing may fail. */
	if (idmap_insert(&state->open_jobs, job) < 0) {
		job_unref(job);
		return -ENOMEM;
	}
	r = history_insert_job(state->history, job);
	if (r < 0) {
		idmap_remove(&state->open_jobs, job);
		job_unref(job);
		return r;
	}
	state->counts.opened++;
	*ret = job;
	return 0;
}

int state_end_job(struct state *state, const char *request_id, enum job_result result,
		  int exit_code, enum error_kind kind, const char *error_message)
{
	/* An opened job's totals are unknown (-1) until its close says them. */
	return state_end_job_with_output(state, request_id, result, exit_code, kind, error_message,
					 -1, -1);
}

int state_end_job_with_output(struct state *state, const char *request_id, enum job_result result,
			      int exit_code, enum error_kind kind, const char *error_message,
			      int64_t stdout_bytes, int64_t stderr_bytes)
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
	job->stdout_bytes = stdout_bytes;
	job->stderr_bytes = stderr_bytes;
	state_uncool(state, job);
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
	idmap_remove(&state->open_jobs, job);
	job_unref(job);
	return r;
}

int state_adopt_open(struct state *state, struct job *job)
{
	if (job->status != JOB_OPENED)
		return -EINVAL;
	if (state_find_open(state, job->request_id))
		return -EEXIST;
	if (idmap_insert(&state->open_jobs, job_ref(job)) < 0) {
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

int state_set_starting(struct state *state, struct job *job)
{
	int r = state_set_running(state, job, 0, 0);

	if (r < 0)
		return r;
	/* While failing it waits in the backlog: the backlog is tried now, as state_commit does. */
	if (history_in_transaction(state->history) && !history_failing(state->history))
		return 1;
	return history_commit(state->history);
}

int state_add_commit_hook(struct state *state, void (*hook)(int result, void *userdata),
			  void *userdata)
{
	return history_add_commit_hook(state->history, hook, userdata);
}

void state_remove_commit_hook(struct state *state, void (*hook)(int result, void *userdata),
			      void *userdata)
{
	history_remove_commit_hook(state->history, hook, userdata);
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
	/* A cold job is read as stored, and stays cold. */
	job = idmap_find(&state->open_jobs, request_id);
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

struct state_foreach {
	void (*cb)(struct job *job, void *userdata);
	void *userdata;
};

static void state_foreach_cb(void *job, void *ctx)
{
	struct state_foreach *f = ctx;

	f->cb(job, f->userdata);
}

void state_foreach_open(struct state *state, void (*cb)(struct job *job, void *userdata),
			void *userdata)
{
	struct state_foreach f = {.cb = cb, .userdata = userdata};

	idmap_foreach(&state->open_jobs, state_foreach_cb, &f);
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
	return state->open_jobs.count + state->cold_ids.count;
}
