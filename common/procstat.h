/*
 * One reader of /proc/PID/stat for the daemon and the tests: the state
 * letter and the start time of a process.
 */
#ifndef COORD_PROCSTAT_H
#define COORD_PROCSTAT_H

#include <sys/types.h>

struct procstat {
	char state;		      /* 'R', 'S', 'Z', ... */
	unsigned long long starttime; /* clock ticks after boot (field 22) */
};

/* Reads pid's stat line into *ret: 0, -errno of open/read, or -EINVAL when it does not parse. */
int procstat_read(pid_t pid, struct procstat *ret);

/* pid's start time, or 0 when there is no such process. */
unsigned long long procstat_starttime(pid_t pid);

#endif
