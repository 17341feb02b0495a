/*
 * Hostile and racy clients against the transport of the real coordinatord:
 * refused peers, too many connections per uid, huge batches and answers,
 * piles of pending calls, odd ids, NUL characters, a last line without its
 * newline, and a config file that is not text. Every limit is gone past
 * and the daemon must answer with a clear error, stay up, and keep its
 * memory bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "harness.h"

#define NOBODY	   65534 /* never allowed unless the config says so */
#define DAEMON_UID 1	 /* "daemon" in /etc/passwd */

static struct harness_daemon daemon_;

static void hostile_teardown(void)
{
	harness_daemon_cleanup(&daemon_);
}

/* Starts daemon_ with config; others may reach its socket (with socket_mode = 0666). */
static void hostile_start(const char *config, bool measure_memory)
{
	harness_daemon_init(&daemon_, config);
	daemon_.measure_memory = measure_memory;
	harness_daemon_start(&daemon_);
	ck_assert_int_eq(chmod(daemon_.dir, 0755), 0);
}

/* ---- acting as another uid, in a child process ---- */

struct hostile_child {
	pid_t pid;
	int cmd;   /* the parent writes here, the child reads */
	int reply; /* the child writes here, the parent reads */
};

static int child_cmd_fd = -1, child_reply_fd = -1;

/* Runs fn(arg) in a child process as uid (its group is uid too); returns at once. */
static void hostile_fork_as(struct hostile_child *ch, uid_t uid, int (*fn)(void *arg), void *arg)
{
	int down[2], up[2];

	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ch->pid = fork();
	ck_assert_int_ge(ch->pid, 0);
	if (ch->pid == 0) {
		close(down[1]);
		close(up[0]);
		child_cmd_fd = down[0];
		child_reply_fd = up[1];
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	close(down[0]);
	close(up[1]);
	ch->cmd = down[1];
	ch->reply = up[0];
}

static void hostile_tell(int fd, char c)
{
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* The next byte on fd, or 0 on timeout or end of file. */
static char hostile_hear(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&pfd, 1, timeout_ms) <= 0 || read(fd, &c, 1) != 1)
		return 0;
	return c;
}

/* Closes the pipes and waits for the child; its exit code (-1 if it did not exit). */
static int hostile_child_end(struct hostile_child *ch)
{
	int status;

	close(ch->cmd);
	close(ch->reply);
	ck_assert_int_eq(waitpid(ch->pid, &status, 0), ch->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs fn as uid to its end; its exit code. */
static int hostile_run_as(uid_t uid, int (*fn)(void *arg), void *arg)
{
	struct hostile_child ch;

	hostile_fork_as(&ch, uid, fn, arg);
	return hostile_child_end(&ch);
}

/* For children: the code of the answer line (0 for a result), -1 for no answer, -2 garbage. */
static int hostile_line_code(const char *line)
{
	json_object *o, *v;
	int code = -2;

	if (!line)
		return -1;
	o = json_tokener_parse(line);
	if (o && json_object_object_get_ex(o, "error", &v))
		code = json_object_get_int(json_object_object_get(v, "code"));
	else if (o && json_object_object_get_ex(o, "result", &v))
		code = 0;
	json_object_put(o);
	return code;
}

/* For children: one request on c, the code of its answer. */
static int hostile_code(struct harness_client *c, const char *line, int timeout_ms)
{
	bool eof;
	char *answer;
	int code;

	if (harness_send_raw(c, line, strlen(line)) < 0)
		return -1;
	answer = harness_read_line(c, timeout_ms, &eof);
	code = hostile_line_code(answer);
	free(answer);
	return code;
}

#define PING "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"

/* For children and parents: whether a fresh connection from this uid gets a ping answered. */
static bool hostile_ping_works(void)
{
	struct harness_client *c = harness_connect(daemon_.sock);
	int code;

	if (!c)
		return false;
	code = hostile_code(c, PING, HARNESS_WAIT_MS);
	harness_client_free(c);
	return code == 0;
}

static void hostile_assert_ping(void)
{
	ck_assert_msg(hostile_ping_works(), "the daemon no longer answers ping");
	ck_assert(harness_pid_alive(daemon_.pid));
}

struct hostile_log_wait {
	const char *needle;
	size_t from;
};

static size_t hostile_log_len(void)
{
	char *log = harness_daemon_log(&daemon_);
	size_t n = strlen(log);

	free(log);
	return n;
}

static bool hostile_log_has_cb(void *arg)
{
	struct hostile_log_wait *w = arg;
	char *log = harness_daemon_log(&daemon_);
	bool found = strlen(log) > w->from && strstr(log + w->from, w->needle);

	free(log);
	return found;
}

/* Writes len bytes (NUL bytes too) as the daemon's config file. */
static void hostile_write_config(const char *config, size_t len)
{
	FILE *f = fopen(daemon_.conf, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(config, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Writes config, sends SIGHUP and waits for the verdict in the log: true if it was taken. */
static bool hostile_reload(const char *config, size_t len)
{
	struct hostile_log_wait taken = {.needle = "reloaded", .from = hostile_log_len()};
	struct hostile_log_wait refused = {.needle = "reload refused", .from = taken.from};
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;

	hostile_write_config(config, len);
	ck_assert_int_eq(kill(daemon_.pid, SIGHUP), 0);
	while (harness_now_ms() < deadline) {
		if (hostile_log_has_cb(&taken))
			return true;
		if (hostile_log_has_cb(&refused))
			return false;
		harness_sleep_ms(20);
	}
	ck_abort_msg("the daemon logged no reload after SIGHUP");
	return false;
}

/* ---- peers refused at accept, connections per uid ---- */

#define HOSTILE_REFUSED_CONNS 16

/* As nobody: every connection is told 1004 and closed at once, without a request. */
static int hostile_refused_flood(void *arg)
{
	struct harness_client *cs[HOSTILE_REFUSED_CONNS];
	int result = 0;

	(void)arg;
	for (int i = 0; i < HOSTILE_REFUSED_CONNS; i++) {
		bool eof;
		char *line;

		cs[i] = harness_connect(daemon_.sock);
		if (!cs[i])
			return 10;
		if (result)
			continue;
		line = harness_read_line(cs[i], HARNESS_WAIT_MS, &eof);
		if (!line)
			result = 1; /* nothing said at accept */
		else if (hostile_line_code(line) != 1004 || !strstr(line, "\"id\":null"))
			result = 2;
		else if (!harness_wait_eof(cs[i], HARNESS_WAIT_MS))
			result = 3; /* not closed */
		free(line);
	}
	/* Hold every socket open while the parent tries its luck. */
	hostile_tell(child_reply_fd, 'r');
	hostile_hear(child_cmd_fd, HARNESS_WAIT_MS);
	for (int i = 0; i < HOSTILE_REFUSED_CONNS; i++)
		harness_client_free(cs[i]);
	return result;
}

START_TEST(test_refused_at_accept)
{
	struct hostile_child ch;

	hostile_start("[daemon]\nsocket_mode = 0666\nmax_connections = 8\n", false);
	hostile_fork_as(&ch, NOBODY, hostile_refused_flood, NULL);
	ck_assert_int_eq(hostile_hear(ch.reply, 4 * HARNESS_WAIT_MS), 'r');
	/* nobody holds 16 sockets, yet they took no slot: root gets in. */
	hostile_assert_ping();
	hostile_tell(ch.cmd, 'q');
	ck_assert_int_eq(hostile_child_end(&ch), 0);
	hostile_assert_ping();
}
END_TEST

#define HOSTILE_PER_UID 4

/* As daemon: HOSTILE_PER_UID connections work, one more is told 1005 and closed. */
static int hostile_per_uid_flood(void *arg)
{
	struct harness_client *cs[HOSTILE_PER_UID + 1] = {NULL};
	bool eof;
	char *line;
	int result = 0;

	(void)arg;
	for (int i = 0; i < HOSTILE_PER_UID && !result; i++) {
		cs[i] = harness_connect(daemon_.sock);
		if (!cs[i] || hostile_code(cs[i], PING, HARNESS_WAIT_MS) != 0)
			result = 1;
	}
	cs[HOSTILE_PER_UID] = harness_connect(daemon_.sock);
	if (!result && cs[HOSTILE_PER_UID]) {
		harness_send_raw(cs[HOSTILE_PER_UID], PING, strlen(PING));
		line = harness_read_line(cs[HOSTILE_PER_UID], HARNESS_WAIT_MS, &eof);
		if (hostile_line_code(line) != 1005)
			result = 2;
		else if (!strstr(line, "max_connections_per_uid"))
			result = 3;
		else if (!harness_wait_eof(cs[HOSTILE_PER_UID], HARNESS_WAIT_MS))
			result = 4;
		free(line);
	}
	hostile_tell(child_reply_fd, 'r');
	hostile_hear(child_cmd_fd, HARNESS_WAIT_MS);
	for (int i = 0; i <= HOSTILE_PER_UID; i++)
		harness_client_free(cs[i]);
	return result;
}

/* As daemon: HOSTILE_PER_UID connections at once all get their ping answered. */
static int hostile_per_uid_fits(void *arg)
{
	struct harness_client *cs[HOSTILE_PER_UID];
	int result = 0;

	(void)arg;
	for (int i = 0; i < HOSTILE_PER_UID; i++) {
		cs[i] = harness_connect(daemon_.sock);
		if (!cs[i] || hostile_code(cs[i], PING, HARNESS_WAIT_MS) != 0)
			result = 1;
	}
	for (int i = 0; i < HOSTILE_PER_UID; i++)
		harness_client_free(cs[i]);
	return result;
}

static bool hostile_per_uid_fits_cb(void *arg)
{
	return hostile_run_as(DAEMON_UID, hostile_per_uid_fits, arg) == 0;
}

START_TEST(test_connections_per_uid)
{
	struct harness_client *roots[2 * HOSTILE_PER_UID];
	struct hostile_child ch;

	hostile_start("[daemon]\nsocket_mode = 0666\nallowed_users = daemon\n"
		      "max_connections_per_uid = 4\n",
		      false);
	hostile_fork_as(&ch, DAEMON_UID, hostile_per_uid_flood, NULL);
	ck_assert_int_eq(hostile_hear(ch.reply, 4 * HARNESS_WAIT_MS), 'r');
	/* root (like the daemon's own uid, which tasks use) is not capped per uid. */
	for (int i = 0; i < 2 * HOSTILE_PER_UID; i++) {
		roots[i] = harness_client_new(daemon_.sock);
		json_object_put(harness_ok(roots[i], "ping", NULL));
	}
	for (int i = 0; i < 2 * HOSTILE_PER_UID; i++)
		harness_client_free(roots[i]);
	hostile_tell(ch.cmd, 'q');
	ck_assert_int_eq(hostile_child_end(&ch), 0);
	/* Its connections are gone: the uid has its full share again. */
	ck_assert(harness_until(hostile_per_uid_fits_cb, NULL, HARNESS_WAIT_MS));
}
END_TEST

/* ---- batches ---- */

/* A batch of n pings with ids 0..n-1 (caller frees). */
static char *hostile_ping_batch(size_t n)
{
	char *text = malloc(n * 64 + 4), *p = text;

	ck_assert_ptr_nonnull(text);
	*p++ = '[';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"ping\"}",
			     i ? "," : "", i);
	strcpy(p, "]\n");
	return text;
}

#define HOSTILE_BATCH_LINE (1024 * 1024 - 16)

/* "[1,1,...,1]\n": HOSTILE_BATCH_LINE bytes and a newline, half a million non-requests. */
static char *hostile_ones_batch(void)
{
	char *line = malloc(HOSTILE_BATCH_LINE + 2);

	if (!line)
		return NULL;
	line[0] = '[';
	for (size_t i = 1; i + 2 < HOSTILE_BATCH_LINE; i += 2)
		memcpy(line + i, "1,", 2);
	line[HOSTILE_BATCH_LINE - 2] = '1';
	line[HOSTILE_BATCH_LINE - 1] = ']';
	line[HOSTILE_BATCH_LINE] = '\n';
	line[HOSTILE_BATCH_LINE + 1] = '\0';
	return line;
}

START_TEST(test_max_batch)
{
	struct harness_client *c;
	long rss_before, rss_after;
	json_object *o;
	char *text;

	hostile_start("[daemon]\nmax_batch = 50\n", true);
	c = harness_client_new(daemon_.sock);
	text = hostile_ping_batch(50);
	harness_send(c, text);
	free(text);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert(json_object_is_type(o, json_type_array));
	ck_assert_int_eq(json_object_array_length(o), 50);
	json_object_put(o);

	text = hostile_ping_batch(51);
	harness_send(c, text);
	free(text);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert_msg(json_object_is_type(o, json_type_object), "%s",
		      json_object_to_json_string(o));
	ck_assert_int_eq(harness_int(o, "error.code"), -32600);
	ck_assert(harness_is_null(o, "id"));
	ck_assert_msg(strstr(harness_str(o, "error.message"), "max_batch"), "%s",
		      harness_str(o, "error.message"));
	json_object_put(o);
	ck_assert(harness_silent(c, 200));

	/* A whole line of non-requests is refused as it is, never parsed nor answered one by one.
	 */
	rss_before = harness_rss_kib(daemon_.pid);
	text = hostile_ones_batch();
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(harness_send_raw(c, text, HOSTILE_BATCH_LINE + 1), 0);
	free(text);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert_msg(json_object_is_type(o, json_type_object), "an answer per element");
	ck_assert_int_eq(harness_int(o, "error.code"), -32600);
	json_object_put(o);
	rss_after = harness_rss_kib(daemon_.pid);
	fprintf(stderr, "max_batch: RSS %ld KiB -> %ld KiB\n", rss_before, rss_after);
	ck_assert_msg(rss_after - rss_before < 32 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);
	json_object_put(harness_ok(c, "ping", NULL));
	harness_client_free(c);
}
END_TEST

/* As nobody, allowed at first: waits for the parent to revoke it, then sends a 1 MiB batch. */
static int hostile_revoked_batch(void *arg)
{
	struct harness_client *c = harness_connect(daemon_.sock);
	char *line, *answer;
	bool eof;
	int result = 0;

	(void)arg;
	if (!c || hostile_code(c, PING, HARNESS_WAIT_MS) != 0)
		return 1;
	hostile_tell(child_reply_fd, 'a');
	if (hostile_hear(child_cmd_fd, HARNESS_WAIT_MS) != 'b')
		return 2;
	line = hostile_ones_batch();
	if (!line || harness_send_raw(c, line, HOSTILE_BATCH_LINE + 1) < 0)
		result = 3;
	free(line);
	answer = result ? NULL : harness_read_line(c, 4 * HARNESS_WAIT_MS, &eof);
	if (!result && (!answer || answer[0] != '{' || strlen(answer) > 1024 ||
			hostile_line_code(answer) != 1004))
		result = 4; /* not the one short 1004 answer */
	free(answer);
	if (!result && hostile_code(c, PING, HARNESS_WAIT_MS) != 1004)
		result = 5;
	harness_client_free(c);
	return result;
}

START_TEST(test_revoked_peer_big_batch)
{
	static const char allowed[] = "[daemon]\nsocket_mode = 0666\nallowed_users = nobody\n";
	static const char revoked[] = "[daemon]\nsocket_mode = 0666\n";
	struct hostile_child ch;
	long rss_before, rss_after;

	hostile_start(allowed, true);
	hostile_fork_as(&ch, NOBODY, hostile_revoked_batch, NULL);
	ck_assert_int_eq(hostile_hear(ch.reply, HARNESS_WAIT_MS), 'a');
	rss_before = harness_rss_kib(daemon_.pid);
	ck_assert(hostile_reload(revoked, sizeof(revoked) - 1));
	hostile_tell(ch.cmd, 'b');
	ck_assert_int_eq(hostile_child_end(&ch), 0);
	rss_after = harness_rss_kib(daemon_.pid);
	fprintf(stderr, "revoked batch: RSS %ld KiB -> %ld KiB\n", rss_before, rss_after);
	ck_assert_msg(rss_after - rss_before < 32 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);
	hostile_assert_ping();
}
END_TEST

#define HOSTILE_JOBS	 20
#define HOSTILE_STATUSES 300

START_TEST(test_max_answer_bytes)
{
	struct harness_client *c;
	json_object *o;
	char *text, *p, *line;
	size_t ok = 0, busy = 0, len;
	bool eof;

	hostile_start("[daemon]\nmax_answer_bytes = 65536\n", false);
	c = harness_client_new(daemon_.sock);
	for (int i = 0; i < HOSTILE_JOBS; i++) {
		o = harness_ok(c, "submit",
			       harness_json("{\"request_id\":\"j%d\",\"wait\":true,"
					    "\"node\":{\"argv\":[\"true\"]}}",
					    i));
		json_object_put(o);
	}
	/* Every status answer is some 10 KB: 300 of them are far more than 64 KiB. */
	text = p = malloc(HOSTILE_STATUSES * 96 + 4);
	*p++ = '[';
	for (int i = 0; i < HOSTILE_STATUSES; i++)
		p += sprintf(p,
			     "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"status\","
			     "\"params\":{\"limit\":100}}",
			     i ? "," : "", i);
	strcpy(p, "]\n");
	harness_send(c, text);
	free(text);
	line = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	ck_assert_ptr_nonnull(line);
	len = strlen(line);
	o = json_tokener_parse(line);
	free(line);
	ck_assert(json_object_is_type(o, json_type_array));
	ck_assert_int_eq(json_object_array_length(o), HOSTILE_STATUSES);
	for (int i = 0; i < HOSTILE_STATUSES; i++) {
		json_object *a = json_object_array_get_idx(o, (size_t)i);

		ck_assert_int_eq(harness_int(a, "id"), i);
		if (json_object_object_get_ex(a, "result", NULL)) {
			ck_assert_int_eq(json_object_array_length(harness_get(a, "result.jobs")),
					 HOSTILE_JOBS);
			ok++;
			continue;
		}
		ck_assert_int_eq(harness_int(a, "error.code"), 1005);
		ck_assert_msg(strstr(harness_str(a, "error.message"), "max_answer_bytes"), "%s",
			      harness_str(a, "error.message"));
		busy++;
	}
	json_object_put(o);
	fprintf(stderr, "answer bytes: %zu answered, %zu busy, %zu bytes\n", ok, busy, len);
	ck_assert_uint_ge(ok, 1);
	ck_assert_uint_ge(busy, 1);
	/* The limit, one answer past it, and a short refusal for each of the rest. */
	ck_assert_uint_lt(len, 65536 + 32768 + HOSTILE_STATUSES * 256);
	json_object_put(harness_ok(c, "ping", NULL));
	harness_client_free(c);
}
END_TEST

/* ---- pending calls ---- */

#define WAIT_LINE                                                                                  \
	"{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"wait\",\"params\":{\"request_ids\":[%s]}}\n"

START_TEST(test_max_pending_calls)
{
	struct harness_client *c;
	char line[256], *msg = NULL;
	json_object *o;

	hostile_start("[daemon]\nmax_pending_calls = 8\nshutdown_grace_sec = 1\n"
		      "[mode:async]\nkill_grace_ms = 200\n",
		      false);
	c = harness_client_new(daemon_.sock);
	harness_submit_json(c, "{\"request_id\":\"blocker\","
			       "\"node\":{\"argv\":[\"sleep\",\"60\"]}}");
	for (int i = 0; i < 8; i++) {
		snprintf(line, sizeof(line), WAIT_LINE, 1000 + i, "\"blocker\"");
		harness_send(c, line);
	}
	ck_assert(harness_silent(c, 300));
	ck_assert_int_eq(
		harness_err(c, "wait", harness_json("{\"request_ids\":[\"blocker\"]}"), &msg),
		1005);
	ck_assert_msg(strstr(msg, "max_pending_calls"), "%s", msg);
	free(msg);
	hostile_assert_ping();
	/* The pending ones are still there and answer when the job closes. */
	{
		struct harness_client *other = harness_client_new(daemon_.sock);

		json_object_put(
			harness_ok(other, "cancel", harness_json("{\"request_id\":\"blocker\"}")));
		harness_client_free(other);
	}
	for (int i = 0; i < 8; i++) {
		o = harness_response(c, 1000 + i, HARNESS_WAIT_MS);
		ck_assert_msg(json_object_object_get_ex(o, "result", NULL), "%s",
			      json_object_to_json_string(o));
		json_object_put(o);
	}
	harness_client_free(c);
}
END_TEST

#define HOSTILE_QUEUED	  1000
#define HOSTILE_WAITLINES 1500

START_TEST(test_max_pending_bytes)
{
	struct harness_client *c;
	char *ids, *p, *line;
	size_t busy = 0, other = 0;
	long rss_before, rss_after;
	bool eof, marker = false;

	hostile_start("[daemon]\nmax_pending_calls = 100000\nmax_pending_bytes = 1048576\n"
		      "shutdown_grace_sec = 1\n"
		      "[mode:one]\nmax_concurrency = 1\nkill_grace_ms = 200\n",
		      true);
	c = harness_client_new(daemon_.sock);
	/* One job runs for long, the others queue behind it: all stay opened. */
	for (int i = 0; i < HOSTILE_QUEUED; i++) {
		char req[256];

		snprintf(req, sizeof(req),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"submit\",\"params\":"
			 "{\"request_id\":\"q%d\",\"mode\":\"one\","
			 "\"node\":{\"argv\":[\"sleep\",\"60\"]}}}\n",
			 i, i);
		harness_send(c, req);
	}
	for (int i = 0; i < HOSTILE_QUEUED; i++) {
		json_object *o = harness_response(c, i, HARNESS_WAIT_MS);

		ck_assert_msg(json_object_object_get_ex(o, "result", NULL), "%s",
			      json_object_to_json_string(o));
		json_object_put(o);
	}
	ids = p = malloc(HOSTILE_QUEUED * 16);
	for (int i = 0; i < HOSTILE_QUEUED; i++)
		p += sprintf(p, "%s\"q%d\"", i ? "," : "", i);
	line = malloc(HOSTILE_QUEUED * 16 + 256);
	rss_before = harness_rss_kib(daemon_.pid);
	for (int i = 0; i < HOSTILE_WAITLINES; i++) {
		sprintf(line, WAIT_LINE, 100000 + i, ids);
		harness_send(c, line);
	}
	free(ids);
	free(line);
	/* Refused before any limit is looked at: its answer comes after all the immediate ones. */
	harness_send(c, "{\"jsonrpc\":\"1.0\",\"id\":\"marker\",\"method\":\"ping\"}\n");
	/* Those past the budget are refused at once; the rest stay pending. */
	while (!marker && (line = harness_read_line(c, HARNESS_WAIT_MS, &eof))) {
		int code = hostile_line_code(line);

		marker = strstr(line, "\"marker\"") != NULL;
		if (code == 1005 && strstr(line, "max_pending_bytes"))
			busy++;
		else if (!marker)
			other++;
		free(line);
	}
	ck_assert_msg(marker, "no answer to the marker");
	rss_after = harness_rss_kib(daemon_.pid);
	fprintf(stderr, "pending waits: %zu refused, %zu other; RSS %ld KiB -> %ld KiB\n", busy,
		other, rss_before, rss_after);
	ck_assert_uint_eq(other, 0);
	ck_assert_uint_ge(busy, HOSTILE_WAITLINES / 2);
	ck_assert_msg(rss_after - rss_before < 32 * 1024, "RSS grew from %ld to %ld KiB",
		      rss_before, rss_after);
	hostile_assert_ping();
	harness_client_free(c);
}
END_TEST

/* ---- ids, NUL characters, the last line ---- */

/* Sends line and returns the raw answer line (caller frees). */
static char *hostile_raw_answer(struct harness_client *c, const char *line)
{
	bool eof;
	char *answer;

	harness_send(c, line);
	answer = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	ck_assert_msg(answer != NULL, "no answer to %s", line);
	return answer;
}

START_TEST(test_big_ids_exact)
{
	static const char *const ids[] = {
		"18446744073709551616",
		"123456789012345678901234567890",
		"-9223372036854775809",
		"-123456789012345678901234567890",
		"18446744073709551615",
		"-9223372036854775808",
		"9223372036854775807",
		"-0",
		"1e400",
		"0.10000000000000000000001",
	};
	struct harness_client *c;
	char line[512], want[256], *answer;

	hostile_start(NULL, false);
	c = harness_client_new(daemon_.sock);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		/*
		 * A decoy "id" in params, and the id member after it: the
		 * decoy is a key of params (which ping refuses), never the id.
		 */
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"params\":{\"id\":7},"
			 "\"id\":%s}\n",
			 ids[i]);
		snprintf(want, sizeof(want), "\"id\":%s}", ids[i]);
		answer = hostile_raw_answer(c, line);
		ck_assert_msg(strstr(answer, "unknown key \\\"id\\\"") && strstr(answer, want),
			      "sent id %s, got %s", ids[i], answer);
		free(answer);
	}
	/* In a batch, each element's own id; a repeated member: the last one counts. */
	answer = hostile_raw_answer(
		c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,\"method\":\"ping\"},"
		   "{\"id\":5,\"jsonrpc\":\"2.0\",\"id\":-77777777777777777777777,"
		   "\"method\":\"nope\"},"
		   "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"\\u0069d\":-0}]\n");
	ck_assert_msg(strstr(answer, "\"id\":1}"), "%s", answer);
	ck_assert_msg(strstr(answer, "\"id\":99999999999999999999999}"), "%s", answer);
	ck_assert_msg(strstr(answer, "\"id\":-77777777777777777777777}"), "%s", answer);
	ck_assert_msg(strstr(answer, "\"id\":-0}"), "%s", answer);
	free(answer);
	harness_client_free(c);
}
END_TEST

START_TEST(test_nul_in_strings)
{
	static const char *const refused[] = {
		/* The method would run as "ping". */
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\u0000x\"}\n",
		"{\"jsonrpc\":\"2.0\\u0000x\",\"id\":1,\"method\":\"ping\"}\n",
		/* A key json-c would cut to "method", overriding the real one. */
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\",\"method\\u0000\":\"ping\"}\n",
	};
	struct harness_client *c;
	char *answer, *msg = NULL;

	hostile_start(NULL, false);
	c = harness_client_new(daemon_.sock);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		answer = hostile_raw_answer(c, refused[i]);
		ck_assert_msg(strstr(answer, "\"code\":-32600") && strstr(answer, "NUL"),
			      "%s got %s", refused[i], answer);
		free(answer);
	}
	/* A string param: job "a\0b" must not be taken for job "a". */
	harness_submit_json(c, "{\"request_id\":\"a\",\"wait\":true,"
			       "\"node\":{\"argv\":[\"true\"]}}");
	ck_assert_int_eq(
		harness_err(c, "job", harness_json("{\"request_id\":\"a\\u0000b\"}"), &msg),
		-32602);
	ck_assert_msg(strstr(msg, "NUL"), "%s", msg);
	free(msg);
	ck_assert_int_eq(
		harness_err(c, "wait", harness_json("{\"request_ids\":[\"a\\u0000b\"]}"), &msg),
		-32602);
	ck_assert_msg(strstr(msg, "NUL"), "%s", msg);
	free(msg);
	/* A NUL in a value nobody reads as a C string is fine: the id comes back whole. */
	answer = hostile_raw_answer(
		c, "{\"jsonrpc\":\"2.0\",\"id\":\"x\\u0000y\",\"method\":\"ping\"}\n");
	ck_assert_msg(strstr(answer, "\"id\":\"x\\u0000y\""), "%s", answer);
	free(answer);
	json_object_put(harness_ok(c, "ping", NULL));
	harness_client_free(c);
}
END_TEST

/*
 * Clients that hang up entirely (not a half-close) while a subscription or
 * a wait would keep them: their connections must go at once, or a few of
 * them take every slot until something is next written to them.
 */
START_TEST(test_hung_up_clients_release_slots)
{
	struct harness_client *c, *keeper;
	json_object *job, *o;
	char line[512];

	hostile_start("[daemon]\nmax_connections = 3\n", false);
	keeper = harness_client_new(daemon_.sock);
	job = harness_submit(keeper, NULL, (const char *const[]){"sleep", "60", NULL});
	for (int round = 0; round < 6; round++) {
		c = harness_client_new(daemon_.sock);
		if (round % 2 == 0)
			o = harness_ok(c, "subscribe", harness_json("{\"request_id\": \"nope\"}"));
		else {
			snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"wait\","
				 "\"params\":{\"request_ids\":[\"%s\"]}}\n",
				 harness_str(job, "request_id"));
			harness_send(c, line);
			o = NULL;
		}
		json_object_put(o);
		harness_client_free(c); /* close(): a hang-up, not a half-close */
	}
	/* Two slots besides the keeper: both must be free again. */
	for (int i = 0; i < 2; i++) {
		c = harness_client_new(daemon_.sock);
		o = harness_call(c, "ping", NULL, HARNESS_WAIT_MS);
		ck_assert_msg(!json_object_object_get_ex(o, "error", NULL),
			      "a hung-up client still holds a slot: %s",
			      json_object_to_json_string(o));
		json_object_put(o);
		harness_client_free(c);
	}
	json_object_put(harness_ok(
		keeper, "cancel",
		harness_json("{\"request_id\": \"%s\"}", harness_str(job, "request_id"))));
	json_object_put(job);
	harness_client_free(keeper);
}
END_TEST

START_TEST(test_last_line_without_newline)
{
	struct harness_client *c;
	json_object *o;

	hostile_start(NULL, false);
	c = harness_client_new(daemon_.sock);
	ck_assert_int_eq(harness_send_raw(c, PING, strlen(PING) - 1), 0);
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	o = harness_read_json(c, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(o, "id"), 1);
	ck_assert_int_eq(harness_int(o, "result.pid"), daemon_.pid);
	json_object_put(o);
	ck_assert(harness_wait_eof(c, HARNESS_WAIT_MS));
	harness_client_free(c);

	/* The same after complete lines, and after a pending call. */
	c = harness_client_new(daemon_.sock);
	harness_send(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"submit\",\"params\":"
			"{\"wait\":true,\"node\":{\"argv\":[\"sleep\",\"0.2\"]}}}\n"
			"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	o = harness_response(c, 3, HARNESS_WAIT_MS);
	ck_assert_int_eq(harness_int(o, "result.pid"), daemon_.pid);
	json_object_put(o);
	o = harness_response(c, 2, HARNESS_WAIT_MS);
	ck_assert_str_eq(harness_str(o, "result.job.result"), "success");
	json_object_put(o);
	ck_assert(harness_wait_eof(c, HARNESS_WAIT_MS));
	harness_client_free(c);
	hostile_assert_ping();
}
END_TEST

/* ---- the config file ---- */

static int hostile_child_pings(void *arg)
{
	(void)arg;
	return hostile_ping_works() ? 0 : 1;
}

START_TEST(test_config_with_nul)
{
	static const char good[] = "[daemon]\nsocket_mode = 0666\nallowed_users = daemon\n";
	/* Read as C strings, the first line is empty and the rest a valid config. */
	static const char leading[] = "\0allowed_users = daemon\n[daemon]\nsocket_mode = 0666\n";
	static const char inside[] = "[daemon]\nsocket_mode = 0666\n\0allowed_users = daemon\n";
	char *log;
	size_t mark;
	pid_t pid;
	int status;

	hostile_start(good, false);
	ck_assert_int_eq(hostile_run_as(DAEMON_UID, hostile_child_pings, NULL), 0);
	/* A NUL byte first would read as an empty file and drop allowed_users. */
	ck_assert(!hostile_reload(leading, sizeof(leading) - 1));
	ck_assert(!hostile_reload(inside, sizeof(inside) - 1));
	log = harness_daemon_log(&daemon_);
	ck_assert_msg(strstr(log, "NUL"), "%s", log);
	free(log);
	ck_assert_int_eq(hostile_run_as(DAEMON_UID, hostile_child_pings, NULL), 0);
	/* A good file is still taken afterwards. */
	ck_assert(hostile_reload(good, sizeof(good) - 1));
	harness_daemon_stop(&daemon_);

	/* At start, such a file stops the daemon with a reason. */
	hostile_write_config(leading, sizeof(leading) - 1);
	mark = hostile_log_len();
	pid = harness_daemon_spawn(&daemon_);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	daemon_.pid = 0;
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	log = harness_daemon_log(&daemon_);
	ck_assert_msg(strstr(log + mark, "NUL"), "%s", log + mark);
	free(log);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("daemon-hostile-transport");
	TCase *tc = tcase_create("hostile-transport");

	tcase_add_checked_fixture(tc, NULL, hostile_teardown);
	tcase_add_test(tc, test_refused_at_accept);
	tcase_add_test(tc, test_connections_per_uid);
	tcase_add_test(tc, test_max_batch);
	tcase_add_test(tc, test_revoked_peer_big_batch);
	tcase_add_test(tc, test_max_answer_bytes);
	tcase_add_test(tc, test_max_pending_calls);
	tcase_add_test(tc, test_max_pending_bytes);
	tcase_add_test(tc, test_big_ids_exact);
	tcase_add_test(tc, test_nul_in_strings);
	tcase_add_test(tc, test_last_line_without_newline);
	tcase_add_test(tc, test_hung_up_clients_release_slots);
	tcase_add_test(tc, test_config_with_nul);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(hostile_suite());
}
