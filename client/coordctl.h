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
	COORDCTL_OPT_BAD = 0x0fff, /* coordctl_getopt: a bad option, already reported */
	COORDCTL_OPT_JSON = 0x1000,
	COORDCTL_OPT_SOCKET,
	COORDCTL_OPT_FULL,
	COORDCTL_OPT_FIRST_OWN, /* commands number their own options from here */
};

#define COORDCTL_COMMON_OPTIONS                                                                    \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, COORDCTL_OPT_JSON},          \
		{"socket", required_argument, NULL, COORDCTL_OPT_SOCKET},                          \
		{"full", no_argument, NULL, COORDCTL_OPT_FULL},                                    \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

/* Characters of a request_id shown where --full is not given (like git's short ids). */
#define COORDCTL_SHORT_ID 8

/* What every command sees; owns conn (closed by main). */
struct coordctl {
	const char *socket;
	int json;
	int full;      /* --full: whole request_ids in text output */
	int quiet;     /* -q: only request_ids (status) or names (modes) */
	int color;     /* stdout is a terminal, NO_COLOR is not set and TERM is not dumb */
	int is_tty;    /* stdout is a terminal */
	int no_prefix; /* the daemon refused status' request_id_prefix: ids are used as given */
	const struct coordctl_entry *entry; /* the command running; NULL before one is chosen */
	char optname[64]; /* the option coordctl_getopt() returned last, as "--name" */
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
extern const struct coordctl_entry coordctl_pause_entry;
extern const struct coordctl_entry coordctl_resume_entry;
extern const struct coordctl_entry coordctl_parallel_entry;
extern const struct coordctl_entry coordctl_help_entry;
extern const struct coordctl_entry coordctl_metrics_entry;
extern const struct coordctl_entry coordctl_web_entry;
extern const struct coordctl_entry coordctl_logs_entry;

/*
 * coordctl web's command: in coordctl, coordctl-web-launch.c execs the
 * coordctl-web helper with the options in force; in coordctl-web,
 * coordctl-web.c serves. coordctl itself so links no HTTP server.
 */
int coordctl_web_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv);

/* coordctl-common.c: option handling shared by commands and by both executables. */
extern const char coordctl_common_help[];
/* A fresh ctl for main: is_tty and color from stdout and the environment. */
void coordctl_setup(struct coordctl *ctl);
/* Closes ctl's connection and flushes stdout; returns r, or an exit code if stdout failed. */
int coordctl_finish(struct coordctl *ctl, int r);
int coordctl_option(struct coordctl *ctl, const struct coordctl_entry *entry, int opt);
/*
 * For commands with only the common options: parses them and checks that
 * min to max arguments (max < 0: any number) follow; they start at optind.
 * COORDCTL_CONTINUE to go on, else an exit code.
 */
int coordctl_common_args(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			 char **argv, int min, int max);
void coordctl_help(const struct coordctl_entry *entry, FILE *out);

/* coordctl-getopt.c: getopt_long that refuses abbreviations and names the bad option. */
int coordctl_getopt(struct coordctl *ctl, int argc, char **argv, const char *shortopts,
		    const struct option *opts);

/*
 * coordctl-error.c: every error goes out here, as "coordctl CMD: ..." or, with
 * --json, as {"error": {...}} on stderr; each returns the exit code given.
 * extra (borrowed, may be NULL): members added to the JSON error object.
 */
int coordctl_fail(struct coordctl *ctl, int exit_code, const char *kind, json_object *extra,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int coordctl_usage_error(struct coordctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "bad value 'ARG' for --OPTION" for the option coordctl_getopt() returned last. */
int coordctl_bad_value(struct coordctl *ctl, const char *arg);
int coordctl_rpc_fail(struct coordctl *ctl, const char *what, const struct coord_error *err);
int coordctl_rpc_exit_code(const struct coord_error *err);

/* coordctl-rpc.c: talking to the daemon; each returns 0 or an exit code after printing why. */
int coordctl_rpc_connect(struct coordctl *ctl);
int coordctl_rpc_call(struct coordctl *ctl, const char *method, json_object *params,
		      json_object **ret_result);
/*
 * Calls status with params (borrowed; its cursor is set as it goes) page
 * after page, at most max_pages, and hands each job (borrowed) to each_cb.
 */
/* The daemon's mode names, a new JSON array of strings in *ret_names. */
int coordctl_rpc_mode_names(struct coordctl *ctl, json_object **ret_names);
int coordctl_rpc_status_pages(struct coordctl *ctl, json_object *params, size_t max_pages,
			      void (*each_cb)(json_object *job, void *data), void *data);

/*
 * coordctl-resolve.c: a job as the user names it (request_id, unique prefix of
 * at least 4 characters, or the name of an open job) to its request_id
 * (*ret_id the caller's to free); an ambiguous name is reported with its
 * candidates. Each returns 0 or an exit code after reporting.
 */
int coordctl_resolve(struct coordctl *ctl, const char *arg, char **ret_id);
/* Resolves argv[0..argc); *ret_ids is NULL-terminated, for coordctl_resolve_free(). */
int coordctl_resolve_all(struct coordctl *ctl, int argc, char **argv, char ***ret_ids);
void coordctl_resolve_free(char **ids);
/* The request_id as shown: its first COORDCTL_SHORT_ID characters unless --full or --json. */
const char *coordctl_short_id(const struct coordctl *ctl, const char *id, char *buf, size_t size);
/* "short-id (name)" for a Job object. */
const char *coordctl_job_label(const struct coordctl *ctl, json_object *job, char *buf,
			       size_t size);

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

/* coordctl-time.c: "1h30m" (that long before now), "@EPOCH", "now", "YYYY-MM-DD[ HH:MM[:SS]][Z]",
 * "HH:MM[:SS]" (today) to seconds since the epoch; -1 when s is none of these. */
int coordctl_time_parse(const char *s, double now, double *ret);

/* coordctl-submit.c: the exit code a closed job's final message stands for. */
int coordctl_submit_exit_code(json_object *message);

/* coordctl-batch.c: submit --batch. */
int coordctl_batch_run(struct coordctl *ctl, const char *path, const char *mode);

#endif
