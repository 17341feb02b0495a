/*
 * The slurm strategy: every task is a batch job on a Slurm cluster, handed
 * over with sbatch and followed with one `scontrol -o show job` per poll
 * for all of them. At most max_concurrency jobs are in Slurm at once; the
 * rest wait in a FIFO queue in the daemon. The strategy owns each task
 * handed to it (in a struct slurm_run) until the task's completion message
 * is published, and every command it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/linkhash.h>

#include "log.h"
#include "message.h"
#include "publisher.h"
#include "slotqueue.h"
#include "slurm_command.h"
#include "slurm_parse.h"
#include "slurm_settings.h"
#include "strategy.h"
#include "task.h"
#include "taskenv.h"

/* What a command may print: sbatch a job id, scancel errors; scontrol lists every job. */
#define SLURM_SMALL_OUTPUT (64 * 1024)
#define SLURM_POLL_OUTPUT  (64 * 1024 * 1024)
/* Polls in a row that must miss a job before it counts as lost. */
#define SLURM_LOST_AFTER 2
/* How long the daemon's last scancel may hold up its exit. */
#define SLURM_FINAL_SCANCEL_WAIT_MS 10000

/* Where a run is once it holds a slot (until then it waits in the slot queue). */
enum slurm_run_state {
	SRUN_SUBMITTING, /* sbatch runs */
	SRUN_IN_SLURM,	 /* a job of Slurm's, followed by the polls */
};

struct slurm_run {
	struct slotqueue_item item; /* first: the queue's items are Slurm runs */
	struct strategy_slurm *owner;
	enum slurm_run_state state;
	struct slurm_command *submit;  /* sbatch, while submitting */
	char job_id[SLURM_JOB_ID_MAX]; /* once in Slurm */
	char *stdin_path;	       /* its stdin in the spool; NULL when it has none */
	struct event *timeout_ev;
	enum error_kind stop_reason;   /* ERROR_NONE, ERROR_TIMEOUT or ERROR_CANCELLED */
	bool scancel_sent;	       /* its stop went out in a scancel */
	bool started;		       /* a poll saw it run */
	unsigned long long first_poll; /* the first poll that must list it */
	unsigned long long seen_poll;  /* the last poll that listed it */
	unsigned misses;	       /* polls in a row that did not */
};

struct strategy_slurm {
	struct strategy base;
	struct event_base *evbase;
	struct slurm_settings settings;
	struct slotqueue slots;
	size_t output_limit;
	struct taskenv *env;
	struct lh_table *jobs; /* Slurm job id -> struct slurm_run *, runs in Slurm */
	struct event *poll_ev;
	struct slurm_command *poll; /* scontrol, while polling */
	unsigned long long polls_started;
	struct event *scancel_ev;
	struct slurm_command *scancel;	     /* scancel for stopped runs, while it runs */
	struct slurm_command *final_scancel; /* scancel of everything at shutdown */
};

static void slurm_poll_soon(struct strategy_slurm *sl);
static void slurm_scancel_soon(struct strategy_slurm *sl);

static void slurm_remove_spool_file(const char *path)
{
	if (path && unlink(path) < 0 && errno != ENOENT)
		log_warning("cannot remove %s: %s", path, strerror(errno));
}

static void slurm_run_free(struct slurm_run *run)
{
	if (run->timeout_ev)
		event_free(run->timeout_ev);
	slurm_command_free(run->submit);
	slurm_remove_spool_file(run->stdin_path);
	free(run->stdin_path);
	task_free(run->item.task);
	free(run);
}

/* Forgets a run: out of the indexes and its slot freed, without freeing it. */
static void slurm_run_detach(struct slurm_run *run)
{
	struct strategy_slurm *sl = run->owner;

	if (!run->item.waiting && run->state == SRUN_IN_SLURM)
		lh_table_delete(sl->jobs, run->job_id);
	slotqueue_remove(&sl->slots, &run->item);
}

static void slurm_run_end(struct slurm_run *run)
{
	slurm_run_detach(run);
	slurm_run_free(run);
}

/* A run that never got into Slurm, or that the daemon gives up on, fails without a result. */
static void slurm_run_fail(struct slurm_run *run, enum error_kind kind, const char *text)
{
	struct strategy_slurm *sl = run->owner;

	if (strategy_publish_failure(&sl->base, run->item.task, kind, text) < 0)
		log_error("cannot publish the outcome of %s", run->item.task->request_id);
	slurm_run_end(run);
}

/* ---- the outcome of a job ---- */

struct slurm_output {
	char *data;
	size_t len;
	bool truncated;
};

/* Reads up to limit bytes of path and removes it; a missing file is empty output. */
static void slurm_output_take(const char *path, size_t limit, struct slurm_output *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t want;

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		if (errno != ENOENT)
			log_warning("cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0)
		st.st_size = 0;
	/* The job has ended: the file does not grow any more. */
	want = (size_t)st.st_size < limit ? (size_t)st.st_size : limit;
	out->truncated = (size_t)st.st_size > limit;
	out->data = malloc(want ? want : 1);
	while (out->data && out->len < want) {
		ssize_t n = read(fd, out->data + out->len, want - out->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
	}
	close(fd);
	slurm_remove_spool_file(path);
}

static void slurm_output_path(const struct strategy_slurm *sl, const struct slurm_run *run,
			      const char *ext, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.%s", sl->settings.spool_dir, run->job_id, ext);
}

/* The daemon's own reason to stop a job comes before what Slurm says of it. */
static void slurm_stop_outcome(const struct slurm_run *run, struct slurm_outcome *oc)
{
	if (run->stop_reason == ERROR_TIMEOUT) {
		oc->kind = ERROR_TIMEOUT;
		oc->signal = 0;
		snprintf(oc->message, sizeof(oc->message),
			 "timed out after %lld ms (Slurm job %s cancelled)",
			 (long long)run->item.task->timeout_ms, run->job_id);
	} else if (run->stop_reason == ERROR_CANCELLED) {
		oc->kind = ERROR_CANCELLED;
		oc->signal = 0;
		snprintf(oc->message, sizeof(oc->message), "cancelled (Slurm job %s)", run->job_id);
	}
}

static void slurm_publish_outcome(struct slurm_run *run, const struct slurm_outcome *oc,
				  const struct slurm_output *out, const struct slurm_output *err)
{
	const struct task *task = run->item.task;
	struct message_ids ids;
	struct message_output mo = {
		.exit_code = oc->signal ? -1 : oc->exit_code,
		.stdout_data = out->data,
		.stdout_len = out->len,
		.stdout_truncated = out->truncated,
		.stderr_data = err->data,
		.stderr_len = err->len,
		.stderr_truncated = err->truncated,
	};
	bool success = oc->kind == ERROR_NONE;
	struct message *msg;
	int r = -ENOMEM;

	message_ids_of_task(task, &ids);
	msg = message_new(success ? MESSAGE_REQUEST_SUCCESS : MESSAGE_REQUEST_FAILURE, &ids, &mo);
	if (msg && !success)
		r = message_set_error(msg, oc->kind, oc->message, oc->exit_code, oc->signal);
	if (msg && (success || r == 0))
		r = publisher_publish(run->owner->base.publisher, msg);
	if (r < 0)
		log_error("cannot publish the outcome of %s: %s", task->request_id, strerror(-r));
	message_unref(msg);
}

/* The job ended for good: its outcome with its output, then the run is gone. */
static void slurm_run_finish(struct slurm_run *run, const struct slurm_job_line *line)
{
	struct strategy_slurm *sl = run->owner;
	struct slurm_output out, err;
	struct slurm_outcome oc;
	char path[4200];

	slurm_outcome_of(line, &oc);
	slurm_stop_outcome(run, &oc);
	slurm_output_path(sl, run, "out", path, sizeof(path));
	slurm_output_take(path, sl->output_limit, &out);
	slurm_output_path(sl, run, "err", path, sizeof(path));
	slurm_output_take(path, sl->output_limit, &err);
	slurm_publish_outcome(run, &oc, &out, &err);
	free(out.data);
	free(err.data);
	slurm_run_end(run);
}

/* Slurm no longer lists the job: its outcome cannot be known. */
static void slurm_run_lost(struct slurm_run *run)
{
	char text[256], path[4200];

	snprintf(text, sizeof(text),
		 "Slurm no longer knows job %s (scontrol did not list it in %d polls in a row); "
		 "its outcome is unknown",
		 run->job_id, SLURM_LOST_AFTER);
	log_warning("mode %s: %s: %s", run->owner->base.mode, run->item.task->request_id, text);
	slurm_output_path(run->owner, run, "out", path, sizeof(path));
	slurm_remove_spool_file(path);
	slurm_output_path(run->owner, run, "err", path, sizeof(path));
	slurm_remove_spool_file(path);
	slurm_run_fail(run, ERROR_LOST, text);
}

/* ---- stopping jobs: cancel and timeout ---- */

static void slurm_stop(struct slurm_run *run, enum error_kind reason, const char *text)
{
	if (run->item.waiting) {
		slurm_run_fail(run, reason, text);
		return;
	}
	if (run->stop_reason != ERROR_NONE)
		return;
	run->stop_reason = reason;
	if (run->state == SRUN_IN_SLURM)
		slurm_scancel_soon(run->owner);
	/* Submitting: scancel follows once sbatch tells the job id. */
}

static void slurm_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	slurm_stop(arg, ERROR_TIMEOUT, "timed out");
}

static void slurm_arm_timeout(struct slurm_run *run)
{
	int64_t ms = run->item.task->timeout_ms;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (ms <= 0)
		return;
	run->timeout_ev = evtimer_new(run->owner->evbase, slurm_timeout_cb, run);
	if (!run->timeout_ev || evtimer_add(run->timeout_ev, &tv) < 0)
		log_warning("cannot arm the timeout of %s", run->item.task->request_id);
}

/* Runs whose stop has not gone out in a scancel yet; their ids fill argv from index 1. */
static size_t slurm_scancel_collect(struct strategy_slurm *sl, char **argv, size_t max)
{
	struct lh_entry *e;
	size_t n = 0;

	lh_foreach(sl->jobs, e)
	{
		struct slurm_run *run = (struct slurm_run *)lh_entry_v(e);

		if (n < max && run->stop_reason != ERROR_NONE && !run->scancel_sent) {
			argv[1 + n++] = run->job_id;
			run->scancel_sent = true;
		}
	}
	return n;
}

/* A scancel that failed goes out again after the next poll, for the jobs still there. */
static void slurm_scancel_retry_later(struct strategy_slurm *sl)
{
	struct lh_entry *e;

	lh_foreach(sl->jobs, e)
	{
		((struct slurm_run *)lh_entry_v(e))->scancel_sent = false;
	}
}

static void slurm_scancel_done_cb(struct slurm_command *cmd, const struct slurm_command_result *res,
				  void *userdata)
{
	struct strategy_slurm *sl = userdata;
	char why[512];

	sl->scancel = NULL;
	if (!res->ok) {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: scancel: %s (tried again after the next poll)", sl->base.mode,
			    why);
		slurm_scancel_retry_later(sl);
	} else {
		slurm_scancel_soon(sl); /* stops asked for while it ran */
	}
	slurm_command_free(cmd);
}

static void slurm_final_scancel_done_cb(struct slurm_command *cmd,
					const struct slurm_command_result *res, void *userdata)
{
	struct strategy_slurm *sl = userdata;
	char why[512];

	sl->final_scancel = NULL;
	if (!res->ok) {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: scancel at shutdown: %s", sl->base.mode, why);
	}
	slurm_command_free(cmd);
}

/* Starts argv[0] = scancel, argv[1..n] = job ids; 0 or a negative errno (logged). */
static int slurm_run_scancel(struct strategy_slurm *sl, char **argv, struct slurm_command **ret,
			     slurm_command_done_cb done)
{
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_SMALL_OUTPUT,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	char *error = NULL;
	int r;

	argv[0] = sl->settings.scancel;
	r = slurm_command_run(sl->evbase, &spec, done, sl, ret, &error);
	if (r < 0)
		log_warning("mode %s: cannot run scancel: %s", sl->base.mode,
			    error ? error : strerror(-r));
	free(error);
	return r;
}

static void slurm_scancel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct strategy_slurm *sl = arg;
	size_t max = (size_t)sl->jobs->count;
	char **argv;
	size_t n;

	if (sl->scancel || max == 0)
		return;
	argv = calloc(max + 2, sizeof(char *));
	if (!argv) {
		log_warning("mode %s: out of memory for scancel", sl->base.mode);
		return;
	}
	n = slurm_scancel_collect(sl, argv, max);
	if (n > 0 && slurm_run_scancel(sl, argv, &sl->scancel, slurm_scancel_done_cb) < 0)
		slurm_scancel_retry_later(sl);
	free(argv);
}

/* One scancel, on a later loop turn, for every job stopped until then. */
static void slurm_scancel_soon(struct strategy_slurm *sl)
{
	static const struct timeval now = {0, 0};

	if (!sl->scancel && !evtimer_pending(sl->scancel_ev, NULL))
		evtimer_add(sl->scancel_ev, &now);
}

/* ---- polling ---- */

/* What one line of scontrol says about one of our jobs. */
static void slurm_poll_line(struct strategy_slurm *sl, const struct slurm_job_line *line,
			    unsigned long long poll_no)
{
	struct slurm_run *run;
	void *v;

	if (!lh_table_lookup_ex(sl->jobs, line->job_id, &v))
		return; /* someone else's job */
	run = v;
	run->seen_poll = poll_no;
	run->misses = 0;
	if (slurm_state_final(line->state)) {
		slurm_run_finish(run, line);
		return;
	}
	if (!run->started && slurm_state_running(line->state)) {
		run->started = true;
		slurm_arm_timeout(run);
		if (sl->base.hooks.task_started)
			sl->base.hooks.task_started(sl->base.hooks.ctx, run->item.task->request_id,
						    0);
	}
}

static void slurm_poll_lines(struct strategy_slurm *sl, const char *out, size_t len,
			     unsigned long long poll_no)
{
	const char *end = out + len;

	while (out < end) {
		const char *nl = memchr(out, '\n', (size_t)(end - out));
		size_t n = nl ? (size_t)(nl - out) : (size_t)(end - out);
		struct slurm_job_line line;

		if (slurm_parse_job_line(out, n, &line) == 0)
			slurm_poll_line(sl, &line, poll_no);
		out += n + 1;
	}
}

/* Jobs the poll should have listed and did not: lost after SLURM_LOST_AFTER such polls. */
static void slurm_poll_misses(struct strategy_slurm *sl, unsigned long long poll_no)
{
	struct lh_entry *e, *next;

	for (e = sl->jobs->head; e; e = next) {
		struct slurm_run *run = (struct slurm_run *)lh_entry_v(e);

		next = e->next;
		if (run->first_poll > poll_no || run->seen_poll == poll_no)
			continue;
		if (++run->misses >= SLURM_LOST_AFTER)
			slurm_run_lost(run);
	}
}

static bool slurm_scancel_wanted(struct strategy_slurm *sl)
{
	struct lh_entry *e;

	lh_foreach(sl->jobs, e)
	{
		struct slurm_run *run = (struct slurm_run *)lh_entry_v(e);

		if (run->stop_reason != ERROR_NONE && !run->scancel_sent)
			return true;
	}
	return false;
}

static void slurm_poll_done_cb(struct slurm_command *cmd, const struct slurm_command_result *res,
			       void *userdata)
{
	struct strategy_slurm *sl = userdata;
	unsigned long long poll_no = sl->polls_started;
	char why[512];

	sl->poll = NULL;
	if (res->ok) {
		slurm_poll_lines(sl, res->out, res->out_len, poll_no);
		/* A cut list does not tell which jobs are gone. */
		if (!res->out_truncated)
			slurm_poll_misses(sl, poll_no);
		else
			log_warning("mode %s: scontrol listed more than %d bytes of jobs",
				    sl->base.mode, SLURM_POLL_OUTPUT);
	} else {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: cannot poll Slurm, %u job(s) stay opened: scontrol: %s",
			    sl->base.mode, (unsigned)sl->jobs->count, why);
	}
	slurm_command_free(cmd);
	if (slurm_scancel_wanted(sl))
		slurm_scancel_soon(sl);
	slotqueue_start_waiting(&sl->slots);
	slurm_poll_soon(sl);
}

static void slurm_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct strategy_slurm *sl = arg;
	char *argv[] = {sl->settings.scontrol, "-o", "show", "job", NULL};
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_POLL_OUTPUT,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	char *error = NULL;
	int r;

	if (sl->poll || sl->jobs->count == 0)
		return;
	r = slurm_command_run(sl->evbase, &spec, slurm_poll_done_cb, sl, &sl->poll, &error);
	if (r < 0) {
		log_warning("mode %s: cannot run scontrol: %s", sl->base.mode,
			    error ? error : strerror(-r));
		free(error);
		slurm_poll_soon(sl);
		return;
	}
	sl->polls_started++;
}

/* The next poll in poll_ms, while there are jobs in Slurm and none runs. */
static void slurm_poll_soon(struct strategy_slurm *sl)
{
	struct timeval tv = {
		.tv_sec = sl->settings.poll_ms / 1000,
		.tv_usec = (sl->settings.poll_ms % 1000) * 1000,
	};

	if (sl->slots.closed || sl->poll || sl->jobs->count == 0 ||
	    evtimer_pending(sl->poll_ev, NULL))
		return;
	evtimer_add(sl->poll_ev, &tv);
}

/* ---- submitting ---- */

static void slurm_submit_done_cb(struct slurm_command *cmd, const struct slurm_command_result *res,
				 void *userdata)
{
	struct slurm_run *run = userdata;
	struct strategy_slurm *sl = run->owner;
	char text[700], why[512];
	int r = -EINVAL;

	if (res->ok)
		r = slurm_parse_submit(res->out, res->out_len, run->job_id, sizeof(run->job_id));
	if (r < 0) {
		slurm_command_describe(res, why, sizeof(why));
		if (run->stop_reason == ERROR_CANCELLED)
			snprintf(text, sizeof(text), "cancelled before Slurm took it");
		else if (!res->ok)
			snprintf(text, sizeof(text), "sbatch failed: %s", why);
		else
			snprintf(text, sizeof(text), "sbatch printed no job id: %.*s",
				 (int)(res->out_len > 200 ? 200 : res->out_len),
				 res->out ? res->out : "");
		/* Frees cmd too. */
		slurm_run_fail(run, run->stop_reason ? ERROR_CANCELLED : ERROR_SPAWN, text);
		slotqueue_start_waiting(&sl->slots);
		return;
	}
	slurm_command_free(cmd);
	run->submit = NULL;
	if (lh_table_insert(sl->jobs, run->job_id, run) < 0) {
		log_error("mode %s: out of memory: Slurm job %s runs unwatched", sl->base.mode,
			  run->job_id);
		slurm_run_fail(run, ERROR_LOST, "out of memory while following its Slurm job");
		slotqueue_start_waiting(&sl->slots);
		return;
	}
	run->state = SRUN_IN_SLURM;
	run->first_poll = sl->polls_started + 1;
	log_debug("mode %s: %s is Slurm job %s", sl->base.mode, run->item.task->request_id,
		  run->job_id);
	if (run->stop_reason != ERROR_NONE)
		slurm_scancel_soon(sl);
	slurm_poll_soon(sl);
}

static int slurm_stdin_failed(const struct slurm_run *run, int e, char *why, size_t size)
{
	snprintf(why, size, "cannot write its stdin to %s: %s", run->stdin_path, strerror(e));
	return -e;
}

/* Puts the task's stdin in the spool, where the job reads it from. */
static int slurm_write_stdin(struct slurm_run *run, char *why, size_t size)
{
	const struct task *task = run->item.task;
	size_t off = 0;
	int fd;

	if (task->stdin_len == 0)
		return 0;
	if (asprintf(&run->stdin_path, "%s/%s.stdin", run->owner->settings.spool_dir,
		     task->request_id) < 0) {
		run->stdin_path = NULL;
		return -ENOMEM;
	}
	fd = open(run->stdin_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return slurm_stdin_failed(run, errno, why, size);
	while (off < task->stdin_len) {
		ssize_t n = write(fd, task->stdin_data + off, task->stdin_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return slurm_stdin_failed(run, e, why, size);
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return slurm_stdin_failed(run, errno, why, size);
	return 0;
}

/* SPOOL/%j.EXT, where Slurm writes a job's output. NULL on ENOMEM. */
static char *slurm_spool_pattern(const struct strategy_slurm *sl, const char *ext)
{
	char *p;

	return asprintf(&p, "%s/%%j.%s", sl->settings.spool_dir, ext) < 0 ? NULL : p;
}

/* Adds "--name=value" to argv at *n; argv[*n] stays NULL when out of memory. */
static int slurm_arg(char **argv, size_t *n, const char *name, const char *value)
{
	if (asprintf(&argv[*n], "--%s=%s", name, value) < 0) {
		argv[*n] = NULL;
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/*
 * sbatch's arguments (argv has room for 9); the strings from index 2 on
 * are the caller's to free, up to the first NULL.
 */
static int slurm_submit_argv(const struct slurm_run *run, char **argv)
{
	const struct strategy_slurm *sl = run->owner;
	char name[65], *out = slurm_spool_pattern(sl, "out"), *err = slurm_spool_pattern(sl, "err");
	size_t n = 2;
	int r = out && err ? 0 : -ENOMEM;

	slurm_job_name(run->item.task->name, name, sizeof(name));
	argv[0] = sl->settings.sbatch;
	argv[1] = "--parsable";
	if (r == 0)
		r = slurm_arg(argv, &n, "job-name", name[0] ? name : "task");
	if (r == 0)
		r = slurm_arg(argv, &n, "comment", run->item.task->request_id);
	if (r == 0)
		r = slurm_arg(argv, &n, "output", out);
	if (r == 0)
		r = slurm_arg(argv, &n, "error", err);
	if (r == 0 && run->item.task->cwd)
		r = slurm_arg(argv, &n, "chdir", run->item.task->cwd);
	if (r == 0 && sl->settings.partition)
		r = slurm_arg(argv, &n, "partition", sl->settings.partition);
	free(out);
	free(err);
	return r;
}

static void slurm_submit_argv_free(char **argv)
{
	for (size_t i = 2; argv[i]; i++)
		free(argv[i]);
}

static int slurm_submit(struct slurm_run *run, char *why, size_t size)
{
	struct strategy_slurm *sl = run->owner;
	char *argv[10] = {NULL};
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_SMALL_OUTPUT,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	struct taskenv_vars vars = {NULL, NULL};
	char *script = NULL, *error = NULL;
	int r;

	r = slurm_write_stdin(run, why, size);
	if (r == 0 && !(script = slurm_script(run->item.task->argv, run->stdin_path)))
		r = -ENOMEM;
	if (r == 0)
		r = slurm_submit_argv(run, argv);
	if (r == 0)
		r = taskenv_build(sl->env, run->item.task, &vars);
	if (r == 0) {
		/* sbatch hands its environment on to the job. */
		spec.envp = vars.envp;
		spec.stdin_data = script;
		spec.stdin_len = strlen(script);
		r = slurm_command_run(sl->evbase, &spec, slurm_submit_done_cb, run, &run->submit,
				      &error);
		if (r < 0)
			snprintf(why, size, "%s", error ? error : strerror(-r));
	} else if (r == -ENOMEM) {
		snprintf(why, size, "out of memory");
	}
	free(error);
	taskenv_vars_clear(&vars);
	slurm_submit_argv_free(argv);
	free(script);
	return r;
}

/* The slot queue gives run a slot: it goes to sbatch now. */
static void slurm_start_cb(struct slotqueue_item *item, void *ctx)
{
	struct slurm_run *run = (struct slurm_run *)item;
	char why[600];

	run->state = SRUN_SUBMITTING;
	if (slurm_submit(run, why, sizeof(why)) < 0)
		slurm_run_fail(run, ERROR_SPAWN, why);
}

static bool slurm_can_accept(struct strategy *s)
{
	return slotqueue_can_accept(&((struct strategy_slurm *)s)->slots);
}

static int slurm_execute(struct strategy *s, struct task *task)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;
	struct slurm_run *run = calloc(1, sizeof(*run));
	int r;

	if (!run) {
		task_free(task);
		return -ENOMEM;
	}
	run->owner = sl;
	run->item.task = task;
	r = slotqueue_add(&sl->slots, &run->item);
	if (r < 0) {
		slurm_run_free(run);
		return sl->slots.closed ? -ESHUTDOWN : r;
	}
	return 0;
}

static struct slurm_run *slurm_find(struct strategy_slurm *sl, const char *request_id)
{
	return (struct slurm_run *)slotqueue_find(&sl->slots, request_id);
}

static int slurm_cancel(struct strategy *s, const char *request_id)
{
	struct slurm_run *run = slurm_find((struct strategy_slurm *)s, request_id);

	if (!run)
		return -ENOENT;
	slurm_stop(run, ERROR_CANCELLED, "cancelled before it was handed to Slurm");
	return 0;
}

static int slurm_lend_slot(struct strategy *s, const char *request_id)
{
	return slotqueue_lend(&((struct strategy_slurm *)s)->slots, request_id);
}

static int slurm_return_slot(struct strategy *s, const char *request_id)
{
	return slotqueue_return(&((struct strategy_slurm *)s)->slots, request_id);
}

/*
 * The daemon is about to exit: every job still in Slurm goes in one
 * scancel, which free() gives a moment to finish.
 */
static void slurm_scancel_all(struct strategy_slurm *sl, char **ids, size_t n)
{
	if (n == 0)
		return;
	if (slurm_run_scancel(sl, ids, &sl->final_scancel, slurm_final_scancel_done_cb) < 0)
		log_warning("mode %s: %zu Slurm job(s) may run on", sl->base.mode, n);
}

struct slurm_shutdown {
	char **ids; /* argv for scancel: ids[0] is left for the program */
	size_t n;
};

/* Every run fails as cancelled; the ids of those in Slurm are kept for one scancel. */
static void slurm_shutdown_cb(struct slotqueue_item *item, void *ctx)
{
	struct slurm_run *run = (struct slurm_run *)item;
	struct slurm_shutdown *sd = ctx;
	struct strategy_slurm *sl = run->owner;

	if (!run->item.waiting && run->state == SRUN_IN_SLURM) {
		if (sd->ids && (sd->ids[1 + sd->n] = strdup(run->job_id)))
			sd->n++;
		else
			log_warning("mode %s: out of memory: Slurm job %s runs on", sl->base.mode,
				    run->job_id);
	}
	slurm_run_fail(run, ERROR_CANCELLED, "cancelled: the daemon is shutting down");
}

static void slurm_shutdown(struct strategy *s)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;
	size_t max = slotqueue_running(&sl->slots) + slotqueue_waiting(&sl->slots);
	struct slurm_shutdown sd = {.ids = calloc(max + 2, sizeof(char *))};

	slotqueue_close(&sl->slots);
	evtimer_del(sl->poll_ev);
	slotqueue_foreach(&sl->slots, slurm_shutdown_cb, &sd);
	slurm_scancel_all(sl, sd.ids, sd.n);
	for (size_t i = 0; sd.ids && i < sd.n; i++)
		free(sd.ids[1 + i]);
	free(sd.ids);
}

static void slurm_describe(struct strategy *s, struct strategy_info *info)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;

	info->mode = s->mode;
	info->strategy = "slurm";
	info->max_concurrency = sl->slots.max_concurrency;
	info->running = (unsigned)slotqueue_running(&sl->slots);
	info->queued = slotqueue_waiting(&sl->slots);
	info->max_queue = sl->slots.max_queue;
}

static void slurm_free_cb(struct slotqueue_item *item, void *ctx)
{
	slurm_run_free((struct slurm_run *)item);
}

static void slurm_free(struct strategy *s)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;

	if (sl->final_scancel)
		slurm_command_wait(sl->final_scancel, SLURM_FINAL_SCANCEL_WAIT_MS);
	slurm_command_free(sl->final_scancel);
	slurm_command_free(sl->scancel);
	slurm_command_free(sl->poll);
	if (sl->slots.items)
		slotqueue_foreach(&sl->slots, slurm_free_cb, sl);
	slotqueue_clear(&sl->slots);
	if (sl->jobs)
		lh_table_free(sl->jobs);
	if (sl->poll_ev)
		event_free(sl->poll_ev);
	if (sl->scancel_ev)
		event_free(sl->scancel_ev);
	taskenv_free(sl->env);
	slurm_settings_clear(&sl->settings);
	free(s->mode);
	free(sl);
}

static const struct strategy_ops slurm_ops = {
	.kind = "slurm",
	.can_accept = slurm_can_accept,
	.execute = slurm_execute,
	.cancel = slurm_cancel,
	.lend_slot = slurm_lend_slot,
	.return_slot = slurm_return_slot,
	.shutdown = slurm_shutdown,
	.describe = slurm_describe,
	.free = slurm_free,
};

int strategy_slurm_new(struct event_base *base, struct publisher *publisher,
		       const struct strategy_config *config, struct strategy **ret, char **error)
{
	struct strategy_slurm *sl = calloc(1, sizeof(*sl));
	int r;

	*error = NULL;
	if (!sl)
		return -ENOMEM;
	r = slurm_settings_parse(config, &sl->settings, error);
	if (r < 0) {
		free(sl);
		return r;
	}
	sl->evbase = base;
	sl->output_limit =
		config->output_limit ? config->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	sl->jobs = lh_kchar_table_new(64, NULL);
	sl->poll_ev = evtimer_new(base, slurm_poll_cb, sl);
	sl->scancel_ev = evtimer_new(base, slurm_scancel_cb, sl);
	sl->env = taskenv_new(config->socket_path);
	if (slotqueue_init(&sl->slots, base, config->max_concurrency, config->max_queue,
			   slurm_start_cb, sl) < 0 ||
	    !sl->jobs || !sl->poll_ev || !sl->scancel_ev || !sl->env ||
	    strategy_init_base(&sl->base, &slurm_ops, publisher, config->mode) < 0) {
		slurm_free(&sl->base);
		return -ENOMEM;
	}
	*ret = &sl->base;
	return 0;
}
