/*
 * Hostile and racy clients against the coordinator's core (issue 9): a
 * cascading cancel over duplicate node ids and over long chains, a wait on
 * many copies of ids in a cycle, cancels across owners, cancels racing
 * with a task's end, and a tree that borrows its own slot three times.
 */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <json-c/linkhash.h>

#include "harness.h"

#define HOSTILE_CONFIG                                                                             \
	HARNESS_CONFIG_DAEMON                                                                      \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = daemon bin\n" HOSTILE_MODES

/* clang-format off */
#define HOSTILE_MODES                                                                              \
	HARNESS_CONFIG_MODE("async", "64")                                                         \
	HARNESS_CONFIG_MODE("one", "1")
/* clang-format on */

/* A ping must come back this fast while the daemon works on a hostile request. */
#define HOSTILE_PING_MS 2000

static struct harness_fixture fx;

static void hostile_setup(void)
{
	harness_fixture_start(&fx, HOSTILE_CONFIG);
}

static void hostile_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* Sends lines (each a whole request) in chunks and reads every answer; all must succeed. */
static void hostile_pipeline(struct harness_client *c, char **lines, size_t count)
{
	const size_t chunk = 256;

	for (size_t start = 0; start < count; start += chunk) {
		size_t end = start + chunk < count ? start + chunk : count;

		for (size_t i = start; i < end; i++)
			harness_send(c, lines[i]);
		for (size_t i = start; i < end; i++) {
			json_object *o = harness_read_json(c, HARNESS_WAIT_MS);

			ck_assert_msg(json_object_object_get_ex(o, "result", NULL), "%s",
				      json_object_to_json_string(o));
			json_object_put(o);
		}
	}
}

/* A blocker that holds the only slot of mode "one" until cancelled. */
static void hostile_block_mode_one(void)
{
	harness_submit_json(fx.client, "{\"request_id\":\"blocker\",\"mode\":\"one\","
				       "\"node\":{\"argv\":[\"sleep\",\"3600\"]}}");
	json_object_put(harness_wait_running(fx.client, "blocker"));
}

/* Counts one more final message of id in counts. */
static void hostile_count(struct lh_table *counts, const char *id)
{
	struct lh_entry *e = lh_table_lookup_entry(counts, id);
	char *key;

	if (e) {
		lh_entry_set_val(e, (void *)((intptr_t)lh_entry_v(e) + 1));
		return;
	}
	key = strdup(id);
	ck_assert_ptr_nonnull(key);
	lh_table_insert(counts, key, (void *)(intptr_t)1);
}

/*
 * Counts the final messages in the history per request_id (subscribe with
 * since_seq 0 replays them), of run_id (NULL: all): a table request_id ->
 * count. Reads until expected ones came, then whatever follows at once.
 */
static struct lh_table *hostile_final_messages(const char *run_id, long expected)
{
	struct harness_client *sub = harness_client_new(fx.daemon.sock);
	struct lh_table *counts = lh_kchar_table_new(1024, NULL);
	json_object *params = harness_json(
		"{\"since_seq\":0,\"types\":[\"request_success\",\"request_failure\"]}");
	json_object *n;

	if (run_id)
		json_object_object_add(params, "run_id", json_object_new_string(run_id));
	json_object_put(harness_ok(sub, "subscribe", params));
	for (long seen = 0; seen < expected; seen++) {
		n = harness_notification(sub, "message", HARNESS_WAIT_MS);
		ck_assert_msg(n != NULL, "the replay stopped after %ld final messages", seen);
		hostile_count(counts, harness_str(n, "params.message.request_id"));
		json_object_put(n);
	}
	/* A second final message of some job would come right behind. */
	while ((n = harness_notification(sub, "message", 300))) {
		hostile_count(counts, harness_str(n, "params.message.request_id"));
		json_object_put(n);
	}
	harness_client_free(sub);
	return counts;
}

static long hostile_count_of(struct lh_table *counts, const char *id)
{
	void *v;

	return lh_table_lookup_ex(counts, id, &v) ? (long)(intptr_t)v : 0;
}

static void hostile_free_counts(struct lh_table *counts)
{
	struct lh_entry *e;

	lh_foreach(counts, e) free((void *)lh_entry_k(e));
	lh_table_free(counts);
}

static void hostile_assert_job(const char *request_id, const char *status, const char *run_id)
{
	json_object *job = harness_job(fx.client, request_id);

	ck_assert_msg(strcmp(harness_str(job, "status"), status) == 0 &&
			      strcmp(harness_str(job, "run_id"), run_id) == 0,
		      "%s should be %s in run %s: %s", request_id, status, run_id,
		      json_object_to_json_string(job));
	json_object_put(job);
}

/* ---- 1. cascading cancel: duplicate node ids, and long chains ---- */

START_TEST(test_cancel_self_parent)
{
	long long t0, cancel_id, ping_id;
	json_object *r;
	char id[32];

	hostile_block_mode_one();
	/* 20 jobs that all name node "X" as their node and as their parent. */
	for (int i = 0; i < 20; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"self-%d\",\"mode\":\"one\","
				    "\"parent_node_id\":\"X\",\"node\":{\"id\":\"X\","
				    "\"argv\":[\"true\"]}}",
				    i);
	t0 = harness_now_ms();
	cancel_id = harness_call_async(fx.client, "cancel",
				       harness_json("{\"request_id\":\"self-0\"}"));
	ping_id = harness_call_async(fx.client, "ping", NULL);
	r = harness_response(fx.client, ping_id, HARNESS_WAIT_MS);
	ck_assert_msg(harness_now_ms() - t0 < HOSTILE_PING_MS,
		      "a ping after the cancel took %lld ms", harness_now_ms() - t0);
	json_object_put(r);
	r = harness_response(fx.client, cancel_id, HARNESS_WAIT_MS);
	ck_assert_str_eq(harness_str(r, "result.job.error.kind"), "cancelled");
	json_object_put(r);
	for (int i = 0; i < 20; i++) {
		json_object *job;

		snprintf(id, sizeof(id), "self-%d", i);
		job = harness_wait_job(fx.client, id);
		ck_assert_msg(strcmp(harness_str(job, "error.kind"), "cancelled") == 0, "%s: %s",
			      id, json_object_to_json_string(job));
		json_object_put(job);
	}
	json_object_put(
		harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"blocker\"}")));
}
END_TEST

#define HOSTILE_CHAIN 20000

/*
 * Submits a chain of count jobs NAME-0 .. NAME-(count-1), each the parent of
 * the next (node NAME-nI), all in mode "one" behind its blocker. With every
 * above 0, each job I with I % every == every / 2 runs argv_json at once in
 * mode "async" instead. Pipelined, so that the chain is quick to build.
 */
static void hostile_submit_chain(const char *name, int count, int every, const char *argv_json)
{
	char **lines = calloc((size_t)count, sizeof(char *));

	ck_assert_ptr_nonnull(lines);
	for (int i = 0; i < count; i++) {
		bool special = every > 0 && i % every == every / 2;
		char parent[64] = "null";

		if (i > 0)
			snprintf(parent, sizeof(parent), "\"%s-n%d\"", name, i - 1);
		ck_assert_int_ge(asprintf(&lines[i],
					  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\","
					  "\"params\":{\"request_id\":\"%s-%d\",\"mode\":\"%s\","
					  "\"parent_node_id\":%s,\"node\":{\"id\":\"%s-n%d\","
					  "\"argv\":%s}}}\n",
					  100000 + i, name, i, special ? "async" : "one", parent,
					  name, i, special ? argv_json : "[\"true\"]"),
				 0);
	}
	hostile_pipeline(fx.client, lines, (size_t)count);
	for (int i = 0; i < count; i++)
		free(lines[i]);
	free(lines);
}

/* Asserts that every job NAME-0 .. NAME-(count-1) has exactly one final message. */
static void hostile_assert_ended_once(const char *name, int count)
{
	struct lh_table *counts;
	char run[64];

	snprintf(run, sizeof(run), "%s-0", name);
	counts = hostile_final_messages(run, count);
	for (int i = 0; i < count; i++) {
		char id[64];

		snprintf(id, sizeof(id), "%s-%d", name, i);
		ck_assert_msg(hostile_count_of(counts, id) == 1, "%s has %ld final messages", id,
			      hostile_count_of(counts, id));
	}
	hostile_free_counts(counts);
}

START_TEST(test_cancel_long_chain)
{
	/* A stack of 1 MiB: a walk that recursed once per job of the chain would overflow. */
	struct rlimit stack;
	json_object *r;

	ck_assert_int_eq(getrlimit(RLIMIT_STACK, &stack), 0);
	stack.rlim_cur = 1024 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_STACK, &stack), 0);
	harness_fixture_start_over(&fx, HOSTILE_CONFIG);
	hostile_block_mode_one();
	/* Each job is the parent of the next; all wait behind the blocker. */
	hostile_submit_chain("chain", HOSTILE_CHAIN, 0, NULL);
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"chain-0\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	/* Every job of the chain closed, cancelled, the last one included. */
	json_object_put(harness_wait_job(fx.client, "chain-19999"));
	r = harness_ok(fx.client, "status", harness_json("{\"run_id\":\"chain-0\",\"limit\":1}"));
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(r, "counts.failure"), HOSTILE_CHAIN);
	json_object_put(r);
	r = harness_job(fx.client, "chain-12345");
	ck_assert_str_eq(harness_str(r, "error.kind"), "cancelled");
	json_object_put(r);
	/* ... by exactly one final message each. */
	hostile_assert_ended_once("chain", HOSTILE_CHAIN);
	/* The daemon is fine, and the blocker still runs. */
	r = harness_job(fx.client, "blocker");
	ck_assert_str_eq(harness_str(r, "status"), "opened");
	json_object_put(r);
}
END_TEST

/*
 * The chain that a cancel must get through without holding up the loop:
 * HOSTILE_CANCEL_CHAIN jobs (issue 9 names 60000; set it to run that).
 */
#define HOSTILE_CANCEL_CHAIN_DEFAULT 20000

static int hostile_cancel_chain_length(void)
{
	const char *env = getenv("HOSTILE_CANCEL_CHAIN");
	int n = env ? atoi(env) : HOSTILE_CANCEL_CHAIN_DEFAULT;

	return n > 1 ? n : HOSTILE_CANCEL_CHAIN_DEFAULT;
}

/*
 * How long a ping may take while a cascade runs: a second, or five in a
 * sanitized build (meson passes b_sanitize as COORD_SANITIZE), which is
 * ten to fifty times slower at everything.
 */
static long long hostile_ping_bound_ms(void)
{
	const char *san = getenv("COORD_SANITIZE");

	return san && *san && strcmp(san, "none") != 0 ? 5000 : 1000;
}

START_TEST(test_cancel_chain_responsive)
{
	struct harness_client *pinger = harness_client_new(fx.daemon.sock);
	long long bound = hostile_ping_bound_ms(), worst = 0, cancel_id;
	int n = hostile_cancel_chain_length(), pings = 0;
	json_object *answer, *r;
	char last[64];

	hostile_block_mode_one();
	hostile_submit_chain("rc", n, 0, NULL);
	json_object_put(harness_ok(pinger, "ping", NULL));
	cancel_id =
		harness_call_async(fx.client, "cancel", harness_json("{\"request_id\":\"rc-0\"}"));
	/* Pings on another connection, one after the other, until the cancel is answered. */
	while (!(answer = harness_next_json(fx.client, 0, NULL))) {
		long long t0 = harness_now_ms(), took;

		json_object_put(harness_ok(pinger, "ping", NULL));
		took = harness_now_ms() - t0;
		worst = took > worst ? took : worst;
		/* A job submitted below the chain meanwhile is not part of the cancel. */
		if (++pings == 1)
			harness_submit_json(pinger,
					    "{\"request_id\":\"rc-late\",\"mode\":\"one\","
					    "\"parent_node_id\":\"rc-n%d\",\"node\":{\"argv\":"
					    "[\"true\"]}}",
					    n - 1);
	}
	ck_assert_msg(worst <= bound,
		      "a ping took %lld ms while a cascade over %d jobs ran (at most %lld ms)",
		      worst, n, bound);
	ck_assert_int_eq(harness_int(answer, "id"), cancel_id);
	ck_assert_str_eq(harness_str(answer, "result.job.error.kind"), "cancelled");
	json_object_put(answer);
	/* The answer comes once every job of the chain has closed. */
	r = harness_ok(fx.client, "status", harness_json("{\"run_id\":\"rc-0\",\"limit\":1}"));
	ck_assert_int_eq(harness_int(r, "counts.failure"), n);
	ck_assert_int_eq(harness_int(r, "counts.opened"), pings > 0 ? 1 : 0);
	json_object_put(r);
	snprintf(last, sizeof(last), "rc-%d", n - 1);
	r = harness_job(fx.client, last);
	ck_assert_str_eq(harness_str(r, "error.kind"), "cancelled");
	json_object_put(r);
	if (pings > 0)
		hostile_assert_job("rc-late", "opened", "rc-0");
	hostile_assert_ended_once("rc", n);
	harness_client_free(pinger);
}
END_TEST

#define HOSTILE_SMALL_CHAIN 5000
/* Every so many jobs of a small chain, one runs at once and ends by itself. */
#define HOSTILE_SMALL_EVERY 1000

static bool hostile_run_closed(void *run_id)
{
	json_object *r =
		harness_ok(fx.client, "status",
			   harness_json("{\"run_id\":\"%s\",\"limit\":1}", (char *)run_id));
	bool closed = harness_int(r, "counts.opened") == 0;

	json_object_put(r);
	return closed;
}

START_TEST(test_cancel_chain_hangup)
{
	struct harness_client *quitter = harness_client_new(fx.daemon.sock);
	char go[256], argv[512];
	json_object *r;
	int fd;

	hostile_block_mode_one();
	/* Some jobs of the chain run at once and end by themselves once go exists. */
	snprintf(go, sizeof(go), "%s/go", fx.daemon.dir);
	snprintf(argv, sizeof(argv), "[\"sh\",\"-c\",\"while [ ! -e %s ]; do sleep 0.01; done\"]",
		 go);
	hostile_submit_chain("hc", HOSTILE_SMALL_CHAIN, HOSTILE_SMALL_EVERY, argv);
	/* The client that cancels hangs up at once, while the cascade runs. */
	harness_call_async(quitter, "cancel", harness_json("{\"request_id\":\"hc-0\"}"));
	fd = creat(go, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	harness_client_free(quitter);
	/* The cascade goes on to its end all the same. */
	ck_assert(harness_until(hostile_run_closed, "hc-0", HARNESS_WAIT_MS));
	hostile_assert_ended_once("hc", HOSTILE_SMALL_CHAIN);
	for (int i = HOSTILE_SMALL_EVERY / 2; i < HOSTILE_SMALL_CHAIN; i += HOSTILE_SMALL_EVERY) {
		char id[32];

		snprintf(id, sizeof(id), "hc-%d", i);
		r = harness_job(fx.client, id);
		ck_assert_msg(strcmp(harness_str(r, "result"), "success") == 0 ||
				      strcmp(harness_str(r, "error.kind"), "cancelled") == 0,
			      "%s: %s", id, json_object_to_json_string(r));
		json_object_put(r);
	}
	r = harness_job(fx.client, "hc-4999");
	ck_assert_str_eq(harness_str(r, "error.kind"), "cancelled");
	json_object_put(r);
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

START_TEST(test_cancel_chain_shutdown)
{
	struct harness_client *stopper;
	long long cancel_id;
	json_object *r;
	int status;

	/* Slices of 1 ms and no grace: the shutdown comes while the walk is still under way. */
	harness_fixture_start_over(
		&fx, "[daemon]\nshutdown_grace_sec = 0\ncancel_slice_ms = 1\n" HOSTILE_MODES);
	stopper = harness_client_new(fx.daemon.sock);
	hostile_block_mode_one();
	hostile_submit_chain("sc", HOSTILE_SMALL_CHAIN, 0, NULL);
	/* The daemon is told to stop while the cascade runs. */
	cancel_id =
		harness_call_async(fx.client, "cancel", harness_json("{\"request_id\":\"sc-0\"}"));
	json_object_put(harness_ok(stopper, "shutdown", NULL));
	status = harness_daemon_wait_exit(&fx.daemon, HARNESS_WAIT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %#x", status);
	/* The cancel was answered before the daemon went. */
	r = harness_response(fx.client, cancel_id, HARNESS_WAIT_MS);
	ck_assert_str_eq(harness_str(r, "result.job.error.kind"), "cancelled");
	json_object_put(r);
	harness_client_free(stopper);
	/* Started again: every job of the chain ended once, and none is left opened. */
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
	ck_assert(hostile_run_closed("sc-0"));
	hostile_assert_ended_once("sc", HOSTILE_SMALL_CHAIN);
	r = harness_job(fx.client, "sc-2500");
	ck_assert_str_eq(harness_str(r, "error.kind"), "cancelled");
	json_object_put(r);
}
END_TEST

START_TEST(test_cancel_slice_setting)
{
	struct harness_daemon bad;
	json_object *r;

	/* A slice of 0 would never let the cascade on: refused, with the key named. */
	harness_expect_bad_config(&bad, "[daemon]\ncancel_slice_ms = 0\n" HOSTILE_MODES,
				  "cancel_slice_ms must be");
	harness_expect_bad_config(&bad, "[daemon]\ncancel_slice_ms = 10001\n" HOSTILE_MODES,
				  "cancel_slice_ms must be");
	/* The shortest slice still gets through a chain, a job or so per turn. */
	harness_fixture_start_over(
		&fx, "[daemon]\nshutdown_grace_sec = 1\ncancel_slice_ms = 1\n" HOSTILE_MODES);
	hostile_block_mode_one();
	hostile_submit_chain("ms", 2000, 0, NULL);
	r = harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"ms-0\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	ck_assert(hostile_run_closed("ms-0"));
	hostile_assert_ended_once("ms", 2000);
}
END_TEST

/* ---- 4. wait on many copies of ids whose node ids form a cycle ---- */

/*
 * In a child process that joined process group pgid (as a task's own
 * child would): sends a wait on copies of id, and a ping right behind it
 * on the same connection. Exits 0 when the ping came back in time and the
 * wait timed out naming every copy; 1 for a slow ping; 2 otherwise.
 */
static int hostile_wait_copies_in_group(pid_t pgid, const char *id, int copies)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct harness_client *c;
		size_t cap = (size_t)copies * (strlen(id) + 4) + 256, len;
		char *line = malloc(cap);
		long long t0;
		bool eof;
		char *text;
		int code = 2;

		if (setpgid(0, pgid) < 0 || !line || !(c = harness_connect(fx.daemon.sock)))
			_exit(3);
		len = (size_t)snprintf(line, cap,
				       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"wait\","
				       "\"params\":{\"timeout_ms\":1,\"request_ids\":[");
		for (int i = 0; i < copies; i++)
			len += (size_t)snprintf(line + len, cap - len, "%s\"%s\"", i ? "," : "",
						id);
		snprintf(line + len, cap - len,
			 "]}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
		t0 = harness_now_ms();
		if (harness_send_raw(c, line, strlen(line)) < 0)
			_exit(4);
		/* The ping's answer is written as soon as the wait has been taken in. */
		while ((text = harness_read_line(c, HARNESS_WAIT_MS, &eof))) {
			json_object *o = json_tokener_parse(text);
			json_object *v;

			free(text);
			if (o && json_object_object_get_ex(o, "id", &v) &&
			    json_object_get_int(v) == 2) {
				code = harness_now_ms() - t0 < HOSTILE_PING_MS ? code : 1;
				if (code == 1)
					fprintf(stderr, "ping took %lld ms\n",
						harness_now_ms() - t0);
			} else if (o && json_object_object_get_ex(o, "error", &v)) {
				json_object *jobs = NULL, *data = NULL;

				if (json_object_object_get_ex(v, "data", &data) &&
				    json_object_object_get_ex(data, "jobs", &jobs) &&
				    json_object_get_int(json_object_object_get(v, "code")) ==
					    1007 &&
				    (int)json_object_array_length(jobs) == copies && code != 1)
					code = 0;
				json_object_put(o);
				break;
			}
			json_object_put(o);
		}
		free(line);
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_wait_cycle_copies)
{
	char pidfile[256];
	pid_t task;

	/* Two jobs whose node ids form a cycle: a -> b -> a. */
	harness_submit_json(fx.client, "{\"request_id\":\"cyc-a\",\"parent_node_id\":\"b\","
				       "\"node\":{\"id\":\"a\",\"argv\":[\"sleep\",\"60\"]}}");
	harness_submit_json(fx.client, "{\"request_id\":\"cyc-b\",\"parent_node_id\":\"a\","
				       "\"node\":{\"id\":\"b\",\"argv\":[\"sleep\",\"60\"]}}");
	/* Waited for from a process group of its own. */
	ck_assert_int_eq(hostile_wait_copies_in_group(0, "cyc-b", 10000), 0);

	/* A running task, in whose process group the next waiting client will be ... */
	snprintf(pidfile, sizeof(pidfile), "%s/task.pid", fx.daemon.dir);
	harness_submit_json(fx.client,
			    "{\"request_id\":\"waiter\",\"node\":{\"id\":\"wn\","
			    "\"argv\":[\"sh\",\"-c\",\"echo $$ > %s; exec "
			    "sleep 60\"]}}",
			    pidfile);
	task = harness_read_pid(pidfile);
	/* ... with jobs of its own run whose node ids then form a cycle too. */
	harness_submit_json(fx.client, "{\"request_id\":\"cyc-c\",\"parent_node_id\":\"wn\","
				       "\"node\":{\"id\":\"a\",\"argv\":[\"sleep\",\"60\"]}}");
	harness_submit_json(fx.client, "{\"request_id\":\"cyc-d\",\"parent_node_id\":\"a\","
				       "\"node\":{\"id\":\"b\",\"argv\":[\"sleep\",\"60\"]}}");
	harness_submit_json(fx.client, "{\"request_id\":\"cyc-e\",\"parent_node_id\":\"b\","
				       "\"node\":{\"id\":\"a\",\"argv\":[\"sleep\",\"60\"]}}");
	ck_assert_int_eq(hostile_wait_copies_in_group(task, "cyc-d", 10000), 0);
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

START_TEST(test_wait_id_cap)
{
	const int cap = 10000;
	size_t size = (size_t)(cap + 1) * 12 + 128, len = 0;
	char *params = malloc(size), *msg = NULL;
	json_object *r;

	ck_assert_ptr_nonnull(params);
	/* The default cap, written out: the key exists. */
	harness_fixture_start_over(&fx, "[daemon]\nmax_wait_ids = 10000\n" HOSTILE_MODES);
	harness_submit_json(fx.client, "{\"request_id\":\"w\",\"wait\":true,"
				       "\"node\":{\"argv\":[\"true\"]}}");
	len += (size_t)snprintf(params + len, size - len, "{\"request_ids\":[");
	for (int i = 0; i <= cap; i++)
		len += (size_t)snprintf(params + len, size - len, "%s\"w\"", i ? "," : "");
	snprintf(params + len, size - len, "]}");
	ck_assert_int_eq(harness_err(fx.client, "wait", harness_json("%s", params), &msg), -32602);
	ck_assert_msg(strstr(msg, "max_wait_ids") != NULL, "%s", msg);
	free(msg);
	/* At the cap it is answered, every copy in order. */
	strcpy(strrchr(params, ','), "]}");
	r = harness_ok(fx.client, "wait", harness_json("%s", params));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), cap);
	ck_assert_str_eq(harness_str(r, "jobs.9999.request_id"), "w");
	json_object_put(r);
	free(params);
	json_object_put(harness_ok(fx.client, "ping", NULL));
}
END_TEST

/* ---- 5. another user's jobs ---- */

/* Runs one request line in a child process as uid: 0 for success, 4 for 1004, 1 otherwise. */
static int hostile_as_user(uid_t uid, const char *line)
{
	int code = harness_call_as(fx.daemon.sock, uid, line);

	return code == 0 ? 0 : code == 1004 ? 4 : 1;
}

static int hostile_submit_as(uid_t uid, const char *request_id, const char *parent,
			     const char *node)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{"
		 "\"request_id\":\"%s\",\"parent_node_id\":%s%s%s,\"node\":{\"id\":\"%s\","
		 "\"argv\":[\"sleep\",\"60\"]}}}\n",
		 request_id, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "",
		 node);
	return hostile_as_user(uid, line);
}

static int hostile_cancel_as(uid_t uid, const char *request_id)
{
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{"
		 "\"request_id\":\"%s\"}}\n",
		 request_id);
	return hostile_as_user(uid, line);
}

START_TEST(test_cancel_other_owner)
{
	if (geteuid() != 0)
		return; /* needs root to act as other users */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	/* uid 1 (daemon) has a tree at node "vn"; uid 2 (bin) claims the same node id. */
	ck_assert_int_eq(hostile_submit_as(1, "victim", NULL, "vn"), 0);
	ck_assert_int_eq(hostile_submit_as(2, "squatter", NULL, "vn"), 0);
	ck_assert_int_eq(hostile_submit_as(1, "victim-kid", "vn", "vk"), 0);
	/* The child belongs to its own user's run, not to the squatter's. */
	hostile_assert_job("victim-kid", "opened", "victim");
	/* Below the squatter's node is another user's job: its cancel leaves it alone. */
	ck_assert_int_eq(hostile_cancel_as(2, "squatter"), 0);
	hostile_assert_job("squatter", "closed", "squatter");
	hostile_assert_job("victim-kid", "opened", "victim");
	/* uid 2 cannot join uid 1's run either. */
	ck_assert_int_eq(hostile_submit_as(2, "intruder", "vk", "in"), 0);
	hostile_assert_job("intruder", "opened", "intruder");
	/* root's job below uid 1's node joins the run, but uid 1's cascade stops at it. */
	harness_submit_json(fx.client, "{\"request_id\":\"root-kid\",\"parent_node_id\":"
				       "\"vk\",\"node\":{\"id\":\"rk\",\"argv\":[\"sleep\","
				       "\"60\"]}}");
	hostile_assert_job("root-kid", "opened", "victim");
	ck_assert_int_eq(hostile_cancel_as(1, "victim"), 0);
	hostile_assert_job("victim", "closed", "victim");
	json_object_put(harness_wait_job(fx.client, "victim-kid"));
	hostile_assert_job("root-kid", "opened", "victim");
	hostile_assert_job("intruder", "opened", "intruder");
	/* root's cascade reaches everyone's jobs. */
	ck_assert_int_eq(hostile_submit_as(1, "v2", NULL, "v2n"), 0);
	ck_assert_int_eq(hostile_submit_as(1, "v2-kid", "v2n", "v2k"), 0);
	harness_submit_json(fx.client, "{\"request_id\":\"root-kid2\",\"parent_node_id\":"
				       "\"v2k\",\"node\":{\"id\":\"rk2\",\"argv\":[\"sleep\","
				       "\"60\"]}}");
	json_object_put(harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"v2\"}")));
	json_object_put(harness_wait_job(fx.client, "v2-kid"));
	json_object_put(harness_wait_job(fx.client, "root-kid2"));
}
END_TEST

/* ---- 6. a cancel racing with the task's own end ---- */

#define HOSTILE_RACE_JOBS  400
#define HOSTILE_RACE_BATCH 12

START_TEST(test_cancel_finishing_race)
{
	unsigned seed = 12345;
	struct lh_table *counts;
	int next = 0;

	while (next < HOSTILE_RACE_JOBS) {
		long long due[HOSTILE_RACE_BATCH], t0;
		int ids[HOSTILE_RACE_BATCH];
		char line[256];

		/* A batch of short tasks submitted at once ... */
		for (int k = 0; k < HOSTILE_RACE_BATCH; k++) {
			snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\",\"params\":"
				 "{\"request_id\":\"race-%d\",\"node\":{\"argv\":[\"sleep\","
				 "\"0.01\"]}}}\n",
				 1000000 + next + k, next + k);
			harness_send(fx.client, line);
		}
		for (int k = 0; k < HOSTILE_RACE_BATCH; k++) {
			json_object *o =
				harness_response(fx.client, 1000000 + next + k, HARNESS_WAIT_MS);

			ck_assert_msg(json_object_object_get_ex(o, "result", NULL), "%s",
				      json_object_to_json_string(o));
			json_object_put(o);
		}
		/* ... each cancelled 6 to 16 ms later, about when it ends by itself. */
		t0 = harness_now_ms();
		for (int k = 0; k < HOSTILE_RACE_BATCH; k++) {
			ids[k] = next + k;
			due[k] = t0 + 6 + rand_r(&seed) % 11;
		}
		for (int sent = 0; sent < HOSTILE_RACE_BATCH;) {
			long long now = harness_now_ms();

			for (int k = 0; k < HOSTILE_RACE_BATCH; k++) {
				if (ids[k] < 0 || due[k] > now)
					continue;
				snprintf(line, sizeof(line),
					 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\","
					 "\"params\":{\"request_id\":\"race-%d\"}}\n",
					 2000000 + ids[k], ids[k]);
				harness_send(fx.client, line);
				ids[k] = -1;
				sent++;
			}
			usleep(500);
		}
		next += HOSTILE_RACE_BATCH;
	}
	/* Every cancel is answered: the job once closed, or 1002 when it already was. */
	for (int i = 0; i < HOSTILE_RACE_JOBS; i++) {
		json_object *o = harness_response(fx.client, 2000000 + i, HARNESS_WAIT_MS), *e;

		if (json_object_object_get_ex(o, "error", &e))
			ck_assert_int_eq(harness_int(e, "code"), 1002);
		else
			ck_assert_str_eq(harness_str(o, "result.job.status"), "closed");
		json_object_put(o);
	}
	/* Exactly one final message per job, and the job says what it says. */
	counts = hostile_final_messages(NULL, HOSTILE_RACE_JOBS);
	for (int i = 0; i < HOSTILE_RACE_JOBS; i++) {
		char id[32];
		json_object *r;
		const char *type, *result;

		snprintf(id, sizeof(id), "race-%d", i);
		ck_assert_msg(hostile_count_of(counts, id) == 1, "%s has %ld final messages", id,
			      hostile_count_of(counts, id));
		r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"%s\"}", id));
		type = harness_str(r, "message.type");
		result = harness_str(r, "job.result");
		ck_assert_msg(strcmp(type, strcmp(result, "success") == 0 ? "request_success"
									  : "request_failure") == 0,
			      "%s: job result %s but message %s", id, result, type);
		json_object_put(r);
	}
	hostile_free_counts(counts);
}
END_TEST

/* ---- 8. a parent that lends its one slot to three children at once ---- */

START_TEST(test_lend_three_children)
{
	const char *sc = getenv("SUBMIT_CHILD");
	long long t0 = harness_now_ms();
	json_object *r;

	ck_assert_msg(sc != NULL, "SUBMIT_CHILD is not set");
	/* The parent times out long before the daemon's own answer would. */
	r = harness_call(
		fx.client, "submit",
		harness_json("{\"request_id\":\"lender\",\"mode\":\"one\",\"wait\":true,"
			     "\"node\":{\"timeout_ms\":15000,\"argv\":[\"sh\",\"-c\","
			     "\"%s -m one sleep 1 & a=$!; %s -m one sleep 1 & b=$!; "
			     "%s -m one sleep 1 & c=$!; wait $a && wait $b && wait $c\"]}}",
			     sc, sc, sc),
		HARNESS_WAIT_MS);
	ck_assert_msg(strcmp(harness_str(r, "result.job.result"), "success") == 0, "%s",
		      json_object_to_json_string(r));
	json_object_put(r);
	ck_assert_msg(harness_now_ms() - t0 < 12000, "the tree took %lld ms",
		      harness_now_ms() - t0);
	r = harness_ok(fx.client, "status", harness_json("{\"run_id\":\"lender\"}"));
	ck_assert_int_eq(harness_int(r, "counts.success"), 4);
	json_object_put(r);
	/* Every loan is back: a new task gets the slot. */
	r = harness_ok(
		fx.client, "submit",
		harness_json("{\"mode\":\"one\",\"wait\":true,\"node\":{\"argv\":[\"true\"]}}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
}
END_TEST

/* One case per test, so that CK_RUN_CASE can pick one. */
static void hostile_add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, hostile_setup, hostile_teardown);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("daemon-hostile-core");

	hostile_add(s, "cancel_self_parent", test_cancel_self_parent);
	hostile_add(s, "cancel_long_chain", test_cancel_long_chain);
	hostile_add(s, "cancel_chain_responsive", test_cancel_chain_responsive);
	hostile_add(s, "cancel_chain_hangup", test_cancel_chain_hangup);
	hostile_add(s, "cancel_chain_shutdown", test_cancel_chain_shutdown);
	hostile_add(s, "cancel_slice_setting", test_cancel_slice_setting);
	hostile_add(s, "wait_cycle_copies", test_wait_cycle_copies);
	hostile_add(s, "wait_id_cap", test_wait_id_cap);
	hostile_add(s, "cancel_other_owner", test_cancel_other_owner);
	hostile_add(s, "cancel_finishing_race", test_cancel_finishing_race);
	hostile_add(s, "lend_three_children", test_lend_three_children);
	return s;
}

int main(void)
{
	return harness_run_suite(hostile_suite());
}
