/* coordctl's shared declarations: the command table, exit codes, output helpers. */
#ifndef COORDCTL_H
#define COORDCTL_H

#include <getopt.h>
#include <stdio.h>

#include "coord.h"

/* Exit codes, documented in coordctl(1). */
enum coordctl_exit {
	COORDCTL_EXIT_OK = 0,
	COORDCTL_EXIT_FAILED = 1,	 /* a job failed, or the daemon refused the request */
	COORDCTL_EXIT_USAGE = 2,	 /* bad command line */
	COORDCTL_EXIT_NOINPUT = 66,	 /* EX_NOINPUT: a file named on the command line */
	COORDCTL_EXIT_UNAVAILABLE = 69,	 /* EX_UNAVAILABLE: daemon not reachable */
	COORDCTL_EXIT_SOFTWARE = 70,	 /* EX_SOFTWARE: internal error, out of memory */
	COORDCTL_EXIT_TEMPFAIL = 75,	 /* EX_TEMPFAIL: busy or shutting down */
	COORDCTL_EXIT_PROTOCOL = 76,	 /* EX_PROTOCOL: the daemon sent garbage */
	COORDCTL_EXIT_NOPERM = 77,	 /* EX_NOPERM: permission denied */
	COORDCTL_EXIT_TIMEOUT = 124,	 /* a wait or a task ran out of time */
	COORDCTL_EXIT_CANCELLED = 125,	 /* submit --wait: the task was cancelled */
	COORDCTL_EXIT_SPAWN = 127,	 /* submit --wait: the task could not start */
	COORDCTL_EXIT_SIGNAL_BASE = 128, /* submit --wait: + the signal that killed it */
};

/* Returned by coordctl_option() when parsing goes on. */
#define COORDCTL_CONTINUE (-1)

/* Long option values shared by every command (above any short option char). */
enum coordctl_common_opt {
	COORDCTL_OPT_JSON = 0x1000,
	COORDCTL_OPT_SOCKET,
	COORDCTL_OPT_FIRST_OWN, /* commands number their own options from here */
};

#define COORDCTL_COMMON_OPTIONS                                                                    \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, COORDCTL_OPT_JSON},          \
		{"socket", required_argument, NULL, COORDCTL_OPT_SOCKET},                          \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

/* What every command sees; owns conn (closed by main). */
struct coordctl {
	const char *socket;
	int json;
	int color;  /* stdout is a terminal and NO_COLOR is not set */
	int is_tty; /* stdout is a terminal */
	struct coord_conn *conn;
};

struct coordctl_entry {
	const char *name;
	const char *usage;   /* arguments after the name */
	const char *summary; /* one line */
	const char *help;    /* option lines for --help, may be NULL */
	int (*exec)(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		    char **argv);
};

extern const struct coordctl_entry coordctl_submit_entry;
extern const struct coordctl_entry coordctl_status_entry;
extern const struct coordctl_entry coordctl_job_entry;
extern const struct coordctl_entry coordctl_wait_entry;
extern const struct coordctl_entry coordctl_cancel_entry;
extern const struct coordctl_entry coordctl_rerun_entry;
extern const struct coordctl_entry coordctl_watch_entry;
extern const struct coordctl_entry coordctl_tree_entry;
extern const struct coordctl_entry coordctl_modes_entry;
extern const struct coordctl_entry coordctl_ping_entry;
extern const struct coordctl_entry coordctl_shutdown_entry;
extern const struct coordctl_entry coordctl_metrics_entry;
extern const struct coordctl_entry coordctl_web_entry;
extern const struct coordctl_entry coordctl_logs_entry;

/* coordctl.c: option handling shared by commands. */
int coordctl_option(struct coordctl *ctl, const struct coordctl_entry *entry, int opt);
int coordctl_usage_error(const struct coordctl_entry *entry, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void coordctl_help(const struct coordctl_entry *entry, FILE *out);

/* coordctl-rpc.c: talking to the daemon; each returns 0 or an exit code after printing why. */
int coordctl_rpc_connect(struct coordctl *ctl);
int coordctl_rpc_call(struct coordctl *ctl, const char *method, json_object *params,
		      json_object **ret_result);
int coordctl_rpc_fail(const char *what, const struct coord_error *err);
int coordctl_rpc_exit_code(const struct coord_error *err);

/* coordctl-format.c: output. */
void coordctl_format_json(struct coordctl *ctl, json_object *obj);
void coordctl_format_ago(char *buf, size_t size, double t, double now);
void coordctl_format_duration(char *buf, size_t size, double seconds);
void coordctl_format_clock(char *buf, size_t size, double t);
const char *coordctl_format_color(const struct coordctl *ctl, const char *what);
const char *coordctl_format_reset(const struct coordctl *ctl);
int coordctl_format_number(json_object *obj, const char *key, double *ret);
const char *coordctl_format_result(json_object *job, char *buf, size_t size);
const char *coordctl_format_state(json_object *job);
int coordctl_format_parse_seconds(const char *s, double *ret);
/* The words of a JSON array quoted for a POSIX shell, joined by spaces (caller frees); NULL on
 * ENOMEM. */
char *coordctl_format_shell_words(json_object *words);
/*
 * How long a job ran (*ret_run: from run_start_time to end_time or now;
 * -1 when it never started) and waited (from start_time to run_start_time,
 * or all of its life when it never started). 0, or -1 without start_time.
 */
int coordctl_format_times(json_object *job, double now, double *ret_run, double *ret_waited);

/* coordctl-submit.c: the exit code a closed job's final message stands for. */
int coordctl_submit_exit_code(json_object *message);

/* coordctl-batch.c: submit --batch. */
int coordctl_batch_run(struct coordctl *ctl, const char *path, const char *mode);

#endif
