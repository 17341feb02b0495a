/*
 * coordbench: measures the daemon against the physical limits it sits on.
 * Every figure is printed next to a baseline measured in the same run.
 *
 *   coordbench spawn N P        posix_spawn `true` N times, P at a time (the floor)
 *   coordbench submit N W       pipeline N submits of `true` (W in flight), then
 *                               wait for all: prints accept and complete seconds
 *   coordbench enqueue N W MODE pipeline N submits of `true` to MODE, without waiting
 *                               for them to run: prints accept seconds
 *   coordbench ping N           N sequential round trips
 *   coordbench status N         N `status` pages (limit 100), plus N filtered by run,
 *                               N by request_id prefix and N by a start_time window
 *
 * Owns everything it allocates; exits on the first error.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coord.h"

extern char **environ;

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_die(const char *what, const struct coord_error *err)
{
	fprintf(stderr, "coordbench: %s: %s\n", what, err ? err->message : strerror(errno));
	exit(1);
}

static int bench_spawn(long n, long parallel)
{
	char *argv[] = {"true", NULL};
	double t0 = bench_now();
	long started = 0, running = 0;

	while (started < n || running > 0) {
		while (started < n && running < parallel) {
			pid_t pid;

			if (posix_spawnp(&pid, "true", NULL, NULL, argv, environ) != 0)
				bench_die("posix_spawn", NULL);
			started++;
			running++;
		}
		if (wait(NULL) > 0)
			running--;
	}
	printf("spawn %ld %.6f\n", n, bench_now() - t0);
	return 0;
}

static struct coord_conn *bench_connect(void)
{
	struct coord_error err;
	struct coord_conn *conn;

	if (coord_conn_open(NULL, &conn, &err) < 0)
		bench_die("connect", &err);
	return conn;
}

static void bench_recv_one(struct coord_conn *conn, char **ids, long *done)
{
	struct coord_error err;
	json_object *result, *job, *id;
	uint64_t rid;

	if (coord_call_recv_any(conn, -1, &rid, &result, &err) < 0)
		bench_die("submit", &err);
	if (!json_object_object_get_ex(result, "job", &job) ||
	    !json_object_object_get_ex(job, "request_id", &id))
		bench_die("submit answer", NULL);
	ids[(*done)++] = strdup(json_object_get_string(id));
	json_object_put(result);
}

static void bench_wait_all(struct coord_conn *conn, char **ids, long n)
{
	const long chunk = 5000;

	for (long i = 0; i < n; i += chunk) {
		struct coord_error err;
		json_object *result;
		size_t count = (size_t)(n - i < chunk ? n - i : chunk);

		if (coord_wait(conn, (const char *const *)ids + i, count, 0, &result, &err) < 0)
			bench_die("wait", &err);
		json_object_put(result);
	}
}

/* Pipelines n submits of `true` (window in flight) to mode (NULL: the default). */
static void bench_pipeline(struct coord_conn *conn, long n, long window, const char *mode,
			   char **ids)
{
	const char *argv[] = {"true", NULL};
	long sent = 0, done = 0;

	while (done < n) {
		while (sent < n && sent - done < window) {
			struct coord_error err;
			json_object *task = coord_task_new(argv);
			uint64_t id;

			if (mode)
				json_object_object_add(task, "mode", json_object_new_string(mode));
			if (coord_call_send(conn, "submit", task, &id, &err) < 0)
				bench_die("submit", &err);
			json_object_put(task);
			sent++;
		}
		bench_recv_one(conn, ids, &done);
	}
}

static void bench_free_ids(char **ids, long n)
{
	for (long i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static int bench_enqueue(long n, long window, const char *mode)
{
	struct coord_conn *conn = bench_connect();
	char **ids = calloc((size_t)n, sizeof(char *));
	double t0 = bench_now();

	bench_pipeline(conn, n, window, mode, ids);
	printf("enqueue %ld accept %.6f\n", n, bench_now() - t0);
	bench_free_ids(ids, n);
	coord_conn_close(conn);
	return 0;
}

static int bench_submit(long n, long window)
{
	struct coord_conn *conn = bench_connect();
	char **ids = calloc((size_t)n, sizeof(char *));
	double t0 = bench_now(), t_accept;

	bench_pipeline(conn, n, window, NULL, ids);
	t_accept = bench_now() - t0;
	bench_wait_all(conn, ids, n);
	printf("submit %ld accept %.6f complete %.6f\n", n, t_accept, bench_now() - t0);
	bench_free_ids(ids, n);
	coord_conn_close(conn);
	return 0;
}

static double bench_calls(struct coord_conn *conn, const char *method, json_object *params, long n)
{
	double t0 = bench_now();

	for (long i = 0; i < n; i++) {
		struct coord_error err;
		json_object *result;

		if (coord_call(conn, method, params, -1, &result, &err) < 0)
			bench_die(method, &err);
		json_object_put(result);
	}
	return bench_now() - t0;
}

static int bench_ping(long n)
{
	struct coord_conn *conn = bench_connect();

	printf("ping %ld %.6f\n", n, bench_calls(conn, "ping", NULL, n));
	coord_conn_close(conn);
	return 0;
}

static int bench_status(long n)
{
	struct coord_conn *conn = bench_connect();
	json_object *page = json_object_new_object(), *run = json_object_new_object();
	json_object *prefix = json_object_new_object(), *since = json_object_new_object();
	double t_page, t_run, t_prefix, t_since;

	json_object_object_add(page, "limit", json_object_new_int(100));
	json_object_object_add(run, "limit", json_object_new_int(100));
	json_object_object_add(run, "run_id", json_object_new_string("bench-run-7"));
	/* A short id as a client resolves it (mkhistory's ids are bench-N), and a narrow window. */
	json_object_object_add(prefix, "request_id_prefix", json_object_new_string("bench-999"));
	json_object_object_add(since, "since", json_object_new_double(1.0));
	json_object_object_add(since, "until", json_object_new_double(2.0));
	t_page = bench_calls(conn, "status", page, n);
	t_run = bench_calls(conn, "status", run, n);
	t_prefix = bench_calls(conn, "status", prefix, n);
	t_since = bench_calls(conn, "status", since, n);
	printf("status %ld page %.6f run %.6f prefix %.6f since %.6f\n", n, t_page, t_run, t_prefix,
	       t_since);
	json_object_put(page);
	json_object_put(run);
	json_object_put(prefix);
	json_object_put(since);
	coord_conn_close(conn);
	return 0;
}

int main(int argc, char **argv)
{
	long a = argc > 2 ? atol(argv[2]) : 0, b = argc > 3 ? atol(argv[3]) : 1;

	if (argc >= 3 && strcmp(argv[1], "spawn") == 0)
		return bench_spawn(a, b);
	if (argc >= 3 && strcmp(argv[1], "submit") == 0)
		return bench_submit(a, b);
	if (argc >= 5 && strcmp(argv[1], "enqueue") == 0)
		return bench_enqueue(a, b, argv[4]);
	if (argc >= 3 && strcmp(argv[1], "ping") == 0)
		return bench_ping(a);
	if (argc >= 3 && strcmp(argv[1], "status") == 0)
		return bench_status(a);
	fprintf(stderr,
		"usage: coordbench spawn N P | submit N WINDOW | enqueue N WINDOW MODE | ping N | "
		"status N\n");
	return 2;
}
