/*
 * coordctl and a job's output against the real daemon: submit --wait and
 * logs -f print lines while the task still runs (it waits on a fifo the
 * test opens), logs --tail finds the last line of a long output, and logs
 * marks where the daemon dropped bytes.
 */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkrun.h"
#include "testd.h"

#define OUTPUT_WAIT_MS 30000

static struct testd daemon_under_test;

static void out_setup(void)
{
	ck_assert_msg(testd_start(&daemon_under_test, NULL) == 0, "cannot start $COORDINATORD");
	setenv("COORD_SOCKET", daemon_under_test.sock, 1);
}

static void out_teardown(void)
{
	testd_stop(&daemon_under_test);
}

/* Runs coordctl with the arguments (NULL-terminated); output in *run. */
static void out_ctl(struct testd_run *run, const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = getenv("COORDCTL");
	ck_assert_ptr_nonnull(argv[0]);
	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert_int_eq(testd_run(argv, NULL, run), 0);
}

/* A fifo in the daemon's temp dir for a task to wait on (path in buf). */
static const char *out_gate(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", daemon_under_test.dir, name);
	ck_assert_int_eq(mkfifo(buf, 0600), 0);
	return buf;
}

static void out_open_gate(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* What path holds now (caller frees). */
static char *out_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	ck_assert_ptr_nonnull(buf);
	if (!f)
		return buf;
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Waits until path holds want (polling what the client printed so far). */
static void out_await_text(const char *path, const char *want)
{
	struct timespec tick = {0, 20 * 1000 * 1000};

	for (int waited = 0; waited < OUTPUT_WAIT_MS; waited += 20) {
		char *text = out_slurp(path);
		int found = strstr(text, want) != NULL;

		free(text);
		if (found)
			return;
		nanosleep(&tick, NULL);
	}
	ck_abort_msg("%s never held \"%s\"", path, want);
}

/* The exit code of a background coordctl. */
static int out_reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * Runs argv in the background into the file name (in the daemon's dir):
 * it must print first while the task waits on gate, then (once the gate
 * opens) end with status and have printed all.
 */
static void out_run_gated(char *const argv[], const char *name, const char *gate, const char *first,
			  int status, const char *all)
{
	char out[512], *text;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/%s", daemon_under_test.dir, name);
	pid = testd_spawn_bg(argv, out);
	ck_assert_int_gt(pid, 0);
	out_await_text(out, first);
	out_open_gate(gate);
	ck_assert_int_eq(out_reap(pid), status);
	text = out_slurp(out);
	ck_assert_str_eq(text, all);
	free(text);
}

START_TEST(test_submit_wait_streams)
{
	char gate[512], script[1024];
	char *argv[] = {getenv("COORDCTL"), "submit", "--wait", "--",
			"/bin/sh",	    "-c",     script,	NULL};

	out_gate(gate, sizeof(gate), "gate-submit");
	snprintf(script, sizeof(script), "echo first; cat %s >/dev/null; echo second; exit 3",
		 gate);
	/* The first line is printed while the task waits: the second is not written yet. */
	out_run_gated(argv, "submit.out", gate, "first\n", 3, "first\nsecond\n");
}
END_TEST

START_TEST(test_logs_follow)
{
	char gate[512], script[1024];
	char *argv[] = {getenv("COORDCTL"), "logs", "-f", "follow-me", NULL};
	struct testd_run run;

	out_gate(gate, sizeof(gate), "gate-logs");
	snprintf(script, sizeof(script), "echo hi; cat %s >/dev/null; echo bye; exit 4", gate);
	out_ctl(&run, "submit", "--request-id", "follow-me", "--", "/bin/sh", "-c", script, NULL);
	ck_assert_int_eq(run.status, 0);
	testd_run_free(&run);
	/* It ends with the job, with the job's status. */
	out_run_gated(argv, "logs.out", gate, "hi\n", 4, "hi\nbye\n");

	/* Once closed: the same without -f; only stderr is empty. */
	out_ctl(&run, "logs", "follow-me", NULL);
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "hi\nbye\n");
	testd_run_free(&run);
	out_ctl(&run, "logs", "--stderr", "follow-me", NULL);
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "");
	testd_run_free(&run);
	out_ctl(&run, "logs", "no-such-job", NULL);
	ck_assert_int_eq(run.status, 1);
	ck_assert_ptr_nonnull(strstr(run.err, "not found"));
	testd_run_free(&run);
}
END_TEST

START_TEST(test_logs_tail_and_marker)
{
	static const char marker[] =
		"[coordctl: 9437207 bytes of stdout dropped here by the daemon]\n";
	struct testd_run run;
	char *at;

	out_ctl(&run, "submit", "--wait", "--request-id", "long", "--", "/bin/sh", "-c",
		"head -c 10485760 /dev/zero | tr '\\0' x; echo; echo 'FATAL: the real error'; "
		"exit 2",
		NULL);
	ck_assert_int_eq(run.status, 2);
	testd_run_free(&run);

	/* The last line, though the middle of the output is gone. */
	out_ctl(&run, "logs", "--tail", "1", "long", NULL);
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.out, "FATAL: the real error\n");
	testd_run_free(&run);

	/* All that is kept, with a line saying how much was dropped where. */
	out_ctl(&run, "logs", "long", NULL);
	ck_assert_int_eq(run.status, 0);
	ck_assert_uint_eq(run.out_len, 1024 * 1024 + sizeof(marker) - 1 + 1);
	at = memmem(run.out, run.out_len, marker, sizeof(marker) - 1);
	ck_assert_msg(at != NULL, "no marker line");
	ck_assert_int_eq(at - run.out, 512 * 1024 + 1);
	ck_assert_str_eq(run.out + run.out_len - 22, "FATAL: the real error\n");
	testd_run_free(&run);
}
END_TEST

static Suite *out_suite(void)
{
	Suite *s = suite_create("coordctl-output");
	TCase *tc = tcase_create("output");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, out_setup, out_teardown);
	tcase_add_test(tc, test_submit_wait_streams);
	tcase_add_test(tc, test_logs_follow);
	tcase_add_test(tc, test_logs_tail_and_marker);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(out_suite());
}
