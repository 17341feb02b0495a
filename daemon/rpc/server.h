/*
 * The listening Unix socket: accepts clients, turns away peers that are not
 * allowed, caps how many connections there are (in all and per uid), backs
 * off when out of fds.
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "connection.h"

struct event_base;
struct server;

/* What the server asks of its owner for every connection (see struct connection_ops). */
struct server_ops {
	void (*on_line)(void *ctx, struct connection *conn, const char *line, size_t len);
	bool (*must_hold_output)(void *ctx); /* may be NULL: never */
	bool (*peer_allowed)(void *ctx, const struct peer *peer);
};

struct server_config {
	const char *path;	  /* the socket file; used for binding unless fd >= 0 */
	int fd;			  /* a listening socket handed over (socket activation), or -1 */
	unsigned mode;		  /* permission bits of a socket file we create */
	unsigned max_connections; /* past it: error 1005, then close */
	unsigned max_connections_per_uid; /* the same per uid, root and our own uid aside */
	struct connection_limits limits;
};

/*
 * Listens as config says. Refuses (-EADDRINUSE) when another daemon
 * answers on path; removes a stale socket file nobody answers on. On
 * failure returns a negative errno and a reason in *error (caller frees).
 * ops and ctx are borrowed and must outlive the server.
 */
int server_new(struct event_base *base, const struct server_config *config,
	       const struct server_ops *ops, void *ctx, struct server **ret, char **error);

/* Stops accepting new clients; open connections stay. */
void server_stop_listening(struct server *server);

/* Closes every connection, stops listening, removes the socket file we made. Accepts NULL. */
void server_free(struct server *server);

size_t server_connection_count(const struct server *server);

/* Bytes queued for all clients and not yet written. */
size_t server_pending_output(const struct server *server);

/* After a commit: every holding connection sends (committed) or closes (not). */
void server_release_held(struct server *server, bool committed);

#endif
