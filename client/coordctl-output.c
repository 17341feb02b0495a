/*
 * coordctl's view of a job's output: chunks printed to our stdout and
 * stderr as the task's streams, a marker line where the daemon dropped
 * bytes, and following live until the job closes. A struct
 * coordctl_output owns the job it was told of at the end.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl-output.h"
#include "jsonutil.h"

static const char *const coordctl_output_names[2] = {"stdout", "stderr"};

void coordctl_output_init(struct coordctl_output *o, const char *request_id, int want_stdout,
			  int want_stderr)
{
	memset(o, 0, sizeof(*o));
	o->request_id = request_id;
	o->s[0].wanted = want_stdout;
	o->s[1].wanted = want_stderr;
	for (int i = 0; i < 2; i++) {
		o->s[i].at_line_start = 1;
		o->s[i].out = i == 0 ? stdout : stderr;
	}
}

void coordctl_output_clear(struct coordctl_output *o)
{
	json_object_put(o->job);
	o->job = NULL;
	for (int i = 0; i < 2; i++)
		json_object_put(o->s[i].sub);
}

static int coordctl_output_stream_of(const char *name)
{
	for (int i = 0; name && i < 2; i++)
		if (strcmp(name, coordctl_output_names[i]) == 0)
			return i;
	return -1;
}

static void coordctl_output_write(struct coordctl_output_stream *s, const char *data, size_t len)
{
	if (len == 0)
		return;
	fwrite(data, 1, len, s->out);
	s->at_line_start = data[len - 1] == '\n';
}

void coordctl_output_chunk(struct coordctl_output *o, json_object *chunk)
{
	int i = coordctl_output_stream_of(json_get_string(chunk, "stream"));
	struct coordctl_output_stream *s;
	double offset = 0, next = 0;
	json_object *data;

	if (i < 0 || !o->s[i].wanted || coordctl_format_number(chunk, "offset", &offset) < 0 ||
	    coordctl_format_number(chunk, "next_offset", &next) < 0 ||
	    !json_object_object_get_ex(chunk, "data", &data))
		return;
	s = &o->s[i];
	if ((uint64_t)offset > s->next && (s->seen || s->next > 0)) {
		char marker[128];
		int n = snprintf(marker, sizeof(marker),
				 "%s[coordctl: %llu bytes of %s dropped here by the daemon]\n",
				 s->at_line_start ? "" : "\n",
				 (unsigned long long)((uint64_t)offset - s->next),
				 coordctl_output_names[i]);

		coordctl_output_write(s, marker, (size_t)n);
	}
	coordctl_output_write(s, json_object_get_string(data),
			      (size_t)json_object_get_string_len(data));
	fflush(s->out);
	s->seen = 1;
	s->next = (uint64_t)next;
}

/* Starts following stream i from its next byte. 0 or an exit code. */
static int coordctl_output_follow_one(struct coordctl *ctl, struct coordctl_output *o, int i)
{
	struct coordctl_output_stream *s = &o->s[i];
	json_object *result = NULL, *sub;
	struct coord_error err;

	if (coord_output_follow(ctl->conn, o->request_id,
				i == 0 ? COORD_STREAM_STDOUT : COORD_STREAM_STDERR,
				(int64_t)s->next, &result, &err) < 0)
		return o->quiet ? coordctl_rpc_exit_code(&err) : coordctl_rpc_fail("output", &err);
	if (!json_object_object_get_ex(result, "subscription", &sub)) {
		json_object_put(result);
		fprintf(stderr, "coordctl: output: the daemon's answer has no subscription\n");
		return COORDCTL_EXIT_PROTOCOL;
	}
	json_object_put(s->sub);
	s->sub = json_object_get(sub);
	json_object_put(result);
	return 0;
}

int coordctl_output_follow(struct coordctl *ctl, struct coordctl_output *o)
{
	for (int i = 0; i < 2; i++) {
		int r = o->s[i].wanted ? coordctl_output_follow_one(ctl, o, i) : 0;

		if (r != 0)
			return r;
	}
	return 0;
}

/* The stream whose follow is sub, or -1. */
static int coordctl_output_by_sub(const struct coordctl_output *o, json_object *sub)
{
	for (int i = 0; i < 2; i++)
		if (o->s[i].sub && sub &&
		    json_object_get_int64(o->s[i].sub) == json_object_get_int64(sub))
			return i;
	return -1;
}

int coordctl_output_note(struct coordctl *ctl, struct coordctl_output *o, json_object *note)
{
	const char *method = json_get_string(note, "method");
	json_object *params = NULL, *sub = NULL, *job;
	int i;

	if (!method || !json_object_object_get_ex(note, "params", &params) ||
	    !json_object_object_get_ex(params, "subscription", &sub) ||
	    (i = coordctl_output_by_sub(o, sub)) < 0)
		return 0;
	if (strcmp(method, "output") == 0) {
		coordctl_output_chunk(o, params);
	} else if (strcmp(method, "output_ended") == 0) {
		o->s[i].ended = 1;
		if (json_object_object_get_ex(params, "job", &job) && !o->job)
			o->job = json_object_get(job);
	} else if (strcmp(method, "subscription_ended") == 0) {
		/* Fell behind: follow again from the first byte not printed. */
		return coordctl_output_follow_one(ctl, o, i);
	}
	return 0;
}

int coordctl_output_done(const struct coordctl_output *o)
{
	for (int i = 0; i < 2; i++)
		if (o->s[i].wanted && !o->s[i].ended)
			return 0;
	return 1;
}

/*
 * Takes the answer to call_id if it is there: 1 once answered (*ret_result
 * the result, or NULL and *ret_err the error), 0 not yet, or -1 when the
 * connection failed (*ret_err says why).
 */
static int coordctl_output_answer(struct coordctl *ctl, json_object **ret_result,
				  struct coord_error *ret_err)
{
	uint64_t id = 0;

	if (coord_call_recv_any(ctl->conn, 0, &id, ret_result, ret_err) == 0)
		return 1;
	if (ret_err->kind == COORD_ERR_TIMEOUT)
		return 0;
	*ret_result = NULL;
	return ret_err->kind == COORD_ERR_RPC ? 1 : -1;
}

int coordctl_output_wait(struct coordctl *ctl, struct coordctl_output *o, int with_call,
			 json_object **ret_result, struct coord_error *ret_err)
{
	int answered = !with_call;
	struct coord_error err;

	while (!answered || !coordctl_output_done(o)) {
		struct pollfd pfd = {.fd = coord_conn_fd(ctl->conn), .events = POLLIN};
		json_object *note = NULL;
		int r;

		if (!coord_conn_pending(ctl->conn)) {
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return COORDCTL_EXIT_SOFTWARE;
			if (coord_conn_dispatch(ctl->conn, &err) < 0)
				return coordctl_rpc_fail("output", &err);
		}
		while (coord_notify_next(ctl->conn, 0, &note, &err) == 0) {
			r = coordctl_output_note(ctl, o, note);
			json_object_put(note);
			if (r != 0)
				return r;
		}
		if (!answered) {
			r = coordctl_output_answer(ctl, ret_result, ret_err);
			if (r < 0)
				return coordctl_rpc_fail("submit", ret_err);
			answered = r;
			if (answered && !*ret_result)
				return 0; /* refused: no output will come */
		}
	}
	return 0;
}
