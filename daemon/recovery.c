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

/* What recovery_one and recovery_requeue_one need (borrowed), and what recovery_one counts. */
struct recovery {
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
	int r;

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
	struct recovery rec = {.state = state, .coordinator = coordinator};
	size_t before = state_open_count(state);
	int r = history_foreach_open(history, recovery_requeue_one, &rec);

	*ret_count = state_open_count(state) - before;
	return r;
}

int recovery_run(struct history *history, struct state *state, struct coordinator *coordinator,
		 size_t *ret_lost, size_t *ret_taken_back)
{
	struct recovery rec = {.state = state, .coordinator = coordinator};
	int r = history_foreach_open(history, recovery_one, &rec);

	*ret_lost = rec.lost;
	*ret_taken_back = rec.taken_back;
	return r;
}
