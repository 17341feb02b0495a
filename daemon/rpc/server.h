/*
 * The listening Unix socket: accepts clients, turns away peers that are not
 * allowed, caps how many connections there are (in all and per uid), backs
 * off when out of fds.
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include <stddef.h>

#include "connection.h"

struct daemon;
struct server;

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
 */
int server_new(struct daemon *daemon, const struct server_config *config, struct server **ret,
	       char **error);

/* Stops accepting new clients; open connections stay. */
void server_stop_listening(struct server *server);

/* Closes every connection, stops listening, removes the socket file we made. Accepts NULL. */
void server_free(struct server *server);

size_t server_connection_count(const struct server *server);

/* Bytes queued for all clients and not yet written. */
size_t server_pending_output(const struct server *server);

/* For connection.c: conn (a reference, taken) holds output until the next commit. */
void server_hold(struct server *server, struct connection *conn);
/* After a commit: every holding connection sends (committed) or closes (not). */
void server_release_held(struct server *server, bool committed);

/* For connection.c: conn has closed and leaves the server's list. */
void server_connection_closed(struct server *server, struct connection *conn);

#endif
