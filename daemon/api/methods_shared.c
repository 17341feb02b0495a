/*
 * What several method files share: a Job as the methods show it, and the
 * answer for a request_id no job has. Nothing is kept.
 */
#include "job.h"
#include "jsonout.h"
#include "jsonutil.h"
#include "methods.h"
#include "output_store.h"
#include "services.h"
#include "wire_errors.h"

static const char *const methods_bytes_keys[OUTPUT_STREAM_COUNT] = {
	[OUTPUT_STDOUT] = "stdout_bytes",
	[OUTPUT_STDERR] = "stderr_bytes",
};

/* How much the job wrote to stream s. */
static int64_t methods_job_bytes(struct services *d, const struct job *job, enum output_stream s)
{
	int64_t stored = s == OUTPUT_STDOUT ? job->stdout_bytes : job->stderr_bytes;
	struct output_extent e = {0};

	/* Closed with its totals: no file to open (an opened job's writer is live). */
	if (job->status == JOB_CLOSED && stored >= 0)
		return stored;
	/* A job that never ran wrote nothing: no need to look on disk. */
	if (job_ran(job) && output_store_extent(d->output, job->request_id, s, &e) < 0)
		e.written = 0;
	return (int64_t)e.written;
}

void methods_job_write(struct services *d, const struct job *job, uid_t viewer, struct jsonout *out)
{
	job_write_members(job, viewer, out);
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		jsonout_lit(out, ",");
		jsonout_string(out, methods_bytes_keys[s]);
		jsonout_lit(out, ":");
		jsonout_int64(out, methods_job_bytes(d, job, (enum output_stream)s));
	}
	jsonout_lit(out, "}");
}

/* The same text as methods_job_write, in a json-c answer: written out as it is. */
json_object *methods_job_object(struct services *d, const struct job *job, uid_t viewer)
{
	struct jsonout out;

	jsonout_init(&out);
	methods_job_write(d, job, viewer, &out);
	return json_raw_new(jsonout_take(&out));
}

struct rpc_result *methods_not_found(struct rpc_call *call, const char *request_id)
{
	return rpc_failure(call, WIRE_NOT_FOUND, "not found: no job has request_id \"%.128s\"",
			   request_id);
}
