/*
 * Dependencies between jobs (a Task's after): the jobs that wait for
 * others to close, and an index from each awaited job to those waiting for
 * it, so that a job's close finds its dependents without a scan.
 */
#ifndef COORD_DEPS_H
#define COORD_DEPS_H

#include <stdbool.h>
#include <stddef.h>

struct deps;
struct job;
struct task;

/*
 * What becomes of a waiting job: ready (every job it waits for closed, or
 * closed well enough for its policy) or failed (one it waits for failed,
 * under after_policy success; failed_id names it). Each takes task (the
 * callee owns it); job is borrowed for the call.
 */
struct deps_ops {
	void (*ready)(struct job *job, struct task *task, void *ctx);
	void (*failed)(struct job *job, struct task *task, const char *failed_id, void *ctx);
	void *ctx;
};

/* NULL on ENOMEM. ops is copied. */
struct deps *deps_new(const struct deps_ops *ops);
/* Frees every waiting job's task and reference. Accepts NULL. */
void deps_free(struct deps *deps);

/*
 * job (a reference is taken) waits for the opened jobs ids (distinct, n >
 * 0) with task, which deps owns from now on. -EEXIST if job waits already,
 * -ENOMEM (task stays the caller's).
 */
int deps_add(struct deps *deps, struct job *job, struct task *task, char *const *ids, size_t n);

/*
 * The job request_id closed, well (success) or not: each job waiting for
 * it hears now, through the ops, once all it waits for has closed or
 * at once when it fails under policy success. The callbacks may add to
 * deps and close jobs (a close reaches deps_job_closed again later, from
 * the publisher: a long chain never recurses).
 */
void deps_job_closed(struct deps *deps, const char *request_id, bool success);

/* Stops job request_id waiting (a cancel): its task (caller frees), or NULL when not waiting. */
struct task *deps_remove(struct deps *deps, const char *request_id);

/* How many jobs wait. */
size_t deps_count(const struct deps *deps);

/*
 * Whether job from can start only once target has closed: from is target,
 * or waits for it through its after, directly or through jobs that wait
 * themselves. 1, 0, or -ENOMEM. Looks at each waiting job at most once.
 */
int deps_reaches(struct deps *deps, const char *from, const char *target);

/*
 * The stored text (task->stored) of the tasks of the jobs waiting: they
 * are held in memory, several times that, until they are queued.
 */
size_t deps_bytes(const struct deps *deps);
/* What task counts for in deps_bytes. */
size_t deps_task_bytes(const struct task *task);

#endif
