/* Test helpers for the client suites: a real coordinatord in a temp dir, and running coordctl. */
#ifndef COORD_TESTD_H
#define COORD_TESTD_H

#include <stddef.h>
#include <sys/types.h>

/* A daemon under test; owns its temp dir (removed by testd_stop). */
struct testd {
	pid_t pid;
	char dir[256];
	char sock[320];
	char state[320];
};

/* Starts $COORDINATORD (config text may be NULL); 0 once its socket accepts, else -1. */
int testd_start(struct testd *d, const char *config);
/* SIGTERM, then SIGKILL after a while; returns the exit status (waitpid form) or -1. */
int testd_stop(struct testd *d);
/* Waits up to timeout_ms for the daemon to exit on its own; status or -1. */
int testd_wait_exit(struct testd *d, int timeout_ms);

/* What a finished program printed and how it ended; out and err are NUL-terminated, owned. */
struct testd_run {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
	size_t out_len;
};

/*
 * Runs argv (argv[0] a path) with stdin from stdin_text (NULL: /dev/null),
 * waits for it and captures its output. Returns 0 or -1.
 */
int testd_run(char *const argv[], const char *stdin_text, struct testd_run *ret);
void testd_run_free(struct testd_run *run);

/* Spawns argv with stdout to out_path; returns the pid or -1. */
pid_t testd_spawn_bg(char *const argv[], const char *out_path);

/* Reads a whole file (NUL-terminated, caller frees) or NULL. */
char *testd_slurp(const char *path, size_t *ret_len);

/*
 * A fake daemon on a temp socket that serves one client from a thread,
 * playing script: "<" reads one request line (kept in lines), ">text"
 * writes text, "W" sleeps 300 ms, "X" closes. Owns its dir and lines.
 */
struct testd_fake {
	char dir[64];
	char path[108];
	int listen_fd;
	const char *const *script;
	char *lines[16]; /* the request lines read, NUL-terminated */
	size_t nlines;
	unsigned long thread;
	int joined;
};

int testd_fake_start(struct testd_fake *f, const char *const *script);
/* Waits until the script has ended; then lines may be read. */
void testd_fake_join(struct testd_fake *f);
/* Joins, removes the socket and frees lines. */
void testd_fake_stop(struct testd_fake *f);

/* Milliseconds on a monotonic clock. */
long long testd_now_ms(void);

#endif
