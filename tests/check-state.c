/*
 * CoordinatorState and the SQLite history under it, on a real database
 * file in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>
#include <event2/event.h>

#include "history.h"
#include "jsonutil.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "task.h"
#include "testutil.h"
#include "waiter.h"

static struct tu_env env;

static void state_setup(void)
{
	tu_env_setup(&env);
}

static void state_teardown(void)
{
	tu_env_teardown(&env);
}

/*
 * Publishes the request_creation of a job just added, as the coordinator
 * does: with the seq its row was written with, and its start_time.
 */
static void state_publish_creation(const struct job *job)
{
	struct message_ids ids;
	struct message *msg;

	message_ids_of_job(job, &ids);
	msg = message_new(MESSAGE_REQUEST_CREATION, &ids, NULL);
	ck_assert_ptr_nonnull(msg);
	msg->time = job->start_time;
	ck_assert_int_eq(publisher_publish(env.pub, msg), 0);
	ck_assert_uint_eq(msg->seq, (uint64_t)job->seq_no);
	message_unref(msg);
}

/* Adds a job of owner for a task with these ids (run_id NULL: its own), and publishes its creation.
 */
static struct job *state_add_of(uid_t owner, const char *request_id, const char *parent,
				const char *node, const char *mode, const char *run_id)
{
	char json[512];
	struct task *task;
	struct job *job = NULL;
	int r;

	snprintf(json, sizeof(json),
		 "{\"request_id\": \"%s\", \"parent_node_id\": %s%s%s, \"mode\": \"%s\","
		 " \"node\": {\"id\": \"%s\", \"argv\": [\"true\"]}}",
		 request_id, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "",
		 mode ? mode : "async", node ? node : request_id);
	task = tu_task(json);
	if (run_id)
		task->run_id = strdup(run_id);
	task->owner_uid = owner;
	r = state_add_job(env.state, task, publisher_next_seq(env.pub), &job);
	ck_assert_msg(r == 0, "state_add_job(%s): %d", request_id, r);
	task_free(task);
	state_publish_creation(job);
	return job;
}

/* Adds a job of uid 0 for a task with these ids; run_id NULL: its own. */
static struct job *state_add(const char *request_id, const char *parent, const char *node,
			     const char *mode, const char *run_id)
{
	return state_add_of(0, request_id, parent, node, mode, run_id);
}

/* Publishes a message of type about request_id through the env's publisher. */
static void state_publish(enum message_type type, const char *request_id)
{
	struct message_ids ids = {.request_id = request_id, .child_node_id = request_id};
	struct message_output out = {.exit_code = 0};
	bool closes = type == MESSAGE_REQUEST_SUCCESS || type == MESSAGE_REQUEST_FAILURE;
	struct message *msg = message_new(type, &ids, closes ? &out : NULL);

	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(publisher_publish(env.pub, msg), 0);
	message_unref(msg);
}

static void state_turn(void)
{
	event_base_loop(env.base, EVLOOP_NONBLOCK);
}

/* Closes and opens the history again, as a restart does. */
static void state_reopen(void)
{
	char *error = NULL;

	state_free(env.state);
	history_close(env.history);
	ck_assert_int_eq(
		history_open(env.db_path, env.base, HISTORY_DURABILITY_FULL, &env.history, &error),
		0);
	env.state = state_new(env.history);
	ck_assert_int_eq(state_load(env.state), 0);
}

START_TEST(test_state_add_and_find)
{
	struct job *job = state_add("r1", "p", "n1", "m", NULL), *got, *row;

	ck_assert_int_gt(job->seq_no, 0);
	ck_assert_ptr_eq(state_find_open(env.state, "r1"), job);
	ck_assert_ptr_null(state_find_open(env.state, "r2"));
	ck_assert_uint_eq(state_open_count(env.state), 1);
	ck_assert_int_eq(state_get_job(env.state, "r1", &got), 0);
	ck_assert_ptr_eq(got, job);
	job_unref(got);
	/* What the history stored is what the job says. */
	ck_assert_int_eq(history_find_job(env.history, "r1", &row), 0);
	ck_assert_int_eq(row->seq_no, job->seq_no);
	ck_assert_str_eq(row->parent_node_id, "p");
	ck_assert_str_eq(row->child_node_id, "n1");
	ck_assert_str_eq(row->run_id, "r1");
	ck_assert_str_eq(row->mode, "m");
	ck_assert_str_eq(row->name, "true");
	ck_assert_int_eq(row->status, JOB_OPENED);
	ck_assert_int_eq(row->phase, JOB_QUEUED);
	ck_assert_int_eq(row->result, JOB_RESULT_NONE);
	ck_assert_double_eq_tol(row->start_time, job->start_time, 1e-6);
	job_unref(row);
	ck_assert_int_eq(state_get_job(env.state, "nope", &got), -ENOENT);
}
END_TEST

static bool state_keep_cb(const struct job *job, void *ctx)
{
	return strcmp(job->request_id, ctx) == 0;
}

/* A cold job: only its id in memory; found, counted, read and closed as before. */
START_TEST(test_state_cold_jobs)
{
	struct job *job, *got;
	size_t left;

	job = state_add("c1", "p", "n1", "m", "run");
	state_add("c2", NULL, NULL, "m", NULL);
	state_add("keep", NULL, NULL, "m", NULL);
	state_cool_later(env.state, job);
	state_cool_later(env.state, state_find_open(env.state, "c2"));
	state_cool_later(env.state, state_find_open(env.state, "keep"));
	/* The turn's transaction still holds them: they wait for a later pass. */
	ck_assert_uint_eq(state_cool(env.state, state_keep_cb, "keep", &left), 0);
	ck_assert_uint_eq(left, 3);
	ck_assert_int_eq(state_commit(env.state), 0);
	/* One held by someone else stays; keep keeps its own. */
	ck_assert_int_eq(state_get_job(env.state, "c2", &got), 0);
	ck_assert_uint_eq(state_cool(env.state, state_keep_cb, "keep", &left), 1);
	ck_assert_uint_eq(left, 1);
	ck_assert(state_is_cold(env.state, "c1"));
	ck_assert(!state_is_cold(env.state, "keep"));
	job_unref(got);
	ck_assert_uint_eq(state_cool(env.state, NULL, NULL, &left), 1);
	ck_assert_uint_eq(left, 0);
	ck_assert(state_is_cold(env.state, "c2"));
	ck_assert_uint_eq(state_open_count(env.state), 3);
	/* Read as stored, without loading it back. */
	ck_assert_int_eq(state_get_job(env.state, "c1", &got), 0);
	ck_assert_str_eq(got->child_node_id, "n1");
	ck_assert_str_eq(got->run_id, "run");
	ck_assert_int_eq(got->phase, JOB_QUEUED);
	job_unref(got);
	ck_assert(state_is_cold(env.state, "c1"));
	/* Looked for: back in memory, whole. */
	job = state_find_open(env.state, "c1");
	ck_assert_ptr_nonnull(job);
	ck_assert(!state_is_cold(env.state, "c1"));
	ck_assert_str_eq(job->parent_node_id, "p");
	ck_assert_str_eq(job->mode, "m");
	ck_assert_int_eq(job->status, JOB_OPENED);
	ck_assert_ptr_eq(state_find_open(env.state, "c1"), job);
	ck_assert_uint_eq(state_open_count(env.state), 3);
	/* A cold job closes like any other. */
	ck_assert_int_eq(state_end_job(env.state, "c2", JOB_FAILURE, -1, ERROR_CANCELLED, "x"), 0);
	ck_assert(!state_is_cold(env.state, "c2"));
	ck_assert_uint_eq(state_open_count(env.state), 2);
	ck_assert_int_eq(state_get_job(env.state, "c2", &got), 0);
	ck_assert_int_eq(got->status, JOB_CLOSED);
	job_unref(got);
	/* Only a queued job goes cold; one cold at once keeps the caller's reference. */
	job = state_find_open(env.state, "keep");
	job_ref(job);
	ck_assert_int_eq(state_cool_now(env.state, job), 0);
	ck_assert(state_is_cold(env.state, "keep"));
	ck_assert_str_eq(job->request_id, "keep");
	job_unref(job);
	job = state_find_open(env.state, "c1");
	ck_assert_int_eq(state_set_running(env.state, job, 0, 0), 0);
	ck_assert_int_eq(state_cool_now(env.state, job), -EBUSY);
}
END_TEST

static void state_wait_done_cb(struct waiter_wait *wait, enum waiter_end end, void *userdata)
{
	int *done = userdata;

	*done = end == WAITER_CLOSED ? 1 : -1;
}

/*
 * A wait on queued jobs kept on disk leaves them there: looking whether a
 * job is open must not load it back (a wait on a million queued jobs once
 * brought every one of them back into memory, to stay).
 */
START_TEST(test_waiter_leaves_cold_jobs_cold)
{
	const char *const ids[] = {"cold", "hot"};
	struct waiter *waiter;
	size_t left;
	int done = 0;

	state_cool_later(env.state, state_add("cold", NULL, NULL, "m", NULL));
	state_add("hot", NULL, NULL, "m", NULL);
	ck_assert_int_eq(state_commit(env.state), 0);
	ck_assert_uint_eq(state_cool(env.state, NULL, NULL, &left), 1);
	ck_assert(state_is_cold(env.state, "cold"));
	ck_assert(state_is_open(env.state, "cold"));
	ck_assert(state_is_open(env.state, "hot"));
	ck_assert(!state_is_open(env.state, "nobody"));

	ck_assert_int_eq(waiter_new(env.base, env.pub, env.state, &waiter), 0);
	ck_assert_int_eq(waiter_add(waiter, ids, 2, 0, state_wait_done_cb, &done, NULL), 0);
	ck_assert(state_is_cold(env.state, "cold"));
	ck_assert_int_eq(done, 0);
	/* It still counts as open: the wait ends with its end, not before. */
	state_publish(MESSAGE_REQUEST_SUCCESS, "hot");
	state_turn();
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(state_end_job(env.state, "cold", JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	state_publish(MESSAGE_REQUEST_SUCCESS, "cold");
	state_turn();
	ck_assert_int_eq(done, 1);
	waiter_free(waiter);
}
END_TEST

START_TEST(test_state_duplicate_request_id)
{
	struct job_counts counts;

	state_add("r1", NULL, NULL, NULL, NULL);
	struct task *task = tu_task("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"x\"]}}");
	struct job *job = NULL;

	ck_assert_int_eq(state_add_job(env.state, task, 0, &job), -EEXIST);
	ck_assert_int_eq(state_end_job(env.state, "r1", JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	/* Closed, it is still taken: request ids are unique over the whole history. */
	ck_assert_int_eq(state_add_job(env.state, task, 0, &job), -EEXIST);
	ck_assert_ptr_null(job);
	ck_assert_uint_eq(state_open_count(env.state), 0);
	ck_assert_int_eq(state_counts(env.state, &(struct job_filter){0}, &counts), 0);
	ck_assert_uint_eq(counts.opened, 0);
	ck_assert_uint_eq(counts.closed, 1);
	task_free(task);
	/* The refused insert left the history usable. */
	state_add("r2", NULL, NULL, NULL, NULL);
	state_turn();
}
END_TEST

/* Jobs just closed are found (the last few from memory), and pruned ones are not. */
START_TEST(test_state_closed_then_pruned)
{
	struct job *got;
	char id[16];
	size_t removed;

	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		state_add(id, NULL, NULL, NULL, NULL);
		ck_assert_int_eq(state_end_job(env.state, id, JOB_SUCCESS, 0, ERROR_NONE, NULL), 0);
	}
	state_turn();
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		ck_assert_int_eq(state_get_job(env.state, id, &got), 0);
		ck_assert_str_eq(got->request_id, id);
		ck_assert_int_eq(got->status, JOB_CLOSED);
		job_unref(got);
	}
	/* All but the newest go: none of them is found any more, from memory or not. */
	ck_assert_int_eq(state_prune(env.state, 1, 0, 100, NULL, NULL, &removed), 0);
	state_turn();
	ck_assert_uint_eq(removed, 19);
	for (int i = 0; i < 19; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		ck_assert_int_eq(state_get_job(env.state, id, &got), -ENOENT);
	}
	ck_assert_int_eq(state_get_job(env.state, "c19", &got), 0);
	job_unref(got);
}
END_TEST

START_TEST(test_state_end_job)
{
	struct job *got;

	state_add("r1", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(
		state_end_job(env.state, "r1", JOB_FAILURE, 3, ERROR_EXIT, "exited with status 3"),
		0);
	ck_assert_ptr_null(state_find_open(env.state, "r1"));
	ck_assert_int_eq(state_get_job(env.state, "r1", &got), 0);
	ck_assert_int_eq(got->status, JOB_CLOSED);
	ck_assert_int_eq(got->phase, JOB_FINISHED);
	ck_assert_int_eq(got->result, JOB_FAILURE);
	ck_assert(got->has_exit_code);
	ck_assert_int_eq(got->exit_code, 3);
	ck_assert_int_eq(got->error_kind, ERROR_EXIT);
	ck_assert_str_eq(got->error_message, "exited with status 3");
	ck_assert_double_ge(got->end_time, got->start_time);
	job_unref(got);
	ck_assert_int_eq(state_end_job(env.state, "r1", JOB_SUCCESS, 0, ERROR_NONE, NULL), -ENOENT);
	ck_assert_int_eq(state_end_job(env.state, "zz", JOB_SUCCESS, 0, ERROR_NONE, NULL), -ENOENT);
}
END_TEST

START_TEST(test_state_set_running)
{
	struct job *job = state_add("r1", NULL, NULL, NULL, NULL), *row;

	ck_assert_int_eq(state_set_running(env.state, job, 4242, 99), 0);
	ck_assert_int_eq(job->phase, JOB_RUNNING);
	ck_assert_int_eq(history_find_job(env.history, "r1", &row), 0);
	ck_assert_int_eq(row->phase, JOB_RUNNING);
	ck_assert_int_eq(row->pid, 4242);
	ck_assert_uint_eq(row->pid_starttime, 99);
	ck_assert_double_eq_tol(row->run_start_time, job->run_start_time, 1e-6);
	ck_assert_int_eq(row->status, JOB_OPENED);
	job_unref(row);
	/* Every column an opened job's write may change, then its close: the row follows. */
	ck_assert_int_eq(state_set_ref(env.state, job, "slurm:77"), 0);
	ck_assert_int_eq(history_find_job(env.history, "r1", &row), 0);
	ck_assert_str_eq(row->strategy_ref, "slurm:77");
	ck_assert_int_eq(row->pid, 4242);
	job_unref(row);
	ck_assert_int_eq(state_end_job(env.state, "r1", JOB_FAILURE, 9, ERROR_EXIT, "nine"), 0);
	ck_assert_int_eq(history_find_job(env.history, "r1", &row), 0);
	ck_assert_int_eq(row->status, JOB_CLOSED);
	ck_assert_int_eq(row->phase, JOB_FINISHED);
	ck_assert_int_eq(row->result, JOB_FAILURE);
	ck_assert_int_eq(row->exit_code, 9);
	ck_assert_int_eq(row->error_kind, ERROR_EXIT);
	ck_assert_str_eq(row->error_message, "nine");
	ck_assert_double_eq_tol(row->end_time, job->end_time, 1e-6);
	ck_assert_str_eq(row->strategy_ref, "slurm:77");
	job_unref(row);
}
END_TEST

static void state_expect_counts(const struct job_filter *f, uint64_t opened, uint64_t closed,
				uint64_t success, uint64_t failure)
{
	struct job_counts c;

	ck_assert_int_eq(state_counts(env.state, f, &c), 0);
	ck_assert_uint_eq(c.opened, opened);
	ck_assert_uint_eq(c.closed, closed);
	ck_assert_uint_eq(c.success, success);
	ck_assert_uint_eq(c.failure, failure);
}

START_TEST(test_state_counts)
{
	struct job_counts all;

	state_add("a", NULL, "na", "m1", NULL);
	state_add("b", "na", "nb", "m1", "a");
	state_add("c", "na", "nc", "m2", "a");
	state_add("d", NULL, "nd", "m2", NULL);
	state_end_job(env.state, "b", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	state_end_job(env.state, "c", JOB_FAILURE, 1, ERROR_EXIT, "x");
	state_end_job(env.state, "d", JOB_SUCCESS, 0, ERROR_NONE, NULL);

	state_expect_counts(&(struct job_filter){0}, 1, 3, 2, 1);
	state_expect_counts(&(struct job_filter){.mode = "m1"}, 1, 1, 1, 0);
	state_expect_counts(&(struct job_filter){.mode = "m2"}, 0, 2, 1, 1);
	state_expect_counts(&(struct job_filter){.run_id = "a"}, 1, 2, 1, 1);
	state_expect_counts(&(struct job_filter){.parent_node_id = "na"}, 0, 2, 1, 1);
	state_expect_counts(&(struct job_filter){.run_id = "a", .mode = "m2"}, 0, 1, 0, 1);
	state_expect_counts(&(struct job_filter){.mode = "none"}, 0, 0, 0, 0);
	/* Counts ignore the status and result filters. */
	state_expect_counts(&(struct job_filter){.mode = "m1",
						 .has_status = true,
						 .status = JOB_CLOSED,
						 .has_result = true,
						 .result = JOB_FAILURE},
			    1, 1, 1, 0);
	/* The O(1) counts agree with the history's, also after a restart. */
	ck_assert_int_eq(history_count(env.history, &(struct job_filter){0}, &all), 0);
	ck_assert_uint_eq(all.opened, 1);
	ck_assert_uint_eq(all.closed, 3);
	state_reopen();
	state_expect_counts(&(struct job_filter){0}, 1, 3, 2, 1);
}
END_TEST

START_TEST(test_state_run_id_for_parent)
{
	char *run;

	state_add("root", NULL, "n-root", NULL, NULL);
	state_add("child", "n-root", "n-child", NULL, "root");
	ck_assert_int_eq(state_run_id_for_parent(env.state, NULL, 0, false, &run), 0);
	ck_assert_ptr_null(run);
	ck_assert_int_eq(state_run_id_for_parent(env.state, "unknown", 0, false, &run), 0);
	ck_assert_ptr_null(run);
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n-root", 0, false, &run), 0);
	ck_assert_str_eq(run, "root");
	free(run);
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n-child", 0, false, &run), 0);
	ck_assert_str_eq(run, "root");
	free(run);
}
END_TEST

START_TEST(test_state_run_id_for_parent_owner)
{
	char *run;

	/* uid 1 has node "n"; uid 2 claims the same node id later. */
	state_add_of(1, "mine", NULL, "n", NULL, NULL);
	state_add_of(2, "theirs", NULL, "n", NULL, NULL);
	/* Each owner's parent is their own job; a third owner has none. */
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n", 1, false, &run), 0);
	ck_assert_str_eq(run, "mine");
	free(run);
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n", 2, false, &run), 0);
	ck_assert_str_eq(run, "theirs");
	free(run);
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n", 3, false, &run), 0);
	ck_assert_ptr_null(run);
	/* Any owner: the newest. */
	ck_assert_int_eq(state_run_id_for_parent(env.state, "n", 3, true, &run), 0);
	ck_assert_str_eq(run, "theirs");
	free(run);
}
END_TEST

START_TEST(test_state_find_running)
{
	struct job *a = state_add("a", NULL, NULL, NULL, NULL);
	struct job *b = state_add("b", NULL, NULL, NULL, NULL);

	ck_assert_ptr_null(state_find_running(env.state, 4242));
	ck_assert_int_eq(state_set_running(env.state, a, 4242, 1), 0);
	ck_assert_int_eq(state_set_running(env.state, b, 0, 0), 0);
	ck_assert_ptr_eq(state_find_running(env.state, 4242), a);
	ck_assert_ptr_null(state_find_running(env.state, 0));
	/* A pid a job not closed yet had is reused by another: the newest wins. */
	ck_assert_int_eq(state_set_running(env.state, b, 4242, 2), 0);
	ck_assert_ptr_eq(state_find_running(env.state, 4242), b);
	state_end_job(env.state, "a", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	ck_assert_ptr_eq(state_find_running(env.state, 4242), b);
	state_end_job(env.state, "b", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	ck_assert_ptr_null(state_find_running(env.state, 4242));
}
END_TEST

START_TEST(test_state_find_by_node_newest)
{
	struct job *job;

	state_add("old", NULL, "n", NULL, NULL);
	state_add("new", NULL, "n", NULL, NULL);
	ck_assert_int_eq(state_find_by_node(env.state, "n", &job), 0);
	ck_assert_str_eq(job->request_id, "new");
	job_unref(job);
	ck_assert_int_eq(state_find_by_node(env.state, "m", &job), -ENOENT);
}
END_TEST

static void state_free_jobs(struct job **jobs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		job_unref(jobs[i]);
	free(jobs);
}

START_TEST(test_state_query_pages)
{
	char id[16];
	int64_t cursor = 0, last_seq = INT64_MAX;
	size_t seen = 0, pages = 0;
	bool found[25] = {false};

	for (int i = 0; i < 25; i++) {
		snprintf(id, sizeof(id), "j%02d", i);
		state_add(id, NULL, NULL, NULL, NULL);
	}
	do {
		struct job **jobs;
		size_t count;

		ck_assert_int_eq(state_query(env.state, &(struct job_filter){0}, cursor, 10, &jobs,
					     &count, &cursor),
				 0);
		pages++;
		ck_assert_uint_eq(count, pages < 3 ? 10 : 5);
		for (size_t i = 0; i < count; i++) {
			int n = atoi(jobs[i]->request_id + 1);

			/* Newest first, and no job twice. */
			ck_assert_int_lt(jobs[i]->seq_no, last_seq);
			last_seq = jobs[i]->seq_no;
			ck_assert(!found[n]);
			found[n] = true;
			seen++;
		}
		if (pages == 1)
			ck_assert_str_eq(jobs[0]->request_id, "j24");
		state_free_jobs(jobs, count);
	} while (cursor && pages < 10);
	ck_assert_uint_eq(pages, 3);
	ck_assert_uint_eq(seen, 25);
}
END_TEST

START_TEST(test_state_query_exact_page)
{
	struct job **jobs;
	size_t count;
	int64_t next;

	state_add("a", NULL, NULL, NULL, NULL);
	state_add("b", NULL, NULL, NULL, NULL);
	/* A page that holds exactly what is left says there is no next page. */
	ck_assert_int_eq(
		state_query(env.state, &(struct job_filter){0}, 0, 2, &jobs, &count, &next), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(next, 0);
	state_free_jobs(jobs, count);
	ck_assert_int_eq(
		state_query(env.state, &(struct job_filter){0}, 0, 1, &jobs, &count, &next), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_ne(next, 0);
	state_free_jobs(jobs, count);
	/* A zero limit is refused rather than read out of bounds. */
	ck_assert_int_eq(
		state_query(env.state, &(struct job_filter){0}, 0, 0, &jobs, &count, &next),
		-EINVAL);
}
END_TEST

/* The request ids a query returns, comma-separated, newest first. */
static void state_query_ids(const struct job_filter *f, char *out, size_t size)
{
	struct job **jobs;
	size_t count;
	int64_t next;

	ck_assert_int_eq(state_query(env.state, f, 0, 100, &jobs, &count, &next), 0);
	out[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (i)
			strncat(out, ",", size - strlen(out) - 1);
		strncat(out, jobs[i]->request_id, size - strlen(out) - 1);
	}
	state_free_jobs(jobs, count);
}

START_TEST(test_state_query_filters)
{
	char ids[256];

	state_add("a", NULL, "na", "m1", NULL);
	state_add("b", "na", "nb", "m1", "a");
	state_add("c", "na", "nc", "m2", "a");
	state_add("d", "nb", "nd", "m2", "a");
	state_add("e", NULL, "ne", "m2", NULL);
	state_end_job(env.state, "b", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	state_end_job(env.state, "c", JOB_FAILURE, 1, ERROR_EXIT, NULL);

	state_query_ids(&(struct job_filter){0}, ids, sizeof(ids));
	ck_assert_str_eq(ids, "e,d,c,b,a");
	state_query_ids(&(struct job_filter){.has_status = true, .status = JOB_OPENED}, ids,
			sizeof(ids));
	ck_assert_str_eq(ids, "e,d,a");
	state_query_ids(&(struct job_filter){.has_status = true, .status = JOB_CLOSED}, ids,
			sizeof(ids));
	ck_assert_str_eq(ids, "c,b");
	state_query_ids(&(struct job_filter){.has_result = true, .result = JOB_FAILURE}, ids,
			sizeof(ids));
	ck_assert_str_eq(ids, "c");
	state_query_ids(&(struct job_filter){.mode = "m2"}, ids, sizeof(ids));
	ck_assert_str_eq(ids, "e,d,c");
	state_query_ids(&(struct job_filter){.run_id = "a"}, ids, sizeof(ids));
	ck_assert_str_eq(ids, "d,c,b,a");
	state_query_ids(&(struct job_filter){.parent_node_id = "na"}, ids, sizeof(ids));
	ck_assert_str_eq(ids, "c,b");
	state_query_ids(
		&(struct job_filter){
			.run_id = "a", .mode = "m2", .has_status = true, .status = JOB_OPENED},
		ids, sizeof(ids));
	ck_assert_str_eq(ids, "d");
}
END_TEST

static int state_count_open_cb(struct job *job, void *userdata)
{
	char *out = userdata;

	strcat(out, job->request_id);
	return 0;
}

START_TEST(test_history_foreach_open)
{
	char ids[64] = "";

	state_add("a", NULL, NULL, NULL, NULL);
	state_add("b", NULL, NULL, NULL, NULL);
	state_add("c", NULL, NULL, NULL, NULL);
	state_end_job(env.state, "b", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	ck_assert_int_eq(history_foreach_open(env.history, state_count_open_cb, ids), 0);
	/* Oldest first. */
	ck_assert_str_eq(ids, "ac");
}
END_TEST

START_TEST(test_history_final_message)
{
	char *text;
	json_object *o;

	state_add("r1", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(history_final_message(env.history, "r1", &text), -ENOENT);
	state_publish(MESSAGE_REQUEST_FAILURE, "r1");
	ck_assert_int_eq(history_final_message(env.history, "r1", &text), 0);
	o = json_tokener_parse(text);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_get_string(o, "type"), "request_failure");
	ck_assert_str_eq(json_get_string(o, "request_id"), "r1");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "seq")), 2);
	json_object_put(o);
	free(text);
	ck_assert_int_eq(history_final_message(env.history, "r2", &text), -ENOENT);
}
END_TEST

struct state_seen {
	uint64_t seqs[16];
	size_t count;
	size_t stop_after;
};

static int state_message_cb(uint64_t seq, const char *type, const char *request_id,
			    const char *run_id, const char *text, size_t len, void *userdata)
{
	struct state_seen *s = userdata;
	json_object *o = json_tokener_parse(text);

	/* The stored text is the message as it went out. */
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(strlen(text), len);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "seq")), (int64_t)seq);
	ck_assert_str_eq(json_get_string(o, "type"), type);
	ck_assert_str_eq(json_get_string(o, "request_id"), request_id);
	json_object_put(o);
	s->seqs[s->count++] = seq;
	return s->stop_after && s->count >= s->stop_after;
}

START_TEST(test_history_foreach_message)
{
	struct state_seen seen = {0};
	uint64_t last;

	for (int i = 0; i < 5; i++)
		state_publish(MESSAGE_REQUEST_CREATION_FAILURE, i % 2 ? "odd" : "even");
	ck_assert_int_eq(history_foreach_message(env.history, 1, 3, state_message_cb, &seen, &last),
			 0);
	ck_assert_uint_eq(seen.count, 3);
	ck_assert_uint_eq(seen.seqs[0], 2);
	ck_assert_uint_eq(seen.seqs[2], 4);
	ck_assert_uint_eq(last, 4);
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	ck_assert_int_eq(
		history_foreach_message(env.history, 0, 100, state_message_cb, &seen, &last), 0);
	ck_assert_uint_eq(seen.count, 2);
	ck_assert_uint_eq(last, 2);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(
		history_foreach_message(env.history, 5, 10, state_message_cb, &seen, &last), 0);
	ck_assert_uint_eq(seen.count, 0);
	ck_assert_uint_eq(last, 5);
}
END_TEST

START_TEST(test_history_seq_survives_restart)
{
	uint64_t seq;

	state_publish(MESSAGE_REQUEST_CREATION_FAILURE, "a");
	state_publish(MESSAGE_REQUEST_CREATION_FAILURE, "b");
	state_publish(MESSAGE_REQUEST_CREATION_FAILURE, "c");
	state_turn();
	state_reopen();
	ck_assert_int_eq(history_last_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 3);
	ck_assert_int_eq(history_first_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 1);
}
END_TEST

static int64_t state_count_rows(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;

	ck_assert_int_eq(sqlite3_open_v2(env.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

START_TEST(test_history_commits_each_turn)
{
	state_add("a", NULL, NULL, NULL, NULL);
	/* Another connection sees nothing until the turn ends... */
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM jobs"), 0);
	state_turn();
	/* ...and everything once it has. */
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM jobs"), 1);
	/* The job's row is its request_creation in the log. */
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM messages"), 0);
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM message_log WHERE type = "
					  "'request_creation' AND seq = 1"),
			 1);
}
END_TEST

/* The phase the history holds for request_id (a new string), or NULL. */
static char *state_stored_phase(const char *request_id)
{
	struct job *job = NULL;
	char *phase;

	if (history_find_job(env.history, request_id, &job) < 0)
		return NULL;
	phase = strdup(job_phase_name(job->phase));
	job_unref(job);
	return phase;
}

/*
 * An update finds its row by seq_no, and by request_id when the job has
 * none; a seq_no that names another job's row changes nothing of it.
 */
START_TEST(test_history_update_finds_its_row)
{
	struct job *a = state_add("a", NULL, NULL, NULL, NULL);
	struct job *b = state_add("b", NULL, NULL, NULL, NULL);
	int64_t a_seq = a->seq_no;
	char *phase;

	state_turn();
	ck_assert_int_gt(a_seq, 0);
	ck_assert_int_ne(a_seq, b->seq_no);
	/* A seq_no that is b's: b stays as it was. */
	a->seq_no = b->seq_no;
	a->phase = JOB_RUNNING;
	ck_assert_int_eq(history_update_job(env.history, a), 0);
	state_turn();
	phase = state_stored_phase("b");
	ck_assert_str_eq(phase, "queued");
	free(phase);
	/* No seq_no: found by request_id. */
	a->seq_no = 0;
	ck_assert_int_eq(history_update_job(env.history, a), 0);
	state_turn();
	phase = state_stored_phase("a");
	ck_assert_str_eq(phase, "running");
	free(phase);
	a->seq_no = a_seq;
}
END_TEST

/* The pages start-up reads are given back: the page cache holds (almost) nothing after. */
START_TEST(test_history_release_memory)
{
	struct job *job = NULL;
	char id[16];
	size_t before, released;

	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "j%d", i);
		state_add(id, NULL, NULL, NULL, NULL);
	}
	state_turn();
	state_reopen(); /* as at start: the state loads what the history holds */
	before = history_cache_bytes(env.history);
	ck_assert_uint_gt(before, 64 * 1024);
	released = history_release_memory(env.history);
	ck_assert_uint_eq(released, before);
	ck_assert_uint_lt(history_cache_bytes(env.history), before / 4);
	/* Nothing is lost: a job is read again from the file. */
	ck_assert_int_eq(history_find_job(env.history, "j1999", &job), 0);
	ck_assert_str_eq(job->request_id, "j1999");
	job_unref(job);
}
END_TEST

/* A close with what the task wrote stores the totals in the same row; a plain close, unknown. */
START_TEST(test_state_end_job_with_output)
{
	struct job *job = NULL;

	state_add("ran", NULL, NULL, NULL, NULL);
	state_add("never", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(state_end_job_with_output(env.state, "ran", JOB_SUCCESS, 0, ERROR_NONE,
						   NULL, 12, 3),
			 0);
	ck_assert_int_eq(
		state_end_job(env.state, "never", JOB_FAILURE, -1, ERROR_CANCELLED, "cancelled"),
		0);
	ck_assert_int_eq(
		state_end_job_with_output(env.state, "ran", JOB_SUCCESS, 0, ERROR_NONE, NULL, 1, 1),
		-ENOENT);
	state_turn();
	ck_assert_int_eq(history_find_job(env.history, "ran", &job), 0);
	ck_assert_int_eq(job->stdout_bytes, 12);
	ck_assert_int_eq(job->stderr_bytes, 3);
	job_unref(job);
	ck_assert_int_eq(history_find_job(env.history, "never", &job), 0);
	ck_assert_int_eq(job->stdout_bytes, -1);
	ck_assert_int_eq(job->stderr_bytes, -1);
	job_unref(job);
}
END_TEST

START_TEST(test_history_prune_max_jobs)
{
	char id[8];
	struct job_counts removed;
	uint64_t seq;
	struct job *job;

	state_add("open", NULL, NULL, NULL, NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		state_add(id, NULL, NULL, NULL, NULL);
		state_publish(MESSAGE_REQUEST_SUCCESS, id);
		state_end_job(env.state, id, JOB_SUCCESS, 0, ERROR_NONE, NULL);
	}
	/* The newest job is opened: it does not count against the closed ones kept. */
	state_add("late", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(history_prune(env.history, 2, 0, 100, NULL, NULL, &removed), 0);
	/* Keeps the two newest closed (c3, c4); an opened job is never pruned. */
	ck_assert_uint_eq(removed.closed, 3);
	ck_assert_int_eq(state_get_job(env.state, "open", &job), 0);
	job_unref(job);
	ck_assert_int_eq(history_find_job(env.history, "c2", &job), -ENOENT);
	ck_assert_int_eq(history_find_job(env.history, "c3", &job), 0);
	job_unref(job);
	ck_assert_int_eq(history_find_job(env.history, "c4", &job), 0);
	job_unref(job);
	state_turn();
	/*
	 * "open" keeps the log from its creation (seq 1) on: the creations of
	 * the jobs removed after it move to the messages table, so that the
	 * log has no gap; c4's creation is still its row.
	 */
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM messages WHERE request_id IN "
					  "('c0', 'c1', 'c2')"),
			 6);
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM messages WHERE request_id = 'c4'"),
			 1);
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM message_log"), 12);
	ck_assert_int_eq(state_count_rows("SELECT max(seq) - min(seq) + 1 FROM message_log"), 12);
	ck_assert_int_eq(history_last_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 12);
	/* Once "open" is gone too, the log starts at the oldest job kept (c3, seq 8). */
	state_publish(MESSAGE_REQUEST_SUCCESS, "open");
	state_end_job(env.state, "open", JOB_SUCCESS, 0, ERROR_NONE, NULL);
	state_turn();
	ck_assert_int_eq(history_prune(env.history, 2, 0, 100, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 1);
	state_turn();
	ck_assert_int_eq(state_count_rows("SELECT count(*) FROM messages WHERE request_id IN "
					  "('c0', 'c1', 'c2')"),
			 0);
	ck_assert_int_eq(state_count_rows("SELECT min(seq) FROM message_log"), 8);
	ck_assert_int_eq(state_count_rows("SELECT max(seq) - min(seq) + 1 - count(*) FROM "
					  "message_log"),
			 0);
	ck_assert_int_eq(history_first_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 8);
}
END_TEST

START_TEST(test_history_prune_max_age_batch)
{
	char id[8];
	struct job_counts removed;
	uint64_t seq;
	struct job *job;

	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		state_add(id, NULL, NULL, NULL, NULL);
		state_publish(MESSAGE_REQUEST_SUCCESS, id);
		ck_assert_int_eq(history_find_job(env.history, id, &job), 0);
		job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL);
		/* The first three ended two hours ago. */
		if (i < 3)
			job->end_time -= 7200;
		ck_assert_int_eq(history_update_job(env.history, job), 0);
		job_unref(job);
	}
	ck_assert_int_eq(history_prune(env.history, 0, 3600, 2, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 2);
	ck_assert_int_eq(history_prune(env.history, 0, 3600, 2, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 1);
	ck_assert_int_eq(history_prune(env.history, 0, 3600, 2, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 0);
	ck_assert_int_eq(history_find_job(env.history, "c3", &job), 0);
	job_unref(job);
	ck_assert_int_eq(history_prune(env.history, 0, 0, 2, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 0);
	ck_assert_int_eq(history_last_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 8);
}
END_TEST

START_TEST(test_history_prune_keeps_seq)
{
	struct job_counts removed;
	uint64_t seq;
	struct job *job;

	state_add("a", NULL, NULL, NULL, NULL);
	state_publish(MESSAGE_REQUEST_SUCCESS, "a");
	ck_assert_int_eq(history_find_job(env.history, "a", &job), 0);
	job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL);
	job->end_time -= 7200;
	history_update_job(env.history, job);
	job_unref(job);
	ck_assert_int_eq(history_prune(env.history, 0, 60, 100, NULL, NULL, &removed), 0);
	ck_assert_uint_eq(removed.closed, 1);
	/* Pruning everything must not let seq start again after a restart. */
	state_turn();
	state_reopen();
	ck_assert_int_eq(history_last_seq(env.history, &seq), 0);
	ck_assert_uint_eq(seq, 2);
}
END_TEST

/* Opens path as a history and expects a refusal whose reason contains want. */
static void state_expect_refused(const char *path, const char *want)
{
	struct history *h = NULL;
	char *error = NULL;
	int r = history_open(path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error);

	ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(h);
	ck_assert_msg(error && strstr(error, want), "error \"%s\" lacks \"%s\"",
		      error ? error : "(null)", want);
	free(error);
}

static void state_sqlite_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(test_history_refuses_foreign_db)
{
	char *path;
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_ge(asprintf(&path, "%s/foreign.db", env.dir), 0);
	state_sqlite_exec(path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep')");
	state_expect_refused(path, "another program");
	/* Refused untouched: still in its own journal mode, its data intact. */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);

	ck_assert_int_ge(asprintf(&path, "%s/other-app.db", env.dir), 0);
	state_sqlite_exec(path, "PRAGMA application_id = 1234; CREATE TABLE t (x)");
	state_expect_refused(path, "another program");
	free(path);
}
END_TEST

START_TEST(test_history_refuses_corrupt_file)
{
	char *path, junk[8192];
	int fd;

	ck_assert_int_ge(asprintf(&path, "%s/corrupt.db", env.dir), 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	state_expect_refused(path, "not a database");
	free(path);
}
END_TEST

START_TEST(test_history_refuses_newer_schema)
{
	state_free(env.state);
	env.state = NULL;
	history_close(env.history);
	env.history = NULL;
	state_sqlite_exec(env.db_path, "PRAGMA user_version = 99");
	state_expect_refused(env.db_path, "newer");
}
END_TEST

START_TEST(test_history_open_bad_path)
{
	char *path;

	ck_assert_int_ge(asprintf(&path, "%s/no/such/dir/h.db", env.dir), 0);
	state_expect_refused(path, "cannot open");
	free(path);
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");
	TCase *th = tcase_create("history");

	tcase_add_checked_fixture(tc, state_setup, state_teardown);
	tcase_add_test(tc, test_state_add_and_find);
	tcase_add_test(tc, test_state_cold_jobs);
	tcase_add_test(tc, test_waiter_leaves_cold_jobs_cold);
	tcase_add_test(tc, test_state_duplicate_request_id);
	tcase_add_test(tc, test_state_end_job);
	tcase_add_test(tc, test_state_closed_then_pruned);
	tcase_add_test(tc, test_state_set_running);
	tcase_add_test(tc, test_state_counts);
	tcase_add_test(tc, test_state_run_id_for_parent);
	tcase_add_test(tc, test_state_run_id_for_parent_owner);
	tcase_add_test(tc, test_state_find_running);
	tcase_add_test(tc, test_state_find_by_node_newest);
	tcase_add_test(tc, test_state_query_pages);
	tcase_add_test(tc, test_state_query_exact_page);
	tcase_add_test(tc, test_state_query_filters);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(th, state_setup, state_teardown);
	tcase_add_test(th, test_history_foreach_open);
	tcase_add_test(th, test_history_final_message);
	tcase_add_test(th, test_history_foreach_message);
	tcase_add_test(th, test_history_seq_survives_restart);
	tcase_add_test(th, test_history_commits_each_turn);
	tcase_add_test(th, test_history_update_finds_its_row);
	tcase_add_test(th, test_history_release_memory);
	tcase_add_test(th, test_state_end_job_with_output);
	tcase_add_test(th, test_history_prune_max_jobs);
	tcase_add_test(th, test_history_prune_max_age_batch);
	tcase_add_test(th, test_history_prune_keeps_seq);
	tcase_add_test(th, test_history_refuses_foreign_db);
	tcase_add_test(th, test_history_refuses_corrupt_file);
	tcase_add_test(th, test_history_refuses_newer_schema);
	tcase_add_test(th, test_history_open_bad_path);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	return tu_run_suite(state_suite());
}
