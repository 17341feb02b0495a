/*
 * Dispatch policy, in-process: the rpc layer over a socketpair with a peer
 * of any uid we like, and method tables whose flags (RPC_ADMIN, RPC_OWNER,
 * RPC_CAPPED) dispatch checks before a handler runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "connection.h"
#include "methods.h"
#include "rpc.h"
#include "services.h"
#include "testutil.h"
#include "wire_errors.h"

struct policy {
	struct event_base *base;
	struct connection *conn;
	struct rpc_methods methods;
	int client;
	size_t runs;		  /* handlers that ran */
	struct rpc_call *pending; /* a call left pending by "hold" */
	uid_t owner;		  /* what owner_of answers */
	int owner_result;	  /* and with what result */
	size_t shutdowns;	  /* the real table's shutdown hook */
};

static struct policy pol;

static struct rpc_result *policy_run(struct rpc_call *call, json_object *params)
{
	pol.runs++;
	return rpc_success(call, NULL);
}

static struct rpc_result *policy_hold(struct rpc_call *call, json_object *params)
{
	pol.runs++;
	pol.pending = call;
	return rpc_pending(call);
}

static const struct rpc_method policy_table[] = {
	{.name = "admin", .handler = policy_run, .flags = RPC_ADMIN | RPC_CAPPED},
	{.name = "owned", .handler = policy_run, .flags = RPC_OWNER | RPC_CAPPED},
	{.name = "open", .handler = policy_run, .flags = RPC_CAPPED},
	{.name = "uncapped", .handler = policy_run, .flags = 0},
	{.name = "hold", .handler = policy_hold, .flags = RPC_CAPPED},
};

static int policy_owner_of(void *ctx, json_object *params, uid_t *ret_owner)
{
	if (pol.owner_result == 0)
		*ret_owner = pol.owner;
	return pol.owner_result;
}

static void policy_line(void *ctx, struct connection *conn, const char *line, size_t len)
{
	rpc_handle_line(&pol.methods, conn, line, len);
}

static bool policy_allowed(void *ctx, const struct peer *peer)
{
	return true;
}

static void policy_closed(void *ctx, struct connection *conn)
{
	pol.conn = NULL;
}

static const struct connection_ops policy_ops = {
	.on_line = policy_line,
	.on_close = policy_closed,
	.peer_allowed = policy_allowed,
};

static void policy_open(uid_t uid, size_t max_pending_calls)
{
	struct connection_limits limits = {
		.max_line = 4096,
		.max_batch = 10,
		.max_answer_bytes = 1 << 20,
		.max_pending_calls = max_pending_calls,
		.max_pending_bytes = 1 << 20,
		.subscriber_max = 1 << 20,
	};
	struct peer peer = {.uid = uid, .gid = uid, .pid = 1};
	int sv[2];

	memset(&pol, 0, sizeof(pol));
	pol.methods = (struct rpc_methods){
		.methods = policy_table,
		.count = sizeof(policy_table) / sizeof(policy_table[0]),
		.ctx = &pol,
		.owner_of = policy_owner_of,
	};
	pol.owner_result = -ENOENT;
	pol.base = event_base_new();
	ck_assert_ptr_nonnull(pol.base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	pol.client = sv[1];
	pol.conn = connection_new(pol.base, sv[0], &peer, &limits, &policy_ops, &pol);
	ck_assert_ptr_nonnull(pol.conn);
}

static void policy_close(void)
{
	if (pol.conn)
		connection_close(pol.conn);
	close(pol.client);
	event_base_free(pol.base);
}

static char policy_buf[65536];
static size_t policy_len;

static bool policy_has_answer(void *data)
{
	ssize_t n = read(pol.client, policy_buf + policy_len, sizeof(policy_buf) - 1 - policy_len);

	if (n > 0)
		policy_len += (size_t)n;
	return memchr(policy_buf, '\n', policy_len) != NULL;
}

/* Sends one request line and returns its answer (a new object). */
static json_object *policy_call(const char *method, const char *params)
{
	char line[512];
	json_object *answer;
	char *eol;
	int n = snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}\n", method,
			 params);

	ck_assert_int_eq(write(pol.client, line, (size_t)n), n);
	policy_len = 0;
	ck_assert_msg(tu_run_until(pol.base, policy_has_answer, NULL, 10), "no answer to %s",
		      method);
	eol = memchr(policy_buf, '\n', policy_len);
	*eol = '\0';
	answer = json_tokener_parse(policy_buf);
	ck_assert_msg(answer != NULL, "bad answer %s", policy_buf);
	return answer;
}

/* The error code of an answer, 0 for a success. */
static int policy_code(json_object *answer)
{
	json_object *err, *code;

	if (!json_object_object_get_ex(answer, "error", &err))
		return 0;
	ck_assert(json_object_object_get_ex(err, "code", &code));
	return json_object_get_int(code);
}

static const char *policy_message(json_object *answer)
{
	json_object *err, *msg;

	ck_assert(json_object_object_get_ex(answer, "error", &err));
	ck_assert(json_object_object_get_ex(err, "message", &msg));
	return json_object_get_string(msg);
}

/* A uid that is neither root nor ours. */
static uid_t policy_stranger(void)
{
	return geteuid() == 4242 ? 4343 : 4242;
}

START_TEST(test_admin_refused_for_others)
{
	json_object *a;

	policy_open(policy_stranger(), 8);
	a = policy_call("admin", "{}");
	ck_assert_int_eq(policy_code(a), WIRE_PERMISSION_DENIED);
	ck_assert_ptr_nonnull(strstr(policy_message(a), "only root or uid"));
	ck_assert_uint_eq(pol.runs, 0);
	json_object_put(a);
	policy_close();
}
END_TEST

START_TEST(test_admin_allowed_for_root_and_us)
{
	json_object *a;
	uid_t uids[] = {0, geteuid()};

	for (size_t i = 0; i < 2; i++) {
		policy_open(uids[i], 8);
		a = policy_call("admin", "{}");
		ck_assert_int_eq(policy_code(a), 0);
		ck_assert_uint_eq(pol.runs, 1);
		json_object_put(a);
		policy_close();
	}
}
END_TEST

START_TEST(test_owner_only)
{
	uid_t me = policy_stranger();
	json_object *a;

	policy_open(me, 8);
	/* Another's job: 1004 naming the job and its owner; the handler never runs. */
	pol.owner_result = 0;
	pol.owner = me + 1;
	a = policy_call("owned", "{\"request_id\":\"theirs\"}");
	ck_assert_int_eq(policy_code(a), WIRE_PERMISSION_DENIED);
	ck_assert_ptr_nonnull(strstr(policy_message(a), "job \"theirs\" belongs to uid"));
	ck_assert_ptr_nonnull(strstr(policy_message(a), "may owned it"));
	ck_assert_uint_eq(pol.runs, 0);
	json_object_put(a);
	/* Its own job. */
	pol.owner = me;
	a = policy_call("owned", "{\"request_id\":\"mine\"}");
	ck_assert_int_eq(policy_code(a), 0);
	ck_assert_uint_eq(pol.runs, 1);
	json_object_put(a);
	/* No such job: the handler answers (not found, in a real one). */
	pol.owner_result = -ENOENT;
	a = policy_call("owned", "{\"request_id\":\"nobody\"}");
	ck_assert_int_eq(policy_code(a), 0);
	ck_assert_uint_eq(pol.runs, 2);
	json_object_put(a);
	policy_close();
	/* root may act on anyone's job. */
	policy_open(0, 8);
	pol.owner_result = 0;
	pol.owner = 777;
	a = policy_call("owned", "{\"request_id\":\"theirs\"}");
	ck_assert_int_eq(policy_code(a), 0);
	json_object_put(a);
	policy_close();
}
END_TEST

START_TEST(test_capped_counts_calls)
{
	const char *hold = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"hold\",\"params\":{}}\n";
	json_object *a;

	/* max_pending_calls 1: one call pending, the next capped one is refused. */
	policy_open(policy_stranger(), 1);
	ck_assert_int_eq(write(pol.client, hold, strlen(hold)), (ssize_t)strlen(hold));
	while (!pol.pending)
		event_base_loop(pol.base, EVLOOP_ONCE);
	a = policy_call("open", "{}");
	ck_assert_int_eq(policy_code(a), WIRE_BUSY);
	json_object_put(a);
	/* A method without RPC_CAPPED is not counted against the cap. */
	a = policy_call("uncapped", "{}");
	ck_assert_int_eq(policy_code(a), 0);
	json_object_put(a);
	rpc_success(pol.pending, NULL);
	policy_close();
}
END_TEST

static void policy_shutdown_cb(void *ctx, const char *why)
{
	pol.shutdowns++;
}

START_TEST(test_real_table_shutdown_is_admin_only)
{
	struct services svc = {.shutdown = policy_shutdown_cb};
	json_object *a;

	policy_open(policy_stranger(), 8);
	methods_table_init(&pol.methods, &svc);
	a = policy_call("shutdown", "{}");
	ck_assert_int_eq(policy_code(a), WIRE_PERMISSION_DENIED);
	ck_assert_uint_eq(pol.shutdowns, 0);
	json_object_put(a);
	policy_close();

	policy_open(geteuid(), 8);
	methods_table_init(&pol.methods, &svc);
	a = policy_call("shutdown", "{}");
	ck_assert_int_eq(policy_code(a), 0);
	ck_assert_uint_eq(pol.shutdowns, 1);
	json_object_put(a);
	policy_close();
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("rpc-policy");
	TCase *tc = tcase_create("dispatch");

	tcase_add_test(tc, test_admin_refused_for_others);
	tcase_add_test(tc, test_admin_allowed_for_root_and_us);
	tcase_add_test(tc, test_owner_only);
	tcase_add_test(tc, test_capped_counts_calls);
	tcase_add_test(tc, test_real_table_shutdown_is_admin_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(policy_suite());
}
