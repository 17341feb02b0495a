/*
 * The method output: what is kept of a job's stdout and stderr, by byte
 * offset, at once or followed live (see output_follow.c). Owner and root
 * only: output may hold anything the task printed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "daemon.h"
#include "jsonutil.h"
#include "methods.h"
#include "output_follow.h"
#include "output_store.h"
#include "params.h"
#include "state.h"
#include "subscription.h"
#include "wire_errors.h"

/* What the call asks for, parsed. */
struct methods_output_params {
	const char *request_id;
	const char *stream; /* NULL: both */
	int64_t offset;	    /* < 0: that many bytes from the end */
	bool follow;
};

static const char *const methods_output_streams[] = {"stdout", "stderr", NULL};

const struct jsonspec methods_output_spec[] = {
	JSONSPEC_STRING(struct methods_output_params, request_id, JSONSPEC_REQUIRED),
	JSONSPEC_CHOICE(struct methods_output_params, stream, 0, methods_output_streams),
	JSONSPEC_INT(struct methods_output_params, offset, 0, -INT64_MAX, INT64_MAX, 0),
	JSONSPEC_BOOL(struct methods_output_params, follow, 0, false),
	{0},
};

/* The call, with the streams as bits (1 << enum output_stream). */
struct methods_output_args {
	const char *request_id;
	unsigned streams;
	int64_t offset;
	bool follow;
};

json_object *methods_job_object(struct daemon *d, const struct job *job, uid_t viewer)
{
	json_object *o = job_to_json(job, viewer);
	static const char *const keys[OUTPUT_STREAM_COUNT] = {
		[OUTPUT_STDOUT] = "stdout_bytes",
		[OUTPUT_STDERR] = "stderr_bytes",
	};

	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		struct output_extent e;

		if (output_store_extent(d->output, job->request_id, (enum output_stream)s, &e) < 0)
			e.written = 0;
		json_object_object_add(o, keys[s], json_object_new_int64((int64_t)e.written));
	}
	return o;
}

static struct rpc_result *methods_output_parse(struct rpc_call *call, json_object *params,
					       struct methods_output_args *a)
{
	struct methods_output_params p;
	struct rpc_result *err = params_parse(call, params, methods_output_spec, &p);
	enum output_stream s;

	if (err)
		return err;
	a->request_id = p.request_id;
	a->offset = p.offset;
	a->follow = p.follow;
	a->streams = (1u << OUTPUT_STDOUT) | (1u << OUTPUT_STDERR);
	if (p.stream && output_stream_from_name(p.stream, &s) == 0)
		a->streams = 1u << s;
	return NULL;
}

/* Where each stream starts: offset, or that many bytes before its end. */
static void methods_output_offsets(struct daemon *d, const struct methods_output_args *a,
				   uint64_t offsets[OUTPUT_STREAM_COUNT])
{
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		struct output_extent e;
		uint64_t back;

		if (a->offset >= 0) {
			offsets[s] = (uint64_t)a->offset;
			continue;
		}
		back = (uint64_t)-a->offset;
		if (output_store_extent(d->output, a->request_id, (enum output_stream)s, &e) < 0)
			e.written = 0;
		offsets[s] = e.written > back ? e.written - back : 0;
	}
}

static json_object *methods_output_chunk(enum output_stream s, uint64_t offset, const char *data,
					 size_t len)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "stream", json_object_new_string(output_stream_name(s)));
	json_object_object_add(c, "offset", json_object_new_int64((int64_t)offset));
	json_object_object_add(c, "next_offset", json_object_new_int64((int64_t)(offset + len)));
	json_object_object_add(c, "data", json_string_from_bytes(data, len));
	return c;
}

/* Adds the chunks of stream s from offset on (one per piece kept) to chunks. */
static int methods_output_stream(struct daemon *d, const char *request_id, enum output_stream s,
				 uint64_t offset, bool final, json_object *chunks)
{
	struct output_extent e;
	size_t size;
	char *buf;
	int r = output_store_extent(d->output, request_id, s, &e);

	if (r < 0 || offset >= e.written)
		return r;
	/* What is kept from offset on: some of the head, then the tail. */
	size = (size_t)(e.written - (offset > e.tail_start ? offset : e.tail_start)) + 4;
	if (offset < e.head)
		size += (size_t)(e.head - offset);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		uint64_t at;
		size_t len;

		r = output_follow_read(d->output, request_id, s, offset, final, buf, size, &at,
				       &len);
		if (r < 0 || len == 0)
			break;
		json_object_array_add(chunks, methods_output_chunk(s, at, buf, len));
		offset = at + len;
	}
	free(buf);
	return r;
}

static struct rpc_result *methods_output_now(struct rpc_call *call,
					     const struct methods_output_args *a,
					     const uint64_t offsets[OUTPUT_STREAM_COUNT],
					     bool closed)
{
	json_object *o, *chunks = json_object_new_array();
	int r = 0;

	for (int s = 0; s < OUTPUT_STREAM_COUNT && r == 0; s++)
		if (a->streams & (1u << s))
			r = methods_output_stream(call->daemon, a->request_id,
						  (enum output_stream)s, offsets[s], closed,
						  chunks);
	if (r < 0) {
		json_object_put(chunks);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot read the output of %s: %s",
				   a->request_id, strerror(-r));
	}
	o = json_object_new_object();
	json_object_object_add(o, "chunks", chunks);
	json_object_object_add(o, "eof", json_object_new_boolean(closed));
	return rpc_success(call, o);
}

static struct rpc_result *methods_output_follow(struct rpc_call *call,
						const struct methods_output_args *a,
						const uint64_t offsets[OUTPUT_STREAM_COUNT],
						bool closed)
{
	struct subscription *sub;
	struct rpc_result *answered;
	json_object *o;
	int r;

	if (connection_subscription_count(call->conn) >= CONNECTION_MAX_SUBSCRIPTIONS)
		return rpc_failure(call, WIRE_BUSY,
				   "busy: this connection already has %d subscriptions; use "
				   "another connection",
				   CONNECTION_MAX_SUBSCRIPTIONS);
	r = output_follow_new(call->daemon, call->conn, a->request_id, a->streams, offsets, closed,
			      &sub);
	if (r < 0)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "cannot follow: %s", strerror(-r));
	o = json_object_new_object();
	json_object_object_add(o, "subscription", json_object_new_int64((int64_t)sub->id));
	answered = rpc_success(call, o);
	/* The answer is queued: the output may follow it. */
	output_follow_start(sub->follow);
	return answered;
}

struct rpc_result *methods_output(struct rpc_call *call, json_object *params)
{
	struct methods_output_args a;
	uint64_t offsets[OUTPUT_STREAM_COUNT];
	uid_t uid = connection_peer_uid(call->conn);
	struct rpc_result *err;
	struct job *job;
	uid_t owner;
	bool closed;

	if ((err = methods_output_parse(call, params, &a)))
		return err;
	if (state_get_job(call->daemon->state, a.request_id, &job) < 0)
		return methods_not_found(call, a.request_id);
	closed = job->status == JOB_CLOSED;
	owner = job->owner_uid;
	job_unref(job);
	if (uid != 0 && uid != owner)
		return rpc_failure(call, WIRE_PERMISSION_DENIED,
				   "permission denied: only uid %u (who submitted %.128s) or root "
				   "may read its output",
				   (unsigned)owner, a.request_id);
	methods_output_offsets(call->daemon, &a, offsets);
	if (a.follow)
		return methods_output_follow(call, &a, offsets, closed);
	return methods_output_now(call, &a, offsets, closed);
}
