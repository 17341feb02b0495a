/* The private single-node Slurm of the suites and what they ask it (see slurmfix.h). */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <check.h>

#include "slurmfix.h"

/* How long the fixture scripts may take on a loaded machine. */
#define SLURMFIX_SCRIPT_WAIT_MS 60000

extern char **environ;

static char slurmfix_user[32]; /* our pid: the fixture's user */

int slurmfix_script(const char *script, const char *arg)
{
	const char *dir = getenv("SLURM_FIXTURE_DIR");
	long long deadline = harness_now_ms() + SLURMFIX_SCRIPT_WAIT_MS;
	char path[1024], *argv[] = {"/bin/sh", path, (char *)arg, NULL};
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", script);
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (harness_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "%s did not end in time\n", script);
			return -1;
		}
		harness_sleep_ms(50);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *slurmfix_user_arg(void)
{
	if (!slurmfix_user[0])
		snprintf(slurmfix_user, sizeof(slurmfix_user), "%lld", (long long)getpid());
	return slurmfix_user;
}

int slurmfix_main(Suite *suite)
{
	int up, r;

	up = slurmfix_script("slurm-up.sh", slurmfix_user_arg());
	if (up == 77) {
		fprintf(stderr, "skipped: no private Slurm can run here\n");
		srunner_free(srunner_create(suite));
		return 77;
	}
	if (up != 0) {
		fprintf(stderr, "slurm-up.sh failed (%d)\n", up);
		slurmfix_script("slurm-down.sh", slurmfix_user_arg());
		srunner_free(srunner_create(suite));
		return EXIT_FAILURE;
	}
	r = harness_run_suite(suite);
	if (slurmfix_script("slurm-down.sh", slurmfix_user_arg()) != 0) {
		fprintf(stderr, "slurm-down.sh failed\n");
		r = EXIT_FAILURE;
	}
	return r;
}

char *slurmfix_submit(struct harness_client *c, json_object *params)
{
	json_object *r = harness_ok(c, "submit", params);
	char *id = strdup(harness_str(r, "job.request_id"));

	json_object_put(r);
	return id;
}

json_object *slurmfix_final(struct harness_client *c, const char *request_id)
{
	json_object *job = harness_wait_job(c, request_id), *r, *msg;

	json_object_put(job);
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", request_id));
	msg = json_object_get(harness_get(r, "message"));
	json_object_put(r);
	return msg;
}

char *slurmfix_start_sleeper(struct harness_client *c, const char *name, int seconds,
			     long timeout_ms)
{
	char timeout[64] = "";
	char *id;

	if (timeout_ms)
		snprintf(timeout, sizeof(timeout), ",\"timeout_ms\":%ld", timeout_ms);
	id = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					     "\"argv\":[\"sleep\",\"%d\"]%s}}",
					     name, seconds, timeout));
	slurmfix_wait_slurm_running(c, id, name);
	return id;
}

void slurmfix_expect_stdout(struct harness_client *c, const char *request_id, const char *out)
{
	json_object *msg = slurmfix_final(c, request_id);

	slurmfix_expect_type(msg, "request_success");
	ck_assert_str_eq(harness_str(msg, "result.stdout"), out);
	json_object_put(msg);
}

void slurmfix_expect_type(json_object *msg, const char *type)
{
	ck_assert_msg(strcmp(harness_str(msg, "type"), type) == 0, "not a %s: %s", type,
		      json_object_to_json_string(msg));
}

/* The job as `job` returns it (one reference). */
static json_object *slurmfix_job(struct harness_client *c, const char *request_id)
{
	return harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", request_id));
}

void slurmfix_until_closed(struct harness_client *c, const char *request_id,
			   void (*each)(void *arg), void *arg, int interval_ms)
{
	long long deadline = harness_now_ms() + 2 * HARNESS_WAIT_MS;

	for (;;) {
		json_object *r;
		bool closed;

		if (each)
			each(arg);
		r = slurmfix_job(c, request_id);
		closed = strcmp(harness_str(r, "job.status"), "closed") == 0;
		json_object_put(r);
		if (closed)
			return;
		ck_assert_msg(harness_now_ms() < deadline, "%s never closed", request_id);
		harness_sleep_ms(interval_ms);
	}
}

void slurmfix_expect_closed(struct harness_client *c, const char *request_id, const char *kind)
{
	json_object *r = slurmfix_job(c, request_id);

	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	if (kind)
		ck_assert_str_eq(harness_str(r, "job.error.kind"), kind);
	else
		ck_assert(harness_is_null(r, "job.error"));
	json_object_put(r);
}

void slurmfix_unique_name(char *buf, size_t size, const char *what)
{
	snprintf(buf, size, "coordtest-%s-%d", what, (int)getpid());
}

int slurmfix_sh_as(unsigned uid, const char *text, char **ret_out)
{
	char reuid[32], regid[32], *out = NULL;
	char *argv[] = {"/usr/bin/setpriv", reuid, regid,	 "--clear-groups",
			"/bin/sh",	    "-c",  (char *)text, NULL};
	int status;

	snprintf(reuid, sizeof(reuid), "--reuid=%u", uid);
	snprintf(regid, sizeof(regid), "--regid=%u", uid);
	status = harness_run(argv, &out);
	if (ret_out)
		*ret_out = out;
	else
		free(out);
	return status;
}

/* slurmfix_jobs_named for the Slurm job states states (squeue -t). */
static char *slurmfix_jobs_in(const char *prefix, const char *states, int *ret_count)
{
	/* The name last: other users' names may hold anything, even newlines. */
	char *argv[] = {"/usr/bin/squeue", "-h", "-t", (char *)states, "-o", "%i %j", NULL};
	char *out = NULL, *ids = calloc(1, 1), *line, *save = NULL;
	size_t plen = strlen(prefix);
	int status = harness_run(argv, &out), n = 0;

	ck_assert_ptr_nonnull(ids);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *name = strchr(line, ' '), *grown;

		if (!name || strncmp(name + 1, prefix, plen) != 0)
			continue;
		*name = '\0';
		grown = realloc(ids, strlen(ids) + strlen(line) + 2);
		ck_assert_ptr_nonnull(grown);
		ids = grown;
		if (n++ > 0)
			strcat(ids, " ");
		strcat(ids, line);
	}
	free(out);
	*ret_count = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? n : -1;
	return ids;
}

char *slurmfix_jobs_named(const char *prefix, bool unfinished, int *ret_count)
{
	return slurmfix_jobs_in(prefix, unfinished ? "PD,R,CG,S,CF" : "all", ret_count);
}

void slurmfix_wait_slurm_running(struct harness_client *c, const char *request_id, const char *name)
{
	long long deadline = harness_now_ms() + 2 * HARNESS_WAIT_MS;
	char prefix[128];
	int n;

	json_object_put(harness_wait_running(c, request_id));
	/* The daemon names the Slurm job after the task: NAME.<random hex>. */
	snprintf(prefix, sizeof(prefix), "%s.", name);
	for (;;) {
		free(slurmfix_jobs_in(prefix, "R", &n));
		if (n > 0)
			return;
		ck_assert_msg(harness_now_ms() < deadline, "Slurm never ran %s (%s)", request_id,
			      name);
		harness_sleep_ms(100);
	}
}

void slurmfix_expect_gone(const char *prefix)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int n;

	for (;;) {
		char *ids = slurmfix_jobs_named(prefix, true, &n);

		ck_assert_msg(n == 0 || harness_now_ms() < deadline,
			      "Slurm still has jobs named %s...: %s", prefix, ids);
		free(ids);
		if (n == 0)
			return;
		harness_sleep_ms(200);
	}
}

void slurmfix_wait_log(struct harness_daemon *d, const char *text)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;

	for (;;) {
		char *log = harness_daemon_log(d);
		bool found = strstr(log, text) != NULL;

		free(log);
		if (found)
			return;
		ck_assert_msg(harness_now_ms() < deadline, "the log never said \"%s\"", text);
		harness_sleep_ms(100);
	}
}

void slurmfix_expect_refused(const char *config, const char *want1, const char *want2)
{
	struct harness_daemon d;
	int status;
	char *log;

	harness_daemon_init(&d, config);
	d.pid = harness_daemon_spawn(&d);
	status = harness_daemon_wait_exit(&d, HARNESS_WAIT_MS);
	if (status == -1) {
		harness_daemon_cleanup(&d);
		ck_abort_msg("coordinatord started with: %s", config);
	}
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
		      "coordinatord exited 0 with: %s", config);
	d.pid = 0;
	log = harness_daemon_log(&d);
	ck_assert_msg(strstr(log, want1) && strstr(log, want2), "no \"%s\" and \"%s\" in: %s",
		      want1, want2, log);
	free(log);
	harness_daemon_cleanup(&d);
}
