/* A Task: what a client asks to run, parsed and validated from the submit params. */
#ifndef COORD_TASK_H
#define COORD_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "jsonspec.h"

struct job;

#define TASK_REQUEST_ID_MAX 128

struct job;

/* What a task with after does when one of those jobs fails. */
enum task_after_policy {
	TASK_AFTER_SUCCESS, /* it closes as a failure of kind dependency, without running */
	TASK_AFTER_CLOSED,  /* it runs all the same */
};

struct task {
	char *request_id;     /* never NULL: generated (UUID v7) when absent */
	bool request_id_made; /* the daemon generated request_id (it cannot be in use) */
	char *parent_node_id; /* NULL for a root request */
	char *mode;	      /* never NULL: "async" by default */
	char *node_id;	      /* the job's child_node_id; generated when absent */
	char *name;	      /* never NULL: basename of argv[0] by default */
	char **argv;	      /* NULL-terminated, at least one item */
	char *cwd;	      /* NULL: the daemon's working directory */
	char **env;	      /* "KEY=VALUE" items, NULL-terminated; never NULL */
	char *stdin_data;     /* fed to the task; may hold NUL bytes */
	size_t stdin_len;
	int64_t timeout_ms; /* 0: no time limit */
	bool wait;
	char **after; /* request_ids it waits for, distinct, NULL-terminated; NULL: none */
	json_object *after_json; /* after as submitted (a reference), or NULL */
	size_t after_count;
	enum task_after_policy after_policy;
	/* The Task as submitted, minus wait, as JSON text: what the history stores. */
	char *stored;

	/* Filled in by the coordinator, not by the client. */
	char *run_id;
	char *rerun_of; /* the request_id it was re-run from, or NULL */
	uid_t owner_uid;
	/* With wait: the submitter's process group (a task's, or not), to refuse a wait without
	 * end. */
	pid_t waiter_pgid;
	/* Counted against its mode's max_queue already (a dependency released it, or a restart). */
	bool admitted;
};

/* How much of each resource a client may put into one task (config keys max_task_*). */
struct task_limits {
	size_t max_argv;	/* items of node.argv */
	size_t max_argv_bytes;	/* their lengths, plus one each */
	size_t max_env;		/* variables in node.env */
	size_t max_env_bytes;	/* "NAME=VALUE" lengths, plus one each */
	size_t max_stdin_bytes; /* node.stdin */
	size_t max_cwd_bytes;	/* node.cwd */
	size_t max_after;	/* items of after */
};

#define TASK_LIMITS_DEFAULT                                                                        \
	((const struct task_limits){                                                               \
		.max_argv = 4096,                                                                  \
		.max_argv_bytes = 256 * 1024,                                                      \
		.max_env = 1024,                                                                   \
		.max_env_bytes = 128 * 1024,                                                       \
		.max_stdin_bytes = 1024 * 1024,                                                    \
		.max_cwd_bytes = 4096,                                                             \
		.max_after = 1024,                                                                 \
	})

/*
 * Parses and validates the contract's Task object within limits (NULL:
 * TASK_LIMITS_DEFAULT). A key that task_spec (or task_node_spec, in
 * node) does not name is refused. On success returns 0
 * and a new task in *ret (the caller owns it). On bad input returns
 * -EINVAL and a message naming the field in *error (the caller frees it);
 * -ENOMEM when out of memory.
 */
int task_from_json(json_object *params, const struct task_limits *limits, struct task **ret,
		   char **error);

/*
 * The task stored with a job (the text in task->stored) back: ids, mode,
 * name and owner come from job, the rest from text, within no limits (it
 * was accepted once). 0 and a new task in *ret, -EINVAL, -ENOMEM.
 */
int task_from_stored(const char *text, const struct job *job, struct task **ret);

/* The keys of a Task and of its node, with their types (common/jsonspec.h). */
extern const struct jsonspec task_spec[];
extern const struct jsonspec task_node_spec[];

/* True when s is a valid request_id: 1-128 chars of [A-Za-z0-9._:-]. */
bool task_request_id_valid(const char *s);

/* A new UUID v7 string (time-ordered, see uuid7.h), or NULL on ENOMEM. */
char *task_generate_id(void);

/*
 * What is known of a task from its stored job (recovery): its ids, name,
 * mode and owner; argv is just the name, no env, no stdin, no time limit.
 * NULL on ENOMEM.
 */
struct task *task_new_from_job(const struct job *job);

void task_free(struct task *task);

#endif
