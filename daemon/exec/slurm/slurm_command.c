/*
 * Slurm client commands on the event loop, each with its own time limit.
 * A struct slurm_command owns its process and its timer; its owner frees
 * it, at the earliest from inside the done callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "process.h"
#include "slurm_command.h"

/* Between SIGTERM and SIGKILL for a command past its time limit. */
#define SLURM_COMMAND_KILL_GRACE_MS 1000

struct slurm_command {
	struct process *proc;
	struct event *timer;
	unsigned timeout_ms;
	bool timed_out;
	slurm_command_done_cb done;
	void *userdata;
};

static void slurm_command_exit_cb(struct process *proc, const struct process_result *res,
				  void *userdata)
{
	struct slurm_command *cmd = userdata;
	struct slurm_command_result r = {
		.ok = !cmd->timed_out && !res->signaled && res->exit_code == 0,
		.timed_out = cmd->timed_out,
		.out = res->stdout_data,
		.out_len = res->stdout_len,
		.out_truncated = res->stdout_truncated,
		.err = res->stderr_data,
		.err_len = res->stderr_len,
		.status = res->signaled ? -1 : res->exit_code,
		.timeout_ms = cmd->timeout_ms,
	};

	evtimer_del(cmd->timer);
	cmd->done(cmd, &r, cmd->userdata); /* may free cmd: nothing after this */
}

static void slurm_command_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slurm_command *cmd = arg;

	cmd->timed_out = true;
	process_terminate(cmd->proc);
}

/*
 * The environment of every command: nothing a task or the daemon's caller
 * could use to change what sbatch, squeue or scancel do (LD_PRELOAD,
 * SBATCH_*, SQUEUE_FORMAT, ...), but where the cluster's config is.
 */
static void slurm_command_env(char **envp, char *conf, size_t size)
{
	const char *path = getenv("SLURM_CONF");
	size_t n = 0;

	envp[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	envp[n++] = "LC_ALL=C";
	if (path && snprintf(conf, size, "SLURM_CONF=%s", path) < (int)size)
		envp[n++] = conf;
	envp[n] = NULL;
}

int slurm_command_run(struct event_base *base, const struct slurm_command_spec *spec,
		      slurm_command_done_cb done, void *userdata, struct slurm_command **ret,
		      char **error)
{
	char *envp[4], conf[4200];
	struct process_spec ps = {
		.argv = spec->argv,
		.envp = envp,
		.stdin_data = spec->stdin_data,
		.stdin_len = spec->stdin_len,
		.result_tail = spec->output_limit,
		.kill_grace_ms = SLURM_COMMAND_KILL_GRACE_MS,
	};
	struct timeval tv = {
		.tv_sec = spec->timeout_ms / 1000,
		.tv_usec = (spec->timeout_ms % 1000) * 1000,
	};
	struct slurm_command *cmd = calloc(1, sizeof(*cmd));
	int r;

	*error = NULL;
	if (!cmd)
		return -ENOMEM;
	slurm_command_env(envp, conf, sizeof(conf));
	cmd->done = done;
	cmd->userdata = userdata;
	cmd->timeout_ms = spec->timeout_ms;
	cmd->timer = evtimer_new(base, slurm_command_timeout_cb, cmd);
	if (!cmd->timer) {
		free(cmd);
		return -ENOMEM;
	}
	r = process_spawn(base, &ps, slurm_command_exit_cb, cmd, &cmd->proc, error);
	if (r == 0 && evtimer_add(cmd->timer, &tv) < 0)
		r = -ENOMEM;
	if (r < 0) {
		slurm_command_free(cmd);
		return r;
	}
	*ret = cmd;
	return 0;
}

static long long slurm_command_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void slurm_command_wait(struct slurm_command *cmd, unsigned timeout_ms)
{
	long long deadline = slurm_command_now_ms() + timeout_ms;
	pid_t pid = process_pid(cmd->proc);

	while (slurm_command_now_ms() < deadline) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		/* WNOWAIT: process.c reaps it when the command is freed. */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != 0)
			return;
		usleep(10000);
	}
}

void slurm_command_free(struct slurm_command *cmd)
{
	if (!cmd)
		return;
	process_free(cmd->proc);
	if (cmd->timer)
		event_free(cmd->timer);
	free(cmd);
}

void slurm_command_describe(const struct slurm_command_result *res, char *buf, size_t size)
{
	const char *err = res->err ? res->err : "";
	size_t n = res->err_len;

	/* The end of stderr is what a Slurm command says went wrong. */
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		n--;
	if (n > 400) {
		err += n - 400;
		n = 400;
	}
	if (res->timed_out)
		snprintf(buf, size, "no answer within %u ms%s%.*s", res->timeout_ms, n ? ": " : "",
			 (int)n, err);
	else if (res->status < 0)
		snprintf(buf, size, "killed by a signal%s%.*s", n ? ": " : "", (int)n, err);
	else
		snprintf(buf, size, "exit status %d%s%.*s", res->status, n ? ": " : "", (int)n,
			 err);
}
