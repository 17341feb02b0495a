/*
 * coordbench: measures the daemon against the physical limits it sits on.
 * Every figure is printed next to a baseline measured in the same run.
 *
 *   coordbench spawn N P        posix_spawn `true` N times, P at a time (the floor)
 *   coordbench submit N W       pipeline N submits of `true` (W in flight), then
 *                               wait for all: prints accept and complete seconds
 *   coordbench enqueue N W MODE pipeline N submits of `true` to MODE, without waiting
 *                               for them to run: prints accept seconds and the bytes of
 *                               one Task's JSON text
 *   coordbench ping N           N sequential round trips
 *   coordbench status N         N `status` pages (limit 100), plus N filtered by run,
 *                               N by request_id prefix and N by a start_time window
 *   coordbench echoserve PATH   a bare Unix-socket line echo server (the ping baseline)
 *   coordbench latency PATH N   N raw ping lines to PATH, one at a time: p50, p99, max
 *   coordbench loaded N W       latency of pings while submit N W runs (own process)
 *   coordbench notify N S       S subscribers to request_success; N tasks submitted;
 *                               prints deliveries, seconds until all arrived and bytes
 *   coordbench fanout N S BYTES the notify baseline: one writer process sends N lines of
 *                               BYTES to each of S Unix sockets, read as notify reads them;
 *                               prints deliveries, seconds and the writer's CPU seconds
 *
 * Owns everything it allocates; exits on the first error.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* User plus system CPU seconds of a rusage. */
static double bench_cpu(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
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
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("spawn %ld %.6f cpu %.6f\n", n, bench_now() - t0, bench_cpu(&ru));
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

/* The bytes of the JSON text of one Task bench_pipeline sends to mode. */
static size_t bench_task_bytes(const char *mode)
{
	const char *argv[] = {"true", NULL};
	json_object *task = coord_task_new(argv);
	size_t bytes;

	if (mode)
		json_object_object_add(task, "mode", json_object_new_string(mode));
	bytes = strlen(json_object_to_json_string_ext(task, JSON_C_TO_STRING_PLAIN));
	json_object_put(task);
	return bytes;
}

static int bench_enqueue(long n, long window, const char *mode)
{
	struct coord_conn *conn = bench_connect();
	char **ids = calloc((size_t)n, sizeof(char *));
	double t0 = bench_now();

	bench_pipeline(conn, n, window, mode, ids);
	printf("enqueue %ld accept %.6f task_bytes %zu\n", n, bench_now() - t0,
	       bench_task_bytes(mode));
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

/* The request the raw clients send: a ping, as libcoord would frame it. */
static const char bench_ping_line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\n";

static int bench_unix_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		bench_die("socket", NULL);
	strcpy(sa.sun_path, path);
	if (listening && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0))
		bench_die("listen", NULL);
	if (!listening && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_die("connect", NULL);
	return fd;
}

/* Echoes every byte back, one client at a time, until killed. */
__attribute__((noreturn)) static void bench_echoserve(const char *path)
{
	int lfd = bench_unix_socket(path, true);
	char buf[65536];

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		ssize_t n;

		if (fd < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		close(fd);
	}
}

/* Reads until a newline ends what was read; returns the bytes read. */
static size_t bench_read_line(int fd)
{
	char buf[4096];
	size_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			bench_die("read", NULL);
		total += (size_t)n;
		if (buf[n - 1] == '\n')
			return total;
	}
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One raw ping round trip on fd, in seconds. */
static double bench_rtt(int fd)
{
	double t0 = bench_now();

	if (write(fd, bench_ping_line, sizeof(bench_ping_line) - 1) < 0)
		bench_die("write", NULL);
	bench_read_line(fd);
	return bench_now() - t0;
}

static void bench_print_latency(const char *what, double *rtt, long n)
{
	qsort(rtt, (size_t)n, sizeof(double), bench_cmp_double);
	printf("%s %ld p50 %.6f p99 %.6f max %.6f\n", what, n, rtt[n / 2], rtt[n * 99 / 100],
	       rtt[n - 1]);
}

static int bench_latency(const char *path, long n)
{
	int fd = bench_unix_socket(path, false);
	double *rtt = calloc((size_t)n, sizeof(double));

	for (long i = 0; i < n; i++)
		rtt[i] = bench_rtt(fd);
	bench_print_latency("latency", rtt, n);
	free(rtt);
	close(fd);
	return 0;
}

/* Pings the daemon, one at a time, for as long as a child submits n tasks. */
static int bench_loaded(long n, long window)
{
	const char *path = getenv("COORD_SOCKET");
	long cap = 1000000, count = 0;
	double *rtt = calloc((size_t)cap, sizeof(double));
	int fd = bench_unix_socket(path, false);
	pid_t child = fork();

	if (child < 0)
		bench_die("fork", NULL);
	if (child == 0) {
		fclose(stdout);
		_exit(bench_submit(n, window));
	}
	while (waitpid(child, NULL, WNOHANG) == 0 && count < cap)
		rtt[count++] = bench_rtt(fd);
	bench_print_latency("loaded", rtt, count);
	free(rtt);
	close(fd);
	return 0;
}

/* Counts the lines each of the s sockets in fds sends until every one has sent want of them;
 * returns the bytes read and closes nothing. */
static long bench_read_lines(const int *fds, long s, long want)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	long *got = calloc((size_t)s, sizeof(long)), left = s, bytes = 0;
	struct epoll_event ev[256];
	char buf[65536];

	if (ep < 0 || !got)
		bench_die("epoll", NULL);
	for (long i = 0; i < s; i++) {
		struct epoll_event add = {.events = EPOLLIN, .data.u64 = (uint64_t)i};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &add) < 0)
			bench_die("epoll_ctl", NULL);
	}
	while (left > 0) {
		int ready = epoll_wait(ep, ev, 256, -1);

		if (ready < 0 && errno != EINTR)
			bench_die("epoll_wait", NULL);
		for (int k = 0; k < ready; k++) {
			long i = (long)ev[k].data.u64;
			ssize_t n = read(fds[i], buf, sizeof(buf));

			if (n <= 0)
				bench_die("subscriber read", NULL);
			bytes += n;
			for (ssize_t c = 0; c < n; c++)
				got[i] += buf[c] == '\n';
			if (got[i] >= want) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				left--;
			}
		}
	}
	free(got);
	close(ep);
	return bytes;
}

static int bench_notify(long n, long s)
{
	static const char sub[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"params\":"
				  "{\"types\":[\"request_success\"]},\"id\":1}\n";
	const char *path = getenv("COORD_SOCKET");
	int *fds = calloc((size_t)s, sizeof(int));
	long bytes;
	double t0;
	pid_t child;

	for (long i = 0; i < s; i++) {
		fds[i] = bench_unix_socket(path, false);
		if (write(fds[i], sub, sizeof(sub) - 1) < 0)
			bench_die("subscribe", NULL);
		bench_read_line(fds[i]); /* the answer (nothing else can come yet) */
	}
	t0 = bench_now();
	child = fork();
	if (child < 0)
		bench_die("fork", NULL);
	if (child == 0) {
		fclose(stdout);
		_exit(bench_submit(n, 256));
	}
	bytes = bench_read_lines(fds, s, n);
	printf("notify %ld subscribers %ld delivered %ld seconds %.6f bytes %ld\n", n, s, n * s,
	       bench_now() - t0, bytes);
	waitpid(child, NULL, 0);
	for (long i = 0; i < s; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

/* The writer of fanout: n rounds of one line of the given bytes to each socket. */
__attribute__((noreturn)) static void bench_fanout_write(const int *fds, long n, long s, long bytes)
{
	char *line = malloc((size_t)bytes);

	if (!line)
		_exit(1);
	memset(line, 'x', (size_t)bytes - 1);
	line[bytes - 1] = '\n';
	for (long r = 0; r < n; r++)
		for (long i = 0; i < s; i++)
			if (write(fds[i], line, (size_t)bytes) != bytes)
				_exit(1);
	_exit(0);
}

static int bench_fanout(long n, long s, long bytes)
{
	int *mine = calloc((size_t)s, sizeof(int)), *theirs = calloc((size_t)s, sizeof(int));
	struct rusage ru;
	int status;
	double t0;
	pid_t child;

	if (bytes < 1 || !mine || !theirs)
		bench_die("fanout", NULL);
	for (long i = 0; i < s; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			bench_die("socketpair", NULL);
		mine[i] = sv[0];
		theirs[i] = sv[1];
	}
	t0 = bench_now();
	child = fork();
	if (child < 0)
		bench_die("fork", NULL);
	if (child == 0) {
		for (long i = 0; i < s; i++)
			close(mine[i]);
		bench_fanout_write(theirs, n, s, bytes);
	}
	for (long i = 0; i < s; i++)
		close(theirs[i]);
	bench_read_lines(mine, s, n);
	printf("fanout %ld subscribers %ld delivered %ld seconds %.6f", n, s, n * s,
	       bench_now() - t0);
	if (wait4(child, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("fanout writer", NULL);
	printf(" cpu %.6f\n", bench_cpu(&ru));
	for (long i = 0; i < s; i++)
		close(mine[i]);
	free(mine);
	free(theirs);
	return 0;
}

/* One command: its name, the arguments it needs at least, and how to run it. */
struct bench_command {
	const char *name;
	int args;
	int (*run)(char **argv);
};

static long bench_arg(char **argv, int i)
{
	return atol(argv[i]);
}

static int bench_cmd_spawn(char **argv)
{
	return bench_spawn(bench_arg(argv, 0), bench_arg(argv, 1));
}

static int bench_cmd_submit(char **argv)
{
	return bench_submit(bench_arg(argv, 0), bench_arg(argv, 1));
}

static int bench_cmd_enqueue(char **argv)
{
	return bench_enqueue(bench_arg(argv, 0), bench_arg(argv, 1), argv[2]);
}

static int bench_cmd_ping(char **argv)
{
	return bench_ping(bench_arg(argv, 0));
}

static int bench_cmd_status(char **argv)
{
	return bench_status(bench_arg(argv, 0));
}

static int bench_cmd_echoserve(char **argv)
{
	bench_echoserve(argv[0]);
}

static int bench_cmd_latency(char **argv)
{
	return bench_latency(argv[0], bench_arg(argv, 1));
}

static int bench_cmd_loaded(char **argv)
{
	return bench_loaded(bench_arg(argv, 0), bench_arg(argv, 1));
}

static int bench_cmd_notify(char **argv)
{
	return bench_notify(bench_arg(argv, 0), bench_arg(argv, 1));
}

static int bench_cmd_fanout(char **argv)
{
	return bench_fanout(bench_arg(argv, 0), bench_arg(argv, 1), bench_arg(argv, 2));
}

static const struct bench_command bench_commands[] = {
	{"spawn", 2, bench_cmd_spawn},	   {"submit", 2, bench_cmd_submit},
	{"enqueue", 3, bench_cmd_enqueue}, {"ping", 1, bench_cmd_ping},
	{"status", 1, bench_cmd_status},   {"echoserve", 1, bench_cmd_echoserve},
	{"latency", 2, bench_cmd_latency}, {"loaded", 2, bench_cmd_loaded},
	{"notify", 2, bench_cmd_notify},   {"fanout", 3, bench_cmd_fanout},
};

/* Lifts the soft limit on open files to the hard one: 1000 subscribers are 1000 sockets. */
static void bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	bench_raise_nofile();
	for (size_t i = 0; argc > 1 && i < sizeof(bench_commands) / sizeof(bench_commands[0]); i++)
		if (strcmp(argv[1], bench_commands[i].name) == 0 &&
		    argc - 2 >= bench_commands[i].args)
			return bench_commands[i].run(argv + 2);
	fprintf(stderr,
		"usage: coordbench spawn N P | submit N WINDOW | enqueue N WINDOW MODE | ping N | "
		"status N | echoserve PATH | latency PATH N | loaded N WINDOW | notify N "
		"SUBSCRIBERS | fanout N SUBSCRIBERS BYTES\n");
	return 2;
}
