/*
 * The slurm strategy's spool: which spool directories are refused, run
 * names, run directories made and removed, what is read of a job's files
 * and what is refused (symlinks, FIFOs, links, others' files), and the
 * collector thread that does the reading off the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <event2/event.h>

#include "slurm_collect.h"
#include "slurm_spool.h"
#include "testutil.h"

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* slurm_spool_prepare's answer for path, with its reason in *why (caller frees). */
static int prepare(const char *path, bool for_others, char **why)
{
	int r = slurm_spool_prepare(path, for_others, "m", why);

	if (r == 0)
		ck_assert_ptr_null(*why);
	else
		ck_assert_ptr_nonnull(*why);
	return r;
}

START_TEST(test_prepare)
{
	char *top = tu_mkdtemp(), path[512], *why = NULL;
	struct stat st;

	/* Made when missing, the daemon's alone. */
	snprintf(path, sizeof(path), "%s/spool", top);
	ck_assert_int_eq(prepare(path, false, &why), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Writable by others: refused, saying so. */
	ck_assert_int_eq(chmod(path, 01777), 0);
	ck_assert_int_eq(prepare(path, false, &why), -EPERM);
	ck_assert_msg(strstr(why, "writable by others") && strstr(why, path), "%s", why);
	free(why);
	ck_assert_int_eq(chmod(path, 0770), 0);
	ck_assert_int_eq(prepare(path, false, &why), -EPERM);
	free(why);
	/* Someone else's. */
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(path, 0700), 0);
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_int_eq(prepare(path, false, &why), -EPERM);
		ck_assert_msg(strstr(why, "owned by uid 65534"), "%s", why);
		free(why);
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	/* Jobs of other users need x on the way: the temp dir above has none. */
	ck_assert_int_eq(chmod(path, 0711), 0);
	ck_assert_int_eq(chmod(top, 0700), 0);
	ck_assert_int_eq(prepare(path, true, &why), 0);
	ck_assert_int_eq(slurm_spool_searchable(path, &why), -EACCES);
	ck_assert_msg(strstr(why, top) && strstr(why, "others cannot search"), "%s", why);
	free(why);
	ck_assert_int_eq(chmod(top, 0711), 0);
	ck_assert_int_eq(slurm_spool_searchable(path, &why), 0);
	ck_assert_ptr_null(why);
	/* Made for jobs of others: searchable, not readable. */
	snprintf(path, sizeof(path), "%s/spool2", top);
	ck_assert_int_eq(prepare(path, true, &why), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0711);
	/* Not a directory. */
	snprintf(path, sizeof(path), "%s/file", top);
	write_file(path, "", 0);
	ck_assert_int_eq(prepare(path, false, &why), -ENOTDIR);
	free(why);
	tu_rmtree(top);
	free(top);
}
END_TEST

START_TEST(test_run_names)
{
	char a[SLURM_RUN_NAME_MAX], b[SLURM_RUN_NAME_MAX];

	ck_assert_int_eq(slurm_spool_run_name("build step\n2", a), 0);
	ck_assert_msg(strncmp(a, "build_step_2.", 13) == 0, "%s", a);
	ck_assert_uint_eq(strlen(a), 13 + 32);
	ck_assert(slurm_spool_run_name_valid(a));
	ck_assert_int_eq(slurm_spool_run_name("build step\n2", b), 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(
		slurm_spool_run_name("0123456789012345678901234567890123456789012345678901", a), 0);
	ck_assert_uint_eq(strlen(a), 40 + 1 + 32);
	ck_assert(slurm_spool_run_name_valid(a));
	ck_assert_int_eq(slurm_spool_run_name("", a), 0);
	ck_assert_msg(strncmp(a, "task.", 5) == 0, "%s", a);
	ck_assert(!slurm_spool_run_name_valid("17.out"));
	ck_assert(!slurm_spool_run_name_valid("x.0123456789abcdef0123456789ABCDEF"));
	ck_assert(!slurm_spool_run_name_valid("a b.0123456789abcdef0123456789abcdef"));
	ck_assert(!slurm_spool_run_name_valid(".0123456789abcdef0123456789abcdef"));
	ck_assert(slurm_spool_run_name_valid("x.0123456789abcdef0123456789abcdef"));
}
END_TEST

START_TEST(test_make_read_remove)
{
	char *spool = tu_mkdtemp(), dir[512], path[600], why[256], **names;
	struct slurm_spool_run run = {
		.dir = dir, .uid = geteuid(), .stdin_data = "in", .stdin_len = 2};
	struct slurm_output out;
	struct stat st;
	int dirfd;

	snprintf(dir, sizeof(dir), "%s/t.0123456789abcdef0123456789abcdef", spool);
	ck_assert_int_eq(slurm_spool_make_run(&run, why, sizeof(why)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Never over an existing one. */
	ck_assert_int_eq(slurm_spool_make_run(&run, why, sizeof(why)), -EEXIST);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, SLURM_SPOOL_STDIN, geteuid(), 10, 10, &out), 0);
	ck_assert_uint_eq(out.len, 2);
	ck_assert(memcmp(out.data, "in", 2) == 0);
	slurm_spool_output_clear(&out);
	/* Whole, or head and tail. */
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_OUT);
	write_file(path, "0123456789", 10);
	ck_assert_int_eq(slurm_spool_read(dirfd, SLURM_SPOOL_OUT, geteuid(), 5, 5, &out), 0);
	ck_assert_uint_eq(out.len, 10);
	ck_assert(!out.truncated);
	slurm_spool_output_clear(&out);
	ck_assert_int_eq(slurm_spool_read(dirfd, SLURM_SPOOL_OUT, geteuid(), 3, 2, &out), 0);
	ck_assert_uint_eq(out.len, 5);
	ck_assert(memcmp(out.data, "01289", 5) == 0);
	ck_assert(out.truncated);
	slurm_spool_output_clear(&out);
	/* A missing file is empty output. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, SLURM_SPOOL_OUT, geteuid(), 3, 2, &out), 0);
	ck_assert_uint_eq(out.len, 0);
	close(dirfd);
	/* Found at start, then removed with what the job added. */
	snprintf(path, sizeof(path), "%s/extra", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/17.out", spool);
	write_file(path, "x", 1);
	ck_assert_int_eq(slurm_spool_scan(spool, &names), 0);
	ck_assert_str_eq(names[0], "t.0123456789abcdef0123456789abcdef");
	ck_assert_ptr_null(names[1]);
	free(names[0]);
	free(names);
	ck_assert_int_eq(slurm_spool_remove_run(dir, why, sizeof(why)), 0);
	ck_assert_int_lt(access(dir, F_OK), 0);
	ck_assert_int_eq(slurm_spool_remove_run(dir, why, sizeof(why)), 0);
	tu_rmtree(spool);
	free(spool);
}
END_TEST

START_TEST(test_read_refusals)
{
	char *dir = tu_mkdtemp(), path[512], target[512];
	struct slurm_output out;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(dirfd, 0);
	snprintf(target, sizeof(target), "%s/secret", dir);
	write_file(target, "secret", 6);
	/* A symlink is not followed. */
	snprintf(path, sizeof(path), "%s/link", dir);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, "link", geteuid(), 10, 10, &out), -ELOOP);
	ck_assert_ptr_null(out.data);
	/* A FIFO with no writer: refused at once, never waited on. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, "fifo", geteuid(), 10, 10, &out), -EINVAL);
	/* A second name of another file. */
	snprintf(path, sizeof(path), "%s/hard", dir);
	ck_assert_int_eq(link(target, path), 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, "hard", geteuid(), 10, 10, &out), -EMLINK);
	/* A file of someone else than the job's user and the daemon. */
	if (geteuid() == 0) {
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(chown(target, 65534, 65534), 0);
		ck_assert_int_eq(slurm_spool_read(dirfd, "secret", 1, 10, 10, &out), -EPERM);
		ck_assert_int_eq(slurm_spool_read(dirfd, "secret", 65534, 10, 10, &out), 0);
		slurm_spool_output_clear(&out);
	}
	/* A directory. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, "sub", geteuid(), 10, 10, &out), -EINVAL);
	close(dirfd);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* Whether uid can open path for flags (in a child that takes on uid). */
static bool can_open_as(uid_t uid, const char *path, int flags)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			_exit(2);
		fd = open(path, flags | O_NOFOLLOW, 0600);
		_exit(fd >= 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 0;
}

/*
 * A run of another user: the directory stays the daemon's, the job's user
 * may use the files (and no one else), the daemon still reads them.
 */
START_TEST(test_run_of_another_user)
{
	char *spool = tu_mkdtemp(), dir[512], path[600], why[256];
	struct slurm_spool_run run = {.dir = dir, .uid = 65534, .stdin_data = "in", .stdin_len = 2};
	struct slurm_output out;
	struct stat st;
	int dirfd;

	if (geteuid() != 0) {
		tu_rmtree(spool);
		free(spool);
		return;
	}
	ck_assert_int_eq(chmod(spool, 0711), 0);
	snprintf(dir, sizeof(dir), "%s/t.0123456789abcdef0123456789abcdef", spool);
	ck_assert_int_eq(slurm_spool_make_run(&run, why, sizeof(why)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0711);
	ck_assert_uint_eq(st.st_uid, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_OUT);
	ck_assert(can_open_as(65534, path, O_WRONLY | O_TRUNC));
	ck_assert(!can_open_as(1, path, O_RDONLY));
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_STDIN);
	ck_assert(can_open_as(65534, path, O_RDONLY));
	ck_assert(!can_open_as(1, path, O_RDONLY));
	/* The job cannot add a file of its own. */
	snprintf(path, sizeof(path), "%s/planted", dir);
	ck_assert(!can_open_as(65534, path, O_WRONLY | O_CREAT));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(slurm_spool_read(dirfd, SLURM_SPOOL_STDIN, 65534, 10, 10, &out), 0);
	ck_assert_uint_eq(out.len, 2);
	slurm_spool_output_clear(&out);
	close(dirfd);
	ck_assert_int_eq(slurm_spool_remove_run(dir, why, sizeof(why)), 0);
	tu_rmtree(spool);
	free(spool);
}
END_TEST

struct collected {
	struct slurm_collect *req;
	int count;
};

static void collected_cb(struct slurm_collect *req, void *ctx)
{
	struct collected *c = ctx;

	c->count++;
	if (req->owner)
		c->req = req;
	else
		slurm_collect_free(req);
}

static bool collected_one(void *data)
{
	return ((struct collected *)data)->req != NULL;
}

START_TEST(test_collector)
{
	struct event_base *base = event_base_new();
	struct collected got = {0};
	struct slurm_collector *c = slurm_collector_new(base, collected_cb, &got);
	char *spool = tu_mkdtemp(), dir[512], other[512], path[600], why[256];
	struct slurm_spool_run run = {.dir = dir, .uid = geteuid()};
	struct slurm_collect *req;

	ck_assert_ptr_nonnull(c);
	/* One only removed, one read: out is fine, err is a FIFO, slurm says something. */
	snprintf(other, sizeof(other), "%s/a.0123456789abcdef0123456789abcdef", spool);
	run.dir = other;
	ck_assert_int_eq(slurm_spool_make_run(&run, why, sizeof(why)), 0);
	slurm_collector_remove(c, other, geteuid());
	snprintf(dir, sizeof(dir), "%s/b.0123456789abcdef0123456789abcdef", spool);
	run.dir = dir;
	ck_assert_int_eq(slurm_spool_make_run(&run, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_OUT);
	write_file(path, "hello world", 11);
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_ERR);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, SLURM_SPOOL_SLURM);
	write_file(path, "slurmstepd: cancelled\n", 22);
	req = slurm_collect_new(dir, geteuid());
	ck_assert_ptr_nonnull(req);
	req->read = true;
	req->head = 5;
	req->tail = 3;
	req->owner = &got;
	slurm_collector_submit(c, req);
	ck_assert(tu_run_until(base, collected_one, &got, 10));
	ck_assert_uint_eq(got.req->out.len, 8);
	ck_assert(memcmp(got.req->out.data, "hellorld", 8) == 0);
	ck_assert(got.req->out.truncated);
	ck_assert_uint_eq(got.req->err.len, 0);
	ck_assert_uint_eq(got.req->slurm.len, 22);
	ck_assert_msg(strstr(got.req->problem, "err skipped: not a regular file"), "%s",
		      got.req->problem);
	slurm_collect_free(got.req);
	ck_assert_int_lt(access(dir, F_OK), 0);
	ck_assert_int_lt(access(other, F_OK), 0);
	slurm_collector_free(c);
	event_base_free(base);
	tu_rmtree(spool);
	free(spool);
}
END_TEST

static Suite *slurm_spool_suite(void)
{
	Suite *s = suite_create("slurm-spool");
	TCase *tc = tcase_create("spool");

	tcase_add_test(tc, test_prepare);
	tcase_add_test(tc, test_run_names);
	tcase_add_test(tc, test_make_read_remove);
	tcase_add_test(tc, test_read_refusals);
	tcase_add_test(tc, test_run_of_another_user);
	tcase_add_test(tc, test_collector);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slurm_spool_suite());
}
