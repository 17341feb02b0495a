/*
 * The soak suite: the real coordinatord under many clients at once, killed
 * with SIGKILL at a random moment and started again. Clients (one process
 * each) submit cheap tasks with random waits, cancels and waits;
 * subscribers follow every message across the restart. Afterwards every
 * answered submit must be in the history exactly once and closed exactly
 * once, seq must have no gap, and the counts must add up: checked through
 * the daemon's answers, the subscribers' view and the SQLite file itself.
 *
 * COORD_SOAK_CLIENTS (50), COORD_SOAK_SUBMITS (2000 per client) and
 * COORD_SOAK_SEED (logged; the same seed makes the same choices) tune it.
 * Each child writes what it saw to a file in the daemon's temp dir; the
 * test reads those files and owns everything else it allocates.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "harness.h"

#define SOAK_CLIENTS	 50
#define SOAK_SUBMITS	 2000
#define SOAK_SUBSCRIBERS 3
#define SOAK_LATE_PCT	 30 /* the late subscriber starts, from seq 0, at this much progress */
#define SOAK_MAX_IDS	 4096
#define SOAK_REPORTS	 5 /* violations a child describes before it only counts them */
#define SOAK_ANSWER_MS	 (2 * HARNESS_WAIT_MS) /* a busy daemon on a loaded machine */

static const char soak_config[] =
	"[daemon]\n"
	"subscriber_buffer_bytes = 65536\n"
	"shutdown_grace_sec = 30\n"
	"[mode:async]\n"
	"max_concurrency = 4\n"
	"max_queue = 1000000\n"
	"kill_grace_ms = 500\n"
	/* submit with wait: its own short queue, so the answer comes soon */
	"[mode:waited]\n"
	"max_concurrency = 2\n"
	"kill_grace_ms = 500\n";

/* Shared between the test and its children (MAP_SHARED). */
struct soak_shared {
	long answered;	/* submits answered so far, by every client */
	long final_seq; /* set at the end: subscribers stop once they have it */
};

struct soak {
	struct harness_daemon d;
	struct soak_shared *shared;
	unsigned long long seed;
	long clients;
	long submits;
};

/* xorshift64*: each child gets its own stream from the seed. */
static unsigned long long soak_rand(unsigned long long *state)
{
	unsigned long long x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ULL;
}

static unsigned long long soak_stream(unsigned long long seed, long k)
{
	unsigned long long s = seed ^ (0x9e3779b97f4a7c15ULL * (unsigned long long)(k + 1));

	return s ? s : 1;
}

static long soak_env(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	ck_assert_msg(*end == '\0' && n > 0, "%s must be a positive number, not \"%s\"", name, v);
	return n;
}

static void soak_path(const struct soak *s, const char *kind, long k, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s-%ld.log", s->d.dir, kind, k);
}

/* ---- in a child: a connection that survives the daemon's restart ---- */

/* Connects, waiting while the daemon restarts; exits the child if it never comes back. */
static struct harness_client *soak_connect(const struct soak *s)
{
	long long deadline = harness_now_ms() + 2 * HARNESS_WAIT_MS;
	struct harness_client *c;

	while (!(c = harness_connect(s->d.sock))) {
		if (harness_now_ms() > deadline) {
			fprintf(stderr, "soak: cannot connect to %s again\n", s->d.sock);
			_exit(3);
		}
		harness_sleep_ms(20);
	}
	return c;
}

/*
 * Sends one request (params: JSON text) and returns its response, or NULL
 * when the connection broke (*c is then freed and NULL). A daemon that
 * stays silent for SOAK_ANSWER_MS exits the child.
 */
static json_object *soak_call(struct harness_client **c, const char *method, const char *params)
{
	long long id = (*c)->next_id++;
	char *text;
	int r;

	if (asprintf(&text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":%s}\n",
		     id, method, params) < 0)
		_exit(3);
	r = harness_send_raw(*c, text, strlen(text));
	free(text);
	while (r == 0) {
		bool eof;
		json_object *o = harness_next_json(*c, SOAK_ANSWER_MS, &eof), *v;

		if (!o && !eof) {
			fprintf(stderr, "soak: no answer to %s %s within %d ms\n", method, params,
				SOAK_ANSWER_MS);
			_exit(3);
		}
		if (!o)
			break;
		if (json_object_object_get_ex(o, "id", &v) && json_object_get_int64(v) == id)
			return o;
		json_object_put(o);
	}
	harness_client_free(*c);
	*c = NULL;
	return NULL;
}

/* The error code of a response, 0 for a result. */
static int soak_error_code(json_object *resp)
{
	json_object *err, *code;

	if (!json_object_object_get_ex(resp, "error", &err))
		return 0;
	return json_object_object_get_ex(err, "code", &code) ? json_object_get_int(code) : -1;
}

/* ---- a client: submits, and now and then cancels, waits or pauses ---- */

struct soak_client {
	const struct soak *s;
	long k;
	unsigned long long rng;
	struct harness_client *c;
	FILE *log;
	char (*ids)[32]; /* answered request_ids, the last SOAK_MAX_IDS */
	long answered;
	long violations;
};

static void soak_violation(struct soak_client *cl, const char *what, const char *rid,
			   json_object *resp)
{
	if (cl->violations++ < SOAK_REPORTS)
		fprintf(stderr, "soak: client %ld: %s %s: %s\n", cl->k, what, rid,
			resp ? json_object_to_json_string(resp) : "(no answer)");
}

/* cancel or wait on a job this client was told exists: 1001 must never come back. */
static void soak_poke(struct soak_client *cl, const char *method)
{
	long known = cl->answered < SOAK_MAX_IDS ? cl->answered : SOAK_MAX_IDS;
	const char *rid = cl->ids[soak_rand(&cl->rng) % (unsigned long long)known];
	char params[128];
	json_object *resp;
	int code;

	if (strcmp(method, "cancel") == 0)
		snprintf(params, sizeof(params), "{\"request_id\":\"%s\"}", rid);
	else
		snprintf(params, sizeof(params), "{\"request_ids\":[\"%s\"],\"timeout_ms\":2000}",
			 rid);
	resp = soak_call(&cl->c, method, params);
	if (!resp)
		return; /* the daemon died meanwhile */
	code = soak_error_code(resp);
	/* 1002: already closed (cancel); 1007: still running after 2 s (wait). */
	if (code != 0 && code != 1002 && code != 1007)
		soak_violation(cl, method, rid, resp);
	json_object_put(resp);
}

static void soak_submit(struct soak_client *cl, long i)
{
	unsigned long long r = soak_rand(&cl->rng) % 100;
	char rid[32], params[256], argv[64];
	json_object *resp;
	int code;

	snprintf(rid, sizeof(rid), "soak-%ld-%ld", cl->k, i);
	if (r < 85)
		snprintf(argv, sizeof(argv), "[\"true\"]");
	else
		snprintf(argv, sizeof(argv), "[\"sleep\",\"0.0%llu\"]", 1 + r % 5);
	if (soak_rand(&cl->rng) % 100 < 5)
		snprintf(params, sizeof(params),
			 "{\"request_id\":\"%s\",\"mode\":\"waited\",\"wait\":true,"
			 "\"node\":{\"argv\":%s}}",
			 rid, argv);
	else
		snprintf(params, sizeof(params), "{\"request_id\":\"%s\",\"node\":{\"argv\":%s}}",
			 rid, argv);
	if (!cl->c)
		cl->c = soak_connect(cl->s);
	resp = soak_call(&cl->c, "submit", params);
	if (!resp) {
		fprintf(cl->log, "U %s\n", rid); /* sent, never answered: it may exist */
		return;
	}
	code = soak_error_code(resp);
	if (code == 0) {
		fprintf(cl->log, "A %s\n", rid);
		snprintf(cl->ids[cl->answered++ % SOAK_MAX_IDS], sizeof(cl->ids[0]), "%s", rid);
		__atomic_add_fetch(&cl->s->shared->answered, 1, __ATOMIC_RELAXED);
	} else {
		fprintf(cl->log, "R %s %d\n", rid, code);
		soak_violation(cl, "submit refused", rid, resp);
	}
	json_object_put(resp);
}

static void soak_client_run(const struct soak *s, long k)
{
	struct soak_client cl = {.s = s, .k = k, .rng = soak_stream(s->seed, k)};
	char path[256];

	soak_path(s, "client", k, path, sizeof(path));
	cl.log = fopen(path, "we");
	cl.ids = calloc(SOAK_MAX_IDS, sizeof(*cl.ids));
	if (!cl.log || !cl.ids)
		_exit(3);
	for (long i = 0; i < s->submits; i++) {
		unsigned long long r;

		soak_submit(&cl, i);
		r = soak_rand(&cl.rng) % 100;
		if (!cl.c || cl.answered == 0)
			continue;
		if (r < 8)
			soak_poke(&cl, "cancel");
		else if (r < 11)
			soak_poke(&cl, "wait");
		else if (r < 13)
			harness_sleep_ms(1 + (int)(soak_rand(&cl.rng) % 10));
	}
	harness_client_free(cl.c);
	fclose(cl.log);
	free(cl.ids);
	_exit(cl.violations ? 1 : 0);
}

/* ---- a subscriber: every message, once, in order, across the restart ---- */

struct soak_subscriber {
	const struct soak *s;
	long k;
	long last; /* the last seq received: messages 1..last, each once */
	long seen;
	long lags;
	long resubscribes;
	long violations;
};

/* Reads one subscription until the connection breaks, it lags, or the end is reached. */
static void soak_follow(struct soak_subscriber *sub, struct harness_client **c)
{
	long since = sub->last;

	while (*c) {
		long final = __atomic_load_n(&sub->s->shared->final_seq, __ATOMIC_RELAXED);
		json_object *o, *v;
		bool eof;

		if (final > 0 && sub->last >= final)
			return;
		o = harness_next_json(*c, 100, &eof);
		if (!o) {
			if (eof) {
				harness_client_free(*c);
				*c = NULL;
			}
			continue;
		}
		if (json_object_object_get_ex(o, "method", &v) &&
		    strcmp(json_object_get_string(v), "subscription_ended") == 0) {
			sub->lags++;
			json_object_put(o);
			return; /* subscribe again from what we have */
		}
		if (!json_object_object_get_ex(o, "params", &v) ||
		    !json_object_object_get_ex(v, "message", &v) ||
		    !json_object_object_get_ex(v, "seq", &v)) {
			json_object_put(o);
			continue; /* the answer to subscribe */
		}
		if (json_object_get_int64(v) != sub->last + 1 && sub->violations++ < SOAK_REPORTS)
			fprintf(stderr,
				"soak: subscriber %ld (since_seq %ld): seq %lld after %ld: a gap "
				"or "
				"a duplicate\n",
				sub->k, since, (long long)json_object_get_int64(v), sub->last);
		if (json_object_get_int64(v) > sub->last)
			sub->last = (long)json_object_get_int64(v);
		json_object_put(o);
		/* Subscriber 1 reads slowly, so that it may lag. */
		if (sub->k == 1 && ++sub->seen % 20 == 0)
			harness_sleep_ms(1);
	}
}

static void soak_subscriber_run(const struct soak *s, long k)
{
	struct soak_subscriber sub = {.s = s, .k = k};
	struct harness_client *c = NULL;
	char path[256];
	FILE *log;

	for (;;) {
		long final = __atomic_load_n(&s->shared->final_seq, __ATOMIC_RELAXED);
		json_object *resp;
		char params[64];

		if (final > 0 && sub.last >= final)
			break;
		if (c)
			harness_client_free(c); /* after a lag: a fresh connection */
		c = soak_connect(s);
		snprintf(params, sizeof(params), "{\"since_seq\":%ld}", sub.last);
		sub.resubscribes++;
		resp = soak_call(&c, "subscribe", params);
		if (resp && soak_error_code(resp) != 0 && sub.violations++ < SOAK_REPORTS)
			fprintf(stderr, "soak: subscriber %ld: %s\n", k,
				json_object_to_json_string(resp));
		json_object_put(resp);
		soak_follow(&sub, &c);
	}
	harness_client_free(c);
	soak_path(s, "subscriber", k, path, sizeof(path));
	log = fopen(path, "we");
	if (!log)
		_exit(3);
	fprintf(log, "%ld %ld %ld %ld\n", sub.last, sub.lags, sub.resubscribes, sub.violations);
	fclose(log);
	_exit(sub.violations ? 1 : 0);
}

/* ---- the test ---- */

static pid_t soak_fork(const struct soak *s, long k, void (*run)(const struct soak *s, long k))
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* If the test dies, so do its clients. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		run(s, k);
	}
	return pid;
}

static void soak_reap(pid_t pid, const char *what, long k)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s %ld failed (status %#x); see the lines above", what, k, status);
}

/* The daemon's counts over every job. */
static json_object *soak_counts(struct harness_client *c)
{
	json_object *r = harness_ok(c, "status", harness_json("{\"limit\":1}"));
	json_object *counts = json_object_get(harness_get(r, "counts"));

	json_object_put(r);
	return counts;
}

static void soak_expect_zero(sqlite3 *db, const char *what, const char *sql)
{
	long long n = harness_db_int(db, sql);

	ck_assert_msg(n == 0, "%lld %s", n, what);
}

/* Prints one row of a describing query to stderr. */
static int soak_print_row(void *what, int n, char **values, char **names)
{
	fprintf(stderr, "soak: %s:", (const char *)what);
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %s=%s", names[i], values[i] ? values[i] : "NULL");
	fputc('\n', stderr);
	return 0;
}

/*
 * Names the jobs that break "exactly one final message": each job row, then
 * every message about it, so a failure says which request_ids and how.
 */
static void soak_describe_finals(sqlite3 *db)
{
	static const char bad[] = "SELECT j.request_id FROM h.jobs j WHERE (SELECT count(*) "
				  "FROM h.message_log m WHERE m.request_id = j.request_id AND "
				  "m.type IN ('request_success', 'request_failure')) != 1 LIMIT 10";
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "SELECT seq_no, request_id, mode, status, phase, result, start_time, end_time, "
		 "exit_code, error_kind, error_message, pid FROM h.jobs WHERE request_id IN (%s)",
		 bad);
	sqlite3_exec(db, sql, soak_print_row, (void *)"job", NULL);
	snprintf(sql, sizeof(sql),
		 "SELECT seq, type, request_id, time, body FROM h.message_log WHERE request_id IN "
		 "(%s) "
		 "ORDER BY request_id, seq",
		 bad);
	sqlite3_exec(db, sql, soak_print_row, (void *)"message", NULL);
}

/* Loads what the clients saw into table seen(rid, outcome) of db. */
static void soak_load_outcomes(const struct soak *s, sqlite3 *db)
{
	sqlite3_stmt *st;
	char path[256], line[128], rid[64], outcome[4];

	ck_assert_int_eq(sqlite3_exec(db,
				      "CREATE TABLE seen (rid TEXT PRIMARY KEY, outcome TEXT NOT "
				      "NULL); BEGIN",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO seen VALUES (?, ?)", -1, &st, NULL),
			 SQLITE_OK);
	for (long k = 0; k < s->clients; k++) {
		FILE *f;

		soak_path(s, "client", k, path, sizeof(path));
		f = fopen(path, "re");
		ck_assert_msg(f != NULL, "no log from client %ld", k);
		while (fgets(line, sizeof(line), f)) {
			ck_assert_int_eq(sscanf(line, "%3s %63s", outcome, rid), 2);
			sqlite3_bind_text(st, 1, rid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, outcome, -1, SQLITE_TRANSIENT);
			ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
			sqlite3_reset(st);
		}
		fclose(f);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

/* The history file, read-only, against what the clients and the daemon said. */
static void soak_check_history(const struct soak *s, json_object *counts, long final_seq)
{
	char uri[300];
	sqlite3 *db;
	long long jobs;

	ck_assert_int_eq(
		sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL),
		SQLITE_OK);
	soak_load_outcomes(s, db);
	snprintf(uri, sizeof(uri), "ATTACH 'file:%s/history.sqlite3?mode=ro' AS h", s->d.state);
	ck_assert_msg(sqlite3_exec(db, uri, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", uri,
		      sqlite3_errmsg(db));
	soak_expect_zero(db, "answered submits missing from the history",
			 "SELECT count(*) FROM seen WHERE outcome = 'A' AND rid NOT IN "
			 "(SELECT request_id FROM h.jobs)");
	soak_expect_zero(db, "refused submits in the history",
			 "SELECT count(*) FROM seen WHERE outcome = 'R' AND rid IN "
			 "(SELECT request_id FROM h.jobs)");
	soak_expect_zero(
		db, "jobs nobody submitted",
		"SELECT count(*) FROM h.jobs WHERE request_id NOT IN (SELECT rid FROM seen)");
	soak_expect_zero(
		db, "jobs not closed",
		"SELECT count(*) FROM h.jobs WHERE status != 'closed' OR phase != 'finished' "
		"OR result IS NULL OR end_time IS NULL");
	soak_expect_zero(
		db, "jobs without exactly one request_creation message",
		"SELECT count(*) FROM h.jobs j WHERE (SELECT count(*) FROM h.message_log m "
		"WHERE m.request_id = j.request_id AND m.type = 'request_creation') != 1");
	soak_describe_finals(db);
	soak_expect_zero(
		db, "jobs without exactly one final message",
		"SELECT count(*) FROM h.jobs j WHERE (SELECT count(*) FROM h.message_log m "
		"WHERE m.request_id = j.request_id AND m.type IN ('request_success', "
		"'request_failure')) != 1");
	soak_expect_zero(db, "jobs whose result is not their final message's",
			 "SELECT count(*) FROM h.jobs j JOIN h.message_log m ON m.request_id = "
			 "j.request_id WHERE m.type IN ('request_success', 'request_failure') AND "
			 "m.type != 'request_' || j.result");
	soak_expect_zero(
		db, "final messages that come before their job's creation",
		"SELECT count(*) FROM h.message_log f JOIN h.message_log c ON c.request_id = "
		"f.request_id AND c.type = 'request_creation' WHERE f.type IN "
		"('request_success', 'request_failure') AND f.seq < c.seq");
	soak_expect_zero(db, "messages about no job",
			 "SELECT count(*) FROM h.message_log WHERE request_id NOT IN "
			 "(SELECT request_id FROM h.jobs)");
	/* seq: 1, 2, ... final with no gap (no retention here), what the subscribers saw. */
	ck_assert_int_eq(harness_db_int(db, "SELECT min(seq) FROM h.message_log"), 1);
	ck_assert_int_eq(harness_db_int(db, "SELECT max(seq) FROM h.message_log"), final_seq);
	ck_assert_int_eq(harness_db_int(db, "SELECT count(*) FROM h.message_log"), final_seq);
	/* The daemon's counts are the file's. */
	jobs = harness_db_int(db, "SELECT count(*) FROM h.jobs");
	ck_assert_int_eq(harness_int(counts, "opened"), 0);
	ck_assert_int_eq(harness_int(counts, "closed"), jobs);
	ck_assert_int_eq(
		harness_int(counts, "success"),
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE result = 'success'"));
	ck_assert_int_eq(
		harness_int(counts, "failure"),
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE result = 'failure'"));
	ck_assert_int_eq(harness_int(counts, "success") + harness_int(counts, "failure"), jobs);
	fprintf(stderr,
		"soak: %lld jobs (%lld answered, %lld unanswered of which %lld exist), %ld "
		"messages; %lld success, %lld cancelled, %lld lost, %lld other failures\n",
		jobs, harness_db_int(db, "SELECT count(*) FROM seen WHERE outcome = 'A'"),
		harness_db_int(db, "SELECT count(*) FROM seen WHERE outcome = 'U'"),
		harness_db_int(db,
			       "SELECT count(*) FROM seen s JOIN h.jobs j ON j.request_id = s.rid "
			       "WHERE s.outcome = 'U'"),
		final_seq,
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE result = 'success'"),
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE error_kind = 'cancelled'"),
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE error_kind = 'lost'"),
		harness_db_int(db, "SELECT count(*) FROM h.jobs WHERE result = 'failure' AND "
				   "error_kind NOT IN ('cancelled', 'lost')"));
	ck_assert_int_eq(harness_db_int(db,
					"SELECT count(*) FROM h.jobs WHERE result = 'failure' AND "
					"error_kind NOT IN ('cancelled', 'lost')"),
			 0);
	sqlite3_close(db);
}

static void soak_check_subscribers(const struct soak *s, long final_seq)
{
	for (long k = 0; k < SOAK_SUBSCRIBERS; k++) {
		long last, lags, resubscribes, violations;
		char path[256];
		FILE *f;

		soak_path(s, "subscriber", k, path, sizeof(path));
		f = fopen(path, "re");
		ck_assert_msg(f != NULL, "no log from subscriber %ld", k);
		ck_assert_int_eq(
			fscanf(f, "%ld %ld %ld %ld", &last, &lags, &resubscribes, &violations), 4);
		fclose(f);
		fprintf(stderr,
			"soak: subscriber %ld saw 1..%ld, lagged %ld times, subscribed %ld "
			"times\n",
			k, last, lags, resubscribes);
		ck_assert_int_eq(violations, 0);
		ck_assert_int_eq(last, final_seq);
	}
}

static double soak_cpu(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* Waits until no job is opened; returns the daemon's counts then. */
static json_object *soak_wait_all_closed(struct harness_client *c)
{
	long long deadline = harness_now_ms() + HARNESS_WAIT_MS;
	long long closed = -1;

	for (;;) {
		json_object *counts = soak_counts(c);

		if (harness_int(counts, "opened") == 0)
			return counts;
		/* The queue may be long: fail only when it stops moving. */
		if (harness_int(counts, "closed") != closed) {
			closed = harness_int(counts, "closed");
			deadline = harness_now_ms() + HARNESS_WAIT_MS;
		}
		ck_assert_msg(harness_now_ms() < deadline, "no job closed in %d ms: %s",
			      HARNESS_WAIT_MS, json_object_to_json_string(counts));
		json_object_put(counts);
		harness_sleep_ms(100);
	}
}

START_TEST(test_soak)
{
	struct soak s = {0};
	long total, kill_at, late_at, final_seq;
	pid_t *clients, subscribers[SOAK_SUBSCRIBERS] = {0};
	long long t0, t_kill = 0, t_restart = 0, t_clients, t_closed;
	unsigned long long rng;
	struct harness_client *c;
	json_object *counts, *r;
	struct rusage ru_clients, ru_all;
	bool killed = false;
	long running;

	s.clients = soak_env("COORD_SOAK_CLIENTS", SOAK_CLIENTS);
	s.submits = soak_env("COORD_SOAK_SUBMITS", SOAK_SUBMITS);
	s.seed = (unsigned long long)soak_env("COORD_SOAK_SEED",
					      (long)(time(NULL) ^ (getpid() << 16)) & 0x7fffffff);
	rng = soak_stream(s.seed, -1);
	total = s.clients * s.submits;
	kill_at = total / 10 + (long)(soak_rand(&rng) % (unsigned long long)(total * 8 / 10 + 1));
	late_at = total * SOAK_LATE_PCT / 100;
	fprintf(stderr,
		"soak: seed %llu (COORD_SOAK_SEED=%llu makes the same choices): %ld clients x "
		"%ld submits, SIGKILL after %ld answers\n",
		s.seed, s.seed, s.clients, s.submits, kill_at);
	s.shared = mmap(NULL, sizeof(*s.shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	ck_assert_ptr_ne(s.shared, MAP_FAILED);
	clients = calloc((size_t)s.clients, sizeof(*clients));
	ck_assert_ptr_nonnull(clients);
	harness_daemon_new(&s.d, soak_config);

	t0 = harness_now_ms();
	for (long k = 0; k < SOAK_SUBSCRIBERS - 1; k++)
		subscribers[k] = soak_fork(&s, k, soak_subscriber_run);
	for (long k = 0; k < s.clients; k++)
		clients[k] = soak_fork(&s, k, soak_client_run);
	for (running = s.clients; running > 0;) {
		long answered = __atomic_load_n(&s.shared->answered, __ATOMIC_RELAXED);
		int status;
		pid_t pid;

		if (!killed && answered >= kill_at) {
			killed = true;
			t_kill = harness_now_ms();
			ck_assert_int_eq(kill(s.d.pid, SIGKILL), 0);
			ck_assert_int_ge(harness_daemon_wait_exit(&s.d, HARNESS_WAIT_MS), 0);
			harness_daemon_start(&s.d);
			t_restart = harness_now_ms();
		}
		if (!subscribers[SOAK_SUBSCRIBERS - 1] && answered >= late_at)
			subscribers[SOAK_SUBSCRIBERS - 1] =
				soak_fork(&s, SOAK_SUBSCRIBERS - 1, soak_subscriber_run);
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			harness_sleep_ms(10);
			continue;
		}
		for (long k = 0; k < s.clients; k++) {
			if (clients[k] != pid)
				continue;
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "client %ld failed (status %#x); see the lines above", k,
				      status);
			running--;
		}
		ck_assert_msg(pid != s.d.pid, "the daemon died (status %#x)", status);
		for (long k = 0; k < SOAK_SUBSCRIBERS; k++)
			ck_assert_msg(pid != subscribers[k],
				      "subscriber %ld ended early (status %#x)", k, status);
	}
	t_clients = harness_now_ms();
	ck_assert_msg(killed, "the daemon was never killed (%ld answers)", s.shared->answered);
	if (!subscribers[SOAK_SUBSCRIBERS - 1])
		subscribers[SOAK_SUBSCRIBERS - 1] =
			soak_fork(&s, SOAK_SUBSCRIBERS - 1, soak_subscriber_run);

	c = harness_client_new(s.d.sock);
	counts = soak_wait_all_closed(c);
	t_closed = harness_now_ms();
	/* Nothing is opened, so nothing more is published: this seq is the last. */
	r = harness_ok(c, "subscribe", NULL);
	final_seq = (long)harness_int(r, "seq");
	json_object_put(r);
	__atomic_store_n(&s.shared->final_seq, final_seq, __ATOMIC_RELAXED);
	for (long k = 0; k < SOAK_SUBSCRIBERS; k++)
		soak_reap(subscribers[k], "subscriber", k);
	getrusage(RUSAGE_CHILDREN, &ru_clients);
	harness_client_free(c);
	ck_assert_int_eq(harness_daemon_stop(&s.d), 0);
	getrusage(RUSAGE_CHILDREN, &ru_all);

	soak_check_subscribers(&s, final_seq);
	soak_check_history(&s, counts, final_seq);
	fprintf(stderr,
		"soak: %.1f s in all: SIGKILL at %.1f s, listening again %.0f ms later, "
		"clients done at %.1f s, every job closed at %.1f s; CPU: clients (and the killed "
		"daemon) %.1f s, "
		"the restarted daemon and its tasks %.1f s\n",
		(harness_now_ms() - t0) / 1000.0, (t_kill - t0) / 1000.0,
		(double)(t_restart - t_kill), (t_clients - t0) / 1000.0, (t_closed - t0) / 1000.0,
		soak_cpu(&ru_clients), soak_cpu(&ru_all) - soak_cpu(&ru_clients));
	json_object_put(counts);
	free(clients);
	munmap(s.shared, sizeof(*s.shared));
	harness_daemon_cleanup(&s.d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("soak");

	tcase_add_test(tc, test_soak);
	suite_add_tcase(s, tc);
	return harness_run_suite(s);
}
