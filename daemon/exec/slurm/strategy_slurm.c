/*
 * The slurm strategy: every task is a batch job on a Slurm cluster, handed
 * over with sbatch and followed with one squeue per poll that asks about
 * our own job ids only. At most max_concurrency jobs are in Slurm at once;
 * the rest wait in a FIFO queue in the daemon. Each job has a run
 * directory in the spool (slurm_spool.c) that the job script fills and the
 * collector thread reads and removes (slurm_collect.c); jobs nobody can
 * follow are cancelled by name (slurm_orphans.c). The strategy owns each
 * task handed to it (in a struct slurm_run) until the task's completion
 * message is published, and every command it runs.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/linkhash.h>

#include "log.h"
#include "exechelper.h"
#include "message.h"
#include "publisher.h"
#include "slotqueue.h"
#include "slurm_acct.h"
#include "slurm_collect.h"
#include "slurm_command.h"
#include "slurm_orphans.h"
#include "slurm_parse.h"
#include "slurm_script.h"
#include "slurm_settings.h"
#include "slurm_spool.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "task.h"
#include "taskenv.h"

/* What a command may print: sbatch a job id, scancel errors. */
#define SLURM_SMALL_OUTPUT (64 * 1024)
/* Bytes of the poll's answer per job asked about (a line is under 100) and in all besides. */
#define SLURM_POLL_LINE_MAX 256
#define SLURM_POLL_SLACK    4096
/* Polls in a row that must miss a job before it counts as lost. */
#define SLURM_LOST_AFTER 2
/* How long the daemon's last scancel may hold up its exit. */
#define SLURM_FINAL_SCANCEL_WAIT_MS 10000

/* Where a run is once it holds a slot (until then it waits in the slot queue). */
enum slurm_run_state {
	SRUN_SUBMITTING, /* sbatch runs */
	SRUN_IN_SLURM,	 /* a job of Slurm's, followed by the polls */
	SRUN_LOOKING_UP, /* squeue forgot it: sacct is asked how it ended */
	SRUN_COLLECTING, /* ended; the collector reads its run directory */
};

struct slurm_run {
	struct slotqueue_item item; /* first: the queue's items are Slurm runs */
	struct strategy_slurm *owner;
	enum slurm_run_state state;
	struct slurm_command *submit;  /* sbatch, while submitting */
	char name[SLURM_RUN_NAME_MAX]; /* the job's name and its run directory's */
	char *dir;		       /* SPOOL/NAME once made */
	uid_t uid;		       /* whom the job runs as */
	gid_t gid;
	char *user_env[5];	       /* another user's HOME, USER, LOGNAME, SHELL; or none */
	char job_id[SLURM_JOB_ID_MAX]; /* once in Slurm */
	struct slurm_acct *acct;       /* while looking up */
	struct slurm_collect *collect; /* while collecting */
	struct slurm_outcome outcome;  /* decided when the job ended */
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
	struct slurm_command *poll; /* squeue, while polling */
	unsigned long long polls_started;
	struct event *scancel_ev;
	struct slurm_command *scancel;	       /* scancel for stopped runs, while it runs */
	struct slurm_command **final_scancels; /* one scancel per user at shutdown */
	size_t final_count;
	struct slurm_collector *collector;
	struct slurm_orphans *orphans;
};

static void slurm_poll_soon(struct strategy_slurm *sl);
static void slurm_scancel_soon(struct strategy_slurm *sl);

/* Frees run; its run directory stays for whoever was told to remove it. */
static void slurm_run_free(struct slurm_run *run)
{
	if (run->timeout_ev)
		event_free(run->timeout_ev);
	slurm_command_free(run->submit);
	slurm_acct_free(run->acct);
	if (run->collect)
		run->collect->owner = NULL; /* the collector's result goes nowhere */
	free(run->dir);
	for (size_t i = 0; run->user_env[i]; i++)
		free(run->user_env[i]);
	task_free(run->item.task);
	free(run);
}

/* The job surely does not run (any more): its run directory goes. */
static void slurm_run_discard_dir(struct slurm_run *run)
{
	if (run->dir)
		slurm_collector_remove(run->owner->collector, run->dir, run->uid);
}

/* A job of ours may run that we cannot follow: cancelled by its name, then its directory goes. */
static void slurm_run_orphan(struct slurm_run *run)
{
	struct strategy_slurm *sl = run->owner;

	if (run->dir && slurm_orphans_add(sl->orphans, run->name) < 0)
		log_warning("mode %s: out of memory: Slurm job %s may run on unfollowed",
			    sl->base.mode, run->name);
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

/* stderr is the task's, then what Slurm said about the job, if it fits in the limit. */
static void slurm_add_messages(struct slurm_collect *req, size_t limit)
{
	struct slurm_output *err = &req->err;
	char *grown;

	if (req->slurm.len == 0 || err->truncated || err->len + req->slurm.len > limit)
		return;
	grown = realloc(err->data, err->len + req->slurm.len);
	if (!grown)
		return;
	memcpy(grown + err->len, req->slurm.data, req->slurm.len);
	err->data = grown;
	err->len += req->slurm.len;
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

/* The collector has read the run directory of an ended job and removed it. */
static void slurm_collected_cb(struct slurm_collect *req, void *ctx)
{
	struct strategy_slurm *sl = ctx;
	struct slurm_run *run = req->owner;

	if (req->problem[0])
		log_warning("mode %s: %s", sl->base.mode, req->problem);
	if (run) {
		run->collect = NULL;
		slurm_add_messages(req, sl->output_limit);
		slurm_publish_outcome(run, &run->outcome, &req->out, &req->err);
		slurm_run_end(run);
		slotqueue_start_waiting(&sl->slots);
	}
	slurm_collect_free(req);
}

/* The job ended for good: its outcome is decided, its output read off the loop. */
static void slurm_run_finish(struct slurm_run *run, const struct slurm_job_line *line)
{
	struct strategy_slurm *sl = run->owner;
	struct slurm_collect *req = slurm_collect_new(run->dir, run->uid);

	slurm_outcome_of(line, &run->outcome);
	slurm_stop_outcome(run, &run->outcome);
	lh_table_delete(sl->jobs, run->job_id);
	run->state = SRUN_COLLECTING;
	if (!req) {
		struct slurm_output none = {0};

		log_warning("mode %s: out of memory: the output of %s is lost", sl->base.mode,
			    run->item.task->request_id);
		slurm_run_discard_dir(run);
		slurm_publish_outcome(run, &run->outcome, &none, &none);
		slurm_run_end(run);
		return;
	}
	req->read = true;
	req->head = sl->output_limit - sl->output_limit / 2;
	req->tail = sl->output_limit / 2;
	req->owner = run;
	run->collect = req;
	slurm_collector_submit(sl->collector, req);
}

/* Neither squeue nor Slurm's records know the job: its outcome cannot be known. */
static void slurm_run_unknown(struct slurm_run *run, const char *why)
{
	char text[900];

	snprintf(text, sizeof(text),
		 "Slurm no longer knows job %s (squeue did not list it in %d polls in a row) "
		 "and has no record of how it ended (%s); its outcome is unknown",
		 run->job_id, SLURM_LOST_AFTER, why);
	log_warning("mode %s: %s: %s", run->owner->base.mode, run->item.task->request_id, text);
	slurm_run_discard_dir(run);
	slurm_run_fail(run, ERROR_LOST, text);
}

static void slurm_looked_up_cb(struct slurm_acct *acct, const struct slurm_job_line *line,
			       const char *why, void *userdata)
{
	struct slurm_run *run = userdata;
	struct strategy_slurm *sl = run->owner;

	run->acct = NULL;
	if (line)
		slurm_run_finish(run, line);
	else
		slurm_run_unknown(run, why);
	slurm_acct_free(acct);
	slotqueue_start_waiting(&sl->slots);
}

/* Slurm's controller no longer lists the job: its records may tell how it ended. */
static void slurm_run_lost(struct slurm_run *run)
{
	struct strategy_slurm *sl = run->owner;

	lh_table_delete(sl->jobs, run->job_id);
	run->state = SRUN_LOOKING_UP;
	if (slurm_acct_lookup(sl->evbase, &sl->settings, run->job_id, run->name, slurm_looked_up_cb,
			      run, &run->acct) < 0)
		slurm_run_unknown(run, sl->settings.sacct ? "sacct could not run"
							  : "there is no sacct to ask");
}

/* The job id is some other user's: never touched again, and ours, if any, cancelled by name. */
static void slurm_run_not_ours(struct slurm_run *run, unsigned long uid)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "Slurm job %s belongs to uid %lu, not to uid %u: it is not followed", run->job_id,
		 uid, (unsigned)run->uid);
	log_warning("mode %s: %s: %s", run->owner->base.mode, run->item.task->request_id, text);
	slurm_run_orphan(run);
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

/*
 * Runs whose stop has not gone out in a scancel yet, all of one user (the
 * first such run's, in *ret_uid): their ids fill argv from index 2.
 */
static size_t slurm_scancel_collect(struct strategy_slurm *sl, char **argv, size_t max,
				    uid_t *ret_uid)
{
	struct lh_entry *e;
	size_t n = 0;

	lh_foreach(sl->jobs, e)
	{
		struct slurm_run *run = (struct slurm_run *)lh_entry_v(e);

		if (n >= max || run->stop_reason == ERROR_NONE || run->scancel_sent ||
		    (n > 0 && run->uid != *ret_uid))
			continue;
		*ret_uid = run->uid;
		argv[2 + n++] = run->job_id;
		run->scancel_sent = true;
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
		slurm_scancel_soon(sl); /* stops asked for while it ran, other users' */
	}
	slurm_command_free(cmd);
}

static void slurm_final_scancel_done_cb(struct slurm_command *cmd,
					const struct slurm_command_result *res, void *userdata)
{
	struct strategy_slurm *sl = userdata;
	char why[512];

	for (size_t i = 0; i < sl->final_count; i++)
		if (sl->final_scancels[i] == cmd)
			sl->final_scancels[i] = NULL;
	if (!res->ok) {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: scancel at shutdown: %s", sl->base.mode, why);
	}
	slurm_command_free(cmd);
}

/*
 * Starts scancel --user=UID for the job ids in argv from index 2 (0 and 1
 * are filled here): Slurm cancels none of them that is not uid's, whatever
 * an id turns out to be. 0 or a negative errno (logged).
 */
static int slurm_run_scancel(struct strategy_slurm *sl, char **argv, uid_t uid,
			     struct slurm_command **ret, slurm_command_done_cb done)
{
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_SMALL_OUTPUT,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	char *error = NULL, user[32];
	int r;

	snprintf(user, sizeof(user), "--user=%u", (unsigned)uid);
	argv[0] = sl->settings.scancel;
	argv[1] = user;
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
	uid_t uid = 0;
	char **argv;
	size_t n;

	if (sl->scancel || max == 0)
		return;
	argv = calloc(max + 3, sizeof(char *));
	if (!argv) {
		log_warning("mode %s: out of memory for scancel", sl->base.mode);
		return;
	}
	n = slurm_scancel_collect(sl, argv, max, &uid);
	if (n > 0 && slurm_run_scancel(sl, argv, uid, &sl->scancel, slurm_scancel_done_cb) < 0)
		slurm_scancel_retry_later(sl);
	free(argv);
}

/* One scancel, on a later loop turn, for every job of one user stopped until then. */
static void slurm_scancel_soon(struct strategy_slurm *sl)
{
	static const struct timeval now = {0, 0};

	if (!sl->scancel && !evtimer_pending(sl->scancel_ev, NULL))
		evtimer_add(sl->scancel_ev, &now);
}

/* ---- polling ---- */

/* What one line of squeue says about one of our jobs. */
static void slurm_poll_line(struct strategy_slurm *sl, const struct slurm_job_line *line,
			    unsigned long long poll_no)
{
	struct slurm_run *run;
	void *v;

	if (!lh_table_lookup_ex(sl->jobs, line->job_id, &v))
		return; /* not asked about */
	run = v;
	if (line->uid != (unsigned long)run->uid) {
		slurm_run_not_ours(run, line->uid);
		return;
	}
	run->seen_poll = poll_no;
	run->misses = 0;
	if (slurm_state_final(line->state)) {
		slurm_run_finish(run, line);
		return;
	}
	if (!run->started && slurm_state_running(line->state)) {
		run->started = true;
		if (sl->base.hooks.task_started)
			sl->base.hooks.task_started(sl->base.hooks.ctx, run->item.task->request_id,
						    0, 0);
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
	if (res->ok && !res->out_truncated) {
		slurm_poll_lines(sl, res->out, res->out_len, poll_no);
		slurm_poll_misses(sl, poll_no);
	} else {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: cannot poll Slurm, %u job(s) stay opened: squeue: %s",
			    sl->base.mode, (unsigned)sl->jobs->count,
			    res->ok ? "its answer was too long" : why);
	}
	slurm_command_free(cmd);
	if (slurm_scancel_wanted(sl))
		slurm_scancel_soon(sl);
	slotqueue_start_waiting(&sl->slots);
	slurm_poll_soon(sl);
}

/*
 * --jobs=ID,ID,...: our job ids and no one else's, so that the answer
 * grows with our jobs only. A lone id goes twice: squeue refuses a single
 * id Slurm has forgotten, and ignores them in a list. NULL on ENOMEM.
 */
static char *slurm_poll_jobs_arg(struct strategy_slurm *sl)
{
	size_t len = strlen("--jobs=") + 1 + SLURM_JOB_ID_MAX;
	struct lh_entry *e;
	char *arg, *p;

	lh_foreach(sl->jobs, e)
	{
		len += strlen(((struct slurm_run *)lh_entry_v(e))->job_id) + 1;
	}
	arg = malloc(len);
	if (!arg)
		return NULL;
	p = arg + sprintf(arg, "--jobs");
	lh_foreach(sl->jobs, e)
	{
		p += sprintf(p, "%c%s", p == arg + 6 ? '=' : ',',
			     ((struct slurm_run *)lh_entry_v(e))->job_id);
	}
	if (sl->jobs->count == 1)
		sprintf(p, ",%s", ((struct slurm_run *)lh_entry_v(sl->jobs->head))->job_id);
	return arg;
}

/*
 * --user=UID when every job runs as the same user (always, unless
 * slurm_run_as = submitter): then squeue loads that user's jobs only,
 * not the cluster's. "" otherwise.
 */
static void slurm_poll_user_arg(struct strategy_slurm *sl, char *buf, size_t size)
{
	struct lh_entry *e;
	uid_t uid = ((struct slurm_run *)lh_entry_v(sl->jobs->head))->uid;

	lh_foreach(sl->jobs, e)
	{
		if (((struct slurm_run *)lh_entry_v(e))->uid != uid) {
			buf[0] = '\0';
			return;
		}
	}
	snprintf(buf, size, "--user=%u", (unsigned)uid);
}

static void slurm_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct strategy_slurm *sl = arg;
	char format[] = "--Format=" SLURM_POLL_FORMAT, user[32];
	char *argv[] = {
		sl->settings.squeue, "--noheader", "--states=all", NULL, format, user, NULL};
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = (size_t)sl->jobs->count * SLURM_POLL_LINE_MAX + SLURM_POLL_SLACK,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	char *error = NULL;
	int r = -ENOMEM;

	if (sl->poll || sl->jobs->count == 0)
		return;
	argv[3] = slurm_poll_jobs_arg(sl);
	slurm_poll_user_arg(sl, user, sizeof(user));
	if (!user[0])
		argv[5] = NULL;
	if (argv[3])
		r = slurm_command_run(sl->evbase, &spec, slurm_poll_done_cb, sl, &sl->poll, &error);
	free(argv[3]);
	if (r < 0) {
		log_warning("mode %s: cannot run squeue: %s", sl->base.mode,
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

/* "JOBID NAME": what finds the job and its run directory again after a restart. */
static void slurm_run_tell_ref(const struct slurm_run *run)
{
	const struct strategy_hooks *hooks = &run->owner->base.hooks;
	char ref[SLURM_JOB_ID_MAX + SLURM_RUN_NAME_MAX + 2];

	snprintf(ref, sizeof(ref), "%s %s", run->job_id, run->name);
	if (hooks->task_ref)
		hooks->task_ref(hooks->ctx, run->item.task->request_id, ref);
}

static void slurm_submit_done_cb(struct slurm_command *cmd, const struct slurm_command_result *res,
				 void *userdata)
{
	struct slurm_run *run = userdata;
	struct strategy_slurm *sl = run->owner;
	char text[700], why[512];
	int r = -EINVAL;
	void *other;

	if (res->ok)
		r = slurm_parse_submit(res->out, res->out_len, run->job_id, sizeof(run->job_id));
	if (r == 0 && lh_table_lookup_ex(sl->jobs, run->job_id, &other)) {
		/* Never two runs on one id: ours, if Slurm has it, goes by its name. */
		snprintf(text, sizeof(text),
			 "sbatch answered job id %s, which is already the job of %s: not followed",
			 run->job_id, ((struct slurm_run *)other)->item.task->request_id);
		log_warning("mode %s: %s: %s", sl->base.mode, run->item.task->request_id, text);
		slurm_run_orphan(run);
		slurm_run_fail(run, ERROR_SPAWN, text);
		slotqueue_start_waiting(&sl->slots);
		return;
	}
	if (r < 0) {
		slurm_command_describe(res, why, sizeof(why));
		if (run->stop_reason == ERROR_CANCELLED)
			snprintf(text, sizeof(text), "cancelled before Slurm took it");
		else if (run->stop_reason == ERROR_TIMEOUT)
			snprintf(text, sizeof(text), "timed out before Slurm took it");
		else if (!res->ok)
			snprintf(text, sizeof(text), "sbatch failed: %s", why);
		else
			snprintf(text, sizeof(text), "sbatch printed no job id: %.*s",
				 (int)(res->out_len > 200 ? 200 : res->out_len),
				 res->out ? res->out : "");
		/* sbatch stopped midway or said nothing usable: Slurm may have the job. */
		if (res->timed_out || res->status < 0 || res->ok)
			slurm_run_orphan(run);
		else
			slurm_run_discard_dir(run);
		/* Frees cmd too. */
		slurm_run_fail(run, run->stop_reason ? run->stop_reason : ERROR_SPAWN, text);
		slotqueue_start_waiting(&sl->slots);
		return;
	}
	slurm_command_free(cmd);
	run->submit = NULL;
	if (lh_table_insert(sl->jobs, run->job_id, run) < 0) {
		log_error("mode %s: out of memory: Slurm job %s runs unwatched", sl->base.mode,
			  run->job_id);
		slurm_run_orphan(run);
		slurm_run_fail(run, ERROR_LOST, "out of memory while following its Slurm job");
		slotqueue_start_waiting(&sl->slots);
		return;
	}
	run->state = SRUN_IN_SLURM;
	run->first_poll = sl->polls_started + 1;
	slurm_run_tell_ref(run);
	log_debug("mode %s: %s is Slurm job %s (%s)", sl->base.mode, run->item.task->request_id,
		  run->job_id, run->name);
	if (run->stop_reason != ERROR_NONE)
		slurm_scancel_soon(sl);
	slurm_poll_soon(sl);
}

/* Whom the job runs as: the daemon's user, or the task's owner with their primary group. */
/*
 * HOME, USER, LOGNAME and SHELL of the job's user, as a login (and the
 * async mode's helper) sets them; the task's env may override them.
 */
static int slurm_run_user_env(struct slurm_run *run, const struct passwd *pw)
{
	const char *names[] = {"HOME", "USER", "LOGNAME", "SHELL"};
	const char *values[] = {pw->pw_dir, pw->pw_name, pw->pw_name, pw->pw_shell};

	for (size_t i = 0; i < 4; i++) {
		if (asprintf(&run->user_env[i], "%s=%s", names[i], values[i]) < 0) {
			run->user_env[i] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * Whom the job runs as: the daemon's user, or with run_as = submitter the
 * task's owner with their primary group (not for root's or the daemon's
 * own tasks, as in an async mode).
 */
static int slurm_run_user(struct slurm_run *run, char *why, size_t size)
{
	const struct slurm_settings *st = &run->owner->settings;
	uid_t owner = run->item.task->owner_uid;
	struct passwd pw, *found = NULL;
	char buf[4096];
	int r;

	run->uid = geteuid();
	run->gid = getegid();
	if (!st->run_as_submitter || !exechelper_needed(owner))
		return 0;
	if (st->unreachable) {
		snprintf(why, size,
			 "cannot run a Slurm job as uid %u: %s (set slurm_spool_dir to a directory "
			 "they can reach)",
			 (unsigned)owner, st->unreachable);
		return -EACCES;
	}
	r = getpwuid_r(owner, &pw, buf, sizeof(buf), &found);
	if (r != 0 || !found) {
		snprintf(why, size, "cannot run a Slurm job as uid %u: %s", (unsigned)owner,
			 r ? strerror(r) : "it has no passwd entry");
		return r ? -r : -ENOENT;
	}
	run->uid = pw.pw_uid;
	run->gid = pw.pw_gid;
	return slurm_run_user_env(run, &pw);
}

/* The run directory with its files, stdin included. */
static int slurm_make_dir(struct slurm_run *run, char *why, size_t size)
{
	const struct task *task = run->item.task;
	struct slurm_spool_run spec = {
		.uid = run->uid,
		.stdin_data = task->stdin_len ? task->stdin_data : NULL,
		.stdin_len = task->stdin_len,
	};
	int r = slurm_spool_run_name(task->name, run->name);

	if (r < 0) {
		snprintf(why, size, "cannot make a job name: %s", strerror(-r));
		return r;
	}
	if (asprintf(&run->dir, "%s/%s", run->owner->settings.spool_dir, run->name) < 0) {
		run->dir = NULL;
		return -ENOMEM;
	}
	spec.dir = run->dir;
	r = slurm_spool_make_run(&spec, why, size);
	if (r < 0) {
		free(run->dir);
		run->dir = NULL;
	}
	return r;
}

static char *slurm_make_script(const struct slurm_run *run)
{
	const struct strategy_slurm *sl = run->owner;
	struct taskenv_vars vars = {NULL, NULL};
	struct slurm_script_spec spec = {
		.argv = run->item.task->argv,
		.run_dir = run->dir,
		.has_stdin = run->item.task->stdin_len > 0,
		.head = sl->output_limit - sl->output_limit / 2,
		.tail = sl->output_limit / 2,
	};
	char *script;

	if (taskenv_build_for(sl->env, run->item.task, run->user_env[0] != NULL, &vars) < 0)
		return NULL;
	spec.user_envp = run->user_env;
	spec.envp = vars.envp;
	script = slurm_script(&spec);
	taskenv_vars_clear(&vars);
	return script;
}

/* Adds "--name=value" to argv at *n; argv[*n] stays NULL when out of memory. */
static int slurm_arg(char **argv, size_t *n, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int slurm_arg(char **argv, size_t *n, const char *name, const char *fmt, ...)
{
	char *value;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (r < 0) {
		argv[*n] = NULL;
		return -ENOMEM;
	}
	r = asprintf(&argv[*n], "--%s=%s", name, value);
	free(value);
	if (r < 0) {
		argv[*n] = NULL;
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* Slurm's own time limit, in whole minutes (its unit), from the task's timeout. */
static long long slurm_time_minutes(int64_t timeout_ms)
{
	return (long long)((timeout_ms + 59999) / 60000);
}

/*
 * sbatch's arguments (argv has room for 13); the strings from index 2 on
 * are the caller's to free, up to the first NULL.
 */
static int slurm_submit_argv(const struct slurm_run *run, char **argv)
{
	const struct strategy_slurm *sl = run->owner;
	const struct task *task = run->item.task;
	size_t n = 2;
	int r;

	argv[0] = sl->settings.sbatch;
	argv[1] = "--parsable";
	r = slurm_arg(argv, &n, "job-name", "%s", run->name);
	if (r == 0)
		r = slurm_arg(argv, &n, "comment", "%s", task->request_id);
	if (r == 0)
		r = slurm_arg(argv, &n, "output", "%s/%s", run->dir, SLURM_SPOOL_SLURM);
	if (r == 0)
		r = slurm_arg(argv, &n, "error", "%s/%s", run->dir, SLURM_SPOOL_SLURM);
	if (r == 0 && task->cwd)
		r = slurm_arg(argv, &n, "chdir", "%s", task->cwd);
	if (r == 0 && sl->settings.partition)
		r = slurm_arg(argv, &n, "partition", "%s", sl->settings.partition);
	if (r == 0 && task->timeout_ms > 0)
		r = slurm_arg(argv, &n, "time", "%lld", slurm_time_minutes(task->timeout_ms));
	if (r == 0 && run->uid != geteuid())
		r = slurm_arg(argv, &n, "uid", "%u", (unsigned)run->uid);
	if (r == 0 && run->uid != geteuid())
		r = slurm_arg(argv, &n, "gid", "%u", (unsigned)run->gid);
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
	char *argv[14] = {NULL};
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_SMALL_OUTPUT,
		.timeout_ms = sl->settings.command_timeout_ms,
	};
	char *script = NULL, *error = NULL;
	int r;

	r = slurm_run_user(run, why, size);
	if (r == 0)
		r = slurm_make_dir(run, why, size);
	if (r == 0 && !(script = slurm_make_script(run)))
		r = -ENOMEM;
	if (r == 0)
		r = slurm_submit_argv(run, argv);
	if (r == 0) {
		/* sbatch gets the script, never the task's environment. */
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
	slurm_submit_argv_free(argv);
	free(script);
	return r;
}

/* The slot queue gives run a slot: it goes to sbatch now, and its time starts. */
static void slurm_start_cb(struct slotqueue_item *item, void *ctx)
{
	struct slurm_run *run = (struct slurm_run *)item;
	char why[600];

	/* Its start is stored before sbatch: a restart never submits it again. */
	int r = strategy_task_starting(&run->owner->base, run->item.task);

	if (r < 0) {
		snprintf(why, sizeof(why), "cannot store that it starts: %s", strerror(-r));
		slurm_run_fail(run, ERROR_SPAWN, why);
		return;
	}
	run->state = SRUN_SUBMITTING;
	if (slurm_submit(run, why, sizeof(why)) < 0) {
		slurm_run_discard_dir(run);
		slurm_run_fail(run, ERROR_SPAWN, why);
		return;
	}
	slurm_arm_timeout(run);
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
	run->item.admitted = task->admitted;
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

/* The jobs still in Slurm when the daemon is about to exit. */
struct slurm_shutdown {
	char **ids;  /* strdup'ed */
	uid_t *uids; /* each one's user */
	size_t n;
};

/*
 * Every job left goes in one scancel per user, which free() gives a
 * moment to finish; what is cancelled is marked by a NULL id.
 */
static void slurm_scancel_all(struct strategy_slurm *sl, struct slurm_shutdown *sd)
{
	char **argv = calloc(sd->n + 3, sizeof(char *));

	sl->final_scancels = calloc(sd->n, sizeof(*sl->final_scancels));
	if (sd->n > 0 && (!argv || !sl->final_scancels)) {
		log_warning("mode %s: out of memory: %zu Slurm job(s) may run on", sl->base.mode,
			    sd->n);
		free(argv);
		return;
	}
	for (size_t first = 0; first < sd->n; first++) {
		uid_t uid = sd->uids[first];
		size_t n = 0;

		if (!sd->ids[first])
			continue;
		for (size_t i = first; i < sd->n; i++)
			if (sd->ids[i] && sd->uids[i] == uid)
				argv[2 + n++] = sd->ids[i];
		argv[2 + n] = NULL;
		if (slurm_run_scancel(sl, argv, uid, &sl->final_scancels[sl->final_count],
				      slurm_final_scancel_done_cb) < 0)
			log_warning("mode %s: %zu Slurm job(s) may run on", sl->base.mode, n);
		else
			sl->final_count++;
		for (size_t i = first; i < sd->n; i++)
			if (sd->ids[i] && sd->uids[i] == uid) {
				free(sd->ids[i]);
				sd->ids[i] = NULL;
			}
	}
	free(argv);
}

/*
 * Every run fails as cancelled, but for those that ended and are being
 * read; the ids of those in Slurm are kept for scancel. Their run
 * directories stay: the next start cancels what may still run of them
 * (by name) and removes them.
 */
static void slurm_shutdown_cb(struct slotqueue_item *item, void *ctx)
{
	struct slurm_run *run = (struct slurm_run *)item;
	struct slurm_shutdown *sd = ctx;
	struct strategy_slurm *sl = run->owner;

	/* A queued one stays queued in the history: the next start runs it. */
	if (run->item.waiting) {
		slurm_run_end(run);
		return;
	}
	if (run->state == SRUN_COLLECTING)
		return;
	if (run->state == SRUN_IN_SLURM) {
		if (sd->ids && sd->uids && (sd->ids[sd->n] = strdup(run->job_id)))
			sd->uids[sd->n++] = run->uid;
		else
			log_warning("mode %s: out of memory: Slurm job %s runs on", sl->base.mode,
				    run->job_id);
	}
	slurm_run_fail(run, ERROR_CANCELLED, "cancelled: the daemon is shutting down");
}

static void slurm_hold(struct strategy *s)
{
	slotqueue_close(&((struct strategy_slurm *)s)->slots);
}

static void slurm_shutdown(struct strategy *s)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;
	size_t max = slotqueue_running(&sl->slots) + slotqueue_waiting(&sl->slots);
	struct slurm_shutdown sd = {
		.ids = calloc(max + 1, sizeof(char *)),
		.uids = calloc(max + 1, sizeof(uid_t)),
	};

	slotqueue_close(&sl->slots);
	evtimer_del(sl->poll_ev);
	slotqueue_foreach(&sl->slots, slurm_shutdown_cb, &sd);
	slurm_scancel_all(sl, &sd);
	for (size_t i = 0; sd.ids && i < sd.n; i++)
		free(sd.ids[i]);
	free(sd.ids);
	free(sd.uids);
}

static void slurm_describe(struct strategy *s, struct strategy_info *info)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;

	info->mode = s->mode;
	info->strategy = "slurm";
	slotqueue_describe(&sl->slots, info);
	info->output_limit = sl->output_limit;
}

static void slurm_tune(struct strategy *s, const struct strategy_tuning *tuning)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;

	sl->output_limit =
		tuning->output_limit ? tuning->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	slotqueue_tune(&sl->slots, tuning);
}

static void slurm_free_cb(struct slotqueue_item *item, void *ctx)
{
	struct strategy_slurm *sl = ctx;

	slotqueue_remove(&sl->slots, item);
	slurm_run_free((struct slurm_run *)item);
}

/* Gives the scancels of the shutdown SLURM_FINAL_SCANCEL_WAIT_MS in all, then frees them. */
static void slurm_final_scancels_wait(struct strategy_slurm *sl)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (size_t i = 0; i < sl->final_count; i++) {
		long long spent;

		if (!sl->final_scancels[i])
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (now.tv_sec - start.tv_sec) * 1000LL +
			(now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent < SLURM_FINAL_SCANCEL_WAIT_MS)
			slurm_command_wait(sl->final_scancels[i],
					   (unsigned)(SLURM_FINAL_SCANCEL_WAIT_MS - spent));
		slurm_command_free(sl->final_scancels[i]);
	}
	free(sl->final_scancels);
}

static void slurm_free(struct strategy *s)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;

	slurm_final_scancels_wait(sl);
	slurm_command_free(sl->scancel);
	slurm_command_free(sl->poll);
	slotqueue_foreach(&sl->slots, slurm_free_cb, sl); /* none before init */
	slotqueue_clear(&sl->slots);
	slurm_orphans_free(sl->orphans);
	/* Waits for the worker to finish the removals it was given. */
	slurm_collector_free(sl->collector);
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

/*
 * The run directories an earlier run of the daemon left: their jobs, if
 * Slurm still runs them, are cancelled by name and the directories go.
 * Found before any new run exists, so that no new job is among them.
 */
static int slurm_adopt_leftovers(struct strategy_slurm *sl)
{
	char **names;
	size_t n = 0;
	int r = slurm_spool_scan(sl->settings.spool_dir, &names);

	if (r < 0) {
		log_warning("mode %s: cannot list slurm_spool_dir %s: %s", sl->base.mode,
			    sl->settings.spool_dir, strerror(-r));
		return r == -ENOMEM ? r : 0;
	}
	for (; names[n]; n++) {
		if (r == 0)
			r = slurm_orphans_add(sl->orphans, names[n]);
		free(names[n]);
	}
	free(names);
	if (n > 0)
		log_notice("mode %s: %zu Slurm job(s) of an earlier run of the daemon: cancelling "
			   "what still runs of them and removing their files",
			   sl->base.mode, n);
	return r;
}

/* Splits a ref "JOBID NAME" into run's job_id and name; -EINVAL when it is not one. */
static int slurm_parse_ref(const char *ref, struct slurm_run *run)
{
	size_t id_len = strspn(ref, "0123456789");
	const char *name = ref + id_len + 1;

	if (id_len == 0 || id_len >= sizeof(run->job_id) || ref[id_len] != ' ' ||
	    strlen(name) >= sizeof(run->name) || !slurm_spool_run_name_valid(name))
		return -EINVAL;
	memcpy(run->job_id, ref, id_len);
	run->job_id[id_len] = '\0';
	strcpy(run->name, name);
	return 0;
}

/*
 * A job an earlier run of the daemon handed to Slurm: followed again from
 * the next poll on, as if sbatch had just answered (if squeue forgot it,
 * sacct is asked), its output read from its run directory, which the start
 * no longer treats as an orphan's. Its daemon-side timeout is not known
 * any more: Slurm's time limit (--time) still holds.
 */
static int slurm_reattach(struct strategy *s, const struct job *job, const char *ref)
{
	struct strategy_slurm *sl = (struct strategy_slurm *)s;
	struct slurm_run *run = calloc(1, sizeof(*run));
	char why[600];
	int r = -ENOMEM;

	if (!run)
		return -ENOMEM;
	run->owner = sl;
	run->item.task = task_new_from_job(job);
	if (run->item.task && (r = slurm_parse_ref(ref, run)) == 0 &&
	    (r = slurm_run_user(run, why, sizeof(why))) == 0 &&
	    asprintf(&run->dir, "%s/%s", sl->settings.spool_dir, run->name) < 0) {
		run->dir = NULL;
		r = -ENOMEM;
	}
	if (r == 0 && lh_table_lookup_ex(sl->jobs, run->job_id, NULL))
		r = -EEXIST;
	if (r == 0 && (r = slotqueue_add_running(&sl->slots, &run->item)) == 0 &&
	    lh_table_insert(sl->jobs, run->job_id, run) < 0) {
		slotqueue_remove(&sl->slots, &run->item);
		r = -ENOMEM;
	}
	if (r < 0) {
		slurm_run_free(run);
		return r;
	}
	run->state = SRUN_IN_SLURM;
	run->started = job->phase == JOB_RUNNING;
	run->first_poll = sl->polls_started + 1;
	slurm_orphans_forget(sl->orphans, run->name);
	slurm_poll_soon(sl);
	return 0;
}

static const struct strategy_ops slurm_ops = {
	.kind = "slurm",
	.can_accept = slurm_can_accept,
	.execute = slurm_execute,
	.cancel = slurm_cancel,
	.lend_slot = slurm_lend_slot,
	.return_slot = slurm_return_slot,
	.hold = slurm_hold,
	.reattach = slurm_reattach,
	.shutdown = slurm_shutdown,
	.describe = slurm_describe,
	.tune = slurm_tune,
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
	if (sl->settings.unreachable)
		log_warning("mode %s: run_as = submitter, but %s: their tasks fail until "
			    "slurm_spool_dir is a directory they can reach",
			    config->mode, sl->settings.unreachable);
	sl->evbase = base;
	sl->output_limit =
		config->output_limit ? config->output_limit : STRATEGY_DEFAULT_OUTPUT_LIMIT;
	sl->jobs = lh_kchar_table_new(64, NULL);
	sl->poll_ev = evtimer_new(base, slurm_poll_cb, sl);
	sl->scancel_ev = evtimer_new(base, slurm_scancel_cb, sl);
	sl->env = taskenv_new(config->socket_path);
	sl->collector = slurm_collector_new(base, slurm_collected_cb, sl);
	if (sl->collector)
		sl->orphans = slurm_orphans_new(base, &sl->settings, sl->collector, config->mode);
	if (slotqueue_init(&sl->slots, base, config->max_concurrency, config->max_queue,
			   slurm_start_cb, sl) < 0 ||
	    !sl->jobs || !sl->poll_ev || !sl->scancel_ev || !sl->env || !sl->orphans ||
	    strategy_init_base(&sl->base, &slurm_ops, publisher, config->mode) < 0 ||
	    slurm_adopt_leftovers(sl) < 0) {
		slurm_free(&sl->base);
		return -ENOMEM;
	}
	*ret = &sl->base;
	return 0;
}
