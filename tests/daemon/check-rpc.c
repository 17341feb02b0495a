/*
 * JSON-RPC 2.0 over the real socket: framing, envelopes, ids, batches,
 * notifications, limits and abuse, against the real coordinatord.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>

#include "harness.h"

#define RPC_CONFIG                                                                                 \
	HARNESS_CONFIG_DAEMON                                                                      \
	"max_line_bytes = 4096\n"                                                                  \
	"[mode:async]\n"                                                                           \
	"kill_grace_ms = 500\n"

static struct harness_daemon daemon_;

static void rpc_setup(void)
{
	harness_daemon_new(&daemon_, RPC_CONFIG);
}

static void rpc_teardown(void)
{
	harness_daemon_cleanup(&daemon_);
}

/* Sends a raw line and returns the one answer it gets. */
static json_object *rpc_raw(struct harness_client *c, const char *line)
{
	harness_send(c, line);
	return harness_read_json(c, HARNESS_WAIT_MS);
}

/* Asserts o is an error response with code and a null id. */
static void rpc_assert_error_null_id(json_object *o, int code)
{
	ck_assert_msg(json_object_is_type(o, json_type_object), "not an object: %s",
		      json_object_to_json_string(o));
	ck_assert_str_eq(harness_str(o, "jsonrpc"), "2.0");
	ck_assert_int_eq(harness_int(o, "error.code"), code);
	ck_assert_ptr_nonnull(harness_str(o, "error.message"));
	ck_assert(harness_is_null(o, "id"));
	ck_assert(!json_object_object_get_ex(o, "result", NULL));
}

/* The connection still works: a ping gets its own answer, and nothing came before it. */
static void rpc_assert_usable(struct harness_client *c)
{
	json_object *o;

	ck_assert_msg(harness_silent(c, 100), "unexpected output: %s",
		      json_object_to_json_string(json_object_array_get_idx(c->backlog, 0)));
	o = rpc_raw(c, "{\"jsonrpc\":\"2.0\",\"id\":\"usable\",\"method\":\"ping\"}\n");
	ck_assert_str_eq(harness_str(o, "id"), "usable");
	ck_assert_int_eq(harness_int(o, "result.pid"), daemon_.pid);
	json_object_put(o);
}

/*
 * Each line, sent on one connection, gets an error with that code and a
 * null id, and the connection still answers a ping after each.
 */
static void rpc_expect_null_id_errors(const char *const *lines, size_t count, int code)
{
	struct harness_client *c = harness_client_new(daemon_.sock);

	for (size_t i = 0; i < count; i++) {
		json_object *o = rpc_raw(c, lines[i]);

		rpc_assert_error_null_id(o, code);
		json_object_put(o);
		rpc_assert_usable(c);
	}
	harness_client_free(c);
}

START_TEST(test_ping)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *r = harness_ok(c, "ping", NULL), *up;

	ck_assert_str_eq(harness_str(r, "version"), "0.1.0");
	ck_assert_int_eq(harness_int(r, "pid"), daemon_.pid);
	up = harness_get(r, "uptime");
	ck_assert(json_object_is_type(up, json_type_double) ||
		  json_object_is_type(up, json_type_int));
	ck_assert(json_object_get_double(up) >= 0);
	json_object_put(r);
	/* An empty params object and an empty params array mean no params. */
	r = harness_ok(c, "ping", json_object_new_object());
	json_object_put(r);
	r = harness_ok(c, "ping", json_object_new_array());
	json_object_put(r);
	harness_client_free(c);
}
END_TEST

START_TEST(test_parse_error)
{
	static const char *const lines[] = {
		"{not json\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"\n", /* unterminated */
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{}\n",
		"[1,2,\n",
		/* What json-c accepts by default but JSON does not. */
		"'single quotes'\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}\n",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},]\n",
		"/* comment */ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":True,\"method\":\"ping\"}\n",
		/* Not UTF-8: the daemon must never echo it into its output. */
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\x28\xff\",\"method\":\"ping\"}\n",
	};

	rpc_expect_null_id_errors(lines, sizeof(lines) / sizeof(lines[0]), -32700);
}
END_TEST

START_TEST(test_invalid_request_not_object)
{
	static const char *const lines[] = {"42\n", "\"ping\"\n", "null\n", "true\n", "[1]\n"};
	struct harness_client *c = harness_client_new(daemon_.sock);

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_object *o = rpc_raw(c, lines[i]);

		/* A batch of one non-object answers with an array of one error. */
		if (json_object_is_type(o, json_type_array)) {
			ck_assert_int_eq(json_object_array_length(o), 1);
			rpc_assert_error_null_id(json_object_array_get_idx(o, 0), -32600);
		} else {
			ck_assert_str_ne(lines[i], "[1]\n");
			rpc_assert_error_null_id(o, -32600);
		}
		json_object_put(o);
	}
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_invalid_request_envelope)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":2.0,\"id\":7,\"method\":\"ping\"}\n",
		"{\"id\":7,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":7}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":42}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":\"x\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":3}\n",
	};
	struct harness_client *c = harness_client_new(daemon_.sock);

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_object *o = rpc_raw(c, lines[i]);

		ck_assert_msg(json_object_object_get_ex(o, "error", NULL), "%s got %s", lines[i],
			      json_object_to_json_string(o));
		ck_assert_int_eq(harness_int(o, "error.code"), -32600);
		/* The id could be read, so it is echoed. */
		ck_assert_int_eq(harness_int(o, "id"), 7);
		json_object_put(o);
	}
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_bad_id_types)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":false,\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}\n",
	};

	rpc_expect_null_id_errors(lines, sizeof(lines) / sizeof(lines[0]), -32600);
}
END_TEST

START_TEST(test_empty_batch)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *o = rpc_raw(c, "[]\n");

	/* One error object, not an array. */
	rpc_assert_error_null_id(o, -32600);
	json_object_put(o);
	o = rpc_raw(c, "  [ ]  \n");
	rpc_assert_error_null_id(o, -32600);
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

/* The element of a batch answer with that integer id, or NULL. */
static json_object *rpc_batch_find(json_object *answers, long long id)
{
	for (size_t i = 0; i < json_object_array_length(answers); i++) {
		json_object *a = json_object_array_get_idx(answers, i), *v;

		if (json_object_object_get_ex(a, "id", &v) &&
		    json_object_is_type(v, json_type_int) && json_object_get_int64(v) == id)
			return a;
	}
	return NULL;
}

START_TEST(test_batch_mixed)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *o, *a;
	size_t nulls = 0;

	o = rpc_raw(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		       "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
		       "1,"
		       "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no_such_method\"},"
		       "{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\"},"
		       "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"job\",\"params\":{}},"
		       "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"modes\"}]\n");
	ck_assert_msg(json_object_is_type(o, json_type_array), "%s", json_object_to_json_string(o));
	/* Five answers: notifications get none, even the failing one. */
	ck_assert_int_eq(json_object_array_length(o), 5);
	a = rpc_batch_find(o, 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(harness_int(a, "result.pid"), daemon_.pid);
	a = rpc_batch_find(o, 3);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(harness_int(a, "error.code"), -32601);
	a = rpc_batch_find(o, 4);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(harness_int(a, "error.code"), -32602);
	a = rpc_batch_find(o, 5);
	ck_assert_ptr_nonnull(a);
	ck_assert(json_object_is_type(harness_get(a, "result.modes"), json_type_array));
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		a = json_object_array_get_idx(o, i);
		if (harness_is_null(a, "id")) {
			nulls++;
			ck_assert_int_eq(harness_int(a, "error.code"), -32600);
		}
	}
	ck_assert_int_eq(nulls, 1);
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_batch_with_pending_call)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *o, *a;

	/* The batch answer waits for its slowest call: a submit with wait. */
	o = rpc_raw(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":"
		       "{\"request_id\":\"batch-wait\",\"wait\":true,"
		       "\"node\":{\"argv\":[\"sh\",\"-c\",\"sleep 0.3; echo done\"]}}},"
		       "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]\n");
	ck_assert(json_object_is_type(o, json_type_array));
	ck_assert_int_eq(json_object_array_length(o), 2);
	a = rpc_batch_find(o, 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(harness_str(a, "result.job.status"), "closed");
	ck_assert_str_eq(harness_str(a, "result.message.result.stdout"), "done\n");
	ck_assert_ptr_nonnull(rpc_batch_find(o, 2));
	json_object_put(o);
	harness_client_free(c);
}
END_TEST

START_TEST(test_batch_only_notifications)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *r;

	harness_send(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
			"{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\"},"
			"{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":"
			"{\"request_id\":\"from-notification\",\"node\":{\"argv\":[\"true\"]}}}]"
			"\n");
	ck_assert(harness_silent(c, 500));
	rpc_assert_usable(c);
	/* A notification is executed all the same. */
	r = harness_wait_job(c, "from-notification");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	harness_client_free(c);
}
END_TEST

START_TEST(test_unknown_method)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *o = rpc_raw(c, "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"launch\"}\n");

	ck_assert_int_eq(harness_int(o, "error.code"), -32601);
	ck_assert_str_eq(harness_str(o, "id"), "m");
	ck_assert_ptr_nonnull(strstr(harness_str(o, "error.message"), "launch"));
	json_object_put(o);
	/* Method names are case-sensitive. */
	ck_assert_int_eq(harness_err(c, "PING", NULL, NULL), -32601);
	ck_assert_int_eq(harness_err(c, "", NULL, NULL), -32601);
	harness_client_free(c);
}
END_TEST

START_TEST(test_bad_params)
{
	struct harness_client *c = harness_client_new(daemon_.sock);

	/* Positional params are not how any method takes them. */
	ck_assert_int_eq(harness_err(c, "ping", harness_json("[1]"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "job", harness_json("{}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "job", harness_json("{\"request_id\":5}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "status", harness_json("{\"limit\":\"x\"}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "status", harness_json("{\"limit\":-1}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "status", harness_json("{\"status\":\"weird\"}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(c, "wait", harness_json("{}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "wait", harness_json("{\"request_ids\":[1]}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(c, "cancel",
				     harness_json("{\"request_id\":\"x\","
						  "\"cascade\":\"yes\"}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(c, "subscribe", harness_json("{\"types\":[\"nope\"]}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(c, "subscribe", harness_json("{\"since_seq\":1.5}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(c, "unsubscribe", harness_json("{}"), NULL), -32602);
	ck_assert_int_eq(harness_err(c, "submit", harness_json("{}"), NULL), -32602);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

/* Sends a ping with id text (raw JSON) and checks the answer carries exactly that id. */
static void rpc_check_id(struct harness_client *c, const char *id_text)
{
	char line[512];
	json_object *o, *want = json_tokener_parse(id_text), *got;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}\n",
		 id_text);
	o = rpc_raw(c, line);
	ck_assert_msg(json_object_object_get_ex(o, "result", NULL), "%s", line);
	ck_assert(json_object_object_get_ex(o, "id", &got));
	ck_assert_msg(json_object_get_type(got) == json_object_get_type(want),
		      "id %s came back as %s", id_text, json_object_to_json_string(got));
	if (want)
		ck_assert_msg(json_object_equal(got, want), "id %s came back as %s", id_text,
			      json_object_to_json_string(got));
	json_object_put(o);
	json_object_put(want);
}

START_TEST(test_ids_echoed)
{
	struct harness_client *c = harness_client_new(daemon_.sock);

	rpc_check_id(c, "\"abc\"");
	rpc_check_id(c, "\"\"");
	rpc_check_id(c, "\"with \\\"quotes\\\", \\\\ and \\u00e9\\n\"");
	rpc_check_id(c, "0");
	rpc_check_id(c, "-17");
	rpc_check_id(c, "9007199254740993");
	rpc_check_id(c, "1.5");
	rpc_check_id(c, "-0.25");
	rpc_check_id(c, "null");
	harness_client_free(c);
}
END_TEST

START_TEST(test_notifications_never_answered)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *r;

	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\"}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job\",\"params\":{}}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job\",\"params\":"
			"{\"request_id\":\"nope\"}}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":"
			"{\"request_id\":\"notified\",\"wait\":true,"
			"\"node\":{\"argv\":[\"true\"]}}}\n");
	ck_assert(harness_silent(c, 500));
	/* The submit ran, and its wait answered nobody. */
	r = harness_wait_job(c, "notified");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	ck_assert(harness_silent(c, 300));
	harness_client_free(c);
}
END_TEST

START_TEST(test_blank_lines)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	json_object *o;

	harness_send(c, "\n\n   \n\t\n\r\n \t \r\n");
	ck_assert(harness_silent(c, 300));
	/* CRLF line ends work too. */
	o = rpc_raw(c, "\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n");
	ck_assert_int_eq(harness_int(o, "id"), 1);
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

/* A ping request padded with a string member to exactly len bytes before its newline. */
static char *rpc_padded_ping(size_t len, const char *id)
{
	char head[128];
	int n = snprintf(head, sizeof(head),
			 "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\",\"pad\":\"", id);
	char *line = malloc(len + 2);

	ck_assert_uint_gt(len, (size_t)n + 2);
	memcpy(line, head, (size_t)n);
	memset(line + n, 'x', len - (size_t)n - 2);
	memcpy(line + len - 2, "\"}\n", 4);
	return line;
}

START_TEST(test_oversized_line)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	char *line;
	json_object *o;

	/* At the limit: fine. */
	line = rpc_padded_ping(4096, "fits");
	o = rpc_raw(c, line);
	ck_assert_str_eq(harness_str(o, "id"), "fits");
	ck_assert_int_eq(harness_int(o, "result.pid"), daemon_.pid);
	json_object_put(o);
	free(line);

	/* One byte over: refused, and the rest of the line is skipped. */
	line = rpc_padded_ping(4097, "over");
	o = rpc_raw(c, line);
	rpc_assert_error_null_id(o, -32600);
	json_object_put(o);
	free(line);
	rpc_assert_usable(c);

	/* Far over, and arriving in pieces: one error, not one per piece. */
	line = rpc_padded_ping(200000, "huge");
	for (size_t off = 0; off < 200001; off += 50000) {
		size_t n = 200001 - off < 50000 ? 200001 - off : 50000;

		ck_assert_int_eq(harness_send_raw(c, line + off, n), 0);
		harness_sleep_ms(20);
	}
	free(line);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	rpc_assert_error_null_id(o, -32600);
	json_object_put(o);
	rpc_assert_usable(c);

	/* A long line followed at once by a good one in the same write. */
	line = rpc_padded_ping(10000, "long");
	line = realloc(line, 10001 + 64);
	strcat(line, "{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"ping\"}\n");
	harness_send(c, line);
	free(line);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	rpc_assert_error_null_id(o, -32600);
	json_object_put(o);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert_str_eq(harness_str(o, "id"), "after");
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_garbage_bytes)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	static const char nul_line[] = "\0\0{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
	unsigned char junk[1024];
	unsigned seed = 12345;
	json_object *o;

	/* Random bytes without a newline in them, then a newline. */
	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245 + 12345;
		junk[i] = (unsigned char)(seed >> 16);
		if (junk[i] == '\n' || junk[i] == ' ' || junk[i] == '\t' || junk[i] == '\r')
			junk[i] = 0xff;
	}
	ck_assert_int_eq(harness_send_raw(c, (char *)junk, sizeof(junk)), 0);
	harness_send(c, "\n");
	o = harness_read_json(c, HARNESS_WAIT_MS);
	rpc_assert_error_null_id(o, -32700);
	json_object_put(o);
	rpc_assert_usable(c);

	/* NUL bytes in front of a request do not make it valid. */
	ck_assert_int_eq(harness_send_raw(c, nul_line, sizeof(nul_line) - 1), 0);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert_msg(json_object_object_get_ex(o, "error", NULL), "%s",
		      json_object_to_json_string(o));
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_deep_nesting)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	char line[4000];
	json_object *o;
	size_t n = 0;

	/* Far deeper than any request needs, in params and at the top. */
	n += (size_t)snprintf(
		line, sizeof(line),
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":");
	for (int i = 0; i < 1000; i++)
		line[n++] = '[';
	line[n++] = '\n';
	line[n] = '\0';
	o = rpc_raw(c, line);
	rpc_assert_error_null_id(o, -32700);
	json_object_put(o);
	memset(line, '[', 3000);
	memcpy(line + 3000, "\n", 2);
	o = rpc_raw(c, line);
	rpc_assert_error_null_id(o, -32700);
	json_object_put(o);
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

START_TEST(test_half_written_then_hang_up)
{
	struct harness_client *c;
	json_object *r;

	/* Clients that hang up in the middle of a request, or with a call pending. */
	for (int i = 0; i < 20; i++) {
		c = harness_client_new(daemon_.sock);
		harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sub");
		harness_client_free(c);
	}
	c = harness_client_new(daemon_.sock);
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":"
			"{\"request_id\":\"orphan\",\"wait\":true,"
			"\"node\":{\"argv\":[\"sleep\",\"0.3\"]}}}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"wait\",\"params\":"
			"{\"request_ids\":[\"orphan\"]}}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscribe\"}\n");
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"submit\",\"params\":{\"nod");
	r = harness_response(c, 3, HARNESS_WAIT_MS);
	json_object_put(r);
	harness_client_free(c);

	c = harness_client_new(daemon_.sock);
	r = harness_wait_job(c, "orphan");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	rpc_assert_usable(c);
	harness_client_free(c);

	/* Half-closed: what was sent before the shutdown still gets its answer. */
	c = harness_client_new(daemon_.sock);
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"submit\",\"params\":"
			"{\"wait\":true,\"node\":{\"argv\":[\"sleep\",\"0.2\"]}}}\n"
			"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"sub");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	r = harness_response(c, 9, HARNESS_WAIT_MS);
	ck_assert_str_eq(harness_str(r, "result.job.result"), "success");
	json_object_put(r);
	ck_assert(harness_wait_eof(c, HARNESS_WAIT_MS));
	harness_client_free(c);
	ck_assert_int_eq(kill(daemon_.pid, 0), 0);
}
END_TEST

#define RPC_MANY_CLIENTS 300

START_TEST(test_many_clients)
{
	struct harness_client **cs = calloc(RPC_MANY_CLIENTS, sizeof(*cs));
	char line[128];

	for (int i = 0; i < RPC_MANY_CLIENTS; i++)
		cs[i] = harness_client_new(daemon_.sock);
	for (int i = 0; i < RPC_MANY_CLIENTS; i++) {
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
		harness_send(cs[i], line);
	}
	for (int i = 0; i < RPC_MANY_CLIENTS; i++) {
		json_object *o = harness_read_json(cs[i], HARNESS_WAIT_MS);

		/* Each client gets its own answer and nobody else's. */
		ck_assert_int_eq(harness_int(o, "id"), i);
		ck_assert_int_eq(harness_int(o, "result.pid"), daemon_.pid);
		json_object_put(o);
	}
	for (int i = 0; i < RPC_MANY_CLIENTS; i++)
		harness_client_free(cs[i]);
	free(cs);
}
END_TEST

START_TEST(test_many_clients_pipelined)
{
	struct harness_client *c = harness_client_new(daemon_.sock);
	char *text = malloc(1000 * 64), *p = text;
	bool seen[1000] = {false};

	/* A thousand requests in one write: every one answered, once. */
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
	harness_send(c, text);
	free(text);
	for (int i = 0; i < 1000; i++) {
		json_object *o = harness_read_json(c, HARNESS_WAIT_MS);
		long long id = harness_int(o, "id");

		ck_assert(id >= 0 && id < 1000);
		ck_assert(!seen[id]);
		seen[id] = true;
		json_object_put(o);
	}
	rpc_assert_usable(c);
	harness_client_free(c);
}
END_TEST

static bool rpc_ping_works(void *arg)
{
	struct harness_client *c = harness_connect(arg);
	bool eof, ok = false;
	char *line;

	if (!c)
		return false;
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
	line = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	ok = line && strstr(line, "\"result\"");
	free(line);
	harness_client_free(c);
	return ok;
}

START_TEST(test_max_connections)
{
	struct harness_daemon d;
	struct harness_client *cs[3], *extra;
	json_object *o;

	harness_daemon_new(&d, "[daemon]\nmax_connections = 3\n");
	for (int i = 0; i < 3; i++) {
		cs[i] = harness_client_new(d.sock);
		o = harness_ok(cs[i], "ping", NULL);
		json_object_put(o);
	}
	/* The fourth is told why, then closed. */
	extra = harness_client_new(d.sock);
	o = harness_read_json(extra, HARNESS_WAIT_MS);
	rpc_assert_error_null_id(o, 1005);
	json_object_put(o);
	ck_assert(harness_wait_eof(extra, HARNESS_WAIT_MS));
	harness_client_free(extra);
	/* The others are unharmed. */
	for (int i = 0; i < 3; i++) {
		o = harness_ok(cs[i], "ping", NULL);
		json_object_put(o);
	}
	/* One leaves: there is room again. */
	harness_client_free(cs[0]);
	ck_assert(harness_until(rpc_ping_works, d.sock, HARNESS_WAIT_MS));
	harness_client_free(cs[1]);
	harness_client_free(cs[2]);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *rpc_suite(void)
{
	Suite *s = suite_create("daemon-rpc");
	TCase *tc = tcase_create("rpc");

	tcase_add_checked_fixture(tc, rpc_setup, rpc_teardown);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_parse_error);
	tcase_add_test(tc, test_invalid_request_not_object);
	tcase_add_test(tc, test_invalid_request_envelope);
	tcase_add_test(tc, test_bad_id_types);
	tcase_add_test(tc, test_empty_batch);
	tcase_add_test(tc, test_batch_mixed);
	tcase_add_test(tc, test_batch_with_pending_call);
	tcase_add_test(tc, test_batch_only_notifications);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_ids_echoed);
	tcase_add_test(tc, test_notifications_never_answered);
	tcase_add_test(tc, test_blank_lines);
	tcase_add_test(tc, test_oversized_line);
	tcase_add_test(tc, test_garbage_bytes);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_half_written_then_hang_up);
	tcase_add_test(tc, test_many_clients);
	tcase_add_test(tc, test_many_clients_pipelined);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_max_connections);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(rpc_suite());
}
