/* The table of RPC methods, and the handlers, one file per group of methods. */
#ifndef COORD_METHODS_H
#define COORD_METHODS_H

#include <sys/types.h>
#include <json-c/json.h>

#include "jsonspec.h"
#include "rpc.h"

struct job;
struct services;

/* The method table for rpc_handle_line, its calls made with svc (borrowed). */
void methods_table_init(struct rpc_methods *ret, struct services *svc);

struct rpc_result *methods_ping(struct rpc_call *call, json_object *params);
struct rpc_result *methods_shutdown(struct rpc_call *call, json_object *params);
struct rpc_result *methods_metrics(struct rpc_call *call, json_object *params);

struct rpc_result *methods_modes(struct rpc_call *call, json_object *params);
struct rpc_result *methods_mode_set(struct rpc_call *call, json_object *params);

struct rpc_result *methods_submit(struct rpc_call *call, json_object *params);
struct rpc_result *methods_job(struct rpc_call *call, json_object *params);
struct rpc_result *methods_status(struct rpc_call *call, json_object *params);
struct rpc_result *methods_wait(struct rpc_call *call, json_object *params);
struct rpc_result *methods_cancel(struct rpc_call *call, json_object *params);

struct rpc_result *methods_rerun(struct rpc_call *call, json_object *params);

/*
 * A submit of the Task params (borrowed) on behalf of owner, re-run from
 * rerun_of (NULL: a plain submit): answers the call as submit does.
 */
struct rpc_result *methods_submit_as(struct rpc_call *call, json_object *params, uid_t owner,
				     const char *rerun_of);
/* The uid a call's Job objects are shown to (see job_write_members). */
uid_t methods_viewer(struct rpc_call *call);

struct rpc_result *methods_subscribe(struct rpc_call *call, json_object *params);
struct rpc_result *methods_output(struct rpc_call *call, json_object *params);
struct rpc_result *methods_unsubscribe(struct rpc_call *call, json_object *params);

/* Answers call with 1001: no job has request_id. */
struct rpc_result *methods_not_found(struct rpc_call *call, const char *request_id);

struct jsonout;
/*
 * The contract's Job with how much it wrote (stdout_bytes, stderr_bytes),
 * as viewer (a peer's uid) may see it (see job_write_members), written as
 * JSON text to out, closed.
 */
void methods_job_write(struct services *d, const struct job *job, uid_t viewer,
		       struct jsonout *out);

/*
 * The same Job for an answer built with json-c: an object that writes
 * that text as it is (json_raw_new, no members to read). A new reference;
 * NULL when out of memory.
 */
json_object *methods_job_object(struct services *d, const struct job *job, uid_t viewer);

/*
 * Each method's params (see params.h); ping, modes and shutdown take
 * params_none, submit a Task (task.h).
 */
extern const struct jsonspec methods_job_spec[];
extern const struct jsonspec methods_status_spec[];
extern const struct jsonspec methods_wait_spec[];
extern const struct jsonspec methods_cancel_spec[];
extern const struct jsonspec methods_rerun_spec[];
extern const struct jsonspec methods_subscribe_spec[];
extern const struct jsonspec methods_unsubscribe_spec[];
extern const struct jsonspec methods_mode_set_spec[];
extern const struct jsonspec methods_output_spec[];

#endif
