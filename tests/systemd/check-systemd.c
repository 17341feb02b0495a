/*
 * coordinatord as systemd runs it, without systemd as PID 1: socket
 * activation through systemd-socket-activate, the sd_notify protocol
 * through a NOTIFY_SOCKET this test binds, and access control with
 * clients of another uid (setpriv). The daemon runs as root here, like
 * its tasks. Every string and json_object a helper returns is the caller's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <json-c/json.h>

#include "checkrun.h"

#define SD_WAIT_MS 30000
#define SD_NOBODY  "65534"

extern char **environ;

/* One daemon under test, in a temp dir every uid may enter. */
struct sd_daemon {
	char dir[32];
	char sock[64];
	char state[64];
	char conf[64];
	char log[64];
	char notify[64];
	char client[64]; /* a copy of sd-client that nobody may run */
	int notify_fd;
	pid_t pid;
	char *notes; /* every datagram received, each followed by "\n--\n" */
	size_t notes_len;
	size_t notes_seen; /* sd_expect_note searches from here */
};

static long long sd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sd_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void sd_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static char *sd_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static void sd_copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	char buf[65536];
	ssize_t n;

	ck_assert_msg(in >= 0 && out >= 0, "cannot copy %s to %s: %s", from, to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	ck_assert_int_eq(fchmod(out, mode), 0);
	ck_assert_int_eq(close(out), 0);
}

static void sd_init(struct sd_daemon *d, const char *config)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *client = getenv("SD_CLIENT");

	memset(d, 0, sizeof(*d));
	d->notify_fd = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/coordsdtest.XXXXXX");
	ck_assert_msg(mkdtemp(d->dir) != NULL, "mkdtemp: %s", strerror(errno));
	/* uid 65534 must reach the socket and run the client copied here. */
	ck_assert_int_eq(chmod(d->dir, 0755), 0);
	snprintf(d->sock, sizeof(d->sock), "%s/d.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/d.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify.sock", d->dir);
	snprintf(d->client, sizeof(d->client), "%s/sd-client", d->dir);
	sd_write_file(d->conf, config);
	ck_assert_msg(client != NULL, "SD_CLIENT is not set");
	sd_copy_file(client, d->client, 0755);

	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(d->notify_fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->notify);
	ck_assert_msg(bind(d->notify_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind %s: %s",
		      d->notify, strerror(errno));
}

static int sd_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Reads every datagram waiting (up to timeout_ms for the first). */
static void sd_read_notes(struct sd_daemon *d, int timeout_ms)
{
	struct pollfd pfd = {.fd = d->notify_fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return;
	while ((n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
		d->notes = realloc(d->notes, d->notes_len + (size_t)n + 5);
		ck_assert_ptr_nonnull(d->notes);
		memcpy(d->notes + d->notes_len, buf, (size_t)n);
		memcpy(d->notes + d->notes_len + n, "\n--\n", 5);
		d->notes_len += (size_t)n + 4;
	}
}

static int sd_wait_exit(struct sd_daemon *d, int timeout_ms)
{
	long long deadline = sd_now_ms() + timeout_ms;
	int status;

	while (d->pid > 0) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return status;
		}
		if (r < 0 || sd_now_ms() >= deadline)
			return -1;
		/* Read as systemd does: a full notify socket blocks the daemon's sd_notify. */
		sd_read_notes(d, 20);
	}
	return -1;
}

/* Reads the daemon's notes for ms milliseconds. */
static void sd_read_notes_for(struct sd_daemon *d, int ms)
{
	long long end = sd_now_ms() + ms;

	while (sd_now_ms() < end)
		sd_read_notes(d, (int)(end - sd_now_ms()));
}

/* Waits for a client of the test to end, reading the daemon's notes meanwhile (see above). */
static int sd_wait_client(struct sd_daemon *d, pid_t pid)
{
	long long deadline = sd_now_ms() + SD_WAIT_MS;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		ck_assert_msg(r == 0 && sd_now_ms() < deadline, "the client did not end in time");
		sd_read_notes(d, 20);
	}
}

static void sd_cleanup(struct sd_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	free(d->notes);
	nftw(d->dir, sd_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Spawns argv through "sh -c" so that WATCHDOG_PID is the pid the daemon
 * ends up with (sh and everything after it exec, keeping the pid), with
 * NOTIFY_SOCKET and WATCHDOG_USEC in the environment.
 */
static void sd_spawn(struct sd_daemon *d, const char *watchdog_pid, char *const *argv)
{
	char notify_env[160], *args[32], **env;
	posix_spawn_file_actions_t fa;
	size_t n = 0, argc = 0;
	int r;

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(char *));
	ck_assert_ptr_nonnull(env);
	n = 0;
	for (size_t i = 0; environ[i]; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) &&
		    strncmp(environ[i], "WATCHDOG_", 9) && strncmp(environ[i], "LISTEN_", 7) &&
		    strncmp(environ[i], "COORD_", 6))
			env[n++] = environ[i];
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", d->notify);
	env[n++] = notify_env;
	env[n++] = "WATCHDOG_USEC=200000";
	env[n] = NULL;

	args[argc++] = "/bin/sh";
	args[argc++] = "-c";
	args[argc++] = watchdog_pid ? "WATCHDOG_PID=$1; export WATCHDOG_PID; shift; exec \"$@\""
				    : "WATCHDOG_PID=$$; export WATCHDOG_PID; shift; exec \"$@\"";
	args[argc++] = "sh";
	args[argc++] = (char *)(watchdog_pid ? watchdog_pid : "-");
	for (size_t i = 0; argv[i]; i++)
		args[argc++] = argv[i];
	args[argc] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawn(&d->pid, "/bin/sh", &fa, NULL, args, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	ck_assert_msg(r == 0, "cannot spawn /bin/sh: %s", strerror(r));
}

/* coordinatord binding its own socket, as when started by hand. */
static void sd_spawn_direct(struct sd_daemon *d, const char *watchdog_pid)
{
	char *argv[] = {getenv("COORDINATORD"),
			"--socket",
			d->sock,
			"--state-dir",
			d->state,
			"--config",
			d->conf,
			NULL};

	ck_assert_msg(argv[0] != NULL, "COORDINATORD is not set");
	sd_spawn(d, watchdog_pid, argv);
}

/* coordinatord started by systemd-socket-activate on the first connection. */
static void sd_spawn_activated(struct sd_daemon *d)
{
	char *argv[] = {"systemd-socket-activate",
			"-l",
			d->sock,
			"-E",
			"NOTIFY_SOCKET",
			"-E",
			"WATCHDOG_USEC",
			"-E",
			"WATCHDOG_PID",
			"--",
			getenv("COORDINATORD"),
			"--state-dir",
			d->state,
			"--config",
			d->conf,
			NULL};

	ck_assert_msg(argv[10] != NULL, "COORDINATORD is not set");
	sd_spawn(d, NULL, argv);
}

/* Whether a datagram received since the last call holds a line starting with what. */
static const char *sd_find_note(struct sd_daemon *d, const char *what)
{
	const char *p = d->notes ? d->notes + d->notes_seen : NULL;
	size_t wlen = strlen(what);

	while (p && *p) {
		if (strncmp(p, what, wlen) == 0)
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Waits for a line starting with what; returns the datagram's text from that line. */
static char *sd_expect_note(struct sd_daemon *d, const char *what, int timeout_ms)
{
	long long deadline = sd_now_ms() + timeout_ms;
	const char *hit, *end;
	char *out;

	for (;;) {
		hit = sd_find_note(d, what);
		if (hit)
			break;
		if (sd_now_ms() >= deadline) {
			char *log = sd_slurp(d->log);

			ck_abort_msg("no %s from the daemon; got:\n%s\nlog:\n%s", what,
				     d->notes ? d->notes : "(nothing)", log);
		}
		sd_read_notes(d, 50);
	}
	end = strstr(hit, "\n--\n");
	out = strndup(hit, (size_t)(end - hit));
	d->notes_seen = (size_t)(end - d->notes) + 4;
	return out;
}

static int sd_count_notes(struct sd_daemon *d, const char *what)
{
	int count = 0;
	size_t seen = d->notes_seen;

	while (sd_find_note(d, what)) {
		count++;
		d->notes_seen = (size_t)(strstr(sd_find_note(d, what), "\n--\n") - d->notes) + 4;
	}
	d->notes_seen = seen;
	return count;
}

static bool sd_can_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Starts the sd-client copy with lines, as root (who == NULL) or through
 * setpriv with the given uid/gid options. With ret_stdin, its stdin is a
 * pipe whose writing end is returned (for "@wait"), else /dev/null.
 */
static pid_t sd_client_spawn(struct sd_daemon *d, const char *const *who, const char *const *lines,
			     int *ret_stdin)
{
	char *argv[32], outpath[96];
	posix_spawn_file_actions_t fa;
	size_t argc = 0;
	int r, pipefd[2] = {-1, -1};
	pid_t pid;

	if (who) {
		argv[argc++] = "setpriv";
		for (size_t i = 0; who[i]; i++)
			argv[argc++] = (char *)who[i];
		argv[argc++] = "--";
	}
	argv[argc++] = d->client;
	argv[argc++] = d->sock;
	for (size_t i = 0; lines[i]; i++)
		argv[argc++] = (char *)lines[i];
	argv[argc] = NULL;
	snprintf(outpath, sizeof(outpath), "%s/client.out", d->dir);
	posix_spawn_file_actions_init(&fa);
	if (ret_stdin) {
		ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
		posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
	} else {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	}
	posix_spawn_file_actions_addopen(&fa, 1, outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(r == 0, "cannot spawn %s: %s", argv[0], strerror(r));
	if (ret_stdin) {
		close(pipefd[0]);
		*ret_stdin = pipefd[1];
	}
	return pid;
}

/* The lines the client printed so far, as an array of answers. */
static json_object *sd_client_output(struct sd_daemon *d)
{
	json_object *answers = json_object_new_array();
	char outpath[96], *out, *line, *save = NULL;

	snprintf(outpath, sizeof(outpath), "%s/client.out", d->dir);
	out = sd_slurp(outpath);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);

		ck_assert_msg(o != NULL, "not JSON from the daemon: %s", line);
		json_object_array_add(answers, o);
	}
	free(out);
	return answers;
}

/* Waits for the client to end well; all its answers. */
static json_object *sd_client_finish(struct sd_daemon *d, pid_t pid)
{
	int status = sd_wait_client(d, pid);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the client failed with status %#x", status);
	return sd_client_output(d);
}

static json_object *sd_client(struct sd_daemon *d, const char *const *who, const char *const *lines)
{
	return sd_client_finish(d, sd_client_spawn(d, who, lines, NULL));
}

static const char *const sd_as_nobody[] = {"--reuid=" SD_NOBODY, "--regid=" SD_NOBODY,
					   "--clear-groups", NULL};

/* One request line; its answer (one reference). */
static json_object *sd_call(struct sd_daemon *d, const char *const *who, const char *line)
{
	const char *lines[] = {line, NULL};
	json_object *answers = sd_client(d, who, lines);
	json_object *one;

	ck_assert_int_eq(json_object_array_length(answers), 1);
	one = json_object_get(json_object_array_get_idx(answers, 0));
	json_object_put(answers);
	return one;
}

static json_object *sd_path(json_object *o, const char *a, const char *b, const char *c)
{
	const char *keys[] = {a, b, c};

	for (size_t i = 0; i < 3 && keys[i]; i++) {
		json_object *next = NULL;

		ck_assert_msg(json_object_object_get_ex(o, keys[i], &next), "no \"%s\" in %s",
			      keys[i], json_object_to_json_string(o));
		o = next;
	}
	return o;
}

/* The error code of an answer, or 0 for a success. */
static int sd_code(json_object *answer)
{
	json_object *err;

	if (!json_object_object_get_ex(answer, "error", &err))
		return 0;
	return json_object_get_int(sd_path(err, "code", NULL, NULL));
}

static void sd_start_direct(struct sd_daemon *d, const char *config)
{
	char *ready;

	sd_init(d, config);
	sd_spawn_direct(d, NULL);
	ready = sd_expect_note(d, "READY=1", SD_WAIT_MS);
	free(ready);
	ck_assert(sd_can_connect(d->sock));
}

static void sd_stop(struct sd_daemon *d)
{
	int status;

	kill(d->pid, SIGTERM);
	status = sd_wait_exit(d, SD_WAIT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the daemon did not stop cleanly (status %#x)", status);
}

#define SD_SUBMIT_SLEEP(id)                                                                        \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{\"request_id\":\"" id     \
	"\",\"node\":{\"argv\":[\"sleep\",\"30\"]}}}"
#define SD_REQ(method, params)                                                                     \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\",\"params\":" params "}"

/* READY=1 comes once the socket accepts; then STATUS=, watchdog, reload, stop. */
START_TEST(test_notify_protocol)
{
	struct sd_daemon d;
	json_object *a;
	char *note;
	int pings;

	sd_init(&d, "[daemon]\nshutdown_grace_sec = 1\n");
	sd_spawn_direct(&d, NULL);
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	/* Readiness means the socket accepts right now, not soon. */
	ck_assert_msg(sd_can_connect(d.sock), "READY=1 before the socket accepts");
	ck_assert_msg(strstr(note, "\nSTATUS=0 running, 0 queued"), "READY without STATUS: %s",
		      note);
	free(note);

	/* WATCHDOG_USEC=200000: a ping at least every 100 ms. */
	sd_read_notes_for(&d, 1000);
	pings = sd_count_notes(&d, "WATCHDOG=1");
	ck_assert_msg(pings >= 5, "only %d WATCHDOG=1 in a second", pings);

	a = sd_call(&d, NULL, SD_SUBMIT_SLEEP("notify-1"));
	ck_assert_int_eq(sd_code(a), 0);
	json_object_put(a);
	note = sd_expect_note(&d, "STATUS=1 running, 0 queued", 5000);
	free(note);

	kill(d.pid, SIGHUP);
	note = sd_expect_note(&d, "RELOADING=1", SD_WAIT_MS);
	ck_assert_msg(strstr(note, "\nMONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC: %s",
		      note);
	free(note);
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	free(note);

	kill(d.pid, SIGTERM);
	note = sd_expect_note(&d, "STOPPING=1", SD_WAIT_MS);
	free(note);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

/* With WATCHDOG_PID naming another process, the watchdog is not ours to ping. */
START_TEST(test_watchdog_other_pid)
{
	struct sd_daemon d;
	char *note;

	sd_init(&d, "[daemon]\n");
	sd_spawn_direct(&d, "1");
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	free(note);
	sd_read_notes_for(&d, 600);
	ck_assert_int_eq(sd_count_notes(&d, "WATCHDOG=1"), 0);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

/* The socket systemd hands over serves clients; the daemon never unlinks it. */
START_TEST(test_socket_activation)
{
	struct sd_daemon d;
	long long deadline = sd_now_ms() + SD_WAIT_MS;
	json_object *a, *result;
	const char *out;
	struct stat st;
	char *note;

	sd_init(&d, "[daemon]\n");
	sd_spawn_activated(&d);
	while (stat(d.sock, &st) < 0) {
		ck_assert_msg(sd_now_ms() < deadline, "systemd-socket-activate did not listen");
		sd_sleep_ms(20);
	}
	/* This connection starts the daemon and is served by it. */
	a = sd_call(&d, NULL, SD_REQ("ping", "{}"));
	ck_assert_int_eq(sd_code(a), 0);
	ck_assert_int_eq(json_object_get_int(sd_path(a, "result", "pid", NULL)), d.pid);
	json_object_put(a);
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	free(note);
	/* A task sees the activated socket, and none of systemd's variables. */
	a = sd_call(&d, NULL,
		    SD_REQ("submit", "{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\","
				     "\"echo $COORD_SOCKET; env\"]}}"));
	ck_assert_int_eq(sd_code(a), 0);
	result = sd_path(a, "result", "message", "result");
	out = json_object_get_string(sd_path(result, "stdout", NULL, NULL));
	ck_assert_msg(strncmp(out, d.sock, strlen(d.sock)) == 0 && out[strlen(d.sock)] == '\n',
		      "COORD_SOCKET is not the activated socket: %s", out);
	ck_assert_ptr_null(strstr(out, "NOTIFY_SOCKET="));
	ck_assert_ptr_null(strstr(out, "LISTEN_FDS="));
	ck_assert_ptr_null(strstr(out, "LISTEN_PID="));
	ck_assert_ptr_null(strstr(out, "WATCHDOG_USEC="));
	ck_assert_ptr_null(strstr(out, "WATCHDOG_PID="));
	json_object_put(a);

	sd_stop(&d);
	ck_assert_msg(lstat(d.sock, &st) == 0 && S_ISSOCK(st.st_mode),
		      "the daemon removed the socket systemd owns");
	sd_cleanup(&d);
}
END_TEST

/* A uid that is not allowed is told 1004 at once and disconnected, and nothing happens. */
START_TEST(test_other_uid_refused)
{
	static const char *const lines[] = {
		/* A notification: never answered, must not run either. */
		"{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"request_id\":"
		"\"denied-2\",\"node\":{\"argv\":[\"true\"]}}}",
		SD_SUBMIT_SLEEP("denied-1"),
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}",
		NULL,
	};
	struct sd_daemon d;
	json_object *answers, *a;

	int status;
	pid_t pid;

	sd_start_direct(&d, "[daemon]\nsocket_mode = 0666\n");
	pid = sd_client_spawn(&d, sd_as_nobody, lines, NULL);
	status = sd_wait_client(&d, pid);
	/* One answer for the connection, not one per request, then the daemon hangs up. */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 3,
		      "the client ended with status %#x, not hung up on", status);
	answers = sd_client_output(&d);
	ck_assert_int_eq(json_object_array_length(answers), 1);
	a = json_object_array_get_idx(answers, 0);
	ck_assert_int_eq(sd_code(a), 1004);
	ck_assert(json_object_object_get_ex(a, "id", &a) && a == NULL);
	json_object_put(answers);

	a = sd_call(&d, NULL, SD_REQ("job", "{\"request_id\":\"denied-1\"}"));
	ck_assert_int_eq(sd_code(a), 1001);
	json_object_put(a);
	a = sd_call(&d, NULL, SD_REQ("job", "{\"request_id\":\"denied-2\"}"));
	ck_assert_int_eq(sd_code(a), 1001);
	json_object_put(a);
	a = sd_call(&d, NULL, SD_REQ("status", "{}"));
	ck_assert_int_eq(json_object_get_int(sd_path(a, "result", "counts", "opened")), 0);
	ck_assert_int_eq(json_object_get_int(sd_path(a, "result", "counts", "closed")), 0);
	json_object_put(a);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

/* allowed_users lets nobody in; it may cancel its own job, not root's. */
START_TEST(test_allowed_user_and_cancel)
{
	struct sd_daemon d;
	json_object *a;

	sd_start_direct(&d, "[daemon]\nsocket_mode = 0666\nallowed_users = nobody\n"
			    "shutdown_grace_sec = 1\n");
	a = sd_call(&d, sd_as_nobody, SD_SUBMIT_SLEEP("nobody-1"));
	ck_assert_int_eq(sd_code(a), 0);
	ck_assert_int_eq(json_object_get_int(sd_path(a, "result", "job", "owner_uid")), 65534);
	json_object_put(a);
	a = sd_call(&d, NULL, SD_SUBMIT_SLEEP("root-1"));
	ck_assert_int_eq(sd_code(a), 0);
	ck_assert_int_eq(json_object_get_int(sd_path(a, "result", "job", "owner_uid")), 0);
	json_object_put(a);

	a = sd_call(&d, sd_as_nobody, SD_REQ("cancel", "{\"request_id\":\"root-1\"}"));
	ck_assert_int_eq(sd_code(a), 1004);
	json_object_put(a);
	a = sd_call(&d, NULL, SD_REQ("job", "{\"request_id\":\"root-1\"}"));
	ck_assert_str_eq(json_object_get_string(sd_path(a, "result", "job", "status")), "opened");
	json_object_put(a);

	a = sd_call(&d, sd_as_nobody, SD_REQ("cancel", "{\"request_id\":\"nobody-1\"}"));
	ck_assert_int_eq(sd_code(a), 0);
	ck_assert_str_eq(json_object_get_string(sd_path(a, "result", "job", "status")), "closed");
	ck_assert_str_eq(json_object_get_string(
				 sd_path(sd_path(a, "result", "job", "error"), "kind", NULL, NULL)),
			 "cancelled");
	json_object_put(a);

	/* A closed job of root's (read back from the history) is still not nobody's. */
	a = sd_call(&d, NULL, SD_REQ("cancel", "{\"request_id\":\"root-1\"}"));
	ck_assert_int_eq(sd_code(a), 0);
	json_object_put(a);
	a = sd_call(&d, sd_as_nobody, SD_REQ("cancel", "{\"request_id\":\"root-1\"}"));
	ck_assert_int_eq(sd_code(a), 1004);
	json_object_put(a);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

/* allowed_groups counts supplementary groups (SO_PEERGROUPS); SIGHUP applies a new list. */
START_TEST(test_allowed_group_and_reload)
{
	static const char *const nobody_in_daemon[] = {"--reuid=" SD_NOBODY, "--regid=" SD_NOBODY,
						       "--groups=1", NULL};
	struct sd_daemon d;
	json_object *a;
	char *note;

	sd_start_direct(&d, "[daemon]\nsocket_mode = 0666\nallowed_groups = daemon\n");
	a = sd_call(&d, nobody_in_daemon, SD_REQ("ping", "{}"));
	ck_assert_int_eq(sd_code(a), 0);
	json_object_put(a);
	a = sd_call(&d, sd_as_nobody, SD_REQ("ping", "{}"));
	ck_assert_int_eq(sd_code(a), 1004);
	json_object_put(a);

	sd_write_file(d.conf, "[daemon]\nsocket_mode = 0666\nallowed_users = nobody\n");
	kill(d.pid, SIGHUP);
	note = sd_expect_note(&d, "RELOADING=1", SD_WAIT_MS);
	free(note);
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	free(note);
	a = sd_call(&d, sd_as_nobody, SD_REQ("ping", "{}"));
	ck_assert_int_eq(sd_code(a), 0);
	json_object_put(a);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

/* A reload that drops a user shuts out the connection it already has open. */
START_TEST(test_reload_revokes_open_connection)
{
	static const char *const lines[] = {SD_REQ("ping", "{}"), "@wait", SD_REQ("ping", "{}"),
					    NULL};
	long long deadline = sd_now_ms() + SD_WAIT_MS;
	struct sd_daemon d;
	json_object *answers;
	char *note;
	int in;
	pid_t pid;

	sd_start_direct(&d, "[daemon]\nsocket_mode = 0666\nallowed_users = nobody\n");
	pid = sd_client_spawn(&d, sd_as_nobody, lines, &in);
	for (;;) {
		answers = sd_client_output(&d);
		if (json_object_array_length(answers) == 1)
			break;
		json_object_put(answers);
		ck_assert_msg(sd_now_ms() < deadline, "no answer to the first ping");
		sd_read_notes(&d, 20);
	}
	ck_assert_int_eq(sd_code(json_object_array_get_idx(answers, 0)), 0);
	json_object_put(answers);

	sd_write_file(d.conf, "[daemon]\nsocket_mode = 0666\n");
	kill(d.pid, SIGHUP);
	note = sd_expect_note(&d, "READY=1", SD_WAIT_MS);
	free(note);
	ck_assert_int_eq(write(in, "\n", 1), 1);
	close(in);
	answers = sd_client_finish(&d, pid);
	ck_assert_int_eq(json_object_array_length(answers), 2);
	ck_assert_int_eq(sd_code(json_object_array_get_idx(answers, 1)), 1004);
	json_object_put(answers);
	sd_stop(&d);
	sd_cleanup(&d);
}
END_TEST

static Suite *sd_suite(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, test_notify_protocol);
	tcase_add_test(tc, test_watchdog_other_pid);
	suite_add_tcase(s, tc);
	tc = tcase_create("activation");
	tcase_add_test(tc, test_socket_activation);
	suite_add_tcase(s, tc);
	tc = tcase_create("access");
	tcase_add_test(tc, test_other_uid_refused);
	tcase_add_test(tc, test_allowed_user_and_cancel);
	tcase_add_test(tc, test_allowed_group_and_reload);
	tcase_add_test(tc, test_reload_revokes_open_connection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		/* Clients of another uid and a daemon of root's need root. */
		printf("not root: skipping the systemd suite\n");
		return 77;
	}
	return checkrun(sd_suite());
}
