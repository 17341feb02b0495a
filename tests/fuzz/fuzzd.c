/*
 * An in-process coordinatord for fuzzing (see fuzzd.h). The daemon is
 * built by daemon_new, exactly as main.c builds it, on a temporary
 * directory; fuzzd then drives its event loop itself, one short turn at a
 * time, while a client socket of ours writes the input and reads the
 * answers. fuzzd owns the daemon, its directory and the client buffers.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "coordinator.h"
#include "daemon.h"
#include "fuzzd.h"
#include "fuzzspawn.h"
#include "history.h"
#include "log.h"
#include "server.h"
#include "strategy.h"

/* Small limits, so that short inputs reach them; two modes, one with a single slot. */
static const char fuzzd_config[] = "[daemon]\n"
				   "log_level = error\n"
				   "max_line_bytes = 2048\n"
				   "subscriber_buffer_bytes = 16384\n"
				   "max_connections = 64\n"
				   "shutdown_grace_sec = 0\n"
				   "retention_max_jobs = 200\n"
				   "[mode:async]\n"
				   "max_concurrency = 2\n"
				   "max_queue = 16\n"
				   "output_limit_bytes = 256\n"
				   "kill_grace_ms = 200\n"
				   "[mode:serial]\n"
				   "max_concurrency = 1\n"
				   "max_queue = 1\n"
				   "kill_grace_ms = 200\n";

#define FUZZD_TURN_MS	  5
#define FUZZD_QUIET_TURNS 3
/* How long an input may keep the daemon busy before fuzzd moves on (tasks are echo). */
#define FUZZD_BUSY_MS 3000
/* How long the daemon has to answer ping, or to drain after a shutdown. */
#define FUZZD_ANSWER_MS 20000
/*
 * Connections the daemon keeps after we hung up, tolerated before a
 * restart: it cannot tell a hang-up from a half-close, so a client that
 * leaves with a subscription (or a call) still open is only noticed when
 * the daemon next writes to it, which for a filter that matches nothing
 * is never.
 */
#define FUZZD_MAX_LINGER 16

struct fuzzd {
	struct daemon *daemon;
	struct event *tick; /* bounds each turn of the loop */
	sqlite3 *history;   /* the daemon's history file, read-only, for fuzzd_check_history */
	char dir[64];
	char sock[96];
	char state[96];
	char conf[96];
	unsigned long inputs;
	bool exited; /* the daemon's loop asked to exit: its drain is over */
	bool exit_hook;
};

static struct fuzzd fuzzd;

/* The client side of one connection. */
struct fuzzd_client {
	int fd;
	char *buf; /* everything the daemon wrote */
	size_t len;
	size_t cap;
	bool eof;
};

static void fuzzd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fuzzd_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzzd: invariant broken after %lu inputs: ", fuzzd.inputs);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static long long fuzzd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fuzzd_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int fuzzd_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fuzzd_make_dir(void)
{
	FILE *f;

	snprintf(fuzzd.dir, sizeof(fuzzd.dir), "/tmp/coordfuzz.XXXXXX");
	if (!mkdtemp(fuzzd.dir))
		fuzzd_fail("mkdtemp: %s", strerror(errno));
	snprintf(fuzzd.sock, sizeof(fuzzd.sock), "%s/d.sock", fuzzd.dir);
	snprintf(fuzzd.state, sizeof(fuzzd.state), "%s/state", fuzzd.dir);
	snprintf(fuzzd.conf, sizeof(fuzzd.conf), "%s/d.conf", fuzzd.dir);
	f = fopen(fuzzd.conf, "we");
	if (!f || fputs(fuzzd_config, f) < 0 || fclose(f) != 0)
		fuzzd_fail("cannot write %s: %s", fuzzd.conf, strerror(errno));
}

/* Builds the daemon on fuzzd's directory (made if needed); a failure is a broken invariant. */
static void fuzzd_start(void)
{
	struct daemon_options opts = {
		.socket_path = fuzzd.sock,
		.state_dir = fuzzd.state,
		.config_path = fuzzd.conf,
		.log_level = -1,
	};
	char *error = NULL, path[128];
	int r;

	if (!fuzzd.dir[0]) {
		log_init("coordinatord-fuzz");
		fuzzd_make_dir();
	}
	if (!fuzzd.exit_hook) {
		fuzzd.exit_hook = true;
		atexit(fuzzd_stop);
	}
	fuzzspawn_arm();
	r = daemon_new(&opts, &fuzzd.daemon, &error);
	if (r < 0)
		fuzzd_fail("the daemon cannot start on %s: %s", fuzzd.dir,
			   error ? error : strerror(-r));
	fuzzd.tick = evtimer_new(daemon_event_base(fuzzd.daemon), fuzzd_tick_cb, NULL);
	if (!fuzzd.tick)
		fuzzd_fail("out of memory");
	snprintf(path, sizeof(path), "%s/history.sqlite3", fuzzd.state);
	r = sqlite3_open_v2(path, &fuzzd.history, SQLITE_OPEN_READONLY, NULL);
	if (r != SQLITE_OK)
		fuzzd_fail("cannot read %s: %s", path, sqlite3_errstr(r));
}

/* Frees the daemon but keeps its directory: the next start recovers from it. */
static void fuzzd_free_daemon(void)
{
	if (fuzzd.tick)
		event_free(fuzzd.tick);
	fuzzd.tick = NULL;
	sqlite3_close(fuzzd.history);
	fuzzd.history = NULL;
	daemon_free(fuzzd.daemon);
	fuzzd.daemon = NULL;
	fuzzd.exited = false;
}

void fuzzd_stop(void)
{
	fuzzd_free_daemon();
	if (fuzzd.dir[0])
		nftw(fuzzd.dir, fuzzd_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	fuzzd.dir[0] = '\0';
}

static void fuzzd_client_open(struct fuzzd_client *c)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fuzzd.sock);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fuzzd_fail("cannot connect to %s: %s", fuzzd.sock, strerror(errno));
}

static void fuzzd_client_close(struct fuzzd_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Reads what the daemon wrote so far; returns how many bytes came. */
static size_t fuzzd_client_read(struct fuzzd_client *c)
{
	size_t got = 0;

	while (!c->eof) {
		ssize_t n;

		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				fuzzd_fail("out of memory");
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			got += (size_t)n;
		} else if (n == 0 || errno == ECONNRESET) {
			c->eof = true;
		} else if (errno == EAGAIN || errno == EINTR) {
			break;
		} else {
			fuzzd_fail("read from the daemon: %s", strerror(errno));
		}
	}
	return got;
}

/*
 * Nothing is left to happen on the daemon's side: no task runs, nothing
 * is unwritten. Queued tasks that can start do so within a turn, which
 * the callers' few quiet turns allow for; jobs that cannot start (a
 * paused mode) do not keep the fuzzer waiting.
 */
static bool fuzzd_idle(void)
{
	return daemon_idle(fuzzd.daemon);
}

/*
 * One turn of the daemon's loop. While a task runs it waits for the next
 * event (at most FUZZD_TURN_MS); otherwise it only runs what is ready:
 * an idle daemon has nothing left but timers, which fuzzd does not wait for.
 */
static void fuzzd_turn(void)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = FUZZD_TURN_MS * 1000};

	if (fuzzd.exited)
		return;
	if (fuzzd_idle()) {
		event_base_loop(daemon_event_base(fuzzd.daemon), EVLOOP_NONBLOCK);
	} else {
		evtimer_add(fuzzd.tick, &tv);
		event_base_loop(daemon_event_base(fuzzd.daemon), EVLOOP_ONCE);
	}
	fuzzd.exited = event_base_got_exit(daemon_event_base(fuzzd.daemon));
}

/*
 * Writes data in pieces of varying size, a loop turn after each, so lines
 * reach the daemon cut at every sort of place.
 */
static void fuzzd_send(struct fuzzd_client *c, const uint8_t *data, size_t len)
{
	unsigned seed = (unsigned)len * 2654435761u;
	size_t off = 0;

	while (off < len) {
		size_t piece = 1 + (seed >> 16) % 700;
		ssize_t n;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - off)
			piece = len - off;
		n = write(c->fd, data + off, piece);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break; /* the daemon hung up on us (it may: too many connections) */
		fuzzd_turn();
		fuzzd_client_read(c);
	}
}

/*
 * Turns the loop until the daemon closes the connection, or until it has
 * been idle for a few turns with nothing more to say (a live subscription
 * keeps a half-closed connection open), or FUZZD_BUSY_MS passed.
 */
static void fuzzd_wait_answers(struct fuzzd_client *c)
{
	long long deadline = fuzzd_now_ms() + FUZZD_BUSY_MS;
	int quiet = 0;

	while (!c->eof && !fuzzd.exited && quiet < FUZZD_QUIET_TURNS && fuzzd_now_ms() < deadline) {
		fuzzd_turn();
		if (fuzzd_client_read(c) > 0 || !fuzzd_idle())
			quiet = 0;
		else
			quiet++;
	}
}

/*
 * After we hung up: turns until the daemon is idle and has closed its
 * side. A connection the daemon keeps (see FUZZD_MAX_LINGER) holds the
 * fuzzer up for a few idle turns only.
 */
static void fuzzd_settle(void)
{
	long long deadline = fuzzd_now_ms() + FUZZD_BUSY_MS;
	int quiet = 0;

	while (!fuzzd.exited && fuzzd_now_ms() < deadline) {
		if (!fuzzd_idle())
			quiet = 0;
		else if (daemon_connection_count(fuzzd.daemon) == 0 || quiet++ >= FUZZD_QUIET_TURNS)
			break;
		fuzzd_turn();
	}
}

static const char *fuzzd_type_name(json_object *o)
{
	return json_type_to_name(json_object_get_type(o));
}

/* One response (not a notification): result xor error, an id, error's code and message. */
static void fuzzd_check_response(json_object *o, const char *line)
{
	json_object *v, *err;
	bool has_result = json_object_object_get_ex(o, "result", &v);

	if (has_result && !json_object_is_type(v, json_type_object))
		fuzzd_fail("a result that is a %s, not an object: %s", fuzzd_type_name(v), line);
	if (!json_object_object_get_ex(o, "id", NULL))
		fuzzd_fail("a response without an id: %s", line);
	if (has_result == json_object_object_get_ex(o, "error", &err))
		fuzzd_fail("a response needs exactly one of result and error: %s", line);
	if (has_result)
		return;
	if (!json_object_is_type(err, json_type_object) ||
	    !json_object_object_get_ex(err, "code", &v) || !json_object_is_type(v, json_type_int) ||
	    !json_object_object_get_ex(err, "message", &v) ||
	    !json_object_is_type(v, json_type_string))
		fuzzd_fail("an error without an integer code and a string message: %s", line);
}

static void fuzzd_check_object(json_object *o, bool in_batch, const char *line)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object))
		fuzzd_fail("a message that is a %s, not an object: %s", fuzzd_type_name(o), line);
	if (!json_object_object_get_ex(o, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0)
		fuzzd_fail("a message without \"jsonrpc\":\"2.0\": %s", line);
	if (!json_object_object_get_ex(o, "method", &v)) {
		fuzzd_check_response(o, line);
		return;
	}
	if (in_batch || !json_object_is_type(v, json_type_string) ||
	    json_object_object_get_ex(o, "id", NULL) ||
	    !json_object_object_get_ex(o, "params", &v) ||
	    !json_object_is_type(v, json_type_object))
		fuzzd_fail("a malformed notification: %s", line);
}

/* One line the daemon wrote: strict JSON (RFC 8259, UTF-8), then JSON-RPC's shape. */
static void fuzzd_check_line(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	json_object *o;
	size_t n;

	if (!tok)
		fuzzd_fail("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		fuzzd_fail("an answer line that is not one strict JSON text (%s): %.*s",
			   json_tokener_error_desc(json_tokener_get_error(tok)), (int)len, line);
	json_tokener_free(tok);
	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		if (n == 0)
			fuzzd_fail("an empty batch answer: %.*s", (int)len, line);
		for (size_t i = 0; i < n; i++)
			fuzzd_check_object(json_object_array_get_idx(o, i), true, line);
	} else {
		fuzzd_check_object(o, false, line);
	}
	json_object_put(o);
}

static void fuzzd_check_output(struct fuzzd_client *c)
{
	size_t start = 0;

	if (c->len > 0 && c->buf[c->len - 1] != '\n')
		fuzzd_fail("the daemon's output ends in the middle of a line: %.*s",
			   (int)(c->len > 300 ? 300 : c->len), c->buf);
	for (size_t i = 0; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		/* A copy: the failure message prints it as a C string. */
		c->buf[i] = '\0';
		if (i == start)
			fuzzd_fail("the daemon wrote an empty line");
		fuzzd_check_line(c->buf + start, i - start);
		c->buf[i] = '\n';
		start = i + 1;
	}
}

/* The daemon must still answer a ping on a new connection. */
static void fuzzd_check_ping(void)
{
	static const char ping[] =
		"{\"jsonrpc\":\"2.0\",\"id\":\"fuzzd-ping\",\"method\":\"ping\"}\n";
	long long deadline = fuzzd_now_ms() + FUZZD_ANSWER_MS;
	struct fuzzd_client c;
	json_object *o, *v;
	char *eol = NULL;

	fuzzd_client_open(&c);
	if (write(c.fd, ping, sizeof(ping) - 1) != (ssize_t)sizeof(ping) - 1)
		fuzzd_fail("cannot send ping: %s", strerror(errno));
	while (!eol && !c.eof && fuzzd_now_ms() < deadline) {
		fuzzd_turn();
		fuzzd_client_read(&c);
		eol = c.len ? memchr(c.buf, '\n', c.len) : NULL;
	}
	if (!eol)
		fuzzd_fail("the daemon no longer answers ping (%s)",
			   c.eof ? "it hung up" : "no answer in time");
	*eol = '\0';
	o = json_tokener_parse(c.buf);
	if (!json_object_object_get_ex(o, "result", &v) ||
	    !json_object_object_get_ex(v, "pid", &v) || json_object_get_int(v) != (int)getpid())
		fuzzd_fail("ping answered %s", c.buf);
	json_object_put(o);
	fuzzd_client_close(&c);
	fuzzd_settle();
}

/* The first row of sql's answer as text (column 0), or NULL when there is none. */
static char *fuzzd_sql_text(const char *sql)
{
	sqlite3_stmt *st;
	char *text = NULL;
	int rc = sqlite3_prepare_v2(fuzzd.history, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		text = strdup((const char *)sqlite3_column_text(st, 0));
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fuzzd_fail("%s: %s", sql, sqlite3_errmsg(fuzzd.history));
	sqlite3_finalize(st);
	return text;
}

/*
 * What the idle daemon stored: each job ends exactly once (one final
 * message when closed, none while opened), and the log kept (a suffix,
 * after retention; a job's row is its request_creation) has no gap in seq.
 */
static void fuzzd_check_history(void)
{
	char *bad = fuzzd_sql_text(
		"SELECT j.request_id || ' (' || j.status || '): ' || n || ' final messages' FROM "
		"(SELECT request_id, status, (SELECT count(*) FROM messages m WHERE m.request_id = "
		"jobs.request_id AND m.type IN ('request_success', 'request_failure')) AS n "
		"FROM jobs) j WHERE j.n != (j.status = 'closed') LIMIT 1");

	if (bad)
		fuzzd_fail("a job that did not end exactly once: %s", bad);
	bad = fuzzd_sql_text(
		"SELECT count(*) || ' messages from seq ' || min(seq) || ' to ' || "
		"max(seq) FROM message_log HAVING count(*) != max(seq) - min(seq) + 1");
	if (bad)
		fuzzd_fail("a gap in the stored messages: %s", bad);
}

/* After a shutdown: the drain must end, and the daemon must start again on its state. */
static void fuzzd_restart(void)
{
	long long deadline = fuzzd_now_ms() + FUZZD_ANSWER_MS;

	while (!fuzzd.exited) {
		if (fuzzd_now_ms() > deadline)
			fuzzd_fail("the drain after a shutdown did not end in %d ms",
				   FUZZD_ANSWER_MS);
		fuzzd_turn();
	}
	fuzzd_free_daemon();
	fuzzd_start();
}

void fuzzd_feed(const uint8_t *data, size_t len)
{
	struct fuzzd_client c;

	if (!fuzzd.daemon)
		fuzzd_start();
	fuzzd.inputs++;
	fuzzd_client_open(&c);
	fuzzd_send(&c, data, len);
	shutdown(c.fd, SHUT_WR);
	fuzzd_wait_answers(&c);
	if (getenv("FUZZD_VERBOSE"))
		fprintf(stderr, "%.*s", (int)c.len, c.buf ? c.buf : "");
	fuzzd_check_output(&c);
	fuzzd_client_close(&c);
	fuzzd_settle();
	if (daemon_draining(fuzzd.daemon) || fuzzd.exited) {
		fuzzd_restart();
		fuzzd_check_history();
		return;
	}
	fuzzd_check_history();
	if (daemon_connection_count(fuzzd.daemon) > FUZZD_MAX_LINGER) {
		fuzzd_free_daemon();
		fuzzd_start();
	}
	fuzzd_check_ping();
}
