/* Test helpers: run a real coordinatord and coordctl as subprocesses. Callers own what they get. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testd.h"

extern char **environ;

long long testd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void testd_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int testd_can_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = strlen(path);
	int ok;

	if (fd < 0)
		return 0;
	if (len >= sizeof(addr.sun_path)) {
		close(fd);
		return 0;
	}
	memcpy(addr.sun_path, path, len + 1);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static int testd_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

int testd_start(struct testd *d, const char *config)
{
	const char *daemon = getenv("COORDINATORD");
	const char *tmp = getenv("TMPDIR");
	char conf_path[320];
	char *argv[10];
	int argc = 0;
	long long deadline;
	int status;

	memset(d, 0, sizeof(*d));
	if (!daemon)
		return -1;
	/* Short paths: sun_path holds 108 bytes. */
	snprintf(d->dir, sizeof(d->dir), "%s/coordtest.XXXXXX",
		 tmp && strlen(tmp) < 60 ? tmp : "/tmp");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/s.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	argv[argc++] = (char *)daemon;
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--state-dir";
	argv[argc++] = d->state;
	if (config) {
		snprintf(conf_path, sizeof(conf_path), "%s/d.conf", d->dir);
		if (testd_write_file(conf_path, config) < 0)
			return -1;
		argv[argc++] = "--config";
		argv[argc++] = conf_path;
	}
	argv[argc] = NULL;
	if (posix_spawn(&d->pid, daemon, NULL, NULL, argv, environ) != 0)
		return -1;
	deadline = testd_now_ms() + 20000;
	while (testd_now_ms() < deadline) {
		if (testd_can_connect(d->sock))
			return 0;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -1;
		}
		testd_sleep_ms(20);
	}
	testd_stop(d);
	return -1;
}

int testd_wait_exit(struct testd *d, int timeout_ms)
{
	long long deadline = testd_now_ms() + timeout_ms;
	int status;

	if (d->pid <= 0)
		return -1;
	while (testd_now_ms() < deadline) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return status;
		}
		if (r < 0)
			return -1;
		testd_sleep_ms(20);
	}
	return -1;
}

static int testd_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int testd_stop(struct testd *d)
{
	int status = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		status = testd_wait_exit(d, 20000);
		if (status < 0 && d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			d->pid = 0;
		}
	}
	if (d->dir[0])
		nftw(d->dir, testd_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	d->dir[0] = '\0';
	return status;
}

char *testd_slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	size_t len = 0, cap = 4096, n;
	char *buf, *p;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

int testd_run(char *const argv[], const char *stdin_text, struct testd_run *ret)
{
	char dir[] = "/tmp/coordrun.XXXXXX";
	char in_path[64], out_path[64], err_path[64];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	memset(ret, 0, sizeof(*ret));
	if (!mkdtemp(dir))
		return -1;
	snprintf(in_path, sizeof(in_path), "%s/in", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);
	if (testd_write_file(in_path, stdin_text ? stdin_text : "") < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r == 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		ret->out = testd_slurp(out_path, &ret->out_len);
		ret->err = testd_slurp(err_path, NULL);
	}
	unlink(in_path);
	unlink(out_path);
	unlink(err_path);
	rmdir(dir);
	if (r != 0 || !ret->out || !ret->err) {
		testd_run_free(ret);
		return -1;
	}
	return 0;
}

void testd_run_free(struct testd_run *run)
{
	free(run->out);
	free(run->err);
	run->out = run->err = NULL;
}

pid_t testd_spawn_bg(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -1;
}

/* Reads one line (without the newline) into a new string, or NULL at EOF. */
static char *testd_fake_read_line(int fd)
{
	size_t len = 0, cap = 256;
	char *line = malloc(cap), *p, c;

	while (line && read(fd, &c, 1) == 1) {
		if (c == '\n') {
			line[len] = '\0';
			return line;
		}
		if (len + 2 > cap) {
			p = realloc(line, cap *= 2);
			if (!p)
				break;
			line = p;
		}
		line[len++] = c;
	}
	free(line);
	return NULL;
}

static void *testd_fake_thread(void *arg)
{
	struct testd_fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	char *line;

	if (fd < 0)
		return NULL;
	for (const char *const *s = f->script; *s; s++) {
		if (**s == '<') {
			line = testd_fake_read_line(fd);
			if (!line)
				break;
			if (f->nlines < sizeof(f->lines) / sizeof(f->lines[0]))
				f->lines[f->nlines++] = line;
			else
				free(line);
		}
		if (**s == '>' && write(fd, *s + 1, strlen(*s + 1)) < 0)
			break;
		if (**s == 'W')
			testd_sleep_ms(300);
		if (**s == 'X')
			break;
	}
	/* The client sees EOF only after what was written. */
	shutdown(fd, SHUT_WR);
	testd_sleep_ms(100);
	close(fd);
	return NULL;
}

int testd_fake_start(struct testd_fake *f, const char *const *script)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	pthread_t thread;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/coordfake.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%.64s/s.sock", f->dir);
	memcpy(addr.sun_path, f->path, strlen(f->path) + 1);
	f->script = script;
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(f->listen_fd, 4) < 0 || pthread_create(&thread, NULL, testd_fake_thread, f) != 0)
		return -1;
	f->thread = (unsigned long)thread;
	return 0;
}

void testd_fake_join(struct testd_fake *f)
{
	if (!f->joined)
		pthread_join((pthread_t)f->thread, NULL);
	f->joined = 1;
}

void testd_fake_stop(struct testd_fake *f)
{
	testd_fake_join(f);
	close(f->listen_fd);
	unlink(f->path);
	rmdir(f->dir);
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	f->nlines = 0;
}
