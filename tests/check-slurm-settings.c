/* The slurm strategy's settings: defaults, ranges, the spool directory, finding the programs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <check.h>

#include "slurm_settings.h"
#include "testutil.h"

static char *dir; /* a temp dir: state/, bin/ with the three programs, half/ with two */
static char state[512], bin[512], half[512];

static void make_program(const char *in, const char *name)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", in, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
}

static void setup(void)
{
	dir = tu_mkdtemp();
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	snprintf(half, sizeof(half), "%s/half", dir);
	ck_assert_int_eq(mkdir(state, 0700), 0);
	ck_assert_int_eq(mkdir(bin, 0700), 0);
	ck_assert_int_eq(mkdir(half, 0700), 0);
	make_program(bin, "sbatch");
	make_program(bin, "squeue");
	make_program(bin, "scancel");
	make_program(half, "sbatch");
	make_program(half, "squeue");
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

/* Parses settings (NULL-terminated "KEY=VALUE") for mode "cluster". */
static int parse(const char *state_dir, char **settings, struct slurm_settings *ret, char **error)
{
	size_t n = 0;
	struct strategy_config config = {
		.mode = "cluster",
		.kind = "slurm",
		.state_dir = state_dir,
		.settings = settings,
	};

	while (settings[n])
		n++;
	config.setting_count = n;
	return slurm_settings_parse(&config, ret, error);
}

START_TEST(test_defaults)
{
	char bin_dir[600];
	char *settings[] = {bin_dir, NULL};
	struct slurm_settings s;
	char *error = NULL, want[600];
	struct stat st;

	snprintf(bin_dir, sizeof(bin_dir), "slurm_bin_dir=%s", bin);
	ck_assert_int_eq(parse(state, settings, &s, &error), 0);
	ck_assert_ptr_null(error);
	ck_assert_uint_eq(s.poll_ms, SLURM_DEFAULT_POLL_MS);
	ck_assert_uint_eq(s.command_timeout_ms, SLURM_DEFAULT_COMMAND_TIMEOUT_MS);
	ck_assert_ptr_null(s.partition);
	snprintf(want, sizeof(want), "%s/slurm", state);
	ck_assert_str_eq(s.spool_dir, want);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	snprintf(want, sizeof(want), "%s/scancel", bin);
	ck_assert_str_eq(s.scancel, want);
	snprintf(want, sizeof(want), "%s/squeue", bin);
	ck_assert_str_eq(s.squeue, want);
	ck_assert(!s.run_as_submitter);
	slurm_settings_clear(&s);
}
END_TEST

START_TEST(test_every_key)
{
	char bin_dir[600], spool[600], want[600];
	char *settings[] = {bin_dir,
			    spool,
			    "slurm_partition=debug",
			    "slurm_poll_ms=250",
			    "slurm_command_timeout_ms=5000",
			    NULL};
	struct slurm_settings s;
	char *error = NULL;

	snprintf(bin_dir, sizeof(bin_dir), "slurm_bin_dir=%s", bin);
	snprintf(spool, sizeof(spool), "slurm_spool_dir=%s/spool", dir);
	ck_assert_int_eq(parse(NULL, settings, &s, &error), 0);
	ck_assert_str_eq(s.partition, "debug");
	ck_assert_uint_eq(s.poll_ms, 250);
	ck_assert_uint_eq(s.command_timeout_ms, 5000);
	snprintf(want, sizeof(want), "%s/spool", dir);
	ck_assert_str_eq(s.spool_dir, want);
	ck_assert_int_eq(access(want, W_OK), 0);
	slurm_settings_clear(&s);
}
END_TEST

/* Expects settings refused with a message naming the mode and every string in wants. */
static void expect_refusal(const char *state_dir, char **settings, const char *want1,
			   const char *want2)
{
	struct slurm_settings s;
	char *error = NULL;

	ck_assert_int_lt(parse(state_dir, settings, &s, &error), 0);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, "\"cluster\""), "no mode in: %s", error);
	ck_assert_msg(strstr(error, want1), "no \"%s\" in: %s", want1, error);
	ck_assert_msg(!want2 || strstr(error, want2), "no \"%s\" in: %s", want2, error);
	free(error);
}

START_TEST(test_refusals)
{
	char bin_dir[600], half_dir[600];
	char *unknown[] = {bin_dir, "slurm_partitoin=debug", NULL};
	char *not_number[] = {bin_dir, "slurm_poll_ms=fast", NULL};
	char *too_small[] = {bin_dir, "slurm_poll_ms=1", NULL};
	char *negative[] = {bin_dir, "slurm_command_timeout_ms=-5", NULL};
	char *empty[] = {bin_dir, "slurm_command_timeout_ms=", NULL};
	char *relative[] = {bin_dir, "slurm_spool_dir=spool", NULL};
	char *partition[] = {bin_dir, "slurm_partition=a b", NULL};
	char *no_spool[] = {bin_dir, NULL};
	char *missing[] = {half_dir, NULL};
	char *no_dir[] = {"slurm_bin_dir=/nonexistent/bin", NULL};
	char *bad_spool[] = {bin_dir, "slurm_spool_dir=/nonexistent/a/b", NULL};
	char open_spool[600];
	char *world_writable[] = {bin_dir, open_spool, NULL};

	snprintf(bin_dir, sizeof(bin_dir), "slurm_bin_dir=%s", bin);
	snprintf(half_dir, sizeof(half_dir), "slurm_bin_dir=%s", half);
	expect_refusal(state, unknown, "slurm_partitoin", "known:");
	expect_refusal(state, not_number, "slurm_poll_ms", "fast");
	expect_refusal(state, too_small, "slurm_poll_ms", "from 10");
	expect_refusal(state, negative, "slurm_command_timeout_ms", "-5");
	expect_refusal(state, empty, "slurm_command_timeout_ms", NULL);
	expect_refusal(state, relative, "slurm_spool_dir", "absolute");
	expect_refusal(state, partition, "slurm_partition", "a b");
	expect_refusal(NULL, no_spool, "slurm_spool_dir", NULL);
	expect_refusal(state, missing, "scancel", "slurm_bin_dir");
	expect_refusal(state, no_dir, "sbatch", "/nonexistent/bin");
	expect_refusal(state, bad_spool, "slurm_spool_dir", "/nonexistent/a/b");
	snprintf(open_spool, sizeof(open_spool), "slurm_spool_dir=%s/open", dir);
	ck_assert_int_eq(mkdir(open_spool + strlen("slurm_spool_dir="), 0777), 0);
	ck_assert_int_eq(chmod(open_spool + strlen("slurm_spool_dir="), 0777), 0);
	expect_refusal(state, world_writable, "slurm_spool_dir", "writable by others");
}
END_TEST

/* run_as = submitter: only for a daemon run as root, and whether others reach the spool. */
START_TEST(test_run_as_submitter)
{
	char bin_dir[600], spool[600];
	char *settings[] = {bin_dir, spool, NULL};
	struct strategy_config config = {
		.mode = "cluster",
		.kind = "slurm",
		.state_dir = state,
		.settings = settings,
		.setting_count = 2,
		.run_as_submitter = true,
	};
	struct slurm_settings s;
	char *error = NULL;

	snprintf(bin_dir, sizeof(bin_dir), "slurm_bin_dir=%s", bin);
	snprintf(spool, sizeof(spool), "slurm_spool_dir=%s/spool", dir);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(slurm_settings_parse(&config, &s, &error), 0);
	ck_assert(s.run_as_submitter == (geteuid() == 0));
	/* The temp dir above is 0700: a daemon run as root knows others cannot reach it. */
	if (geteuid() == 0)
		ck_assert_msg(s.unreachable && strstr(s.unreachable, dir), "%s", s.unreachable);
	slurm_settings_clear(&s);
	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(slurm_settings_parse(&config, &s, &error), 0);
	ck_assert_ptr_null(s.unreachable);
	slurm_settings_clear(&s);
}
END_TEST

START_TEST(test_programs_from_path)
{
	char *settings[] = {NULL};
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL, path[1200], want[600];
	struct slurm_settings s;
	char *error = NULL;

	snprintf(path, sizeof(path), "%s:%s", half, bin);
	setenv("PATH", path, 1);
	ck_assert_int_eq(parse(state, settings, &s, &error), 0);
	/* The first in PATH wins, program by program. */
	snprintf(want, sizeof(want), "%s/sbatch", half);
	ck_assert_str_eq(s.sbatch, want);
	snprintf(want, sizeof(want), "%s/scancel", bin);
	ck_assert_str_eq(s.scancel, want);
	slurm_settings_clear(&s);
	setenv("PATH", half, 1);
	expect_refusal(state, settings, "scancel is not in PATH", "slurm_bin_dir");
	if (old)
		setenv("PATH", old, 1);
	free(old);
}
END_TEST

static Suite *slurm_settings_suite(void)
{
	Suite *s = suite_create("slurm-settings");
	TCase *tc = tcase_create("settings");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_programs_from_path);
	tcase_add_test(tc, test_run_as_submitter);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slurm_settings_suite());
}
