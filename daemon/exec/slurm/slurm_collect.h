/*
 * Off the event loop: one worker thread that reads what a Slurm job left in
 * its run directory and removes the directory, so that a slow or hostile
 * file (a FIFO, a hung shared filesystem) can never stall the daemon. The
 * worker touches only the request it works on; results come back to the
 * loop through a pipe, as memcached's threads do.
 */
#ifndef COORD_SLURM_COLLECT_H
#define COORD_SLURM_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "slurm_spool.h"

struct event_base;
struct slurm_collector;

/* One run directory to read (maybe) and remove. */
struct slurm_collect {
	/* Set by the loop before submitting; the worker only reads them. */
	char *dir;	   /* SPOOL/NAME */
	uid_t uid;	   /* the job's user, whose files they must be */
	bool read;	   /* read out, err and slurm first; else only remove */
	size_t head, tail; /* what is kept of out and err */

	/* Set by the worker. */
	struct slurm_output out, err, slurm;
	char problem[512]; /* what went wrong, for the log; "" if nothing */

	/* The loop's alone: who waits for it (NULL: nobody, it is only freed). */
	void *owner;
	TAILQ_ENTRY(slurm_collect) link;
};

/* Called on the loop for each finished request; it must free req (slurm_collect_free). */
typedef void (*slurm_collect_done_cb)(struct slurm_collect *req, void *ctx);

/* Starts the worker. NULL when out of memory or threads. */
struct slurm_collector *slurm_collector_new(struct event_base *base, slurm_collect_done_cb done,
					    void *ctx);

/* A request for dir (copied). NULL on ENOMEM. */
struct slurm_collect *slurm_collect_new(const char *dir, uid_t uid);

/* Hands req to the worker (taken); its result comes back through done. */
void slurm_collector_submit(struct slurm_collector *c, struct slurm_collect *req);

/* Removes dir in the background, nobody waiting: best effort. */
void slurm_collector_remove(struct slurm_collector *c, const char *dir, uid_t uid);

void slurm_collect_free(struct slurm_collect *req);

/*
 * Lets the worker finish what it was given (removals are not dropped),
 * joins it and frees everything, without calling back. Accepts NULL.
 */
void slurm_collector_free(struct slurm_collector *c);

#endif
