/*
 * coordctl web: a read-only web view of the daemon, served by coordctl
 * itself on a loopback address. The parts share struct coordctl_web, which
 * coordctl-web.c owns: the HTTP server (coordctl-web-http.c), the live
 * streams (coordctl-web-sse.c) and the embedded page (coordctl-web-assets.c).
 */
#ifndef COORDCTL_WEB_H
#define COORDCTL_WEB_H

#include <stddef.h>
#include <sys/queue.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "coord.h"

/* How long one call to the daemon may take before the page hears an error. */
#define COORDCTL_WEB_CALL_MS 10000
/* 32 random bytes, in hex, and the NUL. */
#define COORDCTL_WEB_TOKEN_LEN 64

struct coordctl_web_stream;

struct coordctl_web {
	const char *socket; /* the daemon's socket, or NULL for the default */
	struct event_base *base;
	struct evhttp *http;
	struct coord_conn *conn; /* for calls; opened on first use, again after a restart */
	char token[COORDCTL_WEB_TOKEN_LEN + 1];
	char cookie[32]; /* the cookie's name, with the port: cookies ignore ports */
	TAILQ_HEAD(, coordctl_web_stream) streams;
};

/* One embedded file. */
struct coordctl_web_asset {
	const char *path;
	const char *type;
	const char *data;
	size_t len;
};

/* The embedded file served at path, or NULL. */
const struct coordctl_web_asset *coordctl_web_asset_find(const char *path);

/* Routes every request of web's evhttp. */
void coordctl_web_http_cb(struct evhttp_request *req, void *web);

/*
 * Calls method on the daemon, reconnecting once when the daemon went away
 * (it may have restarted). Same contract as coord_call.
 */
int coordctl_web_call(struct coordctl_web *web, const char *method, json_object *params,
		      json_object **ret_result, struct coord_error *err);

/* Starts a Server-Sent Events stream of messages on req: after seq *since, or (NULL) from now. */
void coordctl_web_sse_start(struct coordctl_web *web, struct evhttp_request *req,
			    const unsigned long long *since);
/* Forgets every stream (coordctl web is stopping; evhttp_free closes them next). */
void coordctl_web_sse_close_all(struct coordctl_web *web);

#endif
