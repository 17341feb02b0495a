/*
 * Client connections. A connection is reference counted: the server holds
 * one reference while it is open, and every call, batch or subscription
 * still using it holds another, so a client that hangs up never leaves a
 * dangling pointer. The bufferevent, the read event, the coalescing timer
 * and the delayed output are freed on close; the struct, its input and its
 * held buffer when the last reference goes.
 *
 * Input is read by the connection's own event rather than the
 * bufferevent's (which asks the kernel with FIONREAD how much there is
 * before every read: one system call per request more than needed).
 *
 * Output goes through up to three buffers, always in this order: held
 * (waiting for the history's commit), delayed (waiting for flush_ev: made
 * active, it writes everything a loop turn queued before the loop polls
 * again; as a timer, it gathers notifications for notify_coalesce_ms; the
 * answers to the lines one read brought go out at the end of that read) and
 * the bufferevent's output. Output that is due while the bufferevent has
 * nothing queued is written to the socket at once; only what the socket
 * does not take goes to the bufferevent, which arms EV_WRITE for it. A long notification
 * text (a message's) is kept by reference, shared by every subscriber.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "connection.h"
#include "jsonrpc.h"
#include "jsonutil.h"
#include "log.h"
#include "peer.h"
#include "wire_errors.h"

/* Notification texts from this long on are kept by reference rather than copied. */
#define CONNECTION_SHARE_MIN 2048
/* Bytes one read takes at most (more waits for the next turn, as the bufferevent did). */
#define CONNECTION_READ_MAX 16384

struct connection {
	int refcount;
	const struct connection_ops *ops;
	void *ctx;		 /* the owner's, for ops */
	struct bufferevent *bev; /* NULL once closed; its output only */
	struct event *read_ev;	 /* the socket is readable */
	struct evbuffer *in;	 /* what was read and not handled yet */
	struct connection_limits limits;
	struct peer peer;
	bool discarding;  /* skipping the rest of an over-long line */
	bool read_paused; /* too many answers waiting */
	bool close_on_flush;
	bool peer_eof;	/* the client shut down its side; answer what it asked, then close */
	size_t scanned; /* bytes of the input already searched for a newline */
	TAILQ_HEAD(, connection_attachment) attached[CONNECTION_ATTACHMENT_KINDS];
	size_t attached_count[CONNECTION_ATTACHMENT_KINDS];
	size_t attached_cost;	  /* the costs of the attachments */
	size_t batch_bytes;	  /* answers of unfinished batches */
	struct evbuffer *held;	  /* output waiting for the history's commit */
	bool holding;		  /* handed to ops->hold, not released yet */
	bool held_answer;	  /* held holds an answer: it goes out at the commit */
	bool held_notify;	  /* held holds notifications */
	struct evbuffer *delayed; /* committed output waiting for flush_ev */
	bool delayed_notify;	  /* delayed holds notifications */
	bool answer_due;	  /* delayed holds an answer: it goes out after the read */
	bool drain_due;		/* written past the bufferevent: flush_ev runs its write callback */
	struct event *flush_ev; /* flushes delayed (active, or a timer); made on first use */
	uint64_t last_notify_us; /* when notifications last went out (CLOCK_MONOTONIC) */
};

static void connection_read_cb(evutil_socket_t fd, short what, void *arg);
static void connection_maybe_finish(struct connection *conn);
static void connection_flush_delayed(struct connection *conn);
static bool connection_make_delayed(struct connection *conn);
static void connection_write_cb(struct bufferevent *bev, void *arg);
static void connection_event_cb(struct bufferevent *bev, short what, void *arg);

struct connection *connection_new(struct event_base *base, int fd, struct peer *peer,
				  const struct connection_limits *limits,
				  const struct connection_ops *ops, void *ctx)
{
	struct connection *conn = calloc(1, sizeof(*conn));

	if (!conn) {
		close(fd);
		peer_clear(peer);
		return NULL;
	}
	conn->refcount = 1;
	conn->ops = ops;
	conn->ctx = ctx;
	conn->limits = *limits;
	conn->peer = *peer;
	memset(peer, 0, sizeof(*peer));
	for (size_t k = 0; k < CONNECTION_ATTACHMENT_KINDS; k++)
		TAILQ_INIT(&conn->attached[k]);
	conn->in = evbuffer_new();
	conn->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, connection_read_cb, conn);
	conn->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!conn->in || !conn->read_ev || !conn->bev || event_add(conn->read_ev, NULL) < 0) {
		if (conn->bev)
			bufferevent_free(conn->bev);
		else
			close(fd);
		if (conn->read_ev)
			event_free(conn->read_ev);
		if (conn->in)
			evbuffer_free(conn->in);
		peer_clear(&conn->peer);
		free(conn);
		return NULL;
	}
	bufferevent_setcb(conn->bev, NULL, connection_write_cb, connection_event_cb, conn);
	bufferevent_setwatermark(conn->bev, EV_WRITE, limits->max_answer_bytes / 2, 0);
	bufferevent_enable(conn->bev, EV_WRITE);
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
	if (conn->delayed)
		evbuffer_free(conn->delayed);
	evbuffer_free(conn->in);
	peer_clear(&conn->peer);
	free(conn);
	return NULL;
}

bool connection_is_open(const struct connection *conn)
{
	return conn->bev != NULL;
}

/* Detaches everything of kind; a detach hook may free its own attachment. */
static void connection_detach_all(struct connection *conn, enum connection_attachment_kind kind)
{
	struct connection_attachment *att, *next;

	for (att = TAILQ_FIRST(&conn->attached[kind]); att; att = next) {
		next = TAILQ_NEXT(att, entry);
		att->ops->detach(att);
	}
}

void connection_close(struct connection *conn)
{

	if (!conn->bev)
		return;
	/*
	 * Best effort: a last answer (shutdown's) should not die in our buffer.
	 * The bufferevent keeps the start of its output frozen: thaw it first.
	 */
	evbuffer_unfreeze(bufferevent_get_output(conn->bev), 1);
	if (conn->delayed)
		evbuffer_add_buffer(bufferevent_get_output(conn->bev), conn->delayed);
	evbuffer_write(bufferevent_get_output(conn->bev), bufferevent_getfd(conn->bev));
	event_free(conn->read_ev);
	conn->read_ev = NULL;
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	if (conn->flush_ev) {
		event_free(conn->flush_ev);
		conn->flush_ev = NULL;
	}
	if (conn->held)
		evbuffer_drain(conn->held, evbuffer_get_length(conn->held));
	connection_ref(conn);
	for (size_t k = 0; k < CONNECTION_ATTACHMENT_KINDS; k++)
		connection_detach_all(conn, (enum connection_attachment_kind)k);
	if (conn->ops->on_close)
		conn->ops->on_close(conn->ctx, conn);
	connection_unref(conn); /* the owner's reference */
	connection_unref(conn);
}

void connection_close_after_flush(struct connection *conn)
{
	if (!conn->bev)
		return;
	conn->close_on_flush = true;
	event_del(conn->read_ev);
	connection_flush_delayed(conn);
	if (conn->bev && connection_pending_output(conn) == 0)
		connection_close(conn);
}

/* Too many answers waiting: read no more requests until they drain (connection_write_cb). */
static void connection_check_output(struct connection *conn)
{
	if (conn->bev && !conn->read_paused &&
	    connection_answer_bytes(conn) > conn->limits.max_answer_bytes) {
		conn->read_paused = true;
		event_del(conn->read_ev);
	}
}

/*
 * Whether someone may wait for the write callback: reading paused, a
 * close after the flush, or output past half of a limit (a replay or a
 * follow waits for room below half of subscriber_max). Output only
 * shrinks by writes, and each write past this mark runs the callback,
 * so whoever waits saw at least this much.
 */
static bool connection_drain_awaited(const struct connection *conn)
{
	size_t low = conn->limits.max_answer_bytes < conn->limits.subscriber_max
			     ? conn->limits.max_answer_bytes
			     : conn->limits.subscriber_max;

	return conn->read_paused || conn->close_on_flush ||
	       connection_pending_output(conn) > low / 2;
}

/*
 * Sends buf (emptied): straight to the socket when the bufferevent has
 * nothing queued, so the common case costs one write and no epoll_ctl;
 * what the socket does not take (or all of it, on an error the
 * bufferevent then reports) goes to the bufferevent. When all of it went
 * out, the write callback still runs (deferred) for whoever waits on it.
 */
static void connection_push(struct connection *conn, struct evbuffer *buf)
{
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	bool awaited;

	if (evbuffer_get_length(buf) == 0)
		return;
	if (evbuffer_get_length(out) > 0) {
		evbuffer_add_buffer(out, buf);
		return;
	}
	awaited = connection_drain_awaited(conn);
	evbuffer_write(buf, bufferevent_getfd(conn->bev));
	if (evbuffer_get_length(buf) > 0)
		evbuffer_add_buffer(out, buf);
	else if (awaited && (conn->flush_ev || connection_make_delayed(conn))) {
		conn->drain_due = true;
		event_active(conn->flush_ev, EV_TIMEOUT, 1);
	}
}

/* Microseconds on the monotonic clock (the coalescing window must not follow the wall clock). */
static uint64_t connection_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static bool connection_has_delayed(const struct connection *conn)
{
	return conn->delayed && evbuffer_get_length(conn->delayed) > 0;
}

/* Notifications go out now: the timer came, an answer takes them along, or the end. */
static void connection_flush_delayed(struct connection *conn)
{
	if (!conn->bev || !connection_has_delayed(conn))
		return;
	if (conn->flush_ev)
		evtimer_del(conn->flush_ev);
	if (conn->delayed_notify)
		conn->last_notify_us = connection_now_us();
	conn->delayed_notify = false;
	conn->answer_due = false;
	connection_push(conn, conn->delayed);
}

static void connection_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connection *conn = connection_ref(arg);

	connection_flush_delayed(conn);
	if (conn->bev && conn->drain_due)
		connection_write_cb(conn->bev, conn);
	connection_unref(conn);
}

/* Whether a notification due now waits: one went out less than notify_coalesce_ms ago. */
static bool connection_must_coalesce(struct connection *conn)
{
	if (conn->limits.notify_coalesce_ms == 0)
		return false;
	if (connection_has_delayed(conn))
		return true;
	return connection_now_us() - conn->last_notify_us <
	       (uint64_t)conn->limits.notify_coalesce_ms * 1000;
}

/* The buffer for output that waits for flush_ev, and that event, made on first use. */
static bool connection_make_delayed(struct connection *conn)
{
	struct event_base *base = bufferevent_get_base(conn->bev);

	if (!conn->delayed && !(conn->delayed = evbuffer_new()))
		return false;
	if (!conn->flush_ev && !(conn->flush_ev = evtimer_new(base, connection_flush_cb, conn)))
		return false;
	return true;
}

/* The buffer for notifications that wait, with the timer that ends the wait armed; NULL: ENOMEM. */
static struct evbuffer *connection_delay(struct connection *conn)
{
	uint64_t window = (uint64_t)conn->limits.notify_coalesce_ms * 1000;
	uint64_t since = connection_now_us() - conn->last_notify_us, left;
	struct timeval tv;

	if (!connection_make_delayed(conn))
		return NULL;
	if (!evtimer_pending(conn->flush_ev, NULL)) {
		left = since < window ? window - since : 0;
		tv.tv_sec = (time_t)(left / 1000000);
		tv.tv_usec = (suseconds_t)(left % 1000000);
		if (evtimer_add(conn->flush_ev, &tv) < 0)
			return NULL;
	}
	return conn->delayed;
}

/*
 * Where output goes now: while the history has writes of this loop turn
 * not yet committed, everything waits for the commit, so no client hears
 * of anything that a crash could still take back.
 */
static struct evbuffer *connection_out(struct connection *conn, bool notification)
{
	if (conn->ops->must_hold_output && conn->ops->must_hold_output(conn->ctx) &&
	    (conn->held || (conn->held = evbuffer_new()))) {
		if (!conn->holding) {
			conn->holding = true;
			conn->ops->hold(conn->ctx, connection_ref(conn));
		}
		conn->held_answer |= !notification;
		conn->held_notify |= notification;
		return conn->held;
	}
	if (!connection_make_delayed(conn))
		return bufferevent_get_output(conn->bev);
	/*
	 * Everything this turn goes out in one write before the loop polls
	 * again (a pipelined client's answers too); notifications may wait
	 * for the coalescing timer, and anything after them waits with them
	 * unless it is an answer (which makes the event active).
	 */
	if (!notification || !connection_must_coalesce(conn) || !connection_delay(conn))
		event_active(conn->flush_ev, EV_TIMEOUT, 1);
	conn->delayed_notify |= notification;
	conn->answer_due |= !notification;
	return conn->delayed;
}

void connection_release_held(struct connection *conn, bool committed)
{
	bool answer = conn->held_answer, notify = conn->held_notify;
	struct evbuffer *delayed;

	conn->holding = false;
	conn->held_answer = conn->held_notify = false;
	if (!conn->bev || !conn->held || evbuffer_get_length(conn->held) == 0)
		return;
	if (!committed) {
		log_error("closing the connection of uid %u: its answers were not stored",
			  (unsigned)conn->peer.uid);
		evbuffer_drain(conn->held, evbuffer_get_length(conn->held));
		connection_close(conn);
		return;
	}
	if (!answer && connection_must_coalesce(conn) && (delayed = connection_delay(conn))) {
		evbuffer_add_buffer(delayed, conn->held);
		conn->delayed_notify = true;
	} else if (connection_has_delayed(conn)) {
		/* After what waits, which an answer takes along. */
		evbuffer_add_buffer(conn->delayed, conn->held);
		conn->delayed_notify |= notify;
		connection_flush_delayed(conn);
	} else {
		if (notify)
			conn->last_notify_us = connection_now_us();
		connection_push(conn, conn->held);
	}
	connection_check_output(conn);
}

/*
 * Appends the parts and a newline to out as one piece: one reservation and
 * copies, rather than an evbuffer_add (with its bookkeeping) per part.
 */
static void connection_add_line(struct evbuffer *out, const char *const *parts, const size_t *lens,
				size_t count)
{
	struct evbuffer_iovec vec;
	size_t total = 1, off = 0;

	for (size_t i = 0; i < count; i++)
		total += lens[i];
	if (evbuffer_reserve_space(out, (ev_ssize_t)total, &vec, 1) != 1) {
		for (size_t i = 0; i < count; i++)
			evbuffer_add(out, parts[i], lens[i]);
		evbuffer_add(out, "\n", 1);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		memcpy((char *)vec.iov_base + off, parts[i], lens[i]);
		off += lens[i];
	}
	((char *)vec.iov_base)[off] = '\n';
	vec.iov_len = total;
	evbuffer_commit_space(out, &vec, 1);
}

void connection_send_parts(struct connection *conn, const char *const *parts, const size_t *lens,
			   size_t count)
{
	if (!conn->bev)
		return;
	connection_add_line(connection_out(conn, false), parts, lens, count);
	connection_check_output(conn);
}

void connection_notify(struct connection *conn, const char *prefix, size_t prefix_len,
		       const char *text, size_t len,
		       void (*release)(const void *text, size_t len, void *ctx), void *ctx,
		       const char *suffix, size_t suffix_len)
{
	struct evbuffer *out;
	bool copied = true;

	if (!conn->bev) {
		if (release)
			release(text, len, ctx);
		return;
	}
	out = connection_out(conn, true);
	/* A short text costs less to copy than a chain of its own. */
	if (release && len >= CONNECTION_SHARE_MIN) {
		evbuffer_add(out, prefix, prefix_len);
		copied = evbuffer_add_reference(out, text, len, release, ctx) < 0;
		if (copied)
			evbuffer_add(out, text, len);
		evbuffer_add(out, suffix, suffix_len);
		evbuffer_add(out, "\n", 1);
	} else {
		const char *parts[3] = {prefix, text, suffix};
		size_t lens[3] = {prefix_len, len, suffix_len};

		connection_add_line(out, parts, lens, 3);
	}
	if (copied && release)
		release(text, len, ctx);
	connection_check_output(conn);
}

void connection_send(struct connection *conn, const char *text, size_t len)
{
	connection_send_parts(conn, &text, &len, 1);
}

void connection_send_error(struct connection *conn, int code, const char *message)
{
	json_object *o = jsonrpc_error(NULL, code, message, NULL);
	size_t len;
	const char *text = json_to_wire(o, &len);

	if (text)
		connection_send(conn, text, len);
	json_object_put(o);
}

size_t connection_pending_output(const struct connection *conn)
{
	if (!conn->bev)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(conn->bev)) +
	       (conn->held ? evbuffer_get_length(conn->held) : 0) +
	       (conn->delayed ? evbuffer_get_length(conn->delayed) : 0);
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

bool connection_allowed(const struct connection *conn)
{
	return conn->ops->peer_allowed(conn->ctx, &conn->peer);
}

uid_t connection_peer_uid(const struct connection *conn)
{
	return conn->peer.uid;
}

pid_t connection_peer_pid(const struct connection *conn)
{
	return conn->peer.pid;
}

void connection_attach(struct connection *conn, struct connection_attachment *att,
		       const struct connection_attachment_ops *ops)
{
	att->ops = ops;
	TAILQ_INSERT_TAIL(&conn->attached[ops->kind], att, entry);
	conn->attached_count[ops->kind]++;
	conn->attached_cost += att->cost;
}

void connection_charge(struct connection *conn, struct connection_attachment *att, size_t bytes)
{
	att->cost += bytes;
	conn->attached_cost += bytes;
}

void connection_detach(struct connection *conn, struct connection_attachment *att)
{
	TAILQ_REMOVE(&conn->attached[att->ops->kind], att, entry);
	conn->attached_count[att->ops->kind]--;
	conn->attached_cost -= att->cost;
	connection_maybe_finish(conn);
}

size_t connection_attached_count(const struct connection *conn,
				 enum connection_attachment_kind kind)
{
	return conn->attached_count[kind];
}

size_t connection_attached_cost(const struct connection *conn)
{
	return conn->attached_cost;
}

struct connection_attachment *connection_attached_first(struct connection *conn,
							enum connection_attachment_kind kind)
{
	return TAILQ_FIRST(&conn->attached[kind]);
}

struct connection_attachment *connection_attached_next(struct connection_attachment *att)
{
	return TAILQ_NEXT(att, entry);
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
	connection_send_error(conn, WIRE_INVALID_REQUEST, msg);
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
		conn->ops->on_line(conn->ctx, conn, line, n);
	}
	if (conn->bev)
		evbuffer_drain(in, len + newline);
}

static void connection_read_lines(struct connection *conn)
{
	while (conn->bev && !conn->read_paused && !conn->close_on_flush) {
		struct evbuffer *in = conn->in;
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

/* At end of input, a last line without its newline is still a request. */
static void connection_read_last_line(struct connection *conn)
{
	struct evbuffer *in;
	size_t len;

	if (!conn->bev || conn->read_paused || conn->close_on_flush)
		return;
	in = conn->in;
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
	size_t attached = 0;

	for (size_t k = 0; k < CONNECTION_ATTACHMENT_KINDS; k++)
		attached += conn->attached_count[k];
	if (conn->bev && conn->peer_eof && !conn->read_paused && attached == 0)
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

/* The client shut down its side, or the socket failed: reading is over. */
static void connection_read_ended(struct connection *conn, ssize_t n)
{
	event_del(conn->read_ev);
	if (n < 0) {
		log_debug("client uid %u pid %d: %s", (unsigned)conn->peer.uid, (int)conn->peer.pid,
			  strerror(errno));
		connection_close(conn);
		return;
	}
	conn->peer_eof = true;
	connection_finish_input(conn);
}

/*
 * Reads what the socket has (one read: a level-triggered event comes back
 * for the rest), never past one line and a bit: a longer one is refused
 * anyway.
 */
static void connection_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connection *conn = connection_ref(arg);
	size_t have = evbuffer_get_length(conn->in), room = conn->limits.max_line + 2;
	char buf[CONNECTION_READ_MAX];
	ssize_t n;

	room = room > have ? room - have : 1;
	n = read(fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n > 0 && evbuffer_add(conn->in, buf, (size_t)n) == 0) {
		connection_read_lines(conn);
		/* The answers to what was read go out now, in one write, not a loop pass later. */
		if (conn->answer_due)
			connection_flush_delayed(conn);
	} else if (n > 0)
		connection_close(conn); /* out of memory: the request cannot be kept */
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		connection_read_ended(conn, n);
	connection_unref(conn);
}

/*
 * Output has room again: attachments that wait for it (a replay) go on.
 * Every attachment of a kind has the same ops, so a kind without a
 * drained hook (calls) costs nothing here.
 */
static void connection_drained(struct connection *conn)
{
	for (size_t k = 0; k < CONNECTION_ATTACHMENT_KINDS && conn->bev; k++) {
		struct connection_attachment *att = TAILQ_FIRST(&conn->attached[k]), *next;

		if (!att || !att->ops->drained)
			continue;
		for (; att && conn->bev; att = next) {
			next = TAILQ_NEXT(att, entry);
			if (att->ops->drained)
				att->ops->drained(att); /* may end (and free) att alone */
		}
	}
}

static void connection_write_cb(struct bufferevent *bev, void *arg)
{
	struct connection *conn = connection_ref(arg);

	conn->drain_due = false;
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
				event_add(conn->read_ev, NULL);
				connection_read_lines(conn); /* what arrived while paused */
			}
		}
		connection_drained(conn);
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
		event_del(conn->read_ev); /* a write found the end first: reading is over too */
		conn->peer_eof = true;
		connection_finish_input(conn);
		connection_unref(conn);
	}
}
