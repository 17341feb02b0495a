/* libcoord internals shared by its files; nothing here is exported. */
#ifndef COORD_LIBCOORD_PRIVATE_H
#define COORD_LIBCOORD_PRIVATE_H

#include <sys/queue.h>

#include "coord.h"

/* The longest line accepted from the daemon (task output can be large). */
#define COORD_MAX_LINE (64u * 1024 * 1024)

/* One parsed message waiting to be handed out; owns obj. */
struct coord_msg {
	TAILQ_ENTRY(coord_msg) entry;
	/* Responses: the request id (0 for an error answering no request). */
	uint64_t id;
	json_object *obj;
};
TAILQ_HEAD(coord_msg_queue, coord_msg);

/* A connection; owns fd, socket_path, the read buffer and both queues. */
struct coord_conn {
	int fd;
	char *socket_path;
	/* Set once the stream can no longer be trusted (EOF, oversize line). */
	int broken;
	uint64_t next_id;
	size_t in_flight;

	char *rbuf;
	size_t rpos; /* first unparsed byte */
	size_t rlen; /* bytes held */
	size_t rcap;
	/* Parses every line, reset between them (one allocated for each line cost a large malloc).
	 */
	struct json_tokener *tok;

	struct coord_msg_queue responses;
	struct coord_msg_queue notifications;
};

/* Fills *err (when not NULL) and returns -1. detail is errno for CONNECT/IO, code for RPC. */
int coord_error_fail(const struct coord_conn *conn, struct coord_error *err,
		     enum coord_error_kind kind, int detail, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Fills *err from a JSON-RPC error object and returns -1. */
int coord_error_from_rpc(const struct coord_conn *conn, struct coord_error *err,
			 json_object *error);

/* Writes all of buf, reading (without parsing) whatever arrives meanwhile. */
int coord_wire_write(struct coord_conn *conn, const char *buf, size_t len, struct coord_error *err);
/* Waits up to timeout_ms until ready(conn, arg) is true, parsing what arrives. */
int coord_wire_wait(struct coord_conn *conn, int (*ready)(struct coord_conn *, void *), void *arg,
		    int timeout_ms, struct coord_error *err);
/* Parses every complete line held into the queues; -1 on a protocol error. */
int coord_wire_parse(struct coord_conn *conn, struct coord_error *err);
/* Reads once without blocking; 0 also when nothing was there. */
int coord_wire_read_now(struct coord_conn *conn, struct coord_error *err);

/* Frees one queued message. */
void coord_msg_free(struct coord_msg *msg);

#endif
