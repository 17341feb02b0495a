/*
 * What the methods and subscriptions use of the daemon, and nothing more:
 * the ctx of every call (rpc_call.ctx). daemon.c fills it; every pointer
 * is borrowed from the daemon, which outlives every call.
 */
#ifndef COORD_SERVICES_H
#define COORD_SERVICES_H

#include <stddef.h>

#include "rpc.h"
#include "task.h"

struct coordinator;
struct history;
struct output_store;
struct publisher;
struct state;
struct statedir;
struct waiter;

/* The settings the methods read (fixed at start-up). */
struct services_config {
	struct task_limits task_limits; /* what a submitted Task may hold */
	size_t max_wait_ids;		/* request_ids in one wait */
	size_t max_wait_answer_bytes;	/* Job text one wait answer shows, copies included */
	size_t max_status_task_bytes;	/* stored Task text a status page shows in all */
};

struct services {
	struct coordinator *coordinator;
	struct state *state;
	struct history *history;
	struct publisher *publisher;
	struct waiter *waiter;
	struct output_store *output; /* the jobs' kept output */
	struct statedir *statedir;   /* where the history's files are (metrics) */
	struct services_config config;
	double start_time; /* time_now() at start-up, for uptime */
	/* Stops accepting work and drains (the shutdown method). */
	void (*shutdown)(void *ctx, const char *why);
	/* Open client connections (metrics). */
	size_t (*connection_count)(void *ctx);
	void *ctx; /* the hooks' */
};

/* The services a call was made with. */
static inline struct services *services_of(struct rpc_call *call)
{
	return call->ctx;
}

#endif
