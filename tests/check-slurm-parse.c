/* The slurm strategy's pure helpers: squeue's lines, final states, sbatch's answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "slurm_parse.h"
#include "testutil.h"

/* Real lines of `squeue --noheader --Format=SLURM_POLL_FORMAT` (Slurm 22.05). */
static const char failed_line[] = "17|FAILED|NonZeroExitCode|0|768|";
static const char killed_line[] = "18|FAILED|JobLaunchFailure|1000|9|";

static struct slurm_job_line parse_ok(const char *text)
{
	struct slurm_job_line line;

	ck_assert_msg(slurm_parse_job_line(text, strlen(text), &line) == 0, "refused: %s", text);
	return line;
}

START_TEST(test_parse_job_lines)
{
	struct slurm_job_line line = parse_ok(failed_line);

	ck_assert_str_eq(line.job_id, "17");
	ck_assert_str_eq(line.state, "FAILED");
	ck_assert_str_eq(line.reason, "NonZeroExitCode");
	ck_assert_uint_eq(line.uid, 0);
	ck_assert_int_eq(line.exit_code, 3);
	ck_assert_int_eq(line.signal, 0);
	line = parse_ok(killed_line);
	ck_assert_uint_eq(line.uid, 1000);
	ck_assert_int_eq(line.exit_code, -1);
	ck_assert_int_eq(line.signal, 9);
	/* exit 255 is 65280; padding after a field is allowed. */
	line = parse_ok("5|FAILED  |NonZeroExitCode|65534|65280|   ");
	ck_assert_str_eq(line.state, "FAILED");
	ck_assert_int_eq(line.exit_code, 255);
	/* No reason at all. */
	line = parse_ok("6|RUNNING||0|0|");
	ck_assert_str_eq(line.reason, "");
}
END_TEST

/* The parser reads only the len bytes it is given: no NUL after them (ASan sees overreads). */
START_TEST(test_parse_unterminated)
{
	static const char text[] = "19|COMPLETED|None|0|0|";
	size_t len = strlen(text);
	char *exact = malloc(len);
	struct slurm_job_line line;
	struct slurm_named_job job;

	ck_assert_ptr_nonnull(exact);
	memcpy(exact, text, len);
	ck_assert_int_eq(slurm_parse_job_line(exact, len, &line), 0);
	ck_assert_str_eq(line.state, "COMPLETED");
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(slurm_parse_job_line(exact, n, &line), -EINVAL);
	free(exact);
	exact = malloc(3);
	ck_assert_ptr_nonnull(exact);
	memcpy(exact, "1|R", 3);
	ck_assert_int_eq(slurm_parse_named_line(exact, 3, &job), -EINVAL);
	free(exact);
}
END_TEST

START_TEST(test_parse_refusals)
{
	static const char *const bad[] = {
		"",
		"No jobs in the system",
		"slurm_load_jobs error: Invalid job id specified",
		/* What the old scontrol listing of a forged name would look like. */
		"JobId=12 JobState=COMPLETED ExitCode=0:0",
		"|RUNNING|None|0|0|",
		"12||None|0|0|",
		"12|RUNNING|None||0|",
		"12|RUNNING|None|0||",
		"12|RUNNING|None|0|0",
		"12|RUNNING|None|0|0|x",
		"12|RUNNING|None|0|0|0|",
		"12x|RUNNING|None|0|0|",
		"12_3|RUNNING|None|0|0|",
		"12|RUN NING|None|0|0|",
		"12|RUNNING|None|-1|0|",
		"12|RUNNING|None|0|70000|",
		"12|RUNNING|None|99999999999|0|",
		"123456789012345678901234567890123|RUNNING|None|0|0|",
	};
	struct slurm_job_line line;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(slurm_parse_job_line(bad[i], strlen(bad[i]), &line) == -EINVAL,
			      "accepted: \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_parse_named_lines)
{
	static const char *const bad[] = {"", "7|RUNNING|", "7|RUNNING|a b|", "x|RUNNING|n|",
					  "7|RUNNING|n|extra|"};
	struct slurm_named_job job;
	const char *text = "7|PENDING|build.0123456789abcdef0123456789abcdef|";

	ck_assert_int_eq(slurm_parse_named_line(text, strlen(text), &job), 0);
	ck_assert_str_eq(job.job_id, "7");
	ck_assert_str_eq(job.state, "PENDING");
	ck_assert_str_eq(job.name, "build.0123456789abcdef0123456789abcdef");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(slurm_parse_named_line(bad[i], strlen(bad[i]), &job) == -EINVAL,
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

	tcase_add_test(tc, test_parse_job_lines);
	tcase_add_test(tc, test_parse_unterminated);
	tcase_add_test(tc, test_parse_refusals);
	tcase_add_test(tc, test_parse_named_lines);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_outcomes);
	tcase_add_test(tc, test_parse_submit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slurm_parse_suite());
}
