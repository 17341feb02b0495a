/* Messages the publisher carries: a task's creation, success, failure or refusal. */
#ifndef COORD_MESSAGE_H
#define COORD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "job.h"

struct task;

enum message_type {
	MESSAGE_REQUEST_CREATION,
	MESSAGE_REQUEST_SUCCESS,
	MESSAGE_REQUEST_FAILURE,
	MESSAGE_REQUEST_CREATION_FAILURE,
};
/* How many types there are: keep it the last one plus one. */
#define MESSAGE_TYPE_COUNT (MESSAGE_REQUEST_CREATION_FAILURE + 1)

/* The most of each stream a message carries: its last bytes (contract v2). */
#define MESSAGE_OUTPUT_TAIL (64 * 1024)

/* What ran, for success and failure messages. */
struct message_output {
	int exit_code; /* < 0: none (killed by a signal) */
	const char *stdout_data;
	size_t stdout_len;
	bool stdout_truncated;
	const char *stderr_data;
	size_t stderr_len;
	bool stderr_truncated;
	/*
	 * How much the task wrote to each stream in all, kept or not (the
	 * Job's stdout_bytes and stderr_bytes), when written_known: carried
	 * to the job's close, never on the wire.
	 */
	bool written_known;
	uint64_t stdout_written;
	uint64_t stderr_written;
};

/* The ids a message carries; any may be NULL (a refused task may lack some). */
struct message_ids {
	const char *request_id;
	const char *parent_node_id;
	const char *child_node_id;
	const char *run_id;
	const char *mode;
};

struct message {
	int refcount;
	enum message_type type;
	uint64_t seq; /* 0 until published */
	double time;  /* set when published */

	/* Copies made with the message, in its allocation (never freed apart). */
	const char *request_id; /* may be NULL in a creation failure */
	const char *parent_node_id;
	const char *child_node_id;
	const char *run_id;
	const char *mode;

	json_object *result;   /* NULL where nothing ran; owned */
	double run_start_time; /* success and failure: when the job's process started; 0: never */

	/* The error, for failure and creation failure. */
	enum error_kind error_kind;
	char *error_message;
	int error_exit_code; /* < 0: not applicable */
	int error_signal;    /* 0: not applicable */

	/* In memory only, never on the wire: see struct message_output; -1: unknown. */
	int64_t stdout_written;
	int64_t stderr_written;

	char *wire; /* its JSON text once made, see message_wire */
	size_t wire_len;
};

/*
 * A new message of type about ids. output may be NULL (nothing ran).
 * Returns a message with one reference or NULL.
 */
struct message *message_new(enum message_type type, const struct message_ids *ids,
			    const struct message_output *output);

/* The ids of the task (borrowed: valid while the task is). */
void message_ids_of_task(const struct task *task, struct message_ids *ids);
/* The ids of the job (borrowed: valid while the job is). */
void message_ids_of_job(const struct job *job, struct message_ids *ids);

/*
 * A message of type with nothing run (result null) and the error kind and
 * text: a refusal, or a failure decided without a process. NULL on ENOMEM.
 */
struct message *message_new_error(enum message_type type, const struct message_ids *ids,
				  enum error_kind kind, const char *text);

/* Sets the error of a failure or creation failure. 0 or -ENOMEM. */
int message_set_error(struct message *msg, enum error_kind kind, const char *error_message,
		      int exit_code, int signal_number);

struct message *message_ref(struct message *msg);
struct message *message_unref(struct message *msg);

/* True for success and failure: the messages that close a job. */
bool message_closes_job(const struct message *msg);

/*
 * The contract's Message object as compact JSON text, built once on first
 * use and kept (message_set_error drops it):
 * a message goes to every subscriber without being serialized again.
 * NULL on ENOMEM.
 */
const char *message_wire(struct message *msg, size_t *len);

const char *message_type_name(enum message_type type);
int message_type_from_name(const char *name, enum message_type *ret);

#endif
