/*
 * The slurm strategy under attack, against the private single-node Slurm:
 * other cluster users (uid 65534, who cannot even reach the daemon) forge
 * job records and flood the queue; a submitter plants files, swaps its
 * output for a FIFO, preloads a library into sbatch, writes without end;
 * the daemon is killed while its jobs run. Everything returned is freed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>

#include "slurmfix.h"

#define NOBODY 65534

/* A mode whose partition is down: its jobs stay pending in Slurm. */
#define HELD_MODE                                                                                  \
	"[mode:held]\n"                                                                            \
	"strategy = slurm\n"                                                                       \
	"slurm_partition = coordheld\n"                                                            \
	"slurm_poll_ms = 200\n"                                                                    \
	"slurm_command_timeout_ms = 5000\n"

/* Submits as nobody; the job id sbatch printed (its options are shell words). */
static long nobody_sbatch(const char *options)
{
	char *text, *out;
	long id;
	int status;

	ck_assert_int_ge(
		asprintf(&text, "cd /tmp && exec sbatch --parsable -o /dev/null %s", options), 0);
	status = slurmfix_sh_as(NOBODY, text, &out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sbatch as nobody: %s", out);
	id = strtol(out, NULL, 10);
	ck_assert_int_gt(id, 0);
	free(out);
	free(text);
	return id;
}

static void root_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void root_sh(const char *fmt, ...)
{
	char *text, *out;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(r, 0);
	{
		char *argv[] = {"/bin/sh", "-c", text, NULL};

		r = harness_run(argv, &out);
	}
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "%s: %s", text, out);
	free(out);
	free(text);
}

/* Lines that claim jobs first..first+count-1 completed well, in both listings' forms. */
static char *forged_lines(long first, int count)
{
	char *text = strdup(""), *grown;

	ck_assert_ptr_nonnull(text);
	for (long id = first; id < first + count; id++) {
		ck_assert_int_ge(
			asprintf(&grown,
				 "%s\nJobId=%ld JobState=COMPLETED Reason=None ExitCode=0:0"
				 "\n%ld|COMPLETED|None|0|0|",
				 text, id, id),
			0);
		free(text);
		text = grown;
	}
	return text;
}

START_TEST(test_forged_records_of_another_user)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id, *name_lines, *comment_lines, *options;
	long probe, forger;

	/* The next job ids, then a held job that claims they all succeeded. */
	probe = nobody_sbatch("--hold --wrap true");
	root_sh("scancel %ld", probe);
	name_lines = forged_lines(probe + 2, 12);
	comment_lines = forged_lines(probe + 14, 12);
	ck_assert_int_ge(asprintf(&options, "--hold --job-name='x%s' --comment='y%s' --wrap true",
				  name_lines, comment_lines),
			 0);
	forger = nobody_sbatch(options);

	harness_daemon_new(&d, SLURMFIX_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"sleep 3; echo real; exit 1\"]}}"));
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "exit");
	ck_assert_int_eq(harness_int(msg, "error.exit_code"), 1);
	ck_assert_str_eq(harness_str(msg, "result.stdout"), "real\n");
	json_object_put(msg);
	root_sh("scancel %ld", forger);
	free(options);
	free(name_lines);
	free(comment_lines);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* Slurm's time limit of the job whose name starts with prefix ("" while it has none). */
static char *slurm_time_limit(const char *prefix)
{
	char *argv[] = {"/usr/bin/squeue", "-h", "-t", "all", "-o", "%l %j", NULL};
	char *out = NULL, *line, *save = NULL, *limit = strdup("");

	ck_assert_int_eq(harness_run(argv, &out), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *name = strchr(line, ' ');

		if (name && strncmp(name + 1, prefix, strlen(prefix)) == 0) {
			*name = '\0';
			free(limit);
			limit = strdup(line);
		}
	}
	free(out);
	return limit;
}

START_TEST(test_flood_of_other_jobs_and_timeout_while_pending)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char name[64], *quick, *pending, *limit, *flood_out, *text;
	char long_text[1001];
	long long submitted, deadline;
	int status;

	/* Other users' jobs with long names and comments fill what Slurm lists. */
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ck_assert_int_ge(
		asprintf(&text,
			 "cd /tmp && for i in $(seq 200); do sbatch --parsable --hold "
			 "-o /dev/null --job-name=%s --comment=%s --wrap true || exit 1; done",
			 long_text, long_text),
		0);
	status = slurmfix_sh_as(NOBODY, text, &flood_out);
	free(text);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "flood: %s", flood_out);

	slurmfix_unique_name(name, sizeof(name), "pending");
	harness_daemon_new(&d, SLURMFIX_CONFIG HELD_MODE);
	c = harness_client_new(d.sock);
	quick = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":"
						"[\"echo\",\"done\"]}}"));
	/* Slurm never starts it: its timeout counts from submission all the same. */
	submitted = harness_now_ms();
	pending = slurmfix_submit(c, harness_json("{\"mode\":\"held\",\"node\":{\"name\":\"%s\","
						  "\"argv\":[\"echo\",\"never\"],"
						  "\"timeout_ms\":3000}}",
						  name));
	slurmfix_expect_stdout(c, quick, "done\n");
	/* Slurm got the time limit too (it counts in whole minutes). */
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (!*(limit = slurm_time_limit(name)) && harness_now_ms() < deadline) {
		free(limit);
		harness_sleep_ms(100);
	}
	ck_assert_str_eq(limit, "1:00");
	free(limit);
	msg = slurmfix_final(c, pending);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "timeout");
	ck_assert_int_lt(harness_now_ms() - submitted, 15000);
	json_object_put(msg);
	slurmfix_expect_gone(name);

	/* The flood's ids, one per line. */
	for (char *p = flood_out; *p; p++)
		if (*p == '\n')
			*p = ' ';
	root_sh("scancel %s", flood_out);
	free(flood_out);
	free(quick);
	free(pending);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* A fresh directory under /tmp with mode and owner. */
static void make_dir(char *buf, size_t size, mode_t mode, uid_t owner)
{
	snprintf(buf, size, "/tmp/coordspool.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
	ck_assert_int_eq(chmod(buf, mode), 0);
	ck_assert_int_eq(chown(buf, owner, owner), 0);
}

START_TEST(test_unsafe_spool_refused)
{
	char open_dir[64], others_dir[64], *config;

	make_dir(open_dir, sizeof(open_dir), 01777, 0);
	ck_assert_int_ge(asprintf(&config, SLURMFIX_CONFIG "slurm_spool_dir = %s\n", open_dir), 0);
	slurmfix_expect_refused(config, open_dir, "writable by others");
	free(config);

	make_dir(others_dir, sizeof(others_dir), 0700, NOBODY);
	ck_assert_int_ge(asprintf(&config, SLURMFIX_CONFIG "slurm_spool_dir = %s\n", others_dir),
			 0);
	slurmfix_expect_refused(config, others_dir, "owned by uid 65534");
	free(config);
	rmdir(open_dir);
	rmdir(others_dir);
}
END_TEST

/* Entries left in the spool directory (0 when it is gone). */
static int spool_entries(const struct harness_daemon *d)
{
	char path[256];
	DIR *dir;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/slurm", d->state);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(dir);
	return n;
}

static void expect_spool_empty(const struct harness_daemon *d)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;

	while (spool_entries(d) > 0) {
		ck_assert_msg(harness_now_ms() < deadline, "%d files stay in %s/slurm",
			      spool_entries(d), d->state);
		harness_sleep_ms(100);
	}
}

/* The task swaps every file it can find of its job for a FIFO, then prints. */
#define FIFO_SCRIPT                                                                                \
	"o=$(scontrol show job $SLURM_JOB_ID | sed -n 's/.*StdOut=\\\\([^ ]*\\\\).*/\\\\1/p'); "   \
	"d=${o%%/*}; "                                                                             \
	"for f in \\\"$o\\\" \\\"$d/out\\\" \\\"$d/err\\\" \\\"$d/$SLURM_JOB_ID.err\\\"; do "      \
	"if [ -f \\\"$f\\\" ]; then rm -f \\\"$f\\\" && mkfifo \\\"$f\\\" || exit 9; fi; done; "   \
	"echo swapped"

/* A daemon that does not answer a ping within 3 s fails the test. */
static void ping_quickly(void *client)
{
	json_object_put(harness_call(client, "ping", NULL, 3000));
}

START_TEST(test_fifo_in_place_of_output)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char *id;

	harness_daemon_new(&d, SLURMFIX_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"" FIFO_SCRIPT "\"]}}"));
	/* The daemon answers all along, and the job closes. */
	slurmfix_until_closed(c, id, ping_quickly, c, 200);
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_success");
	json_object_put(msg);
	expect_spool_empty(&d);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* The id of the one job whose name starts with prefix, once Slurm has it. */
static char *job_id_named(const char *prefix)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int n;

	for (;;) {
		char *ids = slurmfix_jobs_named(prefix, false, &n);

		if (n == 1)
			return ids;
		free(ids);
		ck_assert_msg(harness_now_ms() < deadline, "Slurm has %d jobs named %s...", n,
			      prefix);
		harness_sleep_ms(100);
	}
}

START_TEST(test_ld_preload_does_not_reach_sbatch)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char name[64], marker[256], *first, *second, *first_job;
	const char *preload = getenv("SLURM_PRELOAD");

	ck_assert_ptr_nonnull(preload);
	slurmfix_unique_name(name, sizeof(name), "preload");
	harness_daemon_new(&d, SLURMFIX_CONFIG);
	snprintf(marker, sizeof(marker), "%s/preload-marker", d.dir);
	c = harness_client_new(d.sock);
	first = slurmfix_submit(c,
				harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					     "\"argv\":[\"sh\",\"-c\",\"sleep 4; echo first\"]}}",
					     name));
	first_job = job_id_named(name);
	/* In sbatch, the library would print the first task's job id as its own. */
	second = slurmfix_submit(
		c, harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
				"\"echo second; echo $LD_PRELOAD >&2\"],\"env\":{\"LD_PRELOAD\":"
				"\"%s\",\"SLURM_PRELOAD_MARKER\":\"%s\",\"SLURM_PRELOAD_FAKE_ID\":"
				"\"%s\"}}}",
				preload, marker, first_job));
	msg = slurmfix_final(c, second);
	slurmfix_expect_type(msg, "request_success");
	ck_assert_str_eq(harness_str(msg, "result.stdout"), "second\n");
	/* The task itself has its LD_PRELOAD. */
	ck_assert_ptr_nonnull(strstr(harness_str(msg, "result.stderr"), preload));
	json_object_put(msg);
	slurmfix_expect_stdout(c, first, "first\n");
	ck_assert_msg(access(marker, F_OK) < 0, "sbatch ran with the task's LD_PRELOAD");
	json_object_put(harness_ok(c, "ping", NULL));
	free(first_job);
	free(first);
	free(second);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* Writes path with text and mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(close(fd), 0);
}

/* The state of job id as squeue says it (a static buffer). */
static const char *job_state(long id)
{
	static char state[64];
	char ids[64], *out = NULL;
	char *argv[] = {"/usr/bin/squeue", "-h", "-t", "all", "-j", ids, "-o", "%T", NULL};

	snprintf(ids, sizeof(ids), "%ld,%ld", id, id);
	ck_assert_int_eq(harness_run(argv, &out), 0);
	snprintf(state, sizeof(state), "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
	return state;
}

START_TEST(test_lying_sbatch_never_makes_us_touch_other_jobs)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	char bin[256], path[300], lie[300], name[64], *config, *script, *first, *second, *third;
	char *first_job, others_id[32];
	long others;

	/* An sbatch that prints the job id in LIE, when there is one, instead of submitting. */
	harness_daemon_init(&d, NULL);
	snprintf(bin, sizeof(bin), "%s/bin", d.dir);
	snprintf(lie, sizeof(lie), "%s/lie", d.dir);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	ck_assert_int_ge(asprintf(&script,
				  "#!/bin/sh\nif [ -s '%s' ]; then cat '%s'; exit 0; fi\n"
				  "exec /usr/bin/sbatch \"$@\"\n",
				  lie, lie),
			 0);
	snprintf(path, sizeof(path), "%s/sbatch", bin);
	write_file(path, script, 0755);
	free(script);
	for (const char *const *p = (const char *const[]){"squeue", "scontrol", "scancel", NULL};
	     *p; p++) {
		char target[64];

		snprintf(path, sizeof(path), "%s/%s", bin, *p);
		snprintf(target, sizeof(target), "/usr/bin/%s", *p);
		ck_assert_int_eq(symlink(target, path), 0);
	}
	ck_assert_int_ge(asprintf(&config, SLURMFIX_CONFIG "slurm_bin_dir = %s\n", bin), 0);
	harness_daemon_write_config(&d, config);
	free(config);
	harness_daemon_start(&d);

	slurmfix_unique_name(name, sizeof(name), "dup");
	c = harness_client_new(d.sock);
	first = slurmfix_submit(c,
				harness_json("{\"mode\":\"cluster\",\"node\":{\"name\":\"%s\","
					     "\"argv\":[\"sh\",\"-c\",\"sleep 4; echo first\"]}}",
					     name));
	first_job = job_id_named(name);
	write_file(lie, first_job, 0644);
	second = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":"
						 "[\"echo\",\"second\"]}}"));
	msg = slurmfix_final(c, second);
	slurmfix_expect_type(msg, "request_failure");
	ck_assert_str_eq(harness_str(msg, "error.kind"), "spawn");
	ck_assert_msg(strstr(harness_str(msg, "error.message"), first_job), "%s",
		      harness_str(msg, "error.message"));
	json_object_put(msg);
	slurmfix_expect_stdout(c, first, "first\n");

	/* Another user's job id: never followed, and a timeout that fires before any poll
	 * cancels nothing of theirs. */
	others = nobody_sbatch("--hold --wrap true");
	snprintf(others_id, sizeof(others_id), "%ld", others);
	write_file(lie, others_id, 0644);
	third = slurmfix_submit(c, harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":"
						"[\"echo\",\"third\"],\"timeout_ms\":1}}"));
	msg = slurmfix_final(c, third);
	slurmfix_expect_type(msg, "request_failure");
	json_object_put(msg);
	ck_assert_str_eq(job_state(others), "PENDING");
	root_sh("scancel %ld", others);
	json_object_put(harness_ok(c, "ping", NULL));
	free(first_job);
	free(first);
	free(second);
	free(third);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

static long long spool_bytes_total;

static int spool_add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F)
		spool_bytes_total += (long long)st->st_blocks * 512;
	return 0;
}

/* Bytes on disk under the spool directory. */
static long long spool_bytes(const struct harness_daemon *d)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/slurm", d->state);
	spool_bytes_total = 0;
	nftw(path, spool_add_size, 16, FTW_PHYS);
	return spool_bytes_total;
}

static long long spool_most;

static void spool_measure(void *d)
{
	long long now = spool_bytes(d);

	if (now > spool_most)
		spool_most = now;
}

START_TEST(test_big_writer_stays_within_the_limit_on_disk)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *msg;
	const char *out;
	char *id;
	size_t len;

	harness_daemon_new(&d, SLURMFIX_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_submit(c,
			     harness_json("{\"mode\":\"cluster\",\"node\":{\"argv\":[\"sh\",\"-c\","
					  "\"echo START; yes 0123456789abcdef | head -c 500000000; "
					  "echo; echo END; sleep 1\"]}}"));
	slurmfix_until_closed(c, id, spool_measure, &d, 20);
	ck_assert_msg(spool_most < 4 * 1024 * 1024, "the spool held %lld bytes", spool_most);
	msg = slurmfix_final(c, id);
	slurmfix_expect_type(msg, "request_success");
	ck_assert(json_object_get_boolean(harness_get(msg, "result.stdout_truncated")));
	out = harness_str(msg, "result.stdout");
	len = strlen(out);
	ck_assert_uint_le(len, 1024 * 1024);
	ck_assert_msg(len >= 5 && strcmp(out + len - 5, "\nEND\n") == 0, "the tail is gone");
	/* Head and tail, when the message carries all that was kept. */
	if (len == 1024 * 1024)
		ck_assert_msg(strncmp(out, "START\n", 6) == 0, "the head is gone");
	json_object_put(msg);
	expect_spool_empty(&d);
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_kill9_cancels_jobs_left_in_slurm)
{
	struct harness_daemon d;
	struct harness_client *c;
	char name[64], *id;
	int status;

	slurmfix_unique_name(name, sizeof(name), "kill9");
	harness_daemon_new(&d, SLURMFIX_CONFIG);
	c = harness_client_new(d.sock);
	id = slurmfix_start_sleeper(c, name, 120, 5000);
	harness_client_free(c);
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	ck_assert_int_gt(spool_entries(&d), 0);
	/* As if it died before it stored the Slurm job id (else the next start follows it). */
	slurmfix_db_exec(&d, "UPDATE jobs SET strategy_ref = NULL");

	/* The next start cancels what it cannot follow, and removes its files. */
	harness_daemon_start(&d);
	slurmfix_expect_gone(name);
	expect_spool_empty(&d);
	c = harness_client_new(d.sock);
	slurmfix_expect_closed(c, id, "lost");
	free(id);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* Submits `id -u; id -g` as nobody on sock; 0 when the daemon took it. */
static int nobody_submits(const char *sock)
{
	struct harness_client *c;
	char line[512];
	char *answer;
	bool eof;
	int ok;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	c = harness_connect(sock);
	if (!c)
		return 101;
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":"
		 "{\"request_id\":\"by-nobody\",\"mode\":\"cluster\",\"node\":{\"argv\":"
		 "[\"sh\",\"-c\",\"id -u; id -g; echo $HOME\"],\"cwd\":\"/tmp\"}}}\n");
	harness_send_raw(c, line, strlen(line));
	answer = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	ok = answer && strstr(answer, "\"result\"") ? 0 : 102;
	free(answer);
	harness_client_free(c);
	return ok;
}

/*
 * The daemon as the system unit runs it: root with only CAP_SETUID,
 * CAP_SETGID and CAP_KILL (no CAP_CHOWN, no CAP_DAC_*), through a wrapper
 * in dir that COORDINATORD now names.
 */
static void daemon_with_unit_caps(const char *dir)
{
	char path[256], *script;

	ck_assert_int_ge(asprintf(&script,
				  "#!/bin/sh\nexec /usr/bin/setpriv --inh-caps=-all "
				  "--bounding-set=-all,+setuid,+setgid,+kill '%s' \"$@\"\n",
				  getenv("COORDINATORD")),
			 0);
	snprintf(path, sizeof(path), "%s/coordinatord-unit", dir);
	write_file(path, script, 0755);
	free(script);
	setenv("COORDINATORD", path, 1);
}

START_TEST(test_submitter_runs_its_own_jobs)
{
	struct harness_daemon d;
	struct harness_client *c;
	char spool_parent[64], spool[128], *config;
	pid_t pid;
	int status;

	/* Jobs of others must reach the spool directory: searchable, not readable. */
	make_dir(spool_parent, sizeof(spool_parent), 0755, 0);
	snprintf(spool, sizeof(spool), "%s/spool", spool_parent);
	daemon_with_unit_caps(spool_parent);
	ck_assert_int_ge(asprintf(&config,
				  "[daemon]\nsocket_mode = 0666\nallowed_users = nobody\n"
				  "shutdown_grace_sec = 1\nrun_as = submitter\n"
				  "[mode:cluster]\nstrategy = slurm\nslurm_poll_ms = 200\n"
				  "slurm_spool_dir = %s\n",
				  spool),
			 0);
	harness_daemon_new(&d, config);
	free(config);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(nobody_submits(d.sock));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody could not submit");
	c = harness_client_new(d.sock);
	slurmfix_expect_stdout(c, "by-nobody", "65534\n65534\n/nonexistent\n");
	harness_client_free(c);
	harness_daemon_cleanup(&d);
	root_sh("rm -rf '%s'", spool_parent);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("slurm-hostile");
	TCase *tc = tcase_create("hostile");

	tcase_add_test(tc, test_unsafe_spool_refused);
	tcase_add_test(tc, test_forged_records_of_another_user);
	tcase_add_test(tc, test_flood_of_other_jobs_and_timeout_while_pending);
	tcase_add_test(tc, test_fifo_in_place_of_output);
	tcase_add_test(tc, test_ld_preload_does_not_reach_sbatch);
	tcase_add_test(tc, test_lying_sbatch_never_makes_us_touch_other_jobs);
	tcase_add_test(tc, test_big_writer_stays_within_the_limit_on_disk);
	tcase_add_test(tc, test_kill9_cancels_jobs_left_in_slurm);
	tcase_add_test(tc, test_submitter_runs_its_own_jobs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return slurmfix_main(hostile_suite());
}
