/* procstat: the state and start time of a process, also when its name holds ") " and digits. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <check.h>

#include "procstat.h"
#include "testutil.h"

/* Field 22 of /proc/PID/stat, found the slow, obvious way. */
static unsigned long long starttime_by_scan(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
				"%*d %*d %*d %llu",
				&v),
			 1);
	return v;
}

START_TEST(test_procstat_self)
{
	struct procstat st;

	ck_assert_int_eq(procstat_read(getpid(), &st), 0);
	ck_assert_int_eq(st.state, 'R');
	ck_assert_uint_gt(st.starttime, 0);
	ck_assert_uint_eq(st.starttime, starttime_by_scan(getpid()));
	ck_assert_uint_eq(procstat_starttime(getpid()), st.starttime);
}
END_TEST

START_TEST(test_procstat_odd_name)
{
	struct procstat st;
	int fds[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[1]);
		prctl(PR_SET_NAME, "a) 1 2 ) (3");
		/* Waits until the parent has looked (the pipe closes). */
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	/* The name is set once the child's stat shows it. */
	for (;;) {
		char path[64], buf[256] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
		fclose(f);
		if (strncmp(buf, "a) 1 2 ) (3", 11) == 0)
			break;
		usleep(1000);
	}
	ck_assert_int_eq(procstat_read(pid, &st), 0);
	ck_assert(st.state == 'S' || st.state == 'R');
	ck_assert_uint_eq(st.starttime, starttime_by_scan(pid));
	close(fds[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* Gone: an error, and a start time of 0. */
	ck_assert_int_lt(procstat_read(pid, &st), 0);
	ck_assert_uint_eq(procstat_starttime(pid), 0);
}
END_TEST

static Suite *procstat_suite(void)
{
	Suite *s = suite_create("procstat");
	TCase *tc = tcase_create("procstat");

	tcase_add_test(tc, test_procstat_self);
	tcase_add_test(tc, test_procstat_odd_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(procstat_suite());
}
