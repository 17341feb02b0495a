/*
 * JSON-RPC 2.0 dispatch. Calls and batches are allocated here and freed
 * here: a call when it is answered, a batch when its last call is. A
 * response is built as json-c objects and serialized at once: handed to
 * the connection (which copies the text), or, in a batch, kept as text
 * (owned by the batch) until the whole batch goes out.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "connection.h"
#include "jsonout.h"
#include "jsonrpc.h"
#include "jsontext.h"
#include "jsonutil.h"
#include "log.h"
#include "peer.h"
#include "privilege.h"
#include "rpc.h"
#include "wire_errors.h"

/* One answer of a batch, as text; NULL for a notification (or one lost to a lack of memory). */
struct rpc_answer {
	char *text;
	size_t len;
};

struct rpc_batch {
	struct connection *conn;    /* a reference */
	struct rpc_answer *answers; /* one per request */
	size_t count;
	size_t bytes;	    /* of the answers so far: the connection counts them */
	size_t outstanding; /* calls not yet answered */
	bool dispatching;   /* still handing out calls: do not send yet */
	const char **parts; /* room to send the answers as one line */
	size_t *lens;
};

/*
 * The line a request came from, for what json-c's objects lose (an id's
 * exact digits). Valid while the line is being handled and the connection
 * is open.
 */
struct rpc_source {
	const char *text;
	size_t len;
	bool batch;
	size_t index; /* the batch element that starts at off */
	size_t off;
};

/* The one value every handler's answer points to. */
struct rpc_result {
	int unused;
};
static struct rpc_result rpc_answered;

static void rpc_batch_free(struct rpc_batch *batch)
{
	for (size_t i = 0; i < batch->count; i++)
		free(batch->answers[i].text);
	free(batch->answers);
	free(batch->parts);
	free(batch->lens);
	connection_unref(batch->conn);
	free(batch);
}

/* Keeps a copy of an answer's text for its slot; the connection counts it as waiting output. */
static void rpc_batch_store(struct rpc_batch *batch, size_t slot, const char *text, size_t len)
{
	struct rpc_answer *answer = &batch->answers[slot];

	if (!connection_is_open(batch->conn))
		return; /* nobody to send it to */
	if (!text || !(answer->text = malloc(len))) {
		log_error("out of memory: an answer in a batch of uid %u is lost",
			  (unsigned)connection_peer_uid(batch->conn));
		return;
	}
	memcpy(answer->text, text, len);
	answer->len = len;
	batch->bytes += len;
	connection_add_batch_bytes(batch->conn, len);
}

static void rpc_batch_maybe_send(struct rpc_batch *batch)
{
	size_t n = 0;

	if (batch->outstanding > 0 || batch->dispatching)
		return;
	/* Notifications left holes: the batch answer holds only real responses. */
	for (size_t i = 0; i < batch->count; i++) {
		if (!batch->answers[i].text)
			continue;
		batch->parts[n] = n ? "," : "[";
		batch->lens[n++] = 1;
		batch->parts[n] = batch->answers[i].text;
		batch->lens[n++] = batch->answers[i].len;
	}
	connection_remove_batch_bytes(batch->conn, batch->bytes);
	if (n > 0) {
		batch->parts[n] = "]";
		batch->lens[n++] = 1;
		connection_send_parts(batch->conn, batch->parts, batch->lens, n);
	}
	rpc_batch_free(batch);
}

static void rpc_call_free(struct rpc_call *call)
{
	connection_detach(call->conn, &call->att);
	connection_unref(call->conn);
	json_object_put(call->id);
	free(call);
}

/* Delivers the answer's text (NULL: lost to a lack of memory) for call, then frees the call. */
static void rpc_call_finish_text(struct rpc_call *call, const char *text, size_t len)
{
	struct rpc_batch *batch = call->batch;

	if (batch && !call->notification)
		rpc_batch_store(batch, call->batch_slot, text, len);
	else if (!call->notification && text)
		connection_send(call->conn, text, len);
	rpc_call_free(call);
	if (batch) {
		batch->outstanding--;
		rpc_batch_maybe_send(batch);
	}
}

/* Delivers response (taken) for call, then frees the call. */
static void rpc_call_finish(struct rpc_call *call, json_object *response)
{
	size_t len = 0;
	const char *text = json_to_wire(response, &len);

	rpc_call_finish_text(call, text, len);
	json_object_put(response);
}

/* What a success answer's text is made of around its result and its id (jsonrpc_result's order). */
#define RPC_RESULT_HEAD "{\"jsonrpc\":\"2.0\",\"result\":"
#define RPC_RESULT_ID	",\"id\":"

/*
 * The answer of a call outside a batch, written around result's text: the
 * same bytes as jsonrpc_result's object would give, without building and
 * freeing that object for every answer. false: out of memory (nothing sent).
 */
static bool rpc_send_result(struct rpc_call *call, json_object *result)
{
	static const char head[] = RPC_RESULT_HEAD, mid[] = RPC_RESULT_ID;
	const char *parts[5] = {head, NULL, mid, NULL, "}"};
	size_t lens[5] = {sizeof(head) - 1, 0, sizeof(mid) - 1, 0, 1};

	if (!(parts[1] = json_to_wire(result, &lens[1])))
		return false;
	if (!call->id) {
		parts[3] = "null";
		lens[3] = 4;
	} else if (!(parts[3] = json_to_wire(call->id, &lens[3]))) {
		return false;
	}
	connection_send_parts(call->conn, parts, lens, 5);
	return true;
}

struct rpc_result *rpc_success(struct rpc_call *call, json_object *result)
{
	if (!result)
		result = json_object_new_object();
	if (call->batch || call->notification || !result || !rpc_send_result(call, result)) {
		rpc_call_finish(call, jsonrpc_result(call->id, result));
		return &rpc_answered;
	}
	json_object_put(result);
	rpc_call_free(call);
	return &rpc_answered;
}

static bool rpc_has_nul(json_object *string)
{
	return memchr(json_object_get_string(string), '\0',
		      (size_t)json_object_get_string_len(string)) != NULL;
}

/* The id as json-c writes it: an integer or a string without json-c's printbuf. */
static void rpc_write_id(struct jsonout *out, json_object *id)
{
	int64_t v;

	switch (json_object_get_type(id)) {
	case json_type_string:
		/* jsonout_string stops at a NUL (\u0000), which json-c writes. */
		if (!rpc_has_nul(id)) {
			jsonout_string(out, json_object_get_string(id));
			return;
		}
		break;
	case json_type_int:
		v = json_object_get_int64(id);
		if (v != INT64_MAX) { /* else perhaps a larger uint64 */
			jsonout_int64(out, v);
			return;
		}
		break;
	case json_type_null:
	case json_type_boolean:
	case json_type_double:
	case json_type_object:
	case json_type_array:
		break;
	}
	jsonout_value(out, id);
}

struct rpc_result *rpc_success_text(struct rpc_call *call, const struct jsonout *result)
{
	struct jsonout out;

	if (result->failed)
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	jsonout_init(&out);
	jsonout_lit(&out, RPC_RESULT_HEAD);
	jsonout_raw(&out, result->buf, result->len);
	jsonout_lit(&out, RPC_RESULT_ID);
	rpc_write_id(&out, call->id);
	jsonout_lit(&out, "}");
	if (out.failed) {
		jsonout_free(&out);
		return rpc_failure(call, WIRE_INTERNAL_ERROR, "out of memory");
	}
	rpc_call_finish_text(call, out.buf, out.len);
	jsonout_free(&out);
	return &rpc_answered;
}

struct rpc_result *rpc_failure_data(struct rpc_call *call, int code, json_object *data,
				    const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_debug("%s failed with %d: %s", call->method ? call->method : "request", code, message);
	rpc_call_finish(call, jsonrpc_error(call->id, code, message, data));
	return &rpc_answered;
}

struct rpc_result *rpc_pending(struct rpc_call *call)
{
	(void)call;
	return &rpc_answered;
}

/*
 * False for an id json-c read from NaN, Infinity or -Infinity, which are
 * not JSON (RFC 8259): echoed as read, the answer would not be JSON
 * either. A number too big for a double (1e400) is JSON and stays.
 */
static bool rpc_id_is_json(json_object *id)
{
	const char *text;

	if (!json_object_is_type(id, json_type_double) || isfinite(json_object_get_double(id)))
		return true;
	text = json_object_to_json_string(id);
	text += text[0] == '-';
	return text[0] >= '0' && text[0] <= '9';
}

static bool rpc_id_valid(json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	case json_type_boolean:
	case json_type_object:
	case json_type_array:
		return false;
	}
	return false;
}

/* The client behind call's connection hung up: run its abandon hook, if any. */
static void rpc_call_detach(struct connection_attachment *att)
{
	struct rpc_call *call = (struct rpc_call *)((char *)att - offsetof(struct rpc_call, att));

	if (call->abandon)
		call->abandon(call); /* may answer (and free) call */
}

static const struct connection_attachment_ops rpc_call_attachment = {
	.kind = CONNECTION_CALL,
	.detach = rpc_call_detach,
};

static struct rpc_call *rpc_call_new(void *ctx, struct connection *conn, struct rpc_batch *batch,
				     size_t slot)
{
	struct rpc_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->ctx = ctx;
	call->conn = connection_ref(conn);
	call->batch = batch;
	call->batch_slot = slot;
	connection_attach(conn, &call->att, &rpc_call_attachment);
	if (batch)
		batch->outstanding++;
	return call;
}

/* Where the request of slot starts in the line (src->len if it cannot be found). */
static size_t rpc_source_element(struct rpc_source *src, size_t slot)
{
	if (!src->batch)
		return jsontext_skip_space(src->text, src->len, 0);
	if (slot < src->index) {
		src->index = 0;
		src->off = jsontext_array_first(src->text, src->len,
						jsontext_skip_space(src->text, src->len, 0));
	}
	while (src->index < slot && src->off < src->len) {
		src->off = jsontext_array_next(src->text, src->len, src->off);
		src->index++;
	}
	return src->index == slot ? src->off : src->len;
}

/* The raw text of the id member of the call's request in the line; false if not found. */
static bool rpc_id_text(struct rpc_call *call, struct rpc_source *src, size_t *ret_start,
			size_t *ret_len)
{
	size_t off = rpc_source_element(src, call->batch_slot);

	return off < src->len && src->text[off] == '{' &&
	       jsontext_member(src->text, src->len, off, "id", ret_start, ret_len) && *ret_len > 0;
}

/* An integer id json-c may have clamped to 64 bits (or read -0 as 0): its exact digits. */
static json_object *rpc_exact_int_id(struct rpc_call *call, json_object *id, struct rpc_source *src)
{
	int64_t v = json_object_get_int64(id);
	size_t start, len;
	char *digits;
	json_object *exact;

	if (v != INT64_MIN && v != INT64_MAX && v != 0)
		return json_object_get(id);
	if (!rpc_id_text(call, src, &start, &len) ||
	    !(src->text[start] == '-' || (src->text[start] >= '0' && src->text[start] <= '9')))
		return json_object_get(id);
	digits = strndup(src->text + start, len);
	exact = digits ? json_object_new_double_s((double)v, digits) : NULL;
	free(digits);
	return exact ? exact : json_object_get(id);
}

/*
 * A string id json-c may have changed: it reads a lone UTF-16 surrogate
 * escape ("\ud800", which JSON allows) as U+FFFD. Such an id is answered
 * with the text it was written as (the line is valid UTF-8 JSON).
 */
static json_object *rpc_exact_string_id(struct rpc_call *call, json_object *id,
					struct rpc_source *src)
{
	size_t start, len;
	char *text;

	if (!memmem(json_object_get_string(id), (size_t)json_object_get_string_len(id),
		    "\xef\xbf\xbd", 3) ||
	    !rpc_id_text(call, src, &start, &len) || src->text[start] != '"')
		return json_object_get(id);
	text = strndup(src->text + start, len);
	return text ? json_raw_new(text) : json_object_get(id);
}

/* The id to answer with (a new reference): as it was sent, where json-c's value differs. */
static json_object *rpc_exact_id(struct rpc_call *call, json_object *id, struct rpc_source *src)
{
	if (!connection_is_open(call->conn))
		return json_object_get(id);
	if (json_object_is_type(id, json_type_int))
		return rpc_exact_int_id(call, id, src);
	if (json_object_is_type(id, json_type_string))
		return rpc_exact_string_id(call, id, src);
	return json_object_get(id);
}

/* Checks the envelope; fills *method and *params. Answers and returns false if it is invalid. */
static bool rpc_check_request(struct rpc_call *call, json_object *req, struct rpc_source *src,
			      const char **method, json_object **params)
{
	json_object *v, *id = NULL;
	bool has_id;

	if (!json_object_is_type(req, json_type_object)) {
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: a request is a JSON object");
		return false;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	if (has_id && !rpc_id_is_json(id)) {
		call->notification = false;
		rpc_failure(call, WIRE_PARSE_ERROR,
			    "Parse error: NaN and Infinity are not JSON numbers");
		return false;
	}
	if (has_id && rpc_id_valid(id))
		call->id = rpc_exact_id(call, id, src);
	call->notification = !has_id;
	if (has_id && !rpc_id_valid(id)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: id must be a string, a number or null");
		return false;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"jsonrpc\" must be \"2.0\"");
		return false;
	}
	if (rpc_has_nul(v)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"jsonrpc\" holds a NUL character (\\u0000)");
		return false;
	}
	if (!json_object_object_get_ex(req, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"method\" must be a string");
		return false;
	}
	if (rpc_has_nul(v)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"method\" holds a NUL character (\\u0000)");
		return false;
	}
	*method = json_object_get_string(v);
	*params = NULL;
	if (json_object_object_get_ex(req, "params", params) &&
	    !json_object_is_type(*params, json_type_object) &&
	    !json_object_is_type(*params, json_type_array)) {
		call->notification = false;
		rpc_failure(call, WIRE_INVALID_REQUEST,
			    "Invalid Request: \"params\" must be an object or an array");
		return false;
	}
	return true;
}

/*
 * Whether the connection may take one more call: its answers waiting, its
 * calls in flight and what they hold stay within the limits. Charges the
 * call's cost, or answers 1005 and returns false. A call alone on its
 * connection is always taken: a single request is bounded by max_line.
 */
static bool rpc_admit(struct rpc_call *call, json_object *req)
{
	struct connection *conn = call->conn;
	const struct connection_limits *limits = connection_limits(conn);
	size_t cost = json_footprint(req), held = connection_attached_cost(conn);
	size_t calls = connection_attached_count(conn, CONNECTION_CALL);

	if (connection_answer_bytes(conn) > limits->max_answer_bytes) {
		rpc_failure(call, WIRE_BUSY,
			    "busy: %zu bytes of answers wait to be read on this connection, more "
			    "than max_answer_bytes (%zu); read them first",
			    connection_answer_bytes(conn), limits->max_answer_bytes);
		return false;
	}
	if (calls > limits->max_pending_calls) {
		rpc_failure(call, WIRE_BUSY,
			    "busy: this connection already has %zu calls waiting for an answer "
			    "(max_pending_calls); read their answers first",
			    limits->max_pending_calls);
		return false;
	}
	if (calls > 1 && held + cost > limits->max_pending_bytes) {
		rpc_failure(call, WIRE_BUSY,
			    "busy: with this request the calls in flight on this connection would "
			    "hold about %zu bytes, more than max_pending_bytes (%zu); read their "
			    "answers first",
			    held + cost, limits->max_pending_bytes);
		return false;
	}
	connection_charge(conn, &call->att, cost);
	return true;
}

static const struct rpc_method *rpc_find(const struct rpc_methods *methods, const char *name)
{
	for (size_t i = 0; i < methods->count; i++)
		if (strcmp(methods->methods[i].name, name) == 0)
			return &methods->methods[i];
	return NULL;
}

/*
 * The policy of m's entry (enum rpc_method_flag), for the peer of call.
 * Answers and returns false when the call goes no further.
 */
static bool rpc_check_policy(const struct rpc_methods *methods, const struct rpc_method *m,
			     struct rpc_call *call, json_object *params)
{
	uid_t uid = connection_peer_uid(call->conn), owner;

	if ((m->flags & RPC_ADMIN) && !privilege_is_admin(uid)) {
		rpc_failure(call, WIRE_PERMISSION_DENIED,
			    "permission denied: only root or uid %u may call %s",
			    (unsigned)geteuid(), m->name);
		return false;
	}
	/* owner_of answers 0 only for a request_id that names a job. */
	if ((m->flags & RPC_OWNER) && uid != 0 && methods->owner_of &&
	    methods->owner_of(methods->ctx, params, &owner) == 0 && owner != uid) {
		rpc_failure(call, WIRE_PERMISSION_DENIED,
			    "permission denied: job \"%.128s\" belongs to uid %u; only its owner "
			    "or root may %s it",
			    json_get_string(params, "request_id"), (unsigned)owner, m->name);
		return false;
	}
	return true;
}

static void rpc_dispatch(const struct rpc_methods *methods, struct rpc_call *call, json_object *req,
			 struct rpc_source *src)
{
	const struct rpc_method *m;
	json_object *params, *empty = NULL;
	const char *method;

	if (!rpc_check_request(call, req, src, &method, &params))
		return;
	m = rpc_find(methods, method);
	if (!m) {
		rpc_failure(call, WIRE_METHOD_NOT_FOUND, "Method not found: \"%.100s\"", method);
		return;
	}
	if ((m->flags & RPC_CAPPED) && !rpc_admit(call, req))
		return;
	call->method = m->name;
	/*
	 * An empty array is no params. Any other array goes to the method,
	 * whose spec refuses it (-32602), so that a refused submit is still
	 * published like every other.
	 */
	if (params && json_object_is_type(params, json_type_array) &&
	    json_object_array_length(params) == 0)
		params = NULL;
	if (!params)
		params = empty = json_object_new_object();
	if (rpc_check_policy(methods, m, call, params))
		m->handler(call, params);
	json_object_put(empty);
}

static void rpc_handle_one(const struct rpc_methods *methods, struct connection *conn,
			   json_object *req, struct rpc_batch *batch, size_t slot,
			   struct rpc_source *src)
{
	struct rpc_call *call = rpc_call_new(methods->ctx, conn, batch, slot);

	if (!call) {
		connection_send_error(conn, WIRE_INTERNAL_ERROR, "out of memory");
		return;
	}
	rpc_dispatch(methods, call, req, src);
}

static struct rpc_batch *rpc_batch_new(struct connection *conn, size_t n)
{
	struct rpc_batch *batch = calloc(1, sizeof(*batch));

	if (!batch)
		return NULL;
	batch->count = n;
	batch->answers = calloc(n, sizeof(*batch->answers));
	batch->parts = calloc(2 * n + 1, sizeof(*batch->parts));
	batch->lens = calloc(2 * n + 1, sizeof(*batch->lens));
	batch->conn = connection_ref(conn);
	if (!batch->answers || !batch->parts || !batch->lens) {
		rpc_batch_free(batch);
		return NULL;
	}
	return batch;
}

static void rpc_handle_batch(const struct rpc_methods *methods, struct connection *conn,
			     json_object *reqs, struct rpc_source *src)
{
	size_t n = json_object_array_length(reqs);
	struct rpc_batch *batch;

	if (n == 0) {
		connection_send_error(conn, WIRE_INVALID_REQUEST,
				      "Invalid Request: an empty batch");
		return;
	}
	batch = rpc_batch_new(conn, n);
	if (!batch) {
		connection_send_error(conn, WIRE_INTERNAL_ERROR, "out of memory");
		return;
	}
	src->batch = true;
	src->index = 0;
	src->off = jsontext_array_first(src->text, src->len,
					jsontext_skip_space(src->text, src->len, 0));
	batch->dispatching = true;
	for (size_t i = 0; i < n; i++)
		rpc_handle_one(methods, conn, json_object_array_get_idx(reqs, i), batch, i, src);
	batch->dispatching = false;
	rpc_batch_maybe_send(batch);
}

/*
 * Parses one line as strict JSON (RFC 8259: no single quotes, trailing
 * commas or comments; UTF-8 only). *ret may be NULL for the JSON text null.
 */
static int rpc_parse(const char *line, size_t len, json_object **ret, char *why, size_t why_size)
{
	/* One tokener for every line (the loop is single-threaded): making one costs a calloc. */
	static struct json_tokener *tok;
	enum json_tokener_error err;
	json_object *obj;
	size_t used;

	/*
	 * Ours, not json-c's JSON_TOKENER_VALIDATE_UTF8, which lets overlong
	 * forms and surrogates through (answers would echo them): one check of
	 * the line, before json-c reads it.
	 */
	if (!utf8_valid(line, len)) {
		snprintf(why, why_size,
			 "Parse error: invalid UTF-8 (an overlong form, a surrogate or a code "
			 "point past U+10FFFF)");
		return -EINVAL;
	}
	if (!tok && !(tok = json_tokener_new_ex(RPC_MAX_DEPTH))) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	json_tokener_reset(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	err = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (err == json_tokener_continue) {
		/* The end of the line ends a bare literal or number ("null", "42"). */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		used = len;
		if (err != json_tokener_success)
			err = json_tokener_continue;
	}
	if (err == json_tokener_continue) {
		snprintf(why, why_size, "Parse error: the JSON text ends early");
		return -EINVAL;
	}
	if (err != json_tokener_success && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		/* Valid UTF-8, but no JSON value starts so: say what it is. */
		snprintf(why, why_size,
			 "Parse error: the line starts with a byte order mark (U+FEFF); send "
			 "the JSON text without it (RFC 8259, section 8.1)");
		return -EINVAL;
	}
	if (err != json_tokener_success) {
		snprintf(why, why_size, "Parse error: %s", json_tokener_error_desc(err));
		return -EINVAL;
	}
	for (size_t i = used; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			json_object_put(obj);
			snprintf(why, why_size, "Parse error: text after the JSON value");
			return -EINVAL;
		}
	}
	*ret = obj;
	return 0;
}

/*
 * What can be told of a line before parsing it, and cheaply: that the peer
 * may not use the daemon, that a batch is too long, that json-c would cut
 * a key at a NUL character. Answers and returns false if the line goes no
 * further.
 */
static bool rpc_screen_line(struct connection *conn, const char *line, size_t len)
{
	size_t max_batch = connection_limits(conn)->max_batch;
	struct jsontext_outline outline;
	char msg[256];

	if (!connection_allowed(conn)) {
		peer_denied_message(connection_peer_uid(conn), msg, sizeof(msg));
		connection_send_error(conn, WIRE_PERMISSION_DENIED, msg);
		return false;
	}
	jsontext_outline(line, len, &outline);
	if (outline.nul_in_key) {
		connection_send_error(
			conn, WIRE_INVALID_REQUEST,
			"Invalid Request: an object key holds a NUL character (\\u0000)");
		return false;
	}
	if (outline.array && outline.elements > max_batch) {
		snprintf(msg, sizeof(msg),
			 "Invalid Request: a batch of %zu requests is more than the limit of %zu "
			 "(max_batch); send fewer at a time",
			 outline.elements, max_batch);
		connection_send_error(conn, WIRE_INVALID_REQUEST, msg);
		return false;
	}
	return true;
}

void rpc_handle_line(const struct rpc_methods *methods, struct connection *conn, const char *line,
		     size_t len)
{
	struct rpc_source src = {.text = line, .len = len};
	json_object *req = NULL;
	char why[128];

	if (!rpc_screen_line(conn, line, len))
		return;
	if (rpc_parse(line, len, &req, why, sizeof(why)) < 0) {
		connection_send_error(conn, WIRE_PARSE_ERROR, why);
		return;
	}
	if (json_object_is_type(req, json_type_array))
		rpc_handle_batch(methods, conn, req, &src);
	else
		rpc_handle_one(methods, conn, req, NULL, 0, &src);
	json_object_put(req);
}
