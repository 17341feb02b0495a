/*
 * subscribe over the real socket: live messages in seq order, filters,
 * since_seq replay while messages keep coming, and subscribers that stop
 * reading.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define SUB_CONFIG                                                                                 \
	HARNESS_CONFIG_DAEMON                                                                      \
	"subscriber_buffer_bytes = 65536\n"                                                        \
	HARNESS_CONFIG_MODE("async", "4")
/* clang-format on */

static struct harness_fixture fx;

static void sub_setup(void)
{
	harness_daemon_init(&fx.daemon, SUB_CONFIG);
	fx.daemon.measure_memory = true;
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
}

static void sub_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* Subscribes c with params (JSON text); returns the subscription id, and the seq in *ret_seq. */
static long long sub_subscribe(struct harness_client *c, const char *params, long long *ret_seq)
{
	json_object *r = harness_ok(c, "subscribe", harness_json("%s", params));
	long long id = harness_int(r, "subscription");

	if (ret_seq)
		*ret_seq = harness_int(r, "seq");
	json_object_put(r);
	return id;
}

/* The next notification on c: a message (returned) or a failure of the test. */
static json_object *sub_next(struct harness_client *c, long long sub)
{
	json_object *n = harness_read_json(c, HARNESS_WAIT_MS), *msg;

	ck_assert_msg(!json_object_object_get_ex(n, "id", NULL), "not a notification: %s",
		      json_object_to_json_string(n));
	ck_assert_str_eq(harness_str(n, "jsonrpc"), "2.0");
	ck_assert_msg(strcmp(harness_str(n, "method"), "message") == 0, "%s",
		      json_object_to_json_string(n));
	ck_assert_int_eq(harness_int(n, "params.subscription"), sub);
	msg = json_object_get(harness_get(n, "params.message"));
	json_object_put(n);
	return msg;
}

/* Submits request_id running argv-json (without waiting). */
static void sub_submit(struct harness_client *c, const char *request_id, const char *extra,
		       const char *argv_json)
{
	json_object *r = harness_ok(c, "submit",
				    harness_json("{\"request_id\":\"%s\"%s,\"node\":{\"argv\":%s}}",
						 request_id, extra ? extra : "", argv_json));

	json_object_put(r);
}

START_TEST(test_live_in_order)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	long long seq, id = sub_subscribe(sub, "{}", &seq);
	bool created[20] = {false}, closed[20] = {false};
	char rid[16];

	for (int i = 0; i < 20; i++) {
		snprintf(rid, sizeof(rid), "live%d", i);
		sub_submit(fx.client, rid, NULL, i % 3 ? "[\"true\"]" : "[\"false\"]");
	}
	/* Each job: its creation, then its end; seq with no gap from the subscribe's seq. */
	for (int n = 0; n < 40; n++) {
		json_object *m = sub_next(sub, id);
		const char *type = harness_str(m, "type");
		int i = atoi(harness_str(m, "request_id") + 4);

		ck_assert_int_eq(harness_int(m, "seq"), seq + 1 + n);
		ck_assert(i >= 0 && i < 20);
		if (strcmp(type, "request_creation") == 0) {
			ck_assert(!created[i]);
			created[i] = true;
			ck_assert(harness_is_null(m, "result"));
			ck_assert_str_eq(harness_str(m, "mode"), "async");
		} else {
			ck_assert_str_eq(type, i % 3 ? "request_success" : "request_failure");
			ck_assert_msg(created[i] && !closed[i], "live%d closed out of order", i);
			closed[i] = true;
			ck_assert_int_eq(harness_int(m, "result.exit_code"), i % 3 ? 0 : 1);
		}
		json_object_put(m);
	}
	ck_assert(harness_silent(sub, 200));
	harness_client_free(sub);
}
END_TEST

/* Reads exactly the messages of types (space-separated "type:request_id") from sub, then silence.
 */
static void sub_expect(struct harness_client *sub, long long id, const char *const *want,
		       size_t count)
{
	long long last = 0;

	for (size_t n = 0; n < count; n++) {
		json_object *m = sub_next(sub, id);
		char got[160];

		snprintf(got, sizeof(got), "%s:%s", harness_str(m, "type"),
			 harness_str(m, "request_id"));
		ck_assert_msg(strcmp(got, want[n]) == 0, "message %zu is %s, expected %s", n, got,
			      want[n]);
		ck_assert_int_gt(harness_int(m, "seq"), last);
		last = harness_int(m, "seq");
		json_object_put(m);
	}
	ck_assert_msg(harness_silent(sub, 300), "more than expected: %s",
		      json_object_to_json_string(json_object_array_get_idx(sub->backlog, 0)));
}

START_TEST(test_filters)
{
	struct harness_client *by_type = harness_client_new(fx.daemon.sock);
	struct harness_client *by_id = harness_client_new(fx.daemon.sock);
	struct harness_client *by_run = harness_client_new(fx.daemon.sock);
	struct harness_client *both = harness_client_new(fx.daemon.sock);
	long long t = sub_subscribe(by_type,
				    "{\"types\":[\"request_failure\","
				    "\"request_creation_failure\"]}",
				    NULL);
	long long i = sub_subscribe(by_id, "{\"request_id\":\"b\"}", NULL);
	long long r = sub_subscribe(by_run, "{\"run_id\":\"a\"}", NULL);
	long long b =
		sub_subscribe(both, "{\"run_id\":\"a\",\"types\":[\"request_success\"]}", NULL);
	json_object *o;

	/* A run a -> a1 -> a2, a job b on its own, and a refused submit. */
	o = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"a\",\"wait\":true,"
				    "\"node\":{\"id\":\"na\",\"argv\":[\"true\"]}}"));
	json_object_put(o);
	o = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"a1\",\"wait\":true,\"parent_node_id\":"
				    "\"na\",\"node\":{\"id\":\"na1\",\"argv\":[\"false\"]}}"));
	json_object_put(o);
	o = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"a2\",\"wait\":true,\"parent_node_id\":"
				    "\"na1\",\"node\":{\"argv\":[\"true\"]}}"));
	json_object_put(o);
	o = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"b\",\"wait\":true,"
				    "\"node\":{\"argv\":[\"false\"]}}"));
	json_object_put(o);
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"b\",\"node\":{\"argv\":["
						  "\"true\"]}}"),
				     NULL),
			 1002);

	{
		static const char *const w[] = {"request_failure:a1", "request_failure:b",
						"request_creation_failure:b"};
		sub_expect(by_type, t, w, 3);
	}
	{
		static const char *const w[] = {"request_creation:b", "request_failure:b",
						"request_creation_failure:b"};
		sub_expect(by_id, i, w, 3);
	}
	{
		static const char *const w[] = {"request_creation:a",  "request_success:a",
						"request_creation:a1", "request_failure:a1",
						"request_creation:a2", "request_success:a2"};
		sub_expect(by_run, r, w, 6);
	}
	{
		static const char *const w[] = {"request_success:a", "request_success:a2"};
		sub_expect(both, b, w, 2);
	}
	harness_client_free(by_type);
	harness_client_free(by_id);
	harness_client_free(by_run);
	harness_client_free(both);
}
END_TEST

START_TEST(test_two_subscriptions_one_connection)
{
	long long a = sub_subscribe(fx.client, "{\"types\":[\"request_creation\"]}", NULL);
	long long b = sub_subscribe(fx.client, "{}", NULL);
	int seen_a = 0, seen_b = 0;

	ck_assert_int_ne(a, b);
	sub_submit(fx.client, "two", ",\"wait\":true", "[\"true\"]");
	/* Three notifications in all: the creation twice, the success once. */
	for (int n = 0; n < 3; n++) {
		json_object *note = harness_notification(fx.client, "message", HARNESS_WAIT_MS);
		long long s;

		ck_assert_ptr_nonnull(note);
		s = harness_int(note, "params.subscription");
		if (s == a) {
			seen_a++;
			ck_assert_str_eq(harness_str(note, "params.message.type"),
					 "request_creation");
		} else {
			ck_assert_int_eq(s, b);
			seen_b++;
		}
		json_object_put(note);
	}
	ck_assert_int_eq(seen_a, 1);
	ck_assert_int_eq(seen_b, 2);
}
END_TEST

START_TEST(test_subscriptions_capped)
{
	struct harness_client *other = harness_connect(fx.daemon.sock);
	char *msg = NULL;

	/* One connection holds at most 256; the next is refused as busy, others are not. */
	for (int i = 0; i < 256; i++)
		json_object_put(harness_ok(fx.client, "subscribe", harness_json("{}")));
	ck_assert_int_eq(harness_err(fx.client, "subscribe", harness_json("{}"), &msg), 1005);
	ck_assert_ptr_nonnull(strstr(msg, "256 subscriptions"));
	free(msg);
	ck_assert_ptr_nonnull(other);
	json_object_put(harness_ok(other, "subscribe", harness_json("{}")));
	harness_client_free(other);
}
END_TEST

/*
 * Submits count jobs of argv_json in one batch, then waits for them all.
 * The answers carry jobs, not messages: the test's own calls must not make
 * the daemon allocate what the tests measure.
 */
static void sub_batch(struct harness_client *c, const char *prefix, int count,
		      const char *argv_json)
{
	json_object *batch = json_object_new_array(), *ids = json_object_new_array(), *p, *r;
	const char *text;
	char rid[64];

	for (int i = 0; i < count; i++) {
		snprintf(rid, sizeof(rid), "%s%d", prefix, i);
		json_object_array_add(ids, json_object_new_string(rid));
		json_object_array_add(
			batch,
			harness_json("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\","
				     "\"params\":{\"request_id\":\"%s\",\"node\":{\"argv\":%s}}}",
				     i, rid, argv_json));
	}
	text = json_object_to_json_string_ext(batch, JSON_C_TO_STRING_PLAIN);
	harness_send(c, text);
	harness_send(c, "\n");
	json_object_put(batch);
	r = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert(json_object_is_type(r, json_type_array));
	ck_assert_int_eq(json_object_array_length(r), count);
	json_object_put(r);
	p = json_object_new_object();
	json_object_object_add(p, "request_ids", ids);
	r = harness_call(c, "wait", p, HARNESS_WAIT_MS * 3);
	ck_assert_int_eq(json_object_array_length(harness_get(r, "result.jobs")), count);
	json_object_put(r);
}

START_TEST(test_since_seq_replay)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	long long id, seq, next;

	sub_batch(fx.client, "h", 30, "[\"true\"]");
	/* From the middle: the first message is the one after since_seq. */
	id = sub_subscribe(sub, "{\"since_seq\":25}", &seq);
	ck_assert_int_eq(seq, 60);
	for (next = 26; next <= 60; next++) {
		json_object *m = sub_next(sub, id);

		ck_assert_int_eq(harness_int(m, "seq"), next);
		json_object_put(m);
	}
	ck_assert(harness_silent(sub, 200));
	/* Then live, straight on. */
	sub_submit(fx.client, "after", ",\"wait\":true", "[\"true\"]");
	for (; next <= 62; next++) {
		json_object *m = sub_next(sub, id);

		ck_assert_int_eq(harness_int(m, "seq"), next);
		ck_assert_str_eq(harness_str(m, "request_id"), "after");
		json_object_put(m);
	}
	harness_client_free(sub);

	/* since_seq at or past the end: only live ones. */
	sub = harness_client_new(fx.daemon.sock);
	id = sub_subscribe(sub, "{\"since_seq\":1000}", &seq);
	ck_assert(harness_silent(sub, 200));
	sub_submit(fx.client, "later", ",\"wait\":true", "[\"true\"]");
	{
		json_object *m = sub_next(sub, id);

		ck_assert_int_eq(harness_int(m, "seq"), 63);
		json_object_put(m);
	}
	harness_client_free(sub);

	/* A replay honours the filters. */
	sub = harness_client_new(fx.daemon.sock);
	id = sub_subscribe(sub, "{\"since_seq\":0,\"request_id\":\"h7\"}", NULL);
	{
		static const char *const w[] = {"request_creation:h7", "request_success:h7"};
		sub_expect(sub, id, w, 2);
	}
	harness_client_free(sub);
}
END_TEST

START_TEST(test_since_seq_while_busy)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	long long id, expect = 1, final = -1;
	int submitted = 0, pending = 0;

	/* A history longer than the subscriber's buffer, so the replay must pause. */
	sub_batch(fx.client, "old", 150, "[\"sh\",\"-c\",\"echo some output to make it longer\"]");
	id = sub_subscribe(sub, "{\"since_seq\":0}", NULL);
	/* Read slowly while new jobs keep coming. */
	for (;;) {
		json_object *m;

		if (submitted < 60 && expect % 4 == 0) {
			char rid[16];

			snprintf(rid, sizeof(rid), "new%d", submitted++);
			harness_call_async(fx.client, "submit",
					   harness_json("{\"request_id\":\"%s\",\"node\":"
							"{\"argv\":[\"true\"]}}",
							rid));
			pending++;
		}
		if (submitted == 60 && final < 0) {
			json_object *r;
			long long s;

			/* Every new job closed: now the last seq is known. */
			while (pending > 0) {
				json_object_put(harness_response(
					fx.client, fx.client->next_id - pending, HARNESS_WAIT_MS));
				pending--;
			}
			r = harness_ok(fx.client, "wait",
				       harness_json("{\"request_ids\":[\"new59\",\"new0\"]}"));
			json_object_put(r);
			for (int i = 0; i < 60; i++) {
				char rid[16];

				snprintf(rid, sizeof(rid), "new%d", i);
				json_object_put(harness_wait_job(fx.client, rid));
			}
			{
				struct harness_client *probe = harness_client_new(fx.daemon.sock);

				sub_subscribe(probe, "{}", &s);
				harness_client_free(probe);
			}
			final = s;
			ck_assert_int_eq(final, 300 + 120);
		}
		if (final >= 0 && expect > final)
			break;
		m = sub_next(sub, id);
		/* No gap, no duplicate, whether replayed or live. */
		ck_assert_int_eq(harness_int(m, "seq"), expect);
		expect++;
		json_object_put(m);
		if (expect % 50 == 0)
			harness_sleep_ms(10);
	}
	ck_assert(harness_silent(sub, 300));
	harness_client_free(sub);
}
END_TEST

START_TEST(test_since_seq_pruned)
{
	struct harness_daemon d;
	struct harness_client *c;
	long long deadline;
	json_object *r;

	long long oldest, id;
	json_object *m;

	harness_daemon_new(&d, "[daemon]\nretention_max_jobs = 5\n");
	c = harness_client_new(d.sock);
	sub_batch(c, "r", 20, "[\"true\"]");
	/* Once retention has run, a replay from before what it kept is refused. */
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	for (;;) {
		r = harness_call(c, "subscribe", harness_json("{\"since_seq\":0}"),
				 HARNESS_WAIT_MS);
		if (json_object_object_get_ex(r, "error", NULL))
			break;
		json_object_put(r);
		ck_assert_msg(harness_now_ms() < deadline, "retention never pruned");
		harness_client_free(c);
		c = harness_client_new(d.sock);
		harness_sleep_ms(100);
	}
	ck_assert_int_eq(harness_int(r, "error.code"), 1001);
	ck_assert_int_gt(harness_int(r, "error.data.oldest_seq"), 1);
	oldest = harness_int(r, "error.data.oldest_seq");
	json_object_put(r);
	/* From just before the oldest kept message: fine, and it starts there. */
	r = harness_ok(c, "subscribe", harness_json("{\"since_seq\":%lld}", oldest - 1));
	id = harness_int(r, "subscription");
	json_object_put(r);
	m = sub_next(c, id);
	ck_assert_int_eq(harness_int(m, "seq"), oldest);
	json_object_put(m);
	/* One earlier: refused. */
	ck_assert_int_eq(
		harness_err(c, "subscribe", harness_json("{\"since_seq\":%lld}", oldest - 2), NULL),
		1001);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

static bool sub_ping_answers(struct harness_client *c)
{
	json_object *r = harness_call(c, "ping", NULL, HARNESS_WAIT_MS);
	bool ok = json_object_object_get_ex(r, "result", NULL);

	json_object_put(r);
	return ok;
}

START_TEST(test_lagging_subscriber)
{
	static const char big[] = "[\"sh\",\"-c\",\"head -c 50000 /dev/zero | tr '\\\\0' x\"]";
	struct harness_client *stuck = harness_client_new(fx.daemon.sock);
	struct harness_client *pinger = harness_client_new(fx.daemon.sock);
	long long id, seq, last = 0, resume, max_ping_ms = 0;
	long rss_before, rss_after;
	json_object *n;
	int got = 0;

	/* Warm up: the history and allocator reach their working size. */
	sub_batch(fx.client, "warm", 40, big);
	rss_before = harness_rss_kib(fx.daemon.pid);
	ck_assert_int_gt(rss_before, 0);

	id = sub_subscribe(stuck, "{}", &seq);
	/* stuck never reads again while 30 MB of messages go by. */
	for (int round = 0; round < 12; round++) {
		char prefix[16];
		long long t0 = harness_now_ms(), dt;

		snprintf(prefix, sizeof(prefix), "big%d-", round);
		sub_batch(fx.client, prefix, 50, big);
		/* Others are not held up by it. */
		ck_assert(sub_ping_answers(pinger));
		dt = harness_now_ms() - t0;
		(void)dt;
		t0 = harness_now_ms();
		ck_assert(sub_ping_answers(pinger));
		dt = harness_now_ms() - t0;
		if (dt > max_ping_ms)
			max_ping_ms = dt;
	}
	rss_after = harness_rss_kib(fx.daemon.pid);
	fprintf(stderr, "RSS %ld KiB -> %ld KiB; slowest ping %lld ms\n", rss_before, rss_after,
		max_ping_ms);
	/* 30 MB went past a 64 KiB buffer: the daemon kept almost none of it. */
	ck_assert_msg(rss_after - rss_before < 16 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);

	/* What it gets: messages in order, then the end with where to resume. */
	for (;;) {
		n = harness_read_json(stuck, HARNESS_WAIT_MS);
		if (strcmp(harness_str(n, "method"), "subscription_ended") == 0)
			break;
		ck_assert_str_eq(harness_str(n, "method"), "message");
		ck_assert_int_eq(harness_int(n, "params.message.seq"), seq + 1 + got);
		last = harness_int(n, "params.message.seq");
		got++;
		json_object_put(n);
	}
	ck_assert(!json_object_object_get_ex(n, "id", NULL));
	ck_assert_int_eq(harness_int(n, "params.subscription"), id);
	ck_assert_str_eq(harness_str(n, "params.reason"), "lagged");
	resume = harness_int(n, "params.resume_seq");
	ck_assert_int_eq(resume, got ? last + 1 : seq + 1);
	json_object_put(n);
	/* Ended: nothing more for it, and unsubscribing it finds nothing. */
	ck_assert(harness_silent(stuck, 300));
	ck_assert_int_eq(harness_err(stuck, "unsubscribe",
				     harness_json("{\"subscription\":%lld}", id), NULL),
			 1001);

	/* Resubscribing from resume_seq - 1 picks up exactly there. */
	n = harness_ok(stuck, "subscribe", harness_json("{\"since_seq\":%lld}", resume - 1));
	id = harness_int(n, "subscription");
	seq = harness_int(n, "seq");
	json_object_put(n);
	ck_assert_int_ge(seq, resume);
	for (long long want = resume; want <= seq && want < resume + 20; want++) {
		json_object *m = sub_next(stuck, id);

		ck_assert_int_eq(harness_int(m, "seq"), want);
		json_object_put(m);
	}
	harness_client_free(stuck);
	harness_client_free(pinger);
}
END_TEST

START_TEST(test_reader_with_big_messages)
{
	static const char big[] = "[\"sh\",\"-c\",\"head -c 200000 /dev/zero | tr '\\\\0' x\"]";
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	long long id, seq;

	/*
	 * A client that keeps reading never lags, even for a message over its
	 * buffer size (64 KiB of output, the most a message carries, plus the rest).
	 */
	id = sub_subscribe(sub, "{}", &seq);
	sub_submit(fx.client, "huge", NULL, big);
	for (int n = 0; n < 2; n++) {
		json_object *note = harness_read_json(sub, HARNESS_WAIT_MS);

		ck_assert_msg(strcmp(harness_str(note, "method"), "message") == 0, "%.300s",
			      json_object_to_json_string(note));
		ck_assert_int_eq(harness_int(note, "params.subscription"), id);
		ck_assert_int_eq(harness_int(note, "params.message.seq"), seq + 1 + n);
		if (n == 1)
			ck_assert_uint_eq(strlen(harness_str(note, "params.message.result.stdout")),
					  65536);
		json_object_put(note);
	}
	harness_client_free(sub);
}
END_TEST

START_TEST(test_replay_to_stuck_reader)
{
	static const char big[] = "[\"sh\",\"-c\",\"head -c 200000 /dev/zero | tr '\\\\0' x\"]";
	struct harness_client *stuck = harness_client_new(fx.daemon.sock);
	long rss_before, rss_after;
	json_object *r;
	long long id;

	/* 20 MB of history, replayed to a client that does not read. */
	sub_batch(fx.client, "r", 100, big);
	rss_before = harness_rss_kib(fx.daemon.pid);
	id = sub_subscribe(stuck, "{\"since_seq\":0}", NULL);
	r = harness_ok(fx.client, "ping", NULL);
	json_object_put(r);
	rss_after = harness_rss_kib(fx.daemon.pid);
	fprintf(stderr, "replay: RSS %ld KiB -> %ld KiB\n", rss_before, rss_after);
	ck_assert_msg(rss_after - rss_before < 10 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);
	/* The replay goes on as the client reads: all of it, in order. */
	for (long long want = 1; want <= 200; want++) {
		json_object *m = sub_next(stuck, id);

		ck_assert_int_eq(harness_int(m, "seq"), want);
		json_object_put(m);
	}
	ck_assert(harness_silent(stuck, 200));
	harness_client_free(stuck);
}
END_TEST

static Suite *sub_suite(void)
{
	Suite *s = suite_create("daemon-subscribe");
	TCase *tc = tcase_create("subscribe");

	tcase_add_checked_fixture(tc, sub_setup, sub_teardown);
	tcase_add_test(tc, test_live_in_order);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_two_subscriptions_one_connection);
	tcase_add_test(tc, test_subscriptions_capped);
	tcase_add_test(tc, test_since_seq_replay);
	tcase_add_test(tc, test_since_seq_while_busy);
	tcase_add_test(tc, test_lagging_subscriber);
	tcase_add_test(tc, test_reader_with_big_messages);
	tcase_add_test(tc, test_replay_to_stuck_reader);
	suite_add_tcase(s, tc);

	tc = tcase_create("retention");
	tcase_add_test(tc, test_since_seq_pruned);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(sub_suite());
}
