/* coordctl submit --batch: pipelines one Task per input line over one connection; owns its window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

/* Requests in flight at once: enough to keep the daemon busy, small enough to bound memory. */
#define BATCH_WINDOW 256

/* One submitted line, printed (in input order) once its answer is in. */
struct batch_slot {
	uint64_t id;
	size_t line;
	int done;
	json_object *job; /* owned; NULL when refused */
};

struct batch {
	struct coordctl *ctl;
	const char *mode;
	struct batch_slot slots[BATCH_WINDOW];
	size_t head, count; /* ring of in-flight slots */
	size_t refused;
	json_object *jobs; /* owned: with --json, the accepted jobs in input order */
	/* Errors that answered no request (id null): their requests never get an answer. */
	size_t orphans;
};

/* Reports a refused line (code: its JSON-RPC error code, or 0). */
static void batch_refused(struct batch *b, size_t line, int code, const char *what)
{
	json_object *extra = json_object_new_object();

	json_object_object_add(extra, "line", json_object_new_int64((int64_t)line));
	if (code)
		json_object_object_add(extra, "code", json_object_new_int(code));
	if (code)
		coordctl_fail(b->ctl, COORDCTL_EXIT_FAILED, "rpc", extra, "line %zu: %s (%s, %d)",
			      line, what, coord_error_code_name(code), code);
	else
		coordctl_fail(b->ctl, COORDCTL_EXIT_FAILED, "refused", extra, "line %zu: %s", line,
			      what);
	json_object_put(extra);
	b->refused++;
}

static void batch_print(struct batch *b, struct batch_slot *slot)
{
	if (slot->job && b->ctl->json)
		json_object_array_add(b->jobs, json_object_get(slot->job));
	else if (slot->job)
		printf("%s\n", json_get_string(slot->job, "request_id") ?: "");
	json_object_put(slot->job);
	slot->job = NULL;
}

/* Prints and frees the finished slots at the head of the ring. */
static void batch_flush(struct batch *b)
{
	while (b->count > 0 && b->slots[b->head].done) {
		batch_print(b, &b->slots[b->head]);
		b->head = (b->head + 1) % BATCH_WINDOW;
		b->count--;
	}
}

static struct batch_slot *batch_find(struct batch *b, uint64_t id)
{
	for (size_t i = 0; i < b->count; i++) {
		struct batch_slot *slot = &b->slots[(b->head + i) % BATCH_WINDOW];

		if (slot->id == id && !slot->done)
			return slot;
	}
	return NULL;
}

/* Takes one response; returns 0, or an exit code when the connection failed. */
static int batch_receive(struct batch *b)
{
	json_object *result = NULL, *job = NULL;
	struct batch_slot *slot;
	struct coord_error err;
	uint64_t id = 0;
	int r;

	r = coord_call_recv_any(b->ctl->conn, -1, &id, &result, &err);
	if (r < 0 && err.kind != COORD_ERR_RPC)
		return coordctl_rpc_fail(b->ctl, "submit --batch", &err);
	slot = batch_find(b, id);
	if (!slot) {
		json_object_put(result);
		if (r < 0)
			coordctl_fail(b->ctl, COORDCTL_EXIT_FAILED, "rpc", NULL,
				      "the daemon could not read a request: %s", err.message);
		b->orphans++;
		return 0;
	}
	slot->done = 1;
	if (r < 0) {
		batch_refused(b, slot->line, err.code, err.message);
	} else if (json_object_object_get_ex(result, "job", &job)) {
		slot->job = json_object_get(job);
	}
	json_object_put(result);
	batch_flush(b);
	return 0;
}

/*
 * When every request still in flight is one the daemon could not read
 * (answered with id null), no answer will come for the unanswered slots:
 * report them as refused so the batch does not wait forever.
 */
static void batch_settle_orphans(struct batch *b)
{
	if (b->orphans == 0 || coord_conn_in_flight(b->ctl->conn) > b->orphans)
		return;
	for (size_t i = 0; i < b->count; i++) {
		struct batch_slot *slot = &b->slots[(b->head + i) % BATCH_WINDOW];

		if (slot->done)
			continue;
		slot->done = 1;
		batch_refused(b, slot->line, 0, "no answer (the daemon could not read it)");
	}
	batch_flush(b);
}

/* The Task a line stands for (new reference; NULL when it is bad JSON): a JSON object, or else a
 * shell command line run by /bin/sh -c. */
static json_object *batch_line_task(char *text)
{
	const char *argv[] = {"/bin/sh", "-c", text, NULL};
	size_t len = strlen(text);

	if (text[strspn(text, " \t")] == '{')
		return json_tokener_parse(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return coord_task_new(argv);
}

/* Sends the Task on one line; 0 also when the line itself is bad (counted as refused). */
static int batch_send_line(struct batch *b, char *text, size_t line)
{
	json_object *task = batch_line_task(text), *prepared;
	struct batch_slot *slot;
	struct coord_error err;
	uint64_t id;
	int r;

	prepared = coord_task_prepare(task);
	json_object_put(task);
	if (!prepared) {
		batch_refused(b, line, 0, "not a JSON object");
		return 0;
	}
	if (b->mode && !json_object_object_get_ex(prepared, "mode", NULL))
		json_object_object_add(prepared, "mode", json_object_new_string(b->mode));
	r = coord_call_send(b->ctl->conn, "submit", prepared, &id, &err);
	json_object_put(prepared);
	if (r < 0)
		return coordctl_rpc_fail(b->ctl, "submit --batch", &err);
	slot = &b->slots[(b->head + b->count) % BATCH_WINDOW];
	*slot = (struct batch_slot){.id = id, .line = line};
	b->count++;
	return 0;
}

/* Blank lines and comments (# first) are skipped. */
static int batch_blank(const char *s)
{
	s += strspn(s, " \t\r\n");
	return *s == '\0' || *s == '#';
}

static int batch_loop(struct batch *b, FILE *in)
{
	char *text = NULL;
	size_t cap = 0, line = 0;
	int r = 0;

	while (r == 0 && getline(&text, &cap, in) >= 0) {
		line++;
		if (batch_blank(text))
			continue;
		if (b->count == BATCH_WINDOW)
			batch_settle_orphans(b);
		if (b->count == BATCH_WINDOW)
			r = batch_receive(b);
		if (r == 0)
			r = batch_send_line(b, text, line);
	}
	if (r == 0 && ferror(in)) {
		r = coordctl_fail(b->ctl, COORDCTL_EXIT_NOINPUT, "input", NULL, "read error: %s",
				  strerror(errno));
	}
	while (r == 0 && (batch_settle_orphans(b), b->count > 0))
		r = batch_receive(b);
	free(text);
	return r;
}

int coordctl_batch_run(struct coordctl *ctl, const char *path, const char *mode)
{
	struct batch *b;
	FILE *in;
	int r;

	in = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!in) {
		return coordctl_fail(ctl, COORDCTL_EXIT_NOINPUT, "input", NULL,
				     "cannot open %s: %s", path, strerror(errno));
	}
	b = calloc(1, sizeof(*b));
	if (b)
		b->jobs = json_object_new_array();
	r = b && b->jobs ? coordctl_rpc_connect(ctl) : COORDCTL_EXIT_SOFTWARE;
	if (r == 0) {
		b->ctl = ctl;
		b->mode = mode;
		r = batch_loop(b, in);
	}
	if (b) {
		for (size_t i = 0; i < b->count; i++)
			json_object_put(b->slots[(b->head + i) % BATCH_WINDOW].job);
	}
	if (b && b->jobs && ctl->json && (r == 0 || json_object_array_length(b->jobs) > 0)) {
		json_object *wrap = json_object_new_object();

		json_object_object_add(wrap, "jobs", json_object_get(b->jobs));
		coordctl_format_json(ctl, wrap);
		json_object_put(wrap);
	}
	if (b)
		json_object_put(b->jobs);
	if (r == 0 && b && b->refused > 0) {
		r = coordctl_fail(ctl, COORDCTL_EXIT_FAILED, "refused", NULL,
				  "--batch: %zu task(s) refused", b->refused);
	}
	free(b);
	if (in != stdin)
		fclose(in);
	return r;
}
