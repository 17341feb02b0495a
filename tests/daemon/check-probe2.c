/*
 * What a second outside probe of the wire contract found (output follows,
 * status pages, metrics), each checked the way a client sees it: requests
 * over the real socket to the real coordinatord.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "harness.h"

/* clang-format off */
#define PROBE2_CONFIG HARNESS_CONFIG_DAEMON \
	"subscriber_buffer_bytes = 65536\n" \
	HARNESS_CONFIG_MODE("async", "2") \
	"[mode:small]\nstrategy = async\noutput_limit_bytes = 32\n"
/* clang-format on */

static struct harness_fixture fx;

static void probe2_setup(void)
{
	harness_fixture_start(&fx, PROBE2_CONFIG);
}

static void probe2_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* Runs script with sh -c as request_id, and waits for it to close. */
static void probe2_run(const char *request_id, const char *script)
{
	json_object *p = harness_json("{\"request_id\":\"%s\",\"wait\":true,\"node\":"
				      "{\"argv\":[\"sh\",\"-c\",\"%s\"]}}",
				      request_id, script);

	json_object_put(harness_ok(fx.client, "submit", p));
}

struct probe2_metric {
	struct harness_client *c;
	long long subscriptions;
};

static bool probe2_no_subscriptions(void *arg)
{
	struct probe2_metric *m = arg;
	json_object *r = harness_ok(m->c, "metrics", NULL);

	m->subscriptions = harness_int(r, "subscriptions");
	json_object_put(r);
	return m->subscriptions == 0;
}

/*
 * An output follow that ended lagged was not counted in
 * subscribers_lagged (nor in coordinatord_subscribers_lagged_total),
 * although it is a subscription (it shares the ids, the unsubscribe and
 * the subscriptions gauge) and ends with the same notification.
 */
START_TEST(test_lagged_follow_counted)
{
	struct harness_client *stuck = harness_client_new(fx.daemon.sock);
	struct probe2_metric m = {.c = fx.client};
	json_object *r, *n;
	char *text;

	json_object_put(harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"flood\",\"node\":{\"argv\":[\"sh\",\"-c\","
			     "\"head -c 8000000 /dev/zero | tr '\\\\0' y\"]}}")));
	r = harness_ok(stuck, "output",
		       harness_json("{\"request_id\":\"flood\",\"stream\":\"stdout\","
				    "\"follow\":true}"));
	json_object_put(r);
	/* The follower reads nothing: its follow ends lagged, and is no longer counted open. */
	ck_assert_msg(harness_until(probe2_no_subscriptions, &m, HARNESS_WAIT_MS),
		      "the follow never ended (%lld subscriptions)", m.subscriptions);
	n = harness_notification(stuck, "subscription_ended", HARNESS_WAIT_MS);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(harness_str(n, "params.reason"), "lagged");
	json_object_put(n);
	r = harness_ok(fx.client, "metrics", NULL);
	ck_assert_int_eq(harness_int(r, "subscribers_lagged"), 1);
	text = strdup(harness_str(r, "prometheus"));
	ck_assert_msg(strstr(text, "\ncoordinatord_subscribers_lagged_total 1\n"), "%s", text);
	free(text);
	json_object_put(r);
	json_object_put(harness_wait_job(fx.client, "flood"));
	harness_client_free(stuck);
}
END_TEST

/*
 * A status cursor is the "next" of an earlier answer: a positive integer
 * written plainly. strtoll took leading blanks and signs, and a number
 * past 64 bits came back as its largest value, which is "no cursor":
 * the first page again, silently.
 */
START_TEST(test_status_cursor_strict)
{
	static const char *const bad[] = {
		" 5", "+5", "5 ", "0x5", "05", "99999999999999999999999", "9223372036854775808",
	};

	for (int i = 0; i < 3; i++)
		probe2_run(i == 0 ? "cur-a" : i == 1 ? "cur-b" : "cur-c", "true");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *p = json_object_new_object();
		char *msg = NULL;

		json_object_object_add(p, "cursor", json_object_new_string(bad[i]));
		ck_assert_msg(harness_err(fx.client, "status", p, &msg) == -32602,
			      "cursor \"%s\" was taken", bad[i]);
		ck_assert_ptr_nonnull(strstr(msg, "cursor"));
		free(msg);
	}
	/* What the daemon hands out still works. */
	{
		json_object *r = harness_ok(fx.client, "status", harness_json("{\"limit\":1}"));
		json_object *p = json_object_new_object(), *r2;

		ck_assert(!harness_is_null(r, "next"));
		json_object_object_add(p, "cursor", json_object_new_string(harness_str(r, "next")));
		json_object_object_add(p, "limit", json_object_new_int(1));
		r2 = harness_ok(fx.client, "status", p);
		ck_assert_str_eq(harness_str(json_object_array_get_idx(harness_get(r2, "jobs"), 0),
					     "request_id"),
				 "cur-b");
		json_object_put(r2);
		json_object_put(r);
	}
}
END_TEST

/*
 * The bounds of since and until were written with 17 digits, which a
 * double needs to come back exactly but which turns 1e300 into
 * 1.0000000000000001e+300: a message for people, not for strtod.
 */
START_TEST(test_since_bounds_readable)
{
	char *msg = NULL;

	ck_assert_int_eq(
		harness_err(fx.client, "status", harness_json("{\"since\":\"today\"}"), &msg),
		-32602);
	ck_assert_str_eq(msg, "Invalid params: since must be a number from -1e+300 to 1e+300");
	free(msg);
}
END_TEST

static bool probe2_job_gone(void *arg)
{
	json_object *p = json_object_new_object(), *r;
	bool gone;

	json_object_object_add(p, "request_id", json_object_new_string(arg));
	r = harness_call(fx.client, "job", p, HARNESS_WAIT_MS);
	gone = json_object_object_get_ex(r, "error", NULL) && harness_int(r, "error.code") == 1001;
	json_object_put(r);
	return gone;
}

/* The request_ids of status pages from cursor on (filter: JSON members), in order. */
static void probe2_rest(const char *filter, const char *cursor, char *out, size_t size)
{
	char cur[64];

	snprintf(cur, sizeof(cur), "%s", cursor);
	out[0] = '\0';
	while (cur[0]) {
		json_object *r = harness_ok(fx.client, "status",
					    harness_json("{%s%s\"limit\":2,\"cursor\":\"%s\"}",
							 filter, filter[0] ? "," : "", cur));
		json_object *jobs = harness_get(r, "jobs");

		for (size_t i = 0; i < json_object_array_length(jobs); i++) {
			size_t used = strlen(out);

			snprintf(out + used, size - used, "%s ",
				 harness_str(json_object_array_get_idx(jobs, i), "request_id"));
		}
		snprintf(cur, sizeof(cur), "%s",
			 harness_is_null(r, "next") ? "" : harness_str(r, "next"));
		json_object_put(r);
	}
}

/*
 * A page of a start_time window goes on below the start_time of the
 * cursor's job; when retention had pruned that job meanwhile, the next
 * page was empty and ended the walk, leaving out every older job that
 * still matched (an old opened job, which retention never prunes). The
 * same walk without the window went on by seq_no and found it.
 */
START_TEST(test_status_window_pages_survive_pruning)
{
	char rest[512], cursor[64];
	json_object *r;

	harness_fixture_start_over(&fx, PROBE2_CONFIG "[daemon]\nretention_max_jobs = 2\n");
	json_object_put(harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"old-open\",\"node\":{\"argv\":[\"sleep\","
			     "\"600\"]}}")));
	probe2_run("w-1", "true");
	probe2_run("w-2", "true");
	r = harness_ok(fx.client, "status", harness_json("{\"since\":0,\"limit\":1}"));
	ck_assert_str_eq(
		harness_str(json_object_array_get_idx(harness_get(r, "jobs"), 0), "request_id"),
		"w-2");
	snprintf(cursor, sizeof(cursor), "%s", harness_str(r, "next"));
	json_object_put(r);
	/* Two newer closed jobs: retention (2 closed jobs) prunes w-1 and w-2, never old-open. */
	probe2_run("w-3", "true");
	probe2_run("w-4", "true");
	ck_assert(harness_until(probe2_job_gone, "w-2", HARNESS_WAIT_MS));
	ck_assert(harness_until(probe2_job_gone, "w-1", HARNESS_WAIT_MS));
	probe2_rest("\"since\":0", cursor, rest, sizeof(rest));
	ck_assert_str_eq(rest, "old-open ");
	probe2_rest("\"since\":0,\"until\":1e12", cursor, rest, sizeof(rest));
	ck_assert_str_eq(rest, "old-open ");
	/* Without the window, by seq_no, as it always did. */
	probe2_rest("", cursor, rest, sizeof(rest));
	ck_assert_str_eq(rest, "old-open ");
	json_object_put(
		harness_ok(fx.client, "cancel", harness_json("{\"request_id\":\"old-open\"}")));
}
END_TEST

/* The chunks of an output answer as "offset-next_offset:data|..." for one stream. */
static void probe2_chunks(const char *params, char *out, size_t size, bool *ret_eof)
{
	json_object *r = harness_ok(fx.client, "output", harness_json("{%s}", params));
	json_object *chunks = harness_get(r, "chunks");

	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(chunks); i++) {
		json_object *c = json_object_array_get_idx(chunks, i);
		size_t used = strlen(out);

		snprintf(out + used, size - used, "%s %lld-%lld:%s|", harness_str(c, "stream"),
			 harness_int(c, "offset"), harness_int(c, "next_offset"),
			 harness_str(c, "data"));
	}
	*ret_eof = json_object_get_boolean(harness_get(r, "eof"));
	json_object_put(r);
}

/*
 * A regression guard for what the contract promises of output offsets and
 * no test pinned: an offset in the dropped middle starts at the kept
 * tail, one past the end gives nothing (eof all the same), a negative one
 * longer than the stream starts at 0, and a follow from past the end of a
 * closed job ends at once.
 */
START_TEST(test_output_offsets_at_the_edges)
{
	static const char tail[] = "stdout 65-81:\n26\n27\n28\n29\n30\n|";
	char got[512];
	bool eof = false;
	json_object *r, *n;

	json_object_put(harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"edges\",\"mode\":\"small\",\"wait\":true,"
			     "\"node\":{\"argv\":[\"sh\",\"-c\",\"seq 1 30; printf e >&2\"]}}")));
	/* 81 bytes written, 32 kept: 0-15 and 65-80. */
	probe2_chunks("\"request_id\":\"edges\"", got, sizeof(got), &eof);
	ck_assert_str_eq(got,
			 "stdout 0-16:1\n2\n3\n4\n5\n6\n7\n8\n|stdout 65-81:\n26\n27\n28\n29\n30\n|"
			 "stderr 0-1:e|");
	ck_assert(eof);
	probe2_chunks("\"request_id\":\"edges\",\"stream\":\"stdout\",\"offset\":20", got,
		      sizeof(got), &eof);
	ck_assert_str_eq(got, tail);
	probe2_chunks("\"request_id\":\"edges\",\"stream\":\"stdout\",\"offset\":16", got,
		      sizeof(got), &eof);
	ck_assert_str_eq(got, tail);
	probe2_chunks("\"request_id\":\"edges\",\"offset\":81", got, sizeof(got), &eof);
	ck_assert_str_eq(got, "");
	ck_assert(eof);
	probe2_chunks("\"request_id\":\"edges\",\"offset\":9223372036854775807", got, sizeof(got),
		      &eof);
	ck_assert_str_eq(got, "");
	probe2_chunks("\"request_id\":\"edges\",\"stream\":\"stderr\",\"offset\":-1000", got,
		      sizeof(got), &eof);
	ck_assert_str_eq(got, "stderr 0-1:e|");
	/* From the end on, a follow of a closed job has nothing to send but its end. */
	r = harness_ok(fx.client, "output",
		       harness_json("{\"request_id\":\"edges\",\"offset\":500,\"follow\":true}"));
	n = harness_notification(fx.client, "output_ended", HARNESS_WAIT_MS);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(harness_int(n, "params.subscription"), harness_int(r, "subscription"));
	ck_assert_str_eq(harness_str(n, "params.job.status"), "closed");
	ck_assert_int_eq(harness_int(n, "params.job.stdout_bytes"), 81);
	json_object_put(n);
	json_object_put(r);
	ck_assert(harness_silent(fx.client, 200));
}
END_TEST

/* Waits until request_id closes; it must have been cancelled. */
static void probe2_expect_cancelled(const char *request_id)
{
	json_object *job = harness_wait_job(fx.client, request_id);

	ck_assert_str_eq(harness_str(job, "error.kind"), "cancelled");
	json_object_put(job);
}

/*
 * A notification is never answered, so nothing should wait on its behalf.
 * A notification wait (or submit with wait, or cancel) stayed pending
 * until its jobs closed all the same: it held one of the connection's
 * max_pending_calls, so a few of them on a long job made every later
 * request 1005 "read their answers first", answers that never come; and
 * in a batch it held back the answers of the batch's requests.
 */
START_TEST(test_notifications_hold_nothing)
{
	json_object *r, *a;

	harness_fixture_start_over(&fx, PROBE2_CONFIG "[daemon]\nmax_pending_calls = 2\n");
	json_object_put(
		harness_ok(fx.client, "submit",
			   harness_json("{\"request_id\":\"long\",\"node\":{\"argv\":[\"sleep\","
					"\"600\"]}}")));
	for (int i = 0; i < 3; i++)
		harness_send(fx.client, "{\"jsonrpc\":\"2.0\",\"method\":\"wait\",\"params\":"
					"{\"request_ids\":[\"long\"]}}\n");
	/* Still a connection that can be used, with no answer owed to anyone. */
	json_object_put(harness_ok(fx.client, "ping", NULL));

	/* A batch: the notification's job is made, and the request is answered now. */
	harness_send(fx.client,
		     "[{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"request_id\":"
		     "\"quiet\",\"wait\":true,\"node\":{\"argv\":[\"sleep\",\"600\"]}}},"
		     "{\"jsonrpc\":\"2.0\",\"id\":\"b1\",\"method\":\"ping\"}]\n");
	r = harness_read_json(fx.client, HARNESS_WAIT_MS);
	ck_assert_msg(json_object_is_type(r, json_type_array), "%s", json_object_to_json_string(r));
	ck_assert_int_eq(json_object_array_length(r), 1);
	a = json_object_array_get_idx(r, 0);
	ck_assert_str_eq(harness_str(a, "id"), "b1");
	ck_assert(json_object_object_get_ex(a, "result", NULL));
	json_object_put(r);
	r = harness_job(fx.client, "quiet");
	ck_assert_str_eq(harness_str(r, "status"), "opened");
	json_object_put(r);

	/* A notification cancel still cancels, and its cascade still runs to its end. */
	harness_send(fx.client, "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":"
				"{\"request_id\":\"quiet\"}}\n");
	harness_send(fx.client, "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":"
				"{\"request_id\":\"long\"}}\n");
	probe2_expect_cancelled("quiet");
	probe2_expect_cancelled("long");
	ck_assert(harness_silent(fx.client, 200));
}
END_TEST

/*
 * Waits for early (closed) and late (gated); retention prunes early
 * before late closes, and with reuse a new job takes the id "early"
 * (opened, it never closes here). The wait must answer 1001 naming early.
 */
static void probe2_wait_across_prune(bool reuse)
{
	char gate[256], script[320], *msg = NULL;
	json_object *r;
	long long id;

	harness_fixture_start_over(&fx, PROBE2_CONFIG "[daemon]\nretention_max_jobs = 2\n");
	harness_fifo(&fx.daemon, "gate", gate, sizeof(gate));
	probe2_run("early", "true");
	snprintf(script, sizeof(script), "cat %s >/dev/null", gate);
	json_object_put(harness_ok(
		fx.client, "submit",
		harness_json("{\"request_id\":\"late\",\"node\":{\"argv\":[\"sh\",\"-c\","
			     "\"%s\"]}}",
			     script)));
	id = harness_call_async(fx.client, "wait",
				harness_json("{\"request_ids\":[\"early\",\"late\"]}"));
	probe2_run("filler-1", "true");
	probe2_run("filler-2", "true");
	ck_assert(harness_until(probe2_job_gone, "early", HARNESS_WAIT_MS));
	if (reuse)
		json_object_put(harness_ok(
			fx.client, "submit",
			harness_json("{\"request_id\":\"early\",\"node\":{\"argv\":[\"sleep\","
				     "\"600\"]}}")));
	harness_fifo_write(gate, "go\n");
	r = harness_response(fx.client, id, HARNESS_WAIT_MS);
	ck_assert_msg(json_object_object_get_ex(r, "error", NULL), "%s",
		      json_object_to_json_string(r));
	ck_assert_int_eq(harness_int(r, "error.code"), 1001);
	msg = strdup(harness_str(r, "error.message"));
	ck_assert_msg(strstr(msg, "\"early\""), "%s", msg);
	free(msg);
	json_object_put(r);
}

/*
 * A wait answers once every listed job has closed; one that closed early
 * may be pruned by retention before the last one closes. The answer then
 * held null where the contract promises a Job ({"jobs":[null, ...]}), on
 * which a client reading each job's status fails; and once a new job had
 * taken the freed request_id, it held that job, opened, in an answer that
 * says all have closed. A job gone is 1001 for wait, as it is when it is
 * gone before the wait starts.
 */
START_TEST(test_wait_for_a_job_pruned_meanwhile)
{
	probe2_wait_across_prune(false);
	probe2_wait_across_prune(true);
}
END_TEST

/*
 * A follow that catches up at its client's pace reads the kept output
 * back from the state directory. When retention removed the job (and its
 * output) before the follower had read it all, the follow found nothing
 * more to read and ended with output_ended, "job": null: the client took
 * a cut output for the whole of it. It ends with subscription_ended,
 * reason "pruned", saying where the output it did not get starts.
 */
START_TEST(test_follow_of_a_job_pruned_meanwhile)
{
	struct harness_client *slow;
	long long sub, got = 0, resume = -1;
	json_object *r;

	harness_fixture_start_over(&fx, PROBE2_CONFIG "[daemon]\nretention_max_jobs = 1\n");
	slow = harness_client_new(fx.daemon.sock);
	/* 1 MiB kept, far more than the follower's 64 KiB buffer lets out before it reads. */
	probe2_run("big", "head -c 1048576 /dev/zero | tr '\\\\0' y");
	r = harness_ok(slow, "output",
		       harness_json("{\"request_id\":\"big\",\"stream\":\"stdout\","
				    "\"follow\":true}"));
	sub = harness_int(r, "subscription");
	json_object_put(r);
	probe2_run("newer", "true");
	ck_assert(harness_until(probe2_job_gone, "big", HARNESS_WAIT_MS));
	/*
	 * Its request_id is free again (its messages went with it) and taken
	 * before the follower reads on: nothing of the new job may reach the
	 * follow of the old one, nor end it as if it were the same job.
	 */
	probe2_run("big", "echo REUSED");
	for (;;) {
		json_object *n = harness_read_json(slow, HARNESS_WAIT_MS);
		const char *method = harness_str(n, "method");

		ck_assert_int_eq(harness_int(n, "params.subscription"), sub);
		if (strcmp(method, "output") == 0) {
			ck_assert_int_eq(harness_int(n, "params.offset"), got);
			got = harness_int(n, "params.next_offset");
			json_object_put(n);
			continue;
		}
		ck_assert_msg(strcmp(method, "subscription_ended") == 0, "%s after %lld bytes",
			      json_object_to_json_string(n), got);
		ck_assert_str_eq(harness_str(n, "params.reason"), "pruned");
		resume = harness_int(n, "params.resume_offset");
		json_object_put(n);
		break;
	}
	ck_assert_int_lt(got, 1048576);
	ck_assert_int_eq(resume, got);
	harness_client_free(slow);
}
END_TEST

/*
 * Runs script (sh -c; "$0" is submit-child) as request_id with a time
 * limit, waits for it to close and returns its closing message.
 */
static json_object *probe2_task(const char *request_id, const char *script)
{
	const char *child = getenv("SUBMIT_CHILD");
	json_object *p = json_object_new_object(), *node = json_object_new_object();
	json_object *argv = json_object_new_array(), *r, *msg;

	ck_assert_ptr_nonnull(child);
	json_object_array_add(argv, json_object_new_string("sh"));
	json_object_array_add(argv, json_object_new_string("-c"));
	json_object_array_add(argv, json_object_new_string(script));
	json_object_array_add(argv, json_object_new_string(child));
	json_object_object_add(node, "argv", argv);
	json_object_object_add(node, "timeout_ms", json_object_new_int(20000));
	json_object_object_add(p, "request_id", json_object_new_string(request_id));
	json_object_object_add(p, "wait", json_object_new_boolean(true));
	json_object_object_add(p, "node", node);
	r = harness_ok(fx.client, "submit", p);
	msg = json_object_get(harness_get(r, "message"));
	json_object_put(r);
	return msg;
}

/* The task's stdout must hold a 1002 answer; the task ended by itself, in time. */
static void probe2_expect_conflict(json_object *msg)
{
	const char *out = harness_str(msg, "result.stdout");

	ck_assert_msg(strstr(out, "\"code\":1002"), "%s", json_object_to_json_string(msg));
	ck_assert_msg(harness_is_null(msg, "error") ||
			      strcmp(harness_str(msg, "error.kind"), "timeout") != 0,
		      "%s", json_object_to_json_string(msg));
}

/*
 * A task that waits for its own job, or for a job that starts only once
 * the task's job has closed (its after names it, directly or through
 * other waiting jobs), waits for ever: nothing can close first. Such a
 * wait was taken and never answered (the task hung until its time
 * limit). It is refused with 1002, and a submit with wait whose after
 * needs the submitting task's job creates nothing.
 */
START_TEST(test_task_waiting_on_itself_refused)
{
	json_object *msg, *p;

	msg = probe2_task("self", "\"$0\" -W \"$COORD_REQUEST_ID\"");
	probe2_expect_conflict(msg);
	json_object_put(msg);

	msg = probe2_task("parent", "\"$0\" -i cyc-child -a \"$COORD_REQUEST_ID\" true");
	probe2_expect_conflict(msg);
	json_object_put(msg);
	p = json_object_new_object();
	json_object_object_add(p, "request_id", json_object_new_string("cyc-child"));
	ck_assert_int_eq(harness_err(fx.client, "job", p, NULL), 1001);

	/* Through a chain: chain-2 waits for chain-1, which waits for the task. */
	msg = probe2_task("chainer",
			  "\"$0\" -n -i chain-1 -a \"$COORD_REQUEST_ID\" true && "
			  "\"$0\" -n -i chain-2 -a chain-1 true && \"$0\" -W chain-2; exit 0");
	probe2_expect_conflict(msg);
	json_object_put(msg);
	/* Once the task has closed, the chain runs. */
	msg = harness_wait_job(fx.client, "chain-2");
	ck_assert_str_eq(harness_str(msg, "result"), "success");
	json_object_put(msg);
}
END_TEST

static Suite *probe2_suite(void)
{
	Suite *s = suite_create("daemon-probe2");
	TCase *tc = tcase_create("probe2");

	tcase_add_checked_fixture(tc, probe2_setup, probe2_teardown);
	tcase_add_test(tc, test_lagged_follow_counted);
	tcase_add_test(tc, test_status_cursor_strict);
	tcase_add_test(tc, test_since_bounds_readable);
	tcase_add_test(tc, test_status_window_pages_survive_pruning);
	tcase_add_test(tc, test_output_offsets_at_the_edges);
	tcase_add_test(tc, test_notifications_hold_nothing);
	tcase_add_test(tc, test_wait_for_a_job_pruned_meanwhile);
	tcase_add_test(tc, test_follow_of_a_job_pruned_meanwhile);
	tcase_add_test(tc, test_task_waiting_on_itself_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(probe2_suite());
}
