/* Publisher and the messages it carries: numbering, delivery order, listeners, shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <event2/event.h>

#include "jsonutil.h"
#include "message.h"
#include "publisher.h"
#include "testutil.h"

static struct event_base *base;
static struct publisher *pub;

static void publisher_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	pub = publisher_new(base, 1);
	ck_assert_ptr_nonnull(pub);
}

static void publisher_teardown(void)
{
	publisher_free(pub);
	event_base_free(base);
}

static struct message *publisher_test_message(enum message_type type, const char *request_id)
{
	struct message_ids ids = {.request_id = request_id, .child_node_id = "n", .mode = "async"};
	struct message *msg = message_new(type, &ids, NULL);

	ck_assert_ptr_nonnull(msg);
	return msg;
}

/* Publishes a new message and drops the test's reference. */
static int publisher_test_publish(enum message_type type, const char *request_id)
{
	struct message *msg = publisher_test_message(type, request_id);
	int r = publisher_publish(pub, msg);

	message_unref(msg);
	return r;
}

static void publisher_turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

START_TEST(test_publisher_numbers_and_defers)
{
	struct tu_collector c = {0};
	struct message *msg = publisher_test_message(MESSAGE_REQUEST_CREATION, "a");
	double before = time_now();

	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &c, "c", NULL), 0);
	ck_assert_uint_eq(publisher_last_seq(pub), 0);
	ck_assert_int_eq(publisher_publish(pub, msg), 0);
	ck_assert_uint_eq(msg->seq, 1);
	ck_assert_double_ge(msg->time, before - 0.001);
	/* The publisher holds its own reference. */
	ck_assert_int_eq(msg->refcount, 2);
	message_unref(msg);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "a"), 0);
	ck_assert_uint_eq(publisher_last_seq(pub), 2);
	/* Never delivered from inside publish. */
	ck_assert_uint_eq(c.count, 0);
	publisher_turn();
	ck_assert_uint_eq(c.count, 2);
	ck_assert_uint_eq(c.msgs[0]->seq, 1);
	ck_assert_uint_eq(c.msgs[1]->seq, 2);
	ck_assert_int_eq(c.msgs[1]->type, MESSAGE_REQUEST_SUCCESS);
	tu_collector_clear(&c);
}
END_TEST

START_TEST(test_publisher_first_seq)
{
	struct publisher *p2 = publisher_new(base, 42);
	struct message *msg = publisher_test_message(MESSAGE_REQUEST_CREATION, "a");

	ck_assert_uint_eq(publisher_last_seq(p2), 41);
	ck_assert_int_eq(publisher_publish(p2, msg), 0);
	ck_assert_uint_eq(msg->seq, 42);
	message_unref(msg);
	/* Freed with a message still undelivered: nothing leaks. */
	publisher_free(p2);
}
END_TEST

START_TEST(test_publisher_every_subscriber_in_order)
{
	struct tu_collector a = {0}, b = {0};
	uint64_t ida, idb;

	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &a, "a", &ida), 0);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &b, "b", &idb), 0);
	ck_assert_uint_ne(ida, idb);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "x"), 0);
	publisher_turn();
	ck_assert_uint_eq(a.count, 5);
	ck_assert_uint_eq(b.count, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_uint_eq(a.msgs[i]->seq, i + 1);
		ck_assert_ptr_eq(a.msgs[i], b.msgs[i]);
	}
	tu_collector_clear(&a);
	tu_collector_clear(&b);
}
END_TEST

START_TEST(test_publisher_late_subscriber)
{
	struct tu_collector c = {0};

	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "early"), 0);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &c, "late", NULL), 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "late"), 0);
	publisher_turn();
	/* Only what was published after it subscribed, even if not yet delivered. */
	ck_assert_uint_eq(c.count, 1);
	ck_assert_str_eq(c.msgs[0]->request_id, "late");
	tu_collector_clear(&c);
}
END_TEST

/*
 * A caller that read the state (made of the messages delivered so far) and
 * then subscribes must get what was published meanwhile but not delivered:
 * an output follow that found its job open missed the job's end otherwise,
 * and its client waited forever.
 */
START_TEST(test_publisher_undelivered_subscriber)
{
	struct tu_collector seen = {0}, late = {0}, pending = {0}, after = {0};

	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &seen, "state", NULL), 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "a"), 0);
	publisher_turn();
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "a"), 0);
	/* Published, not delivered: the state has not seen the end of "a" yet. */
	ck_assert_uint_eq(seen.count, 1);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &late, "late", NULL), 0);
	ck_assert_int_eq(
		publisher_subscribe_undelivered(pub, tu_collect_cb, &pending, "pending", NULL), 0);
	publisher_turn();
	ck_assert_uint_eq(seen.count, 2);
	ck_assert_uint_eq(late.count, 0);
	ck_assert_uint_eq(pending.count, 1);
	ck_assert_uint_eq(pending.msgs[0]->seq, 2);
	ck_assert_int_eq(pending.msgs[0]->type, MESSAGE_REQUEST_SUCCESS);
	/* Once delivered, a message is in the state: a new subscriber does not get it again. */
	ck_assert_int_eq(publisher_subscribe_undelivered(pub, tu_collect_cb, &after, "after", NULL),
			 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "b"), 0);
	publisher_turn();
	ck_assert_uint_eq(after.count, 1);
	ck_assert_str_eq(after.msgs[0]->request_id, "b");
	tu_collector_clear(&seen);
	tu_collector_clear(&late);
	tu_collector_clear(&pending);
	tu_collector_clear(&after);
}
END_TEST

/*
 * The daemon's own subscribers hear a message before its commit; clients
 * only after, and not while it is held: a commit that fails (a full disk)
 * holds its messages, and a client that heard of one the history then
 * lacked would find a gap when it subscribes again from its last seq.
 */
START_TEST(test_publisher_early_subscribers)
{
	struct tu_collector early = {0}, client = {0};

	ck_assert_int_eq(publisher_subscribe_early(pub, tu_collect_cb, &early, "state", NULL), 0);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &client, "client", NULL), 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "a"), 0);
	publisher_deliver_early(pub);
	ck_assert_uint_eq(early.count, 1);
	ck_assert_uint_eq(client.count, 0);
	/* Its commit failed: it is held, the client waits; the early one is not told twice. */
	publisher_hold_after(pub, 0);
	publisher_turn();
	ck_assert_uint_eq(early.count, 1);
	ck_assert_uint_eq(client.count, 0);
	/* A held message reaches nobody early either. */
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "a"), 0);
	publisher_deliver_early(pub);
	ck_assert_uint_eq(early.count, 1);
	/* Stored at last: each hears each message once, in order. */
	publisher_release(pub);
	publisher_turn();
	ck_assert_uint_eq(early.count, 2);
	ck_assert_uint_eq(client.count, 2);
	ck_assert_uint_eq(client.msgs[0]->seq, 1);
	ck_assert_uint_eq(client.msgs[1]->seq, 2);
	ck_assert_uint_eq(early.msgs[1]->seq, 2);
	tu_collector_clear(&early);
	tu_collector_clear(&client);
}
END_TEST

/* Gated on the store: the others hear a message once its commit is done, in order. */
START_TEST(test_publisher_gate_on_store)
{
	struct tu_collector early = {0}, client = {0};

	publisher_gate_on_store(pub, 0);
	ck_assert_int_eq(publisher_subscribe_early(pub, tu_collect_cb, &early, "state", NULL), 0);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &client, "client", NULL), 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "a"), 0);
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "a"), 0);
	publisher_turn();
	/* The early one needs no commit; the client waits for it. */
	ck_assert_uint_eq(early.count, 2);
	ck_assert_uint_eq(client.count, 0);
	publisher_stored(pub, 1);
	publisher_turn();
	ck_assert_uint_eq(client.count, 1);
	ck_assert_uint_eq(client.msgs[0]->seq, 1);
	publisher_stored(pub, 2);
	publisher_turn();
	ck_assert_uint_eq(client.count, 2);
	ck_assert_uint_eq(early.count, 2);
	tu_collector_clear(&early);
	tu_collector_clear(&client);
}
END_TEST

struct publisher_unsub {
	uint64_t target;
	int calls;
	int result;
};

static void publisher_unsub_cb(struct message *msg, void *userdata)
{
	struct publisher_unsub *u = userdata;

	u->calls++;
	if (u->target)
		u->result = publisher_unsubscribe(pub, u->target);
	u->target = 0;
}

START_TEST(test_publisher_unsubscribe_self_in_callback)
{
	struct publisher_unsub u = {0};
	uint64_t id;

	ck_assert_int_eq(publisher_subscribe(pub, publisher_unsub_cb, &u, "self", &id), 0);
	u.target = id;
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "a");
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "b");
	publisher_turn();
	ck_assert_int_eq(u.result, 0);
	/* Gone at once: the second message of the same turn does not reach it. */
	ck_assert_int_eq(u.calls, 1);
	ck_assert_int_eq(publisher_unsubscribe(pub, id), -ENOENT);
}
END_TEST

START_TEST(test_publisher_unsubscribe_other_in_callback)
{
	struct publisher_unsub u = {0};
	struct tu_collector c = {0};
	uint64_t other;

	ck_assert_int_eq(publisher_subscribe(pub, publisher_unsub_cb, &u, "first", NULL), 0);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &c, "second", &other), 0);
	u.target = other;
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "a");
	publisher_turn();
	ck_assert_int_eq(u.result, 0);
	ck_assert_uint_eq(c.count, 0);
	tu_collector_clear(&c);
}
END_TEST

START_TEST(test_publisher_unsubscribe_unknown)
{
	ck_assert_int_eq(publisher_unsubscribe(pub, 12345), -ENOENT);
}
END_TEST

static bool publisher_is_success_of_b(const struct message *msg, void *userdata)
{
	return msg->type == MESSAGE_REQUEST_SUCCESS && strcmp(msg->request_id, "b") == 0;
}

START_TEST(test_publisher_listen_once)
{
	struct tu_collector c = {0};

	ck_assert_int_eq(publisher_listen(pub, publisher_is_success_of_b, tu_collect_cb, &c, NULL),
			 0);
	publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "a");
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "b");
	publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "b");
	publisher_test_publish(MESSAGE_REQUEST_SUCCESS, "b");
	publisher_turn();
	ck_assert_uint_eq(c.count, 1);
	ck_assert_uint_eq(c.msgs[0]->seq, 3);
	tu_collector_clear(&c);
}
END_TEST

static int publisher_refuse_store(struct message *msg, void *userdata)
{
	int *refuse = userdata;

	return *refuse ? -ENOSPC : 0;
}

START_TEST(test_publisher_store_refusal)
{
	struct tu_collector c = {0};
	struct message *msg = publisher_test_message(MESSAGE_REQUEST_CREATION, "a");
	int refuse = 1;

	publisher_set_store(pub, publisher_refuse_store, &refuse);
	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &c, "c", NULL), 0);
	ck_assert_int_eq(publisher_publish(pub, msg), -ENOSPC);
	ck_assert_uint_eq(msg->seq, 0);
	ck_assert_int_eq(msg->refcount, 1);
	message_unref(msg);
	/* The refused seq is not used up: no gap. */
	refuse = 0;
	ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_CREATION, "b"), 0);
	publisher_turn();
	ck_assert_uint_eq(c.count, 1);
	ck_assert_uint_eq(c.msgs[0]->seq, 1);
	ck_assert_str_eq(c.msgs[0]->request_id, "b");
	tu_collector_clear(&c);
}
END_TEST

static void publisher_republish_cb(struct message *msg, void *userdata)
{
	struct tu_collector *c = userdata;

	tu_collect_cb(msg, c);
	if (msg->type == MESSAGE_REQUEST_CREATION)
		ck_assert_int_eq(publisher_test_publish(MESSAGE_REQUEST_SUCCESS, msg->request_id),
				 0);
}

START_TEST(test_publisher_publish_from_callback)
{
	struct tu_collector c = {0};

	ck_assert_int_eq(publisher_subscribe(pub, publisher_republish_cb, &c, "c", NULL), 0);
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "a");
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "b");
	publisher_turn();
	/* Published during delivery: delivered after everything queued before it. */
	ck_assert_uint_eq(c.count, 4);
	ck_assert_int_eq(c.msgs[1]->type, MESSAGE_REQUEST_CREATION);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(c.msgs[i]->seq, i + 1);
	ck_assert_int_eq(c.msgs[2]->type, MESSAGE_REQUEST_SUCCESS);
	ck_assert_str_eq(c.msgs[2]->request_id, "a");
	tu_collector_clear(&c);
}
END_TEST

START_TEST(test_publisher_shutdown)
{
	struct tu_collector c = {0};
	struct message *msg;

	ck_assert_int_eq(publisher_subscribe(pub, tu_collect_cb, &c, "c", NULL), 0);
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "a");
	publisher_shutdown(pub);
	/* Delivered right away, without a loop turn. */
	ck_assert_uint_eq(c.count, 1);
	msg = publisher_test_message(MESSAGE_REQUEST_CREATION, "b");
	ck_assert_int_eq(publisher_publish(pub, msg), -ESHUTDOWN);
	ck_assert_uint_eq(msg->seq, 0);
	message_unref(msg);
	ck_assert_uint_eq(publisher_last_seq(pub), 1);
	publisher_turn();
	ck_assert_uint_eq(c.count, 1);
	tu_collector_clear(&c);
}
END_TEST

START_TEST(test_publisher_shutdown_delivers_cascade)
{
	struct tu_collector c = {0};

	ck_assert_int_eq(publisher_subscribe(pub, publisher_republish_cb, &c, "c", NULL), 0);
	publisher_test_publish(MESSAGE_REQUEST_CREATION, "a");
	publisher_shutdown(pub);
	/* What a subscriber publishes while the queue drains is delivered too. */
	ck_assert_uint_eq(c.count, 2);
	ck_assert_int_eq(c.msgs[1]->type, MESSAGE_REQUEST_SUCCESS);
	tu_collector_clear(&c);
}
END_TEST

START_TEST(test_message_json_success)
{
	struct message_ids ids = {.request_id = "r",
				  .parent_node_id = NULL,
				  .child_node_id = "n",
				  .run_id = "run",
				  .mode = "async"};
	struct message_output out = {.exit_code = 0,
				     .stdout_data = "hi\n",
				     .stdout_len = 3,
				     .stderr_data = NULL,
				     .stderr_len = 0,
				     .stdout_truncated = true};
	struct message *msg = message_new(MESSAGE_REQUEST_SUCCESS, &ids, &out);
	json_object *o, *res, *v;

	ck_assert(message_closes_job(msg));
	msg->seq = 7;
	msg->time = 1700000000.25;
	o = tu_message_json(msg);
	ck_assert(json_object_object_get_ex(o, "seq", &v));
	ck_assert_int_eq(json_object_get_int64(v), 7);
	ck_assert_str_eq(json_get_string(o, "type"), "request_success");
	ck_assert_str_eq(json_get_string(o, "request_id"), "r");
	ck_assert_str_eq(json_get_string(o, "run_id"), "run");
	ck_assert_str_eq(json_get_string(o, "mode"), "async");
	ck_assert(json_object_object_get_ex(o, "parent_node_id", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(o, "error", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(o, "result", &res));
	ck_assert_str_eq(json_get_string(res, "stdout"), "hi\n");
	ck_assert_str_eq(json_get_string(res, "stderr"), "");
	ck_assert(json_object_object_get_ex(res, "exit_code", &v));
	ck_assert_int_eq(json_object_get_int(v), 0);
	ck_assert(json_object_get_boolean(json_object_object_get(res, "stdout_truncated")));
	ck_assert(!json_object_get_boolean(json_object_object_get(res, "stderr_truncated")));
	json_object_put(o);
	message_unref(msg);
}
END_TEST

START_TEST(test_message_json_failure)
{
	struct message_ids ids = {.request_id = "r", .child_node_id = "n"};
	struct message *msg = message_new(MESSAGE_REQUEST_FAILURE, &ids, NULL);
	json_object *o, *err, *v;

	ck_assert_int_eq(message_set_error(msg, ERROR_SIGNAL, "killed by signal 9", -1, 9), 0);
	o = tu_message_json(msg);
	ck_assert(json_object_object_get_ex(o, "result", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(o, "error", &err));
	ck_assert_str_eq(json_get_string(err, "kind"), "signal");
	ck_assert_str_eq(json_get_string(err, "message"), "killed by signal 9");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(err, "signal")), 9);
	ck_assert(!json_object_object_get_ex(err, "exit_code", NULL));
	json_object_put(o);
	/* Replacing the error replaces every part of it. */
	ck_assert_int_eq(message_set_error(msg, ERROR_EXIT, "exited with status 3", 3, 0), 0);
	o = tu_message_json(msg);
	err = json_object_object_get(o, "error");
	ck_assert_str_eq(json_get_string(err, "kind"), "exit");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(err, "exit_code")), 3);
	ck_assert(!json_object_object_get_ex(err, "signal", NULL));
	json_object_put(o);
	message_unref(msg);
}
END_TEST

START_TEST(test_message_wire)
{
	struct message_ids ids = {.request_id = "r", .child_node_id = "n"};
	struct message_output out = {.exit_code = 1,
				     .stdout_data = "a\nb\xff\xfe",
				     .stdout_len = 5,
				     .stderr_data = "",
				     .stderr_len = 0};
	struct message *msg = message_new(MESSAGE_REQUEST_FAILURE, &ids, &out);
	const char *text, *again;
	json_object *parsed;
	size_t len;

	ck_assert(!message_closes_job(&(struct message){.type = MESSAGE_REQUEST_CREATION_FAILURE}));
	text = message_wire(msg, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), len);
	ck_assert_ptr_null(memchr(text, '\n', len));
	again = message_wire(msg, NULL);
	ck_assert_ptr_eq(text, again);
	parsed = json_tokener_parse(text);
	ck_assert_ptr_nonnull(parsed);
	/* Invalid UTF-8 becomes U+FFFD: the text stays valid JSON. */
	ck_assert_str_eq(json_get_string(json_object_object_get(parsed, "result"), "stdout"),
			 "a\nb\xef\xbf\xbd\xef\xbf\xbd");
	json_object_put(parsed);
	message_unref(msg);
}
END_TEST

START_TEST(test_message_type_names)
{
	enum message_type t;

	for (int i = MESSAGE_REQUEST_CREATION; i <= MESSAGE_REQUEST_CREATION_FAILURE; i++) {
		ck_assert_int_eq(message_type_from_name(message_type_name(i), &t), 0);
		ck_assert_int_eq(t, i);
	}
	ck_assert_str_eq(message_type_name(MESSAGE_REQUEST_CREATION_FAILURE),
			 "request_creation_failure");
	ck_assert_int_eq(message_type_from_name("request", &t), -EINVAL);
}
END_TEST

static Suite *publisher_suite(void)
{
	Suite *s = suite_create("publisher");
	TCase *tc = tcase_create("publisher");
	TCase *tm = tcase_create("message");

	tcase_add_checked_fixture(tc, publisher_setup, publisher_teardown);
	tcase_add_test(tc, test_publisher_numbers_and_defers);
	tcase_add_test(tc, test_publisher_first_seq);
	tcase_add_test(tc, test_publisher_every_subscriber_in_order);
	tcase_add_test(tc, test_publisher_late_subscriber);
	tcase_add_test(tc, test_publisher_undelivered_subscriber);
	tcase_add_test(tc, test_publisher_early_subscribers);
	tcase_add_test(tc, test_publisher_gate_on_store);
	tcase_add_test(tc, test_publisher_unsubscribe_self_in_callback);
	tcase_add_test(tc, test_publisher_unsubscribe_other_in_callback);
	tcase_add_test(tc, test_publisher_unsubscribe_unknown);
	tcase_add_test(tc, test_publisher_listen_once);
	tcase_add_test(tc, test_publisher_store_refusal);
	tcase_add_test(tc, test_publisher_publish_from_callback);
	tcase_add_test(tc, test_publisher_shutdown);
	tcase_add_test(tc, test_publisher_shutdown_delivers_cascade);
	suite_add_tcase(s, tc);
	tcase_add_test(tm, test_message_json_success);
	tcase_add_test(tm, test_message_json_failure);
	tcase_add_test(tm, test_message_wire);
	tcase_add_test(tm, test_message_type_names);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	return tu_run_suite(publisher_suite());
}
