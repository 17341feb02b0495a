/*
 * The process-wide counters (see metrics.h). Counting never fails its
 * caller: a mode or kind that cannot be allocated is simply not counted.
 * The per-mode arrays are owned here and freed by metrics_reset.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

const double metrics_commit_bounds[METRICS_COMMIT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
};

static struct metrics metrics_all;

/* The counters of mode, created on first use; NULL when out of memory. */
static struct metrics_mode *metrics_mode(const char *mode)
{
	struct metrics_mode *modes, *m;

	if (!mode)
		mode = "";
	for (size_t i = 0; i < metrics_all.mode_count; i++)
		if (strcmp(metrics_all.modes[i].mode, mode) == 0)
			return &metrics_all.modes[i];
	modes = realloc(metrics_all.modes, (metrics_all.mode_count + 1) * sizeof(*modes));
	if (!modes)
		return NULL;
	metrics_all.modes = modes;
	m = &modes[metrics_all.mode_count];
	memset(m, 0, sizeof(*m));
	m->mode = strdup(mode);
	if (!m->mode)
		return NULL;
	metrics_all.mode_count++;
	return m;
}

static void metrics_kind_count(struct metrics_mode *m, const char *kind)
{
	struct metrics_kind *kinds;

	for (size_t i = 0; i < m->kind_count; i++)
		if (strcmp(m->kinds[i].kind, kind) == 0) {
			m->kinds[i].count++;
			return;
		}
	kinds = realloc(m->kinds, (m->kind_count + 1) * sizeof(*kinds));
	if (!kinds)
		return;
	m->kinds = kinds;
	kinds[m->kind_count].kind = strdup(kind);
	if (!kinds[m->kind_count].kind)
		return;
	kinds[m->kind_count++].count = 1;
}

void metrics_task_submitted(const char *mode)
{
	struct metrics_mode *m = metrics_mode(mode);

	if (m)
		m->submitted++;
}

void metrics_task_refused(void)
{
	metrics_all.refused++;
}

void metrics_task_started(const char *mode)
{
	struct metrics_mode *m = metrics_mode(mode);

	if (m)
		m->started++;
}

void metrics_task_closed(const char *mode, const char *kind)
{
	struct metrics_mode *m = metrics_mode(mode);

	if (!m)
		return;
	if (!kind) {
		m->success++;
		return;
	}
	m->failure++;
	metrics_kind_count(m, kind);
}

void metrics_subscription_opened(void)
{
	metrics_all.subscriptions++;
}

void metrics_subscription_closed(void)
{
	if (metrics_all.subscriptions > 0)
		metrics_all.subscriptions--;
}

void metrics_subscriber_lagged(void)
{
	metrics_all.lagged++;
}

double metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_commit_observe(double seconds)
{
	if (seconds < 0)
		seconds = 0;
	for (size_t i = 0; i < METRICS_COMMIT_BUCKETS; i++)
		if (seconds <= metrics_commit_bounds[i])
			metrics_all.commit_buckets[i]++;
	metrics_all.commit_count++;
	metrics_all.commit_sum += seconds;
}

const struct metrics *metrics_read(void)
{
	return &metrics_all;
}

void metrics_reset(void)
{
	for (size_t i = 0; i < metrics_all.mode_count; i++) {
		struct metrics_mode *m = &metrics_all.modes[i];

		for (size_t k = 0; k < m->kind_count; k++)
			free(m->kinds[k].kind);
		free(m->kinds);
		free(m->mode);
	}
	free(metrics_all.modes);
	memset(&metrics_all, 0, sizeof(metrics_all));
}
