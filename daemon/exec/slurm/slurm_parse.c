/* Pure helpers of the slurm strategy: squeue's lines, sbatch's answer, final states. */
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

/* One field of a line: start and length, not NUL-terminated. */
struct slurm_field {
	const char *at;
	size_t len;
};

/*
 * Splits line[0..len) into exactly n fields, each ended by '|' (squeue's
 * suffix), with nothing after the last. 0 or -EINVAL.
 */
static int slurm_fields(const char *line, size_t len, struct slurm_field *fields, size_t n)
{
	const char *end = line + len, *p = line;

	for (size_t i = 0; i < n; i++) {
		const char *bar = memchr(p, '|', (size_t)(end - p));

		if (!bar)
			return -EINVAL;
		fields[i].at = p;
		fields[i].len = (size_t)(bar - p);
		p = bar + 1;
	}
	/* squeue pads with spaces where a field is short; nothing else may follow. */
	while (p < end && *p == ' ')
		p++;
	return p == end ? 0 : -EINVAL;
}

/* Copies a field into buf, which must hold it: 0 or -EINVAL. */
static int slurm_field_copy(const struct slurm_field *f, char *buf, size_t size, bool digits)
{
	size_t len = f->len;

	while (len > 0 && f->at[len - 1] == ' ')
		len--;
	if (len == 0 || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = f->at[i];

		if (digits ? !(c >= '0' && c <= '9') : (c < '!' || c > '~'))
			return -EINVAL;
	}
	memcpy(buf, f->at, len);
	buf[len] = '\0';
	return 0;
}

/* A field of decimal digits as a number up to max: 0 or -EINVAL. */
static int slurm_field_number(const struct slurm_field *f, unsigned long max, unsigned long *ret)
{
	char buf[24];
	unsigned long long v;

	if (slurm_field_copy(f, buf, sizeof(buf), true) < 0)
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, NULL, 10);
	if (errno || v > max)
		return -EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

int slurm_parse_job_line(const char *line, size_t len, struct slurm_job_line *ret)
{
	struct slurm_job_line job = {.exit_code = 0};
	struct slurm_field f[5];
	unsigned long status;

	if (slurm_fields(line, len, f, 5) < 0 ||
	    slurm_field_copy(&f[0], job.job_id, sizeof(job.job_id), true) < 0 ||
	    slurm_field_copy(&f[1], job.state, sizeof(job.state), false) < 0 ||
	    slurm_field_number(&f[3], 0xffffffffUL, &job.uid) < 0 ||
	    slurm_field_number(&f[4], 0xffffUL, &status) < 0)
		return -EINVAL;
	/* A reason may be absent; one that does not fit is cut. */
	snprintf(job.reason, sizeof(job.reason), "%.*s", (int)f[2].len, f[2].at);
	for (char *c = job.reason; *c; c++)
		if (*c < ' ' || *c > '~')
			*c = '?';
	if (status & 0x7f) {
		job.exit_code = -1;
		job.signal = (int)(status & 0x7f);
	} else {
		job.exit_code = (int)((status >> 8) & 0xff);
	}
	*ret = job;
	return 0;
}

int slurm_parse_named_line(const char *line, size_t len, struct slurm_named_job *ret)
{
	struct slurm_named_job job;
	struct slurm_field f[3];

	if (slurm_fields(line, len, f, 3) < 0 ||
	    slurm_field_copy(&f[0], job.job_id, sizeof(job.job_id), true) < 0 ||
	    slurm_field_copy(&f[1], job.state, sizeof(job.state), false) < 0 ||
	    slurm_field_copy(&f[2], job.name, sizeof(job.name), false) < 0)
		return -EINVAL;
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

/* The next '|'-separated field of [*p, end) into buf; -EINVAL when it does not fit. */
static int slurm_acct_field(const char **p, const char *end, char *buf, size_t size)
{
	const char *bar = memchr(*p, '|', (size_t)(end - *p));
	size_t n = bar ? (size_t)(bar - *p) : (size_t)(end - *p);

	if (n >= size)
		return -EINVAL;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += bar ? n + 1 : n;
	return 0;
}

int slurm_parse_acct_line(const char *line, size_t len, struct slurm_job_line *ret, char *name,
			  size_t name_size)
{
	const char *p = line, *end = line + len;
	char code[32], *colon, *rest;
	unsigned long exit_code, sig;

	memset(ret, 0, sizeof(*ret));
	if (slurm_acct_field(&p, end, ret->job_id, sizeof(ret->job_id)) < 0 ||
	    slurm_acct_field(&p, end, name, name_size) < 0 ||
	    slurm_acct_field(&p, end, ret->state, sizeof(ret->state)) < 0 ||
	    slurm_acct_field(&p, end, code, sizeof(code)) < 0 || p != end || !ret->job_id[0] ||
	    strspn(ret->job_id, "0123456789") != strlen(ret->job_id))
		return -EINVAL;
	ret->state[strcspn(ret->state, " ")] = '\0'; /* "CANCELLED by 0" */
	colon = strchr(code, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	exit_code = strtoul(code, &rest, 10);
	if (rest == code || *rest || exit_code > 255)
		return -EINVAL;
	sig = strtoul(colon + 1, &rest, 10);
	if (rest == colon + 1 || *rest || sig > 127)
		return -EINVAL;
	ret->exit_code = sig ? -1 : (int)exit_code;
	ret->signal = (int)sig;
	return 0;
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
