/* Logging to stderr: journald priority prefixes under systemd, timestamps on a terminal. */
#ifndef COORD_LOG_H
#define COORD_LOG_H

#include <syslog.h>

/* Reads JOURNAL_STREAM once to pick the output form; call before logging. */
void log_init(const char *progname);
/* Messages with a priority numerically above level (e.g. LOG_DEBUG) are dropped. */
void log_set_level(int level);
int log_get_level(void);
/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit"; -1 if unknown. */
int log_level_from_name(const char *name);

void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)	 log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	 log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	 log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)	 log_msg(LOG_ERR, __VA_ARGS__)

/* Logs at error level and returns -errnum (errnum is a positive errno). */
int log_error_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
