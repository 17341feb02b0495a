/*
 * Short queues stay in memory (queue_hot_tasks): the first K tasks queued
 * in a mode keep their job and their Task in memory and start without
 * reading either back from the history; only the ones behind them go
 * cold. A coordinator with the real async strategy, paused so that the
 * queue holds still; a wrapper around the task_load hook counts which
 * tasks were read back at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "coordinator.h"
#include "history.h"
#include "message.h"
#include "publisher.h"
#include "state.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "task.h"
#include "testutil.h"

#define HOT_LOADED_MAX 16

static struct tu_env env;
static struct coordinator *coord;
static struct strategy *async;
static int (*hot_real_load)(void *ctx, const char *request_id, struct task **ret);
static char *hot_loaded[HOT_LOADED_MAX]; /* the request_ids task_load was asked for */
static size_t hot_loaded_count;

static int hot_load_cb(void *ctx, const char *request_id, struct task **ret)
{
	ck_assert_uint_lt(hot_loaded_count, HOT_LOADED_MAX);
	hot_loaded[hot_loaded_count++] = strdup(request_id);
	return hot_real_load(ctx, request_id, ret);
}

static bool hot_was_loaded(const char *request_id)
{
	for (size_t i = 0; i < hot_loaded_count; i++)
		if (strcmp(hot_loaded[i], request_id) == 0)
			return true;
	return false;
}

static void hot_setup(void)
{
	tu_env_setup(&env);
	coord = NULL;
	async = NULL;
	hot_loaded_count = 0;
}

static void hot_teardown(void)
{
	coordinator_free(coord);
	coord = NULL;
	tu_env_teardown(&env);
	for (size_t i = 0; i < hot_loaded_count; i++)
		free(hot_loaded[i]);
	hot_loaded_count = 0;
}

/* Mode "async": one slot, paused, the first hot queued tasks kept in memory. */
static void hot_start_mode(size_t hot)
{
	struct strategy_config config = {
		.mode = "async",
		.kind = "async",
		.max_concurrency = 1,
		.queue_hot_tasks = hot,
		.socket_path = "/run/test/coord.sock",
	};
	coord = tu_coordinator_new(&env, &config, &async);
	hot_real_load = async->hooks.task_load;
	async->hooks.task_load = hot_load_cb;
	ck_assert_int_eq(coordinator_start(coord, env.pub), 0);
	ck_assert_int_eq(coordinator_tune_mode(coord, "async",
					       &(struct strategy_tuning){
						       .max_concurrency = 1,
						       .queue_hot_tasks = hot,
						       .paused = true,
					       }),
			 0);
}

static void hot_resume(size_t hot)
{
	ck_assert_int_eq(coordinator_tune_mode(coord, "async",
					       &(struct strategy_tuning){
						       .max_concurrency = 1,
						       .queue_hot_tasks = hot,
					       }),
			 0);
}

static void hot_submit(const char *request_id)
{
	struct job *job = NULL;
	char *error = NULL;
	char json[256];
	int r;

	snprintf(json, sizeof(json),
		 "{\"request_id\":\"%s\",\"mode\":\"async\",\"node\":{\"argv\":[\"true\"]}}",
		 request_id);
	r = coordinator_submit(coord, tu_task(json), &job, &error);
	ck_assert_msg(r == 0, "submit %s: %s", request_id, error ? error : strerror(-r));
	free(error);
}

static bool hot_is_cold(void *request_id)
{
	return state_is_cold(env.state, request_id);
}

/* Waits until request_id went cold: the cooling pass that would cool the others ran too. */
static void hot_wait_cold(const char *request_id)
{
	ck_assert_msg(tu_run_until(env.base, hot_is_cold, (void *)request_id, 10),
		      "%s never went cold", request_id);
}

static bool hot_all_closed(void *data)
{
	const char *const *ids = data;

	for (size_t i = 0; ids[i]; i++)
		if (state_is_open(env.state, ids[i]))
			return false;
	return true;
}

static void hot_wait_closed(const char *const *ids)
{
	ck_assert(tu_run_until(env.base, hot_all_closed, (void *)ids, 30));
}

static void hot_assert_cancelled(const char *request_id)
{
	struct message *msg = tu_collector_find(&env.msgs, MESSAGE_REQUEST_FAILURE, request_id);

	ck_assert_msg(msg != NULL, "no failure for %s", request_id);
	ck_assert_int_eq(msg->error_kind, ERROR_CANCELLED);
	ck_assert_str_eq(msg->error_message, "cancelled before it started");
}

/*
 * Four tasks behind a paused slot, two kept hot: the first two stay in
 * memory while the last two go cold, and when the mode resumes all four
 * run, only the cold ones read back from the history. (Before: all four
 * went cold, and each was read back at its start.)
 */
START_TEST(test_hot_head_of_queue)
{
	static const char *const ids[] = {"q1", "q2", "q3", "q4", NULL};

	hot_start_mode(2);
	for (size_t i = 0; ids[i]; i++)
		hot_submit(ids[i]);
	hot_wait_cold("q4");
	ck_assert(state_is_cold(env.state, "q3"));
	ck_assert(!state_is_cold(env.state, "q1"));
	ck_assert(!state_is_cold(env.state, "q2"));
	ck_assert(state_is_open(env.state, "q1"));
	hot_resume(2);
	hot_wait_closed(ids);
	for (size_t i = 0; ids[i]; i++)
		ck_assert_ptr_nonnull(
			tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, ids[i]));
	ck_assert(!hot_was_loaded("q1"));
	ck_assert(!hot_was_loaded("q2"));
	ck_assert(hot_was_loaded("q3"));
	ck_assert(hot_was_loaded("q4"));
	ck_assert_uint_eq(hot_loaded_count, 2);
}
END_TEST

/*
 * Whether a task stays hot depends on the queue's length when it is
 * queued, cold ones counted: a cancel, hot or cold, says what it always
 * said, and a task queued once the queue is shorter than K again stays
 * in memory, while the cold ones that moved up are not loaded early.
 */
START_TEST(test_hot_by_queue_length)
{
	static const char *const ids[] = {"a", "b", "c", "d", "e", "f", NULL};

	hot_start_mode(2);
	hot_submit("a");
	hot_submit("b");
	hot_submit("c");
	hot_wait_cold("c");
	ck_assert_int_eq(coordinator_cancel(coord, "a", false, 0, NULL, NULL, NULL), 0);
	/* Queue: b (hot), c (cold); two long, so d goes cold. */
	hot_submit("d");
	hot_wait_cold("d");
	ck_assert(!state_is_cold(env.state, "b"));
	ck_assert_int_eq(coordinator_cancel(coord, "b", false, 0, NULL, NULL, NULL), 0);
	ck_assert_int_eq(coordinator_cancel(coord, "c", false, 0, NULL, NULL, NULL), 0);
	/* Queue: d (cold, not loaded back); e comes in below K and stays; f does not. */
	ck_assert(state_is_cold(env.state, "d"));
	hot_submit("e");
	hot_submit("f");
	hot_wait_cold("f");
	ck_assert(!state_is_cold(env.state, "e"));
	ck_assert(state_is_cold(env.state, "d"));
	hot_resume(2);
	hot_wait_closed(ids);
	hot_assert_cancelled("a");
	hot_assert_cancelled("b");
	hot_assert_cancelled("c");
	for (size_t i = 3; ids[i]; i++)
		ck_assert_ptr_nonnull(
			tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, ids[i]));
	ck_assert(!hot_was_loaded("e"));
	ck_assert(hot_was_loaded("d"));
	ck_assert(hot_was_loaded("f"));
}
END_TEST

/* queue_hot_tasks = 0 keeps none: a lone queued task goes cold, as before the setting. */
START_TEST(test_hot_zero_keeps_none)
{
	static const char *const ids[] = {"z1", NULL};

	hot_start_mode(0);
	hot_submit("z1");
	hot_wait_cold("z1");
	hot_resume(0);
	hot_wait_closed(ids);
	ck_assert_ptr_nonnull(tu_collector_find(&env.msgs, MESSAGE_REQUEST_SUCCESS, "z1"));
	ck_assert(hot_was_loaded("z1"));
}
END_TEST

static Suite *hot_suite(void)
{
	Suite *s = suite_create("queue-hot");
	TCase *tc = tcase_create("hot");

	tcase_add_checked_fixture(tc, hot_setup, hot_teardown);
	tcase_add_test(tc, test_hot_head_of_queue);
	tcase_add_test(tc, test_hot_by_queue_length);
	tcase_add_test(tc, test_hot_zero_keeps_none);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(hot_suite());
}
