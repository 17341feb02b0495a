/*
 * contractfloor: the least any daemon must do per task to keep the wire
 * contract's promises, written as one single-threaded loop with nothing
 * else in it. bench/run runs it beside the bare posix_spawn loop and the
 * daemon (figures 1 and 2): the floor against the bare loop is what the
 * contract costs on this machine; the daemon against the floor is ours.
 *
 *   contractfloor N PARALLEL DIR
 *
 * prints "floor N SECONDS cpu CPU_SECONDS commits COMMITS".
 *
 * What it keeps of the contract, per task:
 * - the job is stored when it is accepted (all N in one transaction here,
 *   the cheapest possible acceptance);
 * - its start is committed before its process is spawned (no job runs
 *   twice), in one transaction with the closes of the same loop turn;
 * - the task runs in its own process group, stdin /dev/null, stdout and
 *   stderr captured through two pipes, read until end of file;
 * - its exit is heard on a pidfd; what is left in its group gets SIGTERM
 *   while the unreaped leader still holds the group's id; then it is reaped;
 * - its close and its completion message are stored and committed.
 * What it leaves out (so that it stays a floor): JSON, sockets, clients,
 * subscribers, the output kept on disk, the job's indexes but request_id,
 * the pid stored after the spawn, every limit and every error path but
 * dying.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

extern char **environ;

#define FLOOR_MAX_PARALLEL 256
#define FLOOR_EVENTS	   64

/* Which descriptor of a slot an epoll event is for. */
enum floor_fd_kind {
	FLOOR_PIDFD,
	FLOOR_STDOUT,
	FLOOR_STDERR,
};

struct floor_slot {
	long task; /* the job's seq, or 0 when the slot is free */
	pid_t pid;
	int fds[3]; /* by enum floor_fd_kind; -1 once closed */
	bool reaped;
	int exit_code;
};

enum floor_stmt {
	FLOOR_BEGIN,
	FLOOR_COMMIT,
	FLOOR_ACCEPT,
	FLOOR_START,
	FLOOR_CLOSE,
	FLOOR_MESSAGE,
	FLOOR_STMTS,
};

static const char *const floor_sql[FLOOR_STMTS] = {
	[FLOOR_BEGIN] = "BEGIN IMMEDIATE",
	[FLOOR_COMMIT] = "COMMIT",
	[FLOOR_ACCEPT] = ("INSERT INTO jobs (seq, request_id, phase, status, start_time, task) "
			  "VALUES (?1, 'floor-' || ?1, 'queued', 'opened', ?2, "
			  "'{\"node\":{\"argv\":[\"true\"]}}')"),
	[FLOOR_START] = "UPDATE jobs SET phase = 'running', run_start_time = ?2 WHERE seq = ?1",
	[FLOOR_CLOSE] = "UPDATE jobs SET phase = 'finished', status = 'closed', end_time = ?2, "
			"exit_code = ?3 WHERE seq = ?1",
	[FLOOR_MESSAGE] = "INSERT INTO messages (request_id, body) VALUES ('floor-' || ?1, ?2)",
};

static const char floor_schema[] =
	"PRAGMA journal_mode = WAL;"
	"PRAGMA synchronous = NORMAL;"
	"CREATE TABLE jobs (seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE,"
	" phase TEXT NOT NULL, status TEXT NOT NULL, start_time REAL NOT NULL,"
	" run_start_time REAL, end_time REAL, exit_code INTEGER, task TEXT);"
	"CREATE TABLE messages (seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL,"
	" body TEXT NOT NULL);";

struct floor {
	sqlite3 *db;
	sqlite3_stmt *stmts[FLOOR_STMTS];
	int epfd;
	bool in_transaction;
	long commits;
	long next_task, tasks, closed;
	long parallel;
	struct floor_slot slots[FLOOR_MAX_PARALLEL];
};

static void floor_die(const char *what)
{
	fprintf(stderr, "contractfloor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void floor_db_die(struct floor *f, const char *what)
{
	fprintf(stderr, "contractfloor: %s: %s\n", what, sqlite3_errmsg(f->db));
	exit(1);
}

static double floor_now(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a prepared statement whose values the caller bound, and resets it. */
static void floor_step(struct floor *f, enum floor_stmt which)
{
	sqlite3_stmt *s = f->stmts[which];

	if (sqlite3_step(s) != SQLITE_DONE)
		floor_db_die(f, floor_sql[which]);
	sqlite3_reset(s);
}

/* Binds a job's seq as ?1 and a time as ?2, and runs the statement. */
static void floor_step_job(struct floor *f, enum floor_stmt which, long seq, double time)
{
	sqlite3_bind_int64(f->stmts[which], 1, seq);
	sqlite3_bind_double(f->stmts[which], 2, time);
	floor_step(f, which);
}

static void floor_begin(struct floor *f)
{
	if (f->in_transaction)
		return;
	floor_step(f, FLOOR_BEGIN);
	f->in_transaction = true;
}

static void floor_commit(struct floor *f)
{
	if (!f->in_transaction)
		return;
	floor_step(f, FLOOR_COMMIT);
	f->in_transaction = false;
	f->commits++;
}

static void floor_open(struct floor *f, const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/floor.sqlite3", dir);
	unlink(path);
	if (sqlite3_open(path, &f->db) != SQLITE_OK)
		floor_db_die(f, path);
	if (sqlite3_exec(f->db, floor_schema, NULL, NULL, NULL) != SQLITE_OK)
		floor_db_die(f, "schema");
	for (int i = 0; i < FLOOR_STMTS; i++)
		if (sqlite3_prepare_v3(f->db, floor_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &f->stmts[i], NULL) != SQLITE_OK)
			floor_db_die(f, floor_sql[i]);
}

static void floor_accept_all(struct floor *f)
{
	floor_begin(f);
	for (long i = 1; i <= f->tasks; i++)
		floor_step_job(f, FLOOR_ACCEPT, i, floor_now(CLOCK_REALTIME));
	floor_commit(f);
}

static void floor_watch(struct floor *f, long slot, enum floor_fd_kind kind)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)slot * 3 + kind};

	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->slots[slot].fds[kind], &ev) < 0)
		floor_die("epoll_ctl");
}

/* Spawns the slot's task (its start is committed already) and watches its pidfd and pipes. */
static void floor_spawn(struct floor *f, long slot)
{
	struct floor_slot *s = &f->slots[slot];
	char *argv[] = {"true", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2], err[2];

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		floor_die("pipe2");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	errno = posix_spawnp(&s->pid, "true", &fa, &attr, argv, environ);
	if (errno != 0)
		floor_die("posix_spawn");
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(err[1]);
	s->fds[FLOOR_STDOUT] = out[0];
	s->fds[FLOOR_STDERR] = err[0];
	s->fds[FLOOR_PIDFD] = pidfd_open(s->pid, 0);
	if (s->fds[FLOOR_PIDFD] < 0)
		floor_die("pidfd_open");
	for (int k = FLOOR_PIDFD; k <= FLOOR_STDERR; k++)
		floor_watch(f, slot, (enum floor_fd_kind)k);
}

/* Fills the free slots: every start stored and committed (with the turn's closes), then spawned. */
static void floor_start_free_slots(struct floor *f)
{
	long started[FLOOR_MAX_PARALLEL];
	long n = 0;

	for (long i = 0; i < f->parallel && f->next_task <= f->tasks; i++) {
		if (f->slots[i].task)
			continue;
		floor_begin(f);
		f->slots[i] = (struct floor_slot){.task = f->next_task++, .fds = {-1, -1, -1}};
		floor_step_job(f, FLOOR_START, f->slots[i].task, floor_now(CLOCK_REALTIME));
		started[n++] = i;
	}
	floor_commit(f);
	for (long i = 0; i < n; i++)
		floor_spawn(f, started[i]);
}

/* The job's close and its completion message, in the turn's transaction. */
static void floor_close_job(struct floor *f, struct floor_slot *s)
{
	char body[160];

	snprintf(body, sizeof(body),
		 "{\"type\":\"request_success\",\"request_id\":\"floor-%ld\",\"result\":"
		 "{\"exit_code\":%d,\"stdout\":\"\",\"stderr\":\"\"}}",
		 s->task, s->exit_code);
	floor_begin(f);
	sqlite3_bind_int(f->stmts[FLOOR_CLOSE], 3, s->exit_code);
	floor_step_job(f, FLOOR_CLOSE, s->task, floor_now(CLOCK_REALTIME));
	sqlite3_bind_int64(f->stmts[FLOOR_MESSAGE], 1, s->task);
	sqlite3_bind_text(f->stmts[FLOOR_MESSAGE], 2, body, -1, SQLITE_STATIC);
	floor_step(f, FLOOR_MESSAGE);
	s->task = 0;
	f->closed++;
}

/* Closing a descriptor takes it out of the epoll set: no epoll_ctl needed. */
static void floor_drop_fd(struct floor_slot *s, enum floor_fd_kind kind)
{
	close(s->fds[kind]);
	s->fds[kind] = -1;
}

static void floor_read_pipe(struct floor_slot *s, enum floor_fd_kind kind)
{
	char buf[65536];
	ssize_t n = read(s->fds[kind], buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		floor_drop_fd(s, kind);
}

static void floor_reap(struct floor_slot *s)
{
	siginfo_t si = {0};

	/* What is left in the group, while the zombie leader still holds its id. */
	kill(-s->pid, SIGTERM);
	while (waitid(P_PIDFD, (id_t)s->fds[FLOOR_PIDFD], &si, WEXITED) < 0)
		if (errno != EINTR)
			floor_die("waitid");
	s->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	s->reaped = true;
	floor_drop_fd(s, FLOOR_PIDFD);
}

static void floor_handle(struct floor *f, uint64_t data)
{
	struct floor_slot *s = &f->slots[data / 3];
	enum floor_fd_kind kind = (enum floor_fd_kind)(data % 3);

	if (s->fds[kind] < 0)
		return; /* closed earlier in this turn */
	if (kind == FLOOR_PIDFD)
		floor_reap(s);
	else
		floor_read_pipe(s, kind);
	if (s->reaped && s->fds[FLOOR_STDOUT] < 0 && s->fds[FLOOR_STDERR] < 0)
		floor_close_job(f, s);
}

static void floor_loop(struct floor *f)
{
	struct epoll_event evs[FLOOR_EVENTS];

	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0)
		floor_die("epoll_create1");
	f->next_task = 1;
	floor_start_free_slots(f);
	while (f->closed < f->tasks) {
		int n = epoll_wait(f->epfd, evs, FLOOR_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			floor_die("epoll_wait");
		for (int i = 0; i < n; i++)
			floor_handle(f, evs[i].data.u64);
		floor_start_free_slots(f);
	}
}

static double floor_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	static struct floor f;
	double t0, cpu0;

	if (argc != 4 || atol(argv[1]) < 1 || atol(argv[2]) < 1 ||
	    atol(argv[2]) > FLOOR_MAX_PARALLEL) {
		fprintf(stderr, "usage: contractfloor N PARALLEL(1-%d) DIR\n", FLOOR_MAX_PARALLEL);
		return 2;
	}
	f.tasks = atol(argv[1]);
	f.parallel = atol(argv[2]);
	floor_open(&f, argv[3]);
	t0 = floor_now(CLOCK_MONOTONIC);
	cpu0 = floor_cpu();
	floor_accept_all(&f);
	floor_loop(&f);
	printf("floor %ld %.6f cpu %.6f commits %ld\n", f.tasks, floor_now(CLOCK_MONOTONIC) - t0,
	       floor_cpu() - cpu0, f.commits);
	for (int i = 0; i < FLOOR_STMTS; i++)
		sqlite3_finalize(f.stmts[i]);
	sqlite3_close(f.db);
	return 0;
}
