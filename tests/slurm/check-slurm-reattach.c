/*
 * Slurm jobs outlive a daemon restart: after a kill -9 the next start
 * follows the jobs still in Slurm to their real end, asks Slurm's records
 * (sacct, the test cluster's job completion file) about those that ended
 * meanwhile, and closes as lost only what nothing knows. Everything the
 * harness returns is freed here.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <sqlite3.h>

#include "slurmfix.h"

/* A task that waits for the test to create GATE, then prints what and exits with code. */
static char *submit_gated(struct harness_client *c, const char *name, const char *gate,
			  const char *what, int code)
{
	return slurmfix_submit(
		c, harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\",\"argv\":[\"sh\","
				"\"-c\",\"while [ ! -e %s ]; do sleep 0.1; done; echo %s; "
				"echo err-%s >&2; exit %d\"]}}",
				name, gate, what, what, code));
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

struct stored {
	const struct harness_daemon *d;
	int want;
};

/* Whether want jobs have their Slurm job stored in the history. */
static bool refs_stored(void *arg)
{
	struct stored *s = arg;
	sqlite3 *db = harness_db_open(s->d);
	long long n = harness_db_int(
		db,
		"SELECT count(*) FROM jobs WHERE strategy_ref IS NOT NULL AND status = 'opened'");

	sqlite3_close(db);
	return n == s->want;
}

/* Starts a daemon with gated jobs, waits until they run and their refs are stored, kills it -9. */
static void kill9_when_stored(struct harness_daemon *d, int jobs)
{
	struct stored s = {d, jobs};
	int status;

	ck_assert(harness_until(refs_stored, &s, HARNESS_WAIT_MS));
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
}

static void expect_opened(struct harness_client *c, const char *id)
{
	json_object *job = harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", id));

	ck_assert_str_eq(harness_str(job, "job.status"), "opened");
	json_object_put(job);
}

/* ok closed as a success that said what_ok, bad as exit code that said what_bad. */
static void expect_pair(struct harness_client *c, const char *ok, const char *what_ok,
			const char *bad, const char *what_bad, int code)
{
	json_object *msg = slurmfix_final(c, ok);
	char want[64];

	slurmfix_expect_type(msg, "request_success");
	snprintf(want, sizeof(want), "%s\n", what_ok);
	ck_assert_str_eq(harness_str(msg, "result.stdout"), want);
	snprintf(want, sizeof(want), "err-%s\n", what_ok);
	ck_assert_str_eq(harness_str(msg, "result.stderr"), want);
	json_object_put(msg);
	msg = slurmfix_final(c, bad);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "exit");
	ck_assert_int_eq(harness_int(msg, "result.exit_code"), code);
	snprintf(want, sizeof(want), "%s\n", what_bad);
	ck_assert_str_eq(harness_str(msg, "result.stdout"), want);
	snprintf(want, sizeof(want), "err-%s\n", what_bad);
	ck_assert_str_eq(harness_str(msg, "result.stderr"), want);
	json_object_put(msg);
}

START_TEST(test_running_jobs_followed_after_kill9)
{
	struct harness_daemon d;
	struct harness_client *c;
	char name[64], gate[256], *ok, *bad;

	slurmfix_unique_name(name, sizeof(name), "reattach");
	harness_daemon_new(&d, SLURMFIX_CONFIG);
	snprintf(gate, sizeof(gate), "%s/gate", d.dir);
	c = harness_client_new(d.sock);
	ok = submit_gated(c, name, gate, "fine", 0);
	bad = submit_gated(c, name, gate, "broken", 5);
	json_object_put(harness_wait_running(c, ok));
	json_object_put(harness_wait_running(c, bad));
	harness_client_free(c);
	kill9_when_stored(&d, 2);

	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	/* Taken back, not closed as lost, and not cancelled by the orphan sweep. */
	slurmfix_wait_log(&d, "taken back by mode cluster");
	expect_opened(c, ok);
	expect_opened(c, bad);
	touch(gate);
	expect_pair(c, ok, "fine", bad, "broken", 5);
	free(ok);
	free(bad);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* A squeue that lists nothing: a controller that has forgotten every job. */
static void forgetful_bin(const struct harness_daemon *d, char *bin, size_t size)
{
	const char *real[] = {"sbatch", "scancel", "sacct"};
	char path[512], target[64];
	FILE *f;

	snprintf(bin, size, "%s/bin", d->dir);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, real[i]);
		snprintf(target, sizeof(target), "/usr/bin/%s", real[i]);
		ck_assert_int_eq(symlink(target, path), 0);
	}
	snprintf(path, sizeof(path), "%s/squeue", bin);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

START_TEST(test_job_ended_while_down_closes_from_records)
{
	struct harness_daemon d;
	struct harness_client *c;
	char name[64], gate[256], bin[256], config[1024], *ok, *bad;

	slurmfix_unique_name(name, sizeof(name), "ended");
	harness_daemon_new(&d, SLURMFIX_CONFIG);
	snprintf(gate, sizeof(gate), "%s/gate", d.dir);
	c = harness_client_new(d.sock);
	ok = submit_gated(c, name, gate, "done", 0);
	bad = submit_gated(c, name, gate, "failed", 4);
	json_object_put(harness_wait_running(c, ok));
	json_object_put(harness_wait_running(c, bad));
	harness_client_free(c);
	kill9_when_stored(&d, 2);
	touch(gate);
	slurmfix_expect_gone(name);

	/* squeue knows nothing now: only the job completion records tell. */
	forgetful_bin(&d, bin, sizeof(bin));
	snprintf(config, sizeof(config), SLURMFIX_CONFIG "slurm_bin_dir = %s\n", bin);
	harness_daemon_write_config(&d, config);
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	expect_pair(c, ok, "done", bad, "failed", 4);
	free(ok);
	free(bad);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_job_nothing_knows_is_lost)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char name[64], gate[256], *id;

	slurmfix_unique_name(name, sizeof(name), "unknown");
	harness_daemon_new(&d, SLURMFIX_CONFIG);
	snprintf(gate, sizeof(gate), "%s/gate", d.dir);
	c = harness_client_new(d.sock);
	id = submit_gated(c, name, gate, "never", 0);
	json_object_put(harness_wait_running(c, id));
	harness_client_free(c);
	kill9_when_stored(&d, 1);
	/* The stored job id becomes one Slurm never gave. */
	slurmfix_db_exec(&d, "UPDATE jobs SET strategy_ref = '999999' || "
			     "substr(strategy_ref, instr(strategy_ref, ' '))");

	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "lost");
	ck_assert_ptr_nonnull(
		strstr(harness_str(msg, "error.message"), "no longer knows job 999999"));
	ck_assert_ptr_nonnull(strstr(harness_str(msg, "error.message"), "sacct"));
	json_object_put(msg);
	touch(gate);
	slurmfix_expect_gone(name);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *reattach_suite(void)
{
	Suite *s = suite_create("slurm-reattach");
	TCase *tc = tcase_create("restart");

	tcase_add_test(tc, test_running_jobs_followed_after_kill9);
	tcase_add_test(tc, test_job_ended_while_down_closes_from_records);
	tcase_add_test(tc, test_job_nothing_knows_is_lost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return slurmfix_main(reattach_suite());
}
