/*
 * The request path of a connection (issue 13, speed): requests read by the
 * connection itself in pieces of at most 16 KiB, answers written at the
 * end of the read that brought their requests, and answers written around
 * their result's text (the same bytes an envelope object would give).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>

#include "harness.h"

#define RPCPATH_CONFIG HARNESS_CONFIG_DAEMON

#define RPCPATH_BURST 1000

static struct harness_daemon daemon_;

static void rpcpath_setup(void)
{
	harness_daemon_new(&daemon_, RPCPATH_CONFIG);
}

static void rpcpath_teardown(void)
{
	harness_daemon_cleanup(&daemon_);
}

static bool rpcpath_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool rpcpath_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Asserts the next raw line is ping's answer and ends with the id text given. */
static void rpcpath_expect_ping(struct harness_client *c, const char *id_text)
{
	char want[256];
	char *line = harness_read_line(c, HARNESS_WAIT_MS, NULL);

	ck_assert_ptr_nonnull(line);
	snprintf(want, sizeof(want), "},\"id\":%s}", id_text);
	ck_assert_msg(rpcpath_has_prefix(line, "{\"jsonrpc\":\"2.0\",\"result\":{\"version\":\""),
		      "not a ping answer: %s", line);
	ck_assert_msg(rpcpath_has_suffix(line, want), "%s does not end with %s", line, want);
	free(line);
}

/* Many requests in one write, more than one read takes: every one answered, in order. */
START_TEST(test_burst_past_one_read)
{
	struct harness_client *c = harness_connect(daemon_.sock);
	size_t cap = RPCPATH_BURST * 64, len = 0;
	char *burst = malloc(cap), id[32];

	ck_assert_ptr_nonnull(burst);
	for (int i = 0; i < RPCPATH_BURST; i++)
		len += (size_t)snprintf(burst + len, cap - len,
					"{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":%d}\n", i);
	ck_assert_uint_gt(len, 16384 * 2);
	ck_assert_int_eq(harness_send_raw(c, burst, len), 0);
	for (int i = 0; i < RPCPATH_BURST; i++) {
		snprintf(id, sizeof(id), "%d", i);
		rpcpath_expect_ping(c, id);
	}
	free(burst);
	harness_client_free(c);
}
END_TEST

/* The answer's bytes: the id exactly as the request had it, whatever its kind. */
START_TEST(test_answer_bytes)
{
	struct harness_client *c = harness_connect(daemon_.sock);

	harness_send(c,
		     "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":\"a\\\"b\\\\/\xc3\xa9\"}\n");
	rpcpath_expect_ping(c, "\"a\\\"b\\\\/\xc3\xa9\"");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":18446744073709551616}\n");
	rpcpath_expect_ping(c, "18446744073709551616");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":null}\n");
	rpcpath_expect_ping(c, "null");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":-1.5}\n");
	rpcpath_expect_ping(c, "-1.5");
	/* A result with no members is still an object. */
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"unsubscribe\",\"params\":"
			"{\"subscription\":999},\"id\":3}\n");
	free(harness_read_line(c, HARNESS_WAIT_MS, NULL));
	harness_client_free(c);
}
END_TEST

/* A request that comes in pieces, the last without its newline before the client's EOF. */
START_TEST(test_pieces_then_eof)
{
	struct harness_client *c = harness_connect(daemon_.sock);

	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\n{\"jsonrpc\":");
	rpcpath_expect_ping(c, "1");
	ck_assert(harness_silent(c, 50));
	harness_send(c, "\"2.0\",\"method\":\"ping\",");
	ck_assert(harness_silent(c, 50));
	harness_send(c, "\"id\":2}");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	rpcpath_expect_ping(c, "2");
	ck_assert(harness_wait_eof(c, HARNESS_WAIT_MS));
	harness_client_free(c);
}
END_TEST

static Suite *rpcpath_suite(void)
{
	Suite *s = suite_create("daemon-rpcpath");
	TCase *tc = tcase_create("rpcpath");

	tcase_add_checked_fixture(tc, rpcpath_setup, rpcpath_teardown);
	tcase_add_test(tc, test_burst_past_one_read);
	tcase_add_test(tc, test_answer_bytes);
	tcase_add_test(tc, test_pieces_then_eof);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(rpcpath_suite());
}
