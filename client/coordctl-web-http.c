/*
 * coordctl web's HTTP side: checks the token on every request, serves the
 * embedded page, answers /api/... by calling the daemon, /metrics with the
 * Prometheus text, and hands /events to the live streams. Read only: the
 * daemon sees only status, job, modes, metrics, output and subscribe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "coordctl-web.h"

/* Which status filters the page may pass on, and whether each is a number. */
static const struct {
	const char *name;
	int number;
} web_status_params[] = {
	{"status", 0},	       {"result", 0}, {"mode", 0},
	{"run_id", 0},	       {"name", 0},   {"limit", 1},
	{"parent_node_id", 0}, {"cursor", 0}, {"request_id_prefix", 0},
};

/* Compares without an early exit, so the time taken tells nothing of the token. */
static int web_token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* The value of cookie name in a Cookie header, copied into buf; NULL when absent. */
static const char *web_cookie_value(const char *header, const char *name, char *buf, size_t size)
{
	size_t nlen = strlen(name);

	while (header && *header) {
		while (*header == ' ' || *header == ';')
			header++;
		if (strncmp(header, name, nlen) == 0 && header[nlen] == '=') {
			const char *v = header + nlen + 1;
			size_t len = strcspn(v, ";");

			if (len >= size)
				return NULL;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return buf;
		}
		header = strchr(header, ';');
	}
	return NULL;
}

/*
 * Whether req carries the token: in the query (token=), as a bearer token,
 * or in the cookie the page got. *from_query says it came in the URL.
 */
static int web_authorized(struct coordctl_web *web, struct evhttp_request *req,
			  const struct evkeyvalq *query, int *from_query)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	const char *v = evhttp_find_header(query, "token");
	char buf[COORDCTL_WEB_TOKEN_LEN + 2];

	*from_query = 0;
	if (v && web_token_equal(v, web->token)) {
		*from_query = 1;
		return 1;
	}
	v = evhttp_find_header(headers, "Authorization");
	if (v && strncmp(v, "Bearer ", 7) == 0 && web_token_equal(v + 7, web->token))
		return 1;
	v = web_cookie_value(evhttp_find_header(headers, "Cookie"), web->cookie, buf, sizeof(buf));
	return v && web_token_equal(v, web->token);
}

static void web_send(struct evhttp_request *req, int code, const char *reason, const char *type,
		     const char *body, size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(out, "Content-Type", type);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Referrer-Policy", "no-referrer");
	if (buf)
		evbuffer_add(buf, body, len);
	evhttp_send_reply(req, code, reason, buf);
	if (buf)
		evbuffer_free(buf);
}

static void web_send_text(struct evhttp_request *req, int code, const char *reason,
			  const char *text)
{
	web_send(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static void web_send_json(struct evhttp_request *req, int code, const char *reason, json_object *o)
{
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	web_send(req, code, reason, "application/json", text, len);
}

/*
 * The daemon's refusal or absence, as the page sees it: {"error": {"code",
 * "message"}} (code 0: the daemon is not reachable). The HTTP exchange
 * itself worked, so the status is 200: the page tells these apart itself.
 */
static void web_send_error(struct evhttp_request *req, const struct coord_error *err)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code",
			       json_object_new_int(err->kind == COORD_ERR_RPC ? err->code : 0));
	json_object_object_add(e, "message", json_object_new_string(err->message));
	json_object_object_add(o, "error", e);
	web_send_json(req, 200, "OK", o);
	json_object_put(o);
}

/* {"result": result} (borrowed). */
static void web_send_result(struct evhttp_request *req, json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "result", json_object_get(result));
	web_send_json(req, 200, "OK", o);
	json_object_put(o);
}

int coordctl_web_call(struct coordctl_web *web, const char *method, json_object *params,
		      json_object **ret_result, struct coord_error *err)
{
	int r = -ENOTCONN;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!web->conn && coord_conn_open(web->socket, &web->conn, err) < 0)
			return -ENOTCONN;
		r = coord_call(web->conn, method, params, COORDCTL_WEB_CALL_MS, ret_result, err);
		if (r == 0 || (err->kind != COORD_ERR_CLOSED && err->kind != COORD_ERR_IO))
			return r;
		/* The daemon went away, maybe restarted: a new connection, once. */
		coord_conn_close(web->conn);
		web->conn = NULL;
	}
	return r;
}

/* Calls method with params (taken) and answers req with its result or error. */
static void web_proxy(struct coordctl_web *web, struct evhttp_request *req, const char *method,
		      json_object *params)
{
	struct coord_error err;
	json_object *result = NULL;

	if (coordctl_web_call(web, method, params, &result, &err) < 0)
		web_send_error(req, &err);
	else
		web_send_result(req, result);
	json_object_put(result);
	json_object_put(params);
}

/* Copies the query's key into params, as a string or (number) an integer. */
static void web_param(json_object *params, const struct evkeyvalq *query, const char *key,
		      int number)
{
	const char *v = evhttp_find_header(query, key);

	if (!v || !*v)
		return;
	if (number)
		json_object_object_add(params, key, json_object_new_int64(strtoll(v, NULL, 10)));
	else
		json_object_object_add(params, key, json_object_new_string(v));
}

static void web_api_status(struct coordctl_web *web, struct evhttp_request *req,
			   const struct evkeyvalq *query)
{
	json_object *params = json_object_new_object();

	for (size_t i = 0; i < sizeof(web_status_params) / sizeof(web_status_params[0]); i++)
		web_param(params, query, web_status_params[i].name, web_status_params[i].number);
	web_proxy(web, req, "status", params);
}

static void web_api_job(struct coordctl_web *web, struct evhttp_request *req,
			const struct evkeyvalq *query)
{
	json_object *params = json_object_new_object();

	web_param(params, query, "request_id", 0);
	web_proxy(web, req, "job", params);
}

static void web_api_output(struct coordctl_web *web, struct evhttp_request *req,
			   const struct evkeyvalq *query)
{
	json_object *params = json_object_new_object();

	web_param(params, query, "request_id", 0);
	web_param(params, query, "stream", 0);
	web_param(params, query, "offset", 1);
	web_proxy(web, req, "output", params);
}

static void web_metrics(struct coordctl_web *web, struct evhttp_request *req)
{
	struct coord_error err;
	json_object *result = NULL, *text;

	if (coordctl_web_call(web, "metrics", NULL, &result, &err) < 0)
		web_send_text(req, err.kind == COORD_ERR_RPC ? 502 : 503, "Unavailable",
			      err.message);
	else if (!json_object_object_get_ex(result, "prometheus", &text))
		web_send_text(req, 502, "Bad Gateway", "the daemon sent no Prometheus text\n");
	else
		web_send(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
			 json_object_get_string(text), (size_t)json_object_get_string_len(text));
	json_object_put(result);
}

/* The page, setting the cookie when the token came in the URL. */
static void web_asset(struct coordctl_web *web, struct evhttp_request *req, const char *path,
		      int from_query)
{
	const struct coordctl_web_asset *a = coordctl_web_asset_find(path);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char cookie[160];

	if (!a) {
		web_send_text(req, 404, "Not Found", "not found\n");
		return;
	}
	if (from_query) {
		snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict",
			 web->cookie, web->token);
		evhttp_add_header(out, "Set-Cookie", cookie);
	}
	evhttp_add_header(out, "Content-Security-Policy",
			  "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
			  "frame-ancestors 'none'; form-action 'none'");
	web_send(req, 200, "OK", a->type, a->data, a->len);
}

static void web_events(struct coordctl_web *web, struct evhttp_request *req,
		       const struct evkeyvalq *query)
{
	const char *last =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");

	unsigned long long since;
	char *end;

	if (!last)
		last = evhttp_find_header(query, "since");
	if (!last) {
		coordctl_web_sse_start(web, req, NULL);
		return;
	}
	errno = 0;
	since = strtoull(last, &end, 10);
	if (errno || end == last || *end || *last == '-') {
		web_send_text(req, 400, "Bad Request", "Last-Event-ID or since must be a seq\n");
		return;
	}
	coordctl_web_sse_start(web, req, &since);
}

static void web_route(struct coordctl_web *web, struct evhttp_request *req, const char *path,
		      const struct evkeyvalq *query, int from_query)
{
	if (strcmp(path, "/api/status") == 0)
		web_api_status(web, req, query);
	else if (strcmp(path, "/api/job") == 0)
		web_api_job(web, req, query);
	else if (strcmp(path, "/api/output") == 0)
		web_api_output(web, req, query);
	else if (strcmp(path, "/api/modes") == 0)
		web_proxy(web, req, "modes", NULL);
	else if (strcmp(path, "/api/metrics") == 0)
		web_proxy(web, req, "metrics", NULL);
	else if (strcmp(path, "/metrics") == 0)
		web_metrics(web, req);
	else if (strcmp(path, "/events") == 0)
		web_events(web, req, query);
	else
		web_asset(web, req, path, from_query);
}

void coordctl_web_http_cb(struct evhttp_request *req, void *userdata)
{
	struct coordctl_web *web = userdata;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq query;
	int from_query;

	TAILQ_INIT(&query);
	if (!path || (q && evhttp_parse_query_str(q, &query) < 0)) {
		web_send_text(req, 400, "Bad Request", "bad request\n");
		return;
	}
	if (!web_authorized(web, req, &query, &from_query))
		web_send_text(req, 403, "Forbidden",
			      "403 forbidden: open the URL coordctl web printed (it holds the "
			      "token), or send the token as a bearer token\n");
	else
		web_route(web, req, *path ? path : "/", &query, from_query);
	evhttp_clear_headers(&query);
}
