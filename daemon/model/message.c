/*
 * Messages. A message is reference counted: the publisher, the history and
 * every subscriber that keeps one hold their own reference. It owns its
 * strings (its ids in its own allocation), its result object and its
 * cached wire text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "jsonutil.h"
#include "message.h"
#include "task.h"

/* The last MESSAGE_OUTPUT_TAIL bytes of a stream; *truncated is set when that is not all. */
static json_object *message_stream_tail(const char *data, size_t len, bool *truncated)
{
	if (!data)
		return json_string_from_bytes("", 0);
	if (len > MESSAGE_OUTPUT_TAIL) {
		data += len - MESSAGE_OUTPUT_TAIL;
		len = MESSAGE_OUTPUT_TAIL;
		*truncated = true;
	}
	return json_string_from_bytes(data, len);
}

static json_object *message_output_to_json(const struct message_output *out)
{
	json_object *o = json_object_new_object();
	bool out_cut = out->stdout_truncated, err_cut = out->stderr_truncated;

	json_object_object_add(o, "exit_code",
			       out->exit_code >= 0 ? json_object_new_int(out->exit_code) : NULL);
	json_object_object_add(o, "stdout",
			       message_stream_tail(out->stdout_data, out->stdout_len, &out_cut));
	json_object_object_add(o, "stderr",
			       message_stream_tail(out->stderr_data, out->stderr_len, &err_cut));
	json_object_object_add(o, "stdout_truncated", json_object_new_boolean(out_cut));
	json_object_object_add(o, "stderr_truncated", json_object_new_boolean(err_cut));
	return o;
}

/* The bytes of s and its NUL (none for NULL). */
static size_t message_id_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* A copy of s of size bytes at *at, which moves past it; NULL stays NULL. */
static const char *message_id_copy(const char *s, size_t size, char **at)
{
	char *copy = *at;

	if (!s)
		return NULL;
	memcpy(copy, s, size);
	*at += size;
	return copy;
}

/* A message and the copies of its ids in one allocation (one malloc, not six: issue 13). */
static struct message *message_alloc(const struct message_ids *ids)
{
	size_t sizes[] = {message_id_size(ids->request_id), message_id_size(ids->parent_node_id),
			  message_id_size(ids->child_node_id), message_id_size(ids->run_id),
			  message_id_size(ids->mode)};
	size_t total = sizeof(struct message);
	struct message *msg;
	char *at;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	msg = malloc(total);
	if (!msg)
		return NULL;
	*msg = (struct message){0};
	at = (char *)(msg + 1);
	msg->request_id = message_id_copy(ids->request_id, sizes[0], &at);
	msg->parent_node_id = message_id_copy(ids->parent_node_id, sizes[1], &at);
	msg->child_node_id = message_id_copy(ids->child_node_id, sizes[2], &at);
	msg->run_id = message_id_copy(ids->run_id, sizes[3], &at);
	msg->mode = message_id_copy(ids->mode, sizes[4], &at);
	return msg;
}

struct message *message_new(enum message_type type, const struct message_ids *ids,
			    const struct message_output *output)
{
	struct message *msg = message_alloc(ids);

	if (!msg)
		return NULL;
	msg->refcount = 1;
	msg->type = type;
	msg->error_exit_code = -1;
	msg->stdout_written = msg->stderr_written = -1;
	if (output && output->written_known) {
		msg->stdout_written = (int64_t)output->stdout_written;
		msg->stderr_written = (int64_t)output->stderr_written;
	}
	if (output && !(msg->result = message_output_to_json(output)))
		return message_unref(msg);
	return msg;
}

int message_set_error(struct message *msg, enum error_kind kind, const char *error_message,
		      int exit_code, int signal_number)
{
	char *copy = NULL;

	if (error_message && !(copy = strdup(error_message)))
		return -ENOMEM;
	free(msg->error_message);
	msg->error_kind = kind;
	msg->error_message = copy;
	msg->error_exit_code = exit_code;
	msg->error_signal = signal_number;
	/* The text made before (message_wire) no longer says what the message does. */
	free(msg->wire);
	msg->wire = NULL;
	return 0;
}

void message_ids_of_task(const struct task *task, struct message_ids *ids)
{
	*ids = (struct message_ids){
		.request_id = task->request_id,
		.parent_node_id = task->parent_node_id,
		.child_node_id = task->node_id,
		.run_id = task->run_id,
		.mode = task->mode,
	};
}

void message_ids_of_job(const struct job *job, struct message_ids *ids)
{
	*ids = (struct message_ids){
		.request_id = job->request_id,
		.parent_node_id = job->parent_node_id,
		.child_node_id = job->child_node_id,
		.run_id = job->run_id,
		.mode = job->mode,
	};
}

struct message *message_new_error(enum message_type type, const struct message_ids *ids,
				  enum error_kind kind, const char *text)
{
	struct message *msg = message_new(type, ids, NULL);

	if (msg && message_set_error(msg, kind, text, -1, 0) < 0)
		return message_unref(msg);
	return msg;
}

struct message *message_ref(struct message *msg)
{
	msg->refcount++;
	return msg;
}

struct message *message_unref(struct message *msg)
{
	if (!msg || --msg->refcount > 0)
		return NULL;
	json_object_put(msg->result);
	free(msg->error_message);
	free(msg->wire);
	free(msg);
	return NULL;
}

bool message_closes_job(const struct message *msg)
{
	return msg->type == MESSAGE_REQUEST_SUCCESS || msg->type == MESSAGE_REQUEST_FAILURE;
}

static json_object *message_error_to_json(const struct message *msg)
{
	json_object *err;

	if (msg->error_kind == ERROR_NONE)
		return NULL;
	err = json_object_new_object();
	json_object_object_add(err, "kind",
			       json_object_new_string(error_kind_name(msg->error_kind)));
	json_object_object_add(err, "message", json_string_or_null(msg->error_message));
	if (msg->error_exit_code >= 0)
		json_object_object_add(err, "exit_code", json_object_new_int(msg->error_exit_code));
	if (msg->error_signal > 0)
		json_object_object_add(err, "signal", json_object_new_int(msg->error_signal));
	return err;
}

/* The contract's Message object, as json_to_wire would write it. */
static void message_write(const struct message *msg, struct jsonout *out)
{
	json_object *err = message_error_to_json(msg);

	jsonout_lit(out, "{\"seq\":");
	jsonout_int64(out, (int64_t)msg->seq);
	jsonout_lit(out, ",\"type\":");
	jsonout_string(out, message_type_name(msg->type));
	jsonout_lit(out, ",\"time\":");
	jsonout_time(out, msg->time);
	jsonout_lit(out, ",\"request_id\":");
	jsonout_string(out, msg->request_id);
	jsonout_lit(out, ",\"parent_node_id\":");
	jsonout_string(out, msg->parent_node_id);
	jsonout_lit(out, ",\"child_node_id\":");
	jsonout_string(out, msg->child_node_id);
	jsonout_lit(out, ",\"run_id\":");
	jsonout_string(out, msg->run_id);
	jsonout_lit(out, ",\"mode\":");
	jsonout_string(out, msg->mode);
	jsonout_lit(out, ",\"result\":");
	jsonout_value(out, msg->result);
	/* Rare (failures only), and then as small as it is: the tree is fine. */
	jsonout_lit(out, ",\"error\":");
	jsonout_value(out, err);
	json_object_put(err);
	if (message_closes_job(msg)) {
		jsonout_lit(out, ",\"run_start_time\":");
		jsonout_time_or_null(out, msg->run_start_time > 0, msg->run_start_time);
	}
	jsonout_lit(out, "}");
}

const char *message_wire(struct message *msg, size_t *len)
{
	struct jsonout out;

	if (!msg->wire) {
		jsonout_init(&out);
		message_write(msg, &out);
		msg->wire_len = out.len;
		msg->wire = jsonout_take(&out);
		if (!msg->wire)
			return NULL;
	}
	if (len)
		*len = msg->wire_len;
	return msg->wire;
}

const char *message_type_name(enum message_type type)
{
	switch (type) {
	case MESSAGE_REQUEST_CREATION:
		return "request_creation";
	case MESSAGE_REQUEST_SUCCESS:
		return "request_success";
	case MESSAGE_REQUEST_FAILURE:
		return "request_failure";
	case MESSAGE_REQUEST_CREATION_FAILURE:
		return "request_creation_failure";
	}
	return "?";
}

int message_type_from_name(const char *name, enum message_type *ret)
{
	for (int t = MESSAGE_REQUEST_CREATION; t <= MESSAGE_REQUEST_CREATION_FAILURE; t++) {
		if (strcmp(name, message_type_name((enum message_type)t)) == 0) {
			*ret = (enum message_type)t;
			return 0;
		}
	}
	return -EINVAL;
}
