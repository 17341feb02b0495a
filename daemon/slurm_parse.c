/* Pure helpers of the slurm strategy: scripts, scontrol lines, states. Strings returned are the
 * caller's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurm_parse.h"

/* The states after which Slurm does nothing more with a job. */
static const char *const slurm_final_states[] = {
	"COMPLETED",	 "FAILED",    "CANCELLED", "TIMEOUT",  "NODE_FAIL",
	"OUT_OF_MEMORY", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "REVOKED",
};

/*
 * The value of " KEY=" in line[0..len) after from, copied into buf up to the
 * next space. Returns where the value ends, or NULL when KEY is absent.
 */
static const char *slurm_field(const char *line, size_t len, const char *from, const char *key,
			       char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *end = line + len, *p, *v;

	for (p = from; p + klen + 1 <= end; p++) {
		if (*p == ' ' && memcmp(p + 1, key, klen) == 0)
			break;
	}
	if (p + klen + 1 > end)
		return NULL;
	v = p + 1 + klen;
	for (p = v; p < end && *p != ' ' && *p != '\n'; p++)
		;
	snprintf(buf, size, "%.*s", (int)(p - v), v);
	return p;
}

static int slurm_parse_exit(const char *text, int *exit_code, int *sig)
{
	char *end;
	long e, s;

	errno = 0;
	e = strtol(text, &end, 10);
	if (errno || end == text || *end != ':' || e < 0 || e > 255)
		return -EINVAL;
	text = end + 1;
	s = strtol(text, &end, 10);
	if (errno || end == text || *end || s < 0 || s > 255)
		return -EINVAL;
	*exit_code = (int)e;
	*sig = (int)s;
	return 0;
}

int slurm_parse_job_line(const char *line, size_t len, struct slurm_job_line *ret)
{
	struct slurm_job_line job = {.exit_code = -1};
	const char *p, *after_state;
	char code[32];
	size_t n;

	if (len < 7 || memcmp(line, "JobId=", 6) != 0)
		return -EINVAL;
	p = line + 6;
	n = strcspn(p, " \n");
	if (n > (size_t)(line + len - p))
		n = (size_t)(line + len - p);
	if (n == 0 || n >= sizeof(job.job_id))
		return -EINVAL;
	memcpy(job.job_id, p, n);
	/* The job name before JobState may hold anything: the first JobState= counts. */
	after_state = slurm_field(line, len, p + n, "JobState=", job.state, sizeof(job.state));
	if (!after_state || !job.state[0])
		return -EINVAL;
	slurm_field(line, len, after_state, "Reason=", job.reason, sizeof(job.reason));
	if (slurm_field(line, len, after_state, "ExitCode=", code, sizeof(code)) &&
	    slurm_parse_exit(code, &job.exit_code, &job.signal) < 0) {
		job.exit_code = -1;
		job.signal = 0;
	}
	*ret = job;
	return 0;
}

bool slurm_state_final(const char *state)
{
	for (size_t i = 0; i < sizeof(slurm_final_states) / sizeof(slurm_final_states[0]); i++)
		if (strcmp(state, slurm_final_states[i]) == 0)
			return true;
	return false;
}

bool slurm_state_running(const char *state)
{
	return strcmp(state, "RUNNING") == 0 || strcmp(state, "COMPLETING") == 0;
}

static const char *slurm_signal_name(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "unknown";
}

static void slurm_failed(const struct slurm_job_line *line, struct slurm_outcome *out)
{
	out->kind = ERROR_EXIT;
	if (line->signal > 0) {
		out->kind = ERROR_SIGNAL;
		out->signal = line->signal;
		snprintf(out->message, sizeof(out->message),
			 "killed by signal %d (SIG%s) in Slurm job %s", line->signal,
			 slurm_signal_name(line->signal), line->job_id);
	} else if (line->exit_code > 0) {
		out->exit_code = line->exit_code;
		snprintf(out->message, sizeof(out->message),
			 "exited with status %d in Slurm job %s", line->exit_code, line->job_id);
	} else {
		snprintf(out->message, sizeof(out->message), "Slurm job %s ended %s (reason: %s)",
			 line->job_id, line->state, line->reason[0] ? line->reason : "none");
	}
}

void slurm_outcome_of(const struct slurm_job_line *line, struct slurm_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	if (strcmp(line->state, "COMPLETED") == 0 && line->exit_code <= 0 && line->signal == 0) {
		out->kind = ERROR_NONE;
		out->exit_code = 0;
	} else if (strcmp(line->state, "CANCELLED") == 0) {
		out->kind = ERROR_CANCELLED;
		snprintf(out->message, sizeof(out->message), "Slurm job %s was cancelled in Slurm",
			 line->job_id);
	} else if (strcmp(line->state, "TIMEOUT") == 0) {
		out->kind = ERROR_TIMEOUT;
		snprintf(out->message, sizeof(out->message),
			 "Slurm job %s reached its Slurm time limit", line->job_id);
	} else if (strcmp(line->state, "COMPLETED") == 0 || strcmp(line->state, "FAILED") == 0) {
		slurm_failed(line, out);
	} else {
		/* NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, PREEMPTED, DEADLINE, ...: say which. */
		out->kind = ERROR_EXIT;
		if (line->exit_code > 0)
			out->exit_code = line->exit_code;
		snprintf(out->message, sizeof(out->message), "Slurm job %s ended %s (reason: %s)",
			 line->job_id, line->state, line->reason[0] ? line->reason : "none");
	}
}

char *slurm_quote(const char *s)
{
	size_t n = 3;
	char *out, *o;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	out = malloc(n);
	if (!out)
		return NULL;
	o = out;
	*o++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *c;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

/* Appends " " and s quoted to *buf (length *len). 0 or -ENOMEM. */
static int slurm_append_word(char **buf, size_t *len, const char *s)
{
	char *q = slurm_quote(s), *grown;
	size_t n;

	if (!q)
		return -ENOMEM;
	n = strlen(q);
	grown = realloc(*buf, *len + n + 2);
	if (!grown) {
		free(q);
		return -ENOMEM;
	}
	grown[*len] = ' ';
	memcpy(grown + *len + 1, q, n + 1);
	*len += n + 1;
	*buf = grown;
	free(q);
	return 0;
}

char *slurm_script(char *const *argv, const char *stdin_path)
{
	static const char head[] = "#!/bin/sh\nexec";
	size_t len = sizeof(head) - 1;
	char *buf = strdup(head), *grown;

	if (!buf)
		return NULL;
	for (size_t i = 0; argv[i]; i++) {
		if (slurm_append_word(&buf, &len, argv[i]) < 0)
			goto fail;
	}
	grown = realloc(buf, len + 3);
	if (!grown)
		goto fail;
	buf = grown;
	memcpy(buf + len, " <", 3);
	len += 2;
	if (slurm_append_word(&buf, &len, stdin_path ? stdin_path : "/dev/null") < 0)
		goto fail;
	grown = realloc(buf, len + 2);
	if (!grown)
		goto fail;
	memcpy(grown + len, "\n", 2);
	return grown;
fail:
	free(buf);
	return NULL;
}

void slurm_job_name(const char *name, char *buf, size_t size)
{
	size_t i = 0;

	if (size == 0)
		return;
	if (size > 65)
		size = 65;
	for (; name[i] && i + 1 < size; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		buf[i] = ok ? c : '_';
	}
	buf[i] = '\0';
}

int slurm_parse_submit(const char *out, size_t len, char *id, size_t size)
{
	size_t n = 0;

	while (len > 0 && (*out == ' ' || *out == '\n')) {
		out++;
		len--;
	}
	while (n < len && out[n] >= '0' && out[n] <= '9')
		n++;
	if (n == 0 || n >= size || (n < len && out[n] != ';' && out[n] != '\n' && out[n] != ' '))
		return -EINVAL;
	memcpy(id, out, n);
	id[n] = '\0';
	return 0;
}
