/* coordctl's output helpers: JSON, times, durations, colours. Buffers are the caller's. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordctl.h"
#include "jsonutil.h"

void coordctl_format_json(struct coordctl *ctl, json_object *obj)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= ctl->is_tty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			     : JSON_C_TO_STRING_PLAIN;
	if (!obj) {
		puts("null");
		return;
	}
	puts(json_object_to_json_string_ext(obj, flags));
}

void coordctl_format_duration(char *buf, size_t size, double s)
{
	long long t;

	if (s < 0)
		s = 0;
	if (s < 10) {
		snprintf(buf, size, "%.2fs", s);
		return;
	}
	t = (long long)s;
	if (t < 60)
		snprintf(buf, size, "%llds", t);
	else if (t < 3600)
		snprintf(buf, size, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, size, "%lldh%02lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
}

void coordctl_format_ago(char *buf, size_t size, double t, double now)
{
	long long d = (long long)(now - t);

	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(buf, size, "%llds ago", d);
	else if (d < 3600)
		snprintf(buf, size, "%lldm ago", d / 60);
	else if (d < 86400)
		snprintf(buf, size, "%lldh ago", d / 3600);
	else
		snprintf(buf, size, "%lldd ago", d / 86400);
}

void coordctl_format_clock(char *buf, size_t size, double t)
{
	time_t secs = (time_t)t;
	struct tm tm;

	if (!localtime_r(&secs, &tm)) {
		snprintf(buf, size, "%.3f", t);
		return;
	}
	snprintf(buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)((t - (double)secs) * 1000) % 1000);
}

const char *coordctl_format_color(const struct coordctl *ctl, const char *what)
{
	if (!ctl->color || !what)
		return "";
	if (strcmp(what, "success") == 0)
		return "\033[32m";
	if (strcmp(what, "failure") == 0)
		return "\033[31m";
	if (strcmp(what, "running") == 0)
		return "\033[33m";
	if (strcmp(what, "header") == 0)
		return "\033[1m";
	return "";
}

const char *coordctl_format_reset(const struct coordctl *ctl)
{
	return ctl->color ? "\033[0m" : "";
}

int coordctl_format_number(json_object *obj, const char *key, double *ret)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return -1;
	*ret = json_object_get_double(v);
	return 0;
}

const char *coordctl_format_result(json_object *job, char *buf, size_t size)
{
	const char *result = json_get_string(job, "result");
	json_object *error;
	const char *kind;

	if (!result)
		return "-";
	if (strcmp(result, "failure") != 0 || !json_object_object_get_ex(job, "error", &error) ||
	    !(kind = json_get_string(error, "kind")))
		return result;
	snprintf(buf, size, "failure:%s", kind);
	return buf;
}

const char *coordctl_format_state(json_object *job)
{
	const char *status = json_get_string(job, "status");
	const char *phase = json_get_string(job, "phase");

	if (status && strcmp(status, "opened") == 0 && phase)
		return phase;
	return status ? status : "?";
}

int coordctl_format_parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e9)
		return -1;
	*ret = v;
	return 0;
}

/* Whether word needs no quotes in a POSIX shell. */
static int coordctl_format_shell_safe(const char *word)
{
	if (!*word)
		return 0;
	for (const char *p = word; *p; p++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_@%+=:,./-",
			    *p))
			return 0;
	return 1;
}

char *coordctl_format_shell_words(json_object *words)
{
	size_t n =
		json_object_is_type(words, json_type_array) ? json_object_array_length(words) : 0;
	size_t cap = 1, len = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		cap += 4 * (size_t)json_object_get_string_len(json_object_array_get_idx(words, i)) +
		       3;
	out = malloc(cap);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *w = json_object_get_string(json_object_array_get_idx(words, i));

		if (!w)
			w = "";
		if (i)
			out[len++] = ' ';
		if (coordctl_format_shell_safe(w)) {
			memcpy(out + len, w, strlen(w));
			len += strlen(w);
			continue;
		}
		/* 'it'\''s': a single quote ends the quoting, is escaped, and quoting goes on. */
		out[len++] = '\'';
		for (const char *p = w; *p; p++) {
			if (*p == '\'') {
				memcpy(out + len, "'\\''", 4);
				len += 4;
			} else {
				out[len++] = *p;
			}
		}
		out[len++] = '\'';
	}
	out[len] = '\0';
	return out;
}

int coordctl_format_times(json_object *job, double now, double *ret_run, double *ret_waited)
{
	double start, run_start, end = now;

	if (coordctl_format_number(job, "start_time", &start) < 0)
		return -1;
	coordctl_format_number(job, "end_time", &end);
	if (coordctl_format_number(job, "run_start_time", &run_start) < 0) {
		/* Never started (yet): all of it was waiting. */
		*ret_run = -1;
		*ret_waited = end - start;
		return 0;
	}
	*ret_run = end - run_start;
	*ret_waited = run_start - start;
	return 0;
}
