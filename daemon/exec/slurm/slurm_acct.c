/* Looking up forgotten jobs in Slurm's accounting (see slurm_acct.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurm_acct.h"
#include "slurm_command.h"
#include "slurm_settings.h"

/* What sacct prints of a job: one record per line, '|' between the fields. */
#define SLURM_ACCT_FORMAT "--format=JobID,JobName,State,ExitCode"
/* Bytes of sacct's answer kept: a reused id has a few records. */
#define SLURM_ACCT_OUTPUT (256 * 1024)

struct slurm_acct {
	struct event_base *base;
	const struct slurm_settings *settings;
	char job_id[SLURM_JOB_ID_MAX];
	char *name;
	bool completion; /* the second try: the job completion log */
	struct slurm_command *cmd;
	slurm_acct_done_cb done;
	void *userdata;
	char why[600];
};

static void slurm_acct_done_cmd_cb(struct slurm_command *cmd,
				   const struct slurm_command_result *res, void *userdata);

static int slurm_acct_start(struct slurm_acct *acct)
{
	char jobs[SLURM_JOB_ID_MAX + 8];
	char *argv[] = {acct->settings->sacct, "--noheader",	"--parsable2", jobs,
			SLURM_ACCT_FORMAT,     "--allocations", NULL,	       NULL};
	struct slurm_command_spec spec = {
		.argv = argv,
		.output_limit = SLURM_ACCT_OUTPUT,
		.timeout_ms = acct->settings->command_timeout_ms,
	};
	char *error = NULL;
	int r;

	snprintf(jobs, sizeof(jobs), "--jobs=%s", acct->job_id);
	if (acct->completion)
		argv[5] = "--completion";
	r = slurm_command_run(acct->base, &spec, slurm_acct_done_cmd_cb, acct, &acct->cmd, &error);
	free(error);
	return r;
}

/* The last record of sacct's answer for our job (the newest), in *ret. */
static bool slurm_acct_find(const struct slurm_acct *acct, const char *out, size_t len,
			    struct slurm_job_line *ret)
{
	const char *end = out + len;
	bool found = false;

	while (out < end) {
		const char *nl = memchr(out, '\n', (size_t)(end - out));
		size_t n = nl ? (size_t)(nl - out) : (size_t)(end - out);
		struct slurm_job_line line;
		char name[128];

		if (slurm_parse_acct_line(out, n, &line, name, sizeof(name)) == 0 &&
		    strcmp(line.job_id, acct->job_id) == 0 && strcmp(name, acct->name) == 0 &&
		    slurm_state_final(line.state)) {
			*ret = line;
			found = true;
		}
		out += n + 1;
	}
	return found;
}

static void slurm_acct_done_cmd_cb(struct slurm_command *cmd,
				   const struct slurm_command_result *res, void *userdata)
{
	struct slurm_acct *acct = userdata;
	struct slurm_job_line line;
	size_t used = strlen(acct->why);
	bool found = res->ok && slurm_acct_find(acct, res->out, res->out_len, &line);
	char what[512];

	acct->cmd = NULL;
	if (!found) {
		if (res->ok)
			snprintf(what, sizeof(what), "no record of it");
		else
			slurm_command_describe(res, what, sizeof(what));
		snprintf(acct->why + used, sizeof(acct->why) - used, "%s%s: %s", used ? "; " : "",
			 acct->completion ? "sacct --completion" : "sacct", what);
	}
	slurm_command_free(cmd);
	if (!found && !acct->completion) {
		acct->completion = true;
		if (slurm_acct_start(acct) == 0)
			return;
	}
	acct->done(acct, found ? &line : NULL, acct->why, acct->userdata);
}

int slurm_acct_lookup(struct event_base *base, const struct slurm_settings *settings,
		      const char *job_id, const char *name, slurm_acct_done_cb done, void *userdata,
		      struct slurm_acct **ret)
{
	struct slurm_acct *acct;
	int r;

	if (!settings->sacct)
		return -ENOENT;
	acct = calloc(1, sizeof(*acct));
	if (!acct)
		return -ENOMEM;
	acct->base = base;
	acct->settings = settings;
	snprintf(acct->job_id, sizeof(acct->job_id), "%s", job_id);
	acct->name = strdup(name);
	acct->done = done;
	acct->userdata = userdata;
	r = acct->name ? slurm_acct_start(acct) : -ENOMEM;
	if (r < 0) {
		slurm_acct_free(acct);
		return r;
	}
	*ret = acct;
	return 0;
}

void slurm_acct_free(struct slurm_acct *acct)
{
	if (!acct)
		return;
	slurm_command_free(acct->cmd);
	free(acct->name);
	free(acct);
}
