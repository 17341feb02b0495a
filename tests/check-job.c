/* Job: creation from a task, the end of a job, its JSON form and its names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "job.h"
#include "jsonout.h"
#include "jsonutil.h"
#include "task.h"
#include "testutil.h"

static struct task *job_test_task(void)
{
	return tu_task("{\"request_id\": \"r1\", \"parent_node_id\": \"p\", \"mode\": \"m\","
		       " \"node\": {\"id\": \"n1\", \"name\": \"nm\", \"argv\": [\"true\"]}}");
}

START_TEST(test_job_new_from_task)
{
	struct task *task = job_test_task();
	double before = time_now();
	struct job *job;

	task->owner_uid = 1234;
	job = job_new_from_task(task);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(job->refcount, 1);
	ck_assert_str_eq(job->request_id, "r1");
	ck_assert_str_eq(job->parent_node_id, "p");
	ck_assert_str_eq(job->child_node_id, "n1");
	ck_assert_str_eq(job->name, "nm");
	ck_assert_str_eq(job->mode, "m");
	/* No run_id on the task: the job is the root of its own run. */
	ck_assert_str_eq(job->run_id, "r1");
	ck_assert_int_eq(job->status, JOB_OPENED);
	ck_assert_int_eq(job->phase, JOB_QUEUED);
	ck_assert_int_eq(job->result, JOB_RESULT_NONE);
	ck_assert_int_eq(job->error_kind, ERROR_NONE);
	ck_assert(!job->has_exit_code);
	ck_assert_uint_eq(job->owner_uid, 1234);
	ck_assert_double_ge(job->start_time, before - 0.001);
	ck_assert_double_le(job->start_time, time_now() + 0.001);
	ck_assert_double_eq(job->end_time, 0);
	/* The job owns copies: the task may go. */
	ck_assert_ptr_ne(job->request_id, task->request_id);
	task_free(task);
	ck_assert_str_eq(job->request_id, "r1");
	job_unref(job);
}
END_TEST

START_TEST(test_job_run_id_from_task)
{
	struct task *task = job_test_task();
	struct job *job;

	task->run_id = strdup("root");
	job = job_new_from_task(task);
	ck_assert_str_eq(job->run_id, "root");
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_end_success)
{
	struct task *task = job_test_task();
	struct job *job = job_new_from_task(task);

	ck_assert_int_eq(job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	ck_assert_int_eq(job->status, JOB_CLOSED);
	ck_assert_int_eq(job->phase, JOB_FINISHED);
	ck_assert_int_eq(job->result, JOB_SUCCESS);
	ck_assert(job->has_exit_code);
	ck_assert_int_eq(job->exit_code, 0);
	ck_assert_double_ge(job->end_time, job->start_time);
	ck_assert_ptr_null(job->error_message);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_end_twice)
{
	struct task *task = job_test_task();
	struct job *job = job_new_from_task(task);
	double end;

	ck_assert_int_eq(job_end(job, JOB_FAILURE, 3, ERROR_EXIT, "exited with status 3"), 0);
	end = job->end_time;
	ck_assert_int_eq(job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL), -EALREADY);
	/* The first end stands. */
	ck_assert_int_eq(job->result, JOB_FAILURE);
	ck_assert_int_eq(job->exit_code, 3);
	ck_assert_int_eq(job->error_kind, ERROR_EXIT);
	ck_assert_str_eq(job->error_message, "exited with status 3");
	ck_assert_double_eq(job->end_time, end);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_end_needs_result)
{
	struct task *task = job_test_task();
	struct job *job = job_new_from_task(task);

	ck_assert_int_eq(job_end(job, JOB_RESULT_NONE, 0, ERROR_NONE, NULL), -EINVAL);
	ck_assert_int_eq(job->status, JOB_OPENED);
	ck_assert_int_eq(job->phase, JOB_QUEUED);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_end_without_exit_code)
{
	struct task *task = job_test_task();
	struct job *job = job_new_from_task(task);
	json_object *o;

	ck_assert_int_eq(job_end(job, JOB_FAILURE, -1, ERROR_SIGNAL, "killed by signal 9"), 0);
	ck_assert(!job->has_exit_code);
	o = tu_job_json(job, JOB_VIEWER_NONE);
	ck_assert(json_object_object_get_ex(o, "exit_code", NULL));
	ck_assert_ptr_null(json_object_object_get(o, "exit_code"));
	json_object_put(o);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_json_opened)
{
	struct task *task =
		tu_task("{\"request_id\": \"r2\", \"node\": {\"argv\": [\"/bin/echo\"]}}");
	struct job *job = job_new_from_task(task);
	json_object *o = tu_job_json(job, JOB_VIEWER_NONE);
	static const char *const null_fields[] = {"parent_node_id", "result", "end_time",
						  "exit_code", "error"};
	json_object *v;

	ck_assert_str_eq(json_get_string(o, "request_id"), "r2");
	ck_assert_str_eq(json_get_string(o, "run_id"), "r2");
	ck_assert_str_eq(json_get_string(o, "name"), "echo");
	ck_assert_str_eq(json_get_string(o, "mode"), "async");
	ck_assert_str_eq(json_get_string(o, "status"), "opened");
	ck_assert_str_eq(json_get_string(o, "phase"), "queued");
	ck_assert_str_eq(json_get_string(o, "child_node_id"), job->child_node_id);
	for (size_t i = 0; i < sizeof(null_fields) / sizeof(null_fields[0]); i++) {
		ck_assert_msg(json_object_object_get_ex(o, null_fields[i], &v), "%s missing",
			      null_fields[i]);
		ck_assert_msg(v == NULL, "%s is not null", null_fields[i]);
	}
	ck_assert(json_object_object_get_ex(o, "start_time", &v));
	ck_assert(json_object_is_type(v, json_type_double));
	/* Microsecond precision: six decimals on the wire. */
	ck_assert_ptr_nonnull(strchr(json_object_to_json_string(v), '.'));
	ck_assert_uint_eq(strlen(strchr(json_object_to_json_string(v), '.') + 1), 6);
	json_object_put(o);
	job_unref(job);
	task_free(task);
}
END_TEST

/* The Job's text as the daemon writes it (caller frees). */
static char *job_text(const struct job *job, uid_t viewer)
{
	struct jsonout out;
	char *text;

	jsonout_init(&out);
	job_write_members(job, viewer, &out);
	jsonout_lit(&out, "}");
	text = jsonout_take(&out);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* The owner sees the stored Task as its text was kept: rendering a job never parses it. */
START_TEST(test_job_json_task_as_stored)
{
	struct task *task =
		tu_task("{\"request_id\": \"r3\", \"node\": {\"argv\": [\"/bin/echo\"]}}");
	struct job *job = job_new_from_task(task);
	char *wire = job_text(job, 0), *want;
	json_object *o, *again;

	/* Stored as it goes on the wire: "/bin/echo", not "\/bin\/echo". */
	ck_assert_ptr_nonnull(strstr(job->task, "\"/bin/echo\""));
	ck_assert_int_ge(asprintf(&want, "\"task\":%s", job->task), 0);
	ck_assert_ptr_nonnull(strstr(wire, want));
	free(want);
	again = json_tokener_parse(wire);
	ck_assert_str_eq(json_get_string(json_object_object_get(again, "task"), "request_id"),
			 "r3");
	json_object_put(again);
	free(wire);
	/* Kept text goes out byte for byte, spacing included. */
	free(job->task);
	job->task = strdup("{ \"request_id\": \"r3\" }");
	wire = job_text(job, 0);
	ck_assert_ptr_nonnull(strstr(wire, "\"task\":{ \"request_id\": \"r3\" }"));
	free(wire);
	/* Text that is no object is shown as none. */
	free(job->task);
	job->task = strdup("[1]");
	o = tu_job_json(job, 0);
	ck_assert(json_object_object_get_ex(o, "task", &again));
	ck_assert_ptr_null(again);
	json_object_put(o);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_json_closed_failure)
{
	struct task *task = job_test_task();
	struct job *job = job_new_from_task(task);
	json_object *o, *err, *v;

	job_end(job, JOB_FAILURE, 3, ERROR_EXIT, "exited with status 3");
	o = tu_job_json(job, JOB_VIEWER_NONE);
	ck_assert_str_eq(json_get_string(o, "status"), "closed");
	ck_assert_str_eq(json_get_string(o, "phase"), "finished");
	ck_assert_str_eq(json_get_string(o, "result"), "failure");
	ck_assert_str_eq(json_get_string(o, "parent_node_id"), "p");
	ck_assert(json_object_object_get_ex(o, "exit_code", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert(json_object_object_get_ex(o, "end_time", &v));
	ck_assert(json_object_is_type(v, json_type_double));
	ck_assert(json_object_object_get_ex(o, "error", &err));
	ck_assert_str_eq(json_get_string(err, "kind"), "exit");
	ck_assert_str_eq(json_get_string(err, "message"), "exited with status 3");
	json_object_put(o);
	job_unref(job);
	task_free(task);
}
END_TEST

/* The stored Task reaches the owner and root only; after is shown to all. */
START_TEST(test_job_json_task_viewers)
{
	struct task *task = tu_task("{\"request_id\": \"r1\", \"after\": [\"a\"],"
				    " \"node\": {\"argv\": [\"true\"], \"stdin\": \"pw\"}}");
	const uid_t viewers[] = {1000, 0, 1001, JOB_VIEWER_NONE};
	const bool sees[] = {true, true, false, false};
	struct job *job;
	json_object *o;

	task->owner_uid = 1000;
	job = job_new_from_task(task);
	task_free(task);
	ck_assert_ptr_nonnull(job->task);

	for (size_t i = 0; i < sizeof(viewers) / sizeof(*viewers); i++) {
		o = tu_job_json(job, viewers[i]);
		ck_assert_msg((json_object_object_get(o, "task") != NULL) == sees[i], "viewer %u",
			      (unsigned)viewers[i]);
		ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "after")), 1);
		ck_assert_ptr_null(json_object_object_get(o, "run_start_time"));
		ck_assert_ptr_null(json_object_object_get(o, "rerun_of"));
		json_object_put(o);
	}
	job_set_run_start(job);
	o = tu_job_json(job, 0);
	ck_assert_ptr_nonnull(json_object_object_get(o, "run_start_time"));
	json_object_put(o);
	job_unref(job);
}
END_TEST

START_TEST(test_job_to_string)
{
	struct task *task = tu_task("{\"request_id\": \"r3\", \"node\": {\"argv\": [\"x\"]}}");
	struct job *job = job_new_from_task(task);
	char buf[512];

	ck_assert_ptr_eq(job_to_string(job, buf, sizeof(buf)), buf);
	ck_assert_ptr_nonnull(strstr(buf, "request_id=r3"));
	ck_assert_ptr_nonnull(strstr(buf, "parent_node_id=None"));
	ck_assert_ptr_nonnull(strstr(buf, "status=opened"));
	ck_assert_ptr_nonnull(strstr(buf, "result=None"));
	/* A short buffer is cut, never overrun. */
	ck_assert_uint_eq(strlen(job_to_string(job, buf, 8)), 7);
	job_unref(job);
	task_free(task);
}
END_TEST

START_TEST(test_job_refcount)
{
	struct job *job = job_new_empty();

	ck_assert_ptr_eq(job_ref(job), job);
	ck_assert_int_eq(job->refcount, 2);
	ck_assert_ptr_null(job_unref(job));
	ck_assert_int_eq(job->refcount, 1);
	ck_assert_ptr_null(job_unref(job));
	ck_assert_ptr_null(job_unref(NULL));
}
END_TEST

START_TEST(test_job_names_round_trip)
{
	enum job_status st;
	enum job_phase ph;
	enum job_result res;
	enum error_kind kind;

	for (int i = JOB_OPENED; i <= JOB_CLOSED; i++) {
		ck_assert_int_eq(job_status_from_name(job_status_name(i), &st), 0);
		ck_assert_int_eq(st, i);
	}
	for (int i = JOB_WAITING; i <= JOB_FINISHED; i++) {
		ck_assert_int_eq(job_phase_from_name(job_phase_name(i), &ph), 0);
		ck_assert_int_eq(ph, i);
	}
	for (int i = JOB_SUCCESS; i <= JOB_FAILURE; i++) {
		ck_assert_int_eq(job_result_from_name(job_result_name(i), &res), 0);
		ck_assert_int_eq(res, i);
	}
	for (int i = ERROR_EXIT; i <= ERROR_DEPENDENCY; i++) {
		ck_assert_int_eq(error_kind_from_name(error_kind_name(i), &kind), 0);
		ck_assert_int_eq(kind, i);
	}
	ck_assert_ptr_null(job_result_name(JOB_RESULT_NONE));
	ck_assert_ptr_null(error_kind_name(ERROR_NONE));
}
END_TEST

START_TEST(test_job_names_contract)
{
	static const char *const kinds[] = {"exit",  "signal", "timeout", "cancelled",
					    "spawn", "lost",   "invalid"};
	enum error_kind kind;
	enum job_status st;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		ck_assert_msg(error_kind_from_name(kinds[i], &kind) == 0, "%s", kinds[i]);
	ck_assert_int_eq(error_kind_from_name("crashed", &kind), -EINVAL);
	ck_assert_int_eq(job_status_from_name("Opened", &st), -EINVAL);
	ck_assert_int_eq(job_status_from_name("", &st), -EINVAL);
}
END_TEST

static Suite *job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_job_new_from_task);
	tcase_add_test(tc, test_job_run_id_from_task);
	tcase_add_test(tc, test_job_end_success);
	tcase_add_test(tc, test_job_end_twice);
	tcase_add_test(tc, test_job_end_needs_result);
	tcase_add_test(tc, test_job_end_without_exit_code);
	tcase_add_test(tc, test_job_json_opened);
	tcase_add_test(tc, test_job_json_closed_failure);
	tcase_add_test(tc, test_job_json_task_viewers);
	tcase_add_test(tc, test_job_to_string);
	tcase_add_test(tc, test_job_refcount);
	tcase_add_test(tc, test_job_json_task_as_stored);
	tcase_add_test(tc, test_job_names_round_trip);
	tcase_add_test(tc, test_job_names_contract);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(job_suite());
}
