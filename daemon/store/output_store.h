/*
 * The output kept with each job: one file per stream in the state
 * directory's output/ folder, written as the task produces it. Past a
 * job's limit the beginning and the end are kept and the middle dropped;
 * offsets are always byte positions in the stream as the task wrote it.
 * Watchers hear of every append, for live followers.
 */
#ifndef COORD_OUTPUT_STORE_H
#define COORD_OUTPUT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum output_stream {
	OUTPUT_STDOUT,
	OUTPUT_STDERR,
};

#define OUTPUT_STREAM_COUNT 2

struct output_store;
struct output_writer;
struct output_watch;

/*
 * What is kept of one stream: the bytes [0, head) and [tail_start,
 * written); written counts everything the task wrote, kept or not.
 * head == tail_start when nothing was dropped.
 */
struct output_extent {
	uint64_t written;
	uint64_t head;
	uint64_t tail_start;
};

/* "stdout" or "stderr". */
const char *output_stream_name(enum output_stream s);
/* 0 and the stream in *ret, or -EINVAL. */
int output_stream_from_name(const char *name, enum output_stream *ret);

/*
 * Opens (creating it, mode 0700) the directory dir, which must not go away
 * while the store is open. 0, or a negative errno and a reason in *error
 * (caller frees).
 */
int output_store_open(const char *dir, struct output_store **ret, char **error);
/* Closes the writers still open (their files stay) and frees. Accepts NULL. */
void output_store_free(struct output_store *store);

/*
 * Starts keeping the output of request_id, at most limit bytes of each
 * stream: the first limit/2 and the last limit - limit/2. A stream's file
 * is made at its first byte (a task that writes nothing costs no file).
 * The writer is the caller's, to free with output_writer_free once the
 * task is over.
 */
int output_store_writer(struct output_store *store, const char *request_id, size_t limit,
			struct output_writer **ret);

/*
 * Appends what the task wrote next to stream s, and tells the watchers of
 * the job. A failed write is logged once; the bytes still count as written.
 */
void output_writer_append(struct output_writer *w, enum output_stream s, const char *data,
			  size_t len);

/* How much the task wrote to stream s so far, kept or not (what the extent's written says). */
uint64_t output_writer_written(const struct output_writer *w, enum output_stream s);

/* Closes the writer's files. Accepts NULL. */
void output_writer_free(struct output_writer *w);

/* What is kept of stream s of request_id now (all zero when the job has no output). */
int output_store_extent(struct output_store *store, const char *request_id, enum output_stream s,
			struct output_extent *ret);

/*
 * Reads up to max bytes kept of stream s of request_id into buf, from the
 * first kept byte at or after offset, never across the dropped middle.
 * *ret_offset is where the bytes start and *ret_len how many there are (0
 * at the end). 0 or a negative errno.
 */
int output_store_read(struct output_store *store, const char *request_id, enum output_stream s,
		      uint64_t offset, char *buf, size_t max, uint64_t *ret_offset,
		      size_t *ret_len);

/*
 * Removes the output of request_id (retention), and marks its watches gone
 * (calling them once). 0, or a negative errno other than -ENOENT.
 */
int output_store_remove(struct output_store *store, const char *request_id);

/* Called after every append to the job watched (userdata is the watcher's). */
typedef void (*output_watch_cb)(void *userdata);

/*
 * Calls cb after every append to request_id's output until the watch is
 * freed (also from inside cb), and once when that output is removed.
 * request_id is copied. NULL on ENOMEM.
 */
struct output_watch *output_store_watch(struct output_store *store, const char *request_id,
					output_watch_cb cb, void *userdata);
/*
 * Whether the output watched was removed: what it watched is gone for
 * good, and the request_id may name another job's output from then on.
 */
bool output_watch_gone(const struct output_watch *watch);
/* Accepts NULL. */
void output_watch_free(struct output_watch *watch);

#endif
