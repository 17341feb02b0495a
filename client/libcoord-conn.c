/* A libcoord connection: socket setup and teardown. The conn owns its fd, path, buffer and queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libcoord-private.h"
#include "paths.h"

static struct coord_conn *coord_conn_new(char *socket_path)
{
	struct coord_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->fd = -1;
	conn->socket_path = socket_path;
	conn->next_id = 1;
	TAILQ_INIT(&conn->responses);
	TAILQ_INIT(&conn->notifications);
	return conn;
}

static const char *coord_conn_hint(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ECONNREFUSED:
		return "is coordinatord running? start it, or pass --socket or set COORD_SOCKET";
	case EACCES:
	case EPERM:
		return "you may not use this socket; ask to be added to allowed_users or "
		       "allowed_groups";
	default:
		return "check the socket path";
	}
}

static int coord_conn_connect(struct coord_conn *conn, struct coord_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(conn->socket_path);
	int fd;

	if (len == 0 || len >= sizeof(addr.sun_path))
		return coord_error_fail(conn, err, COORD_ERR_CONNECT, ENAMETOOLONG,
					"socket path '%s' is empty or longer than %zu bytes",
					conn->socket_path, sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, conn->socket_path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return coord_error_fail(conn, err, COORD_ERR_CONNECT, errno,
					"cannot create a socket: %s", strerror(errno));
	/* Blocking connect: a full backlog waits instead of failing with EAGAIN. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EISCONN)
			break;

		close(fd);
		return coord_error_fail(conn, err, COORD_ERR_CONNECT, e,
					"cannot connect to coordinatord at %s: %s (%s)",
					conn->socket_path, strerror(e), coord_conn_hint(e));
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		return coord_error_fail(conn, err, COORD_ERR_CONNECT, e,
					"cannot make the socket non-blocking: %s", strerror(e));
	}
	conn->fd = fd;
	return 0;
}

int coord_conn_open(const char *socket_path, struct coord_conn **ret_conn, struct coord_error *err)
{
	struct coord_conn *conn;
	char *path;

	if (!ret_conn)
		return coord_error_fail(NULL, err, COORD_ERR_INVALID, 0, "ret_conn is NULL");
	path = paths_socket(socket_path);
	if (!path)
		return coord_error_fail(NULL, err, COORD_ERR_NOMEM, 0, "out of memory");
	conn = coord_conn_new(path);
	if (!conn) {
		free(path);
		return coord_error_fail(NULL, err, COORD_ERR_NOMEM, 0, "out of memory");
	}
	if (coord_conn_connect(conn, err) < 0) {
		coord_conn_close(conn);
		return -1;
	}
	*ret_conn = conn;
	return 0;
}

void coord_msg_free(struct coord_msg *msg)
{
	if (!msg)
		return;
	json_object_put(msg->obj);
	free(msg);
}

static void coord_conn_drain(struct coord_msg_queue *queue)
{
	struct coord_msg *msg;

	while ((msg = TAILQ_FIRST(queue))) {
		TAILQ_REMOVE(queue, msg, entry);
		coord_msg_free(msg);
	}
}

void coord_conn_close(struct coord_conn *conn)
{
	if (!conn)
		return;
	if (conn->fd >= 0)
		close(conn->fd);
	coord_conn_drain(&conn->responses);
	coord_conn_drain(&conn->notifications);
	free(conn->rbuf);
	if (conn->tok)
		json_tokener_free(conn->tok);
	free(conn->socket_path);
	free(conn);
}

const char *coord_conn_socket_path(const struct coord_conn *conn)
{
	return conn ? conn->socket_path : NULL;
}

int coord_conn_fd(const struct coord_conn *conn)
{
	return conn ? conn->fd : -1;
}

int coord_conn_dispatch(struct coord_conn *conn, struct coord_error *err)
{
	if (!conn)
		return coord_error_fail(NULL, err, COORD_ERR_INVALID, 0, "conn is NULL");
	/* What arrived before an EOF still counts: parse it, then report the EOF. */
	if (coord_wire_read_now(conn, err) < 0) {
		coord_wire_parse(conn, NULL);
		return -1;
	}
	return coord_wire_parse(conn, err);
}

int coord_conn_pending(const struct coord_conn *conn)
{
	if (!conn)
		return 0;
	if (!TAILQ_EMPTY(&conn->responses) || !TAILQ_EMPTY(&conn->notifications))
		return 1;
	/* A complete line not parsed yet is pending too. */
	return conn->rlen > conn->rpos &&
	       memchr(conn->rbuf + conn->rpos, '\n', conn->rlen - conn->rpos) != NULL;
}

size_t coord_conn_in_flight(const struct coord_conn *conn)
{
	return conn ? conn->in_flight : 0;
}
