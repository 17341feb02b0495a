/* coordctl's view of a job's output: printing chunks with drop markers, and following live. */
#ifndef COORDCTL_OUTPUT_H
#define COORDCTL_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "coordctl.h"

struct coordctl_output_stream {
	int wanted;
	FILE *out;	   /* where its bytes go: our stdout or stderr */
	uint64_t next;	   /* the next byte expected */
	int seen;	   /* a chunk was printed */
	int at_line_start; /* the last byte printed was a newline (or none was) */
	json_object *sub;  /* its follow's subscription id, or NULL */
	int ended;	   /* output_ended came */
};

struct coordctl_output {
	const char *request_id;		    /* borrowed */
	struct coordctl_output_stream s[2]; /* stdout, stderr */
	json_object *job;		    /* from output_ended, owned */
	int quiet;			    /* a follow refused is not reported */
};

void coordctl_output_init(struct coordctl_output *o, const char *request_id, int want_stdout,
			  int want_stderr);
void coordctl_output_clear(struct coordctl_output *o);

/*
 * Prints chunk ({"stream", "offset", "next_offset", "data"}) to its
 * stream, after a marker line saying how many bytes were dropped when its
 * offset jumps past the last one's next_offset.
 */
void coordctl_output_chunk(struct coordctl_output *o, json_object *chunk);

/* Starts following each wanted stream from its next byte. 0 or an exit code. */
int coordctl_output_follow(struct coordctl *ctl, struct coordctl_output *o);
/* Handles one notification (others' are ignored). 0 or an exit code. */
int coordctl_output_note(struct coordctl *ctl, struct coordctl_output *o, json_object *note);
/* Whether every wanted stream has ended. */
int coordctl_output_done(const struct coordctl_output *o);

/*
 * Prints what the follows bring until every stream has ended and, with
 * with_call, the one call in flight on the connection is answered: its
 * result in *ret_result, or NULL and the error in *ret_err (then it
 * returns at once). 0 or an exit code.
 */
int coordctl_output_wait(struct coordctl *ctl, struct coordctl_output *o, int with_call,
			 json_object **ret_result, struct coord_error *ret_err);

#endif
