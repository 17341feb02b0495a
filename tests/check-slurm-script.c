/*
 * The batch script of a slurm task, run here by /bin/sh as slurmd would
 * run it: argv verbatim, the task's environment, stdin, output kept
 * within the limit on disk, the task's status passed on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>

#include "slurm_script.h"
#include "slurm_spool.h"
#include "testutil.h"

/* A run directory and what a script left in it. */
struct run {
	char *dir;
	int status; /* the script's wait status */
	char *out;
	size_t out_len;
	char *err;
};

static char *slurp(const char *dir, const char *name, size_t *ret_len)
{
	char path[512], *buf = malloc(4 * 1024 * 1024);
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(buf);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "no %s", path);
	while ((n = read(fd, buf + len, 4 * 1024 * 1024 - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Runs the script of argv (env: envp, NULL: none; stdin: NULL for none) with head and tail. */
static void run_script(struct run *r, char **argv, char **envp, const char *in, size_t head,
		       size_t tail)
{
	char *none[] = {NULL};
	struct slurm_script_spec spec = {
		.argv = argv,
		.envp = envp ? envp : none,
		.has_stdin = in != NULL,
		.head = head,
		.tail = tail,
	};
	char *script, *sh[] = {"/bin/sh", "-c", NULL, NULL};
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->dir = tu_mkdtemp();
	spec.run_dir = r->dir;
	if (in)
		write_file(r->dir, SLURM_SPOOL_STDIN, in, strlen(in));
	script = slurm_script(&spec);
	ck_assert_ptr_nonnull(script);
	ck_assert_msg(strncmp(script, "#!/bin/sh\n", 10) == 0, "%s", script);
	sh[2] = script;
	ck_assert_int_eq(
		posix_spawn(&pid, sh[0], NULL, NULL, sh, (char *[]){"PATH=/usr/bin:/bin", NULL}),
		0);
	ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
	r->out = slurp(r->dir, SLURM_SPOOL_OUT, &r->out_len);
	r->err = slurp(r->dir, SLURM_SPOOL_ERR, NULL);
	free(script);
}

static void run_clear(struct run *r)
{
	tu_rmtree(r->dir);
	free(r->dir);
	free(r->out);
	free(r->err);
}

static int exit_status(const struct run *r)
{
	ck_assert_msg(WIFEXITED(r->status), "the script died of signal %d", WTERMSIG(r->status));
	return WEXITSTATUS(r->status);
}

START_TEST(test_quote)
{
	char *q;

	q = slurm_script_quote("plain");
	ck_assert_str_eq(q, "'plain'");
	free(q);
	q = slurm_script_quote("");
	ck_assert_str_eq(q, "''");
	free(q);
	q = slurm_script_quote("it's");
	ck_assert_str_eq(q, "'it'\\''s'");
	free(q);
}
END_TEST

START_TEST(test_argv_verbatim)
{
	/* Every argument reaches the program as it was, whatever the shell makes of it. */
	char *argv[] = {"printf",   "[%s]\\n", "a b",	      "it's",	   "$HOME", "`id`",
			"$(id)",    "\"q\"",   "back\\slash", "new\nline", "*",	    "",
			";exit 1;", "'",       "''\\''",      NULL};
	struct run r;

	run_script(&r, argv, NULL, NULL, 1000, 1000);
	ck_assert_int_eq(exit_status(&r), 0);
	ck_assert_str_eq(r.out, "[a b]\n[it's]\n[$HOME]\n[`id`]\n[$(id)]\n[\"q\"]\n[back\\slash]\n"
				"[new\nline]\n[*]\n[]\n[;exit 1;]\n[']\n[''\\'']\n");
	ck_assert_str_eq(r.err, "");
	run_clear(&r);
}
END_TEST

START_TEST(test_env_stdin_and_streams)
{
	char *argv[] = {"sh", "-c", "echo \"$FOO|$PATH|$ODD\"; cat; echo oops >&2; exit 3", NULL};
	char *envp[] = {"FOO=b a'r", "PATH=/usr/bin:/bin", "ODD=x=y", NULL};
	struct run r;

	run_script(&r, argv, envp, "line one\nit's \"two\"\n", 1000, 1000);
	ck_assert_int_eq(exit_status(&r), 3);
	ck_assert_str_eq(r.out, "b a'r|/usr/bin:/bin|x=y\nline one\nit's \"two\"\n");
	ck_assert_str_eq(r.err, "oops\n");
	run_clear(&r);
}
END_TEST

START_TEST(test_odd_program_names)
{
	/* An argv[0] with '=' is a program, not a variable; a missing one is the shell's 127. */
	char *eq[] = {"/nonexistent/a=b", NULL};
	char *missing[] = {"/nonexistent/prog", NULL};
	struct run r;

	run_script(&r, eq, NULL, NULL, 1000, 1000);
	ck_assert_int_eq(exit_status(&r), 127);
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/a=b"));
	run_clear(&r);
	run_script(&r, missing, NULL, NULL, 1000, 1000);
	ck_assert_int_eq(exit_status(&r), 127);
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/prog"));
	run_clear(&r);
}
END_TEST

START_TEST(test_output_kept_within_the_limit)
{
	char *argv[] = {
		"sh", "-c",
		"printf 0123456789; head -c 3000000 /dev/zero | tr '\\0' x; printf abcdefgh;"
		"printf 0123456789 >&2",
		NULL};
	struct run r;

	run_script(&r, argv, NULL, NULL, 4, 8);
	ck_assert_int_eq(exit_status(&r), 0);
	/* The head, the tail, and one byte more that tells the middle was dropped. */
	ck_assert_uint_eq(r.out_len, 4 + 8 + 1);
	ck_assert_str_eq(r.out, "0123xabcdefgh");
	ck_assert_str_eq(r.err, "0123456789");
	run_clear(&r);
	/* What fits is kept whole. */
	run_script(&r, argv, NULL, NULL, 2000000, 2000000);
	ck_assert_uint_eq(r.out_len, 3000018);
	run_clear(&r);
}
END_TEST

START_TEST(test_death_by_signal_passed_on)
{
	char *argv[] = {"sh", "-c", "echo before; kill -USR1 $$", NULL};
	char *exits_200[] = {"sh", "-c", "exit 200", NULL};
	struct run r;

	run_script(&r, argv, NULL, NULL, 100, 100);
	ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGUSR1, "status %#x",
		      r.status);
	ck_assert_str_eq(r.out, "before\n");
	run_clear(&r);
	run_script(&r, exits_200, NULL, NULL, 100, 100);
	ck_assert_int_eq(exit_status(&r), 200);
	run_clear(&r);
}
END_TEST

static Suite *slurm_script_suite(void)
{
	Suite *s = suite_create("slurm-script");
	TCase *tc = tcase_create("script");

	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_argv_verbatim);
	tcase_add_test(tc, test_env_stdin_and_streams);
	tcase_add_test(tc, test_odd_program_names);
	tcase_add_test(tc, test_output_kept_within_the_limit);
	tcase_add_test(tc, test_death_by_signal_passed_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slurm_script_suite());
}
