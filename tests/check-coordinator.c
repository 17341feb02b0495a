/*
 * The Coordinator, with mock strategies defined here: submit, refusals,
 * handle_item, cancel over a tree, run ids, slots and shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <event2/event.h>

#include "coordinator.h"
#include "history.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "task.h"
#include "testutil.h"

#define MOCK_MAX_TASKS 1024

/* A strategy that runs nothing: it keeps its tasks until the test finishes them. */
struct mock_strategy {
	struct strategy base;
	struct task *tasks[MOCK_MAX_TASKS];
	size_t ntasks;
	int executed;
	int cancels;
	int shutdowns;
	int holds;
	int lends;
	int returns;
	bool full;	    /* can_accept says no */
	int execute_result; /* < 0: execute refuses after can_accept said yes */
};

static bool mock_can_accept(struct strategy *s)
{
	return !((struct mock_strategy *)s)->full;
}

static int mock_execute(struct strategy *s, struct task *task)
{
	struct mock_strategy *m = (struct mock_strategy *)s;

	m->executed++;
	if (m->execute_result < 0 || m->ntasks == MOCK_MAX_TASKS) {
		task_free(task);
		return m->execute_result < 0 ? m->execute_result : -EBUSY;
	}
	m->tasks[m->ntasks++] = task;
	return 0;
}

/* Takes the task request_id out of the mock; NULL if it has none. */
static struct task *mock_take(struct mock_strategy *m, const char *request_id)
{
	for (size_t i = 0; i < m->ntasks; i++) {
		struct task *t = m->tasks[i];

		if (strcmp(t->request_id, request_id) == 0) {
			m->tasks[i] = m->tasks[--m->ntasks];
			return t;
		}
	}
	return NULL;
}

static int mock_cancel(struct strategy *s, const char *request_id)
{
	struct mock_strategy *m = (struct mock_strategy *)s;
	struct task *t = mock_take(m, request_id);

	if (!t)
		return -ENOENT;
	m->cancels++;
	strategy_publish_failure(s, t, ERROR_CANCELLED, "cancelled");
	task_free(t);
	return 0;
}

static int mock_lend_slot(struct strategy *s, const char *request_id)
{
	((struct mock_strategy *)s)->lends++;
	return 0;
}

static int mock_return_slot(struct strategy *s, const char *request_id)
{
	((struct mock_strategy *)s)->returns++;
	return 0;
}

static void mock_hold(struct strategy *s)
{
	((struct mock_strategy *)s)->holds++;
}

static void mock_shutdown(struct strategy *s)
{
	((struct mock_strategy *)s)->shutdowns++;
}

static void mock_describe(struct strategy *s, struct strategy_info *info)
{
	struct mock_strategy *m = (struct mock_strategy *)s;

	info->mode = s->mode;
	info->strategy = "mock";
	info->max_concurrency = 7;
	info->running = (unsigned)m->ntasks;
}

static void mock_free(struct strategy *s)
{
	struct mock_strategy *m = (struct mock_strategy *)s;

	for (size_t i = 0; i < m->ntasks; i++)
		task_free(m->tasks[i]);
	free(s->mode);
	free(m);
}

static const struct strategy_ops mock_ops = {
	.kind = "mock",
	.can_accept = mock_can_accept,
	.execute = mock_execute,
	.cancel = mock_cancel,
	.lend_slot = mock_lend_slot,
	.return_slot = mock_return_slot,
	.hold = mock_hold,
	.shutdown = mock_shutdown,
	.describe = mock_describe,
	.free = mock_free,
};

static struct mock_strategy *mock_new(struct publisher *pub, const char *mode)
{
	struct mock_strategy *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(strategy_init_base(&m->base, &mock_ops, pub, mode), 0);
	return m;
}

/* Publishes the outcome of a task the mock holds, as a real strategy would. */
static void mock_finish(struct mock_strategy *m, const char *request_id, int exit_code)
{
	struct task *t = mock_take(m, request_id);
	struct message_ids ids;
	struct message_output out = {.exit_code = exit_code, .stdout_data = "o", .stdout_len = 1};
	struct message *msg;

	ck_assert_ptr_nonnull(t);
	ids = (struct message_ids){.request_id = t->request_id,
				   .parent_node_id = t->parent_node_id,
				   .child_node_id = t->node_id,
				   .run_id = t->run_id,
				   .mode = t->mode};
	msg = message_new(exit_code == 0 ? MESSAGE_REQUEST_SUCCESS : MESSAGE_REQUEST_FAILURE, &ids,
			  &out);
	if (exit_code != 0)
		message_set_error(msg, ERROR_EXIT, "exited with status 3", exit_code, 0);
	ck_assert_int_eq(publisher_publish(m->base.publisher, msg), 0);
	message_unref(msg);
	task_free(t);
}

static struct tu_env env;
static struct coordinator *coord;
static struct mock_strategy *mock_async, *mock_other;

static void coordinator_setup(void)
{
	tu_env_setup(&env);
	coord = coordinator_new(env.base, env.state, 1);
	ck_assert_ptr_nonnull(coord);
	mock_async = mock_new(env.pub, "async");
	mock_other = mock_new(env.pub, "other");
	ck_assert_int_eq(coordinator_add_mode(coord, &mock_async->base), 0);
	ck_assert_int_eq(coordinator_add_mode(coord, &mock_other->base), 0);
	ck_assert_int_eq(coordinator_start(coord, env.pub), 0);
}

static void coordinator_teardown(void)
{
	coordinator_free(coord);
	coord = NULL;
	tu_env_teardown(&env);
}

/* Submits a task from JSON text; returns submit's result, the job in *ret. */
static int coordinator_test_submit(const char *json, struct job **ret, char **error)
{
	struct job *job = NULL;
	char *err = NULL;
	int r = coordinator_submit(coord, tu_task(json), &job, &err);

	if (ret)
		*ret = job;
	if (error)
		*error = err;
	else
		free(err);
	return r;
}

/* Submits a task of owner with these ids; returns its job. */
static struct job *coordinator_submit_as(uid_t owner, const char *request_id, const char *parent,
					 const char *node)
{
	char json[512];
	struct job *job = NULL;
	struct task *task;
	char *error = NULL;
	int r;

	snprintf(json, sizeof(json),
		 "{\"request_id\": \"%s\", \"parent_node_id\": %s%s%s,"
		 " \"node\": {\"id\": \"%s\", \"argv\": [\"true\"]}}",
		 request_id, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "",
		 node);
	task = tu_task(json);
	task->owner_uid = owner;
	r = coordinator_submit(coord, task, &job, &error);
	ck_assert_msg(r == 0, "submit %s: %d %s", request_id, r, error ? error : "");
	free(error);
	return job;
}

static struct job *coordinator_submit_ok(const char *request_id, const char *parent,
					 const char *node)
{
	return coordinator_submit_as(0, request_id, parent, node);
}

/* The status of request_id now, as the state tells it. */
static enum job_status coordinator_status(const char *request_id, enum job_result *result)
{
	struct job *job;
	enum job_status status;

	ck_assert_int_eq(state_get_job(env.state, request_id, &job), 0);
	status = job->status;
	if (result)
		*result = job->result;
	job_unref(job);
	return status;
}

/* How a cancel ended, as its done callback heard. */
struct coordinator_test_done {
	bool called;
	int result;
	size_t count;
	char first[32];
};

static void coordinator_test_done_cb(int result, char **ids, size_t count, void *userdata)
{
	struct coordinator_test_done *t = userdata;

	ck_assert(!t->called);
	t->called = true;
	t->result = result;
	t->count = count;
	ck_assert_uint_ge(count, 1);
	snprintf(t->first, sizeof(t->first), "%s", ids[0]);
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

static bool coordinator_test_done(void *data)
{
	return ((struct coordinator_test_done *)data)->called;
}

/*
 * Cancels as the daemon does and runs the loop until the walk is over:
 * coordinator_cancel's result, and in *ret_count (may be NULL) how many
 * ids done was given.
 */
static int coordinator_test_cancel(const char *request_id, bool cascade, uid_t canceller,
				   size_t *ret_count)
{
	struct coordinator_test_done t = {0};
	int r = coordinator_cancel(coord, request_id, cascade, canceller, coordinator_test_done_cb,
				   &t, NULL);

	if (r < 0)
		return r;
	/* Never before the call returns. */
	ck_assert(!t.called);
	ck_assert(tu_run_until(env.base, coordinator_test_done, &t, 30));
	ck_assert_int_eq(t.result, 0);
	ck_assert_str_eq(t.first, request_id);
	if (ret_count)
		*ret_count = t.count;
	return 0;
}

START_TEST(test_coordinator_submit_delegates)
{
	struct job *job = NULL;
	struct message *msg;
	char *error = NULL;

	ck_assert_int_eq(coordinator_test_submit("{\"request_id\": \"r1\", \"mode\": \"other\","
						 " \"node\": {\"id\": \"n1\", \"argv\": [\"x\"]}}",
						 &job, &error),
			 0);
	ck_assert_ptr_null(error);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(job->request_id, "r1");
	ck_assert_int_eq(job->status, JOB_OPENED);
	ck_assert_ptr_eq(state_find_open(env.state, "r1"), job);
	/* Handed to the strategy of its mode, and only to that one. */
	ck_assert_int_eq(mock_other->executed, 1);
	ck_assert_int_eq(mock_async->executed, 0);
	ck_assert_str_eq(mock_other->tasks[0]->request_id, "r1");
	ck_assert_str_eq(mock_other->tasks[0]->run_id, "r1");
	msg = tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION, "r1", 5);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(msg->child_node_id, "n1");
	ck_assert_str_eq(msg->mode, "other");
	ck_assert_str_eq(msg->run_id, "r1");
	/* A creation does not close anything. */
	ck_assert_int_eq(coordinator_status("r1", NULL), JOB_OPENED);
	ck_assert_ptr_eq(coordinator_system_detail(coord), env.state);
}
END_TEST

/* Expects the refusal of request_id: no job, one creation failure of kind invalid. */
static void coordinator_expect_refused(const char *request_id, const char *why)
{
	struct message *msg;
	struct job *job;

	ck_assert_int_eq(state_get_job(env.state, request_id, &job), 0);
	job_unref(job);
	msg = tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, request_id, 5);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(msg->error_kind, ERROR_INVALID);
	ck_assert_msg(msg->error_message && strstr(msg->error_message, why),
		      "creation failure says \"%s\", not \"%s\"",
		      msg->error_message ? msg->error_message : "(null)", why);
	ck_assert_uint_eq(tu_collector_count(&env.msgs, MESSAGE_REQUEST_CREATION_FAILURE, NULL), 1);
}

START_TEST(test_coordinator_unknown_mode)
{
	struct job *job = NULL;
	char *error = NULL;
	struct message *msg;

	ck_assert_int_eq(coordinator_test_submit("{\"request_id\": \"r1\", \"mode\": \"nope\","
						 " \"node\": {\"argv\": [\"x\"]}}",
						 &job, &error),
			 -ENOPROTOOPT);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error, "nope"));
	free(error);
	ck_assert_int_eq(state_get_job(env.state, "r1", &job), -ENOENT);
	msg = tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, "r1", 5);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(msg->error_kind, ERROR_INVALID);
	ck_assert_str_eq(msg->mode, "nope");
	ck_assert_ptr_null(msg->result);
	ck_assert_uint_eq(tu_collector_count(&env.msgs, MESSAGE_REQUEST_CREATION, NULL), 0);
	ck_assert_int_eq(mock_async->executed + mock_other->executed, 0);
	ck_assert_uint_eq(state_open_count(env.state), 0);
}
END_TEST

START_TEST(test_coordinator_duplicate_opened)
{
	struct job *first = coordinator_submit_ok("r1", NULL, "n1");
	char *error = NULL;

	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"y\"]}}",
					NULL, &error),
		-EEXIST);
	ck_assert_ptr_nonnull(strstr(error, "r1"));
	free(error);
	coordinator_expect_refused("r1", "used before");
	/* The first job is untouched and nothing more was executed. */
	ck_assert_ptr_eq(state_find_open(env.state, "r1"), first);
	ck_assert_str_eq(first->name, "true");
	ck_assert_int_eq(mock_async->executed, 1);
}
END_TEST

START_TEST(test_coordinator_duplicate_closed)
{
	coordinator_submit_ok("r1", NULL, "n1");
	mock_finish(mock_async, "r1", 0);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "r1", 5));
	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"y\"]}}",
					NULL, NULL),
		-EEXIST);
	coordinator_expect_refused("r1", "used before");
	ck_assert_int_eq(mock_async->executed, 1);
}
END_TEST

START_TEST(test_coordinator_queue_full)
{
	struct job *job;

	mock_async->full = true;
	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"x\"]}}",
					NULL, NULL),
		-EBUSY);
	ck_assert_int_eq(state_get_job(env.state, "r1", &job), -ENOENT);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, "r1", 5));
	ck_assert_int_eq(mock_async->executed, 0);
}
END_TEST

START_TEST(test_coordinator_stop_accepting)
{
	struct job *job;

	coordinator_stop_accepting(coord);
	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"x\"]}}",
					NULL, NULL),
		-ESHUTDOWN);
	ck_assert_int_eq(state_get_job(env.state, "r1", &job), -ENOENT);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, "r1", 5));
	/* Refusing work is not shutting the strategies down. */
	ck_assert_int_eq(mock_async->shutdowns, 0);
}
END_TEST

START_TEST(test_coordinator_execute_refusal_closes_job)
{
	struct job *job = NULL;
	struct message *msg;
	enum job_result result;

	mock_async->execute_result = -ENOMEM;
	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"x\"]}}",
					&job, NULL),
		0);
	/* The job was accepted: it closes as a failure, with a final message. */
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(job->request_id, "r1");
	msg = tu_env_wait_message(&env, MESSAGE_REQUEST_FAILURE, "r1", 5);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(msg->error_kind, ERROR_SPAWN);
	ck_assert_int_eq(coordinator_status("r1", &result), JOB_CLOSED);
	ck_assert_int_eq(result, JOB_FAILURE);
}
END_TEST

START_TEST(test_coordinator_handle_success)
{
	struct job *job;

	coordinator_submit_ok("r1", NULL, "n1");
	mock_finish(mock_async, "r1", 0);
	/* Closed by handle_item on delivery, not by the strategy. */
	ck_assert_int_eq(coordinator_status("r1", NULL), JOB_OPENED);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "r1", 5));
	ck_assert_ptr_null(state_find_open(env.state, "r1"));
	ck_assert_int_eq(state_get_job(env.state, "r1", &job), 0);
	ck_assert_int_eq(job->status, JOB_CLOSED);
	ck_assert_int_eq(job->result, JOB_SUCCESS);
	ck_assert(job->has_exit_code);
	ck_assert_int_eq(job->exit_code, 0);
	ck_assert_int_eq(job->error_kind, ERROR_NONE);
	ck_assert_double_gt(job->end_time, 0);
	job_unref(job);
}
END_TEST

START_TEST(test_coordinator_handle_failure)
{
	struct job *job;
	char *text;

	coordinator_submit_ok("r1", NULL, "n1");
	mock_finish(mock_async, "r1", 3);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_FAILURE, "r1", 5));
	ck_assert_int_eq(state_get_job(env.state, "r1", &job), 0);
	ck_assert_int_eq(job->status, JOB_CLOSED);
	ck_assert_int_eq(job->result, JOB_FAILURE);
	ck_assert_int_eq(job->exit_code, 3);
	ck_assert_int_eq(job->error_kind, ERROR_EXIT);
	ck_assert_str_eq(job->error_message, "exited with status 3");
	job_unref(job);
	ck_assert_int_eq(history_final_message(env.history, "r1", &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "request_failure"));
	free(text);
}
END_TEST

START_TEST(test_coordinator_creation_failure_leaves_job)
{
	struct message_ids ids = {.request_id = "r1", .child_node_id = "n1", .mode = "async"};
	struct message *msg;

	coordinator_submit_ok("r1", NULL, "n1");
	ck_assert_int_eq(coordinator_publish_refusal(coord, &ids, "no"), 0);
	/* handle_item called directly too: a creation failure never closes a job. */
	msg = message_new(MESSAGE_REQUEST_CREATION_FAILURE, &ids, NULL);
	coordinator_handle_item(msg, coord);
	message_unref(msg);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_CREATION_FAILURE, "r1", 5));
	ck_assert_int_eq(coordinator_status("r1", NULL), JOB_OPENED);
	ck_assert_ptr_nonnull(state_find_open(env.state, "r1"));
}
END_TEST

START_TEST(test_coordinator_close_unknown_is_harmless)
{
	struct message_ids ids = {.request_id = "ghost", .child_node_id = "n"};
	struct message *msg = message_new(MESSAGE_REQUEST_SUCCESS, &ids, NULL);

	coordinator_submit_ok("r1", NULL, "n1");
	coordinator_handle_item(msg, coord);
	message_unref(msg);
	ck_assert_uint_eq(state_open_count(env.state), 1);
}
END_TEST

START_TEST(test_coordinator_shutdown_once)
{
	coordinator_shutdown(coord);
	coordinator_shutdown(coord);
	ck_assert_int_eq(mock_async->shutdowns, 1);
	ck_assert_int_eq(mock_other->shutdowns, 1);
	ck_assert_int_eq(
		coordinator_test_submit("{\"request_id\": \"r1\", \"node\": {\"argv\": [\"x\"]}}",
					NULL, NULL),
		-ESHUTDOWN);
}
END_TEST

static bool coordinator_all_closed(void *data)
{
	const char *const *ids = data;

	for (; *ids; ids++)
		if (state_find_open(env.state, *ids))
			return false;
	return true;
}

START_TEST(test_coordinator_cancel_cascade)
{
	static const char *const tree[] = {"root", "a", "b", "c", NULL};
	size_t count;

	coordinator_submit_ok("root", NULL, "n-root");
	coordinator_submit_ok("a", "n-root", "n-a");
	coordinator_submit_ok("b", "n-a", "n-b");
	coordinator_submit_ok("c", "n-root", "n-c");
	coordinator_submit_ok("other", NULL, "n-other");
	coordinator_submit_ok("other-child", "n-other", "n-oc");
	/* A closed child does not stop the walk to its own children. */
	mock_finish(mock_async, "a", 0);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "a", 5));

	ck_assert_int_eq(coordinator_test_cancel("root", true, 0, &count), 0);
	ck_assert_int_eq(mock_async->cancels, 3);
	/* The ids to wait for: root, b and c, not the closed a. */
	ck_assert_uint_eq(count, 3);
	ck_assert(tu_run_until(env.base, coordinator_all_closed, (void *)tree, 5));
	for (size_t i = 0; tree[i]; i++) {
		enum job_result result;
		struct job *job;

		ck_assert_int_eq(coordinator_status(tree[i], &result), JOB_CLOSED);
		if (strcmp(tree[i], "a") == 0)
			continue;
		ck_assert_int_eq(state_get_job(env.state, tree[i], &job), 0);
		ck_assert_int_eq(job->result, JOB_FAILURE);
		ck_assert_int_eq(job->error_kind, ERROR_CANCELLED);
		job_unref(job);
	}
	ck_assert_int_eq(coordinator_status("other", NULL), JOB_OPENED);
	ck_assert_int_eq(coordinator_status("other-child", NULL), JOB_OPENED);
	/* A cascade from a closed job walks on, and finds nothing left to stop. */
	ck_assert_int_eq(coordinator_test_cancel("root", true, 0, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(mock_async->cancels, 3);
}
END_TEST

START_TEST(test_coordinator_cancel_no_cascade)
{
	coordinator_submit_ok("root", NULL, "n-root");
	coordinator_submit_ok("a", "n-root", "n-a");
	ck_assert_int_eq(coordinator_test_cancel("root", false, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 1);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_FAILURE, "root", 5));
	ck_assert_int_eq(coordinator_status("root", NULL), JOB_CLOSED);
	ck_assert_int_eq(coordinator_status("a", NULL), JOB_OPENED);
	/* Again, it is already closed. */
	ck_assert_int_eq(coordinator_test_cancel("root", false, 0, NULL), -EALREADY);
	ck_assert_int_eq(coordinator_test_cancel("nope", true, 0, NULL), -ENOENT);
}
END_TEST

START_TEST(test_coordinator_cancel_node_cycle)
{
	/* Node ids come from clients: x -> y -> x must not recurse for ever. */
	coordinator_submit_ok("r1", NULL, "x");
	coordinator_submit_ok("r2", "x", "y");
	coordinator_submit_ok("r3", "y", "x");
	ck_assert_int_eq(coordinator_test_cancel("r1", true, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 3);
}
END_TEST

START_TEST(test_coordinator_cancel_mode_gone)
{
	struct job *job = coordinator_submit_ok("r1", NULL, "n1");
	char *old = job->mode;

	/* A job whose mode no strategy serves any more (e.g. after a config change). */
	job->mode = strdup("removed");
	free(old);
	ck_assert_int_eq(coordinator_test_cancel("r1", false, 0, NULL), 0);
	ck_assert_int_eq(coordinator_status("r1", NULL), JOB_CLOSED);
}
END_TEST

START_TEST(test_coordinator_cancel_duplicate_nodes)
{
	char id[16];

	/* Node ids need not be unique: 20 jobs each named "X" and below "X". */
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "self-%d", i);
		coordinator_submit_ok(id, "X", "X");
	}
	/* Each job is cancelled once: the one named, and the 19 after it. */
	ck_assert_int_eq(coordinator_test_cancel("self-0", true, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 20);
	ck_assert_int_eq(coordinator_test_cancel("self-5", true, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 20);
}
END_TEST

START_TEST(test_coordinator_cancel_other_runs)
{
	/* Two runs reuse node ids; a cascade stays in its own run. */
	coordinator_submit_ok("r1", NULL, "top");
	coordinator_submit_ok("r2", NULL, "top");
	coordinator_submit_ok("r2-kid", "top", "kid");
	ck_assert_str_eq(state_find_open(env.state, "r2-kid")->run_id, "r2");
	ck_assert_int_eq(coordinator_test_cancel("r1", true, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 1);
	ck_assert_ptr_nonnull(state_find_open(env.state, "r2-kid"));
}
END_TEST

START_TEST(test_coordinator_cancel_owners)
{
	/* uid 1's tree; uid 2 claims its node id; root submits below uid 1's child. */
	coordinator_submit_as(1, "victim", NULL, "vn");
	coordinator_submit_as(2, "squatter", NULL, "vn");
	coordinator_submit_as(1, "kid", "vn", "kn");
	coordinator_submit_as(2, "intruder", "kn", "in");
	coordinator_submit_as(0, "root-kid", "kn", "rn");
	coordinator_submit_as(0, "grandkid", "rn", "gn");
	coordinator_submit_as(1, "stray", "rn", "sn");
	/* Links resolve to a job of the same owner; root's to anyone's. */
	ck_assert_str_eq(state_find_open(env.state, "kid")->run_id, "victim");
	ck_assert_str_eq(state_find_open(env.state, "intruder")->run_id, "intruder");
	ck_assert_str_eq(state_find_open(env.state, "root-kid")->run_id, "victim");
	ck_assert_str_eq(state_find_open(env.state, "grandkid")->run_id, "victim");
	ck_assert_str_eq(state_find_open(env.state, "stray")->run_id, "stray");
	/* uid 2's cascade does not reach uid 1's jobs. */
	ck_assert_int_eq(coordinator_test_cancel("squatter", true, 2, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 1);
	/* uid 1's stops at root's jobs. */
	ck_assert_int_eq(coordinator_test_cancel("victim", true, 1, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 3);
	ck_assert_ptr_nonnull(state_find_open(env.state, "root-kid"));
	ck_assert_ptr_nonnull(state_find_open(env.state, "grandkid"));
	/* root's goes everywhere below (the run, not the stray that names a node in it). */
	ck_assert_int_eq(coordinator_test_cancel("kid", true, 0, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, 5);
	ck_assert_ptr_nonnull(state_find_open(env.state, "stray"));
	ck_assert_ptr_nonnull(state_find_open(env.state, "intruder"));
}
END_TEST

/* A chain of n jobs c0 .. c(n-1) below one another, nodes n0 .. n(n-1). */
static void coordinator_submit_chain(int n)
{
	char id[32], node[32], parent[32];

	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(node, sizeof(node), "n%d", i);
		snprintf(parent, sizeof(parent), "n%d", i - 1);
		coordinator_submit_ok(id, i ? parent : NULL, node);
	}
}

START_TEST(test_coordinator_cancel_long_chain)
{
	int n = MOCK_MAX_TASKS;
	size_t count;

	/* A chain as deep as the mock holds, cancelled from its root, each once. */
	coordinator_submit_chain(n);
	ck_assert_int_eq(coordinator_test_cancel("c0", true, 0, &count), 0);
	ck_assert_int_eq(mock_async->cancels, n);
	ck_assert_uint_eq(count, (size_t)n);
}
END_TEST

/*
 * Submits a chain of MOCK_MAX_TASKS jobs, cancels it from c0 with done
 * into t and runs one loop turn: the job named is stopped at once, the
 * rest a slice of 1 ms at a time, so the walk is under way after it.
 */
static void coordinator_cancel_under_way(struct coordinator_test_done *t,
					 struct coordinator_cancel **ret)
{
	coordinator_submit_chain(MOCK_MAX_TASKS);
	ck_assert_int_eq(coordinator_cancel(coord, "c0", true, 0, coordinator_test_done_cb, t, ret),
			 0);
	ck_assert_int_eq(mock_async->cancels, 1);
	event_base_loop(env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert(!t->called);
	ck_assert_int_lt(mock_async->cancels, MOCK_MAX_TASKS);
}

START_TEST(test_coordinator_cancel_slices)
{
	struct coordinator_test_done t = {0};
	int n = MOCK_MAX_TASKS;

	coordinator_cancel_under_way(&t, NULL);
	ck_assert(tu_run_until(env.base, coordinator_test_done, &t, 30));
	ck_assert_int_eq(mock_async->cancels, n);
	ck_assert_uint_eq(t.count, (size_t)n);
}
END_TEST

START_TEST(test_coordinator_cancel_late_submit)
{
	struct coordinator_test_done t = {0};

	coordinator_submit_chain(4);
	ck_assert_int_eq(
		coordinator_cancel(coord, "c0", true, 0, coordinator_test_done_cb, &t, NULL), 0);
	/* Submitted below the chain after the cancel came: not part of it. */
	coordinator_submit_ok("late", "n3", "n-late");
	ck_assert(tu_run_until(env.base, coordinator_test_done, &t, 30));
	ck_assert_uint_eq(t.count, 4);
	ck_assert_int_eq(mock_async->cancels, 4);
	ck_assert_int_eq(coordinator_status("late", NULL), JOB_OPENED);
}
END_TEST

static bool coordinator_chain_closed(void *data)
{
	return state_open_count(env.state) == 0;
}

START_TEST(test_coordinator_cancel_forget)
{
	struct coordinator_test_done t = {0};
	struct coordinator_cancel *cancel;
	int n = MOCK_MAX_TASKS;

	coordinator_cancel_under_way(&t, &cancel);
	ck_assert_ptr_nonnull(cancel);
	/* Its caller goes away: the walk goes on to the end, and tells no one. */
	coordinator_cancel_forget(cancel);
	ck_assert(tu_run_until(env.base, coordinator_chain_closed, NULL, 30));
	ck_assert_int_eq(mock_async->cancels, n);
	event_base_loop(env.base, EVLOOP_NONBLOCK);
	ck_assert(!t.called);
	/* A cancel nobody waits for, cascading or not. */
	coordinator_submit_ok("solo", NULL, "n-solo");
	ck_assert_int_eq(coordinator_cancel(coord, "solo", false, 0, NULL, NULL, NULL), 0);
	ck_assert_int_eq(mock_async->cancels, n + 1);
	/* A walk still under way when the coordinator goes is freed with it. */
	coordinator_submit_ok("x0", NULL, "nx0");
	coordinator_submit_ok("x1", "nx0", "nx1");
	ck_assert_int_eq(coordinator_cancel(coord, "x0", true, 0, NULL, NULL, NULL), 0);
}
END_TEST

START_TEST(test_coordinator_cancel_shutdown)
{
	struct coordinator_test_done t = {0};
	int n = MOCK_MAX_TASKS;

	coordinator_cancel_under_way(&t, NULL);
	ck_assert_int_lt(mock_async->cancels, n);
	/*
	 * Shutting down walks the cancel to its end first (queued jobs outlive
	 * a stop: none it answered for may run after the restart), then says
	 * what it stopped.
	 */
	coordinator_shutdown(coord);
	ck_assert(t.called);
	ck_assert_int_eq(t.result, 0);
	ck_assert_uint_eq(t.count, (size_t)mock_async->cancels);
	ck_assert_int_eq(mock_async->cancels, n);
	ck_assert_int_eq(mock_async->shutdowns, 1);
}
END_TEST

/* The daemon's store: the coordinator's gate around the history. */
static int coordinator_gate_store_cb(struct message *msg, void *history)
{
	int r = coordinator_admit_message(coord, msg);

	if (r == 0 && (r = history_insert_message(history, msg)) == 0)
		coordinator_message_stored(coord, msg);
	return r;
}

START_TEST(test_coordinator_ends_once)
{
	struct job *job;

	publisher_set_store(env.pub, coordinator_gate_store_cb, env.history);
	coordinator_submit_ok("r1", NULL, "n1");
	/* The task ends: its outcome is published, not delivered yet. */
	mock_finish(mock_async, "r1", 0);
	job = state_find_open(env.state, "r1");
	ck_assert(job->finishing);
	/* A cancel now publishes nothing more, and the job ends with its outcome. */
	ck_assert_int_eq(coordinator_test_cancel("r1", true, 0, NULL), 0);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "r1", 5));
	event_base_loop(env.base, EVLOOP_NONBLOCK);
	event_base_loop(env.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(tu_collector_count(&env.msgs, MESSAGE_REQUEST_FAILURE, "r1"), 0);
	ck_assert_int_eq(coordinator_status("r1", NULL), JOB_CLOSED);
	/* A second final message is refused outright, and so is one for no opened job. */
	coordinator_submit_ok("r2", NULL, "n2");
	mock_finish(mock_async, "r2", 0);
	ck_assert_int_eq(coordinator_publish_failure(coord, state_find_open(env.state, "r2"),
						     ERROR_CANCELLED, "cancelled"),
			 -EALREADY);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "r2", 5));
	ck_assert_int_eq(coordinator_publish_refusal(
				 coord, &(struct message_ids){.request_id = "r3"}, "refused"),
			 0);
}
END_TEST

START_TEST(test_coordinator_find_lender)
{
	char *lender;

	coordinator_submit_ok("top", NULL, "t");
	coordinator_submit_ok("kid", "t", "k");
	coordinator_submit_ok("gkid", "k", "g");
	coordinator_submit_ok("other", NULL, "o");
	/* Node ids in a cycle inside top's run: a -> b -> a. */
	coordinator_submit_ok("cyc-a", "t", "a");
	coordinator_submit_ok("cyc-b", "a", "b");
	coordinator_submit_ok("cyc-c", "b", "a");
	mock_async->base.hooks.task_started(mock_async->base.hooks.ctx, "top", 4242, 0);
	ck_assert_int_eq(coordinator_find_lender(coord, 4243, (char *[]){"gkid"}, 1, &lender), 0);
	ck_assert_ptr_null(lender);
	ck_assert_int_eq(coordinator_find_lender(coord, 4242, (char *[]){"other"}, 1, &lender), 0);
	ck_assert_ptr_null(lender);
	ck_assert_int_eq(coordinator_find_lender(coord, 4242, (char *[]){"top"}, 1, &lender), 0);
	ck_assert_ptr_null(lender);
	ck_assert_int_eq(coordinator_find_lender(coord, 4242, (char *[]){"cyc-b"}, 1, &lender), 0);
	ck_assert_ptr_null(lender);
	ck_assert_int_eq(coordinator_find_lender(coord, 4242, (char *[]){"other", "cyc-b", "gkid"},
						 3, &lender),
			 0);
	ck_assert_str_eq(lender, "top");
	free(lender);
}
END_TEST

START_TEST(test_coordinator_run_id)
{
	struct job *root = coordinator_submit_ok("root", NULL, "n-root");
	struct job *child = coordinator_submit_ok("child", "n-root", "n-child");
	struct job *grandchild = coordinator_submit_ok("gc", "n-child", "n-gc");
	struct job *orphan = coordinator_submit_ok("orphan", "n-unknown", "n-o");

	ck_assert_str_eq(root->run_id, "root");
	ck_assert_str_eq(child->run_id, "root");
	ck_assert_str_eq(grandchild->run_id, "root");
	ck_assert_str_eq(orphan->run_id, "orphan");
	/* Still derived once the parent has closed. */
	mock_finish(mock_async, "root", 0);
	ck_assert_ptr_nonnull(tu_env_wait_message(&env, MESSAGE_REQUEST_SUCCESS, "root", 5));
	ck_assert_str_eq(coordinator_submit_ok("late", "n-root", "n-late")->run_id, "root");
}
END_TEST

START_TEST(test_coordinator_slots)
{
	coordinator_submit_ok("r1", NULL, "n1");
	/* Queued: it has no slot to lend. */
	ck_assert_int_eq(coordinator_lend_slot(coord, "r1"), -ENOENT);
	mock_async->base.hooks.task_started(mock_async->base.hooks.ctx, "r1", getpid(), 0);
	ck_assert_int_eq(state_find_open(env.state, "r1")->phase, JOB_RUNNING);
	ck_assert_int_eq(state_find_open(env.state, "r1")->pid, getpid());
	ck_assert_int_eq(coordinator_lend_slot(coord, "r1"), 0);
	ck_assert_int_eq(coordinator_return_slot(coord, "r1"), 0);
	ck_assert_int_eq(mock_async->lends, 1);
	ck_assert_int_eq(mock_async->returns, 1);
	ck_assert_int_eq(coordinator_lend_slot(coord, "nope"), -ENOENT);
}
END_TEST

static void coordinator_mode_cb(const struct strategy_info *info, void *userdata)
{
	char *out = userdata;

	strcat(out, info->mode);
	strcat(out, ";");
}

START_TEST(test_coordinator_modes)
{
	char modes[64] = "";
	struct mock_strategy *dup = mock_new(env.pub, "other");

	coordinator_foreach_mode(coord, coordinator_mode_cb, modes);
	ck_assert_str_eq(modes, "async;other;");
	ck_assert(coordinator_has_mode(coord, "other"));
	ck_assert(!coordinator_has_mode(coord, "x"));
	ck_assert_int_eq(coordinator_add_mode(coord, &dup->base), -EEXIST);
	mock_free(&dup->base);
}
END_TEST

START_TEST(test_coordinator_start_needs_async)
{
	struct coordinator *c2 = coordinator_new(env.base, env.state, 0);

	ck_assert_int_eq(coordinator_add_mode(c2, &mock_new(env.pub, "batch")->base), 0);
	ck_assert_int_eq(coordinator_start(c2, env.pub), -EINVAL);
	coordinator_free(c2);
}
END_TEST

static Suite *coordinator_suite(void)
{
	Suite *s = suite_create("coordinator");
	TCase *tc = tcase_create("coordinator");

	tcase_add_checked_fixture(tc, coordinator_setup, coordinator_teardown);
	tcase_add_test(tc, test_coordinator_submit_delegates);
	tcase_add_test(tc, test_coordinator_unknown_mode);
	tcase_add_test(tc, test_coordinator_duplicate_opened);
	tcase_add_test(tc, test_coordinator_duplicate_closed);
	tcase_add_test(tc, test_coordinator_queue_full);
	tcase_add_test(tc, test_coordinator_stop_accepting);
	tcase_add_test(tc, test_coordinator_execute_refusal_closes_job);
	tcase_add_test(tc, test_coordinator_handle_success);
	tcase_add_test(tc, test_coordinator_handle_failure);
	tcase_add_test(tc, test_coordinator_creation_failure_leaves_job);
	tcase_add_test(tc, test_coordinator_close_unknown_is_harmless);
	tcase_add_test(tc, test_coordinator_shutdown_once);
	tcase_add_test(tc, test_coordinator_cancel_cascade);
	tcase_add_test(tc, test_coordinator_cancel_no_cascade);
	tcase_add_test(tc, test_coordinator_cancel_node_cycle);
	tcase_add_test(tc, test_coordinator_cancel_mode_gone);
	tcase_add_test(tc, test_coordinator_cancel_duplicate_nodes);
	tcase_add_test(tc, test_coordinator_cancel_other_runs);
	tcase_add_test(tc, test_coordinator_cancel_owners);
	tcase_add_test(tc, test_coordinator_cancel_long_chain);
	tcase_add_test(tc, test_coordinator_cancel_slices);
	tcase_add_test(tc, test_coordinator_cancel_late_submit);
	tcase_add_test(tc, test_coordinator_cancel_forget);
	tcase_add_test(tc, test_coordinator_cancel_shutdown);
	tcase_add_test(tc, test_coordinator_ends_once);
	tcase_add_test(tc, test_coordinator_find_lender);
	tcase_add_test(tc, test_coordinator_run_id);
	tcase_add_test(tc, test_coordinator_slots);
	tcase_add_test(tc, test_coordinator_modes);
	tcase_add_test(tc, test_coordinator_start_needs_async);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(coordinator_suite());
}
