/*
 * Hostile and racy clients against subscriptions and storage: a replay
 * that retention overtakes while its client does not read, an empty types
 * filter, a shutdown with a huge queue, a drain that must wait for a
 * mode's kill_grace_ms, and a disk that fills up under submits and
 * completions.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "harness.h"

/* A task whose success message carries 4000 bytes of stdout. */
#define HS_BIG_ARGV "[\"sh\",\"-c\",\"printf '%04000d' 0\"]"

#define HS_SUB_DAEMON                                                                              \
	HARNESS_CONFIG_DAEMON                                                                      \
	"subscriber_buffer_bytes = 65536\n"
#define HS_SUB_MODES HARNESS_CONFIG_MODE("async", "4")

/* ---- helpers ---- */

/*
 * Submits count tasks named prefixN running argv_json (with wait when
 * asked), window at a time, and asserts every answer is a success.
 */
static void hs_submit_many(struct harness_client *c, const char *prefix, int count, int window,
			   const char *mode, const char *argv_json, bool wait)
{
	for (int done = 0; done < count;) {
		int n = count - done < window ? count - done : window;
		long long first = 0;

		for (int i = 0; i < n; i++) {
			long long id = harness_call_async(
				c, "submit",
				harness_json("{\"request_id\":\"%s%d\",\"wait\":%s%s%s%s,"
					     "\"node\":{\"argv\":%s}}",
					     prefix, done + i, wait ? "true" : "false",
					     mode ? ",\"mode\":\"" : "", mode ? mode : "",
					     mode ? "\"" : "", argv_json));

			if (i == 0)
				first = id;
		}
		for (int i = 0; i < n; i++) {
			json_object *r = harness_response(c, first + i, HARNESS_WAIT_MS);

			ck_assert_msg(json_object_object_get_ex(r, "result", NULL), "submit: %s",
				      json_object_to_json_string(r));
			json_object_put(r);
		}
		done += n;
	}
}

/* Submits task (JSON text) and waits until it runs. */
static void hs_start(struct harness_client *c, const char *task)
{
	json_object *r = harness_ok(c, "submit", harness_json("%s", task));

	json_object_put(harness_wait_running(c, harness_str(r, "job.request_id")));
	json_object_put(r);
}

/* ---- 1. a replay that retention overtakes ---- */

/* The oldest seq a replay may start from, as the daemon's refusal says; 0 while none. */
static long long hs_oldest_seq(const struct harness_daemon *d)
{
	struct harness_client *probe = harness_client_new(d->sock);
	json_object *r = harness_call(probe, "subscribe", harness_json("{\"since_seq\":0}"),
				      HARNESS_WAIT_MS);
	long long oldest = 0;

	if (json_object_object_get_ex(r, "error", NULL)) {
		ck_assert_int_eq(harness_int(r, "error.code"), 1001);
		oldest = harness_int(r, "error.data.oldest_seq");
	}
	json_object_put(r);
	harness_client_free(probe);
	return oldest;
}

START_TEST(test_replay_overtaken_by_retention)
{
	struct harness_daemon d;
	struct harness_client *c, *stuck;
	long long id, expect = 1, oldest = 0, deadline;
	json_object *n, *r;

	harness_daemon_new(&d, HS_SUB_DAEMON HS_SUB_MODES);
	c = harness_client_new(d.sock);
	/*
	 * 400 messages of about 2 KiB on average, far more than the buffers
	 * hold; one job at a time, so the 5 jobs retention keeps have the last
	 * 10 messages.
	 */
	hs_submit_many(c, "old", 200, 1, NULL, HS_BIG_ARGV, true);
	stuck = harness_client_new(d.sock);
	r = harness_ok(stuck, "subscribe", harness_json("{\"since_seq\":0}"));
	id = harness_int(r, "subscription");
	ck_assert_int_eq(harness_int(r, "seq"), 400);
	json_object_put(r);

	/* stuck reads nothing while retention shrinks the history to 5 jobs. */
	harness_daemon_write_config(&d, HS_SUB_DAEMON "retention_max_jobs = 5\n" HS_SUB_MODES);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while ((oldest = hs_oldest_seq(&d)) < 391) {
		ck_assert_msg(harness_now_ms() < deadline, "retention never pruned (oldest %lld)",
			      oldest);
		harness_sleep_ms(50);
	}

	/* What it was sent before is fine and in order; then the end, never a gap. */
	for (;;) {
		n = harness_read_json(stuck, HARNESS_WAIT_MS);
		if (strcmp(harness_str(n, "method"), "subscription_ended") == 0)
			break;
		ck_assert_str_eq(harness_str(n, "method"), "message");
		ck_assert_int_eq(harness_int(n, "params.subscription"), id);
		ck_assert_msg(harness_int(n, "params.message.seq") == expect,
			      "replay skipped from seq %lld to %lld", expect - 1,
			      harness_int(n, "params.message.seq"));
		expect++;
		json_object_put(n);
	}
	ck_assert_msg(expect < oldest, "the replay got to %lld before the prune", expect - 1);
	ck_assert(!json_object_object_get_ex(n, "id", NULL));
	ck_assert_int_eq(harness_int(n, "params.subscription"), id);
	ck_assert_str_eq(harness_str(n, "params.reason"), "pruned");
	ck_assert_int_eq(harness_int(n, "params.resume_seq"), expect);
	ck_assert_int_eq(harness_int(n, "params.oldest_seq"), oldest);
	json_object_put(n);
	ck_assert(harness_silent(stuck, 300));
	ck_assert_int_eq(harness_err(stuck, "unsubscribe",
				     harness_json("{\"subscription\":%lld}", id), NULL),
			 1001);

	/* Where it says: from oldest_seq on, straight to the end. */
	r = harness_ok(stuck, "subscribe", harness_json("{\"since_seq\":%lld}", oldest - 1));
	id = harness_int(r, "subscription");
	json_object_put(r);
	for (long long want = oldest; want <= 400; want++) {
		n = harness_read_json(stuck, HARNESS_WAIT_MS);
		ck_assert_int_eq(harness_int(n, "params.subscription"), id);
		ck_assert_int_eq(harness_int(n, "params.message.seq"), want);
		json_object_put(n);
	}
	harness_client_free(stuck);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 2. an empty types filter ---- */

START_TEST(test_empty_types_refused)
{
	struct harness_daemon d;
	struct harness_client *c;
	char *msg = NULL;
	json_object *r;

	harness_daemon_new(&d, NULL);
	c = harness_client_new(d.sock);
	ck_assert_int_eq(harness_err(c, "subscribe", harness_json("{\"types\":[]}"), &msg), -32602);
	ck_assert_msg(strstr(msg, "types") && strstr(msg, "nothing"), "unclear: %s", msg);
	free(msg);
	/* Refused means nothing was set up: no notification comes. */
	r = harness_ok(c, "submit", harness_json("{\"node\":{\"argv\":[\"true\"]},\"wait\":true}"));
	json_object_put(r);
	ck_assert(harness_silent(c, 200));
	/* One type still works. */
	r = harness_ok(c, "subscribe", harness_json("{\"types\":[\"request_success\"]}"));
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/*
 * Retention removed a job but its messages stay in the log (an older job
 * is still open): its request_id must not be taken again, or the log
 * would tell two jobs' lives under one id (found by the fuzzer).
 */
static bool hs_job_gone(void *arg)
{
	struct harness_client *c = arg;
	json_object *r = harness_call(c, "job", harness_json("{\"request_id\":\"pruned-x\"}"),
				      HARNESS_WAIT_MS);
	json_object *code;
	bool gone = json_object_object_get_ex(r, "error", &code) &&
		    json_object_object_get_ex(code, "code", &code) &&
		    json_object_get_int(code) == 1001;

	json_object_put(r);
	return gone;
}

START_TEST(test_pruned_id_not_reused)
{
	struct harness_daemon d;
	struct harness_client *c;
	char *msg = NULL, params[160];
	json_object *r;
	sqlite3 *db;

	harness_daemon_new(&d, "[daemon]\nretention_max_jobs = 2\n");
	c = harness_client_new(d.sock);
	harness_submit_json(c, "{\"request_id\":\"holder\",\"node\":{\"argv\":"
			       "[\"sleep\",\"60\"]}}");
	harness_submit_json(c, "{\"request_id\":\"pruned-x\",\"wait\":true,"
			       "\"node\":{\"argv\":[\"true\"]}}");
	for (int i = 0; i < 4; i++) {
		snprintf(params, sizeof(params),
			 "{\"request_id\":\"later-%d\",\"wait\":true,\"node\":{\"argv\":[\"true\"]}"
			 "}",
			 i);
		harness_submit_json(c, "%s", params);
	}
	ck_assert_msg(harness_until(hs_job_gone, c, HARNESS_WAIT_MS), "retention kept pruned-x");
	db = harness_db_open(&d);
	ck_assert_int_gt(harness_db_int(db, "SELECT count(*) FROM messages WHERE request_id = "
					    "'pruned-x'"),
			 0);
	sqlite3_close(db);
	r = harness_json("{\"request_id\":\"pruned-x\",\"node\":{\"argv\":[\"true\"]}}");
	ck_assert_int_eq(harness_err(c, "submit", r, &msg), 1002);
	ck_assert_msg(strstr(msg, "pruned-x"), "unclear: %s", msg);
	free(msg);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 3. shutdown with a huge queue ---- */

#define HS_QUEUED 100000

/* Seconds since the epoch, as the daemon's message times count them. */
static double hs_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_shutdown_huge_queue)
{
	struct harness_daemon d;
	struct harness_client *c;
	double asked, stopped, restarted;
	json_object *r;
	sqlite3 *db;
	int status;

	harness_daemon_new(&d, "[daemon]\n"
			       "shutdown_grace_sec = 1\n"
			       "[mode:one]\n"
			       "strategy = async\n"
			       "max_concurrency = 1\n"
			       "max_queue = 100000\n"
			       "kill_grace_ms = 500\n");
	c = harness_client_new(d.sock);
	hs_start(c, "{\"request_id\":\"blocker\",\"mode\":\"one\",\"node\":{\"argv\":"
		    "[\"sleep\",\"600\"]}}");
	hs_submit_many(c, "q", HS_QUEUED, 500, "one", "[\"true\"]", false);

	/* A drain keeps the queue (v2): only the running task is stopped, after the grace. */
	asked = hs_wall_now();
	r = harness_ok(c, "shutdown", NULL);
	json_object_put(r);
	harness_client_free(c);
	status = harness_daemon_wait_exit(&d, 10 * 60 * 1000);
	stopped = hs_wall_now();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	db = harness_db_open(&d);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened' "
					    "AND phase = 'queued'"),
			 HS_QUEUED);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'closed' AND "
					    "error_kind = 'cancelled'"),
			 1);
	sqlite3_close(db);

	/* The next start takes the whole queue up again, in order, and goes on serving. */
	harness_daemon_start(&d);
	restarted = hs_wall_now();
	fprintf(stderr, "%d queued: the drain took %.3f s, the restart %.3f s\n", HS_QUEUED,
		stopped - asked, restarted - stopped);
	c = harness_client_new(d.sock);
	r = harness_wait_job(c, "q1");
	ck_assert_str_eq(harness_str(r, "result"), "success");
	json_object_put(r);
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"q0\"}"));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
	r = harness_ok(c, "status", harness_json("{\"limit\":1}"));
	ck_assert_int_eq(harness_int(r, "counts.opened") + harness_int(r, "counts.closed"),
			 HS_QUEUED + 1);
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 4. the drain waits for a long kill_grace_ms ---- */

START_TEST(test_drain_honours_kill_grace)
{
	struct harness_daemon d;
	struct harness_client *c;
	json_object *r;
	int status;

	/* SIGKILL comes 11 s after SIGTERM: later than any fixed deadline before it. */
	harness_daemon_new(&d, "[daemon]\n"
			       "shutdown_grace_sec = 1\n"
			       "[mode:async]\n"
			       "kill_grace_ms = 11000\n");
	c = harness_client_new(d.sock);
	hs_start(c, "{\"request_id\":\"stubborn\",\"node\":{\"argv\":"
		    "[\"sh\",\"-c\",\"trap '' TERM; sleep 120\"]}}");
	harness_client_free(c);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	status = harness_daemon_wait_exit(&d, 60000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);

	/* It was killed and recorded as cancelled, not left for the next start as lost. */
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	r = harness_ok(c, "job", harness_json("{\"request_id\":\"stubborn\"}"));
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 5. a full disk ---- */

#define HS_FULL_ROUNDS 12
#define HS_FULL_BATCH  30
#define HS_FULL_ARGV   "[\"sh\",\"-c\",\"printf '%01500d' 0\"]"

/* A tmpfs of size on dir, in a mount namespace of this test; false if not permitted. */
static bool hs_mount_tmpfs(const char *dir, const char *size)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "SKIP full disk: no mount namespace: %s\n", strerror(errno));
		return false;
	}
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0) {
		fprintf(stderr, "SKIP full disk: cannot mount a tmpfs: %s\n", strerror(errno));
		return false;
	}
	return true;
}

/* Writes path until the file system is full; its size. */
static long long hs_fill(const char *path)
{
	static char chunk[65536];
	long long total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	memset(chunk, 'f', sizeof(chunk));
	for (size_t len = sizeof(chunk); len >= 512; len /= 2) {
		ssize_t n;

		while ((n = write(fd, chunk, len)) > 0)
			total += n;
	}
	ck_assert_int_eq(close(fd), 0);
	return total;
}

/* What the test saw over the full disk. */
struct hs_seen {
	json_object *seqs;	    /* seq -> "type request_id", from the subscriber */
	long long last_seq;	    /* the last seq the subscriber got */
	json_object *accepted;	    /* request_ids answered with a job */
	json_object *waited;	    /* the results of submit with wait */
	int refused;		    /* submits answered with an error */
	int hangups;		    /* connections the daemon closed */
	struct harness_client *sub; /* the subscriber */
	struct harness_client *waiters[HS_FULL_ROUNDS]; /* each round's submits with wait */
};

/* (Re)subscribes s->sub from the last seq it saw. */
static void hs_resubscribe(struct hs_seen *s, const struct harness_daemon *d)
{
	for (;;) {
		json_object *r;
		bool eof;
		long long id;

		harness_client_free(s->sub);
		s->sub = harness_client_new(d->sock);
		id = harness_call_async(s->sub, "subscribe",
					harness_json("{\"since_seq\":%lld}", s->last_seq));
		r = harness_next_json(s->sub, HARNESS_WAIT_MS, &eof);
		if (!r) {
			ck_assert_msg(eof, "no answer to subscribe");
			s->hangups++;
			continue;
		}
		/* The answer comes first: its replay follows it. */
		ck_assert_int_eq(harness_int(r, "id"), id);
		ck_assert_msg(json_object_object_get_ex(r, "result", NULL), "%s",
			      json_object_to_json_string(r));
		json_object_put(r);
		return;
	}
}

/* Takes in what the subscriber has been sent, waiting up to ms for the first line. */
static void hs_read_sub(struct hs_seen *s, const struct harness_daemon *d, int ms)
{
	for (;;) {
		bool eof;
		json_object *n = harness_next_json(s->sub, ms, &eof);
		long long seq;
		char what[256];

		if (!n) {
			if (!eof)
				return;
			s->hangups++;
			hs_resubscribe(s, d);
			continue;
		}
		ms = 0;
		ck_assert_msg(strcmp(harness_str(n, "method"), "message") == 0, "%s",
			      json_object_to_json_string(n));
		seq = harness_int(n, "params.message.seq");
		ck_assert_msg(seq == s->last_seq + 1, "the subscriber got seq %lld after %lld", seq,
			      s->last_seq);
		snprintf(what, sizeof(what), "%s %s", harness_str(n, "params.message.type"),
			 harness_str(n, "params.message.request_id")
				 ? harness_str(n, "params.message.request_id")
				 : "-");
		json_object_array_add(s->seqs, json_object_new_string(what));
		s->last_seq = seq;
		json_object_put(n);
	}
}

/* Sorts out one answer to a submit. */
static void hs_full_answer(struct hs_seen *s, json_object *r)
{
	json_object *v;

	if (json_object_object_get_ex(r, "error", &v)) {
		ck_assert_msg(harness_int(v, "code") == 1005, "%s", json_object_to_json_string(r));
		s->refused++;
		return;
	}
	v = harness_get(r, "result");
	/* An answer is never empty: it names the job it is about. */
	ck_assert_msg(json_object_object_get_ex(v, "job", NULL), "submit: %s",
		      json_object_to_json_string(r));
	json_object_array_add(s->accepted,
			      json_object_new_string(harness_str(v, "job.request_id")));
	if (json_object_object_get_ex(v, "message", NULL))
		json_object_array_add(s->waited, json_object_get(v));
}

/*
 * Sends a round of submits: those without wait on *c, whose answers come
 * at once (a hang-up reconnects), those with wait on a connection of their
 * own, read once the disk has room again (hs_full_waits).
 */
static void hs_full_round(struct hs_seen *s, const struct harness_daemon *d,
			  struct harness_client **c, int round)
{
	struct harness_client *w = harness_client_new(d->sock);
	int sent = 0;

	for (int i = 0; i < HS_FULL_BATCH; i++) {
		bool wait = i % 3 == 0;
		char line[256];

		/* A write error is a hang-up, which the reading below sees. */
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\",\"params\":"
			 "{\"request_id\":\"full%d-%d\",\"wait\":%s,\"node\":{\"argv\":%s}}}\n",
			 i, round, i, wait ? "true" : "false", HS_FULL_ARGV);
		harness_send_raw(wait ? w : *c, line, strlen(line));
		if (!wait)
			sent++;
	}
	s->waiters[round] = w;
	for (int i = 0; i < sent; i++) {
		bool eof;
		json_object *r = harness_next_json(*c, HARNESS_WAIT_MS, &eof);

		if (!r) {
			ck_assert_msg(eof, "no answer to a submit without wait");
			s->hangups++;
			harness_client_free(*c);
			*c = harness_client_new(d->sock);
			return;
		}
		hs_full_answer(s, r);
		json_object_put(r);
	}
}

/* The answers to the submits with wait, up to each connection's end. */
static void hs_full_waits(struct hs_seen *s)
{
	for (int round = 0; round < HS_FULL_ROUNDS; round++) {
		for (int i = 0; i < HS_FULL_BATCH; i += 3) {
			bool eof;
			json_object *r =
				harness_next_json(s->waiters[round], HARNESS_WAIT_MS, &eof);

			if (!r) {
				ck_assert_msg(eof, "no answer to a submit with wait");
				s->hangups++;
				break;
			}
			hs_full_answer(s, r);
			json_object_put(r);
		}
		harness_client_free(s->waiters[round]);
		s->waiters[round] = NULL;
	}
}

/*
 * The result of method on a connection of its own. A daemon may hang up on
 * a client while it cannot store (see docs/storage.md): then it is asked
 * again, a few times.
 */
static json_object *hs_ask(const struct harness_daemon *d, const char *method, const char *params)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		struct harness_client *c = harness_client_new(d->sock);
		json_object *p = params ? harness_json("%s", params) : NULL, *r, *result;
		long long id = harness_call_async(c, method, p);
		bool eof;

		r = harness_next_json(c, HARNESS_WAIT_MS, &eof);
		harness_client_free(c);
		if (!r) {
			ck_assert_msg(eof, "no answer to %s", method);
			continue;
		}
		ck_assert_int_eq(harness_int(r, "id"), id);
		ck_assert_msg(json_object_object_get_ex(r, "result", &result), "%s: %s", method,
			      json_object_to_json_string(r));
		json_object_get(result);
		json_object_put(r);
		return result;
	}
	ck_abort_msg("the daemon hung up on 20 calls of %s in a row", method);
	return NULL;
}

/* The daemon's counts and the history's rows agree (tried again if a commit slips between). */
static void hs_counts_match_rows(const struct harness_daemon *d, json_object **ret_counts)
{
	for (int attempt = 0;; attempt++) {
		sqlite3 *db = harness_db_open(d);
		long long opened =
			harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened'");
		long long closed =
			harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'closed'");
		json_object *r = hs_ask(d, "status", "{\"limit\":1}");
		bool same =
			harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened'") ==
				opened &&
			harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'closed'") ==
				closed;

		sqlite3_close(db);
		if (same || attempt == 20) {
			ck_assert_msg(harness_int(r, "counts.opened") == opened &&
					      harness_int(r, "counts.closed") == closed,
				      "counts say %lld opened, %lld closed; the history has %lld "
				      "and %lld rows",
				      harness_int(r, "counts.opened"),
				      harness_int(r, "counts.closed"), opened, closed);
			if (ret_counts)
				*ret_counts = json_object_get(harness_get(r, "counts"));
			json_object_put(r);
			return;
		}
		json_object_put(r);
		harness_sleep_ms(50);
	}
}

/* Whether mode async runs and queues nothing. */
static bool hs_async_idle(void *arg)
{
	json_object *r = hs_ask(arg, "modes", NULL), *modes = harness_get(r, "modes");
	bool idle = false;

	for (size_t i = 0; i < json_object_array_length(modes); i++) {
		json_object *m = json_object_array_get_idx(modes, i);

		if (strcmp(harness_str(m, "name"), "async") == 0)
			idle = harness_int(m, "running") == 0 && harness_int(m, "queued") == 0;
	}
	json_object_put(r);
	return idle;
}

static bool hs_all_closed(void *arg)
{
	json_object *r = hs_ask(arg, "status", "{\"limit\":1}");
	bool done = harness_int(r, "counts.opened") == 0;

	json_object_put(r);
	return done;
}

/* Checks what the clients were told against the history file of the stopped daemon. */
static void hs_check_history(const struct harness_daemon *d, struct hs_seen *s, json_object *counts)
{
	sqlite3 *db = harness_db_open(d);
	sqlite3_stmt *st;
	char sql[256];

	/* The log has no gap, and holds every seq a subscriber was sent, as it was sent. */
	ck_assert_int_eq(
		harness_db_int(db, "SELECT max(seq) - min(seq) + 1 - count(*) FROM message_log"),
		0);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT type || ' ' || coalesce(request_id, '-') FROM "
					    "message_log WHERE seq = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < json_object_array_length(s->seqs); i++) {
		const char *want = json_object_get_string(json_object_array_get_idx(s->seqs, i));

		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		ck_assert_msg(sqlite3_step(st) == SQLITE_ROW,
			      "a subscriber got seq %zu (%s), which is not in the history", i + 1,
			      want);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), want);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	/* Every job a client was told about is stored. */
	for (size_t i = 0; i < json_object_array_length(s->accepted); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(s->accepted, i));

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE request_id = '%s'", id);
		ck_assert_msg(harness_db_int(db, sql) == 1, "%s was accepted but is not stored",
			      id);
	}
	/* And every closing a client waited for, with its message. */
	for (size_t i = 0; i < json_object_array_length(s->waited); i++) {
		json_object *w = json_object_array_get_idx(s->waited, i);

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM jobs j JOIN messages m ON m.request_id = "
			 "j.request_id WHERE j.request_id = '%s' AND j.status = 'closed' AND "
			 "j.result = '%s' AND m.seq = %lld",
			 harness_str(w, "job.request_id"), harness_str(w, "job.result"),
			 harness_int(w, "message.seq"));
		ck_assert_msg(harness_db_int(db, sql) == 1, "the wait for %s was answered with %s",
			      harness_str(w, "job.request_id"), json_object_to_json_string(w));
	}
	/* The last counts a client saw are the rows. */
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'closed'"),
			 harness_int(counts, "closed"));
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM jobs WHERE status = 'opened'"),
			 harness_int(counts, "opened"));
	sqlite3_close(db);
}

START_TEST(test_full_disk)
{
	struct hs_seen s = {.seqs = json_object_new_array(),
			    .accepted = json_object_new_array(),
			    .waited = json_object_new_array()};
	struct harness_daemon d;
	struct harness_client *c;
	json_object *counts = NULL, *r;
	long long deadline, last;
	char filler[256];
	int status, recovered = 0;

	harness_daemon_init(&d, "[daemon]\n"
				"shutdown_grace_sec = 5\n"
				"[mode:async]\n"
				"max_concurrency = 4\n");
	ck_assert_int_eq(mkdir(d.state, 0700), 0);
	if (!hs_mount_tmpfs(d.state, "4m")) {
		harness_daemon_cleanup(&d);
		return;
	}
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	hs_resubscribe(&s, &d);
	hs_submit_many(c, "warm", 10, 10, NULL, HS_FULL_ARGV, true);
	hs_read_sub(&s, &d, HARNESS_WAIT_MS);
	/* Tasks that start, end and are queued while the disk is full. */
	hs_submit_many(c, "slow", 8, 8, NULL, "[\"sh\",\"-c\",\"sleep 2; printf '%01500d' 0\"]",
		       false);
	for (int i = 0; i < 8; i++) {
		char id[16];

		snprintf(id, sizeof(id), "slow%d", i);
		json_object_array_add(s.accepted, json_object_new_string(id));
		if (i < 4)
			json_object_put(harness_wait_running(c, id));
	}

	/* Nearly nothing left: the history's next pages have nowhere to go. */
	snprintf(filler, sizeof(filler), "%s/filler", d.state);
	fprintf(stderr, "filler: %lld bytes\n", hs_fill(filler));
	for (int round = 0; round < HS_FULL_ROUNDS; round++) {
		hs_full_round(&s, &d, &c, round);
		hs_read_sub(&s, &d, 0);
	}
	fprintf(stderr, "while full: %d refused, %d hang-ups\n", s.refused, s.hangups);
	ck_assert_msg(s.refused + s.hangups > 0, "the disk never filled up");
	/* Every slow task ran to its end meanwhile (those queued included). */
	ck_assert(harness_until(hs_async_idle, &d, HARNESS_WAIT_MS));
	/* Still full: what the daemon says is what is stored. */
	hs_read_sub(&s, &d, 500);
	hs_counts_match_rows(&d, NULL);

	/* Room again: the daemon catches up by itself and takes work again. */
	ck_assert_int_eq(unlink(filler), 0);
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (!recovered) {
		struct harness_client *a = harness_client_new(d.sock);
		bool eof;

		harness_call_async(a, "submit",
				   harness_json("{\"request_id\":\"after%lld\",\"node\":{\"argv\":"
						"[\"true\"]}}",
						harness_now_ms()));
		r = harness_next_json(a, HARNESS_WAIT_MS, &eof);
		harness_client_free(a);
		if (r && json_object_object_get_ex(r, "result", NULL)) {
			json_object_array_add(s.accepted, json_object_new_string(harness_str(
								  r, "result.job.request_id")));
			recovered = 1;
		}
		json_object_put(r);
		ck_assert_msg(recovered || harness_now_ms() < deadline,
			      "submits still refused after the disk has room");
		if (!recovered)
			harness_sleep_ms(100);
	}
	ck_assert(harness_until(hs_all_closed, &d, HARNESS_WAIT_MS));
	hs_full_waits(&s);
	fprintf(stderr, "in all: %d refused, %d hang-ups, %zu accepted, %zu waited\n", s.refused,
		s.hangups, json_object_array_length(s.accepted),
		json_object_array_length(s.waited));
	hs_counts_match_rows(&d, &counts);
	/* The subscriber gets everything up to the last seq. */
	r = hs_ask(&d, "subscribe", "{}");
	last = harness_int(r, "seq");
	json_object_put(r);
	while (s.last_seq < last)
		hs_read_sub(&s, &d, HARNESS_WAIT_MS);

	status = harness_daemon_stop(&d);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	hs_check_history(&d, &s, counts);

	json_object_put(counts);
	json_object_put(s.seqs);
	json_object_put(s.accepted);
	json_object_put(s.waited);
	harness_client_free(s.sub);
	harness_client_free(c);
	umount2(d.state, MNT_DETACH);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *hs_suite(void)
{
	Suite *s = suite_create("daemon-hostile-subs");
	TCase *tc = tcase_create("subscriptions");

	tcase_add_test(tc, test_replay_overtaken_by_retention);
	tcase_add_test(tc, test_empty_types_refused);
	tcase_add_test(tc, test_pruned_id_not_reused);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_add_test(tc, test_shutdown_huge_queue);
	tcase_add_test(tc, test_drain_honours_kill_grace);
	suite_add_tcase(s, tc);

	tc = tcase_create("storage");
	tcase_add_test(tc, test_full_disk);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(hs_suite());
}
