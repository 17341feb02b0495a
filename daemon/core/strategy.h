/*
 * The execution strategy interface (the seed's TaskExecutionStrategy): a
 * small table of operations, one file per strategy. A strategy runs the
 * tasks handed to it and reports each outcome only by publishing a
 * request_success or request_failure message on the publisher.
 */
#ifndef COORD_STRATEGY_H
#define COORD_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job.h"

struct event_base;
struct output_store;
struct publisher;
struct strategy;
struct task;

/* What `modes` reports about one mode. Strings are borrowed from the strategy. */
struct strategy_info {
	const char *mode;
	const char *strategy;
	unsigned max_concurrency;
	unsigned running;
	size_t queued;
	size_t waiting; /* filled by the coordinator: its jobs waiting on their after */
	size_t max_queue;
	bool paused;
	size_t output_limit;
	unsigned kill_grace_ms;
};

/* What may change while a mode runs (mode_set, a reload); 0 means the default, as in the config. */
struct strategy_tuning {
	unsigned max_concurrency;
	size_t max_queue;
	size_t output_limit;	/* for tasks started from now on */
	unsigned kill_grace_ms; /* the same */
	bool paused;
};

/* Settings every strategy understands; a mode's config section fills them. */
struct strategy_config {
	const char *mode;	  /* the mode's name, the key clients use */
	const char *kind;	  /* which strategy, e.g. "async" */
	unsigned max_concurrency; /* 0: the number of online CPUs */
	size_t max_queue;	  /* 0: the default (1000000) */
	size_t output_limit;	  /* per stream; 0: the default (1 MiB) */
	unsigned kill_grace_ms;	  /* 0: the default (5000) */
	const char *socket_path;  /* given to tasks as COORD_SOCKET; may be NULL */
	const char *state_dir;	  /* the daemon's state directory, for a strategy's own files */
	struct output_store *output_store; /* where tasks' output is kept (borrowed); may be NULL */
	bool run_as_submitter;	 /* others' tasks run as their submitters, via exec_helper */
	const char *exec_helper; /* NULL: the default one (see exechelper.h) */
	/* The strategy's own settings, "KEY=VALUE", each KEY prefixed by its kind and "_". */
	char *const *settings;
	size_t setting_count;
};

#define STRATEGY_DEFAULT_MAX_QUEUE     1000000
#define STRATEGY_MAX_CONCURRENCY       100000 /* the most max_concurrency may be */
#define STRATEGY_DEFAULT_OUTPUT_LIMIT  (1024 * 1024)
#define STRATEGY_DEFAULT_KILL_GRACE_MS 5000

/*
 * How a strategy tells the coordinator that a task is about to start (its
 * start must be stored first: 0, or a negative errno and the task must not
 * start), that its process started, and what it needs to find the task
 * again after a restart (ref, a short string of its own, stored with the
 * job at once; see reattach). task_load gives a queued task back whole
 * (a new task in *ret, the caller's; -ENOENT when it is no longer an
 * opened job): a strategy that has it need not keep the tasks that wait
 * for a slot in memory, and loads each when it starts.
 */
struct strategy_hooks {
	int (*task_starting)(void *ctx, const char *request_id);
	/*
	 * As task_starting, but the start is stored in the loop turn's
	 * transaction: 1 when it waits for that commit (the strategy's
	 * turn_stored says how it went; the task must not start before
	 * turn_stored(0)), 0 when it is committed already, or a negative errno.
	 */
	int (*task_starting_turn)(void *ctx, const char *request_id);
	int (*task_load)(void *ctx, const char *request_id, struct task **ret);
	/* starttime: the kernel's start time of pid (/proc/PID/stat), 0 if unknown. */
	void (*task_started)(void *ctx, const char *request_id, pid_t pid, uint64_t starttime);
	void (*task_ref)(void *ctx, const char *request_id, const char *ref);
	void *ctx;
};

struct strategy_ops {
	const char *kind;
	/* Whether execute would take one more task now (false: queue full or shut down). */
	bool (*can_accept)(struct strategy *s);
	/*
	 * Takes ownership of task and runs it, now or once a slot is free.
	 * Returns 0, -EBUSY when the queue is full, -ESHUTDOWN after shutdown
	 * (the task is freed in every case).
	 */
	int (*execute)(struct strategy *s, struct task *task);
	/* Cancels a queued or running task: -ENOENT when it has no such task. */
	int (*cancel)(struct strategy *s, const char *request_id);
	/* Lends the slot of a running task to others while it waits for them. */
	int (*lend_slot)(struct strategy *s, const char *request_id);
	int (*return_slot)(struct strategy *s, const char *request_id);
	/*
	 * Starts no queued task from now on (the daemon is draining); they
	 * stay queued, in memory and in the history, for the next start.
	 */
	void (*hold)(struct strategy *s);
	/*
	 * At start, before the loop runs: takes back an opened job an earlier
	 * run of the daemon left, by the ref that run stored (task_ref). 0: it
	 * follows the job like one of its own and publishes its outcome; a
	 * negative errno: it cannot (the caller closes the job as lost). May
	 * be NULL.
	 */
	int (*reattach)(struct strategy *s, const struct job *job, const char *ref);
	/*
	 * Refuses new tasks and cancels the running ones; the queued ones are
	 * dropped without a message (their jobs stay queued in the history,
	 * and the next start runs them). Called once.
	 */
	void (*shutdown)(struct strategy *s);
	void (*describe)(struct strategy *s, struct strategy_info *info);
	/* Applies tuning at once; queued tasks that now fit start on the next loop turn. */
	void (*tune)(struct strategy *s, const struct strategy_tuning *tuning);
	/*
	 * The loop turn's transaction was committed (result 0) or lost (a
	 * negative errno): the tasks whose start waited for it (see
	 * strategy_task_starting_turn) may start, or must fail without
	 * starting. Called from inside the history's commit: it may only take
	 * note and act later. May be NULL.
	 */
	void (*turn_stored)(struct strategy *s, int result);
	void (*free)(struct strategy *s);
};

/* The part every strategy shares; a strategy's own struct starts with it. */
struct strategy {
	const struct strategy_ops *ops;
	char *mode;
	struct publisher *publisher;
	struct strategy_hooks hooks;
};

/* Frees a strategy (ops->free). Accepts NULL. */
void strategy_free(struct strategy *s);

/* Sets the fields of struct strategy; for strategy constructors. 0 or -ENOMEM. */
int strategy_init_base(struct strategy *s, const struct strategy_ops *ops,
		       struct publisher *publisher, const char *mode);

/*
 * Called by a strategy just before it starts task: the coordinator stores
 * (commits) that the job runs. 0, or a negative errno: the task must fail
 * without starting.
 */
int strategy_task_starting(struct strategy *s, const struct task *task);

/*
 * The same, but stored in the loop turn's transaction: 1 when the task
 * must wait for turn_stored (0: start it; a negative errno: fail it), 0
 * when stored and committed already (start it now), or a negative errno:
 * the task must fail without starting.
 */
int strategy_task_starting_turn(struct strategy *s, const struct task *task);

/* Whether the strategy may drop queued tasks and load them at start (see task_load). */
bool strategy_can_load(const struct strategy *s);

/* The queued task request_id, whole, through task_load: 0 and *ret, -ENOENT, -ENOMEM. */
int strategy_load_task(struct strategy *s, const char *request_id, struct task **ret);

/* Publishes the failure of a task that never ran, e.g. cancelled while queued. */
int strategy_publish_failure(struct strategy *s, const struct task *task, enum error_kind kind,
			     const char *error_message);

#endif
