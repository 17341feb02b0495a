/*
 * coordctl web's live streams: each browser's /events request is a
 * Server-Sent Events stream fed by its own subscription on the daemon.
 * Every event carries the message's seq as its id, so a browser that
 * reconnects (Last-Event-ID) resumes with since_seq: no gap, no duplicate.
 * When the daemon goes away the stream stays open and resubscribes, from
 * the last seq it sent, as soon as the daemon is back. A stream owns its
 * connection to the daemon and its events; it is freed when the browser
 * leaves or coordctl web stops.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "coordctl-web.h"

/* How often a stream looks for a daemon that went away. */
#define WEB_SSE_RETRY_MS 300
/* A comment line this often keeps proxies and browsers from timing out. */
#define WEB_SSE_KEEPALIVE_S 15

struct coordctl_web_stream {
	struct coordctl_web *web;
	struct evhttp_request *req;
	struct coord_conn *conn; /* the subscription; NULL while the daemon is away */
	struct event *read_ev;
	struct event *retry_ev;
	struct event *keepalive_ev;
	unsigned long long last_seq; /* of the last message sent, or where the stream began */
	bool positioned;	     /* last_seq is known: subscribe with since_seq */
	int up;			     /* what the page was last told of the daemon */
	TAILQ_ENTRY(coordctl_web_stream) entry;
};

static void web_sse_send(struct coordctl_web_stream *s, const char *text, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (!buf)
		return;
	evbuffer_add(buf, text, len);
	evhttp_send_reply_chunk(s->req, buf);
	evbuffer_free(buf);
}

/* Tells the page whether the daemon is reachable, when that changed. */
static void web_sse_daemon(struct coordctl_web_stream *s, int up)
{
	char text[64];
	int n;

	if (s->up == up)
		return;
	s->up = up;
	n = snprintf(text, sizeof(text), "event: daemon\ndata: {\"up\":%s}\n\n",
		     up ? "true" : "false");
	web_sse_send(s, text, (size_t)n);
}

static void web_sse_message(struct coordctl_web_stream *s, json_object *msg)
{
	json_object *seq;
	const char *json;
	char head[64];
	unsigned long long n;

	if (!json_object_object_get_ex(msg, "seq", &seq))
		return;
	n = (unsigned long long)json_object_get_int64(seq);
	if (n <= s->last_seq)
		return; /* already sent before a resubscription */
	s->last_seq = n;
	json = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	snprintf(head, sizeof(head), "id: %llu\nevent: message\ndata: ", n);
	web_sse_send(s, head, strlen(head));
	web_sse_send(s, json, strlen(json));
	web_sse_send(s, "\n\n", 2);
}

/* Drops the subscription and tries again soon (the daemon went away or cut us off). */
static void web_sse_lost(struct coordctl_web_stream *s, int daemon_gone)
{
	struct timeval retry = {0, daemon_gone ? WEB_SSE_RETRY_MS * 1000 : 0};

	if (s->read_ev)
		event_free(s->read_ev);
	s->read_ev = NULL;
	coord_conn_close(s->conn);
	s->conn = NULL;
	if (daemon_gone)
		web_sse_daemon(s, 0);
	evtimer_add(s->retry_ev, &retry);
}

/* Hands out every notification already read; returns -1 once the subscription is gone. */
static int web_sse_drain(struct coordctl_web_stream *s)
{
	struct coord_error err;
	json_object *n = NULL, *params, *v;
	const char *method;

	while (coord_notify_next(s->conn, 0, &n, &err) == 0) {
		method = json_object_get_string(json_object_object_get(n, "method"));
		params = json_object_object_get(n, "params");
		if (method && strcmp(method, "message") == 0 &&
		    json_object_object_get_ex(params, "message", &v)) {
			web_sse_message(s, v);
		} else if (method && strcmp(method, "subscription_ended") == 0) {
			/* Lagged: resubscribe from the last seq sent, nothing is lost. */
			json_object_put(n);
			return -1;
		}
		json_object_put(n);
		n = NULL;
	}
	return err.kind == COORD_ERR_TIMEOUT ? 0 : -1;
}

static void web_sse_read_cb(evutil_socket_t fd, short what, void *userdata)
{
	struct coordctl_web_stream *s = userdata;
	struct coord_error err;
	int gone;

	(void)fd;
	(void)what;
	gone = coord_conn_dispatch(s->conn, &err) < 0;
	if (web_sse_drain(s) < 0 || gone)
		web_sse_lost(s, gone);
}

/* Subscribes from last_seq (or from now); 0, or -1 when the daemon is not there. */
static int web_sse_subscribe(struct coordctl_web_stream *s)
{
	json_object *params = json_object_new_object(), *result = NULL, *seq;
	struct coord_error err;
	int r;

	if (coord_conn_open(s->web->socket, &s->conn, &err) < 0) {
		json_object_put(params);
		return -1;
	}
	if (s->positioned)
		json_object_object_add(params, "since_seq",
				       json_object_new_int64((int64_t)s->last_seq));
	r = coord_subscribe(s->conn, params, &result, &err);
	json_object_put(params);
	if (r == 0 && !s->positioned && json_object_object_get_ex(result, "seq", &seq)) {
		s->last_seq = (unsigned long long)json_object_get_int64(seq);
		s->positioned = true;
	}
	json_object_put(result);
	if (r == 0) {
		s->read_ev = event_new(s->web->base, coord_conn_fd(s->conn), EV_READ | EV_PERSIST,
				       web_sse_read_cb, s);
		if (s->read_ev && event_add(s->read_ev, NULL) == 0)
			return 0;
	}
	coord_conn_close(s->conn);
	s->conn = NULL;
	return -1;
}

static void web_sse_retry_cb(evutil_socket_t fd, short what, void *userdata)
{
	struct coordctl_web_stream *s = userdata;
	struct timeval retry = {0, WEB_SSE_RETRY_MS * 1000};

	(void)fd;
	(void)what;
	if (web_sse_subscribe(s) < 0) {
		web_sse_daemon(s, 0);
		evtimer_add(s->retry_ev, &retry);
		return;
	}
	web_sse_daemon(s, 1);
	/* Replayed messages may be read already. */
	if (coord_conn_pending(s->conn) && web_sse_drain(s) < 0)
		web_sse_lost(s, 0);
}

static void web_sse_keepalive_cb(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	web_sse_send(userdata, ": keepalive\n\n", 13);
}

static void web_sse_free(struct coordctl_web_stream *s)
{
	TAILQ_REMOVE(&s->web->streams, s, entry);
	if (s->read_ev)
		event_free(s->read_ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->keepalive_ev)
		event_free(s->keepalive_ev);
	coord_conn_close(s->conn);
	free(s);
}

/*
 * The browser left. evhttp has detached the request from its connection
 * when the reply was still going (then it is ours to end, which frees it)
 * or frees it with the connection.
 */
static void web_sse_close_cb(struct evhttp_connection *evcon, void *userdata)
{
	struct coordctl_web_stream *s = userdata;
	struct evhttp_request *req = s->req;

	(void)evcon;
	web_sse_free(s);
	if (!evhttp_request_get_connection(req))
		evhttp_send_reply_end(req);
}

void coordctl_web_sse_start(struct coordctl_web *web, struct evhttp_request *req,
			    const unsigned long long *since)
{
	struct coordctl_web_stream *s = calloc(1, sizeof(*s));
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct timeval keepalive = {WEB_SSE_KEEPALIVE_S, 0};

	if (!s) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	s->web = web;
	s->req = req;
	s->positioned = since != NULL;
	s->last_seq = since ? *since : 0;
	s->up = -1;
	TAILQ_INSERT_TAIL(&web->streams, s, entry);
	s->retry_ev = evtimer_new(web->base, web_sse_retry_cb, s);
	s->keepalive_ev = event_new(web->base, -1, EV_PERSIST, web_sse_keepalive_cb, s);
	if (!s->retry_ev || !s->keepalive_ev) {
		web_sse_free(s);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(out, "Content-Type", "text/event-stream");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), web_sse_close_cb, s);
	web_sse_send(s, "retry: 1000\n\n", 13);
	event_add(s->keepalive_ev, &keepalive);
	web_sse_retry_cb(-1, 0, s);
}

void coordctl_web_sse_close_all(struct coordctl_web *web)
{
	struct coordctl_web_stream *s;

	/*
	 * No last chunk: the loop will not run again to send it, and evhttp_free
	 * frees the connections with their requests (a browser reconnects).
	 */
	while ((s = TAILQ_FIRST(&web->streams))) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(s->req), NULL, NULL);
		web_sse_free(s);
	}
}
