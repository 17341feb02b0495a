/*
 * The listening socket. The server owns the listener, the socket file it
 * created (removed on free, never when handed over by systemd) and one
 * reference to each open connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cause.h"
#include "daemon.h"
#include "log.h"
#include "paths.h"
#include "peer.h"
#include "server.h"
#include "wire_errors.h"

#define SERVER_ACCEPT_BACKOFF_MS 100

struct server {
	struct daemon *daemon;
	struct evconnlistener *listener;
	struct event *backoff_ev;
	char *path; /* the socket file to remove on free, NULL if not ours */
	unsigned max_connections;
	unsigned max_connections_per_uid;
	struct connection_limits limits;
	struct connection **conns; /* open connections, unordered */
	size_t count;
	size_t capacity;
	struct connection **held; /* references to connections holding output */
	size_t held_count;
	size_t held_capacity;
};

static int server_sockaddr(const char *path, struct sockaddr_un *sun, char **error)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		return cause_set(error, -ENAMETOOLONG,
				 "socket path too long (%zu bytes, at most %zu): %s", strlen(path),
				 sizeof(sun->sun_path) - 1, path);
	}
	strcpy(sun->sun_path, path);
	return 0;
}

/* 1 when a daemon answers on path, 0 when nobody does (stale or absent). */
static int server_someone_listens(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return r == 0;
}

static int server_bind(const char *path, unsigned mode, int *ret_fd, char **error)
{
	struct sockaddr_un sun;
	struct stat st;
	char *dir, *slash;
	int fd, r;

	if ((r = server_sockaddr(path, &sun, error)) < 0)
		return r;
	dir = strdup(path);
	if (dir && (slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		paths_mkdir_parents(dir, 0755);
	}
	free(dir);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			return cause_set(
				error, -EEXIST,
				"%s exists and is not a socket; remove it or choose another path",
				path);
		}
		if (server_someone_listens(&sun)) {
			return cause_set(error, -EADDRINUSE,
					 "another coordinatord already answers on %s", path);
		}
		log_notice("removing stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return cause_set(error, r, "cannot bind %s: %s", path, strerror(-r));
	}
	if (chmod(path, mode) < 0)
		log_warning("cannot set mode %o on %s: %m", mode, path);
	*ret_fd = fd;
	return 0;
}

/* Tells a client it is turned away (message: JSON-safe text), then hangs up. */
static void server_refuse(int fd, int code, const char *message)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"%s\"},"
			 "\"id\":null}\n",
			 code, message);

	/* Best effort on a fresh socket: its buffer has room for one short line. */
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		log_debug("cannot tell a refused client why: %m");
	close(fd);
}

static size_t server_count_uid(const struct server *server, uid_t uid)
{
	size_t n = 0;

	for (size_t i = 0; i < server->count; i++)
		n += connection_peer_uid(server->conns[i]) == uid;
	return n;
}

/* 0 if peer may have one more connection, or the wire error it gets (message in buf). */
static int server_admit(struct server *server, const struct peer *peer, char *buf, size_t size)
{
	if (!peer_allowed(peer, server->daemon)) {
		snprintf(buf, size,
			 "permission denied: uid %u may not use this daemon (ask its admin to add "
			 "you to allowed_users or allowed_groups)",
			 (unsigned)peer->uid);
		return WIRE_PERMISSION_DENIED;
	}
	if (server->count >= server->max_connections) {
		snprintf(buf, size, "busy: too many connections (the limit is %u); try again later",
			 server->max_connections);
		return WIRE_BUSY;
	}
	if (!peer_is_privileged(peer) &&
	    server_count_uid(server, peer->uid) >= server->max_connections_per_uid) {
		snprintf(buf, size,
			 "busy: uid %u already has %u connections (max_connections_per_uid); "
			 "close one first",
			 (unsigned)peer->uid, server->max_connections_per_uid);
		return WIRE_BUSY;
	}
	return 0;
}

static int server_track(struct server *server, struct connection *conn)
{
	if (server->count == server->capacity) {
		size_t cap = server->capacity ? server->capacity * 2 : 16;
		struct connection **conns = realloc(server->conns, cap * sizeof(*conns));

		if (!conns)
			return -ENOMEM;
		server->conns = conns;
		server->capacity = cap;
	}
	server->conns[server->count++] = conn;
	return 0;
}

static void server_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			     int socklen, void *arg)
{
	struct server *server = arg;
	struct connection *conn;
	struct peer peer;
	char why[256];
	int r;

	evutil_make_socket_closeonexec(fd);
	if ((r = peer_read(fd, &peer)) < 0) {
		log_warning("cannot read the credentials of a client: %s", strerror(-r));
		close(fd);
		return;
	}
	if ((r = server_admit(server, &peer, why, sizeof(why))) != 0) {
		/* Refused uids at debug only: anyone who can open the socket could fill the log. */
		if (r == WIRE_BUSY)
			log_warning("refusing a client (uid %u pid %d): %s", (unsigned)peer.uid,
				    (int)peer.pid, why);
		else
			log_debug("refusing a client (uid %u pid %d): %s", (unsigned)peer.uid,
				  (int)peer.pid, why);
		peer_clear(&peer);
		server_refuse(fd, r, why);
		return;
	}
	conn = connection_new(server->daemon, server, fd, &peer, &server->limits);
	if (!conn)
		return;
	if (server_track(server, conn) < 0) {
		connection_close(conn);
		log_error("out of memory accepting a client");
	}
}

static void server_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *server = arg;

	if (server->listener)
		evconnlistener_enable(server->listener);
}

/* Out of file descriptors: pause accepting briefly instead of spinning on accept(). */
static void server_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *server = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, SERVER_ACCEPT_BACKOFF_MS * 1000};

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warning("accept: %s; pausing for %d ms", strerror(err),
			    SERVER_ACCEPT_BACKOFF_MS);
		evconnlistener_disable(l);
		evtimer_add(server->backoff_ev, &tv);
		return;
	}
	log_warning("accept: %s", strerror(err));
}

static int server_listen(struct server *server, int fd, char **error)
{
	/* The kernel caps the backlog at its maximum (net.core.somaxconn). */
	server->listener =
		evconnlistener_new(daemon_event_base(server->daemon), server_accept_cb, server,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, INT_MAX, fd);
	if (!server->listener) {
		int e = errno;

		close(fd);
		return cause_set(error, -EIO, "cannot listen: %s", strerror(e));
	}
	evconnlistener_set_error_cb(server->listener, server_accept_error_cb);
	return 0;
}

int server_new(struct daemon *daemon, const struct server_config *config, struct server **ret,
	       char **error)
{
	struct server *server = calloc(1, sizeof(*server));
	int fd = config->fd, r;

	*error = NULL;
	if (!server)
		return cause_set(error, -ENOMEM, "out of memory");
	server->daemon = daemon;
	server->max_connections = config->max_connections;
	server->max_connections_per_uid = config->max_connections_per_uid;
	server->limits = config->limits;
	server->backoff_ev = evtimer_new(daemon_event_base(daemon), server_backoff_cb, server);
	if (!server->backoff_ev) {
		free(server);
		return cause_set(error, -ENOMEM, "out of memory");
	}
	if (fd < 0) {
		r = server_bind(config->path, config->mode, &fd, error);
		if (r < 0) {
			server_free(server);
			return r;
		}
		server->path = strdup(config->path);
		if (!server->path) {
			unlink(config->path);
			close(fd);
			server_free(server);
			return cause_set(error, -ENOMEM, "out of memory");
		}
	} else {
		evutil_make_socket_nonblocking(fd);
	}
	r = server_listen(server, fd, error);
	if (r < 0) {
		server_free(server);
		return r;
	}
	*ret = server;
	return 0;
}

void server_stop_listening(struct server *server)
{
	if (!server || !server->listener)
		return;
	evconnlistener_free(server->listener);
	server->listener = NULL;
	event_del(server->backoff_ev);
	if (server->path) {
		unlink(server->path);
		free(server->path);
		server->path = NULL;
	}
}

void server_hold(struct server *server, struct connection *conn)
{
	if (server->held_count == server->held_capacity) {
		size_t cap = server->held_capacity ? server->held_capacity * 2 : 16;
		struct connection **held = realloc(server->held, cap * sizeof(*held));

		if (!held) {
			/* Cannot wait for the commit: better late than never, send now. */
			connection_release_held(conn, true);
			connection_unref(conn);
			return;
		}
		server->held = held;
		server->held_capacity = cap;
	}
	server->held[server->held_count++] = conn;
}

void server_release_held(struct server *server, bool committed)
{
	/* Releasing may queue more output for a later commit: take the list first. */
	struct connection **held = server->held;
	size_t count = server->held_count;

	server->held = NULL;
	server->held_count = server->held_capacity = 0;
	for (size_t i = 0; i < count; i++) {
		connection_release_held(held[i], committed);
		connection_unref(held[i]);
	}
	free(held);
}

void server_free(struct server *server)
{
	if (!server)
		return;
	server_release_held(server, true);
	server_stop_listening(server);
	while (server->count > 0)
		connection_close(server->conns[server->count - 1]);
	free(server->conns);
	event_free(server->backoff_ev);
	free(server);
}

size_t server_connection_count(const struct server *server)
{
	return server->count;
}

size_t server_pending_output(const struct server *server)
{
	size_t total = 0;

	for (size_t i = 0; server && i < server->count; i++)
		total += connection_pending_output(server->conns[i]);
	return total;
}

void server_connection_closed(struct server *server, struct connection *conn)
{
	for (size_t i = 0; i < server->count; i++) {
		if (server->conns[i] == conn) {
			server->conns[i] = server->conns[--server->count];
			return;
		}
	}
}
