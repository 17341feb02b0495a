/* Check tests for libcoord: a scripted fake daemon (unit) and the real coordinatord (integration).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coord.h"
#include "testd.h"

/* ---- a fake daemon that plays a script (see testd.h) ---- */

static void fake_start(struct testd_fake *f, const char *const *script)
{
	ck_assert_int_eq(testd_fake_start(f, script), 0);
}

static void fake_stop(struct testd_fake *f)
{
	testd_fake_stop(f);
}

static struct coord_conn *fake_connect(struct testd_fake *f)
{
	struct coord_conn *conn = NULL;
	struct coord_error err;

	ck_assert_msg(coord_conn_open(f->path, &conn, &err) == 0, "%s", err.message);
	return conn;
}

START_TEST(test_connect_missing)
{
	struct coord_conn *conn = NULL;
	struct coord_error err;

	ck_assert_int_eq(coord_conn_open("/nonexistent/coord/s.sock", &conn, &err), -1);
	ck_assert_ptr_null(conn);
	ck_assert_int_eq(err.kind, COORD_ERR_CONNECT);
	ck_assert_int_eq(err.sys_errno, ENOENT);
	ck_assert_str_eq(err.socket_path, "/nonexistent/coord/s.sock");
	ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/coord/s.sock"));
	ck_assert_ptr_nonnull(strstr(err.message, "is coordinatord running?"));
}
END_TEST

START_TEST(test_connect_env_path)
{
	struct coord_conn *conn = NULL;
	struct coord_error err;

	setenv("COORD_SOCKET", "/nonexistent/env.sock", 1);
	ck_assert_int_eq(coord_conn_open(NULL, &conn, &err), -1);
	ck_assert_str_eq(err.socket_path, "/nonexistent/env.sock");
	unsetenv("COORD_SOCKET");
}
END_TEST

START_TEST(test_task_new_prepare)
{
	const char *argv[] = {"echo", "hi", NULL};
	json_object *task = coord_task_new(argv), *copy, *v;

	ck_assert_ptr_nonnull(task);
	ck_assert_ptr_null(coord_task_new((const char *const[]){NULL}));
	setenv("COORD_NODE_ID", "node-7", 1);
	copy = coord_task_prepare(task);
	ck_assert(json_object_object_get_ex(copy, "parent_node_id", &v));
	ck_assert_str_eq(json_object_get_string(v), "node-7");
	ck_assert(!json_object_object_get_ex(task, "parent_node_id", NULL));
	json_object_put(copy);
	/* An explicit null (a root) is kept. */
	json_object_object_add(task, "parent_node_id", NULL);
	copy = coord_task_prepare(task);
	ck_assert(json_object_object_get_ex(copy, "parent_node_id", &v));
	ck_assert_ptr_null(v);
	json_object_put(copy);
	unsetenv("COORD_NODE_ID");
	copy = coord_task_prepare(task);
	json_object_put(copy);
	ck_assert_ptr_null(coord_task_prepare(NULL));
	json_object_put(task);
}
END_TEST

START_TEST(test_out_of_order_and_notifications)
{
	static const char *const script[] = {
		"<",
		"<",
		"<",
		">{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"n\":1}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"r\":3}}\n\n",
		">{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":1001,\"message\":\"no such "
		"job\"}}\n",
		">{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"n\":2}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"r\":1}}\n",
		"W",
		NULL,
	};
	struct testd_fake f;
	struct coord_conn *conn;
	struct coord_error err;
	json_object *res = NULL, *note = NULL, *v;
	uint64_t id1, id2, id3, any;

	fake_start(&f, script);
	conn = fake_connect(&f);
	ck_assert_int_eq(coord_call_send(conn, "ping", NULL, &id1, &err), 0);
	ck_assert_int_eq(coord_call_send(conn, "job", NULL, &id2, &err), 0);
	ck_assert_int_eq(coord_call_send(conn, "ping", NULL, &id3, &err), 0);
	ck_assert_uint_eq(coord_conn_in_flight(conn), 3);
	/* Ask for the first one; the others are queued meanwhile. */
	ck_assert_int_eq(coord_call_recv(conn, id1, 5000, &res, &err), 0);
	ck_assert(json_object_object_get_ex(res, "r", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	json_object_put(res);
	ck_assert_int_eq(coord_call_recv(conn, id2, 5000, &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_RPC);
	ck_assert_int_eq(err.code, 1001);
	ck_assert_str_eq(err.message, "no such job");
	ck_assert_int_eq(coord_call_recv_any(conn, 0, &any, &res, &err), 0);
	ck_assert_uint_eq(any, id3);
	json_object_put(res);
	ck_assert_uint_eq(coord_conn_in_flight(conn), 0);
	ck_assert_int_eq(coord_notify_next(conn, 0, &note, &err), 0);
	ck_assert(json_object_object_get_ex(note, "params", &v));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(v, "n")), 1);
	json_object_put(note);
	ck_assert_int_eq(coord_notify_next(conn, 1000, &note, &err), 0);
	json_object_put(note);
	ck_assert_int_eq(coord_notify_next(conn, 0, &note, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_TIMEOUT);
	coord_conn_close(conn);
	fake_stop(&f);
}
END_TEST

START_TEST(test_garbage_is_an_error_not_a_crash)
{
	static const char *const script[] = {
		"<",
		">this is not json\n",
		">[1,2,3]\n",
		">{\"jsonrpc\":\"2.0\",\"id\":77,\"result\":{}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true},\"error\":{}}\n",
		">{\"id\":1,\"result\":{}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":\"one\",\"result\":{}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}\n",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}\n",
		NULL,
	};
	struct testd_fake f;
	struct coord_conn *conn;
	struct coord_error err;
	json_object *res = NULL;
	uint64_t id;
	int protocol_errors = 0, r;

	fake_start(&f, script);
	conn = fake_connect(&f);
	ck_assert_int_eq(coord_call_send(conn, "ping", NULL, &id, &err), 0);
	/* Each bad line is reported; the stream stays usable and the answer arrives. */
	for (int i = 0; i < 20; i++) {
		r = coord_call_recv(conn, id, 5000, &res, &err);
		if (r == 0)
			break;
		ck_assert_msg(err.kind == COORD_ERR_PROTOCOL, "kind %d: %s", err.kind, err.message);
		protocol_errors++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_ge(protocol_errors, 1);
	json_object_put(res);
	coord_conn_close(conn);
	fake_stop(&f);
}
END_TEST

START_TEST(test_closed_and_timeout)
{
	static const char *const script[] = {"<", "W", "X", NULL};
	struct testd_fake f;
	struct coord_conn *conn;
	struct coord_error err;
	json_object *res = NULL;

	fake_start(&f, script);
	conn = fake_connect(&f);
	ck_assert_int_eq(coord_call(conn, "ping", NULL, 50, &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_TIMEOUT);
	ck_assert_int_eq(coord_call_recv_any(conn, 5000, NULL, &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_CLOSED);
	ck_assert_int_eq(coord_call(conn, "ping", NULL, 1000, &res, &err), -1);
	ck_assert(err.kind == COORD_ERR_CLOSED || err.kind == COORD_ERR_IO);
	coord_conn_close(conn);
	fake_stop(&f);
}
END_TEST

START_TEST(test_event_loop_fd)
{
	static const char *const script[] = {
		"<",
		">{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"pong\":1}}\n",
		"W",
		NULL,
	};
	struct testd_fake f;
	struct coord_conn *conn;
	struct coord_error err;
	json_object *res = NULL;
	struct pollfd pfd;
	uint64_t id;

	fake_start(&f, script);
	conn = fake_connect(&f);
	ck_assert_int_eq(coord_call_send(conn, "ping", NULL, &id, &err), 0);
	pfd.fd = coord_conn_fd(conn);
	pfd.events = POLLIN;
	ck_assert_int_ge(pfd.fd, 0);
	while (!coord_conn_pending(conn)) {
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		ck_assert_int_eq(coord_conn_dispatch(conn, &err), 0);
	}
	ck_assert_int_eq(coord_call_recv(conn, id, 0, &res, &err), 0);
	json_object_put(res);
	coord_conn_close(conn);
	coord_conn_close(NULL);
	fake_stop(&f);
}
END_TEST

/* ---- against the real daemon ---- */

static struct testd daemon_under_test;

static void real_setup(void)
{
	ck_assert_msg(testd_start(&daemon_under_test, NULL) == 0, "cannot start $COORDINATORD");
}

static void real_teardown(void)
{
	testd_stop(&daemon_under_test);
}

static struct coord_conn *real_connect(void)
{
	struct coord_conn *conn = NULL;
	struct coord_error err;

	ck_assert_msg(coord_conn_open(daemon_under_test.sock, &conn, &err) == 0, "%s", err.message);
	return conn;
}

static json_object *get_path(json_object *obj, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

START_TEST(test_real_ping)
{
	struct coord_conn *conn = real_connect();
	struct coord_error err;
	json_object *res = NULL;

	ck_assert_msg(coord_call(conn, "ping", NULL, 5000, &res, &err) == 0, "%s", err.message);
	ck_assert_ptr_nonnull(get_path(res, "version", NULL));
	ck_assert_int_gt(json_object_get_int(get_path(res, "pid", NULL)), 0);
	json_object_put(res);
	ck_assert_int_eq(coord_call(conn, "no_such_method", NULL, 5000, &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_RPC);
	ck_assert_int_eq(err.code, -32601);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_submit_wait)
{
	const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	struct coord_conn *conn = real_connect();
	json_object *task = coord_task_new(argv), *res = NULL;
	struct coord_error err;

	json_object_object_add(task, "wait", json_object_new_boolean(1));
	ck_assert_msg(coord_submit(conn, task, 30000, &res, &err) == 0, "%s", err.message);
	ck_assert_str_eq(json_object_get_string(get_path(res, "job", "status")), "closed");
	ck_assert_str_eq(json_object_get_string(get_path(res, "job", "result")), "failure");
	ck_assert_int_eq(json_object_get_int(get_path(res, "job", "exit_code")), 3);
	ck_assert_str_eq(json_object_get_string(get_path(res, "message", "type")),
			 "request_failure");
	ck_assert_str_eq(json_object_get_string(
				 get_path(get_path(res, "message", "result"), "stdout", NULL)),
			 "out\n");
	ck_assert_str_eq(
		json_object_get_string(get_path(get_path(res, "message", "error"), "kind", NULL)),
		"exit");
	json_object_put(res);
	json_object_put(task);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_pipelined_submits)
{
	const char *argv[] = {"true", NULL};
	struct coord_conn *conn = real_connect();
	json_object *task = coord_task_new(argv), *res;
	const char **ids = calloc(200, sizeof(*ids));
	json_object *jobs[200];
	struct coord_error err;
	char seen[201] = {0};
	uint64_t id;

	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(coord_call_send(conn, "submit", task, &id, &err), 0);
		ck_assert_uint_eq(id, (uint64_t)i + 1);
	}
	for (int i = 0; i < 200; i++) {
		res = NULL;
		ck_assert_msg(coord_call_recv_any(conn, 30000, &id, &res, &err) == 0, "%s",
			      err.message);
		ck_assert(id >= 1 && id <= 200 && !seen[id]);
		seen[id] = 1;
		jobs[i] = res;
		ids[i] = json_object_get_string(get_path(res, "job", "request_id"));
		ck_assert_ptr_nonnull(ids[i]);
	}
	res = NULL;
	ck_assert_msg(coord_wait(conn, ids, 200, 60000, &res, &err) == 0, "%s", err.message);
	ck_assert_int_eq(json_object_array_length(get_path(res, "jobs", NULL)), 200);
	json_object_put(res);
	for (int i = 0; i < 200; i++)
		json_object_put(jobs[i]);
	free(ids);
	json_object_put(task);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_subscribe)
{
	const char *argv[] = {"true", NULL};
	struct coord_conn *conn = real_connect(), *other = real_connect();
	json_object *task = coord_task_new(argv), *params = json_object_new_object();
	json_object *types = json_object_new_array(), *res = NULL, *note = NULL, *sub;
	struct coord_error err;
	const char *rid;

	json_object_array_add(types, json_object_new_string("request_success"));
	json_object_object_add(params, "types", types);
	ck_assert_msg(coord_subscribe(conn, params, &res, &err) == 0, "%s", err.message);
	sub = json_object_get(get_path(res, "subscription", NULL));
	ck_assert_ptr_nonnull(get_path(res, "seq", NULL));
	json_object_put(res);
	json_object_object_add(task, "request_id", json_object_new_string("lib-sub-1"));
	ck_assert_int_eq(coord_submit(other, task, 10000, &res, &err), 0);
	json_object_put(res);
	ck_assert_msg(coord_notify_next(conn, 20000, &note, &err) == 0, "%s", err.message);
	ck_assert_str_eq(json_object_get_string(get_path(note, "method", NULL)), "message");
	rid = json_object_get_string(
		get_path(get_path(note, "params", "message"), "request_id", NULL));
	ck_assert_str_eq(rid, "lib-sub-1");
	ck_assert_str_eq(
		json_object_get_string(get_path(get_path(note, "params", "message"), "type", NULL)),
		"request_success");
	json_object_put(note);
	ck_assert_msg(coord_unsubscribe(conn, sub, &err) == 0, "%s", err.message);
	json_object_put(sub);
	json_object_put(params);
	json_object_put(task);
	coord_conn_close(other);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_job_cancel_and_errors)
{
	const char *argv[] = {"sleep", "30", NULL};
	struct coord_conn *conn = real_connect();
	json_object *task = coord_task_new(argv), *res = NULL;
	const char *ids[] = {"lib-cancel-1"};
	struct coord_error err;

	ck_assert_int_eq(coord_job(conn, "no-such-job", &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_RPC);
	ck_assert_int_eq(err.code, COORD_RPC_NOT_FOUND);
	json_object_object_add(task, "request_id", json_object_new_string("lib-cancel-1"));
	ck_assert_int_eq(coord_submit(conn, task, 10000, &res, &err), 0);
	json_object_put(res);
	ck_assert_int_eq(coord_submit(conn, task, 10000, &res, &err), -1);
	ck_assert_int_eq(err.code, COORD_RPC_CONFLICT);
	ck_assert_int_eq(coord_wait(conn, ids, 1, 100, &res, &err), -1);
	ck_assert_int_eq(err.code, COORD_RPC_TIMEOUT);
	ck_assert_msg(coord_cancel(conn, "lib-cancel-1", 1, &res, &err) == 0, "%s", err.message);
	json_object_put(res);
	ck_assert_int_eq(coord_wait(conn, ids, 1, 20000, &res, &err), 0);
	json_object_put(res);
	ck_assert_int_eq(coord_job(conn, "lib-cancel-1", &res, &err), 0);
	ck_assert_str_eq(json_object_get_string(get_path(res, "job", "result")), "failure");
	ck_assert_str_eq(
		json_object_get_string(get_path(get_path(res, "job", "error"), "kind", NULL)),
		"cancelled");
	json_object_put(res);
	json_object_put(task);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_rerun)
{
	const char *argv[] = {"sleep", "30", NULL};
	struct coord_conn *conn = real_connect();
	json_object *task = coord_task_new(argv), *res = NULL, *node, *bad;
	const char *ids[] = {"lib-rerun-2"};
	struct coord_error err;

	json_object_object_add(task, "request_id", json_object_new_string("lib-rerun-1"));
	ck_assert_int_eq(coord_submit(conn, task, 10000, &res, &err), 0);
	json_object_put(res);
	/* Still opened: conflict. */
	ck_assert_int_eq(coord_rerun(conn, "lib-rerun-1", NULL, NULL, &res, &err), -1);
	ck_assert_int_eq(err.code, COORD_RPC_CONFLICT);
	ck_assert_msg(coord_cancel(conn, "lib-rerun-1", 1, &res, &err) == 0, "%s", err.message);
	json_object_put(res);
	node = json_tokener_parse("{\"argv\": [\"true\"]}");
	ck_assert_msg(coord_rerun(conn, "lib-rerun-1", "lib-rerun-2", node, &res, &err) == 0, "%s",
		      err.message);
	ck_assert_str_eq(json_object_get_string(get_path(res, "job", "rerun_of")), "lib-rerun-1");
	json_object_put(res);
	ck_assert_int_eq(coord_wait(conn, ids, 1, 20000, &res, &err), 0);
	json_object_put(res);
	/* node must be an object; nothing is sent otherwise. */
	bad = json_object_new_array();
	ck_assert_int_eq(coord_rerun(conn, "lib-rerun-1", NULL, bad, &res, &err), -1);
	ck_assert_int_eq(err.kind, COORD_ERR_INVALID);
	json_object_put(bad);
	json_object_put(node);
	json_object_put(task);
	coord_conn_close(conn);
}
END_TEST

START_TEST(test_real_parent_from_env)
{
	const char *argv[] = {"true", NULL};
	struct coord_conn *conn = real_connect();
	json_object *task = coord_task_new(argv), *res = NULL;
	struct coord_error err;

	setenv("COORD_NODE_ID", "lib-parent-node", 1);
	ck_assert_int_eq(coord_submit(conn, task, 10000, &res, &err), 0);
	unsetenv("COORD_NODE_ID");
	ck_assert_str_eq(json_object_get_string(get_path(res, "job", "parent_node_id")),
			 "lib-parent-node");
	json_object_put(res);
	json_object_put(task);
	coord_conn_close(conn);
}
END_TEST

static void real_checked_setup(void)
{
	real_setup();
}

START_TEST(test_real_shutdown_answers)
{
	struct coord_conn *conn = real_connect();
	json_object *res = NULL;
	struct coord_error err;
	int status;

	/* The contract: shutdown answers {} first, then drains and exits 0. */
	ck_assert_msg(coord_call(conn, "shutdown", NULL, 10000, &res, &err) == 0, "%s: %s",
		      coord_error_kind_name(err.kind), err.message);
	ck_assert(json_object_is_type(res, json_type_object));
	json_object_put(res);
	coord_conn_close(conn);
	status = testd_wait_exit(&daemon_under_test, 30000);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *libcoord_suite(const char *which)
{
	Suite *s = suite_create("libcoord");
	TCase *tc;

	if (strcmp(which, "unit") == 0) {
		tc = tcase_create("unit");
		tcase_add_test(tc, test_connect_missing);
		tcase_add_test(tc, test_connect_env_path);
		tcase_add_test(tc, test_task_new_prepare);
		tcase_add_test(tc, test_out_of_order_and_notifications);
		tcase_add_test(tc, test_garbage_is_an_error_not_a_crash);
		tcase_add_test(tc, test_closed_and_timeout);
		tcase_add_test(tc, test_event_loop_fd);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("integration");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, real_setup, real_teardown);
	tcase_add_test(tc, test_real_ping);
	tcase_add_test(tc, test_real_submit_wait);
	tcase_add_test(tc, test_real_pipelined_submits);
	tcase_add_test(tc, test_real_subscribe);
	tcase_add_test(tc, test_real_job_cancel_and_errors);
	tcase_add_test(tc, test_real_rerun);
	tcase_add_test(tc, test_real_parent_from_env);
	suite_add_tcase(s, tc);
	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, 60);
	/* Checked: the daemon must be this test process's child so it can reap it. */
	tcase_add_checked_fixture(tc, real_checked_setup, real_teardown);
	tcase_add_test(tc, test_real_shutdown_answers);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr = srunner_create(libcoord_suite(argc > 1 ? argv[1] : "unit"));
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
