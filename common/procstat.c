/* Parses /proc/PID/stat; nothing is allocated. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"

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
	/* After ") " come fields 3..; starttime is field 22. */
	if (sscanf(p + 2,
		   "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &st.state, &st.starttime) != 2)
		return -EINVAL;
	*ret = st;
	return 0;
}

unsigned long long procstat_starttime(pid_t pid)
{
	struct procstat st;

	return procstat_read(pid, &st) == 0 ? st.starttime : 0;
}
