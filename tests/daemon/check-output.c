/*
 * A job's output over the real socket: kept in the state directory as the
 * task writes it, read back by byte offset, followed live, resumed after a
 * reconnect, cut for a follower that stops reading, and still there after
 * the daemon was killed. Tasks wait on fifos the test opens: no sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

#define OUT_NOBODY 65534

/* clang-format off */
#define OUT_CONFIG_WITH(extra)                                                                     \
	HARNESS_CONFIG_DAEMON                                                                      \
	extra                                                                                      \
	"socket_mode = 0666\n"                                                                     \
	"allowed_users = nobody\n"                                                                 \
	"subscriber_buffer_bytes = 1048576\n"                                                      \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	"[mode:small]\n"                                                                           \
	"strategy = async\n"                                                                       \
	"output_limit_bytes = 1000\n"
/* clang-format on */
#define OUT_CONFIG OUT_CONFIG_WITH("")

static struct harness_fixture fx;

static void out_setup(void)
{
	harness_daemon_init(&fx.daemon, OUT_CONFIG);
	/* nobody reaches the socket, and the gates. */
	ck_assert_int_eq(chmod(fx.daemon.dir, 0755), 0);
	fx.daemon.measure_memory = true;
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);
}

static void out_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* A fifo in the daemon's temp dir, for a task to wait on; its path (static buffer). */
static const char *out_gate(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx.daemon.dir, name);
	ck_assert_int_eq(mkfifo(path, 0666), 0);
	return path;
}

/* Lets the task waiting in `cat GATE` go on: open for writing (waits for it) and close. */
static void out_open_gate(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* Submits `sh -c script` as request_id in mode (NULL: async); extra: more Task keys or "". */
static void out_submit(const char *request_id, const char *mode, const char *script)
{
	json_object *p = json_object_new_object(), *node = json_object_new_object();
	json_object *argv = json_object_new_array(), *r;

	json_object_array_add(argv, json_object_new_string("sh"));
	json_object_array_add(argv, json_object_new_string("-c"));
	json_object_array_add(argv, json_object_new_string(script));
	json_object_object_add(node, "argv", argv);
	json_object_object_add(p, "request_id", json_object_new_string(request_id));
	if (mode)
		json_object_object_add(p, "mode", json_object_new_string(mode));
	json_object_object_add(p, "node", node);
	r = harness_ok(fx.client, "submit", p);
	json_object_put(r);
}

/* Starts following; returns the subscription id. */
static long long out_follow(struct harness_client *c, const char *params)
{
	json_object *r = harness_ok(c, "output", harness_json("%s", params));
	long long id = harness_int(r, "subscription");

	json_object_put(r);
	return id;
}

/* The next notification on c (a response here fails the test). */
static json_object *out_note(struct harness_client *c)
{
	json_object *n = harness_read_json(c, HARNESS_WAIT_MS);

	ck_assert_msg(!json_object_object_get_ex(n, "id", NULL), "not a notification: %.300s",
		      json_object_to_json_string(n));
	return n;
}

/* Bytes gathered from chunks, with where the next byte would be. */
struct out_text {
	char *data;
	size_t len;
	long long next; /* next_offset of the last chunk, -1 before any */
	int gaps;	/* chunks whose offset jumped ahead */
	long long dropped;
};

static void out_text_add(struct out_text *t, json_object *chunk)
{
	json_object *d = harness_get(chunk, "data");
	size_t n = (size_t)json_object_get_string_len(d);
	long long off = harness_int(chunk, "offset");

	ck_assert_int_ge(harness_int(chunk, "next_offset"), off);
	if (t->next >= 0) {
		ck_assert_msg(off >= t->next, "offset %lld went back before %lld", off, t->next);
		if (off > t->next) {
			t->gaps++;
			t->dropped += off - t->next;
		}
	}
	t->data = realloc(t->data, t->len + n + 1);
	memcpy(t->data + t->len, json_object_get_string(d), n);
	t->len += n;
	t->data[t->len] = '\0';
	t->next = harness_int(chunk, "next_offset");
}

/*
 * Reads output notifications of sub until output_ended (returned): stdout
 * into t, stderr into err (NULL: none may come).
 */
static json_object *out_collect2(struct harness_client *c, long long sub, struct out_text *t,
				 struct out_text *err)
{
	for (;;) {
		json_object *n = out_note(c);
		const char *m = harness_str(n, "method");

		ck_assert_int_eq(harness_int(n, "params.subscription"), sub);
		if (strcmp(m, "output_ended") == 0)
			return n;
		ck_assert_msg(strcmp(m, "output") == 0, "%.300s", json_object_to_json_string(n));
		if (strcmp(harness_str(n, "params.stream"), "stdout") == 0) {
			out_text_add(t, harness_get(n, "params"));
		} else {
			ck_assert_msg(err, "%.300s", json_object_to_json_string(n));
			out_text_add(err, harness_get(n, "params"));
		}
		json_object_put(n);
	}
}

static json_object *out_collect(struct harness_client *c, long long sub, struct out_text *t)
{
	return out_collect2(c, sub, t, NULL);
}

/* The stream's chunks of an output call (not following) into t; returns eof. */
static bool out_read(const char *params, const char *stream, struct out_text *t)
{
	json_object *r = harness_ok(fx.client, "output", harness_json("%s", params));
	json_object *chunks = harness_get(r, "chunks");
	bool eof = json_object_get_boolean(harness_get(r, "eof"));

	for (size_t i = 0; i < json_object_array_length(chunks); i++) {
		json_object *c = json_object_array_get_idx(chunks, i);

		if (strcmp(harness_str(c, "stream"), stream) == 0)
			out_text_add(t, c);
	}
	json_object_put(r);
	return eof;
}

START_TEST(test_follow_live)
{
	const char *gate = out_gate("gate-live");
	struct out_text t = {.next = -1}, err = {.next = -1};
	char script[512];
	json_object *n, *end;
	long long sub;

	snprintf(script, sizeof(script),
		 "echo first; echo oops >&2; cat %s >/dev/null; echo second", gate);
	out_submit("live", NULL, script);
	sub = out_follow(fx.client, "{\"request_id\":\"live\",\"follow\":true}");

	/* The first line arrives while the task still waits: the second is not written yet. */
	for (;;) {
		n = out_note(fx.client);
		ck_assert_str_eq(harness_str(n, "method"), "output");
		ck_assert_str_eq(harness_str(n, "params.request_id"), "live");
		if (strcmp(harness_str(n, "params.stream"), "stdout") == 0)
			break;
		out_text_add(&err, harness_get(n, "params"));
		json_object_put(n);
	}
	ck_assert_int_eq(harness_int(n, "params.offset"), 0);
	ck_assert_int_eq(harness_int(n, "params.next_offset"), 6);
	ck_assert_str_eq(harness_str(n, "params.data"), "first\n");
	json_object_put(n);

	out_open_gate(gate);
	t.next = 6;
	end = out_collect2(fx.client, sub, &t, &err);
	ck_assert_str_eq(t.data, "second\n");
	ck_assert_str_eq(err.data, "oops\n");
	ck_assert_int_eq(t.gaps + err.gaps, 0);
	ck_assert_str_eq(harness_str(end, "params.request_id"), "live");
	ck_assert_str_eq(harness_str(end, "params.job.status"), "closed");
	ck_assert_int_eq(harness_int(end, "params.job.stdout_bytes"), 13);
	ck_assert_int_eq(harness_int(end, "params.job.stderr_bytes"), 5);
	json_object_put(end);
	/* The follow is over: unsubscribing finds nothing. */
	ck_assert_int_eq(harness_err(fx.client, "unsubscribe",
				     harness_json("{\"subscription\":%lld}", sub), NULL),
			 1001);
	free(t.data);
	free(err.data);
}
END_TEST

/* Submits `true` on c and returns its request_id (to free). */
static char *out_submit_true(struct harness_client *c)
{
	static const char *const argv[] = {"true", NULL};
	json_object *job = harness_submit(c, NULL, argv);
	char *id = strdup(harness_str(job, "request_id"));

	ck_assert_ptr_nonnull(id);
	json_object_put(job);
	return id;
}

/* Follows request_id's stdout on c and asserts output_ended names it, however late it came. */
static void out_expect_end(struct harness_client *c, const char *request_id)
{
	char params[256];
	json_object *end;

	snprintf(params, sizeof(params),
		 "{\"request_id\":\"%s\",\"stream\":\"stdout\",\"follow\":true}", request_id);
	out_follow(c, params);
	end = harness_notification(c, "output_ended", HARNESS_WAIT_MS);
	ck_assert_msg(end != NULL, "output_ended never came for %s", request_id);
	ck_assert_str_eq(harness_str(end, "params.request_id"), request_id);
	ck_assert_str_eq(harness_str(end, "params.job.status"), "closed");
	json_object_put(end);
}

/*
 * A follow that begins just as its job ends: the end may be published and
 * not yet delivered, the job still open in the state. The follow must hear
 * of it all the same (it once did not, and `coordctl submit --wait` hung).
 * Two clients and a short random pause per round make the two meet.
 */
START_TEST(test_follow_races_the_end)
{
	struct harness_client *other = harness_client_new(fx.daemon.sock);
	unsigned seed = 13;

	for (int i = 0; i < 300; i++) {
		char *a = out_submit_true(fx.client), *b = out_submit_true(other);

		usleep((useconds_t)(rand_r(&seed) % 3000));
		out_expect_end(fx.client, a);
		out_expect_end(other, b);
		free(a);
		free(b);
	}
	harness_client_free(other);
}
END_TEST

START_TEST(test_follow_closed_job)
{
	struct out_text t = {.next = -1};
	json_object *end, *job;
	long long sub;

	out_submit("done", NULL, "printf 'a\\nb\\n'; printf 'e\\n' >&2");
	job = harness_wait_job(fx.client, "done");
	ck_assert_int_eq(harness_int(job, "stdout_bytes"), 4);
	ck_assert_int_eq(harness_int(job, "stderr_bytes"), 2);
	json_object_put(job);

	/* Following a closed job gives what is kept, then output_ended at once. */
	sub = out_follow(fx.client,
			 "{\"request_id\":\"done\",\"stream\":\"stdout\",\"follow\":true}");
	end = out_collect(fx.client, sub, &t);
	ck_assert_str_eq(t.data, "a\nb\n");
	json_object_put(end);
	free(t.data);

	/* Without follow: both streams by default, eof once closed. */
	t = (struct out_text){.next = -1};
	ck_assert(out_read("{\"request_id\":\"done\"}", "stderr", &t));
	ck_assert_str_eq(t.data, "e\n");
	free(t.data);
	t = (struct out_text){.next = -1};
	ck_assert(out_read("{\"request_id\":\"done\",\"offset\":2}", "stdout", &t));
	ck_assert_str_eq(t.data, "b\n");
	free(t.data);
}
END_TEST

START_TEST(test_long_output_keeps_head_and_end)
{
	struct out_text t = {.next = -1};
	const long long total = 10 * 1024 * 1024 + 22;
	json_object *r;
	const char *tail;

	out_submit("long", NULL,
		   "head -c 10485760 /dev/zero | tr '\\0' x; echo 'FATAL: the real error'; exit 2");
	r = harness_wait_job(fx.client, "long");
	ck_assert_int_eq(harness_int(r, "stdout_bytes"), total);
	json_object_put(r);

	/* The message carries the end: the last 64 KiB. */
	r = harness_ok(fx.client, "job", harness_json("{\"request_id\":\"long\"}"));
	tail = harness_str(r, "message.result.stdout");
	ck_assert_uint_eq(strlen(tail), 65536);
	ck_assert_str_eq(tail + 65536 - 22, "FATAL: the real error\n");
	ck_assert(json_object_get_boolean(harness_get(r, "message.result.stdout_truncated")));
	json_object_put(r);

	/* Kept: the first half MiB and the last; the middle is a jump in the offsets. */
	ck_assert(out_read("{\"request_id\":\"long\",\"stream\":\"stdout\"}", "stdout", &t));
	ck_assert_int_eq(t.gaps, 1);
	ck_assert_int_eq(t.dropped, total - 1024 * 1024);
	ck_assert_uint_eq(t.len, 1024 * 1024);
	ck_assert_int_eq(t.next, total);
	ck_assert_str_eq(t.data + t.len - 22, "FATAL: the real error\n");
	ck_assert_int_eq(t.data[0], 'x');
	free(t.data);

	/* A negative offset: that many bytes from the end. */
	t = (struct out_text){.next = -1};
	ck_assert(out_read("{\"request_id\":\"long\",\"stream\":\"stdout\",\"offset\":-22}",
			   "stdout", &t));
	ck_assert_str_eq(t.data, "FATAL: the real error\n");
	free(t.data);
}
END_TEST

START_TEST(test_resume_after_reconnect)
{
	const char *gate = out_gate("gate-resume");
	struct harness_client *first = harness_client_new(fx.daemon.sock);
	struct out_text a = {.next = -1}, b = {.next = -1};
	char script[512], *want;
	json_object *n, *end;
	long long sub;
	size_t wlen = 0;
	FILE *mem;

	/* After the gate less than the client's buffer, so a reader that is slow to start keeps up.
	 */
	snprintf(script, sizeof(script), "seq 1 20000; cat %s >/dev/null; seq 20001 25000", gate);
	out_submit("resume", NULL, script);
	sub = out_follow(first,
			 "{\"request_id\":\"resume\",\"stream\":\"stdout\",\"follow\":true}");
	/*
	 * Take the first notifications only, then hang up. (A slow client may
	 * be cut off as lagged before: then it resumes where that says.)
	 */
	for (int i = 0; i < 2 || a.len < 20000; i++) {
		n = out_note(first);
		ck_assert_int_eq(harness_int(n, "params.subscription"), sub);
		if (strcmp(harness_str(n, "method"), "subscription_ended") == 0) {
			ck_assert_int_eq(harness_int(n, "params.resume_offset"), a.next);
			json_object_put(n);
			break;
		}
		out_text_add(&a, harness_get(n, "params"));
		json_object_put(n);
	}
	harness_client_free(first);

	/* Reconnect and go on from the last next_offset seen, while the task goes on. */
	{
		char params[128];

		snprintf(params, sizeof(params),
			 "{\"request_id\":\"resume\",\"stream\":\"stdout\",\"offset\":%lld,"
			 "\"follow\":true}",
			 a.next);
		sub = out_follow(fx.client, params);
	}
	out_open_gate(gate);
	b.next = a.next;
	end = out_collect(fx.client, sub, &b);
	json_object_put(end);
	ck_assert_int_eq(b.gaps, 0);

	/* Together: exactly `seq 1 25000`, nothing lost, nothing twice. */
	mem = open_memstream(&want, &wlen);
	for (int i = 1; i <= 25000; i++)
		fprintf(mem, "%d\n", i);
	fclose(mem);
	ck_assert_uint_eq(a.len + b.len, wlen);
	ck_assert(memcmp(a.data, want, a.len) == 0);
	ck_assert(memcmp(b.data, want + a.len, b.len) == 0);
	free(want);
	free(a.data);
	free(b.data);
}
END_TEST

START_TEST(test_binary_and_invalid_utf8)
{
	const char *gate = out_gate("gate-utf8");
	struct out_text t = {.next = -1};
	char script[512];
	json_object *r, *n, *end, *chunks;
	long long sub;

	/* é written in two halves with a pause between: a follower never sees it broken. */
	snprintf(script, sizeof(script),
		 "printf 'a\\000b \\377\\376 end\\n\\303'; cat %s >/dev/null; printf '\\251\\n'",
		 gate);
	out_submit("bin", NULL, script);
	sub = out_follow(fx.client,
			 "{\"request_id\":\"bin\",\"stream\":\"stdout\",\"follow\":true}");
	n = out_note(fx.client);
	/* Bytes 0..10 now; the lone first byte of é waits for the rest. */
	ck_assert_int_eq(harness_int(n, "params.offset"), 0);
	ck_assert_int_eq(harness_int(n, "params.next_offset"), 11);
	ck_assert_int_eq(json_object_get_string_len(harness_get(n, "params.data")), 15);
	ck_assert(memcmp(json_object_get_string(harness_get(n, "params.data")),
			 "a\0b \xef\xbf\xbd\xef\xbf\xbd end\n", 15) == 0);
	json_object_put(n);
	out_open_gate(gate);
	t.next = 11;
	end = out_collect(fx.client, sub, &t);
	ck_assert_str_eq(t.data, "\xc3\xa9\n");
	json_object_put(end);
	free(t.data);

	/* Read at once: the same text, offsets in bytes of the stream. */
	r = harness_ok(fx.client, "output", harness_json("{\"request_id\":\"bin\"}"));
	chunks = harness_get(r, "chunks");
	ck_assert_uint_eq(json_object_array_length(chunks), 1);
	ck_assert_int_eq(harness_int(json_object_array_get_idx(chunks, 0), "next_offset"), 14);
	ck_assert(memcmp(json_object_get_string(
				 harness_get(json_object_array_get_idx(chunks, 0), "data")),
			 "a\0b \xef\xbf\xbd\xef\xbf\xbd end\n\xc3\xa9\n", 18) == 0);
	json_object_put(r);
}
END_TEST

START_TEST(test_follower_that_never_reads)
{
	const char *gate = out_gate("gate-lag");
	struct harness_client *stuck = harness_client_new(fx.daemon.sock);
	struct out_text t = {.next = -1};
	long rss_before, rss_after;
	long long sub, resume = -1;
	char script[512], params[160];
	json_object *job, *end;

	snprintf(script, sizeof(script),
		 "cat %s >/dev/null; head -c 104857600 /dev/zero | tr '\\0' y; echo last", gate);
	out_submit("flood", NULL, script);
	sub = out_follow(stuck, "{\"request_id\":\"flood\",\"stream\":\"stdout\",\"follow\":true}");
	rss_before = harness_rss_kib(fx.daemon.pid);
	out_open_gate(gate);
	job = harness_wait_job(fx.client, "flood");
	rss_after = harness_rss_kib(fx.daemon.pid);
	fprintf(stderr, "follower never reads 100 MiB: RSS %ld KiB -> %ld KiB\n", rss_before,
		rss_after);
	ck_assert_msg(rss_after - rss_before < 16 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);
	ck_assert_int_eq(harness_int(job, "stdout_bytes"), 104857605);
	json_object_put(job);

	/* It reads at last: what was queued, then the end, lagged, with where to resume. */
	for (;;) {
		json_object *n = out_note(stuck);

		if (strcmp(harness_str(n, "method"), "subscription_ended") == 0) {
			ck_assert_int_eq(harness_int(n, "params.subscription"), sub);
			ck_assert_str_eq(harness_str(n, "params.reason"), "lagged");
			resume = harness_int(n, "params.resume_offset");
			json_object_put(n);
			break;
		}
		ck_assert_str_eq(harness_str(n, "method"), "output");
		out_text_add(&t, harness_get(n, "params"));
		json_object_put(n);
	}
	ck_assert_int_eq(resume, t.next);
	ck_assert_int_lt(resume, 104857605);
	free(t.data);

	/* Resuming there gets the rest that is kept: a jump to the end, then output_ended. */
	t = (struct out_text){.next = resume};
	snprintf(params, sizeof(params),
		 "{\"request_id\":\"flood\",\"stream\":\"stdout\",\"offset\":%lld,\"follow\":true}",
		 resume);
	sub = out_follow(stuck, params);
	end = out_collect(stuck, sub, &t);
	ck_assert_int_eq(t.next, 104857605);
	ck_assert_str_eq(t.data + t.len - 5, "last\n");
	json_object_put(end);
	free(t.data);
	harness_client_free(stuck);
}
END_TEST

static bool out_has_before(void *arg)
{
	json_object *r =
		harness_ok(fx.client, "output", harness_json("{\"request_id\":\"crash\"}"));
	bool found = json_object_array_length(harness_get(r, "chunks")) > 0;

	json_object_put(r);
	return found;
}

START_TEST(test_survives_kill9)
{
	const char *gate = out_gate("gate-kill");
	struct out_text t = {.next = -1};
	char script[512];
	json_object *job;

	snprintf(script, sizeof(script), "echo before; cat %s >/dev/null; echo after", gate);
	out_submit("crash", NULL, script);
	ck_assert(harness_until(out_has_before, NULL, HARNESS_WAIT_MS));
	kill(fx.daemon.pid, SIGKILL);
	ck_assert_int_ge(harness_daemon_wait_exit(&fx.daemon, HARNESS_WAIT_MS), 0);
	harness_daemon_start(&fx.daemon);
	harness_fixture_connect(&fx);

	/* The job is lost; what it wrote before the kill is still there. */
	job = harness_wait_job(fx.client, "crash");
	ck_assert_str_eq(harness_str(job, "error.kind"), "lost");
	ck_assert_int_eq(harness_int(job, "stdout_bytes"), 7);
	json_object_put(job);
	ck_assert(out_read("{\"request_id\":\"crash\"}", "stdout", &t));
	ck_assert_str_eq(t.data, "before\n");
	free(t.data);
	/* The restart stopped what was left of the task: nobody waits on the gate. */
	(void)gate;
}
END_TEST

static bool out_gone(void *path)
{
	struct stat st;

	return stat(path, &st) < 0 && errno == ENOENT;
}

START_TEST(test_retention_removes_output)
{
	char path[256];
	json_object *r;
	struct stat st;

	out_submit("old", NULL, "echo kept");
	json_object_put(harness_wait_job(fx.client, "old"));
	snprintf(path, sizeof(path), "%s/output/old.stdout", fx.daemon.state);
	ck_assert_int_eq(stat(path, &st), 0);
	harness_daemon_write_config(&fx.daemon, OUT_CONFIG_WITH("retention_max_jobs = 1\n"));
	kill(fx.daemon.pid, SIGHUP);
	out_submit("new", NULL, "true");
	json_object_put(harness_wait_job(fx.client, "new"));
	ck_assert(harness_until(out_gone, path, HARNESS_WAIT_MS));
	r = harness_call(fx.client, "output", harness_json("{\"request_id\":\"old\"}"),
			 HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(r, "error.code"), 1001);
	json_object_put(r);
}
END_TEST

/* The response to one call made as uid nobody. */
static json_object *out_call_as_nobody(const char *request)
{
	return harness_request_as(fx.daemon.sock, OUT_NOBODY, OUT_NOBODY, NULL, 0, request);
}

START_TEST(test_errors)
{
	char *msg = NULL;
	json_object *r;

	out_submit("mine", NULL, "echo secret");
	json_object_put(harness_wait_job(fx.client, "mine"));
	ck_assert_int_eq(
		harness_err(fx.client, "output", harness_json("{\"request_id\":\"nope\"}"), NULL),
		1001);
	ck_assert_int_eq(harness_err(fx.client, "output",
				     harness_json("{\"request_id\":\"mine\",\"folow\":true}"),
				     &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "folow"), "%s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "output",
				     harness_json("{\"request_id\":\"mine\",\"stream\":\"both\"}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "output",
				     harness_json("{\"request_id\":\"mine\",\"offset\":1.5}"),
				     NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "output", harness_json("{}"), NULL), -32602);
	/* Someone else allowed to use the daemon may not read it. */
	r = out_call_as_nobody("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"output\","
			       "\"params\":{\"request_id\":\"mine\"}}\n");
	ck_assert_int_eq(harness_int(r, "error.code"), 1004);
	json_object_put(r);
	r = out_call_as_nobody("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"output\","
			       "\"params\":{\"request_id\":\"mine\",\"follow\":true}}\n");
	ck_assert_int_eq(harness_int(r, "error.code"), 1004);
	json_object_put(r);
}
END_TEST

START_TEST(test_mode_limit)
{
	struct out_text t = {.next = -1};

	/* The small mode keeps 1000 bytes: 500 from the start, 500 from the end. */
	out_submit("lim", "small", "seq 1 10000");
	json_object_put(harness_wait_job(fx.client, "lim"));
	ck_assert(out_read("{\"request_id\":\"lim\",\"stream\":\"stdout\"}", "stdout", &t));
	ck_assert_uint_eq(t.len, 1000);
	ck_assert_int_eq(t.gaps, 1);
	ck_assert(strncmp(t.data, "1\n2\n3\n", 6) == 0);
	ck_assert_str_eq(t.data + t.len - 6, "10000\n");
	free(t.data);
}
END_TEST

static Suite *out_suite(void)
{
	Suite *s = suite_create("daemon-output");
	TCase *tc = tcase_create("output");

	tcase_add_checked_fixture(tc, out_setup, out_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_follow_live);
	tcase_add_test(tc, test_follow_closed_job);
	tcase_add_test(tc, test_follow_races_the_end);
	tcase_add_test(tc, test_long_output_keeps_head_and_end);
	tcase_add_test(tc, test_resume_after_reconnect);
	tcase_add_test(tc, test_binary_and_invalid_utf8);
	tcase_add_test(tc, test_follower_that_never_reads);
	tcase_add_test(tc, test_survives_kill9);
	tcase_add_test(tc, test_retention_removes_output);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_mode_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(out_suite());
}
