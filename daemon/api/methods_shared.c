/*
 * What several method files share: a Job as the methods show it, and the
 * answer for a request_id no job has. Nothing is kept.
 */
#include "job.h"
#include "jsonutil.h"
#include "methods.h"
#include "output_store.h"
#include "services.h"
#include "wire_errors.h"

json_object *methods_job_object(struct services *d, const struct job *job, uid_t viewer)
{
	json_object *o = job_to_json(job, viewer);
	static const char *const keys[OUTPUT_STREAM_COUNT] = {
		[OUTPUT_STDOUT] = "stdout_bytes",
		[OUTPUT_STDERR] = "stderr_bytes",
	};

	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		struct output_extent e = {0};

		/* A job that never ran wrote nothing: no need to look on disk. */
		if (job_ran(job) &&
		    output_store_extent(d->output, job->request_id, (enum output_stream)s, &e) < 0)
			e.written = 0;
		json_object_object_add(o, keys[s], json_object_new_int64((int64_t)e.written));
	}
	return o;
}

struct rpc_result *methods_not_found(struct rpc_call *call, const char *request_id)
{
	return rpc_failure(call, WIRE_NOT_FOUND, "not found: no job has request_id \"%.128s\"",
			   request_id);
}
