/* A Job: the record of one accepted task, from opened to closed (the seed's Job). */
#ifndef COORD_JOB_H
#define COORD_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <json-c/json.h>

struct task;

enum job_status {
	JOB_OPENED,
	JOB_CLOSED,
};

enum job_phase {
	JOB_WAITING, /* on the jobs of its after, before it is queued */
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_FINISHED,
};

enum job_result {
	JOB_RESULT_NONE,
	JOB_SUCCESS,
	JOB_FAILURE,
};

/* Why a job failed or a task was refused: the contract's error kinds. */
enum error_kind {
	ERROR_NONE,
	ERROR_EXIT,
	ERROR_SIGNAL,
	ERROR_TIMEOUT,
	ERROR_CANCELLED,
	ERROR_SPAWN,
	ERROR_LOST,
	ERROR_INVALID,
	ERROR_DEPENDENCY, /* a job of its after failed, so it never ran */
};

struct job {
	int refcount;
	int64_t seq_no; /* submission order, assigned by the history; 0 until stored */

	char *request_id;
	char *parent_node_id; /* NULL for a root request */
	char *child_node_id;
	char *run_id; /* may be request_id itself (a root request): free it only if not */
	char *name;
	char *mode;

	enum job_status status;
	enum job_phase phase;
	enum job_result result;
	double start_time;
	double end_time; /* 0 while opened */

	bool has_exit_code;
	int exit_code;
	enum error_kind error_kind; /* ERROR_NONE: no error */
	char *error_message;

	uid_t owner_uid;
	json_object *after;    /* the request_ids of its after as submitted (an array), or NULL */
	char *task;	       /* the Task as submitted minus wait (JSON text), or NULL */
	double run_start_time; /* when its process started; 0 before */
	char *rerun_of;	       /* the request_id it was re-run from, or NULL */
	/*
	 * How much its task wrote to each stream in all, kept or not, stored
	 * with its close by the strategy's final message; -1: unknown (opened,
	 * never ran, closed as lost, or stored before schema 7).
	 */
	int64_t stdout_bytes;
	int64_t stderr_bytes;

	/* In memory only: its final message is published, not yet delivered. */
	bool finishing;
	bool cooling; /* in the state's list of jobs to keep in the history only (state_cool) */
	TAILQ_ENTRY(job) cool_entry;
	pid_t pid;		/* 0 until running */
	uint64_t pid_starttime; /* /proc/PID/stat starttime, to recognise the process later */
	/* What its strategy needs to find it again after a restart (e.g. a Slurm job id); or NULL.
	 */
	char *strategy_ref;
};

/*
 * The seed's create_new: a new opened job for task, started now: waiting
 * when the task has after, else queued.
 * The task's run_id must be set. Returns a job with one reference, or NULL.
 */
struct job *job_new_from_task(const struct task *task);

/* An empty job to fill in (the history loads jobs this way). NULL on ENOMEM. */
struct job *job_new_empty(void);

struct job *job_ref(struct job *job);
/* Drops one reference; frees at zero. Accepts NULL. Returns NULL. */
struct job *job_unref(struct job *job);

/*
 * The seed's end_job: closes the job with result, now. exit_code < 0 means
 * none; error_message may be NULL. Returns -EALREADY (and changes nothing)
 * when the job is already closed, -EINVAL for JOB_RESULT_NONE.
 */
int job_end(struct job *job, enum job_result result, int exit_code, enum error_kind kind,
	    const char *error_message);

/* A viewer who sees no job's stored Task (see job_write_members). */
#define JOB_VIEWER_NONE ((uid_t)-1)

struct jsonout;

/*
 * The contract's Job object as JSON text, as json_to_wire would write it
 * (no json-c tree): writes '{' and every member, and leaves the object
 * open so that the caller may add members of its own and write the '}'.
 * viewer (a peer's uid) sees the stored Task (`task`) only when it is the
 * job's owner or root, null otherwise (its env and stdin may hold
 * secrets); the Task is written as its text was kept, not parsed again.
 */
void job_write_members(const struct job *job, uid_t viewer, struct jsonout *out);

/*
 * The job's stored Task as an object (new reference), or NULL when none
 * was kept (or it does not parse).
 */
json_object *job_task_json(const struct job *job);

/* Records that the job's process started now (the first start only). */
void job_set_run_start(struct job *job);

/* Whether its process ever started (so it may have written output). */
bool job_ran(const struct job *job);

/* A one-line summary for logs, the seed's __str__; returns buf. */
const char *job_to_string(const struct job *job, char *buf, size_t size);

const char *job_status_name(enum job_status status);
const char *job_phase_name(enum job_phase phase);
/* NULL for JOB_RESULT_NONE. */
const char *job_result_name(enum job_result result);
/* NULL for ERROR_NONE. */
const char *error_kind_name(enum error_kind kind);

/* Parse the names above back; return 0 or -EINVAL. */
int job_status_from_name(const char *name, enum job_status *ret);
int job_phase_from_name(const char *name, enum job_phase *ret);
int job_result_from_name(const char *name, enum job_result *ret);
int error_kind_from_name(const char *name, enum error_kind *ret);

#endif
