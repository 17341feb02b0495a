/*
 * The async strategy (the seed's AsyncioExecutionStrategy): every task is a
 * real child process watched from the event loop, with no threads. At most
 * max_concurrency run at once; the rest wait in a FIFO queue. The strategy
 * owns each task handed to it (in a struct async_run) until the task's
 * completion message is published.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/linkhash.h>

#include "log.h"
#include "message.h"
#include "process.h"
#include "publisher.h"
#include "strategy.h"
#include "task.h"
#include "taskenv.h"

enum async_run_state {
	RUN_QUEUED,
	RUN_RUNNING,
};

struct async_run {
	TAILQ_ENTRY(async_run) entry; /* in the queue while queued */
	struct strategy_async *owner;
	struct task *task;
	enum async_run_state state;
	struct process *proc;
	struct event *timeout_ev;
	enum error_kind stop_reason; /* ERROR_NONE, ERROR_TIMEOUT or ERROR_CANCELLED */
	bool lent;		     /* its slot is lent to the tasks it waits for */
};

struct strategy_async {
	struct strategy base;
	struct event_base *evbase;
	unsigned max_concurrency;
	unsigned running; /* runs holding a slot (lent ones do not) */
	size_t max_queue;
	size_t queued;
	size_t output_limit;
	unsigned kill_grace_ms;
	struct taskenv *env; /* what every task's environment starts from */
	TAILQ_HEAD(, async_run) queue;
	struct event *start_ev; /* starts queued runs on the next loop turn */
	struct lh_table *runs;	/* request_id -> struct async_run *, queued and running */
	bool shut_down;
};

static void async_start_queued(struct strategy_async *sa);

static void async_run_free(struct async_run *run)
{
	if (run->timeout_ev)
		event_free(run->timeout_ev);
	process_free(run->proc);
	task_free(run->task);
	free(run);
}

/* Forgets a run: out of the index and its slot freed, without freeing it. */
static void async_run_detach(struct async_run *run)
{
	struct strategy_async *sa = run->owner;

	if (run->state == RUN_QUEUED) {
		TAILQ_REMOVE(&sa->queue, run, entry);
		sa->queued--;
	} else if (!run->lent) {
		sa->running--;
	}
	lh_table_delete(sa->runs, run->task->request_id);
}

static const char *async_signal_name(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "unknown";
}

static void async_failure_text(const struct async_run *run, const struct process_result *res,
			       enum error_kind *kind, char *text, size_t size)
{
	if (run->stop_reason == ERROR_TIMEOUT) {
		*kind = ERROR_TIMEOUT;
		snprintf(text, size, "timed out after %lld ms", (long long)run->task->timeout_ms);
	} else if (run->stop_reason == ERROR_CANCELLED) {
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

static void async_publish_outcome(struct async_run *run, const struct process_result *res)
{
	const struct task *task = run->task;
	struct message_ids ids = {
		.request_id = task->request_id,
		.parent_node_id = task->parent_node_id,
		.child_node_id = task->node_id,
		.run_id = task->run_id,
		.mode = task->mode,
	};
	struct message_output out = {
		.exit_code = res->signaled ? -1 : res->exit_code,
		.stdout_data = res->stdout_data,
		.stdout_len = res->stdout_len,
		.stdout_truncated = res->stdout_truncated,
		.stderr_data = res->stderr_data,
		.stderr_len = res->stderr_len,
		.stderr_truncated = res->stderr_truncated,
	};
	bool success = run->stop_reason == ERROR_NONE && !res->signaled && res->exit_code == 0;
	struct message *msg;
	enum error_kind kind;
	char text[128];
	int r = -ENOMEM;

	msg = message_new(success ? MESSAGE_REQUEST_SUCCESS : MESSAGE_REQUEST_FAILURE, &ids, &out);
	if (msg && !success) {
		async_failure_text(run, res, &kind, text, sizeof(text));
		r = message_set_error(msg, kind, text, res->signaled ? -1 : res->exit_code,
				      res->signaled ? res->signal : 0);
	}
	if (msg && (success || r == 0))
		r = publisher_publish(run->owner->base.publisher, msg);
	if (r < 0)
		log_error("cannot publish the outcome of %s: %s", task->request_id, strerror(-r));
	message_unref(msg);
}

static void async_process_done_cb(struct process *proc, const struct process_result *res,
				  void *userdata)
{
	struct async_run *run = userdata;
	struct strategy_async *sa = run->owner;

	async_publish_outcome(run, res);
	async_run_detach(run);
	async_run_free(run);
	async_start_queued(sa);
}

static void async_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct async_run *run = arg;

	run->stop_reason = ERROR_TIMEOUT;
	process_terminate(run->proc);
}

static int async_arm_timeout(struct async_run *run)
{
	int64_t ms = run->task->timeout_ms;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (ms <= 0)
		return 0;
	run->timeout_ev = evtimer_new(run->owner->evbase, async_timeout_cb, run);
	if (!run->timeout_ev)
		return -ENOMEM;
	return evtimer_add(run->timeout_ev, &tv);
}

/* A run that could not start fails as kind spawn, with the reason. */
static void async_spawn_failed(struct async_run *run, const char *why)
{
	struct strategy_async *sa = run->owner;

	strategy_publish_failure(&sa->base, run->task, ERROR_SPAWN, why);
	async_run_detach(run);
	async_run_free(run);
}

static void async_start(struct async_run *run)
{
	struct strategy_async *sa = run->owner;
	struct process_spec spec = {
		.argv = run->task->argv,
		.cwd = run->task->cwd,
		.stdin_data = run->task->stdin_data,
		.stdin_len = run->task->stdin_len,
		.output_limit = sa->output_limit,
		.kill_grace_ms = sa->kill_grace_ms,
	};
	struct taskenv_vars vars;
	char *error = NULL;
	int r;

	run->state = RUN_RUNNING;
	sa->running++;
	if (taskenv_build(sa->env, run->task, &vars) < 0) {
		async_spawn_failed(run, "out of memory");
		return;
	}
	spec.envp = vars.envp;
	r = process_spawn(sa->evbase, &spec, async_process_done_cb, run, &run->proc, &error);
	taskenv_vars_clear(&vars);
	if (r < 0) {
		async_spawn_failed(run, error ? error : strerror(-r));
		free(error);
		return;
	}
	if (async_arm_timeout(run) < 0)
		log_warning("cannot arm the timeout of %s", run->task->request_id);
	if (sa->base.hooks.task_started)
		sa->base.hooks.task_started(sa->base.hooks.ctx, run->task->request_id,
					    process_pid(run->proc));
}

static void async_start_queued(struct strategy_async *sa)
{
	struct async_run *run;

	while (sa->running < sa->max_concurrency && (run = TAILQ_FIRST(&sa->queue))) {
		TAILQ_REMOVE(&sa->queue, run, entry);
		sa->queued--;
		async_start(run);
	}
}

static bool async_can_accept(struct strategy *s)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	size_t free_slots =
		sa->running < sa->max_concurrency ? sa->max_concurrency - sa->running : 0;

	/* Runs queued this turn may not have taken their free slots yet. */
	return !sa->shut_down && sa->queued < sa->max_queue + free_slots;
}

static void async_start_cb(evutil_socket_t fd, short what, void *arg)
{
	async_start_queued(arg);
}

/*
 * Starts queued runs on the next loop turn rather than now: the submit's
 * answer then leaves before the process is spawned, which costs far more
 * than everything else a submit does.
 */
static void async_start_soon(struct strategy_async *sa)
{
	static const struct timeval now = {0, 0};

	if (!evtimer_pending(sa->start_ev, NULL))
		evtimer_add(sa->start_ev, &now);
}

static int async_execute(struct strategy *s, struct task *task)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct async_run *run;

	if (sa->shut_down) {
		task_free(task);
		return -ESHUTDOWN;
	}
	if (!async_can_accept(s)) {
		task_free(task);
		return -EBUSY;
	}
	run = calloc(1, sizeof(*run));
	if (!run || lh_table_insert(sa->runs, task->request_id, run) < 0) {
		free(run);
		task_free(task);
		return -ENOMEM;
	}
	run->owner = sa;
	run->task = task;
	run->state = RUN_QUEUED;
	TAILQ_INSERT_TAIL(&sa->queue, run, entry);
	sa->queued++;
	async_start_soon(sa);
	return 0;
}

static struct async_run *async_find(struct strategy_async *sa, const char *request_id)
{
	void *v;

	return lh_table_lookup_ex(sa->runs, request_id, &v) ? v : NULL;
}

static void async_stop(struct async_run *run, enum error_kind reason, const char *text)
{
	if (run->state == RUN_QUEUED) {
		strategy_publish_failure(&run->owner->base, run->task, reason, text);
		async_run_detach(run);
		async_run_free(run);
		return;
	}
	if (run->stop_reason == ERROR_NONE)
		run->stop_reason = reason;
	process_terminate(run->proc);
}

static int async_cancel(struct strategy *s, const char *request_id)
{
	struct async_run *run = async_find((struct strategy_async *)s, request_id);

	if (!run)
		return -ENOENT;
	async_stop(run, ERROR_CANCELLED, "cancelled before it started");
	return 0;
}

static int async_lend_slot(struct strategy *s, const char *request_id)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct async_run *run = async_find(sa, request_id);

	if (!run || run->state != RUN_RUNNING)
		return -ENOENT;
	if (run->lent)
		return 0;
	run->lent = true;
	sa->running--;
	async_start_queued(sa);
	return 0;
}

static int async_return_slot(struct strategy *s, const char *request_id)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct async_run *run = async_find(sa, request_id);

	if (!run || !run->lent)
		return -ENOENT;
	run->lent = false;
	sa->running++; /* may exceed the cap until a task ends: the waiter must go on */
	return 0;
}

static void async_cancel_each(struct strategy_async *sa)
{
	struct lh_entry *e, *next;

	/* Queued runs are freed while we walk: take the next entry first. */
	for (e = sa->runs->head; e; e = next) {
		next = e->next;
		async_stop((struct async_run *)lh_entry_v(e), ERROR_CANCELLED,
			   "cancelled: the daemon is shutting down");
	}
}

static void async_shutdown(struct strategy *s)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	sa->shut_down = true;
	async_cancel_each(sa);
}

static void async_describe(struct strategy *s, struct strategy_info *info)
{
	struct strategy_async *sa = (struct strategy_async *)s;

	info->mode = s->mode;
	info->strategy = "async";
	info->max_concurrency = sa->max_concurrency;
	info->running = (unsigned)(sa->runs->count - (int)sa->queued);
	info->queued = sa->queued;
	info->max_queue = sa->max_queue;
}

static void async_free(struct strategy *s)
{
	struct strategy_async *sa = (struct strategy_async *)s;
	struct lh_entry *e;

	if (sa->runs) {
		lh_foreach(sa->runs, e)
		{
			async_run_free((struct async_run *)lh_entry_v(e));
		}
		lh_table_free(sa->runs);
	}
	if (sa->start_ev)
		event_free(sa->start_ev);
	taskenv_free(sa->env);
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
	.shutdown = async_shutdown,
	.describe = async_describe,
	.free = async_free,
};

static unsigned async_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

int strategy_async_new(struct event_base *base, struct publisher *publisher,
		       const struct strategy_config *config, struct strategy **ret, char **error)
{
	struct strategy_async *sa = calloc(1, sizeof(*sa));

	*error = NULL;
	if (!sa)
		return -ENOMEM;
	if (config->setting_count > 0) {
		free(sa);
		if (asprintf(error, "mode \"%s\": the async strategy has no setting \"%.*s\"",
			     config->mode, (int)strcspn(config->settings[0], "="),
			     config->settings[0]) < 0)
			*error = NULL;
		return -EINVAL;
	}
	TAILQ_INIT(&sa->queue);
	sa->evbase = base;
	sa->max_concurrency =
		config->max_concurrency ? config->max_concurrency : async_online_cpus();
	sa->max_queue = config->max_queue ? config->max_queue : STRATEGY_DEFAULT_MAX_QUEUE;
	sa->output_limit =
		config->output_limit ? config->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	sa->kill_grace_ms =
		config->kill_grace_ms ? config->kill_grace_ms : STRATEGY_DEFAULT_KILL_GRACE_MS;
	sa->runs = lh_kchar_table_new(64, NULL);
	sa->start_ev = evtimer_new(base, async_start_cb, sa);
	sa->env = taskenv_new(config->socket_path);
	if (!sa->runs || !sa->start_ev || !sa->env ||
	    strategy_init_base(&sa->base, &async_ops, publisher, config->mode) < 0) {
		async_free(&sa->base);
		return -ENOMEM;
	}
	*ret = &sa->base;
	return 0;
}
