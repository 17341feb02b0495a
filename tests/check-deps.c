/* Unit tests of deps: the jobs that wait on their after, and the index of their dependents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "deps.h"
#include "job.h"
#include "task.h"
#include "testutil.h"

/* What the callbacks heard, in order: "ready:ID" or "failed:ID<-DEP". */
struct heard {
	char lines[16][96];
	size_t count;
};

static void heard_ready_cb(struct job *job, struct task *task, void *ctx)
{
	struct heard *h = ctx;

	ck_assert_uint_lt(h->count, 16);
	snprintf(h->lines[h->count++], 96, "ready:%s", job->request_id);
	task_free(task);
}

static void heard_failed_cb(struct job *job, struct task *task, const char *failed_id, void *ctx)
{
	struct heard *h = ctx;

	ck_assert_uint_lt(h->count, 16);
	snprintf(h->lines[h->count++], 96, "failed:%s<-%s", job->request_id, failed_id);
	task_free(task);
}

static struct deps *deps_make(struct heard *h)
{
	struct deps *deps = deps_new(
		&(struct deps_ops){.ready = heard_ready_cb, .failed = heard_failed_cb, .ctx = h});

	ck_assert_ptr_nonnull(deps);
	return deps;
}

/* Adds a job id waiting on ids (open ones) with policy ("success" or "closed"). */
static void deps_wait(struct deps *deps, const char *id, const char *policy, char *const *ids,
		      size_t n)
{
	char json[256];
	struct task *task;
	struct job *job;

	snprintf(json, sizeof(json),
		 "{\"request_id\":\"%s\",\"after\":[\"x\"],\"after_policy\":\"%s\","
		 "\"node\":{\"argv\":[\"true\"]}}",
		 id, policy);
	task = tu_task(json);
	job = job_new_from_task(task);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(job->phase, JOB_WAITING);
	ck_assert_int_eq(deps_add(deps, job, task, ids, n), 0);
	job_unref(job); /* deps holds its own */
}

START_TEST(test_ready_when_all_closed)
{
	struct heard h = {0};
	struct deps *deps = deps_make(&h);
	char *ab[] = {"a", "b"};

	deps_wait(deps, "w", "success", ab, 2);
	ck_assert_uint_eq(deps_count(deps), 1);
	deps_job_closed(deps, "a", true);
	ck_assert_uint_eq(h.count, 0);
	deps_job_closed(deps, "unrelated", false);
	deps_job_closed(deps, "b", true);
	ck_assert_uint_eq(h.count, 1);
	ck_assert_str_eq(h.lines[0], "ready:w");
	ck_assert_uint_eq(deps_count(deps), 0);
	/* A second close of the same id reaches nobody. */
	deps_job_closed(deps, "b", true);
	ck_assert_uint_eq(h.count, 1);
	deps_free(deps);
}
END_TEST

START_TEST(test_failure_under_policies)
{
	struct heard h = {0};
	struct deps *deps = deps_make(&h);
	char *ab[] = {"a", "b"};

	deps_wait(deps, "strict", "success", ab, 2);
	deps_wait(deps, "lenient", "closed", ab, 2);
	/* One failure: strict fails at once, without waiting for b; lenient waits on. */
	deps_job_closed(deps, "a", false);
	ck_assert_uint_eq(h.count, 1);
	ck_assert_str_eq(h.lines[0], "failed:strict<-a");
	deps_job_closed(deps, "b", false);
	ck_assert_uint_eq(h.count, 2);
	ck_assert_str_eq(h.lines[1], "ready:lenient");
	ck_assert_uint_eq(deps_count(deps), 0);
	deps_free(deps);
}
END_TEST

START_TEST(test_remove)
{
	struct heard h = {0};
	struct deps *deps = deps_make(&h);
	char *a[] = {"a"};
	struct task *task;

	deps_wait(deps, "w", "success", a, 1);
	ck_assert_ptr_null(deps_remove(deps, "nope"));
	task = deps_remove(deps, "w");
	ck_assert_ptr_nonnull(task);
	ck_assert_str_eq(task->request_id, "w");
	task_free(task);
	ck_assert_ptr_null(deps_remove(deps, "w"));
	/* Its entry under a stays until a closes, and then reaches nobody. */
	deps_job_closed(deps, "a", true);
	ck_assert_uint_eq(h.count, 0);
	deps_free(deps);
}
END_TEST

START_TEST(test_free_with_waiting)
{
	struct heard h = {0};
	struct deps *deps = deps_make(&h);
	char *ab[] = {"a", "b"};

	/* Freed while jobs wait: their tasks and references go (ASan/valgrind check). */
	deps_wait(deps, "w1", "success", ab, 2);
	deps_wait(deps, "w2", "closed", ab, 1);
	deps_job_closed(deps, "a", false);
	ck_assert_uint_eq(h.count, 2);
	deps_wait(deps, "w3", "success", ab + 1, 1);
	deps_free(deps);
	deps_free(NULL);
}
END_TEST

/* Adds a job id waiting on the n ids, its Task's after naming them too. */
static void deps_wait_on(struct deps *deps, const char *id, char *const *ids, size_t n)
{
	char json[256], list[128] = "";
	struct task *task;
	struct job *job;

	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? "," : "",
			 ids[i]);
	snprintf(json, sizeof(json),
		 "{\"request_id\":\"%s\",\"after\":[%s],\"node\":{\"argv\":[\"true\"]}}", id, list);
	task = tu_task(json);
	job = job_new_from_task(task);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(deps_add(deps, job, task, ids, n), 0);
	job_unref(job);
}

START_TEST(test_reaches)
{
	struct heard h = {0};
	struct deps *deps = deps_make(&h);
	char *t[] = {"t"}, *w1[] = {"w1"}, *w2w1[] = {"w2", "w1"}, *u[] = {"u"};

	/* w3 waits for w2 and w1, w2 for w1, w1 for t; other for u. */
	deps_wait_on(deps, "w1", t, 1);
	deps_wait_on(deps, "w2", w1, 1);
	deps_wait_on(deps, "w3", w2w1, 2);
	deps_wait_on(deps, "other", u, 1);
	ck_assert_int_eq(deps_reaches(deps, "w3", "t"), 1);
	ck_assert_int_eq(deps_reaches(deps, "w2", "t"), 1);
	ck_assert_int_eq(deps_reaches(deps, "w3", "w1"), 1);
	ck_assert_int_eq(deps_reaches(deps, "t", "t"), 1);
	ck_assert_int_eq(deps_reaches(deps, "other", "t"), 0);
	ck_assert_int_eq(deps_reaches(deps, "w3", "u"), 0);
	ck_assert_int_eq(deps_reaches(deps, "w1", "w3"), 0);
	/* A job that waits for nothing needs nothing. */
	ck_assert_int_eq(deps_reaches(deps, "t", "w1"), 0);
	/* Once t has closed, nothing waits for it any more. */
	deps_job_closed(deps, "t", true);
	ck_assert_int_eq(deps_reaches(deps, "w3", "t"), 0);
	deps_free(deps);
}
END_TEST

static Suite *deps_suite(void)
{
	Suite *s = suite_create("deps");
	TCase *tc = tcase_create("deps");

	tcase_add_test(tc, test_ready_when_all_closed);
	tcase_add_test(tc, test_failure_under_policies);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_free_with_waiting);
	tcase_add_test(tc, test_reaches);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(deps_suite());
}
