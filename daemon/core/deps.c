/*
 * Dependencies. deps owns a record per waiting job (its task, and a
 * reference to its job) and two json-c linkhash tables: waiting, keyed by
 * the job's own request_id string, holding one reference to each record;
 * and dependents, keyed by a copy of each awaited request_id, holding a
 * list of the records waiting for it (one reference each). A record that
 * stops waiting early (failed, cancelled) stays in the lists it is in,
 * marked done, until the job it waits for closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/linkhash.h>

#include "deps.h"
#include "job.h"
#include "task.h"

struct deps_wait {
	struct job *job;   /* a reference */
	struct task *task; /* owned while it waits, else NULL */
	size_t pending;	   /* jobs of its after still opened */
	size_t bytes;	   /* its task's stored text, counted in deps->bytes while it waits */
	unsigned refs;	   /* the waiting table's and one per list it is in */
	bool done;
};

struct deps_list {
	struct deps_wait **v;
	size_t count;
	size_t cap;
};

struct deps {
	struct deps_ops ops;
	struct lh_table *waiting;    /* request_id -> struct deps_wait * */
	struct lh_table *dependents; /* awaited request_id (owned) -> struct deps_list * */
	size_t bytes;		     /* the stored text of the tasks of the jobs waiting */
};

static void deps_wait_unref(struct deps_wait *w)
{
	if (!w || --w->refs > 0)
		return;
	task_free(w->task);
	job_unref(w->job);
	free(w);
}

static void deps_list_free(struct deps_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		deps_wait_unref(list->v[i]);
	free(list->v);
	free(list);
}

static void deps_waiting_entry_free(struct lh_entry *e)
{
	deps_wait_unref((struct deps_wait *)lh_entry_v(e));
}

static void deps_dependents_entry_free(struct lh_entry *e)
{
	free((void *)lh_entry_k(e));
	deps_list_free((struct deps_list *)lh_entry_v(e));
}

struct deps *deps_new(const struct deps_ops *ops)
{
	struct deps *deps = calloc(1, sizeof(*deps));

	if (!deps)
		return NULL;
	deps->ops = *ops;
	deps->waiting = lh_kchar_table_new(64, deps_waiting_entry_free);
	deps->dependents = lh_kchar_table_new(64, deps_dependents_entry_free);
	if (!deps->waiting || !deps->dependents) {
		deps_free(deps);
		return NULL;
	}
	return deps;
}

void deps_free(struct deps *deps)
{
	if (!deps)
		return;
	if (deps->dependents)
		lh_table_free(deps->dependents);
	if (deps->waiting)
		lh_table_free(deps->waiting);
	free(deps);
}

/* The list of those waiting for id, made when there is none. NULL on ENOMEM. */
static struct deps_list *deps_list_of(struct deps *deps, const char *id)
{
	struct deps_list *list;
	char *key;
	void *v;

	if (lh_table_lookup_ex(deps->dependents, id, &v))
		return v;
	list = calloc(1, sizeof(*list));
	key = strdup(id);
	if (!list || !key || lh_table_insert(deps->dependents, key, list) < 0) {
		free(list);
		free(key);
		return NULL;
	}
	return list;
}

static int deps_list_add(struct deps_list *list, struct deps_wait *w)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 4;
		struct deps_wait **v = realloc(list->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		list->v = v;
		list->cap = cap;
	}
	list->v[list->count++] = w;
	w->refs++;
	return 0;
}

/* w stops waiting: out of the waiting table (its lists keep it, marked done). */
static void deps_wait_end(struct deps *deps, struct deps_wait *w)
{
	w->done = true;
	w->task = NULL;
	deps->bytes -= w->bytes;
	w->bytes = 0;
	lh_table_delete(deps->waiting, w->job->request_id);
}

size_t deps_task_bytes(const struct task *task)
{
	return task->stored ? strlen(task->stored) : 0;
}

int deps_add(struct deps *deps, struct job *job, struct task *task, char *const *ids, size_t n)
{
	struct deps_wait *w;
	void *v;

	if (lh_table_lookup_ex(deps->waiting, job->request_id, &v))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->job = job_ref(job);
	w->pending = n;
	w->refs = 1;
	if (lh_table_insert(deps->waiting, job->request_id, w) < 0) {
		job_unref(w->job);
		free(w);
		return -ENOMEM;
	}
	w->task = task;
	w->bytes = deps_task_bytes(task);
	deps->bytes += w->bytes;
	for (size_t i = 0; i < n; i++) {
		struct deps_list *list = deps_list_of(deps, ids[i]);

		if (!list || deps_list_add(list, w) < 0) {
			/* The lists it joined drop it when their jobs close. */
			deps_wait_end(deps, w);
			return -ENOMEM;
		}
	}
	return 0;
}

/* One job w waits for closed: w may be ready or failed now. */
static void deps_wait_hears(struct deps *deps, struct deps_wait *w, const char *closed_id,
			    bool success)
{
	bool failed = !success && w->task->after_policy == TASK_AFTER_SUCCESS;
	struct task *task = w->task;
	struct job *job;

	if (!failed && --w->pending > 0)
		return;
	job = job_ref(w->job);
	deps_wait_end(deps, w);
	if (failed)
		deps->ops.failed(job, task, closed_id, deps->ops.ctx);
	else
		deps->ops.ready(job, task, deps->ops.ctx);
	job_unref(job);
}

void deps_job_closed(struct deps *deps, const char *request_id, bool success)
{
	struct deps_list *list;
	struct deps_list taken;
	void *v;

	if (!lh_table_lookup_ex(deps->dependents, request_id, &v))
		return;
	/* Take the list out first: the callbacks may wait on other jobs meanwhile. */
	list = v;
	taken = *list;
	*list = (struct deps_list){0};
	lh_table_delete(deps->dependents, request_id);
	for (size_t i = 0; i < taken.count; i++) {
		struct deps_wait *w = taken.v[i];

		if (!w->done)
			deps_wait_hears(deps, w, request_id, success);
		deps_wait_unref(w);
	}
	free(taken.v);
}

struct task *deps_remove(struct deps *deps, const char *request_id)
{
	struct deps_wait *w;
	struct task *task;
	void *v;

	if (!lh_table_lookup_ex(deps->waiting, request_id, &v))
		return NULL;
	w = v;
	task = w->task;
	deps_wait_end(deps, w);
	return task;
}

size_t deps_count(const struct deps *deps)
{
	return (size_t)deps->waiting->count;
}

size_t deps_bytes(const struct deps *deps)
{
	return deps->bytes;
}

int deps_reaches(struct deps *deps, const char *from, const char *target)
{
	struct lh_table *seen;
	const char **stack;
	size_t depth = 0, cap = deps_count(deps) + 1;
	int found = 0;
	void *v;

	if (strcmp(from, target) == 0)
		return 1;
	if (!lh_table_lookup_ex(deps->waiting, from, &v))
		return 0; /* not waiting: it needs nothing to start */
	/* Each waiting job is pushed at most once: the stack never holds more than there are. */
	stack = calloc(cap, sizeof(*stack));
	seen = lh_kchar_table_new(64, NULL);
	if (!stack || !seen) {
		free(stack);
		if (seen)
			lh_table_free(seen);
		return -ENOMEM;
	}
	stack[depth++] = from;
	if (lh_table_insert(seen, from, NULL) < 0)
		found = -ENOMEM;
	while (found == 0 && depth > 0) {
		struct deps_wait *w;

		if (!lh_table_lookup_ex(deps->waiting, stack[--depth], &v))
			continue;
		w = v;
		for (size_t i = 0; found == 0 && w->task && i < w->task->after_count; i++) {
			const char *id = w->task->after[i];

			if (strcmp(id, target) == 0)
				found = 1;
			else if (!lh_table_lookup_ex(seen, id, NULL) &&
				 lh_table_lookup_ex(deps->waiting, id, NULL)) {
				if (lh_table_insert(seen, id, NULL) < 0)
					found = -ENOMEM;
				else
					stack[depth++] = id;
			}
		}
	}
	lh_table_free(seen);
	free(stack);
	return found;
}
