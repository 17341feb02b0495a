/*
 * Following a job's output (`output` with follow): a subscription that
 * sends what is kept from the asked offsets, then every append as it
 * comes, then output_ended once the job has closed. Catching up goes at
 * the pace the client reads; live output that finds the client past its
 * buffer limit ends the follow as lagged, with where to resume.
 */
#ifndef COORD_OUTPUT_FOLLOW_H
#define COORD_OUTPUT_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output_store.h"

struct connection;
struct daemon;
struct message;
struct output_follow;
struct subscription;

/*
 * Reads the next text of stream s of request_id from offset into buf (at
 * most max bytes, max >= 4): never across the dropped middle, and unless
 * final (the job closed) never ending inside a character whose rest may
 * still come. *ret_offset is where the bytes start; *ret_len is 0 when
 * there is nothing (yet). 0 or a negative errno.
 */
int output_follow_read(struct output_store *store, const char *request_id, enum output_stream s,
		       uint64_t offset, bool final, char *buf, size_t max, uint64_t *ret_offset,
		       size_t *ret_len);

/*
 * Follows the streams (bit 1 << enum output_stream) of request_id for conn
 * from offsets[] on; closed: the job has closed (or its final message is
 * out) already. Returns 0 and the subscription, which owns the follow, in
 * *ret; nothing is sent before output_follow_start.
 */
int output_follow_new(struct daemon *d, struct connection *conn, const char *request_id,
		      unsigned streams, const uint64_t offsets[OUTPUT_STREAM_COUNT], bool closed,
		      struct subscription **ret);

/* Sends what is kept; may end (and free) the subscription at once. */
void output_follow_start(struct output_follow *f);

/* For the subscription: the job's final message (f may end), room to write, the end. */
void output_follow_message(struct output_follow *f, const struct message *msg);
void output_follow_drain(struct output_follow *f);
void output_follow_free(struct output_follow *f);

#endif
