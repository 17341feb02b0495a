/*
 * Recovery. Leftover processes are recognised by pid and kernel start time
 * (a reused pid has another start time), or, when the task's own process
 * is gone, by their process group, which the kernel never hands to a new
 * process while anyone is still in it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "history.h"
#include "job.h"
#include "log.h"
#include "procstat.h"
#include "recovery.h"
#include "state.h"
#include "coordinator.h"

/* Whether some process is still in process group pgid. */
static bool recovery_group_exists(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

static void recovery_stop_leftovers(const struct job *job)
{
	unsigned long long start;

	if (job->pid <= 0)
		return;
	start = procstat_starttime(job->pid);
	if (start != 0 && start != job->pid_starttime)
		return; /* the pid now belongs to another process */
	if (start == 0 && !recovery_group_exists(job->pid))
		return;
	log_notice("stopping what is left of %s (process group %d)", job->request_id,
		   (int)job->pid);
	kill(-job->pid, SIGKILL);
}

/* An int member of o's object member name, or -1. */
static int recovery_exit_code(json_object *o, const char *name)
{
	json_object *part, *v;

	if (!json_object_object_get_ex(o, name, &part) || !part ||
	    !json_object_object_get_ex(part, "exit_code", &v) || !v)
		return -1;
	return json_object_get_int(v);
}

/* Closes job (adopted) as the stored final message text says. */
static int recovery_close_as(struct state *state, struct job *job, const char *text)
{
	json_object *msg = json_tokener_parse(text), *type, *err, *v;
	enum error_kind kind = ERROR_NONE;
	const char *reason = NULL;
	bool success;
	int exit_code, r;

	if (!msg)
		return -ENOMEM;
	success = json_object_object_get_ex(msg, "type", &type) &&
		  strcmp(json_object_get_string(type), "request_success") == 0;
	if (json_object_object_get_ex(msg, "error", &err) && err) {
		if (json_object_object_get_ex(err, "kind", &v) &&
		    error_kind_from_name(json_object_get_string(v), &kind) < 0)
			kind = ERROR_LOST;
		if (json_object_object_get_ex(err, "message", &v) && v)
			reason = json_object_get_string(v);
	}
	exit_code = recovery_exit_code(msg, "result");
	if (exit_code < 0)
		exit_code = recovery_exit_code(msg, "error");
	r = state_adopt_open(state, job);
	if (r == 0)
		r = state_end_job(state, job->request_id, success ? JOB_SUCCESS : JOB_FAILURE,
				  exit_code, kind, reason);
	json_object_put(msg);
	return r;
}

/*
 * A job whose final message is in the log but whose close is not (the
 * SIGKILL came between the turn that committed the message and the one
 * that commits the close) is closed as that message says: a second final
 * message (lost, or a run) would close it twice. 1 when closed so, 0 when
 * the log has no final message for it, or a negative errno.
 */
static int recovery_close_logged(struct history *history, struct state *state, struct job *job)
{
	char *text;
	int r = history_final_message(history, job->request_id, &text);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	log_notice("%s: its final message was stored before the stop; closed as it says",
		   job->request_id);
	r = recovery_close_as(state, job, text);
	free(text);
	return r < 0 ? r : 1;
}

/* What recovery_one and recovery_requeue_one need (borrowed), and what recovery_one counts. */
struct recovery {
	struct history *history;
	struct state *state;
	struct coordinator *coordinator;
	size_t lost;
	size_t taken_back;
};

/*
 * A job its strategy can find again is followed to its end; another one
 * stored as running when the daemon stopped may have run: it is lost,
 * never run again.
 */
static int recovery_one(struct job *job, void *userdata)
{
	struct recovery *rec = userdata;
	int r = recovery_close_logged(rec->history, rec->state, job);

	if (r != 0)
		return r < 0 ? r : 0;
	if (job->phase != JOB_RUNNING && !job->strategy_ref)
		return 0;
	r = state_adopt_open(rec->state, job);
	if (r < 0)
		return r;
	/* A strategy that can find the job again follows it to its end. */
	if (coordinator_reattach(rec->coordinator, job) == 0) {
		log_notice("%s: taken back by mode %s (%s)", job->request_id, job->mode,
			   job->strategy_ref);
		rec->taken_back++;
		return 0;
	}
	recovery_stop_leftovers(job);
	rec->lost++;
	return coordinator_publish_failure(
		rec->coordinator, job, ERROR_LOST,
		"the daemon stopped (crash or kill) while this job was running");
}

/* A job that never started keeps its place: it waits or is queued again. */
static int recovery_requeue_one(struct job *job, void *userdata)
{
	struct recovery *rec = userdata;

	/* A job with a strategy_ref was handed to its strategy: recovery_run decided it. */
	if (job->phase == JOB_RUNNING || job->strategy_ref)
		return 0;
	return coordinator_restore(rec->coordinator, job);
}

int recovery_requeue(struct history *history, struct state *state, struct coordinator *coordinator,
		     size_t *ret_count)
{
	struct recovery rec = {.history = history, .state = state, .coordinator = coordinator};
	size_t before = state_open_count(state);
	int r = history_foreach_open(history, recovery_requeue_one, &rec);

	*ret_count = state_open_count(state) - before;
	return r;
}

int recovery_run(struct history *history, struct state *state, struct coordinator *coordinator,
		 size_t *ret_lost, size_t *ret_taken_back)
{
	struct recovery rec = {.history = history, .state = state, .coordinator = coordinator};
	int r = history_foreach_open(history, recovery_one, &rec);

	*ret_lost = rec.lost;
	*ret_taken_back = rec.taken_back;
	return r;
}
