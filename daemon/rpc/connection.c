/*
 * Client connections. A connection is reference counted: the server holds
 * one reference while it is open, and every call, batch or subscription
 * still using it holds another, so a client that hangs up never leaves a
 * dangling pointer. The bufferevent is freed on close; the struct when the
 * last reference goes.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "connection.h"
#include "daemon.h"
#include "log.h"
#include "peer.h"
#include "rpc.h"
#include "server.h"
#include "subscription.h"
#include "wire_errors.h"

struct connection {
	int refcount;
	struct daemon *daemon;
	struct server *server;
	struct bufferevent *bev; /* NULL once closed */
	struct connection_limits limits;
	struct peer peer;
	bool discarding;  /* skipping the rest of an over-long line */
	bool read_paused; /* too many answers waiting */
	bool close_on_flush;
	bool peer_eof;	/* the client shut down its side; answer what it asked, then close */
	size_t scanned; /* bytes of the input already searched for a newline */
	TAILQ_HEAD(, rpc_call) calls;
	size_t call_count;
	size_t call_bytes;  /* the costs of those calls */
	size_t batch_bytes; /* answers of unfinished batches */
	struct subscription_list subscriptions;
	size_t subscription_count;
	void (*drain_cb)(struct connection *conn);
	struct evbuffer *held; /* output waiting for the history's commit */
	bool holding;	       /* on the server's list of connections with held output */
};

static void connection_read_cb(struct bufferevent *bev, void *arg);
static void connection_maybe_finish(struct connection *conn);
static void connection_write_cb(struct bufferevent *bev, void *arg);
static void connection_event_cb(struct bufferevent *bev, short what, void *arg);

struct connection *connection_new(struct daemon *daemon, struct server *server, int fd,
				  struct peer *peer, const struct connection_limits *limits)
{
	struct connection *conn = calloc(1, sizeof(*conn));

	if (!conn) {
		close(fd);
		peer_clear(peer);
		return NULL;
	}
	conn->refcount = 1;
	conn->daemon = daemon;
	conn->server = server;
	conn->limits = *limits;
	conn->peer = *peer;
	memset(peer, 0, sizeof(*peer));
	TAILQ_INIT(&conn->calls);
	TAILQ_INIT(&conn->subscriptions);
	conn->bev = bufferevent_socket_new(daemon_event_base(daemon), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		close(fd);
		peer_clear(&conn->peer);
		free(conn);
		return NULL;
	}
	bufferevent_setcb(conn->bev, connection_read_cb, connection_write_cb, connection_event_cb,
			  conn);
	/* Never buffer more than one line and a bit: a longer one is refused anyway. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, limits->max_line + 2);
	bufferevent_setwatermark(conn->bev, EV_WRITE, limits->max_answer_bytes / 2, 0);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	log_debug("client connected: uid %u pid %d", (unsigned)conn->peer.uid, (int)conn->peer.pid);
	return conn;
}

struct connection *connection_ref(struct connection *conn)
{
	conn->refcount++;
	return conn;
}

struct connection *connection_unref(struct connection *conn)
{
	if (!conn || --conn->refcount > 0)
		return NULL;
	if (conn->held)
		evbuffer_free(conn->held);
	peer_clear(&conn->peer);
	free(conn);
	return NULL;
}

bool connection_is_open(const struct connection *conn)
{
	return conn->bev != NULL;
}

void connection_close(struct connection *conn)
{
	struct rpc_call *call, *next_call;
	struct subscription *sub;

	if (!conn->bev)
		return;
	/*
	 * Best effort: a last answer (shutdown's) should not die in our buffer.
	 * The bufferevent keeps the start of its output frozen: thaw it first.
	 */
	evbuffer_unfreeze(bufferevent_get_output(conn->bev), 1);
	evbuffer_write(bufferevent_get_output(conn->bev), bufferevent_getfd(conn->bev));
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	if (conn->held)
		evbuffer_drain(conn->held, evbuffer_get_length(conn->held));
	connection_ref(conn);
	while ((sub = TAILQ_FIRST(&conn->subscriptions)))
		subscription_free(sub); /* removes itself from the list */
	for (call = TAILQ_FIRST(&conn->calls); call; call = next_call) {
		next_call = TAILQ_NEXT(call, conn_entry);
		rpc_call_abandon(call); /* may free call */
	}
	server_connection_closed(conn->server, conn);
	connection_unref(conn); /* the server's reference */
	connection_unref(conn);
}

void connection_close_after_flush(struct connection *conn)
{
	if (!conn->bev)
		return;
	conn->close_on_flush = true;
	bufferevent_disable(conn->bev, EV_READ);
	if (connection_pending_output(conn) == 0)
		connection_close(conn);
}

/* Too many answers waiting: read no more requests until they drain (connection_write_cb). */
static void connection_check_output(struct connection *conn)
{
	if (conn->bev && !conn->read_paused &&
	    connection_answer_bytes(conn) > conn->limits.max_answer_bytes) {
		conn->read_paused = true;
		bufferevent_disable(conn->bev, EV_READ);
	}
}

/*
 * Where output goes now: while the history has writes of this loop turn
 * not yet committed, everything waits for the commit, so no client hears
 * of anything that a crash could still take back.
 */
static struct evbuffer *connection_out(struct connection *conn)
{
	if (!daemon_output_must_wait(conn->daemon))
		return bufferevent_get_output(conn->bev);
	if (!conn->held && !(conn->held = evbuffer_new()))
		return bufferevent_get_output(conn->bev);
	if (!conn->holding) {
		conn->holding = true;
		server_hold(conn->server, connection_ref(conn));
	}
	return conn->held;
}

void connection_release_held(struct connection *conn, bool committed)
{
	conn->holding = false;
	if (!conn->bev || !conn->held || evbuffer_get_length(conn->held) == 0)
		return;
	if (!committed) {
		log_error("closing the connection of uid %u: its answers were not stored",
			  (unsigned)conn->peer.uid);
		evbuffer_drain(conn->held, evbuffer_get_length(conn->held));
		connection_close(conn);
		return;
	}
	evbuffer_add_buffer(bufferevent_get_output(conn->bev), conn->held);
	connection_check_output(conn);
}

void connection_send_parts(struct connection *conn, const char *const *parts, const size_t *lens,
			   size_t count)
{
	struct evbuffer *out;

	if (!conn->bev)
		return;
	out = connection_out(conn);
	for (size_t i = 0; i < count; i++)
		evbuffer_add(out, parts[i], lens[i]);
	evbuffer_add(out, "\n", 1);
	connection_check_output(conn);
}

void connection_send(struct connection *conn, const char *text, size_t len)
{
	connection_send_parts(conn, &text, &len, 1);
}

size_t connection_pending_output(const struct connection *conn)
{
	if (!conn->bev)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(conn->bev)) +
	       (conn->held ? evbuffer_get_length(conn->held) : 0);
}

void connection_add_batch_bytes(struct connection *conn, size_t bytes)
{
	conn->batch_bytes += bytes;
	connection_check_output(conn);
}

void connection_remove_batch_bytes(struct connection *conn, size_t bytes)
{
	conn->batch_bytes -= bytes;
}

size_t connection_answer_bytes(const struct connection *conn)
{
	return connection_pending_output(conn) + conn->batch_bytes;
}

const struct connection_limits *connection_limits(const struct connection *conn)
{
	return &conn->limits;
}

void connection_set_drain_cb(struct connection *conn, void (*cb)(struct connection *conn))
{
	conn->drain_cb = cb;
}

bool connection_allowed(const struct connection *conn)
{
	return peer_allowed(&conn->peer, conn->daemon);
}

uid_t connection_peer_uid(const struct connection *conn)
{
	return conn->peer.uid;
}

pid_t connection_peer_pid(const struct connection *conn)
{
	return conn->peer.pid;
}

void connection_track_call(struct connection *conn, struct rpc_call *call)
{
	TAILQ_INSERT_TAIL(&conn->calls, call, conn_entry);
	conn->call_count++;
}

void connection_charge_call(struct connection *conn, struct rpc_call *call, size_t bytes)
{
	call->cost = bytes;
	conn->call_bytes += bytes;
}

void connection_forget_call(struct connection *conn, struct rpc_call *call)
{
	TAILQ_REMOVE(&conn->calls, call, conn_entry);
	conn->call_count--;
	conn->call_bytes -= call->cost;
	connection_maybe_finish(conn);
}

void connection_track_subscription(struct connection *conn, struct subscription *sub)
{
	TAILQ_INSERT_TAIL(&conn->subscriptions, sub, conn_entry);
	conn->subscription_count++;
}

void connection_forget_subscription(struct connection *conn, struct subscription *sub)
{
	TAILQ_REMOVE(&conn->subscriptions, sub, conn_entry);
	conn->subscription_count--;
	connection_maybe_finish(conn);
}

size_t connection_call_count(const struct connection *conn)
{
	return conn->call_count;
}

size_t connection_call_bytes(const struct connection *conn)
{
	return conn->call_bytes;
}

size_t connection_subscription_count(const struct connection *conn)
{
	return conn->subscription_count;
}

struct subscription_list *connection_subscriptions(struct connection *conn)
{
	return &conn->subscriptions;
}

struct subscription *connection_find_subscription(struct connection *conn, unsigned long long id)
{
	struct subscription *sub;

	TAILQ_FOREACH (sub, &conn->subscriptions, conn_entry) {
		if (sub->id == id)
			return sub;
	}
	return NULL;
}

/* Skips input up to the end of the over-long line. True when that line is behind us. */
static bool connection_skip_long_line(struct connection *conn, struct evbuffer *in)
{
	struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);

	if (eol.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return false;
	}
	evbuffer_drain(in, (size_t)eol.pos + 1);
	conn->discarding = false;
	return true;
}

static void connection_refuse_long_line(struct connection *conn)
{
	char msg[128];

	snprintf(msg, sizeof(msg),
		 "Invalid Request: the request line is longer than the limit of %zu bytes",
		 conn->limits.max_line);
	rpc_send_error(conn, WIRE_INVALID_REQUEST, msg);
	conn->discarding = true;
	conn->scanned = 0;
}

static bool connection_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* Handles the line of len bytes at the front of in; drains it and its newline (if it has one). */
static void connection_handle_line(struct connection *conn, struct evbuffer *in, size_t len,
				   bool newline)
{
	char *line = (char *)evbuffer_pullup(in, (ssize_t)(len + newline));
	size_t n = len;

	conn->scanned = 0;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > conn->limits.max_line) {
		connection_refuse_long_line(conn);
		conn->discarding = false;
	} else if (!connection_blank(line, n)) {
		rpc_handle_line(conn->daemon, conn, line, n);
	}
	if (conn->bev)
		evbuffer_drain(in, len + newline);
}

static void connection_read_lines(struct connection *conn)
{
	while (conn->bev && !conn->read_paused && !conn->close_on_flush) {
		struct evbuffer *in = bufferevent_get_input(conn->bev);
		struct evbuffer_ptr start, eol;
		size_t avail = evbuffer_get_length(in);

		if (avail == 0)
			return;
		if (conn->discarding) {
			if (!connection_skip_long_line(conn, in))
				return;
			continue;
		}
		evbuffer_ptr_set(in, &start, conn->scanned, EVBUFFER_PTR_SET);
		eol = evbuffer_search(in, "\n", 1, &start);
		if (eol.pos < 0) {
			conn->scanned = avail;
			if (avail > conn->limits.max_line) {
				connection_refuse_long_line(conn);
				evbuffer_drain(in, avail);
			}
			return;
		}
		connection_handle_line(conn, in, (size_t)eol.pos, true);
	}
}

/*
 * At end of input, a last line without its newline is still a request.
 * (The bufferevent keeps the end of its input frozen: it cannot be given
 * the missing newline.)
 */
static void connection_read_last_line(struct connection *conn)
{
	struct evbuffer *in;
	size_t len;

	if (!conn->bev || conn->read_paused || conn->close_on_flush)
		return;
	in = bufferevent_get_input(conn->bev);
	len = evbuffer_get_length(in);
	if (conn->discarding || len == 0)
		return;
	connection_handle_line(conn, in, len, false);
}

/*
 * After the client's end of input, once every line is handled (reading is
 * not held back) and nothing is pending: flush and close.
 */
static void connection_maybe_finish(struct connection *conn)
{
	if (conn->bev && conn->peer_eof && !conn->read_paused && TAILQ_EMPTY(&conn->calls) &&
	    TAILQ_EMPTY(&conn->subscriptions))
		connection_close_after_flush(conn);
}

/*
 * Whether the client closed its whole socket rather than only its sending
 * side (shutdown(SHUT_WR)): only then does the kernel report a hang-up.
 * Nobody is left to read an answer or a notification.
 */
static bool connection_peer_gone(struct connection *conn)
{
	struct pollfd pfd = {.fd = bufferevent_getfd(conn->bev), .events = POLLOUT};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

/*
 * The client shut down its side: the lines it sent before are still
 * handled, and a half-closed client gets its answers. A client that hung
 * up entirely is closed at once, so its pending calls and subscriptions
 * do not hold a connection slot until something is next written to it.
 */
static void connection_finish_input(struct connection *conn)
{
	connection_read_lines(conn);
	connection_read_last_line(conn);
	if (conn->bev && connection_peer_gone(conn))
		connection_close(conn);
	else
		connection_maybe_finish(conn);
}

static void connection_read_cb(struct bufferevent *bev, void *arg)
{
	struct connection *conn = connection_ref(arg);

	connection_read_lines(conn);
	connection_unref(conn);
}

static void connection_write_cb(struct bufferevent *bev, void *arg)
{
	struct connection *conn = connection_ref(arg);

	/* Held output (waiting for a commit) is not flushed yet either. */
	if (conn->close_on_flush && connection_pending_output(conn) == 0) {
		connection_close(conn);
	} else {
		if (conn->read_paused &&
		    connection_answer_bytes(conn) <= conn->limits.max_answer_bytes / 2) {
			conn->read_paused = false;
			if (conn->peer_eof) {
				connection_finish_input(conn);
			} else {
				bufferevent_enable(bev, EV_READ);
				connection_read_lines(conn); /* what arrived while paused */
			}
		}
		if (conn->bev && conn->drain_cb)
			conn->drain_cb(conn);
	}
	connection_unref(conn);
}

static void connection_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct connection *conn = arg;

	if (what & BEV_EVENT_ERROR) {
		log_debug("client uid %u pid %d: %s", (unsigned)conn->peer.uid, (int)conn->peer.pid,
			  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		connection_close(conn);
	} else if (what & BEV_EVENT_EOF) {
		connection_ref(conn);
		conn->peer_eof = true;
		connection_finish_input(conn);
		connection_unref(conn);
	}
}
