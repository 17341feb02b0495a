/*
 * The integration harness: the real coordinatord started with posix_spawn
 * on a temporary socket and state dir, and a raw NDJSON client that talks
 * to it with nothing but a Unix socket and json-c. Everything a function
 * here returns is the caller's (json_object: one reference; strings: free).
 */
#ifndef COORD_ITEST_HARNESS_H
#define COORD_ITEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <check.h>
#include <json-c/json.h>

/* Milliseconds every wait in the suites may take on a loaded machine. */
#define HARNESS_WAIT_MS 30000

/* A daemon under test. Owns its temp dir; harness_daemon_cleanup removes it. */
struct harness_daemon {
	pid_t pid;
	char dir[128];
	char sock[192];
	char state[192];
	char conf[192];
	char log[192];	     /* the daemon's stderr, appended over restarts */
	bool measure_memory; /* set before start: tests read its RSS (small ASan quarantine) */
};

/* Makes the temp dir and writes config (NULL: none). Does not start anything. */
void harness_daemon_init(struct harness_daemon *d, const char *config);
/* Rewrites the config file (the daemon reads it on start and on SIGHUP). */
void harness_daemon_write_config(struct harness_daemon *d, const char *config);
/* Spawns $COORDINATORD on d's socket and state dir; returns the pid, does not wait. */
pid_t harness_daemon_spawn(struct harness_daemon *d);
/* Spawns and waits until the socket accepts; fails the test if it does not. */
void harness_daemon_start(struct harness_daemon *d);
/* init + start in one. */
void harness_daemon_new(struct harness_daemon *d, const char *config);
/*
 * Config text most suites share, glued to a suite's own lines at compile
 * time, one piece a line (clang-format off around such a #define keeps it
 * so): HARNESS_CONFIG_DAEMON "log_level = info\n" HARNESS_CONFIG_MODE("async", "4").
 *
 * HARNESS_CONFIG_DAEMON: the [daemon] section with a quick stop at
 * teardown; the suite's own [daemon] lines follow it.
 */
#define HARNESS_CONFIG_DAEMON "[daemon]\nshutdown_grace_sec = 1\n"
/* [mode:name] with that max_concurrency and a half-second kill grace; its own lines follow. */
#define HARNESS_CONFIG_MODE(name, max_concurrency)                                                 \
	"[mode:" name "]\nmax_concurrency = " max_concurrency "\nkill_grace_ms = 500\n"

/* Makes a fifo (mode 0600) called name in d's temp dir; its path in path, returned. */
const char *harness_fifo(const struct harness_daemon *d, const char *name, char *path, size_t size);
/* Opens the fifo at path for writing (waits for its reader), writes text and closes it. */
void harness_fifo_write(const char *path, const char *text);

/* Waits up to timeout_ms for the daemon to exit; its wait status, or -1. */
int harness_daemon_wait_exit(struct harness_daemon *d, int timeout_ms);
/*
 * Starts a daemon on config in d (not running) and expects it to refuse
 * the config: exit status 1 with want in its log. Cleans d up.
 */
void harness_expect_bad_config(struct harness_daemon *d, const char *config, const char *want);
/* SIGTERM and wait (SIGKILL if it hangs); the wait status. */
int harness_daemon_stop(struct harness_daemon *d);
/*
 * Stops the daemon if it runs, fails the test if its log holds a sanitizer
 * report, and removes the temp dir.
 */
void harness_daemon_cleanup(struct harness_daemon *d);
/* The daemon's stderr so far (caller frees). */
char *harness_daemon_log(const struct harness_daemon *d);
/* The length of the daemon's stderr so far: where to look for what comes next. */
size_t harness_log_len(const struct harness_daemon *d);
/* The numbers just before each text in the daemon's stderr ("3 queued jobs ..."), added up. */
long harness_log_sum(const struct harness_daemon *d, const char *text);
/* Polls until needle shows in the daemon's stderr past from; false if not within timeout_ms. */
bool harness_log_wait(const struct harness_daemon *d, size_t from, const char *needle,
		      int timeout_ms);
/*
 * Sends one request line (with its newline) from a child process that
 * runs as uid (the test runs as root), over a connection of its own to
 * sock. The answer's error.code, 0 for a result, -1 for no answer.
 */
int harness_call_as(const char *sock, uid_t uid, const char *line);
/* Whether pid is a live process (a zombie is not). */
bool harness_pid_alive(pid_t pid);
/* The pid a task wrote to path, waiting until it is there; fails the test if it never is. */
pid_t harness_read_pid(const char *path);
/* VmRSS of pid in KiB, or -1. */
long harness_rss_kib(pid_t pid);

struct sqlite3;
/* d's history file, read-only (caller closes with sqlite3_close); fails the test if it cannot. */
struct sqlite3 *harness_db_open(const struct harness_daemon *d);
/* The one integer sql selects on db; fails the test on an error or no row. */
long long harness_db_int(struct sqlite3 *db, const char *sql);

/*
 * Sends one request line (with its newline) to the daemon at sock from a
 * child process running as uid/gid with these supplementary groups, and
 * returns the first line it got back, parsed. Fails the test if that
 * does not work.
 */
json_object *harness_request_as(const char *sock, uid_t uid, gid_t gid, const gid_t *groups,
				size_t ngroups, const char *line);

/* Runs argv to its end with stderr into *ret_err (caller frees); the wait status. */
int harness_run(char *const argv[], char **ret_err);

/* Runs suite (SIGPIPE ignored: the daemon may hang up on us); the exit status for main. */
int harness_run_suite(Suite *suite);

/* A raw client connection. */
struct harness_client {
	int fd;
	char *buf; /* bytes read and not yet handed out */
	size_t len;
	size_t cap;
	long long next_id;
	json_object *backlog; /* lines read while looking for a response, in order */
};

/* Connects to path; NULL if the socket does not accept. */
struct harness_client *harness_connect(const char *path);
/* Connects and fails the test if that does not work. */
struct harness_client *harness_client_new(const char *path);
void harness_client_free(struct harness_client *c);

/* A daemon and one client connected to it: what most suites set up for each test. */
struct harness_fixture {
	struct harness_daemon daemon;
	struct harness_client *client;
};

/* Starts a daemon on config (harness_daemon_new) and connects fx->client to it. */
void harness_fixture_start(struct harness_fixture *fx, const char *config);
/*
 * Frees the client (fx->client becomes NULL) and cleans the daemon up
 * (harness_daemon_cleanup). Safe on a zeroed fixture, after a failed
 * start and twice.
 */
void harness_fixture_stop(struct harness_fixture *fx);
/* Stops fx and starts a new daemon (new temp dir: nothing is kept) and client on config. */
void harness_fixture_start_over(struct harness_fixture *fx, const char *config);
/*
 * Connects fx->client to fx->daemon, freeing the client it had: for a
 * setup that starts the daemon itself, after a test restarted the daemon
 * (its state kept), or to drop the old client's subscriptions and backlog.
 */
void harness_fixture_connect(struct harness_fixture *fx);

/* Writes len raw bytes; 0 or -errno. */
int harness_send_raw(struct harness_client *c, const char *data, size_t len);
/* Writes a string as is; fails the test on a write error. */
void harness_send(struct harness_client *c, const char *text);
/* One line without its newline, or NULL on timeout or end of file (*ret_eof tells which). */
char *harness_read_line(struct harness_client *c, int timeout_ms, bool *ret_eof);
/* The next line (backlog first), parsed; fails the test on timeout or garbage. */
json_object *harness_read_json(struct harness_client *c, int timeout_ms);
/*
 * The next line (backlog first), parsed, or NULL on timeout or when the
 * daemon closes the connection (*ret_eof tells which; may be NULL). For
 * reading on up to a daemon's death; fails the test on garbage.
 */
json_object *harness_next_json(struct harness_client *c, int timeout_ms, bool *ret_eof);
/* True when nothing arrives within ms (the backlog must be empty too). */
bool harness_silent(struct harness_client *c, int ms);
/* True when the daemon closes the connection within timeout_ms (lines before are dropped). */
bool harness_wait_eof(struct harness_client *c, int timeout_ms);

/* Parses printf-formatted JSON text; fails the test if it is not JSON. */
json_object *harness_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Sends {"jsonrpc":"2.0","id":N,"method":method,"params":params} (params
 * taken; NULL: none) and returns the whole response with that id. Other
 * lines read meanwhile go to the backlog.
 */
json_object *harness_call(struct harness_client *c, const char *method, json_object *params,
			  int timeout_ms);
/* Sends the request and returns its id without waiting. */
long long harness_call_async(struct harness_client *c, const char *method, json_object *params);
/* Waits for the response with that id (others go to the backlog). */
json_object *harness_response(struct harness_client *c, long long id, int timeout_ms);
/* harness_call, asserting success; returns the result. */
json_object *harness_ok(struct harness_client *c, const char *method, json_object *params);
/* harness_call, asserting an error; returns error.code and its message in *ret_msg (may be NULL).
 */
int harness_err(struct harness_client *c, const char *method, json_object *params, char **ret_msg);
/* The next notification with that method (others in the backlog are kept), or NULL. */
json_object *harness_notification(struct harness_client *c, const char *method, int timeout_ms);

/* Submits the printf-formatted params (JSON text), asserting success; drops the answer. */
void harness_submit_json(struct harness_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Submits argv (NULL-terminated) in mode (NULL: default); returns the job. */
json_object *harness_submit(struct harness_client *c, const char *mode, const char *const *argv);
/* Waits until the job is closed; returns it. */
json_object *harness_wait_job(struct harness_client *c, const char *request_id);
/* The job request_id names, from the job method (its "job" member); fails the test on an error. */
json_object *harness_job(struct harness_client *c, const char *request_id);
/* Polls until the job runs (phase "running"); returns it. */
json_object *harness_wait_running(struct harness_client *c, const char *request_id);

/* Short accessors; a missing member fails the test. */
json_object *harness_get(json_object *o, const char *path); /* "a.b.c", borrowed */
const char *harness_str(json_object *o, const char *path);  /* NULL for JSON null */
long long harness_int(json_object *o, const char *path);
bool harness_is_null(json_object *o, const char *path);
/* The element of array whose "name" is name (borrowed); fails the test when there is none. */
json_object *harness_find_named(json_object *array, const char *name);

/* Polls cond(arg) every 20 ms until it is true or timeout_ms pass. */
bool harness_until(bool (*cond)(void *arg), void *arg, int timeout_ms);
long long harness_now_ms(void);
void harness_sleep_ms(int ms);

#endif
