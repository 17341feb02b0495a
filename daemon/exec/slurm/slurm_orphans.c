/*
 * Cancelling the Slurm jobs nobody follows (see slurm_orphans.h). A struct
 * slurm_orphans owns its names, its timer and the command it runs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "log.h"
#include "slurm_collect.h"
#include "slurm_command.h"
#include "slurm_orphans.h"
#include "slurm_parse.h"
#include "slurm_settings.h"

/* Names asked about in one squeue. */
#define SLURM_ORPHANS_PER_ROUND 256
/* Bytes of squeue's answer per name asked (a job's line is far shorter). */
#define SLURM_ORPHANS_LINE_MAX 256

struct slurm_orphans {
	struct event_base *base;
	const struct slurm_settings *settings;
	struct slurm_collector *collector;
	char *mode;
	char **names;
	size_t count;
	size_t asked;		   /* names[0..asked) are in the squeue that runs */
	bool *active;		   /* for each name asked: Slurm still runs its job */
	struct slurm_command *cmd; /* squeue or scancel, while it runs */
	struct event *round_ev;
};

static void slurm_orphans_later(struct slurm_orphans *o)
{
	struct timeval tv = {
		.tv_sec = o->settings->poll_ms / 1000,
		.tv_usec = (o->settings->poll_ms % 1000) * 1000,
	};

	if (o->count > 0 && !o->cmd && !evtimer_pending(o->round_ev, NULL))
		evtimer_add(o->round_ev, &tv);
}

static int slurm_orphans_run(struct slurm_orphans *o, char **argv, size_t output_limit,
			     slurm_command_done_cb done)
{
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = output_limit,
		.timeout_ms = o->settings->command_timeout_ms,
	};
	char *error = NULL;
	int r = slurm_command_run(o->base, &spec, done, o, &o->cmd, &error);

	if (r < 0)
		log_warning("mode %s: cannot run %s: %s", o->mode, argv[0],
			    error ? error : strerror(-r));
	free(error);
	return r;
}

static void slurm_orphans_scancel_done_cb(struct slurm_command *cmd,
					  const struct slurm_command_result *res, void *userdata)
{
	struct slurm_orphans *o = userdata;
	char why[512];

	o->cmd = NULL;
	if (!res->ok) {
		/* One job that ended meanwhile fails the whole scancel: the next round sees. */
		slurm_command_describe(res, why, sizeof(why));
		log_debug("mode %s: scancel of unfollowed jobs: %s", o->mode, why);
	}
	slurm_command_free(cmd);
	slurm_orphans_later(o);
}

/* The name's index among those asked, or -1. */
static long slurm_orphans_find(const struct slurm_orphans *o, const char *name)
{
	for (size_t i = 0; i < o->asked; i++)
		if (strcmp(o->names[i], name) == 0)
			return (long)i;
	return -1;
}

/* Reads squeue's lines: marks the names Slurm still runs, their ids into argv from 1. */
static size_t slurm_orphans_read(struct slurm_orphans *o, const char *out, size_t len,
				 char (*ids)[SLURM_JOB_ID_MAX], char **argv)
{
	const char *end = out + len;
	size_t n = 0;

	while (out < end) {
		const char *nl = memchr(out, '\n', (size_t)(end - out));
		size_t l = nl ? (size_t)(nl - out) : (size_t)(end - out);
		struct slurm_named_job job;
		long i;

		if (slurm_parse_named_line(out, l, &job) == 0 &&
		    (i = slurm_orphans_find(o, job.name)) >= 0 && !slurm_state_final(job.state) &&
		    n < o->asked) {
			o->active[i] = true;
			memcpy(ids[n], job.job_id, sizeof(ids[n]));
			log_notice("mode %s: cancelling Slurm job %s (%s), which nobody follows",
				   o->mode, job.job_id, job.name);
			argv[1 + n] = ids[n];
			n++;
		}
		out += l + 1;
	}
	return n;
}

/* Every name asked whose job Slurm no longer runs: its directory goes, the name too. */
static void slurm_orphans_forget_ended(struct slurm_orphans *o)
{
	size_t kept = 0;

	for (size_t i = 0; i < o->count; i++) {
		char dir[4200];

		if (i >= o->asked || o->active[i]) {
			o->names[kept++] = o->names[i];
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", o->settings->spool_dir, o->names[i]);
		slurm_collector_remove(o->collector, dir, 0);
		free(o->names[i]);
	}
	o->count = kept;
	o->asked = 0;
}

static void slurm_orphans_squeue_done_cb(struct slurm_command *cmd,
					 const struct slurm_command_result *res, void *userdata)
{
	struct slurm_orphans *o = userdata;
	char(*ids)[SLURM_JOB_ID_MAX] = calloc(o->asked + 1, sizeof(*ids));
	char **argv = calloc(o->asked + 2, sizeof(char *)), why[512];
	size_t n = 0;

	o->cmd = NULL;
	if (!res->ok || res->out_truncated || !ids || !argv) {
		slurm_command_describe(res, why, sizeof(why));
		log_warning("mode %s: cannot ask Slurm about %zu job(s) nobody follows "
			    "(tried again later): squeue: %s",
			    o->mode, o->asked, res->ok ? "out of memory" : why);
		o->asked = 0;
	} else {
		memset(o->active, 0, o->asked * sizeof(bool));
		n = slurm_orphans_read(o, res->out, res->out_len, ids, argv);
		slurm_orphans_forget_ended(o);
	}
	slurm_command_free(cmd);
	if (n > 0) {
		argv[0] = o->settings->scancel;
		slurm_orphans_run(o, argv, 64 * 1024, slurm_orphans_scancel_done_cb);
	}
	free(argv);
	free(ids);
	slurm_orphans_later(o);
}

/* --name=N1,N2,... for the first names; NULL on ENOMEM. */
static char *slurm_orphans_name_arg(struct slurm_orphans *o)
{
	size_t len = strlen("--name=") + 1;
	char *arg;

	o->asked = o->count < SLURM_ORPHANS_PER_ROUND ? o->count : SLURM_ORPHANS_PER_ROUND;
	for (size_t i = 0; i < o->asked; i++)
		len += strlen(o->names[i]) + 1;
	arg = malloc(len);
	if (!arg)
		return NULL;
	strcpy(arg, "--name=");
	for (size_t i = 0; i < o->asked; i++) {
		if (i > 0)
			strcat(arg, ",");
		strcat(arg, o->names[i]);
	}
	return arg;
}

static void slurm_orphans_round_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slurm_orphans *o = arg;
	char *names, format[] = "--Format=" SLURM_NAMED_FORMAT, user[32];
	char *argv[] = {
		o->settings->squeue, "--noheader", "--states=all", NULL, format, user, NULL};
	bool *active;

	if (o->cmd || o->count == 0)
		return;
	names = slurm_orphans_name_arg(o);
	active = realloc(o->active, (o->asked + 1) * sizeof(bool));
	if (active)
		o->active = active;
	argv[3] = names;
	/* Jobs of the daemon's user only: squeue then loads no one else's. */
	snprintf(user, sizeof(user), "--user=%u", (unsigned)geteuid());
	if (o->settings->run_as_submitter)
		argv[5] = NULL;
	if (!names || !active ||
	    slurm_orphans_run(o, argv, o->asked * SLURM_ORPHANS_LINE_MAX + 4096,
			      slurm_orphans_squeue_done_cb) < 0) {
		o->asked = 0;
		slurm_orphans_later(o);
	}
	free(names);
}

struct slurm_orphans *slurm_orphans_new(struct event_base *base,
					const struct slurm_settings *settings,
					struct slurm_collector *collector, const char *mode)
{
	struct slurm_orphans *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->base = base;
	o->settings = settings;
	o->collector = collector;
	o->mode = strdup(mode);
	o->round_ev = evtimer_new(base, slurm_orphans_round_cb, o);
	if (!o->mode || !o->round_ev) {
		slurm_orphans_free(o);
		return NULL;
	}
	return o;
}

int slurm_orphans_add(struct slurm_orphans *o, const char *name)
{
	static const struct timeval now = {0, 0};
	char **grown = realloc(o->names, (o->count + 1) * sizeof(char *));

	if (!grown)
		return -ENOMEM;
	o->names = grown;
	if (!(grown[o->count] = strdup(name)))
		return -ENOMEM;
	o->count++;
	if (!o->cmd && !evtimer_pending(o->round_ev, NULL))
		evtimer_add(o->round_ev, &now);
	return 0;
}

int slurm_orphans_forget(struct slurm_orphans *o, const char *name)
{
	for (size_t i = 0; i < o->count; i++) {
		if (strcmp(o->names[i], name) != 0)
			continue;
		if (i < o->asked)
			return -EBUSY;
		free(o->names[i]);
		memmove(&o->names[i], &o->names[i + 1], (o->count - i - 1) * sizeof(char *));
		o->count--;
		return 0;
	}
	return -ENOENT;
}

size_t slurm_orphans_count(const struct slurm_orphans *o)
{
	return o->count;
}

void slurm_orphans_free(struct slurm_orphans *o)
{
	if (!o)
		return;
	slurm_command_free(o->cmd);
	if (o->round_ev)
		event_free(o->round_ev);
	for (size_t i = 0; i < o->count; i++)
		free(o->names[i]);
	free(o->names);
	free(o->active);
	free(o->mode);
	free(o);
}
