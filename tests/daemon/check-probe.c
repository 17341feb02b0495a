/*
 * What an outside reviewer's probe of the wire contract found, each
 * checked the way a client sees it: raw lines over the real socket to the
 * real coordinatord, and the raw lines it answers with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <check.h>

#include "harness.h"

#define PROBE_CONFIG HARNESS_CONFIG_DAEMON HARNESS_CONFIG_MODE("async", "2")

static struct harness_fixture fx;

static void probe_setup(void)
{
	harness_fixture_start(&fx, PROBE_CONFIG);
}

static void probe_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* The next raw line the daemon writes (caller frees); fails the test if none comes. */
static char *probe_raw_line(void)
{
	bool eof = false;
	char *line = harness_read_line(fx.client, HARNESS_WAIT_MS, &eof);

	ck_assert_msg(line, eof ? "the daemon closed the connection" : "no answer");
	return line;
}

/*
 * Sends one raw request line; its answer must be one -32700 with a null id
 * (for a batch line, the first element of an array answer will do).
 */
static void probe_expect_parse_error(const char *request)
{
	char *line;
	json_object *o, *e;

	harness_send(fx.client, request);
	line = probe_raw_line();
	o = harness_json("%s", line);
	e = json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, 0) : o;
	ck_assert_msg(json_object_is_type(e, json_type_object), "%s got %s", request, line);
	ck_assert_int_eq(harness_int(e, "error.code"), -32700);
	ck_assert(harness_is_null(e, "id"));
	json_object_put(o);
	free(line);
}

/*
 * json-c reads NaN, Infinity and -Infinity although RFC 8259 has no such
 * numbers; an id read so was echoed as it came, and the answer line was
 * not JSON that a strict client could read.
 */
START_TEST(test_non_json_numbers_refused)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":Infinity,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":-Infinity,\"method\":\"ping\"}\n",
		"[{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"ping\"}]\n",
	};

	/* An id of NaN was echoed as read: the answer line was not JSON. */
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		probe_expect_parse_error(lines[i]);
	/* A number too big for a double is still JSON, and comes back as it was sent. */
	harness_send(fx.client, "{\"jsonrpc\":\"2.0\",\"id\":1e400,\"method\":\"ping\"}\n");
	{
		char *line = probe_raw_line();

		ck_assert_msg(strstr(line, "\"id\":1e400}"), "%s", line);
		free(line);
	}
}
END_TEST

/*
 * A refused submit creates no job, so its request_id stays free: a client
 * that fixes its mistake and sends the same Task again is accepted. Every
 * refusal published a request_creation_failure naming the id, and the
 * message-log half of the uniqueness check counted those as a use: the
 * fixed Task got 1002 forever.
 */
START_TEST(test_refused_id_stays_free)
{
	static const char *const refused[] = {
		"{\"request_id\":\"retry-1\",\"mode\":\"asnyc\",\"node\":{\"argv\":[\"true\"]}}",
		"{\"request_id\":\"retry-1\",\"node\":{\"argv\":[]}}",
		"{\"request_id\":\"retry-1\",\"after\":[\"no-such-job\"],\"node\":{\"argv\":["
		"\"true\"]}}",
	};
	static const int codes[] = {1003, -32602, 1001};
	json_object *r, *sub;
	char *msg = NULL;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_int_eq(
			harness_err(fx.client, "submit", harness_json("%s", refused[i]), NULL),
			codes[i]);
	r = harness_ok(fx.client, "submit",
		       harness_json("{\"request_id\":\"retry-1\",\"wait\":true,\"node\":{\"argv\":"
				    "[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.request_id"), "retry-1");
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
	/* Once a job has it, the id is taken. */
	ck_assert_int_eq(harness_err(fx.client, "submit",
				     harness_json("{\"request_id\":\"retry-1\",\"node\":{\"argv\":"
						  "[\"true\"]}}"),
				     &msg),
			 1002);
	ck_assert_msg(strstr(msg, "retry-1"), "unclear: %s", msg);
	free(msg);
	/* The refusals are still in the log, before the job's own messages. */
	sub = harness_ok(fx.client, "subscribe",
			 harness_json("{\"since_seq\":0,\"request_id\":\"retry-1\"}"));
	json_object_put(sub);
	for (int i = 0; i < 3; i++) {
		json_object *n = harness_notification(fx.client, "message", HARNESS_WAIT_MS);

		ck_assert_ptr_nonnull(n);
		ck_assert_str_eq(harness_str(n, "params.message.type"), "request_creation_failure");
		json_object_put(n);
	}
	r = harness_notification(fx.client, "message", HARNESS_WAIT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(harness_str(r, "params.message.type"), "request_creation");
	json_object_put(r);
}
END_TEST

/*
 * A bad new_request_id of rerun was reported as a bad "request_id", the
 * param the client got right; the message names the one to fix now.
 */
START_TEST(test_rerun_names_new_request_id)
{
	char *msg = NULL;

	harness_submit_json(fx.client, "{\"request_id\":\"rr-1\",\"wait\":true,"
				       "\"node\":{\"argv\":[\"true\"]}}");
	ck_assert_int_eq(harness_err(fx.client, "rerun",
				     harness_json("{\"request_id\":\"rr-1\","
						  "\"new_request_id\":\"bad id!\"}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "new_request_id"), "names the wrong param: %s", msg);
	free(msg);
}
END_TEST

/*
 * json-c's UTF-8 check lets overlong forms, UTF-16 surrogates and code
 * points past U+10FFFF through; such bytes were stored and written back
 * as they came, so answers (a job's name, its Task, an echoed id) were
 * not UTF-8 and a strict client could not read them.
 */
START_TEST(test_invalid_utf8_refused)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc0\xaf\",\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{\"request_id\":"
		"\"u8-1\",\"node\":{\"name\":\"n\xed\xa0\x80\",\"argv\":[\"true\"]}}}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"submit\",\"params\":{\"request_id\":"
		"\"u8-2\",\"node\":{\"argv\":[\"echo\",\"\xf4\x90\x80\x80\"]}}}\n",
		"[{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"\xc1\xbf\":1}}]"
		"\n",
	};
	char *line;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		probe_expect_parse_error(lines[i]);
	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"u8-1\"}"), NULL),
		1001);
	ck_assert_int_eq(
		harness_err(fx.client, "job", harness_json("{\"request_id\":\"u8-2\"}"), NULL),
		1001);
	/* Valid UTF-8 of every length still goes through as it was sent. */
	harness_send(fx.client,
		     "{\"jsonrpc\":\"2.0\",\"id\":\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
		     "\"method\":\"ping\"}\n");
	line = probe_raw_line();
	ck_assert_msg(strstr(line, "\"id\":\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"), "%s",
		      line);
	free(line);
}
END_TEST

/* A Task whose stdin is size bytes of x, as the params of a submit with request_id id. */
static json_object *probe_big_task(const char *id, const char *argv, size_t size, bool wait)
{
	char *stdin_text = malloc(size + 1);
	json_object *task;

	ck_assert_ptr_nonnull(stdin_text);
	memset(stdin_text, 'x', size);
	stdin_text[size] = '\0';
	task = harness_json("{\"request_id\":\"%s\",\"wait\":%s,\"node\":{\"argv\":%s,"
			    "\"stdin\":\"%s\"}}",
			    id, wait ? "true" : "false", argv, stdin_text);
	free(stdin_text);
	return task;
}

/* {"request_ids": [id, id, ... (copies)]} plus the rest of the params (text, may be ""). */
static json_object *probe_wait_copies(const char *id, int copies, const char *rest)
{
	json_object *p = json_object_new_object(), *ids = json_object_new_array();

	for (int i = 0; i < copies; i++)
		json_object_array_add(ids, json_object_new_string(id));
	json_object_object_add(p, "request_ids", ids);
	if (*rest) {
		json_object *more = harness_json("{%s}", rest);

		json_object_object_foreach (more, k, v)
			json_object_object_add(p, k, json_object_get(v));
		json_object_put(more);
	}
	return p;
}

/*
 * A wait lists a job once per time it is named, so one request line could
 * make one large job (its stored Task shown to its owner) into an answer
 * 10000 times its size: gigabytes held by the daemon for one line. The
 * answer is bounded (max_wait_answer_bytes) and past it the call gets a
 * clear 1005.
 */
START_TEST(test_wait_answer_bounded)
{
	json_object *r;
	char *msg = NULL;

	json_object_put(
		harness_ok(fx.client, "submit", probe_big_task("big", "[\"true\"]", 250000, true)));
	/* 400 copies of a 250 kB job: 100 MB, past the default of 64 MiB. */
	ck_assert_int_eq(harness_err(fx.client, "wait", probe_wait_copies("big", 400, ""), &msg),
			 1005);
	ck_assert_msg(strstr(msg, "max_wait_answer_bytes"), "unclear: %s", msg);
	free(msg);
	r = harness_ok(fx.client, "wait", probe_wait_copies("big", 3, ""));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 3);
	json_object_put(r);

	/* The same bound holds for the jobs a timed-out wait shows. */
	harness_fixture_start_over(&fx, PROBE_CONFIG "[daemon]\nmax_wait_answer_bytes = 1048576\n");
	json_object_put(harness_ok(fx.client, "submit",
				   probe_big_task("slow", "[\"sleep\",\"60\"]", 300000, false)));
	r = harness_call(fx.client, "wait", probe_wait_copies("slow", 5, "\"timeout_ms\":50"),
			 HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1007);
	ck_assert_msg(strstr(harness_str(r, "error.message"), "max_wait_answer_bytes"),
		      "unclear: %s", harness_str(r, "error.message"));
	ck_assert(!json_object_object_get_ex(json_object_object_get(r, "error"), "data", NULL));
	json_object_put(r);
	r = harness_call(fx.client, "wait", probe_wait_copies("slow", 2, "\"timeout_ms\":50"),
			 HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1007);
	ck_assert_int_eq(json_object_array_length(harness_get(r, "error.data.jobs")), 2);
	json_object_put(r);
}
END_TEST

#define PROBE_CONNECTIONS 100

/*
 * Started from a shell whose soft limit on open files is low (1024 is
 * common; 64 here), the daemon ran out of descriptors before it reached
 * max_connections: the clients past that waited in the backlog unanswered
 * (accept backed off on EMFILE) instead of getting 1005, and tasks could
 * not be spawned. It raises its soft limit as its systemd unit would.
 */
START_TEST(test_low_fd_limit)
{
	struct harness_client *cs[PROBE_CONNECTIONS], *extra;
	struct rlimit saved, low;
	json_object *o;

	harness_fixture_stop(&fx);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_uint_ge(saved.rlim_max, 4 * PROBE_CONNECTIONS);
	low = (struct rlimit){.rlim_cur = 64, .rlim_max = saved.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	harness_daemon_new(&fx.daemon, PROBE_CONFIG "[daemon]\nmax_connections = 100\n");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	for (int i = 0; i < PROBE_CONNECTIONS; i++) {
		char *line;

		cs[i] = harness_client_new(fx.daemon.sock);
		harness_send(cs[i], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
		line = harness_read_line(cs[i], 5000, NULL);
		ck_assert_msg(line, "connection %d of %d got no answer", i + 1, PROBE_CONNECTIONS);
		free(line);
	}
	/* Past max_connections: told so, as the contract says, not left waiting. */
	extra = harness_client_new(fx.daemon.sock);
	o = harness_read_json(extra, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(o, "error.code"), 1005);
	json_object_put(o);
	harness_client_free(extra);
	/* And a task still starts. */
	o = harness_ok(cs[0], "submit",
		       harness_json("{\"wait\":true,\"node\":{\"argv\":[\"true\"]}}"));
	ck_assert_str_eq(harness_str(o, "job.result"), "success");
	json_object_put(o);
	for (int i = 0; i < PROBE_CONNECTIONS; i++)
		harness_client_free(cs[i]);
}
END_TEST

/*
 * A graceful stop keeps queued jobs for the next start (contract v2), so a
 * wait on one, or a submit with wait that queued, cannot be answered by
 * its job closing: the daemon closed the connection without a word, and
 * the client could not tell a stop from a crash. Each such call now gets
 * 1006 before the daemon goes.
 */
START_TEST(test_stop_answers_pending_waits)
{
	struct harness_client *b = harness_client_new(fx.daemon.sock);
	long long w1, w2, w3;
	json_object *r;

	json_object_put(harness_ok(fx.client, "mode_set",
				   harness_json("{\"mode\":\"async\",\"paused\":true}")));
	harness_submit_json(fx.client,
			    "{\"request_id\":\"kept-1\",\"node\":{\"argv\":[\"true\"]}}");
	w1 = harness_call_async(b, "wait", harness_json("{\"request_ids\":[\"kept-1\"]}"));
	w2 = harness_call_async(b, "submit",
				harness_json("{\"request_id\":\"kept-2\",\"wait\":true,"
					     "\"node\":{\"argv\":[\"true\"]}}"));
	/* A ping answered after them: both are in flight before the stop. */
	w3 = harness_call_async(b, "ping", NULL);
	json_object_put(harness_response(b, w3, HARNESS_WAIT_MS));
	json_object_put(harness_ok(fx.client, "shutdown", NULL));
	r = harness_response(b, w1, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1006);
	json_object_put(r);
	r = harness_response(b, w2, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1006);
	ck_assert_msg(strstr(harness_str(r, "error.message"), "next start"), "unclear: %s",
		      harness_str(r, "error.message"));
	json_object_put(r);
	harness_client_free(b);
	ck_assert_int_eq(harness_daemon_wait_exit(&fx.daemon, HARNESS_WAIT_MS), 0);
}
END_TEST

/* A Task of 300 kB that waits for the job "blocker" (params of a submit). */
static json_object *probe_big_waiting(const char *id)
{
	json_object *task = probe_big_task(id, "[\"true\"]", 300000, false);

	json_object_object_add(task, "after", harness_json("[\"blocker\"]"));
	return task;
}

/*
 * A queued job's Task goes cold (read back when it starts), but a job
 * waiting on its after holds its Task in memory, several times its text:
 * max_queue bounds how many wait, not how much they hold, so submits of
 * large Tasks behind one long job took the daemon's memory without bound
 * (780 kB each for a Task of 1024 long after ids). Past
 * max_waiting_task_bytes such a submit gets 1005.
 */
START_TEST(test_waiting_tasks_bounded)
{
	static const char *const sleeper = "[\"sleep\",\"60\"]";
	json_object *r;
	char *msg = NULL;

	harness_fixture_start_over(&fx,
				   PROBE_CONFIG "[daemon]\nmax_waiting_task_bytes = 1048576\n");
	harness_submit_json(fx.client, "{\"request_id\":\"blocker\",\"node\":{\"argv\":%s}}",
			    sleeper);
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "big-%d", i);
		json_object_put(harness_ok(fx.client, "submit", probe_big_waiting(id)));
	}
	/* A fourth would hold 1.2 MB. */
	ck_assert_int_eq(harness_err(fx.client, "submit", probe_big_waiting("big-3"), &msg), 1005);
	ck_assert_msg(strstr(msg, "max_waiting_task_bytes"), "unclear: %s", msg);
	free(msg);
	/* A small one still fits, and a large one that does not wait is queued (cold). */
	harness_submit_json(fx.client, "{\"after\":[\"blocker\"],\"node\":{\"argv\":[\"true\"]}}");
	json_object_put(
		harness_ok(fx.client, "submit", probe_big_task("big-q", sleeper, 300000, false)));
	/* Once one stops waiting, there is room again. */
	json_object_put(
		harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"big-0\"}")));
	r = harness_ok(fx.client, "submit", probe_big_waiting("big-3"));
	ck_assert_str_eq(harness_str(r, "job.phase"), "waiting");
	json_object_put(r);
}
END_TEST

/*
 * A line that starts with a byte order mark: refused (RFC 8259 forbids it
 * in JSON sent over a network) with a message that names it, not as
 * "invalid UTF-8", which the mark is not.
 */
START_TEST(test_byte_order_mark_named)
{
	char *line;

	harness_send(fx.client, "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
	line = probe_raw_line();
	ck_assert_msg(strstr(line, "\"code\":-32700"), "%s", line);
	ck_assert_msg(strstr(line, "byte order mark"), "%s", line);
	free(line);
	/* The connection goes on. */
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

/*
 * JSON lets a string hold a lone UTF-16 surrogate escape (RFC 8259 8.2);
 * json-c reads it as U+FFFD, so an id such as "\ud800" came back as
 * another string and the client could not match its answer. Such an id
 * comes back as it was written.
 */
START_TEST(test_surrogate_id_echoed)
{
	static const char *const ids[] = {"\"\\ud800\"", "\"a\\udc00b\"", "\"\\ud83d\""};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char request[128], want[64], *line;

		snprintf(request, sizeof(request),
			 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}\n", ids[i]);
		snprintf(want, sizeof(want), "\"id\":%s}", ids[i]);
		harness_send(fx.client, request);
		line = probe_raw_line();
		ck_assert_msg(strstr(line, want), "sent %s, got %s", ids[i], line);
		free(line);
	}
}
END_TEST

/*
 * A subscription keeps its request_id and run_id filters for its life, and
 * a connection may hold 256 subscriptions: with filters of half a megabyte
 * (longer than any request_id, so matching nothing) one connection held
 * 230 MB that no per-connection limit counted. A filter longer than a
 * request_id can be is refused.
 */
START_TEST(test_subscribe_filter_bounded)
{
	static const char *const keys[] = {"request_id", "run_id"};
	char *long_id = malloc(130), *msg = NULL;
	json_object *p;

	ck_assert_ptr_nonnull(long_id);
	memset(long_id, 'r', 129);
	long_id[129] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		p = json_object_new_object();
		json_object_object_add(p, keys[i], json_object_new_string(long_id));
		ck_assert_int_eq(harness_err(fx.client, "subscribe", p, &msg), -32602);
		ck_assert_msg(strstr(msg, keys[i]), "unclear: %s", msg);
		free(msg);
		/* 128 characters is a request_id still. */
		p = json_object_new_object();
		json_object_object_add(p, keys[i], json_object_new_string(long_id + 1));
		json_object_put(harness_ok(fx.client, "subscribe", p));
	}
	free(long_id);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("daemon-probe");
	TCase *tc = tcase_create("probe");

	tcase_add_checked_fixture(tc, probe_setup, probe_teardown);
	tcase_add_test(tc, test_non_json_numbers_refused);
	tcase_add_test(tc, test_refused_id_stays_free);
	tcase_add_test(tc, test_rerun_names_new_request_id);
	tcase_add_test(tc, test_invalid_utf8_refused);
	tcase_add_test(tc, test_wait_answer_bounded);
	tcase_add_test(tc, test_low_fd_limit);
	tcase_add_test(tc, test_stop_answers_pending_waits);
	tcase_add_test(tc, test_waiting_tasks_bounded);
	tcase_add_test(tc, test_surrogate_id_echoed);
	tcase_add_test(tc, test_subscribe_filter_bounded);
	tcase_add_test(tc, test_byte_order_mark_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(probe_suite());
}
