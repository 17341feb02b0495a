/*
 * mkhistory DIR N: writes a history of N closed jobs (and their messages)
 * into DIR/history.sqlite3 through the daemon's own history code, in large
 * transactions, to measure the daemon against a big history. Jobs come in
 * runs of 10 ("bench-run-K"). Owns everything it allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "job.h"
#include "jsonutil.h"
#include "message.h"

static struct job *mk_job(long i)
{
	struct job *job = job_new_empty();
	char buf[64];

	snprintf(buf, sizeof(buf), "bench-%ld", i);
	job->request_id = strdup(buf);
	snprintf(buf, sizeof(buf), "node-%ld", i);
	job->child_node_id = strdup(buf);
	snprintf(buf, sizeof(buf), "bench-run-%ld", i / 10);
	job->run_id = strdup(buf);
	job->name = strdup("true");
	job->mode = strdup("async");
	job->status = JOB_OPENED;
	job->start_time = time_now();
	return job;
}

static void mk_message(struct history *h, struct job *job, enum message_type type, uint64_t seq)
{
	struct message_ids ids = {.request_id = job->request_id,
				  .child_node_id = job->child_node_id,
				  .run_id = job->run_id,
				  .mode = job->mode};
	struct message_output out = {.exit_code = 0};
	struct message *msg =
		message_new(type, &ids, type == MESSAGE_REQUEST_SUCCESS ? &out : NULL);

	msg->seq = seq;
	msg->time = time_now();
	if (history_insert_message(h, msg) < 0) {
		fprintf(stderr, "mkhistory: %s\n", history_last_error(h));
		exit(1);
	}
	message_unref(msg);
}

int main(int argc, char **argv)
{
	struct history *h;
	char path[4096], *error = NULL;
	long n = argc > 2 ? atol(argv[2]) : 0;
	uint64_t seq = 1;

	if (argc != 3 || n <= 0) {
		fprintf(stderr, "usage: mkhistory DIR N\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/history.sqlite3", argv[1]);
	if (history_open(path, NULL, HISTORY_DURABILITY_NORMAL, &h, &error) < 0) {
		fprintf(stderr, "mkhistory: %s\n", error);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct job *job = mk_job(i);

		if (i % 20000 == 0)
			history_begin(h);
		/* The row is its request_creation, as the daemon writes it. */
		job->seq_no = (int64_t)seq;
		if (history_insert_job(h, job) < 0) {
			fprintf(stderr, "mkhistory: %s\n", history_last_error(h));
			return 1;
		}
		mk_message(h, job, MESSAGE_REQUEST_CREATION, seq++);
		job_end(job, JOB_SUCCESS, 0, ERROR_NONE, NULL);
		history_update_job(h, job);
		mk_message(h, job, MESSAGE_REQUEST_SUCCESS, seq++);
		job_unref(job);
		if (i % 20000 == 19999)
			history_commit(h);
	}
	history_commit(h);
	history_close(h);
	return 0;
}
