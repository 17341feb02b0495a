/*
 * The daemon's counters and the commit-latency histogram: what happened
 * since the process started. They are process-wide, as a Prometheus client
 * library keeps them, so that the code that sees an event counts it with
 * one call; the metrics method reads them. Only libc, in the lowest layer: any layer may count.
 */
#ifndef COORD_METRICS_H
#define COORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds (seconds) of the commit-latency buckets; +Inf is implied. */
#define METRICS_COMMIT_BUCKETS 12
extern const double metrics_commit_bounds[METRICS_COMMIT_BUCKETS];

/* Failures of one mode with one error kind. */
struct metrics_kind {
	char *kind;
	uint64_t count;
};

/* The counters of one mode, created the first time the mode is named. */
struct metrics_mode {
	char *mode;
	uint64_t submitted;
	uint64_t started;
	uint64_t success;
	uint64_t failure;
	struct metrics_kind *kinds; /* failures by kind, in the order first seen */
	size_t kind_count;
};

struct metrics {
	struct metrics_mode *modes;
	size_t mode_count;
	uint64_t refused; /* request_creation_failure: no job, maybe no valid mode */
	uint64_t subscriptions;
	uint64_t lagged;
	/* Cumulative as Prometheus wants them: [i] counts commits <= bounds[i]. */
	uint64_t commit_buckets[METRICS_COMMIT_BUCKETS];
	uint64_t commit_count;
	double commit_sum;
};

/* A job was accepted into mode. */
void metrics_task_submitted(const char *mode);
/* A task was refused before a job existed. */
void metrics_task_refused(void);
/* A job's process started. */
void metrics_task_started(const char *mode);
/* A job closed; kind (an error kind's name) is NULL for a success. */
void metrics_task_closed(const char *mode, const char *kind);

void metrics_subscription_opened(void);
void metrics_subscription_closed(void);
/* A subscriber fell too far behind and was cut off. */
void metrics_subscriber_lagged(void);

/* A monotonic clock in seconds, for timing what metrics_commit_observe gets. */
double metrics_clock(void);
/* A history commit took seconds. */
void metrics_commit_observe(double seconds);

/* What was counted so far; borrowed, valid until the next count. */
const struct metrics *metrics_read(void);

/* Forgets everything (frees the per-mode counters). */
void metrics_reset(void);

#endif
