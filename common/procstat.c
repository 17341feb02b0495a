/* Parses /proc/PID/stat; nothing is allocated. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"

/*
 * The unsigned decimal number skip fields after the one s starts with
 * (fields are separated by one space). A hand parse: sscanf costs
 * thousands of instructions, and every started process is read.
 */
static int procstat_field(const char *s, int skip, unsigned long long *ret)
{
	unsigned long long v = 0;
	const char *p = s;

	for (; skip > 0; skip--) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (ULLONG_MAX - (unsigned)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (*p != ' ' && *p != '\n' && *p != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int procstat_read(pid_t pid, struct procstat *ret)
{
	char path[64], buf[1024], *p;
	struct procstat st = {0};
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	/* After ") " come fields 3..: the state, then starttime is field 22. */
	st.state = p[2];
	if (procstat_field(p + 2, 22 - 3, &st.starttime) < 0)
		return -EINVAL;
	*ret = st;
	return 0;
}

unsigned long long procstat_starttime(pid_t pid)
{
	struct procstat st;

	return procstat_read(pid, &st) == 0 ? st.starttime : 0;
}
