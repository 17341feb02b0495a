/* coordctl's times on the command line: "1h30m" ago, "@EPOCH", ISO-like dates and clock times. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordctl.h"

/* "30s", "10m", "1h30m", "2d", "1w": seconds in *ret; -1 when s is not one. */
static int time_parse_duration(const char *s, double *ret)
{
	double total = 0, v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (*s) {
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s || v < 0)
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			v *= 60;
			break;
		case 'h':
			v *= 3600;
			break;
		case 'd':
			v *= 86400;
			break;
		case 'w':
			v *= 7 * 86400;
			break;
		default:
			return -1;
		}
		total += v;
		s = end + 1;
	}
	*ret = total;
	return 0;
}

/* A local or, with a trailing Z, UTC date and time; -1 when s is none of the forms. */
static int time_parse_absolute(const char *s, double now, double *ret)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
		"%Y-%m-%d",	     "%H:%M:%S",	  "%H:%M",
	};
	time_t today = (time_t)now;
	struct tm base, tm;
	const char *end;
	time_t t;

	if (!localtime_r(&today, &base))
		return -1;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		tm = (struct tm){0};
		if (formats[i][1] == 'H') { /* a clock time alone is today's */
			tm.tm_year = base.tm_year;
			tm.tm_mon = base.tm_mon;
			tm.tm_mday = base.tm_mday;
		}
		end = strptime(s, formats[i], &tm);
		if (!end || (*end && strcmp(end, "Z") != 0))
			continue;
		tm.tm_isdst = -1;
		t = *end == 'Z' ? timegm(&tm) : mktime(&tm);
		if (t == (time_t)-1)
			return -1;
		*ret = (double)t;
		return 0;
	}
	return -1;
}

int coordctl_time_parse(const char *s, double now, double *ret)
{
	double v;
	char *end;

	if (*s == '@') {
		errno = 0;
		v = strtod(s + 1, &end);
		if (errno || end == s + 1 || *end || !isfinite(v) || v < 0)
			return -1;
		*ret = v;
		return 0;
	}
	if (strcmp(s, "now") == 0) {
		*ret = now;
		return 0;
	}
	if (time_parse_duration(s, &v) == 0) {
		*ret = now - v;
		return 0;
	}
	return time_parse_absolute(s, now, ret);
}
