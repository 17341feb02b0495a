/*
 * Output follows. A follow belongs to its subscription (which the
 * connection frees when it closes) and holds a watch on the output store;
 * it keeps, per stream, the offset of the next byte to send, and reads
 * what to send from the store, so a pause never copies output in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "services.h"
#include "jsonutil.h"
#include "log.h"
#include "message.h"
#include "methods.h"
#include "metrics.h"
#include "output_follow.h"
#include "state.h"
#include "subscription.h"

/* The most output one notification carries. */
#define OUTPUT_FOLLOW_CHUNK 65536

struct output_follow {
	struct services *services;
	struct subscription *sub; /* the owner */
	char *request_id;
	unsigned streams;
	uint64_t next[OUTPUT_STREAM_COUNT];
	struct output_watch *watch;
	bool live;   /* caught up once: appends are sent as they come */
	bool closed; /* the job has closed: once all is sent, output_ended */
	bool ending; /* inside a call that may end it: do not recurse */
};

static bool output_follow_at_gap(const struct output_extent *e, uint64_t end)
{
	return end == e->head && e->head < e->tail_start;
}

int output_follow_read(struct output_store *store, const char *request_id, enum output_stream s,
		       uint64_t offset, bool final, char *buf, size_t max, uint64_t *ret_offset,
		       size_t *ret_len)
{
	struct output_extent e;
	uint64_t end;
	int r = output_store_read(store, request_id, s, offset, buf, max, ret_offset, ret_len);

	if (r < 0 || *ret_len == 0)
		return r;
	r = output_store_extent(store, request_id, s, &e);
	if (r < 0)
		return r;
	end = *ret_offset + *ret_len;
	/* What the drop cut, or what ends the stream for good, cannot be completed. */
	if (output_follow_at_gap(&e, end) || (final && end == e.written))
		return 0;
	*ret_len = utf8_whole_len(buf, *ret_len);
	return 0;
}

/* New params of a notification of f: {"subscription", "request_id"}. */
static json_object *output_follow_params(const struct output_follow *f)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "subscription", json_object_new_int64((int64_t)f->sub->id));
	json_object_object_add(p, "request_id", json_object_new_string(f->request_id));
	return p;
}

/* Sends the notification method with params (taken) to f's client. */
static void output_follow_notify(struct output_follow *f, const char *method, json_object *params)
{
	json_object *n = json_object_new_object();
	const char *text;
	size_t len;

	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string(method));
	json_object_object_add(n, "params", params);
	text = json_to_wire(n, &len);
	if (text)
		connection_send(f->sub->conn, text, len);
	json_object_put(n);
}

static void output_follow_send_chunk(struct output_follow *f, enum output_stream s, uint64_t offset,
				     const char *data, size_t len)
{
	json_object *p = output_follow_params(f);

	json_object_object_add(p, "stream", json_object_new_string(output_stream_name(s)));
	json_object_object_add(p, "offset", json_object_new_int64((int64_t)offset));
	json_object_object_add(p, "next_offset", json_object_new_int64((int64_t)(offset + len)));
	json_object_object_add(p, "data", json_string_from_bytes(data, len));
	output_follow_notify(f, "output", p);
}

/* The first byte not sent yet: the least of the streams followed. */
static uint64_t output_follow_resume_offset(const struct output_follow *f)
{
	uint64_t min = UINT64_MAX;

	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++)
		if ((f->streams & (1u << s)) && f->next[s] < min)
			min = f->next[s];
	return min;
}

/* Ends the follow with subscription_ended: reason, and where to resume (each stream too). */
static void output_follow_ended(struct output_follow *f, const char *reason)
{
	json_object *p = output_follow_params(f), *each = json_object_new_object();

	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++)
		if (f->streams & (1u << s))
			json_object_object_add(each, output_stream_name((enum output_stream)s),
					       json_object_new_int64((int64_t)f->next[s]));
	json_object_object_add(p, "reason", json_object_new_string(reason));
	json_object_object_add(p, "resume_offset",
			       json_object_new_int64((int64_t)output_follow_resume_offset(f)));
	json_object_object_add(p, "resume_offsets", each);
	output_follow_notify(f, "subscription_ended", p);
	subscription_free(f->sub);
}

/* The client is past its buffer limit: end as lagged, saying where to resume. */
static void output_follow_lagged(struct output_follow *f)
{
	log_notice("output follow %llu of %s by uid %u lagged: %zu bytes unsent", f->sub->id,
		   f->request_id, (unsigned)connection_peer_uid(f->sub->conn),
		   connection_pending_output(f->sub->conn));
	/* A subscription like any other: subscribers_lagged counts it. */
	metrics_subscriber_lagged();
	output_follow_ended(f, "lagged");
}

/*
 * Everything there is to read was sent and the job has closed:
 * output_ended with the job, and the end. When retention removed the job
 * meanwhile, its output went with it, maybe before all of it was sent: the
 * follow ends as "pruned" instead, saying where what it did not get starts.
 */
static void output_follow_end(struct output_follow *f)
{
	json_object *p;
	struct job *job = NULL;
	int r = state_get_job(f->services->state, f->request_id, &job);

	if (r == -ENOENT) {
		output_follow_ended(f, "pruned");
		return;
	}
	p = output_follow_params(f);
	if (r == 0) {
		json_object_object_add(
			p, "job",
			methods_job_object(f->services, job, connection_peer_uid(f->sub->conn)));
		job_unref(job);
	} else {
		json_object_object_add(p, "job", NULL); /* the history cannot be read */
	}
	output_follow_notify(f, "output_ended", p);
	subscription_free(f->sub);
}

/*
 * Sends stream s from f->next[s] on. While catching up it stops once the
 * client has half its buffer limit unread (false: paused); live, it sends
 * all there is. true once everything there is was sent.
 */
static bool output_follow_send_stream(struct output_follow *f, enum output_stream s)
{
	size_t budget = connection_limits(f->sub->conn)->subscriber_max / 2;
	char buf[OUTPUT_FOLLOW_CHUNK];

	for (;;) {
		uint64_t at;
		size_t len;
		int r;

		if (!f->live && connection_pending_output(f->sub->conn) > budget)
			return false;
		r = output_follow_read(f->services->output, f->request_id, s, f->next[s], f->closed,
				       buf, sizeof(buf), &at, &len);
		if (r < 0) {
			log_warning("cannot read the %s of %s: %s", output_stream_name(s),
				    f->request_id, strerror(-r));
			return true;
		}
		if (len == 0)
			return true;
		output_follow_send_chunk(f, s, at, buf, len);
		f->next[s] = at + len;
	}
}

/* Sends what there is to send; may end (and free) the follow. */
static void output_follow_pump(struct output_follow *f)
{
	bool done = true;

	if (f->ending || !connection_is_open(f->sub->conn))
		return;
	if (f->live && connection_pending_output(f->sub->conn) >=
			       connection_limits(f->sub->conn)->subscriber_max) {
		output_follow_lagged(f);
		return;
	}
	for (int s = 0; s < OUTPUT_STREAM_COUNT && done; s++)
		if (f->streams & (1u << s))
			done = output_follow_send_stream(f, (enum output_stream)s);
	if (!done)
		return; /* catching up: the connection's drain resumes it */
	f->live = true;
	if (f->closed)
		output_follow_end(f);
}

/* Whether the tail moved past a byte the follow has yet to send. */
static bool output_follow_overtaken(struct output_follow *f)
{
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		struct output_extent e;

		if (!(f->streams & (1u << s)) ||
		    output_store_extent(f->services->output, f->request_id, (enum output_stream)s,
					&e) < 0)
			continue;
		if (f->next[s] >= e.head && f->next[s] < e.tail_start)
			return true;
	}
	return false;
}

static void output_follow_appended_cb(void *userdata)
{
	struct output_follow *f = userdata;

	/* Retention removed the job: what is not sent is gone, and the id may be taken again. */
	if (output_watch_gone(f->watch)) {
		if (!f->ending)
			output_follow_ended(f, "pruned");
		return;
	}
	if (f->live) {
		output_follow_pump(f);
		return;
	}
	/*
	 * Catching up, the drain reads the new bytes too; but a client that
	 * reads nothing while the output it has yet to get is dropped lagged.
	 */
	if (connection_pending_output(f->sub->conn) >
		    connection_limits(f->sub->conn)->subscriber_max / 2 &&
	    output_follow_overtaken(f))
		output_follow_lagged(f);
}

static void output_follow_message(void *ctx, const struct message *msg)
{
	struct output_follow *f = ctx;

	if (!message_closes_job(msg))
		return;
	f->closed = true;
	/* Live: the rest (a character the end cut) goes now. Else the drain finishes. */
	if (f->live)
		output_follow_pump(f);
}

static void output_follow_drain(void *ctx)
{
	struct output_follow *f = ctx;

	if (!f->live)
		output_follow_pump(f);
}

static void output_follow_free(void *ctx)
{
	struct output_follow *f = ctx;

	if (!f)
		return;
	f->ending = true;
	output_watch_free(f->watch);
	free(f->request_id);
	free(f);
}

/* What the subscription tells a follow (it owns the follow). */
static const struct subscription_hooks output_follow_hooks = {
	.message = output_follow_message,
	.drain = output_follow_drain,
	.free = output_follow_free,
};

int output_follow_new(struct services *d, struct connection *conn, const char *request_id,
		      unsigned streams, const uint64_t offsets[OUTPUT_STREAM_COUNT], bool closed,
		      struct subscription **ret)
{
	struct output_follow *f = calloc(1, sizeof(*f));
	int r;

	if (!f || !(f->request_id = strdup(request_id))) {
		free(f);
		return -ENOMEM;
	}
	f->services = d;
	f->streams = streams;
	f->closed = closed;
	memcpy(f->next, offsets, sizeof(f->next));
	f->watch = output_store_watch(d->output, request_id, output_follow_appended_cb, f);
	if (!f->watch) {
		output_follow_free(f);
		return -ENOMEM;
	}
	r = subscription_new_hooked(d, conn, request_id, &output_follow_hooks, f, &f->sub);
	if (r < 0) {
		output_follow_free(f);
		return r;
	}
	*ret = f->sub;
	return 0;
}

void output_follow_start(struct output_follow *f)
{
	output_follow_pump(f);
}
