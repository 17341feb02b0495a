/*
 * The batch script of a slurm task (see slurm_script.h). Strings returned
 * are the caller's.
 *
 * The task runs under /usr/bin/env with its own environment (sbatch itself
 * gets none of it), through `sh -c 'exec "$0" "$@"'` so that any argv[0]
 * works. Each of its streams goes through a pipe into `head -c HEAD; tail
 * -c TAIL+1` and from there into its file: the file never holds more than
 * the limit and one byte (which tells the daemon that the middle was
 * dropped), and the task never sees a closed pipe. The filters ignore
 * SIGTERM, so that a cancelled task's output still reaches its file; the
 * script waits for them and passes the task's status on, a death by a
 * signal as that signal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurm_script.h"
#include "slurm_spool.h"

/* A growing string; NULL data after a failed allocation. */
struct slurm_script_buf {
	char *data;
	size_t len;
};

static void slurm_script_add(struct slurm_script_buf *b, const char *text, size_t n)
{
	char *grown;

	if (!b->data)
		return;
	grown = realloc(b->data, b->len + n + 1);
	if (!grown) {
		free(b->data);
		b->data = NULL;
		return;
	}
	memcpy(grown + b->len, text, n);
	b->len += n;
	grown[b->len] = '\0';
	b->data = grown;
}

static void slurm_script_printf(struct slurm_script_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void slurm_script_printf(struct slurm_script_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		free(b->data);
		b->data = NULL;
		return;
	}
	slurm_script_add(b, text, (size_t)n);
	free(text);
}

/* Appends s quoted, after a space unless it is glued to what comes before. */
static void slurm_script_word(struct slurm_script_buf *b, const char *s, bool glued)
{
	char *q = slurm_script_quote(s);

	if (!q) {
		free(b->data);
		b->data = NULL;
		return;
	}
	if (!glued)
		slurm_script_add(b, " ", 1);
	slurm_script_add(b, q, strlen(q));
	free(q);
}

char *slurm_script_quote(const char *s)
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

char *slurm_script(const struct slurm_script_spec *spec)
{
	struct slurm_script_buf b = {.data = strdup("")};

	slurm_script_printf(&b,
			    "#!/bin/sh\n"
			    "# coordinatord: one task, its output kept within the limit on disk.\n"
			    "PATH=/usr/local/bin:/usr/bin:/bin\n"
			    "R=");
	slurm_script_word(&b, spec->run_dir, true);
	slurm_script_printf(&b,
			    "\n"
			    "trap : TERM\n"
			    "keep() { trap '' TERM; head -c %zu; tail -c %zu; }\n"
			    "{ { /usr/bin/env --",
			    spec->head, spec->tail + 1);
	for (size_t i = 0; spec->user_envp && spec->user_envp[i]; i++)
		slurm_script_word(&b, spec->user_envp[i], false);
	for (size_t i = 0; spec->envp[i]; i++)
		slurm_script_word(&b, spec->envp[i], false);
	slurm_script_printf(&b, " /bin/sh -c 'exec \"$0\" \"$@\"'");
	for (size_t i = 0; spec->argv[i]; i++)
		slurm_script_word(&b, spec->argv[i], false);
	if (spec->has_stdin)
		slurm_script_printf(&b, " <\"$R/%s\"", SLURM_SPOOL_STDIN);
	else
		slurm_script_printf(&b, " </dev/null");
	slurm_script_printf(&b,
			    " 2>&3 3>&-; echo $? >\"$R/%s\"; } | keep >\"$R/%s\" 3>&-; } 3>&1 |"
			    " keep >\"$R/%s\"\n"
			    "trap - TERM\n"
			    "s=1\n"
			    "read s <\"$R/%s\"\n"
			    "case $s in '' | *[!0-9]*) s=1 ;; esac\n"
			    "case $((s - 128)) in\n"
			    "[1-9] | 1[0-6] | 2[4-7] | 29 | 3[01]) kill -$((s - 128)) $$ ;;\n"
			    "esac\n"
			    "exit $s\n",
			    SLURM_SPOOL_STATUS, SLURM_SPOOL_OUT, SLURM_SPOOL_ERR,
			    SLURM_SPOOL_STATUS);
	return b.data;
}
