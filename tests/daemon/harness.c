/* The integration harness: a real coordinatord and a raw NDJSON client (see harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "checkrun.h"
#include "harness.h"
#include "procstat.h"

extern char **environ;

long long harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool harness_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (harness_now_ms() >= deadline)
			return false;
		harness_sleep_ms(20);
	}
}

static void harness_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static char *harness_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t len = 0, cap = 4096, n;
	char *buf;

	if (!f)
		return strdup("");
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

void harness_daemon_init(struct harness_daemon *d, const char *config)
{
	memset(d, 0, sizeof(*d));
	/* Short paths: sun_path holds 108 bytes. */
	snprintf(d->dir, sizeof(d->dir), "/tmp/coorditest.XXXXXX");
	ck_assert_msg(mkdtemp(d->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(d->sock, sizeof(d->sock), "%s/d.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	if (config)
		harness_daemon_write_config(d, config);
}

void harness_daemon_write_config(struct harness_daemon *d, const char *config)
{
	snprintf(d->conf, sizeof(d->conf), "%s/d.conf", d->dir);
	harness_write_file(d->conf, config);
}

/*
 * Our environment for the daemon. A daemon built with ASan keeps freed
 * memory in quarantine (256 MB by default): where a test measures its RSS,
 * the quarantine is made small so it measures the daemon, not ASan.
 */
static char **harness_daemon_env(const struct harness_daemon *d)
{
	const char *asan = getenv("ASAN_OPTIONS");
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(char *));
	ck_assert_ptr_nonnull(env);
	for (size_t i = 0; i < n; i++)
		if (!d->measure_memory || strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
			env[j++] = strdup(environ[i]);
	if (d->measure_memory)
		ck_assert_int_ge(asprintf(&env[j++], "ASAN_OPTIONS=%s%squarantine_size_mb=1",
					  asan ? asan : "", asan && *asan ? ":" : ""),
				 0);
	return env;
}

static void harness_free_env(char **env)
{
	for (char **p = env; *p; p++)
		free(*p);
	free(env);
}

pid_t harness_daemon_spawn(struct harness_daemon *d)
{
	const char *daemon = getenv("COORDINATORD");
	posix_spawn_file_actions_t fa;
	char *argv[12], **envp;
	int argc = 0, r;
	pid_t pid;

	ck_assert_msg(daemon != NULL, "COORDINATORD is not set");
	argv[argc++] = (char *)daemon;
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--state-dir";
	argv[argc++] = d->state;
	if (d->conf[0]) {
		argv[argc++] = "--config";
		argv[argc++] = d->conf;
	}
	argv[argc] = NULL;
	envp = harness_daemon_env(d);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawn(&pid, daemon, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	harness_free_env(envp);
	ck_assert_msg(r == 0, "cannot spawn %s: %s", daemon, strerror(r));
	return pid;
}

static bool harness_can_connect(const char *path)
{
	struct harness_client *c = harness_connect(path);

	if (!c)
		return false;
	harness_client_free(c);
	return true;
}

void harness_daemon_start(struct harness_daemon *d)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int status;

	d->pid = harness_daemon_spawn(d);
	while (!harness_can_connect(d->sock)) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			char *log = harness_daemon_log(d);

			d->pid = 0;
			ck_abort_msg("coordinatord exited at start (status %#x): %s", status, log);
		}
		if (harness_now_ms() > deadline) {
			kill(d->pid, SIGKILL);
			ck_abort_msg("coordinatord did not accept on %s in time", d->sock);
		}
		harness_sleep_ms(20);
	}
}

void harness_daemon_new(struct harness_daemon *d, const char *config)
{
	harness_daemon_init(d, config);
	harness_daemon_start(d);
}

void harness_fixture_start(struct harness_fixture *fx, const char *config)
{
	fx->client = NULL;
	harness_daemon_new(&fx->daemon, config);
	fx->client = harness_client_new(fx->daemon.sock);
}

void harness_fixture_stop(struct harness_fixture *fx)
{
	harness_client_free(fx->client);
	fx->client = NULL;
	harness_daemon_cleanup(&fx->daemon);
}

void harness_fixture_start_over(struct harness_fixture *fx, const char *config)
{
	harness_fixture_stop(fx);
	harness_fixture_start(fx, config);
}

void harness_fixture_connect(struct harness_fixture *fx)
{
	harness_client_free(fx->client);
	fx->client = NULL;
	fx->client = harness_client_new(fx->daemon.sock);
}

const char *harness_fifo(const struct harness_daemon *d, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", d->dir, name);
	ck_assert_msg(mkfifo(path, 0600) == 0, "mkfifo %s: %s", path, strerror(errno));
	return path;
}

void harness_fifo_write(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(write(fd, text, len) == (ssize_t)len, "write %s: %s", path, strerror(errno));
	close(fd);
}

int harness_daemon_wait_exit(struct harness_daemon *d, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;
	int status;

	if (d->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return status;
		}
		if (r < 0 || harness_now_ms() >= deadline)
			return -1;
		harness_sleep_ms(20);
	}
}

void harness_expect_bad_config(struct harness_daemon *d, const char *config, const char *want)
{
	char *log;
	int status;

	harness_daemon_init(d, config);
	d->pid = harness_daemon_spawn(d);
	status = harness_daemon_wait_exit(d, HARNESS_WAIT_MS);
	d->pid = 0;
	log = harness_daemon_log(d);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x: %s", status, log);
	ck_assert_msg(strstr(log, want), "\"%s\" not in: %s", want, log);
	free(log);
	harness_daemon_cleanup(d);
}

int harness_daemon_stop(struct harness_daemon *d)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	status = harness_daemon_wait_exit(d, HARNESS_WAIT_MS);
	if (status < 0 && d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
		ck_abort_msg("coordinatord did not stop on SIGTERM");
	}
	return status;
}

static int harness_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void harness_daemon_cleanup(struct harness_daemon *d)
{
	static const char *const reports[] = {"AddressSanitizer", "LeakSanitizer",
					      "runtime error:"};
	char *log;

	if (d->pid > 0)
		harness_daemon_stop(d);
	if (!d->dir[0])
		return;
	log = harness_daemon_log(d);
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		char *hit = strstr(log, reports[i]);

		if (hit) {
			char report[2048];

			snprintf(report, sizeof(report), "%s", hit);
			free(log);
			nftw(d->dir, harness_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
			d->dir[0] = '\0';
			ck_abort_msg("coordinatord reported: %s", report);
		}
	}
	free(log);
	if (d->dir[0])
		nftw(d->dir, harness_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	d->dir[0] = '\0';
}

char *harness_daemon_log(const struct harness_daemon *d)
{
	return harness_slurp(d->log);
}

size_t harness_log_len(const struct harness_daemon *d)
{
	char *log = harness_daemon_log(d);
	size_t n = strlen(log);

	free(log);
	return n;
}

long harness_log_sum(const struct harness_daemon *d, const char *text)
{
	char *log = harness_daemon_log(d);
	long total = 0;

	for (char *hit = strstr(log, text); hit; hit = strstr(hit + 1, text)) {
		char *start = hit;

		while (start > log && start[-1] >= '0' && start[-1] <= '9')
			start--;
		total += strtol(start, NULL, 10);
	}
	free(log);
	return total;
}

struct harness_log_wait {
	const struct harness_daemon *d;
	size_t from;
	const char *needle;
};

static bool harness_log_has_cb(void *arg)
{
	struct harness_log_wait *w = arg;
	char *log = harness_daemon_log(w->d);
	bool found = strlen(log) > w->from && strstr(log + w->from, w->needle);

	free(log);
	return found;
}

bool harness_log_wait(const struct harness_daemon *d, size_t from, const char *needle,
		      int timeout_ms)
{
	struct harness_log_wait w = {d, from, needle};

	return harness_until(harness_log_has_cb, &w, timeout_ms);
}

/* In the child of harness_call_as: the answer's code, as text on fd. */
static void harness_call_as_child(const char *sock, uid_t uid, const char *line, int fd)
{
	struct harness_client *c;
	json_object *o, *v;
	char *text, code[32] = "-1";
	bool eof;

	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
		_exit(2);
	c = harness_connect(sock);
	if (!c || harness_send_raw(c, line, strlen(line)) < 0)
		_exit(3);
	text = harness_read_line(c, HARNESS_WAIT_MS, &eof);
	o = text ? json_tokener_parse(text) : NULL;
	if (o && json_object_object_get_ex(o, "result", NULL))
		snprintf(code, sizeof(code), "0");
	else if (o && json_object_object_get_ex(o, "error", &v))
		snprintf(code, sizeof(code), "%d",
			 json_object_get_int(json_object_object_get(v, "code")));
	_exit(write(fd, code, strlen(code)) < 0 ? 4 : 0);
}

int harness_call_as(const char *sock, uid_t uid, const char *line)
{
	char code[32] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		harness_call_as_child(sock, uid, line, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], code, sizeof(code) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0,
		      "the request as uid %u failed (status %#x)", (unsigned)uid, status);
	return atoi(code);
}

bool harness_pid_alive(pid_t pid)
{
	struct procstat st;

	return procstat_read(pid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

pid_t harness_read_pid(const char *path)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int pid = 0;

	for (;;) {
		FILE *f = fopen(path, "re");

		if (f) {
			int ok = fscanf(f, "%d", &pid) == 1;

			fclose(f);
			if (ok && pid > 0)
				return pid;
		}
		ck_assert_msg(harness_now_ms() < deadline, "%s never had a pid", path);
		harness_sleep_ms(20);
	}
}

long harness_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

sqlite3 *harness_db_open(const struct harness_daemon *d)
{
	char path[256];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/history.sqlite3", d->state);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	ck_assert_msg(rc == SQLITE_OK, "cannot open %s: %s", path, sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

long long harness_db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	ck_assert_msg(rc == SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int harness_run(char *const argv[], char **ret_err)
{
	char path[] = "/tmp/coorditest-run.XXXXXX";
	posix_spawn_file_actions_t fa;
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int fd = mkstemp(path), status, r;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	close(fd);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_TRUNC, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(r == 0, "cannot spawn %s: %s", argv[0], strerror(r));
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (harness_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			unlink(path);
			ck_abort_msg("%s did not exit in time", argv[0]);
		}
		harness_sleep_ms(20);
	}
	*ret_err = harness_slurp(path);
	unlink(path);
	return status;
}

/* ---- the client ---- */

struct harness_client *harness_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct harness_client *c;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return NULL;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->fd = fd;
	c->next_id = 1;
	c->backlog = json_object_new_array();
	return c;
}

struct harness_client *harness_client_new(const char *path)
{
	struct harness_client *c = harness_connect(path);

	ck_assert_msg(c != NULL, "cannot connect to %s: %s", path, strerror(errno));
	return c;
}

void harness_client_free(struct harness_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	json_object_put(c->backlog);
	free(c);
}

int harness_send_raw(struct harness_client *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void harness_send(struct harness_client *c, const char *text)
{
	int r = harness_send_raw(c, text, strlen(text));

	ck_assert_msg(r == 0, "cannot write to the daemon: %s", strerror(-r));
}

/* Takes one line out of the buffer, or NULL if there is no complete one. */
static char *harness_take_line(struct harness_client *c)
{
	char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
	size_t n;
	char *line;

	if (!nl)
		return NULL;
	n = (size_t)(nl - c->buf);
	line = malloc(n + 1);
	ck_assert_ptr_nonnull(line);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return line;
}

char *harness_read_line(struct harness_client *c, int timeout_ms, bool *ret_eof)
{
	long long deadline = harness_now_ms() + timeout_ms;
	char *line;

	if (ret_eof)
		*ret_eof = false;
	while (!(line = harness_take_line(c))) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		long long left = deadline - harness_now_ms();
		ssize_t n;

		if (left < 0)
			left = 0;
		if (poll(&pfd, 1, (int)left) == 0)
			return NULL;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap);
			ck_assert_ptr_nonnull(c->buf);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (ret_eof)
				*ret_eof = true;
			return NULL;
		}
		c->len += (size_t)n;
	}
	return line;
}

static json_object *harness_parse_line(const char *line)
{
	enum json_tokener_error err;
	json_object *o = json_tokener_parse_verbose(line, &err);

	ck_assert_msg(o != NULL, "the daemon sent a line that is not JSON (%s): %.300s",
		      json_tokener_error_desc(err), line);
	return o;
}

/* The next line read from the socket (not the backlog), or NULL on timeout. */
static json_object *harness_read_socket_json(struct harness_client *c, int timeout_ms)
{
	bool eof;
	char *line = harness_read_line(c, timeout_ms, &eof);
	json_object *o;

	ck_assert_msg(!eof, "the daemon closed the connection");
	if (!line)
		return NULL;
	o = harness_parse_line(line);
	free(line);
	return o;
}

json_object *harness_read_json(struct harness_client *c, int timeout_ms)
{
	json_object *o;

	if (json_object_array_length(c->backlog) > 0) {
		o = json_object_get(json_object_array_get_idx(c->backlog, 0));
		json_object_array_del_idx(c->backlog, 0, 1);
		return o;
	}
	o = harness_read_socket_json(c, timeout_ms);
	ck_assert_msg(o != NULL, "no answer from the daemon within %d ms", timeout_ms);
	return o;
}

json_object *harness_next_json(struct harness_client *c, int timeout_ms, bool *ret_eof)
{
	json_object *o;
	bool eof;
	char *line;

	if (ret_eof)
		*ret_eof = false;
	if (json_object_array_length(c->backlog) > 0) {
		o = json_object_get(json_object_array_get_idx(c->backlog, 0));
		json_object_array_del_idx(c->backlog, 0, 1);
		return o;
	}
	line = harness_read_line(c, timeout_ms, &eof);
	if (ret_eof)
		*ret_eof = eof;
	if (!line)
		return NULL;
	o = harness_parse_line(line);
	free(line);
	return o;
}

bool harness_silent(struct harness_client *c, int ms)
{
	bool eof;
	char *line;

	if (json_object_array_length(c->backlog) > 0)
		return false;
	line = harness_read_line(c, ms, &eof);
	if (!line)
		return true;
	/* Keep it for whoever looks next. */
	json_object_array_add(c->backlog, harness_parse_line(line));
	free(line);
	return false;
}

bool harness_wait_eof(struct harness_client *c, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		long long left = deadline - harness_now_ms();
		bool eof;
		char *line;

		if (left <= 0)
			return false;
		line = harness_read_line(c, (int)left, &eof);
		if (eof)
			return true;
		if (!line)
			return false;
		free(line);
	}
}

static json_object *harness_json_v(const char *fmt, va_list ap)
{
	enum json_tokener_error err;
	json_object *o;
	char *text;

	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	o = json_tokener_parse_verbose(text, &err);
	ck_assert_msg(o != NULL, "bad JSON in a test (%s): %s", json_tokener_error_desc(err), text);
	free(text);
	return o;
}

json_object *harness_json(const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = harness_json_v(fmt, ap);
	va_end(ap);
	return o;
}

void harness_submit_json(struct harness_client *c, const char *fmt, ...)
{
	json_object *params;
	va_list ap;

	va_start(ap, fmt);
	params = harness_json_v(fmt, ap);
	va_end(ap);
	json_object_put(harness_ok(c, "submit", params));
}

long long harness_call_async(struct harness_client *c, const char *method, json_object *params)
{
	json_object *req = json_object_new_object();
	long long id = c->next_id++;
	const char *text;

	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	harness_send(c, text);
	harness_send(c, "\n");
	json_object_put(req);
	return id;
}

static bool harness_is_response(json_object *o, long long id)
{
	json_object *v;

	return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &v) &&
	       json_object_is_type(v, json_type_int) && json_object_get_int64(v) == id &&
	       !json_object_object_get_ex(o, "method", NULL);
}

json_object *harness_response(struct harness_client *c, long long id, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;

	for (size_t i = 0; i < json_object_array_length(c->backlog); i++) {
		json_object *o = json_object_array_get_idx(c->backlog, i);

		if (harness_is_response(o, id)) {
			json_object_get(o);
			json_object_array_del_idx(c->backlog, i, 1);
			return o;
		}
	}
	for (;;) {
		long long left = deadline - harness_now_ms();
		json_object *o = harness_read_socket_json(c, left > 0 ? (int)left : 0);

		ck_assert_msg(o != NULL, "no response to request %lld within %d ms", id,
			      timeout_ms);
		if (harness_is_response(o, id))
			return o;
		json_object_array_add(c->backlog, o);
	}
}

json_object *harness_call(struct harness_client *c, const char *method, json_object *params,
			  int timeout_ms)
{
	return harness_response(c, harness_call_async(c, method, params), timeout_ms);
}

json_object *harness_ok(struct harness_client *c, const char *method, json_object *params)
{
	json_object *resp = harness_call(c, method, params, HARNESS_WAIT_MS), *result, *err;

	ck_assert_msg(!json_object_object_get_ex(resp, "error", &err), "%s failed: %s", method,
		      json_object_to_json_string(err));
	ck_assert_msg(json_object_object_get_ex(resp, "result", &result) &&
			      json_object_is_type(result, json_type_object),
		      "%s: the result is not an object: %s", method,
		      json_object_to_json_string(resp));
	json_object_get(result);
	json_object_put(resp);
	return result;
}

int harness_err(struct harness_client *c, const char *method, json_object *params, char **ret_msg)
{
	json_object *resp = harness_call(c, method, params, HARNESS_WAIT_MS), *err;
	int code;

	ck_assert_msg(json_object_object_get_ex(resp, "error", &err), "%s should have failed: %s",
		      method, json_object_to_json_string(resp));
	ck_assert(!json_object_object_get_ex(resp, "result", NULL));
	code = (int)harness_int(err, "code");
	ck_assert_ptr_nonnull(harness_str(err, "message"));
	if (ret_msg)
		*ret_msg = strdup(harness_str(err, "message"));
	json_object_put(resp);
	return code;
}

static bool harness_is_notification(json_object *o, const char *method)
{
	json_object *v;

	return json_object_is_type(o, json_type_object) &&
	       json_object_object_get_ex(o, "method", &v) &&
	       json_object_is_type(v, json_type_string) &&
	       strcmp(json_object_get_string(v), method) == 0 &&
	       !json_object_object_get_ex(o, "id", NULL);
}

json_object *harness_notification(struct harness_client *c, const char *method, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;

	for (size_t i = 0; i < json_object_array_length(c->backlog); i++) {
		json_object *o = json_object_array_get_idx(c->backlog, i);

		if (harness_is_notification(o, method)) {
			json_object_get(o);
			json_object_array_del_idx(c->backlog, i, 1);
			return o;
		}
	}
	for (;;) {
		long long left = deadline - harness_now_ms();
		json_object *o;

		if (left <= 0)
			return NULL;
		o = harness_read_socket_json(c, (int)left);
		if (!o)
			return NULL;
		if (harness_is_notification(o, method))
			return o;
		json_object_array_add(c->backlog, o);
	}
}

json_object *harness_submit(struct harness_client *c, const char *mode, const char *const *argv)
{
	json_object *params = json_object_new_object(), *node = json_object_new_object();
	json_object *args = json_object_new_array(), *result, *job;

	for (size_t i = 0; argv[i]; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(node, "argv", args);
	json_object_object_add(params, "node", node);
	if (mode)
		json_object_object_add(params, "mode", json_object_new_string(mode));
	result = harness_ok(c, "submit", params);
	job = json_object_get(harness_get(result, "job"));
	json_object_put(result);
	return job;
}

json_object *harness_wait_job(struct harness_client *c, const char *request_id)
{
	json_object *result =
		harness_ok(c, "wait",
			   harness_json("{\"request_ids\":[\"%s\"],\"timeout_ms\":%d}", request_id,
					HARNESS_WAIT_MS));
	json_object *job = json_object_get(harness_get(result, "jobs.0"));

	json_object_put(result);
	ck_assert_str_eq(harness_str(job, "status"), "closed");
	return job;
}

json_object *harness_job(struct harness_client *c, const char *request_id)
{
	json_object *r = harness_ok(c, "job", harness_json("{\"request_id\":\"%s\"}", request_id));
	json_object *job = json_object_get(harness_get(r, "job"));

	json_object_put(r);
	return job;
}

json_object *harness_wait_running(struct harness_client *c, const char *request_id)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;

	for (;;) {
		json_object *job = harness_job(c, request_id);

		if (strcmp(harness_str(job, "phase"), "running") == 0)
			return job;
		ck_assert_msg(strcmp(harness_str(job, "status"), "opened") == 0,
			      "%s closed before it ran", request_id);
		json_object_put(job);
		ck_assert_msg(harness_now_ms() < deadline, "%s never started", request_id);
		harness_sleep_ms(20);
	}
}

json_object *harness_find_named(json_object *array, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		json_object *m = json_object_array_get_idx(array, i);

		if (strcmp(harness_str(m, "name"), name) == 0)
			return m;
	}
	ck_abort_msg("no element named %s in %s", name, json_object_to_json_string(array));
	return NULL;
}

json_object *harness_get(json_object *o, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	json_object *cur = o;

	ck_assert_ptr_nonnull(copy);
	for (char *key = strtok_r(copy, ".", &save); key; key = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;

		if (json_object_is_type(cur, json_type_array)) {
			size_t idx = strtoul(key, NULL, 10);

			ck_assert_msg(idx < json_object_array_length(cur),
				      "%s: index %zu out of range in %s", path, idx,
				      json_object_to_json_string(o));
			next = json_object_array_get_idx(cur, idx);
		} else {
			ck_assert_msg(json_object_is_type(cur, json_type_object) &&
					      json_object_object_get_ex(cur, key, &next),
				      "%s: no member \"%s\" in %s", path, key,
				      json_object_to_json_string(o));
		}
		cur = next;
	}
	free(copy);
	return cur;
}

const char *harness_str(json_object *o, const char *path)
{
	json_object *v = harness_get(o, path);

	if (!v)
		return NULL;
	ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string in %s", path,
		      json_object_to_json_string(o));
	return json_object_get_string(v);
}

long long harness_int(json_object *o, const char *path)
{
	json_object *v = harness_get(o, path);

	ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer in %s", path,
		      json_object_to_json_string(o));
	return json_object_get_int64(v);
}

bool harness_is_null(json_object *o, const char *path)
{
	return harness_get(o, path) == NULL;
}

int harness_run_suite(Suite *suite)
{
	return checkrun(suite);
}

json_object *harness_request_as(const char *sock, uid_t uid, gid_t gid, const gid_t *groups,
				size_t ngroups, const char *line)
{
	char buf[65536];
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct harness_client *c;
		char *answer;
		bool eof;

		close(fds[0]);
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(100);
		c = harness_connect(sock);
		if (!c)
			_exit(101);
		harness_send_raw(c, line, strlen(line));
		answer = harness_read_line(c, HARNESS_WAIT_MS, &eof);
		if (!answer)
			_exit(102);
		if (write(fds[1], answer, strlen(answer)) < 0)
			_exit(103);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	buf[len] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the client as uid %u failed (status %#x)", (unsigned)uid, status);
	return harness_json("%s", buf);
}
