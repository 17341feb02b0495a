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

#include "daemon.h"
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

/* A job stored as running when the daemon stopped may have run: it is lost, never run again. */
static int recovery_one(struct job *job, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	if (job->phase != JOB_RUNNING)
		return 0;
	recovery_stop_leftovers(job);
	r = state_adopt_open(d->state, job);
	if (r < 0)
		return r;
	return coordinator_publish_failure(
		d->coordinator, job, ERROR_LOST,
		"the daemon stopped (crash or kill) while this job was running");
}

/* A job that never started keeps its place: it waits or is queued again. */
static int recovery_requeue_one(struct job *job, void *userdata)
{
	struct daemon *d = userdata;

	if (job->phase == JOB_RUNNING)
		return 0;
	return coordinator_restore(d->coordinator, job);
}

int recovery_requeue(struct daemon *d, size_t *ret_count)
{
	size_t before = state_open_count(d->state);
	int r = history_foreach_open(d->history, recovery_requeue_one, d);

	*ret_count = state_open_count(d->state) - before;
	return r;
}

int recovery_run(struct daemon *d, size_t *ret_count)
{
	size_t before = state_open_count(d->state);
	int r = history_foreach_open(d->history, recovery_one, d);

	*ret_count = state_open_count(d->state) - before;
	return r;
}
