/* Logging to stderr in a form journald understands. Owns no heap memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Atomic: threads of the daemon log too (a reload sets it from the loop). */
static atomic_int log_level = LOG_INFO;
static int log_to_journal;
static const char *log_progname = "coordinatord";

/* systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to stderr. */
static int log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname)
{
	if (progname)
		log_progname = progname;
	log_to_journal = log_stderr_is_journal();
}

void log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_from_name(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{"debug", LOG_DEBUG},	  {"info", LOG_INFO},	 {"notice", LOG_NOTICE},
		{"warning", LOG_WARNING}, {"warn", LOG_WARNING}, {"err", LOG_ERR},
		{"error", LOG_ERR},	  {"crit", LOG_CRIT},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

static const char *log_priority_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "critical";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void log_vmsg(int priority, const char *fmt, va_list ap)
{
	char line[4096];
	int saved_errno = errno;

	if (priority > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line per record: journald would split on a newline. */
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';

	if (log_to_journal) {
		fprintf(stderr, "<%d>%s\n", priority, line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000,
			log_progname, (long)getpid(), log_priority_name(priority), line);
	}
	errno = saved_errno;
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
}

int log_error_errno(int errnum, const char *fmt, ...)
{
	va_list ap;

	errno = errnum;
	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	return -errnum;
}
