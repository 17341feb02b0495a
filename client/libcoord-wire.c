/* libcoord's NDJSON framing: reads into conn's buffer, parses lines into conn's queues (conn owns
 * all). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "jsonutil.h"
#include "libcoord-private.h"

#define COORD_READ_CHUNK 65536

static int64_t coord_wire_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), for poll(). */
static int coord_wire_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - coord_wire_now_ms();
	if (left < 0)
		return 0;
	return left > 1000000000 ? 1000000000 : (int)left;
}

static int coord_wire_reserve(struct coord_conn *conn, struct coord_error *err)
{
	size_t need;
	char *p;

	/* Drop what was parsed when it is most of the buffer. */
	if (conn->rpos > 0 && conn->rpos >= conn->rlen / 2) {
		memmove(conn->rbuf, conn->rbuf + conn->rpos, conn->rlen - conn->rpos);
		conn->rlen -= conn->rpos;
		conn->rpos = 0;
	}
	need = conn->rlen + COORD_READ_CHUNK;
	if (need <= conn->rcap)
		return 0;
	if (conn->rlen - conn->rpos > COORD_MAX_LINE) {
		conn->broken = 1;
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a line longer than %u bytes", COORD_MAX_LINE);
	}
	p = realloc(conn->rbuf, need);
	if (!p)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	conn->rbuf = p;
	conn->rcap = need;
	return 0;
}

/* One read(); 1 when bytes arrived, 0 on EAGAIN, -1 on EOF or error. */
static int coord_wire_read_once(struct coord_conn *conn, struct coord_error *err)
{
	ssize_t n;

	if (conn->broken)
		return coord_error_fail(conn, err, COORD_ERR_CLOSED, 0,
					"the connection to coordinatord at %s is closed",
					conn->socket_path);
	if (coord_wire_reserve(conn, err) < 0)
		return -1;
	do
		n = recv(conn->fd, conn->rbuf + conn->rlen, conn->rcap - conn->rlen, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		conn->broken = 1;
		return coord_error_fail(conn, err, COORD_ERR_IO, errno,
					"cannot read from coordinatord at %s: %s",
					conn->socket_path, strerror(errno));
	}
	if (n == 0) {
		conn->broken = 1;
		return coord_error_fail(conn, err, COORD_ERR_CLOSED, 0,
					"coordinatord closed the connection (%s)",
					conn->socket_path);
	}
	conn->rlen += (size_t)n;
	return 1;
}

int coord_wire_read_now(struct coord_conn *conn, struct coord_error *err)
{
	int r;

	while ((r = coord_wire_read_once(conn, err)) > 0)
		;
	return r;
}

/*
 * The daemon hung up while we wrote: it may have said why first (a peer it
 * does not allow is told 1004 and disconnected at accept). Fills *err from
 * such an answer and returns -1; 0 when there is none.
 */
static int coord_wire_refusal(struct coord_conn *conn, struct coord_error *err)
{
	struct coord_error scratch;
	struct coord_msg *msg;
	json_object *error;

	while (coord_wire_read_once(conn, &scratch) > 0)
		;
	coord_wire_parse(conn, &scratch);
	TAILQ_FOREACH (msg, &conn->responses, entry)
		if (msg->id == 0 && json_object_object_get_ex(msg->obj, "error", &error) &&
		    json_object_is_type(error, json_type_object))
			return coord_error_from_rpc(conn, err, error);
	return 0;
}

int coord_wire_write(struct coord_conn *conn, const char *buf, size_t len, struct coord_error *err)
{
	struct pollfd pfd = {.fd = conn->fd, .events = POLLIN | POLLOUT};
	ssize_t n;

	if (conn->broken)
		return coord_error_fail(conn, err, COORD_ERR_CLOSED, 0,
					"the connection to coordinatord at %s is closed",
					conn->socket_path);
	while (len > 0) {
		n = send(conn->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			int e = errno;

			if ((e == EPIPE || e == ECONNRESET) && coord_wire_refusal(conn, err) < 0) {
				conn->broken = 1;
				return -1;
			}
			conn->broken = 1;
			return coord_error_fail(conn, err, COORD_ERR_IO, e,
						"cannot write to coordinatord at %s: %s",
						conn->socket_path, strerror(e));
		}
		/* The daemon may be blocked writing to us: keep reading while we wait. */
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return coord_error_fail(conn, err, COORD_ERR_IO, errno, "poll: %s",
						strerror(errno));
		if ((pfd.revents & (POLLIN | POLLHUP)) && coord_wire_read_once(conn, err) < 0)
			return -1;
	}
	return 0;
}

static int coord_wire_id(struct coord_conn *conn, json_object *id, uint64_t *ret_id,
			 struct coord_error *err)
{
	int64_t v;

	if (json_object_is_type(id, json_type_null)) {
		*ret_id = 0;
		return 0;
	}
	if (!json_object_is_type(id, json_type_int))
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a response with a non-integer id");
	v = json_object_get_int64(id);
	if (v <= 0 || (uint64_t)v >= conn->next_id)
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a response to id %lld, which was never sent",
					(long long)v);
	*ret_id = (uint64_t)v;
	return 0;
}

/* Routes one parsed message (taking its reference) to a queue. */
static int coord_wire_route(struct coord_conn *conn, json_object *obj, struct coord_error *err)
{
	const char *version = json_get_string(obj, "jsonrpc");
	json_object *id, *unused;
	struct coord_msg *msg;
	uint64_t msg_id = 0;
	int is_response;

	if (!json_object_is_type(obj, json_type_object) || !version ||
	    strcmp(version, "2.0") != 0) {
		json_object_put(obj);
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent something that is not a JSON-RPC 2.0 object");
	}
	is_response = json_object_object_get_ex(obj, "id", &id);
	if (is_response && (json_object_object_get_ex(obj, "result", &unused) ==
			    json_object_object_get_ex(obj, "error", &unused))) {
		json_object_put(obj);
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a response with neither or both of result "
					"and error");
	}
	if (!is_response && !json_get_string(obj, "method")) {
		json_object_put(obj);
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a message with neither id nor method");
	}
	if (is_response && coord_wire_id(conn, id, &msg_id, err) < 0) {
		json_object_put(obj);
		return -1;
	}
	msg = calloc(1, sizeof(*msg));
	if (!msg) {
		json_object_put(obj);
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	}
	msg->id = msg_id;
	msg->obj = obj;
	if (is_response)
		TAILQ_INSERT_TAIL(&conn->responses, msg, entry);
	else
		TAILQ_INSERT_TAIL(&conn->notifications, msg, entry);
	return 0;
}

static int coord_wire_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return 0;
	return 1;
}

static int coord_wire_parse_line(struct coord_conn *conn, const char *line, size_t len,
				 struct coord_error *err)
{
	enum json_tokener_error jerr;
	json_object *obj;
	size_t end;

	if (coord_wire_blank(line, len))
		return 0;
	if (!conn->tok && !(conn->tok = json_tokener_new()))
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	json_tokener_reset(conn->tok);
	obj = json_tokener_parse_ex(conn->tok, line, (int)len);
	jerr = json_tokener_get_error(conn->tok);
	end = json_tokener_get_parse_end(conn->tok);
	if (jerr != json_tokener_success || !obj || !coord_wire_blank(line + end, len - end)) {
		json_object_put(obj);
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent a line that is not JSON: %.60s%s", line,
					len > 60 ? "..." : "");
	}
	return coord_wire_route(conn, obj, err);
}

int coord_wire_parse(struct coord_conn *conn, struct coord_error *err)
{
	int r = 0;

	while (conn->rpos < conn->rlen) {
		char *start = conn->rbuf + conn->rpos;
		size_t avail = conn->rlen - conn->rpos;
		char *nl = memchr(start, '\n', avail);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - start);
		*nl = '\0';
		conn->rpos += len + 1;
		/* A bad line is reported once; the lines after it still count. */
		if (coord_wire_parse_line(conn, start, len, err) < 0)
			r = -1;
	}
	if (conn->rpos == conn->rlen)
		conn->rpos = conn->rlen = 0;
	return r;
}

int coord_wire_wait(struct coord_conn *conn, int (*ready)(struct coord_conn *, void *), void *arg,
		    int timeout_ms, struct coord_error *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : coord_wire_now_ms() + timeout_ms;
	struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};
	int r;

	for (;;) {
		if (coord_wire_parse(conn, err) < 0)
			return -1;
		if (ready(conn, arg))
			return 0;
		r = coord_wire_read_once(conn, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		r = poll(&pfd, 1, coord_wire_remaining(deadline));
		if (r < 0 && errno != EINTR)
			return coord_error_fail(conn, err, COORD_ERR_IO, errno, "poll: %s",
						strerror(errno));
		if (r == 0)
			return coord_error_fail(conn, err, COORD_ERR_TIMEOUT, 0,
						"no answer from coordinatord within %d ms",
						timeout_ms);
	}
}
