/*
 * Task processes. A struct process owns its pidfd, its pipe ends, its
 * events and the output it has captured. The leader is reaped only when
 * the task is over: until then the zombie keeps the process group's id
 * reserved, so kill(-pid) reaches our group and no other. After that only
 * the leader's pidfd may signal the group (see process_sweep_group).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "cause.h"
#include "exechelper.h"
#include "log.h"
#include "process.h"
#include "procstat.h"
#include "spawner.h"
#include "sweeper.h"

/* Bytes read from a pipe at a time. */
#define PROCESS_READ_CHUNK 65536
/* Reads of one pipe per loop turn. */
#define PROCESS_READ_ROUNDS 16

struct process_stream {
	int fd;
	int fd_no; /* STDOUT_FILENO or STDERR_FILENO: which one it is */
	struct event *ev;
	struct evbuffer *tail; /* the last bytes, for the result */
	size_t tail_limit;
	bool truncated; /* bytes left tail */
	bool eof;
};

struct process {
	struct event_base *base;
	pid_t pid;
	uint64_t starttime; /* the kernel's, 0 if unknown */
	int pidfd;
	struct event *exit_ev;
	struct event *kill_ev;
	unsigned kill_grace_ms;
	struct sweeper *sweeper; /* borrowed */
	struct process_stream out;
	struct process_stream err;
	int stdin_fd;
	struct event *stdin_ev;
	char *stdin_data;
	size_t stdin_len;
	size_t stdin_off;
	int helper_fd;	   /* the exec helper's status pipe, or -1 */
	char *helper;	   /* the exec helper's path, or NULL */
	char *spawn_error; /* what the exec helper said, if it failed */
	size_t result_tail;
	struct process_launch *launch; /* while a spawner starts it */
	process_started_cb started_cb;
	bool terminate_pending; /* terminated while the spawner started it */
	bool orphaned;		/* freed while the spawner started it */
	siginfo_t status;
	bool exited;
	bool killed; /* SIGKILL sent to the group */
	bool done;
	process_done_cb done_cb;
	process_output_cb output_cb;
	void *userdata;
};

static void process_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void process_stream_close(struct process_stream *s)
{
	if (s->ev) {
		event_free(s->ev);
		s->ev = NULL;
	}
	process_close_fd(&s->fd);
	s->eof = true;
}

static void process_stdin_close(struct process *proc)
{
	if (proc->stdin_ev) {
		event_free(proc->stdin_ev);
		proc->stdin_ev = NULL;
	}
	process_close_fd(&proc->stdin_fd);
}

/*
 * Reads what is available (at most rounds reads, so one busy task cannot
 * hold the loop): each piece goes to the output callback, and the last
 * bytes stay in s->tail for the result.
 */
static void process_stream_read(struct process *proc, struct process_stream *s, unsigned rounds)
{
	char buf[PROCESS_READ_CHUNK];

	while (!s->eof && rounds-- > 0) {
		ssize_t n = read(s->fd, buf, sizeof(buf));
		size_t kept;

		if (n > 0) {
			if (proc->output_cb)
				proc->output_cb(proc, s->fd_no, buf, (size_t)n, proc->userdata);
			evbuffer_add(s->tail, buf, (size_t)n);
			kept = evbuffer_get_length(s->tail);
			if (kept > s->tail_limit) {
				evbuffer_drain(s->tail, kept - s->tail_limit);
				s->truncated = true;
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			process_stream_close(s);
		if (n < 0 && errno != EINTR)
			break;
	}
}

/* waitid on the pidfd, or on the pid where there is no pidfd (see process_watch). */
static int process_waitid(struct process *proc, siginfo_t *si, int options)
{
	if (proc->pidfd >= 0)
		return waitid(P_PIDFD, (id_t)proc->pidfd, si, options);
	return waitid(P_PID, (id_t)proc->pid, si, options);
}

static void process_reap(struct process *proc)
{
	siginfo_t si;

	while (process_waitid(proc, &si, WEXITED) < 0 && errno == EINTR)
		;
}

static void process_fill_result(struct process *proc, struct process_result *res)
{
	memset(res, 0, sizeof(*res));
	res->spawn_error = proc->spawn_error;
	res->signaled = proc->status.si_code == CLD_KILLED || proc->status.si_code == CLD_DUMPED;
	if (res->signaled)
		res->signal = proc->status.si_status;
	else
		res->exit_code = proc->status.si_status;
	res->stdout_len = evbuffer_get_length(proc->out.tail);
	res->stdout_data = (const char *)evbuffer_pullup(proc->out.tail, -1);
	res->stdout_truncated = proc->out.truncated;
	res->stderr_len = evbuffer_get_length(proc->err.tail);
	res->stderr_data = (const char *)evbuffer_pullup(proc->err.tail, -1);
	res->stderr_truncated = proc->err.truncated;
}

/*
 * What the task left in its group (background processes that let go of
 * the pipes) got SIGTERM when it exited, and gets SIGKILL once the grace
 * period is over. That late signal must reach our group and no other:
 * once the leader is reaped and the group empties, the kernel may hand the
 * group's id to a new process. So it goes through the leader's pidfd (see
 * sweeper.c), which never names a newer group. Where that is not possible
 * (Linux before 6.9, no pidfd, no sweeper) the leftovers get SIGKILL at
 * once instead, while the unreaped leader still holds the id.
 */
static void process_sweep_group(struct process *proc)
{
	bool held = !proc->killed && sweeper_supported(proc->sweeper, proc->pidfd);

	if (!proc->killed && !held)
		kill(-proc->pid, SIGKILL);
	process_reap(proc);
	if (!held || sweeper_signal_group(proc->pidfd, 0) < 0)
		return; /* nothing left */
	if (sweeper_add(proc->sweeper, proc->pidfd, proc->kill_grace_ms) == 0)
		proc->pidfd = -1; /* the sweeper's now */
	else
		sweeper_signal_group(proc->pidfd, SIGKILL);
}

static void process_finish(struct process *proc)
{
	struct process_result res;

	if (proc->done)
		return;
	proc->done = true;
	event_del(proc->kill_ev);
	process_stdin_close(proc);
	process_stream_close(&proc->out);
	process_stream_close(&proc->err);
	process_sweep_group(proc);
	if (proc->helper_fd >= 0) {
		proc->spawn_error = exechelper_read_status(proc->helper_fd, proc->helper);
		process_close_fd(&proc->helper_fd);
	}
	process_fill_result(proc, &res);
	proc->done_cb(proc, &res, proc->userdata);
}

static void process_arm_kill(struct process *proc)
{
	struct timeval tv = {
		.tv_sec = proc->kill_grace_ms / 1000,
		.tv_usec = (proc->kill_grace_ms % 1000) * 1000,
	};

	if (!event_pending(proc->kill_ev, EV_TIMEOUT, NULL) && !proc->killed)
		event_add(proc->kill_ev, &tv);
}

/* Done when the process has exited and both pipes are closed (or given up on). */
static void process_maybe_finish(struct process *proc)
{
	if (!proc->exited)
		return;
	if (proc->out.eof && proc->err.eof) {
		process_finish(proc);
		return;
	}
	if (proc->killed) {
		/* Someone outside the group holds the pipes: take what there is. */
		process_stream_read(proc, &proc->out, UINT_MAX);
		process_stream_read(proc, &proc->err, UINT_MAX);
		process_finish(proc);
		return;
	}
	/* Leftovers in the group still hold the pipes: they got SIGTERM. */
	process_arm_kill(proc);
}

static void process_stream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct process *proc = arg;
	struct process_stream *s = fd == proc->out.fd ? &proc->out : &proc->err;

	process_stream_read(proc, s, PROCESS_READ_ROUNDS);
	process_maybe_finish(proc);
}

static void process_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct process *proc = arg;

	memset(&proc->status, 0, sizeof(proc->status));
	if (process_waitid(proc, &proc->status, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    proc->status.si_pid == 0)
		return; /* not yet: the event stays armed */
	event_del(proc->exit_ev);
	proc->exited = true;
	/* Whatever the task left behind in its group is stopped too. */
	if (!proc->killed)
		kill(-proc->pid, SIGTERM);
	process_maybe_finish(proc);
}

static void process_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct process *proc = arg;

	kill(-proc->pid, SIGKILL);
	proc->killed = true;
	process_maybe_finish(proc);
}

static void process_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct process *proc = arg;

	while (proc->stdin_off < proc->stdin_len) {
		ssize_t n = write(proc->stdin_fd, proc->stdin_data + proc->stdin_off,
				  proc->stdin_len - proc->stdin_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) /* EPIPE: the task does not read its input */
			break;
		proc->stdin_off += (size_t)n;
	}
	process_stdin_close(proc);
}

struct process_pipes {
	int out[2];
	int err[2];
	int in[2];
	int status[2]; /* the exec helper's */
};

static void process_pipes_close(struct process_pipes *p)
{
	for (int i = 0; i < 2; i++) {
		process_close_fd(&p->out[i]);
		process_close_fd(&p->err[i]);
		process_close_fd(&p->in[i]);
		process_close_fd(&p->status[i]);
	}
}

/*
 * What a spawn needs until posix_spawn returns; owned by the process
 * meanwhile. Its work (process_launch_work) runs on the spawner's thread:
 * the pipes, the file actions (glibc checks each fd against the rlimit, a
 * system call each), the spawn, then closing the child's ends of the pipes,
 * making ours non-blocking, opening its pidfd and reading its start time;
 * the loop gets the result.
 */
struct process_launch {
	struct spawner_req req;
	struct process *proc;
	struct process_pipes pipes;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool has_fa;	   /* fa was initialised */
	bool stdin_pipe;   /* the task has input */
	bool status_pipe;  /* through the exec helper */
	char *cwd;	   /* a copy, or NULL */
	const char *stage; /* what failed before the spawn ("cannot create pipes"), or NULL */
	int pidfd;	   /* after the spawn: its pidfd, or -1 and pidfd_err (an errno) */
	int pidfd_err;
	int nonblock_err;   /* after the spawn: why our ends of the pipes could not be made
			       non-blocking */
	uint64_t starttime; /* after the spawn: /proc/PID/stat's, 0 if unknown */
	char **helper_argv;
	char **argv_copy; /* for a spawner: the caller's may go before it is done */
	char **envp_copy;
	const char *what; /* argv[0], for the reason it did not start */
};

static int process_pipes_open(struct process_pipes *p, bool stdin_pipe, bool status_pipe)
{
	if (pipe2(p->out, O_CLOEXEC) < 0 || pipe2(p->err, O_CLOEXEC) < 0 ||
	    (stdin_pipe && pipe2(p->in, O_CLOEXEC) < 0) ||
	    (status_pipe && pipe2(p->status, O_CLOEXEC | O_NONBLOCK) < 0)) {
		int e = errno;

		process_pipes_close(p);
		return -e;
	}
	return 0;
}

static int process_file_actions(posix_spawn_file_actions_t *fa, bool exec_helper, const char *cwd,
				const struct process_pipes *p)
{
	int r;

	if (p->in[0] >= 0)
		r = posix_spawn_file_actions_adddup2(fa, p->in[0], STDIN_FILENO);
	else
		r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, p->out[1], STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, p->err[1], STDERR_FILENO);
	if (exec_helper) {
		/* The helper enters cwd itself, as the user (cannot be done as root). */
		if (r == 0)
			r = posix_spawn_file_actions_adddup2(fa, p->status[1],
							     EXECHELPER_STATUS_FD);
		if (r == 0)
			r = posix_spawn_file_actions_addclosefrom_np(fa, EXECHELPER_STATUS_FD + 1);
		return -r;
	}
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO + 1);
	if (r == 0 && cwd)
		r = posix_spawn_file_actions_addchdir_np(fa, cwd);
	return -r;
}

static int process_spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t all, none;
	int r;

	sigfillset(&all);
	sigemptyset(&none);
	r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETSIGMASK);
	if (r == 0)
		r = posix_spawnattr_setpgroup(attr, 0);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(attr, &all);
	if (r == 0)
		r = posix_spawnattr_setsigmask(attr, &none);
	return -r;
}

/* posix_spawn reports a failed chdir with the same errno as a failed exec: look first. */
static int process_check_cwd(const char *cwd, char **error)
{
	struct stat st;

	if (!cwd)
		return 0;
	if (stat(cwd, &st) < 0) {
		int e = errno;

		return cause_set(error, -e, "cannot use working directory \"%s\": %s", cwd,
				 strerror(e));
	}
	if (!S_ISDIR(st.st_mode)) {
		return cause_set(error, -ENOTDIR,
				 "cannot use working directory \"%s\": not a directory", cwd);
	}
	return 0;
}

static void process_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static char **process_strv_dup(char *const *v)
{
	size_t n = 0;
	char **copy;

	while (v[n])
		n++;
	copy = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; copy && i < n; i++) {
		if (!(copy[i] = strdup(v[i]))) {
			process_strv_free(copy);
			return NULL;
		}
	}
	return copy;
}

static void process_launch_free(struct process_launch *l)
{
	if (l->has_fa) {
		posix_spawn_file_actions_destroy(&l->fa);
		posix_spawnattr_destroy(&l->attr);
	}
	process_pipes_close(&l->pipes);
	if (l->pidfd >= 0)
		close(l->pidfd);
	free(l->cwd);
	exechelper_argv_free(l->helper_argv);
	process_strv_free(l->argv_copy);
	process_strv_free(l->envp_copy);
	free(l);
}

/* The launch's work, on the spawner's thread (or the loop's, without a spawner). */
static void process_launch_work(struct spawner_req *req)
{
	struct process_launch *l = (struct process_launch *)req;
	struct process_pipes *p = &l->pipes;
	int r = process_pipes_open(p, l->stdin_pipe, l->status_pipe);

	if (r < 0) {
		l->stage = "cannot create pipes";
		req->err = -r;
		return;
	}
	posix_spawn_file_actions_init(&l->fa);
	posix_spawnattr_init(&l->attr);
	l->has_fa = true;
	r = process_file_actions(&l->fa, l->status_pipe, l->cwd, p);
	if (r == 0)
		r = process_spawn_attr(&l->attr);
	if (r < 0) {
		l->stage = "cannot prepare the spawn";
		req->err = -r;
		return;
	}
	spawner_run(req);
	if (req->err)
		return;
	/* The child's ends are its own now; ours do not block the loop. */
	process_close_fd(&p->out[1]);
	process_close_fd(&p->err[1]);
	process_close_fd(&p->in[0]);
	process_close_fd(&p->status[1]);
	if (fcntl(p->out[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(p->err[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (p->in[1] >= 0 && fcntl(p->in[1], F_SETFL, O_NONBLOCK) < 0))
		l->nonblock_err = errno;
	/* Not reaped before the loop has its pid: the pid still names the child. */
	l->pidfd = pidfd_open(req->pid, 0);
	if (l->pidfd < 0)
		l->pidfd_err = errno;
	l->starttime = procstat_starttime(req->pid);
}

/* Prepares the spawn of argv, or of the exec helper that becomes spec->uid before it execs argv. */
static int process_launch_new(const struct process_spec *spec, struct process_launch **ret)
{
	struct process_launch *l = calloc(1, sizeof(*l));
	char *const *argv = spec->argv, *const *envp = spec->envp;
	struct process_pipes *p;

	if (!l)
		return -ENOMEM;
	p = &l->pipes;
	p->out[0] = p->out[1] = p->err[0] = p->err[1] = p->in[0] = p->in[1] = -1;
	p->status[0] = p->status[1] = -1;
	l->pidfd = -1;
	l->stdin_pipe = spec->stdin_len > 0;
	l->status_pipe = spec->exec_helper != NULL;
	if (spec->spawner) {
		l->argv_copy = process_strv_dup(spec->argv);
		l->envp_copy = process_strv_dup(spec->envp);
		argv = l->argv_copy;
		envp = l->envp_copy;
	}
	if (!argv || !envp || (spec->cwd && !spec->exec_helper && !(l->cwd = strdup(spec->cwd))) ||
	    (spec->exec_helper &&
	     !(l->helper_argv = exechelper_argv(spec->exec_helper, spec->uid, spec->cwd, argv)))) {
		process_launch_free(l);
		return -ENOMEM;
	}
	l->what = spec->exec_helper ? spec->exec_helper : argv[0];
	l->req = (struct spawner_req){
		.path = l->what,
		.search = !spec->exec_helper,
		.argv = l->helper_argv ? l->helper_argv : argv,
		.envp = envp,
		.fa = &l->fa,
		.attr = &l->attr,
		.work = process_launch_work,
	};
	*ret = l;
	return 0;
}

static int process_stream_init(struct process *proc, struct process_stream *s, int fd, int fd_no,
			       size_t tail_limit)
{
	s->fd = fd;
	s->fd_no = fd_no;
	s->tail_limit = tail_limit;
	s->tail = evbuffer_new();
	s->ev = event_new(proc->base, fd, EV_READ | EV_PERSIST, process_stream_cb, proc);
	if (!s->tail || !s->ev)
		return -ENOMEM;
	return event_add(s->ev, NULL) < 0 ? -ENOMEM : 0;
}

static int process_stdin_init(struct process *proc, int fd)
{
	proc->stdin_fd = fd;
	if (fd < 0)
		return 0;
	proc->stdin_ev = event_new(proc->base, fd, EV_WRITE | EV_PERSIST, process_stdin_cb, proc);
	if (!proc->stdin_ev)
		return -ENOMEM;
	return event_add(proc->stdin_ev, NULL) < 0 ? -ENOMEM : 0;
}

/* Sets up the parent's side once the child runs, with the pidfd the launch opened. */
static int process_watch(struct process *proc, struct process_launch *l)
{
	struct process_pipes *p = &l->pipes;
	int r;

	proc->pidfd = l->pidfd;
	l->pidfd = -1;
	if (l->nonblock_err)
		return -l->nonblock_err;
	if (proc->pidfd >= 0)
		proc->exit_ev = event_new(proc->base, proc->pidfd, EV_READ | EV_PERSIST,
					  process_exit_cb, proc);
	else if (l->pidfd_err == ENOSYS || l->pidfd_err == EPERM)
		/* No pidfd (old kernel, seccomp filter, valgrind): hear of it by SIGCHLD. */
		proc->exit_ev = evsignal_new(proc->base, SIGCHLD, process_exit_cb, proc);
	else
		return -l->pidfd_err;
	proc->kill_ev = evtimer_new(proc->base, process_kill_cb, proc);
	if (!proc->exit_ev || !proc->kill_ev || event_add(proc->exit_ev, NULL) < 0)
		return -ENOMEM;
	/* A SIGCHLD that came before the event was added is not lost: look once. */
	if (proc->pidfd < 0)
		event_active(proc->exit_ev, EV_SIGNAL, 1);
	r = process_stream_init(proc, &proc->out, p->out[0], STDOUT_FILENO, proc->result_tail);
	p->out[0] = -1;
	if (r == 0)
		r = process_stream_init(proc, &proc->err, p->err[0], STDERR_FILENO,
					proc->result_tail);
	p->err[0] = -1;
	if (r == 0)
		r = process_stdin_init(proc, p->in[1]);
	p->in[1] = -1;
	return r;
}

/* After posix_spawn: the parent's side, or why it did not start. Frees the launch. */
static int process_launched(struct process *proc, char **error)
{
	struct process_launch *l = proc->launch;
	struct process_pipes *p = &l->pipes;
	int r = -l->req.err;

	proc->launch = NULL;
	if (r < 0 && l->stage)
		cause_set(error, r, "%s: %s", l->stage, strerror(-r));
	else if (r < 0 && proc->helper)
		cause_set(error, r, "cannot run the exec helper \"%s\": %s", l->what, strerror(-r));
	else if (r < 0)
		cause_set(error, r, "cannot run \"%s\": %s", l->what, strerror(-r));
	if (r == 0) {
		proc->pid = l->req.pid;
		proc->starttime = l->starttime;
		proc->helper_fd = p->status[0];
		p->status[0] = -1;
		r = process_watch(proc, l);
		if (r < 0)
			cause_set(error, r, "cannot watch process %d: %s", (int)proc->pid,
				  strerror(-r));
	}
	process_launch_free(l);
	return r;
}

static void process_launched_cb(struct spawner_req *req)
{
	struct process_launch *l = (struct process_launch *)req;
	struct process *proc = l->proc;
	char *error = NULL;
	int r = process_launched(proc, &error);

	if (proc->orphaned) {
		free(error);
		process_free(proc);
		return;
	}
	if (r == 0 && proc->terminate_pending)
		process_terminate(proc);
	proc->started_cb(proc, r < 0 ? (error ? error : strerror(-r)) : NULL, proc->userdata);
	free(error);
}

int process_spawn(struct event_base *base, const struct process_spec *spec, process_done_cb done,
		  void *userdata, struct process **ret, char **error)
{
	struct process *proc;
	int r;

	*error = NULL;
	/* Through the helper, the user's rights decide: it looks itself. */
	r = spec->exec_helper ? 0 : process_check_cwd(spec->cwd, error);
	if (r < 0)
		return r;
	proc = calloc(1, sizeof(*proc));
	if (!proc)
		return -ENOMEM;
	proc->base = base;
	proc->pidfd = proc->stdin_fd = proc->out.fd = proc->err.fd = proc->helper_fd = -1;
	if ((spec->exec_helper && !(proc->helper = strdup(spec->exec_helper))) ||
	    (spec->stdin_len > 0 && !(proc->stdin_data = malloc(spec->stdin_len)))) {
		process_free(proc);
		return -ENOMEM;
	}
	if (spec->stdin_len > 0)
		memcpy(proc->stdin_data, spec->stdin_data, spec->stdin_len);
	proc->stdin_len = spec->stdin_len;
	proc->result_tail = spec->result_tail;
	proc->kill_grace_ms = spec->kill_grace_ms;
	proc->sweeper = spec->sweeper;
	proc->done_cb = done;
	proc->started_cb = spec->started;
	proc->output_cb = spec->output;
	proc->userdata = userdata;
	r = process_launch_new(spec, &proc->launch);
	if (r < 0) {
		cause_set(error, r, "cannot prepare the spawn: %s", strerror(-r));
		process_free(proc);
		return r;
	}
	proc->launch->proc = proc;
	if (spec->spawner) {
		proc->launch->req.done = process_launched_cb;
		spawner_submit(spec->spawner, &proc->launch->req);
		*ret = proc;
		return 0;
	}
	process_launch_work(&proc->launch->req);
	r = process_launched(proc, error);
	if (r < 0) {
		process_free(proc);
		return r;
	}
	*ret = proc;
	return 0;
}

pid_t process_pid(const struct process *proc)
{
	return proc->pid;
}

uint64_t process_starttime(const struct process *proc)
{
	return proc->starttime;
}

void process_terminate(struct process *proc)
{
	if (proc->launch) {
		proc->terminate_pending = true;
		return;
	}
	if (proc->done || proc->killed)
		return;
	kill(-proc->pid, SIGTERM);
	process_arm_kill(proc);
}

void process_free(struct process *proc)
{
	if (!proc)
		return;
	if (proc->launch) {
		/* The spawner still has it: it is killed and freed when it comes back. */
		proc->orphaned = true;
		return;
	}
	if (proc->pid > 0 && !proc->done) {
		kill(-proc->pid, SIGKILL);
		if (proc->pidfd >= 0)
			process_reap(proc);
		else
			waitpid(proc->pid, NULL, 0);
	}
	process_stdin_close(proc);
	process_stream_close(&proc->out);
	process_stream_close(&proc->err);
	if (proc->out.tail)
		evbuffer_free(proc->out.tail);
	if (proc->err.tail)
		evbuffer_free(proc->err.tail);
	if (proc->exit_ev)
		event_free(proc->exit_ev);
	if (proc->kill_ev)
		event_free(proc->kill_ev);
	process_close_fd(&proc->pidfd);
	process_close_fd(&proc->helper_fd);
	free(proc->stdin_data);
	free(proc->helper);
	free(proc->spawn_error);
	free(proc);
}
