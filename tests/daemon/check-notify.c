/*
 * Notifications on their way out: many subscribers each on a connection of
 * its own getting every message in order (messages written to the socket
 * at once, coalesced or not), large messages whose text the connections
 * share by reference reaching a slow reader whole, and subscribers that
 * stop reading or hang up while references to messages are still queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>

#include "harness.h"

#define NOTIFY_CONFIG                                                                              \
	HARNESS_CONFIG_DAEMON                                                                      \
	"subscriber_buffer_bytes = %s\n"                                                           \
	"notify_coalesce_ms = %s\n"                                                                \
	"[mode:async]\n"                                                                           \
	"max_concurrency = 4\n"

/* 100 KB of output: the message carries its last 64 KiB. */
#define NOTIFY_BIG "[\"sh\",\"-c\",\"head -c 100000 /dev/zero | tr '\\\\0' x\"]"

static struct harness_daemon daemon_;

static void notify_start(const char *buffer_bytes, const char *coalesce_ms)
{
	char config[512];

	snprintf(config, sizeof(config), NOTIFY_CONFIG, buffer_bytes, coalesce_ms);
	harness_daemon_new(&daemon_, config);
}

/* Subscribes c to request_success; the subscription id, and the seq in *ret_seq. */
static long long notify_subscribe(struct harness_client *c, long long *ret_seq)
{
	json_object *r =
		harness_ok(c, "subscribe", harness_json("{\"types\":[\"request_success\"]}"));
	long long id = harness_int(r, "subscription");

	*ret_seq = harness_int(r, "seq");
	json_object_put(r);
	return id;
}

/* Submits count tasks running argv_json in one go (all sent before any answer is read). */
static void notify_submit_many(struct harness_client *c, const char *prefix, int count,
			       const char *argv_json)
{
	long long *ids = calloc((size_t)count, sizeof(*ids));

	ck_assert_ptr_nonnull(ids);
	for (int i = 0; i < count; i++)
		ids[i] = harness_call_async(
			c, "submit",
			harness_json("{\"request_id\":\"%s%d\",\"node\":{\"argv\":%s}}", prefix, i,
				     argv_json));
	for (int i = 0; i < count; i++) {
		json_object *r = harness_response(c, ids[i], HARNESS_WAIT_MS);

		ck_assert_msg(json_object_object_get_ex(r, "result", NULL), "%s",
			      json_object_to_json_string(r));
		json_object_put(r);
	}
	free(ids);
}

/*
 * Reads count request_success notifications of subscription id from c, in
 * seq order, each of a different prefix task; with stdout_len, checks that
 * each carries that much output. Returns the last seq.
 */
static long long notify_expect(struct harness_client *c, long long id, long long after,
			       const char *prefix, int count, size_t stdout_len, int pause_ms)
{
	bool *seen = calloc((size_t)count, sizeof(*seen));
	long long last = after;

	ck_assert_ptr_nonnull(seen);
	for (int n = 0; n < count; n++) {
		json_object *note = harness_read_json(c, HARNESS_WAIT_MS);
		const char *rid;
		int i;

		ck_assert_msg(strcmp(harness_str(note, "method"), "message") == 0, "%.300s",
			      json_object_to_json_string(note));
		ck_assert_int_eq(harness_int(note, "params.subscription"), id);
		ck_assert_int_gt(harness_int(note, "params.message.seq"), last);
		last = harness_int(note, "params.message.seq");
		rid = harness_str(note, "params.message.request_id");
		ck_assert(strncmp(rid, prefix, strlen(prefix)) == 0);
		i = atoi(rid + strlen(prefix));
		ck_assert(i >= 0 && i < count && !seen[i]);
		seen[i] = true;
		if (stdout_len)
			ck_assert_uint_eq(strlen(harness_str(note, "params.message.result.stdout")),
					  stdout_len);
		json_object_put(note);
		if (pause_ms)
			harness_sleep_ms(pause_ms); /* a slow reader, not a wait for something */
	}
	free(seen);
	return last;
}

/* 20 subscribers, 60 tasks at once: each subscriber gets every end, in seq order. */
static void notify_many_subscribers(const char *coalesce_ms)
{
	enum { SUBS = 20, TASKS = 60 };
	struct harness_client *client, *subs[SUBS];
	long long ids[SUBS], seqs[SUBS], last = -1;

	notify_start("1048576", coalesce_ms);
	client = harness_client_new(daemon_.sock);
	for (int s = 0; s < SUBS; s++) {
		subs[s] = harness_client_new(daemon_.sock);
		ids[s] = notify_subscribe(subs[s], &seqs[s]);
	}
	notify_submit_many(client, "m", TASKS, "[\"true\"]");
	for (int s = 0; s < SUBS; s++) {
		long long got = notify_expect(subs[s], ids[s], seqs[s], "m", TASKS, 0, 0);

		/* Everybody saw the same last message. */
		ck_assert(last < 0 || got == last);
		last = got;
		ck_assert(harness_silent(subs[s], 100));
		harness_client_free(subs[s]);
	}
	harness_client_free(client);
	harness_daemon_cleanup(&daemon_);
}

START_TEST(test_many_subscribers)
{
	notify_many_subscribers("0");
}
END_TEST

START_TEST(test_many_subscribers_coalesced)
{
	notify_many_subscribers("20");
}
END_TEST

/*
 * Large messages (kept by reference) to a reader with a small socket
 * buffer that reads slowly: partial writes, then the rest as it drains,
 * every message whole and in order; a fast reader beside it gets the same.
 */
START_TEST(test_big_messages_slow_reader)
{
	struct harness_client *client, *slow, *fast;
	long long slow_id, fast_id, slow_seq, fast_seq;
	int rcvbuf = 4096;

	notify_start("8388608", "5");
	client = harness_client_new(daemon_.sock);
	slow = harness_client_new(daemon_.sock);
	fast = harness_client_new(daemon_.sock);
	ck_assert_int_eq(setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	slow_id = notify_subscribe(slow, &slow_seq);
	fast_id = notify_subscribe(fast, &fast_seq);
	notify_submit_many(client, "b", 30, NOTIFY_BIG);
	notify_expect(fast, fast_id, fast_seq, "b", 30, 65536, 0);
	notify_expect(slow, slow_id, slow_seq, "b", 30, 65536, 20);
	harness_client_free(client);
	harness_client_free(slow);
	harness_client_free(fast);
	harness_daemon_cleanup(&daemon_);
}
END_TEST

/*
 * A subscriber that does not read still ends lagged with messages queued
 * by reference; one that hangs up with them queued frees them. The
 * messages outlive the publisher's own reference in those buffers (ASan
 * would see a use after free), and the daemon goes on.
 */
START_TEST(test_stuck_and_gone_subscribers)
{
	struct harness_client *client, *stuck, *gone, *reader;
	long long stuck_id, gone_id, reader_id, stuck_seq, gone_seq, reader_seq, reader_last;
	json_object *n;
	int rcvbuf = 4096;

	notify_start("262144", "5");
	client = harness_client_new(daemon_.sock);
	stuck = harness_client_new(daemon_.sock);
	gone = harness_client_new(daemon_.sock);
	reader = harness_client_new(daemon_.sock);
	ck_assert_int_eq(setsockopt(stuck->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	ck_assert_int_eq(setsockopt(gone->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	stuck_id = notify_subscribe(stuck, &stuck_seq);
	gone_id = notify_subscribe(gone, &gone_seq);
	reader_id = notify_subscribe(reader, &reader_seq);
	(void)gone_id;
	notify_submit_many(client, "s", 20, NOTIFY_BIG);
	reader_last = notify_expect(reader, reader_id, reader_seq, "s", 20, 65536, 0);
	/* gone hangs up with most of 1.3 MB unread. */
	harness_client_free(gone);
	/* More than 256 KiB went by stuck: its subscription ended, lagged, after what it got. */
	for (;;) {
		n = harness_read_json(stuck, HARNESS_WAIT_MS);
		if (strcmp(harness_str(n, "method"), "subscription_ended") == 0)
			break;
		ck_assert_int_eq(harness_int(n, "params.subscription"), stuck_id);
		ck_assert_int_gt(harness_int(n, "params.message.seq"), stuck_seq);
		stuck_seq = harness_int(n, "params.message.seq");
		json_object_put(n);
	}
	ck_assert_str_eq(harness_str(n, "params.reason"), "lagged");
	ck_assert_int_gt(harness_int(n, "params.resume_seq"), stuck_seq);
	json_object_put(n);
	/* The daemon goes on: more messages, and the reader gets them. */
	notify_submit_many(client, "t", 5, NOTIFY_BIG);
	notify_expect(reader, reader_id, reader_last, "t", 5, 65536, 0);
	harness_client_free(stuck);
	harness_client_free(reader);
	harness_client_free(client);
	harness_daemon_cleanup(&daemon_);
}
END_TEST

/* The window has a bound: past it the daemon refuses the config and says why. */
START_TEST(test_coalesce_limit)
{
	struct harness_daemon bad;

	harness_expect_bad_config(&bad, "[daemon]\nnotify_coalesce_ms = 10001\n",
				  "notify_coalesce_ms must be a whole number from 0 to 10000");
	harness_expect_bad_config(&bad, "[daemon]\nnotify_coalesce_ms = -1\n",
				  "notify_coalesce_ms must be");
}
END_TEST

static Suite *notify_suite(void)
{
	Suite *s = suite_create("daemon-notify");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, test_many_subscribers);
	tcase_add_test(tc, test_many_subscribers_coalesced);
	tcase_add_test(tc, test_big_messages_slow_reader);
	tcase_add_test(tc, test_stuck_and_gone_subscribers);
	tcase_add_test(tc, test_coalesce_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(notify_suite());
}
