/* The slurm strategy's pure helpers: scontrol lines, final states, scripts and their quoting. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <check.h>

#include "slurm_parse.h"
#include "testutil.h"

/* A real line of `scontrol -o show job` (Slurm 22.05), shortened at the end. */
static const char failed_line[] =
	"JobId=17 JobName=t1 UserId=root(0) GroupId=root(0) MCS_label=N/A "
	"Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=FAILED "
	"Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 "
	"Reboot=0 ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED Comment=req1  "
	"StdErr=/tmp/sl/17.err StdIn=/dev/null StdOut=/tmp/sl/17.out Power= \n";

static struct slurm_job_line parse_ok(const char *text)
{
	struct slurm_job_line line;

	ck_assert_msg(slurm_parse_job_line(text, strlen(text), &line) == 0, "refused: %s", text);
	return line;
}

START_TEST(test_parse_failed_line)
{
	struct slurm_job_line line = parse_ok(failed_line);

	ck_assert_str_eq(line.job_id, "17");
	ck_assert_str_eq(line.state, "FAILED");
	ck_assert_str_eq(line.reason, "NonZeroExitCode");
	ck_assert_int_eq(line.exit_code, 3);
	ck_assert_int_eq(line.signal, 0);
}
END_TEST

START_TEST(test_parse_tricky_lines)
{
	struct slurm_job_line line;

	/* A job name that looks like fields: the first JobState= after the id counts. */
	line = parse_ok("JobId=5 JobName=x JobState=RUNNING Reason=None ExitCode=0:0 "
			"WorkDir=/a JobState=COMPLETED ExitCode=9:9");
	ck_assert_str_eq(line.state, "RUNNING");
	ck_assert_int_eq(line.exit_code, 0);
	/* DerivedExitCode is not ExitCode. */
	line = parse_ok("JobId=6 JobState=CANCELLED Reason=None DerivedExitCode=1:0 ExitCode=0:15");
	ck_assert_int_eq(line.exit_code, 0);
	ck_assert_int_eq(line.signal, 15);
	/* No ExitCode, no Reason: absent, not zero. */
	line = parse_ok("JobId=7 JobState=PENDING");
	ck_assert_int_eq(line.exit_code, -1);
	ck_assert_str_eq(line.reason, "");
	/* A length that stops before the newline and what follows. */
	ck_assert_int_eq(slurm_parse_job_line("JobId=8 JobState=RUNNING\nJobId=9", 24, &line), 0);
	ck_assert_str_eq(line.job_id, "8");
	ck_assert_str_eq(line.state, "RUNNING");
	/* A garbled exit code is no exit code. */
	line = parse_ok("JobId=10 JobState=FAILED ExitCode=x:1");
	ck_assert_int_eq(line.exit_code, -1);
	ck_assert_int_eq(line.signal, 0);
}
END_TEST

START_TEST(test_parse_refusals)
{
	static const char *const bad[] = {
		"",
		"No jobs in the system",
		"slurm_load_jobs error: Invalid job id specified",
		"JobId= JobState=RUNNING",
		"JobId=12 JobName=x",
		"JobId=12 JobState=",
		" JobId=12 JobState=RUNNING",
		"JobId=123456789012345678901234567890123 JobState=RUNNING",
	};
	struct slurm_job_line line;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(slurm_parse_job_line(bad[i], strlen(bad[i]), &line) == -EINVAL,
			      "accepted: \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_states)
{
	static const char *const final[] = {"COMPLETED", "FAILED",    "CANCELLED",
					    "TIMEOUT",	 "NODE_FAIL", "OUT_OF_MEMORY",
					    "BOOT_FAIL", "PREEMPTED", "DEADLINE"};
	static const char *const not_final[] = {"PENDING",   "RUNNING",	 "COMPLETING",
						"SUSPENDED", "REQUEUED", "CONFIGURING",
						"RESIZING",  "",	 "completed"};

	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		ck_assert_msg(slurm_state_final(final[i]), "%s", final[i]);
	for (size_t i = 0; i < sizeof(not_final) / sizeof(not_final[0]); i++)
		ck_assert_msg(!slurm_state_final(not_final[i]), "%s", not_final[i]);
	ck_assert(slurm_state_running("RUNNING"));
	ck_assert(slurm_state_running("COMPLETING"));
	ck_assert(!slurm_state_running("PENDING"));
}
END_TEST

static struct slurm_outcome outcome(const char *state, const char *reason, int code, int sig)
{
	struct slurm_job_line line = {.job_id = "42", .exit_code = code, .signal = sig};
	struct slurm_outcome oc;

	strcpy(line.state, state);
	strcpy(line.reason, reason);
	slurm_outcome_of(&line, &oc);
	return oc;
}

START_TEST(test_outcomes)
{
	struct slurm_outcome oc;

	oc = outcome("COMPLETED", "None", 0, 0);
	ck_assert_int_eq(oc.kind, ERROR_NONE);
	ck_assert_int_eq(oc.exit_code, 0);
	oc = outcome("FAILED", "NonZeroExitCode", 3, 0);
	ck_assert_int_eq(oc.kind, ERROR_EXIT);
	ck_assert_int_eq(oc.exit_code, 3);
	ck_assert_ptr_nonnull(strstr(oc.message, "status 3"));
	oc = outcome("FAILED", "JobLaunchFailure", 0, 9);
	ck_assert_int_eq(oc.kind, ERROR_SIGNAL);
	ck_assert_int_eq(oc.signal, 9);
	ck_assert_ptr_nonnull(strstr(oc.message, "SIGKILL"));
	oc = outcome("FAILED", "JobLaunchFailure", 0, 0);
	ck_assert_int_eq(oc.kind, ERROR_EXIT);
	ck_assert_int_eq(oc.exit_code, -1);
	ck_assert_ptr_nonnull(strstr(oc.message, "JobLaunchFailure"));
	oc = outcome("CANCELLED", "None", 0, 15);
	ck_assert_int_eq(oc.kind, ERROR_CANCELLED);
	oc = outcome("TIMEOUT", "TimeLimit", 0, 15);
	ck_assert_int_eq(oc.kind, ERROR_TIMEOUT);
	oc = outcome("NODE_FAIL", "NodeDown", 0, 0);
	ck_assert_int_eq(oc.kind, ERROR_EXIT);
	ck_assert_ptr_nonnull(strstr(oc.message, "NODE_FAIL"));
	ck_assert_ptr_nonnull(strstr(oc.message, "NodeDown"));
	ck_assert_ptr_nonnull(strstr(oc.message, "42"));
	oc = outcome("OUT_OF_MEMORY", "OutOfMemory", 0, 0);
	ck_assert_int_eq(oc.kind, ERROR_EXIT);
	ck_assert_ptr_nonnull(strstr(oc.message, "OUT_OF_MEMORY"));
}
END_TEST

START_TEST(test_quote)
{
	char *q;

	q = slurm_quote("plain");
	ck_assert_str_eq(q, "'plain'");
	free(q);
	q = slurm_quote("");
	ck_assert_str_eq(q, "''");
	free(q);
	q = slurm_quote("it's");
	ck_assert_str_eq(q, "'it'\\''s'");
	free(q);
}
END_TEST

/* Runs script with /bin/sh and returns what it printed (caller frees). */
static char *run_script(const char *script)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	posix_spawn_file_actions_t fa;
	char *out = calloc(1, 65536);
	size_t len = 0;
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, NULL), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while ((n = read(fds[0], out + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "script failed: %s", script);
	return out;
}

START_TEST(test_script_runs_argv_verbatim)
{
	/* Every argument reaches the program as it was, whatever the shell makes of it. */
	char *argv[] = {"printf",   "[%s]\\n", "a b",	      "it's",	   "$HOME", "`id`",
			"$(id)",    "\"q\"",   "back\\slash", "new\nline", "*",	    "",
			";exit 1;", "'",       "''\\''",      NULL};
	char *script = slurm_script(argv, NULL), *out;

	ck_assert_ptr_nonnull(script);
	ck_assert_msg(strncmp(script, "#!/bin/sh\nexec ", 15) == 0, "%s", script);
	ck_assert_ptr_nonnull(strstr(script, " < '/dev/null'\n"));
	out = run_script(script);
	ck_assert_str_eq(out, "[a b]\n[it's]\n[$HOME]\n[`id`]\n[$(id)]\n[\"q\"]\n[back\\slash]\n"
			      "[new\nline]\n[*]\n[]\n[;exit 1;]\n[']\n[''\\'']\n");
	free(out);
	free(script);
}
END_TEST

START_TEST(test_script_stdin_from_file)
{
	char *dir = tu_mkdtemp(), path[512], *script, *out;
	char *argv[] = {"cat", NULL};
	int fd;

	snprintf(path, sizeof(path), "%s/it's a file.stdin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "fed\n", 4), 4);
	close(fd);
	script = slurm_script(argv, path);
	ck_assert_ptr_nonnull(script);
	out = run_script(script);
	ck_assert_str_eq(out, "fed\n");
	free(out);
	free(script);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_job_name)
{
	char buf[65];

	slurm_job_name("plain-name_1.2", buf, sizeof(buf));
	ck_assert_str_eq(buf, "plain-name_1.2");
	slurm_job_name("a b\nJobState=X", buf, sizeof(buf));
	ck_assert_str_eq(buf, "a_b_JobState_X");
	slurm_job_name("0123456789012345678901234567890123456789012345678901234567890123456789",
		       buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), 64);
	slurm_job_name("abc", buf, 3);
	ck_assert_str_eq(buf, "ab");
}
END_TEST

START_TEST(test_parse_submit)
{
	char id[SLURM_JOB_ID_MAX];

	ck_assert_int_eq(slurm_parse_submit("123\n", 4, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "123");
	ck_assert_int_eq(slurm_parse_submit("77;cluster\n", 11, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "77");
	ck_assert_int_eq(slurm_parse_submit("", 0, id, sizeof(id)), -EINVAL);
	ck_assert_int_eq(slurm_parse_submit("Submitted batch job 5\n", 22, id, sizeof(id)),
			 -EINVAL);
	ck_assert_int_eq(slurm_parse_submit("12x\n", 4, id, sizeof(id)), -EINVAL);
	ck_assert_int_eq(slurm_parse_submit("123456", 6, id, 4), -EINVAL);
}
END_TEST

static Suite *slurm_parse_suite(void)
{
	Suite *s = suite_create("slurm-parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_parse_failed_line);
	tcase_add_test(tc, test_parse_tricky_lines);
	tcase_add_test(tc, test_parse_refusals);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_outcomes);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_script_runs_argv_verbatim);
	tcase_add_test(tc, test_script_stdin_from_file);
	tcase_add_test(tc, test_job_name);
	tcase_add_test(tc, test_parse_submit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slurm_parse_suite());
}
