/* Check suite for the slot queue: caps, FIFO order, lending, removal, closing, tuning. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <check.h>
#include <event2/event.h>

#include "slotqueue.h"
#include "strategy.h"
#include "task.h"
#include "testutil.h"

#define SQ_ITEMS 8

static struct event_base *base;
static struct slotqueue q;
static struct slotqueue_item items[SQ_ITEMS];
static int started[SQ_ITEMS]; /* order of start, 0: not started */
static int starts;

static void sq_start_cb(struct slotqueue_item *item, void *ctx)
{
	started[item - items] = ++starts;
}

static void sq_setup(unsigned max_concurrency, size_t max_queue)
{
	char json[128];

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(slotqueue_init(&q, base, max_concurrency, max_queue, sq_start_cb, NULL),
			 0);
	starts = 0;
	for (int i = 0; i < SQ_ITEMS; i++) {
		snprintf(json, sizeof(json),
			 "{\"request_id\": \"t%d\", \"node\": {\"argv\": [\"x\"]}}", i);
		items[i] = (struct slotqueue_item){.task = tu_task(json)};
		started[i] = 0;
	}
}

static void sq_teardown(void)
{
	slotqueue_clear(&q);
	for (int i = 0; i < SQ_ITEMS; i++)
		task_free(items[i].task);
	event_base_free(base);
}

/* One loop turn: items added this turn start on the next. */
static void sq_turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

START_TEST(test_slotqueue_fifo_and_cap)
{
	sq_setup(2, 10);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(slotqueue_add(&q, &items[i]), 0);
	/* Nothing starts inside add: the submit's answer goes first. */
	ck_assert_int_eq(starts, 0);
	sq_turn();
	ck_assert_int_eq(started[0], 1);
	ck_assert_int_eq(started[1], 2);
	ck_assert_int_eq(started[2], 0);
	ck_assert_uint_eq(slotqueue_running(&q), 2);
	ck_assert_uint_eq(slotqueue_waiting(&q), 3);
	/* A slot frees: the oldest waiting one takes it. */
	slotqueue_remove(&q, &items[0]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 3);
	ck_assert_int_eq(started[3], 0);
	ck_assert_ptr_eq(slotqueue_find(&q, "t3"), &items[3]);
	ck_assert_ptr_null(slotqueue_find(&q, "t0"));
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_full)
{
	sq_setup(1, 2);
	ck_assert_int_eq(slotqueue_add(&q, &items[0]), 0);
	ck_assert_int_eq(slotqueue_add(&q, &items[1]), 0);
	/* One of the three fits in the free slot on the next turn. */
	ck_assert(slotqueue_can_accept(&q));
	ck_assert_int_eq(slotqueue_add(&q, &items[2]), 0);
	ck_assert(!slotqueue_can_accept(&q));
	ck_assert_int_eq(slotqueue_add(&q, &items[3]), -EBUSY);
	sq_turn();
	ck_assert_uint_eq(slotqueue_running(&q), 1);
	ck_assert_uint_eq(slotqueue_waiting(&q), 2);
	ck_assert(!slotqueue_can_accept(&q));
	/* A waiting item leaves: room again. */
	slotqueue_remove(&q, &items[2]);
	ck_assert(slotqueue_can_accept(&q));
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_lend)
{
	sq_setup(1, 10);
	ck_assert_int_eq(slotqueue_add(&q, &items[0]), 0);
	ck_assert_int_eq(slotqueue_add(&q, &items[1]), 0);
	sq_turn();
	ck_assert_int_eq(started[1], 0);
	/* Only a started item lends; a second loan lends nothing more. */
	ck_assert_int_eq(slotqueue_lend(&q, "t1"), -ENOENT);
	ck_assert_int_eq(slotqueue_lend(&q, "nope"), -ENOENT);
	ck_assert_int_eq(slotqueue_lend(&q, "t0"), 0);
	ck_assert_int_eq(started[1], 2);
	ck_assert_int_eq(slotqueue_lend(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 1);
	/* The slot comes back with the last loan, not the first. */
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 1);
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 2);
	ck_assert_int_eq(slotqueue_return(&q, "t0"), -ENOENT);
	/* Both hold a slot now (over the cap until one ends): the next one waits. */
	ck_assert_int_eq(slotqueue_add(&q, &items[2]), 0);
	sq_turn();
	ck_assert_int_eq(started[2], 0);
	slotqueue_remove(&q, &items[0]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 0);
	slotqueue_remove(&q, &items[1]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 3);
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_lent_item_leaves)
{
	sq_setup(1, 10);
	ck_assert_int_eq(slotqueue_add(&q, &items[0]), 0);
	ck_assert_int_eq(slotqueue_add(&q, &items[1]), 0);
	sq_turn();
	ck_assert_int_eq(slotqueue_lend(&q, "t0"), 0);
	/* A lent item that ends gives back nothing: t1 holds the only slot. */
	slotqueue_remove(&q, &items[0]);
	ck_assert_uint_eq(q.holding, 1);
	ck_assert_int_eq(slotqueue_add(&q, &items[2]), 0);
	sq_turn();
	ck_assert_int_eq(started[2], 0);
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_close)
{
	sq_setup(1, 10);
	ck_assert_int_eq(slotqueue_add(&q, &items[0]), 0);
	slotqueue_close(&q);
	sq_turn();
	/* Closed: nothing starts and nothing more is taken. */
	ck_assert_int_eq(started[0], 0);
	ck_assert(!slotqueue_can_accept(&q));
	ck_assert_int_eq(slotqueue_add(&q, &items[1]), -EBUSY);
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_lend_counted)
{
	sq_setup(1, 10);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(slotqueue_add(&q, &items[i]), 0);
	sq_turn();
	/* t0 waits for three children at once (t1..t3), lending its one slot. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(slotqueue_lend(&q, "t0"), 0);
	ck_assert_int_eq(started[1], 2);
	/* The first child ends and its wait returns the slot: the loan goes on. */
	slotqueue_remove(&q, &items[1]);
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 3);
	slotqueue_remove(&q, &items[2]);
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[3], 4);
	/* The last wait ends: t0 holds its slot again, next to the running t3. */
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 2);
	sq_teardown();
}
END_TEST

static void sq_remove_cb(struct slotqueue_item *item, void *ctx)
{
	(*(int *)ctx)++;
	slotqueue_remove(&q, item);
}

static void sq_tune(unsigned max_concurrency, size_t max_queue, bool paused)
{
	struct strategy_tuning t = {
		.max_concurrency = max_concurrency, .max_queue = max_queue, .paused = paused};

	slotqueue_tune(&q, &t);
}

/* Paused: accepts up to max_queue, starts nothing; resumed: starts in FIFO order. */
START_TEST(test_slotqueue_pause)
{
	struct strategy_info info = {0};

	sq_setup(2, 3);
	sq_tune(2, 3, true);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(slotqueue_add(&q, &items[i]), 0);
	/* The free slots do not count while paused: the queue is full at max_queue. */
	ck_assert(!slotqueue_can_accept(&q));
	ck_assert_int_eq(slotqueue_add(&q, &items[3]), -EBUSY);
	sq_turn();
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(starts, 0);
	slotqueue_describe(&q, &info);
	ck_assert(info.paused);
	ck_assert_uint_eq(info.queued, 3);
	ck_assert_uint_eq(info.running, 0);
	/* Resumed: on the next turn, the oldest first, up to the cap. */
	sq_tune(2, 3, false);
	ck_assert_int_eq(starts, 0);
	sq_turn();
	ck_assert_int_eq(started[0], 1);
	ck_assert_int_eq(started[1], 2);
	ck_assert_int_eq(started[2], 0);
	sq_teardown();
}
END_TEST

/* Raising the cap starts waiting items; lowering it stops nothing and starts nothing. */
START_TEST(test_slotqueue_tune_limits)
{
	sq_setup(1, 10);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(slotqueue_add(&q, &items[i]), 0);
	sq_turn();
	ck_assert_uint_eq(slotqueue_running(&q), 1);
	sq_tune(3, 10, false);
	sq_turn();
	ck_assert_uint_eq(slotqueue_running(&q), 3);
	ck_assert_int_eq(started[2], 3);
	sq_tune(1, 10, false);
	sq_turn();
	ck_assert_uint_eq(slotqueue_running(&q), 3);
	/* Two end: still at the cap of 1, nothing new. */
	slotqueue_remove(&q, &items[0]);
	slotqueue_start_waiting(&q);
	slotqueue_remove(&q, &items[1]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[3], 0);
	/* The last of the three ends: below the cap, the next one starts. */
	slotqueue_remove(&q, &items[2]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[3], 4);
	ck_assert_int_eq(started[4], 0);
	/* 0 means the default, as in the config. */
	sq_tune(0, 0, false);
	ck_assert_uint_ge(q.max_concurrency, 1);
	ck_assert_uint_eq(q.max_queue, STRATEGY_DEFAULT_MAX_QUEUE);
	sq_teardown();
}
END_TEST

/* Loans stay counted through a pause and a changed cap. */
START_TEST(test_slotqueue_lend_paused)
{
	sq_setup(1, 10);
	ck_assert_int_eq(slotqueue_add(&q, &items[0]), 0);
	ck_assert_int_eq(slotqueue_add(&q, &items[1]), 0);
	sq_turn();
	sq_tune(1, 10, true);
	/* t0 lends its slot while paused: the child waits for the resume. */
	ck_assert_int_eq(slotqueue_lend(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 0);
	ck_assert_int_eq(started[1], 0);
	sq_tune(2, 10, false);
	sq_turn();
	ck_assert_int_eq(started[1], 2);
	ck_assert_uint_eq(q.holding, 1);
	/* The cap drops while the slot is lent; the loan comes back all the same. */
	sq_tune(1, 10, false);
	ck_assert_int_eq(slotqueue_return(&q, "t0"), 0);
	ck_assert_uint_eq(q.holding, 2);
	ck_assert_int_eq(slotqueue_add(&q, &items[2]), 0);
	sq_turn();
	ck_assert_int_eq(started[2], 0);
	slotqueue_remove(&q, &items[1]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 0);
	slotqueue_remove(&q, &items[0]);
	slotqueue_start_waiting(&q);
	ck_assert_int_eq(started[2], 3);
	ck_assert_uint_eq(q.holding, 1);
	sq_teardown();
}
END_TEST

START_TEST(test_slotqueue_foreach_removing)
{
	int seen = 0;

	sq_setup(2, 10);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(slotqueue_add(&q, &items[i]), 0);
	sq_turn();
	slotqueue_foreach(&q, sq_remove_cb, &seen);
	ck_assert_int_eq(seen, 5);
	ck_assert_uint_eq(slotqueue_running(&q), 0);
	ck_assert_uint_eq(slotqueue_waiting(&q), 0);
	ck_assert_uint_eq(q.holding, 0);
	sq_teardown();
}
END_TEST

static Suite *slotqueue_suite(void)
{
	Suite *s = suite_create("slotqueue");
	TCase *tc = tcase_create("slotqueue");

	tcase_add_test(tc, test_slotqueue_fifo_and_cap);
	tcase_add_test(tc, test_slotqueue_full);
	tcase_add_test(tc, test_slotqueue_lend);
	tcase_add_test(tc, test_slotqueue_lend_counted);
	tcase_add_test(tc, test_slotqueue_lent_item_leaves);
	tcase_add_test(tc, test_slotqueue_close);
	tcase_add_test(tc, test_slotqueue_foreach_removing);
	tcase_add_test(tc, test_slotqueue_pause);
	tcase_add_test(tc, test_slotqueue_tune_limits);
	tcase_add_test(tc, test_slotqueue_lend_paused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(slotqueue_suite());
}
