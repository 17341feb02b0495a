/*
 * The transport alone: a connection with a fake owner (ops table) over a
 * socketpair, no daemon. Framing, the line limit, read watermarks, held
 * output, half-close, what hangs on a connection when its client goes, and
 * notifications: written at once on release, texts shared by reference,
 * partial writes, and coalescing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "connection.h"
#include "testutil.h"
#include "wire_errors.h"

#define FAKE_MAX_LINES 16

/* The fake owner: records what the connection tells it. */
struct fake {
	struct event_base *base;
	struct connection *conn;
	int client; /* our end of the socketpair */
	char *lines[FAKE_MAX_LINES];
	size_t line_count;
	bool closed;
	bool allowed;
	bool hold;		 /* must_hold_output answers this */
	size_t hold_calls;	 /* how often hold was called */
	struct connection *held; /* the reference hold got */
	size_t reply_bytes;	 /* on_line answers each line with this many bytes */
	bool attach_on_line;	 /* on_line hangs a pending attachment on the connection */
	struct connection_attachment att;
	bool attached;
	size_t detach_calls;
};

static struct fake fake;

static void fake_on_line(void *ctx, struct connection *conn, const char *line, size_t len);

static void fake_detach(struct connection_attachment *att)
{
	fake.detach_calls++;
	fake.attached = false;
	connection_detach(fake.conn, att);
}

static const struct connection_attachment_ops fake_attachment = {
	.kind = CONNECTION_CALL,
	.detach = fake_detach,
};

static void fake_on_line(void *ctx, struct connection *conn, const char *line, size_t len)
{
	ck_assert_ptr_eq(ctx, &fake);
	ck_assert_uint_lt(fake.line_count, FAKE_MAX_LINES);
	fake.lines[fake.line_count++] = strndup(line, len);
	if (fake.reply_bytes) {
		char *reply = malloc(fake.reply_bytes);

		ck_assert_ptr_nonnull(reply);
		memset(reply, 'r', fake.reply_bytes);
		connection_send(conn, reply, fake.reply_bytes);
		free(reply);
	}
	if (fake.attach_on_line && !fake.attached) {
		fake.att.cost = 0;
		connection_attach(conn, &fake.att, &fake_attachment);
		fake.attached = true;
	}
}

static void fake_on_close(void *ctx, struct connection *conn)
{
	fake.closed = true;
}

static bool fake_must_hold(void *ctx)
{
	return fake.hold;
}

static void fake_hold(void *ctx, struct connection *conn)
{
	fake.hold_calls++;
	fake.held = conn;
}

static bool fake_peer_allowed(void *ctx, const struct peer *peer)
{
	return fake.allowed;
}

static const struct connection_ops fake_ops = {
	.on_line = fake_on_line,
	.on_close = fake_on_close,
	.must_hold_output = fake_must_hold,
	.hold = fake_hold,
	.peer_allowed = fake_peer_allowed,
};

static const struct connection_limits fake_limits = {
	.max_line = 64,
	.max_batch = 10,
	.max_answer_bytes = 4096,
	.max_pending_calls = 8,
	.max_pending_bytes = 1 << 20,
	.subscriber_max = 4096,
};

/* A connection on one end of a socketpair (the client has the other), as uid. */
static void fake_open(const struct connection_limits *limits, int sndbuf)
{
	struct peer peer = {.uid = 4242, .gid = 4242, .pid = 1};
	int sv[2];

	memset(&fake, 0, sizeof(fake));
	fake.allowed = true;
	fake.base = event_base_new();
	ck_assert_ptr_nonnull(fake.base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf) {
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
				 0);
		ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf)),
				 0);
	}
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	fake.client = sv[1];
	fake.conn = connection_new(fake.base, sv[0], &peer, limits, &fake_ops, &fake);
	ck_assert_ptr_nonnull(fake.conn);
	ck_assert_uint_eq(connection_peer_uid(fake.conn), 4242);
}

static void fake_teardown(void)
{
	if (!fake.closed)
		connection_close(fake.conn);
	if (fake.held)
		connection_unref(fake.held);
	if (fake.client >= 0)
		close(fake.client);
	for (size_t i = 0; i < fake.line_count; i++)
		free(fake.lines[i]);
	event_base_free(fake.base);
}

static void fake_write(const char *text)
{
	size_t len = strlen(text);

	ck_assert_int_eq(write(fake.client, text, len), (ssize_t)len);
}

/* What the client can read now (caller frees). */
static char *fake_read_all(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	while ((n = read(fake.client, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[len] = '\0';
	return buf;
}

static size_t fake_want_lines;

static bool fake_has_lines(void *data)
{
	return fake.line_count >= fake_want_lines;
}

static bool fake_is_closed(void *data)
{
	return fake.closed;
}

/* Runs the loop until the connection has handled n lines. */
static void fake_wait_lines(size_t n)
{
	fake_want_lines = n;
	ck_assert_msg(tu_run_until(fake.base, fake_has_lines, NULL, 10),
		      "only %zu of %zu lines arrived", fake.line_count, n);
}

/* A few loop turns: whatever is ready runs (no waiting on time). */
static void fake_turns(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(fake.base, EVLOOP_NONBLOCK);
}

START_TEST(test_framing)
{
	fake_open(&fake_limits, 0);
	/* CRLF, blank lines, and a last line without its newline at end of input. */
	fake_write("one\ntwo\r\n\n \t\r\nthree");
	shutdown(fake.client, SHUT_WR);
	fake_wait_lines(3);
	ck_assert_str_eq(fake.lines[0], "one");
	ck_assert_str_eq(fake.lines[1], "two");
	ck_assert_str_eq(fake.lines[2], "three");
	/* Half-closed with nothing pending: it finishes and closes. */
	ck_assert(tu_run_until(fake.base, fake_is_closed, NULL, 10));
	ck_assert_uint_eq(fake.line_count, 3);
	fake_teardown();
}
END_TEST

START_TEST(test_line_limit)
{
	char *out;

	fake_open(&fake_limits, 0);
	/* 100 bytes is past max_line (64), in pieces; the next line still counts. */
	fake_write("0123456789012345678901234567890123456789");
	fake_turns();
	fake_write("0123456789012345678901234567890123456789012345678901234567890123456789\nok\n");
	fake_wait_lines(1);
	ck_assert_str_eq(fake.lines[0], "ok");
	out = fake_read_all();
	ck_assert_msg(strstr(out, "\"code\":-32600") && strstr(out, "limit of 64 bytes"),
		      "no framing error in %s", out);
	ck_assert_ptr_null(strchr(strchr(out, '\n') + 1, '\n')); /* one answer only */
	free(out);
	ck_assert(connection_is_open(fake.conn));
	fake_teardown();
}
END_TEST

static bool fake_output_piled(void *data)
{
	return connection_pending_output(fake.conn) > fake_limits.max_answer_bytes;
}

START_TEST(test_watermarks)
{
	char *out;
	size_t got = 0;

	/* Small socket buffers: a large answer stays in the connection's output. */
	fake_open(&fake_limits, 4096);
	fake.reply_bytes = 256 * 1024;
	fake_write("first\nsecond\n");
	fake_wait_lines(1);
	ck_assert(tu_run_until(fake.base, fake_output_piled, NULL, 10));
	/* Past max_answer_bytes, reading stops: "second" waits while nobody reads. */
	fake_turns();
	ck_assert_uint_eq(fake.line_count, 1);
	/* The client reads: below half the limit, reading resumes. */
	while (fake.line_count < 2) {
		out = fake_read_all();
		got += strlen(out);
		free(out);
		event_base_loop(fake.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		ck_assert_uint_le(got, 2 * fake.reply_bytes + 2);
		if (fake.line_count < 2) {
			struct pollfd pfd = {.fd = fake.client, .events = POLLIN};

			poll(&pfd, 1, 100); /* wait for more output, not for time */
		}
	}
	ck_assert_str_eq(fake.lines[1], "second");
	/* It resumed only once the client had read most of the first answer. */
	ck_assert_uint_ge(got, fake.reply_bytes / 2);
	fake.reply_bytes = 0;
	fake_teardown();
}
END_TEST

START_TEST(test_held_output)
{
	char *out;

	fake_open(&fake_limits, 0);
	fake.hold = true;
	fake.reply_bytes = 10;
	fake_write("a\nb\n");
	fake_wait_lines(2);
	fake_turns();
	/* Held until the commit: nothing reached the client, and hold was asked once. */
	out = fake_read_all();
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_uint_eq(fake.hold_calls, 1);
	ck_assert_uint_eq(connection_pending_output(fake.conn), 22);
	connection_release_held(fake.held, true);
	connection_unref(fake.held);
	fake.held = NULL;
	fake.hold = false;
	fake_turns();
	out = fake_read_all();
	ck_assert_str_eq(out, "rrrrrrrrrr\nrrrrrrrrrr\n");
	free(out);
	/* A failed commit: the held answers are dropped and the connection closes. */
	fake.hold = true;
	fake_write("c\n");
	fake_wait_lines(3);
	ck_assert_uint_eq(fake.hold_calls, 2);
	connection_release_held(fake.held, false);
	ck_assert(fake.closed);
	fake_teardown();
}
END_TEST

START_TEST(test_half_close_waits_for_pending)
{
	char *out;

	fake_open(&fake_limits, 0);
	fake.attach_on_line = true;
	fake_write("wait\n");
	shutdown(fake.client, SHUT_WR);
	fake_wait_lines(1);
	fake_turns();
	/* The client only stopped sending: its pending call is still answered. */
	ck_assert(!fake.closed);
	ck_assert_uint_eq(fake.detach_calls, 0);
	ck_assert_uint_eq(connection_attached_count(fake.conn, CONNECTION_CALL), 1);
	connection_send(fake.conn, "answer", 6);
	connection_detach(fake.conn, &fake.att);
	fake.attached = false;
	ck_assert(tu_run_until(fake.base, fake_is_closed, NULL, 10));
	out = fake_read_all();
	ck_assert_str_eq(out, "answer\n");
	free(out);
	fake_teardown();
}
END_TEST

START_TEST(test_hang_up_abandons_pending)
{
	fake_open(&fake_limits, 0);
	fake.attach_on_line = true;
	fake_write("wait\n");
	fake_wait_lines(1);
	ck_assert_uint_eq(connection_attached_count(fake.conn, CONNECTION_CALL), 1);
	/* The client hangs up entirely: the pending call is detached at once. */
	close(fake.client);
	fake.client = -1;
	ck_assert(tu_run_until(fake.base, fake_is_closed, NULL, 10));
	ck_assert_uint_eq(fake.detach_calls, 1);
	fake_teardown();
}
END_TEST

START_TEST(test_peer_allowed_asks_owner)
{
	fake_open(&fake_limits, 0);
	ck_assert(connection_allowed(fake.conn));
	fake.allowed = false; /* a reload dropped the user */
	ck_assert(!connection_allowed(fake.conn));
	fake_teardown();
}
END_TEST

/* Shared notification texts: each one malloc'd, freed by its release (ASan sees a late read). */
static size_t fake_released;

static void fake_release(const void *text, size_t len, void *ctx)
{
	ck_assert_ptr_eq(text, ctx);
	fake_released++;
	free(ctx);
}

/* Queues notification number n: "<n:" then len bytes of a letter of n, then ">". */
static void fake_notify(unsigned n, size_t len)
{
	char prefix[16];
	char *text = malloc(len);

	ck_assert_ptr_nonnull(text);
	memset(text, 'a' + (int)(n % 26), len);
	snprintf(prefix, sizeof(prefix), "<%u:", n);
	connection_notify(fake.conn, prefix, strlen(prefix), text, len, fake_release, text, ">", 1);
}

/* Checks that text holds exactly notifications first..last of len bytes each, in order. */
static void fake_check_notes(const char *text, unsigned first, unsigned last, size_t len)
{
	for (unsigned n = first; n <= last; n++) {
		char prefix[16];
		size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "<%u:", n);

		ck_assert_msg(strncmp(text, prefix, plen) == 0, "notification %u missing at %.20s",
			      n, text);
		text += plen;
		for (size_t i = 0; i < len; i++)
			if (text[i] != 'a' + (int)(n % 26))
				ck_abort_msg("notification %u: byte %zu is %c", n, i, text[i]);
		text += len;
		ck_assert_msg(strncmp(text, ">\n", 2) == 0, "notification %u runs on", n);
		text += 2;
	}
	ck_assert_str_eq(text, "");
}

static void fake_release_held(void)
{
	struct connection *held = fake.held;

	fake.held = NULL;
	fake.hold = false;
	connection_release_held(held, true);
	connection_unref(held);
}

START_TEST(test_release_writes_at_once)
{
	char *out;

	fake_open(&fake_limits, 0);
	fake.hold = true;
	connection_send(fake.conn, "first", 5);
	fake_notify(1, 10);
	connection_send(fake.conn, "last", 4);
	ck_assert_uint_eq(fake.hold_calls, 1);
	/* The commit: everything is on the socket before the loop turns again. */
	fake_release_held();
	out = fake_read_all();
	ck_assert_str_eq(out, "first\n<1:bbbbbbbbbb>\nlast\n");
	free(out);
	ck_assert_uint_eq(connection_pending_output(fake.conn), 0);
	ck_assert_uint_eq(fake_released, 1);
	fake_teardown();
}
END_TEST

struct fake_reader {
	char *buf;
	size_t len;
	size_t want;
};

/* Reads what the client has, one loop turn at a time; true once want bytes are in. */
static bool fake_read_some(void *data)
{
	struct fake_reader *r = data;
	ssize_t n;

	while (r->len < r->want && (n = read(fake.client, r->buf + r->len, r->want - r->len)) > 0)
		r->len += (size_t)n;
	return r->len >= r->want;
}

START_TEST(test_partial_writes_in_order)
{
	enum { COUNT = 200, LEN = 3000 };
	struct connection_limits limits = fake_limits;
	struct fake_reader r = {0};

	/* Small socket buffers: most of 600 KB stays queued by reference. */
	limits.subscriber_max = limits.max_answer_bytes = 16 << 20;
	fake_open(&limits, 4096);
	fake_released = 0;
	fake.hold = true;
	for (unsigned n = 0; n < COUNT; n++)
		fake_notify(n, LEN);
	fake_release_held();
	ck_assert_uint_gt(connection_pending_output(fake.conn), 0);
	ck_assert_uint_lt(fake_released, COUNT);
	/* More after the partial write goes behind it. */
	fake_notify(COUNT, LEN);
	/* The client drains it: every byte, in order, each text released once written. */
	for (unsigned n = 0; n <= COUNT; n++)
		r.want += (size_t)snprintf(NULL, 0, "<%u:", n) + LEN + 2;
	r.buf = calloc(1, r.want + 1);
	ck_assert_ptr_nonnull(r.buf);
	ck_assert(tu_run_until(fake.base, fake_read_some, &r, 30));
	fake_check_notes(r.buf, 0, COUNT, LEN);
	ck_assert_uint_eq(fake_released, COUNT + 1);
	free(r.buf);
	fake_teardown();
}
END_TEST

START_TEST(test_close_releases_shared_texts)
{
	struct connection *kept;

	fake_open(&fake_limits, 4096);
	fake_released = 0;
	fake.hold = true;
	for (unsigned n = 0; n < 20; n++)
		fake_notify(n, 5000);
	fake_release_held();
	ck_assert_uint_lt(fake_released, 20);
	/* The client goes: what was never written is released, once. */
	kept = connection_ref(fake.conn); /* as a subscription holds it */
	connection_close(fake.conn);
	fake.closed = true;
	fake_turns();
	ck_assert_uint_eq(fake_released, 20);
	/* A closed connection releases a text at once. */
	fake_notify(20, 5000);
	ck_assert_uint_eq(fake_released, 21);
	connection_unref(kept);
	fake_teardown();
}
END_TEST

static bool fake_has_output(void *data)
{
	struct pollfd pfd = {.fd = fake.client, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

START_TEST(test_coalesce)
{
	struct connection_limits limits = fake_limits;
	char *out;

	/* A window no test outlasts: whatever waits for it goes out only when pushed. */
	limits.notify_coalesce_ms = 3600 * 1000;
	fake_open(&limits, 0);
	fake_released = 0;
	/* The first notification goes out at once, the next waits, behind it any other. */
	fake_notify(1, 3);
	fake_turns();
	out = fake_read_all();
	fake_check_notes(out, 1, 1, 3);
	free(out);
	fake_notify(2, 3000);
	fake_notify(3, 3);
	fake_turns();
	ck_assert(!fake_has_output(NULL));
	ck_assert_uint_eq(connection_pending_output(fake.conn), (3 + 3000 + 2) + (3 + 3 + 2));
	/* An answer is never delayed: it takes the waiting ones along, in order. */
	connection_send(fake.conn, "answer", 6);
	fake_turns();
	out = fake_read_all();
	ck_assert_msg(strncmp(out, "<2:", 3) == 0 && strstr(out, ">\n<3:ddd>\nanswer\n"), "%.40s",
		      out);
	free(out);
	/* Held ones released at a commit wait too; closing after the flush sends them. */
	fake.hold = true;
	fake_notify(4, 3);
	fake_release_held();
	fake_turns();
	ck_assert(!fake_has_output(NULL));
	connection_close_after_flush(fake.conn);
	ck_assert(tu_run_until(fake.base, fake_is_closed, NULL, 10));
	out = fake_read_all();
	fake_check_notes(out, 4, 4, 3);
	free(out);
	ck_assert_uint_eq(fake_released, 4);
	fake_teardown();
}
END_TEST

START_TEST(test_coalesce_delivers)
{
	struct connection_limits limits = fake_limits;
	struct fake_reader r = {0};

	/* A short window: what waits goes out by itself, in order (no bound on time asserted). */
	limits.notify_coalesce_ms = 20;
	limits.subscriber_max = limits.max_answer_bytes = 16 << 20;
	fake_open(&limits, 0);
	for (unsigned n = 0; n < 50; n++) {
		fake.hold = n % 2 == 0;
		fake_notify(n, 100);
		if (fake.held)
			fake_release_held();
		r.want += (size_t)snprintf(NULL, 0, "<%u:", n) + 100 + 2;
	}
	r.buf = calloc(1, r.want + 1);
	ck_assert_ptr_nonnull(r.buf);
	ck_assert(tu_run_until(fake.base, fake_read_some, &r, 30));
	fake_check_notes(r.buf, 0, 49, 100);
	free(r.buf);
	fake_teardown();
}
END_TEST

static Suite *connection_suite(void)
{
	Suite *s = suite_create("connection");
	TCase *tc = tcase_create("transport");

	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_watermarks);
	tcase_add_test(tc, test_held_output);
	tcase_add_test(tc, test_half_close_waits_for_pending);
	tcase_add_test(tc, test_hang_up_abandons_pending);
	tcase_add_test(tc, test_peer_allowed_asks_owner);
	suite_add_tcase(s, tc);

	tc = tcase_create("notifications");
	tcase_add_test(tc, test_release_writes_at_once);
	tcase_add_test(tc, test_partial_writes_in_order);
	tcase_add_test(tc, test_close_releases_shared_texts);
	tcase_add_test(tc, test_coalesce);
	tcase_add_test(tc, test_coalesce_delivers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(connection_suite());
}
