/*
 * The async strategy (the seed's AsyncioExecutionStrategy): every task is a
 * real child process watched from the event loop. One spawner thread calls
 * posix_spawn, so that the loop does not wait for each child's exec. At most
 * max_concurrency run at once; the rest wait in a FIFO queue. The strategy
 * owns each task handed to it (in a struct async_run) until the task's
 * completion message is published. When the coordinator can load tasks
 * back (strategy_can_load), a run queued behind the first queue_hot_tasks
 * keeps only its request_id: its task is dropped and loaded again when it
 * starts, so a long queue costs little memory, and a short one (the next
 * to start) costs no reading back. A waiting run holds only its queue
 * entry (with its request_id, 16 bytes for the ids the daemon makes);
 * what a started one needs more (its process, output, timer) is in a
 * struct async_started, allocated at its start.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>
#include <event2/event.h>

#include "cause.h"
#include "exechelper.h"
#include "log.h"
#include "message.h"
#include "output_store.h"
#include "process.h"
#include "publisher.h"
#include "slotqueue.h"
#include "spawner.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "sweeper.h"
#include "task.h"
#include "taskenv.h"

/* What a run needs once it has a slot; the run's, freed with it. */
struct async_started {
	struct async_run *run;
	struct strategy_async *owner;
	struct process *proc;	      /* NULL until spawned; starting until started */
	struct output_writer *output; /* where its output is kept, or NULL */
	struct event *timeout_ev;
	enum error_kind stop_reason; /* ERROR_NONE, ERROR_TIMEOUT or ERROR_CANCELLED */
	bool held;		     /* its start waits for the turn's commit (in starts) */
};

/* A queued task: small (56 bytes), since a queue may hold a million (issue 13). */
struct async_run {
	struct slotqueue_item item;    /* first: the queue's items are async runs */
	struct async_started *started; /* NULL while it waits for a slot */
};

/* A task that names only a run's request and mode, for a message about it. */
struct async_stub {
	struct task task;
	char request_id[REQKEY_STR_LEN];
};

/* A start stored in a turn's transaction, waiting to hear how its commit went. */
struct async_start {
	struct async_run *run;
	int stored; /* once known: 0, or the commit's negative errno */
};

struct strategy_async {
	struct strategy base;
	struct event_base *evbase;
	struct slotqueue slots;
	size_t output_limit;
	struct output_store *output_store; /* borrowed; NULL: output is not kept */
	unsigned kill_grace_ms;
	size_t queue_hot_tasks;	 /* queued runs that keep their task while the queue is shorter */
	struct taskenv *env;	 /* what every task's environment starts from */
	struct sweeper *sweeper; /* what finished tasks left in their groups */
	struct spawner *spawner; /* starts the processes */
	char *exec_helper;	 /* run_as = submitter: the helper's path; else NULL */
	/*
	 * Runs whose start is stored in a loop turn's transaction, in order:
	 * the first known_count have heard how their commit went, and
	 * release_ev spawns or fails them; the rest wait for the turn's commit.
	 * An array of the strategy's rather than links in every run, which
	 * would cost every queued task their room.
	 */
	struct async_start *starts;
	size_t start_count, start_cap, known_count;
	struct event *release_ev;
};

static void async_run_free(struct async_run *run)
{
	struct async_started *st = run->started;

	if (st) {
		if (st->timeout_ev)
			event_free(st->timeout_ev);
		process_free(st->proc);
		output_writer_free(st->output);
		free(st);
	}
	task_free(run->item.task);
	free(run);
}

/* Gives run what a started run needs. 0 or -ENOMEM. */
static int async_run_start(struct strategy_async *sa, struct async_run *run)
{
	run->started = malloc(sizeof(*run->started));
	if (!run->started)
		return -ENOMEM;
	*run->started = (struct async_started){.run = run, .owner = sa};
	return 0;
}

/* Whether run's start waits for its turn's commit. */
static bool async_run_held(const struct async_run *run)
{
	return run->started && run->started->held;
}

static const struct task *async_run_stub(struct strategy_async *sa, struct async_run *run,
					 struct async_stub *stub)
{
	/* Only read through the const task handed back. */
	stub->task =
		(struct task){.request_id = (char *)reqkey_str(&run->item.key, stub->request_id),
			      .mode = sa->base.mode};
	return &stub->task;
}

/* Loads run's task back. 0 or a negative errno. */
static int async_run_load(struct strategy_async *sa, struct async_run *run)
{
	char buf[REQKEY_STR_LEN];

	return strategy_load_task(&sa->base, reqkey_str(&run->item.key, buf), &run->item.task);
}

/*
 * Run's task: the one it holds, else loaded back (and then held), else
 * (it cannot be loaded) a stub, for a message about it.
 */
static const struct task *async_run_task(struct strategy_async *sa, struct async_run *run,
					 struct async_stub *stub)
{
	int r;

	if (run->item.task)
		return run->item.task;
	r = async_run_load(sa, run);
	if (r == 0)
		return run->item.task;
	async_run_stub(sa, run, stub);
	log_warning("cannot load the queued task %s: %s", stub->request_id, strerror(-r));
	return &stub->task;
}

/* Forgets a run and frees it, with its slot. */
static void async_run_end(struct strategy_async *sa, struct async_run *run)
{
	assert(!async_run_held(run)); /* a held run ends only once its turn's commit is known */
	slotqueue_remove(&sa->slots, &run->item);
	async_run_free(run);
}

static const char *async_signal_name(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "unknown";
}

static void async_failure_text(const struct async_run *run, const struct process_result *res,
			       enum error_kind *kind, char *text, size_t size)
{
	if (run->started->stop_reason == ERROR_TIMEOUT) {
		*kind = ERROR_TIMEOUT;
		snprintf(text, size, "timed out after %lld ms",
			 (long long)run->item.task->timeout_ms);
	} else if (run->started->stop_reason == ERROR_CANCELLED) {
		*kind = ERROR_CANCELLED;
		snprintf(text, size, "cancelled");
	} else if (res->signaled) {
		*kind = ERROR_SIGNAL;
		snprintf(text, size, "killed by signal %d (SIG%s)", res->signal,
			 async_signal_name(res->signal));
	} else {
		*kind = ERROR_EXIT;
		snprintf(text, size, "exited with status %d", res->exit_code);
	}
}

static void async_publish_outcome(struct async_started *st, const struct process_result *res)
{
	struct async_run *run = st->run;
	const struct task *task = run->item.task;
	struct message_ids ids;
	struct message_output out = {
		.exit_code = res->signaled ? -1 : res->exit_code,
		.stdout_data = res->stdout_data,
		.stdout_len = res->stdout_len,
		.stdout_truncated = res->stdout_truncated,
		.stderr_data = res->stderr_data,
		.stderr_len = res->stderr_len,
		.stderr_truncated = res->stderr_truncated,
		/* All of it went through the writer (none: nothing is kept, and 0 is shown). */
		.written_known = true,
		.stdout_written = st->output ? output_writer_written(st->output, OUTPUT_STDOUT) : 0,
		.stderr_written = st->output ? output_writer_written(st->output, OUTPUT_STDERR) : 0,
	};
	bool success = st->stop_reason == ERROR_NONE && !res->signaled && res->exit_code == 0;
	struct message *msg;
	enum error_kind kind;
	char text[128];
	int r = -ENOMEM;

	message_ids_of_task(task, &ids);
	msg = message_new(success ? MESSAGE_REQUEST_SUCCESS : MESSAGE_REQUEST_FAILURE, &ids, &out);
	if (msg && !success) {
		async_failure_text(run, res, &kind, text, sizeof(text));
		r = message_set_error(msg, kind, text, res->signaled ? -1 : res->exit_code,
				      res->signaled ? res->signal : 0);
	}
	if (msg && (success || r == 0))
		r = publisher_publish(st->owner->base.publisher, msg);
	if (r < 0)
		log_error("cannot publish the outcome of %s: %s", task->request_id, strerror(-r));
	message_unref(msg);
}

static void async_process_done_cb(struct process *proc, const struct process_result *res,
				  void *userdata)
{
	struct async_started *st = userdata;
	struct strategy_async *sa = st->owner;

	/* A task stopped while the helper still worked on it is a stopped task. */
	if (res->spawn_error && st->stop_reason == ERROR_NONE)
		strategy_publish_failure(&sa->base, st->run->item.task, ERROR_SPAWN,
					 res->spawn_error);
	else
		async_publish_outcome(st, res);
	async_run_end(sa, st->run);
	slotqueue_start_waiting(&sa->slots);
}

static void async_process_output_cb(struct process *proc, int fd_no, const char *data, size_t len,
				    void *userdata)
{
	struct async_started *st = userdata;

	if (st->output)
		output_writer_append(st->output,
				     fd_no == STDOUT_FILENO ? OUTPUT_STDOUT : OUTPUT_STDERR, data,
				     len);
}

/* Starts the files run's output is kept in; without them the task still runs. */
static void async_open_output(struct strategy_async *sa, struct async_run *run)
{
	int r;

	if (!sa->output_store)
		return;
	r = output_store_writer(sa->output_store, run->item.task->request_id, sa->output_limit,
				&run->started->output);
	if (r < 0)
		log_warning("cannot keep the output of %s: %s", run->item.task->request_id,
			    strerror(-r));
}

static void async_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct async_started *st = arg;

	st->stop_reason = ERROR_TIMEOUT;
	process_terminate(st->proc);
}

static int async_arm_timeout(struct async_started *st)
{
	int64_t ms = st->run->item.task->timeout_ms;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (ms <= 0)
		return 0;
	st->timeout_ev = evtimer_new(st->owner->evbase, async_timeout_cb, st);
	if (!st->timeout_ev)
		return -ENOMEM;
	return evtimer_add(st->timeout_ev, &tv);
}

/* A run that could not start fails as kind spawn, with the reason. */
static void async_spawn_failed(struct strategy_async *sa, struct async_run *run, const char *why)
{
	struct async_stub stub;

	strategy_publish_failure(&sa->base, async_run_task(sa, run, &stub), ERROR_SPAWN, why);
	async_run_end(sa, run);
}

/* The spawner started run's process, or could not. */
static void async_process_started_cb(struct process *proc, const char *error, void *userdata)
{
	struct async_started *st = userdata;
	struct async_run *run = st->run;
	struct strategy_async *sa = st->owner;

	if (error) {
		async_spawn_failed(sa, run, error);
		slotqueue_start_waiting(&sa->slots);
		return;
	}
	if (async_arm_timeout(st) < 0)
		log_warning("cannot arm the timeout of %s", run->item.task->request_id);
	if (sa->base.hooks.task_started)
		sa->base.hooks.task_started(sa->base.hooks.ctx, run->item.task->request_id,
					    process_pid(proc), process_starttime(proc));
}

/*
 * Loads the task of a run that kept none while it waited. A job that is
 * no longer opened is forgotten; one whose task cannot be read fails.
 * 0, or a negative errno once run is gone.
 */
static int async_load(struct strategy_async *sa, struct async_run *run)
{
	struct async_stub stub;
	int r;

	if (run->item.task)
		return 0;
	r = async_run_load(sa, run);
	if (r == -ENOENT) {
		async_run_end(sa, run);
		return r;
	}
	if (r < 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot load its task: %s", strerror(-r));
		strategy_publish_failure(&sa->base, async_run_stub(sa, run, &stub), ERROR_SPAWN,
					 why);
		async_run_end(sa, run);
	}
	return r;
}

/* Its start could not be stored (r): it fails without running. */
static void async_start_refused(struct strategy_async *sa, struct async_run *run, int r)
{
	char why[160];

	snprintf(why, sizeof(why), "cannot store that it starts: %s", strerror(-r));
	async_spawn_failed(sa, run, why);
}

/* Run's start is stored: its process starts now (see async_process_started_cb). */
static void async_spawn(struct strategy_async *sa, struct async_run *run)
{
	struct process_spec spec = {
		.result_tail = sa->output_limit < MESSAGE_OUTPUT_TAIL ? sa->output_limit
								      : MESSAGE_OUTPUT_TAIL,
		.output = async_process_output_cb,
		.kill_grace_ms = sa->kill_grace_ms,
		.sweeper = sa->sweeper,
		.spawner = sa->spawner,
		.started = async_process_started_cb,
		.argv = run->item.task->argv,
		.cwd = run->item.task->cwd,
		.stdin_data = run->item.task->stdin_data,
		.stdin_len = run->item.task->stdin_len,
	};
	struct taskenv_vars vars;
	char *error = NULL;
	bool as_submitter;
	int r;

	/* Root's tasks and ours run as we do; others' as their submitter, when so configured. */
	as_submitter = sa->exec_helper && exechelper_needed(run->item.task->owner_uid);
	if (as_submitter) {
		spec.exec_helper = sa->exec_helper;
		spec.uid = run->item.task->owner_uid;
	}
	if (taskenv_build_for(sa->env, run->item.task, as_submitter, &vars) < 0) {
		async_spawn_failed(sa, run, "out of memory");
		return;
	}
	spec.envp = vars.envp;
	async_open_output(sa, run);
	r = process_spawn(sa->evbase, &spec, async_process_done_cb, run->started,
			  &run->started->proc, &error);
	taskenv_vars_clear(&vars);
	if (r < 0) {
		async_spawn_failed(sa, run, error ? error : strerror(-r));
		free(error);
	}
}

/* Room for one more held start. */
static int async_starts_reserve(struct strategy_async *sa)
{
	size_t cap = sa->start_cap ? sa->start_cap * 2 : 16;
	struct async_start *starts;

	if (sa->start_count < sa->start_cap)
		return 0;
	starts = reallocarray(sa->starts, cap, sizeof(*starts));
	if (!starts)
		return -ENOMEM;
	sa->starts = starts;
	sa->start_cap = cap;
	return 0;
}

/*
 * The slot queue gives run a slot. Its start is stored before anything
 * runs, so a restart never runs it again: in the loop turn's transaction,
 * with every other start of that turn, and it is spawned once that
 * commit has succeeded (async_turn_stored).
 */
static void async_start_cb(struct slotqueue_item *item, void *ctx)
{
	struct async_run *run = (struct async_run *)item;
	struct strategy_async *sa = ctx;
	int r;

	r = async_load(sa, run);
	if (r < 0)
		return;
	r = async_run_start(sa, run);
	if (r == 0)
		r = async_starts_reserve(sa);
	if (r == 0)
		r = strategy_task_starting_turn(&sa->base, run->item.task);
	if (r < 0) {
		async_start_refused(sa, run, r);
		return;
	}
	if (r > 0) {
		run->started->held = true;
		sa->starts[sa->start_count++] = (struct async_start){.run = run};
		return;
	}
	async_spawn(sa, run);
}

/*
 * The turn's commit said how it went: its held starts are spawned or
 * failed now; the slot of one that ended (also one whose spawn failed at
 * once) goes to the next waiting task.
 */
static void async_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct strategy_async *sa = arg;
	size_t known = sa->known_count;

	/* By index: what this does may hold more starts, and move the array. */
	for (size_t i = 0; i < known; i++) {
		struct async_run *run = sa->starts[i].run;
		int stored = sa->starts[i].stored;

		run->started->held = false;
		if (stored < 0) {
			async_start_refused(sa, run, stored);
		} else if (run->started->stop_reason != ERROR_NONE) {
			strategy_publish_failure(&sa->base, run->item.task,
						 run->started->stop_reason,
						 "cancelled before it started");
			async_run_end(sa, run);
		} else {
			async_spawn(sa, run);
		}
	}
	memmove(sa->starts, sa->starts + known, (sa->start_count - known) * sizeof(*sa->starts));
	sa->start_count -= known;
	sa->known_count -= known;
	slotqueue_start_waiting(&sa->slots);
}

/* Called from inside the history's commit: only takes note (see strategy_ops). */
static void async_turn_stored(struct strategy *s, int result)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	if (sa->known_count == sa->start_count)
		return;
	for (size_t i = sa->known_count; i < sa->start_count; i++)
		sa->starts[i].stored = result;
	sa->known_count = sa->start_count;
	event_active(sa->release_ev, EV_TIMEOUT, 0);
}

static bool async_can_accept(struct strategy *s)
{
	return slotqueue_can_accept(&((struct strategy_async *)s)->slots);
}

static int async_execute(struct strategy *s, struct task *task)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct async_run *run = calloc(1, sizeof(*run));
	/*
	 * Queued behind the first queue_hot_tasks, it keeps only its
	 * request_id (its queue key) when its task can be loaded back at
	 * start. A queue only moves up: a run kept now stays among the first
	 * until it starts.
	 */
	bool cold = strategy_can_load(s) && slotqueue_waiting(&sa->slots) >= sa->queue_hot_tasks;
	int r;

	if (!run) {
		task_free(task);
		return -ENOMEM;
	}
	run->item.task = task;
	run->item.admitted = task->admitted;
	r = slotqueue_add(&sa->slots, &run->item);
	if (r < 0) {
		async_run_free(run);
		return sa->slots.closed ? -ESHUTDOWN : r;
	}
	if (cold) {
		task_free(task);
		run->item.task = NULL;
	}
	return 0;
}

static struct async_run *async_find(struct strategy_async *sa, const char *request_id)
{
	return (struct async_run *)slotqueue_find(&sa->slots, request_id);
}

static void async_stop(struct strategy_async *sa, struct async_run *run, enum error_kind reason,
		       const char *text)
{
	struct async_started *st = run->started;
	struct async_stub stub;

	if (run->item.waiting) {
		strategy_publish_failure(&sa->base, async_run_task(sa, run, &stub), reason, text);
		async_run_end(sa, run);
		return;
	}
	assert(st); /* a run that is not waiting has started */
	if (st->stop_reason == ERROR_NONE)
		st->stop_reason = reason;
	/* Held for its turn's commit: it ends when that is known, without starting. */
	if (st->proc)
		process_terminate(st->proc);
}

static int async_cancel(struct strategy *s, const char *request_id)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct async_run *run = async_find(sa, request_id);

	if (!run)
		return -ENOENT;
	async_stop(sa, run, ERROR_CANCELLED, "cancelled before it started");
	return 0;
}

static int async_lend_slot(struct strategy *s, const char *request_id)
{
	return slotqueue_lend(&((struct strategy_async *)s)->slots, request_id);
}

static int async_return_slot(struct strategy *s, const char *request_id)
{
	return slotqueue_return(&((struct strategy_async *)s)->slots, request_id);
}

/* A queued task stays queued in the history for the next start; a running one is stopped. */
static void async_shutdown_cb(struct slotqueue_item *item, void *ctx)
{
	struct async_run *run = (struct async_run *)item;
	struct strategy_async *sa = ctx;

	if (run->item.waiting) {
		async_run_end(sa, run);
		return;
	}
	async_stop(sa, run, ERROR_CANCELLED, "cancelled: the daemon is shutting down");
}

static void async_hold(struct strategy *s)
{
	slotqueue_close(&((struct strategy_async *)s)->slots);
}

static void async_shutdown(struct strategy *s)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	slotqueue_close(&sa->slots);
	slotqueue_foreach(&sa->slots, async_shutdown_cb, sa);
}

static void async_describe(struct strategy *s, struct strategy_info *info)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	info->mode = s->mode;
	info->strategy = "async";
	slotqueue_describe(&sa->slots, info);
	info->output_limit = sa->output_limit;
	info->kill_grace_ms = sa->kill_grace_ms;
	info->queue_hot_tasks = sa->queue_hot_tasks;
}

static void async_tune(struct strategy *s, const struct strategy_tuning *tuning)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	sa->output_limit =
		tuning->output_limit ? tuning->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	sa->kill_grace_ms =
		tuning->kill_grace_ms ? tuning->kill_grace_ms : STRATEGY_DEFAULT_KILL_GRACE_MS;
	sa->queue_hot_tasks = tuning->queue_hot_tasks;
	slotqueue_tune(&sa->slots, tuning);
}

static bool async_keeps_task(struct strategy *s, const char *request_id)
{
	struct async_run *run = async_find((struct strategy_async *)s, request_id);

	return run && run->item.waiting && run->item.task;
}

static void async_free_cb(struct slotqueue_item *item, void *ctx)
{
	struct strategy_async *sa = ctx;

	slotqueue_remove(&sa->slots, item);
	async_run_free((struct async_run *)item);
}

static void async_free(struct strategy *s)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	slotqueue_foreach(&sa->slots, async_free_cb, sa); /* none before init */
	slotqueue_clear(&sa->slots);
	if (sa->release_ev)
		event_free(sa->release_ev);
	free(sa->starts);
	spawner_free(sa->spawner); /* after the runs: their processes are killed on start */
	sweeper_free(sa->sweeper);
	taskenv_free(sa->env);
	free(sa->exec_helper);
	free(s->mode);
	free(sa);
}

static const struct strategy_ops async_ops = {
	.kind = "async",
	.can_accept = async_can_accept,
	.execute = async_execute,
	.cancel = async_cancel,
	.lend_slot = async_lend_slot,
	.return_slot = async_return_slot,
	.hold = async_hold,
	.shutdown = async_shutdown,
	.describe = async_describe,
	.tune = async_tune,
	.turn_stored = async_turn_stored,
	.keeps_task = async_keeps_task,
	.free = async_free,
};

int strategy_async_new(struct event_base *base, struct publisher *publisher,
		       const struct strategy_config *config, struct strategy **ret, char **error)
{
	struct strategy_async *sa = calloc(1, sizeof(*sa));

	*error = NULL;
	if (!sa)
		return -ENOMEM;
	if (config->setting_count > 0) {
		free(sa);
		return cause_set(
			error, -EINVAL, "mode \"%s\": the async strategy has no setting \"%.*s\"",
			config->mode, (int)strcspn(config->settings[0], "="), config->settings[0]);
	}
	sa->evbase = base;
	sa->output_limit =
		config->output_limit ? config->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	sa->output_store = config->output_store;
	sa->kill_grace_ms =
		config->kill_grace_ms ? config->kill_grace_ms : STRATEGY_DEFAULT_KILL_GRACE_MS;
	sa->queue_hot_tasks = config->queue_hot_tasks;
	sa->env = taskenv_new(config->socket_path);
	sa->sweeper = sweeper_new(base);
	if (spawner_new(base, &sa->spawner) < 0)
		sa->spawner = NULL;
	if (config->run_as_submitter)
		sa->exec_helper = exechelper_path(config->exec_helper);
	if (slotqueue_init(&sa->slots, base, config->max_concurrency, config->max_queue,
			   async_start_cb, sa) < 0 ||
	    !sa->env || !sa->sweeper || !sa->spawner ||
	    !(sa->release_ev = event_new(base, -1, 0, async_release_cb, sa)) ||
	    (config->run_as_submitter && !sa->exec_helper) ||
	    strategy_init_base(&sa->base, &async_ops, publisher, config->mode) < 0) {
		async_free(&sa->base);
		return -ENOMEM;
	}
	*ret = &sa->base;
	return 0;
}
