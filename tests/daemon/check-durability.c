/*
 * Durability over the real socket: SIGKILL with hundreds of tasks in
 * flight, SIGTERM and restart, corrupt and foreign history files, a
 * read-only state directory, and retention. The state directory lock is
 * in check-lifecycle.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>
#include <check.h>
#include <sqlite3.h>

#include "harness.h"

#define DUR_CRASH_TASKS	 400
#define DUR_CRASH_SLOTS	 4
#define DUR_SLEEP_EVERY	 7 /* every 7th task sleeps; the rest run `true` */
#define DUR_HISTORY_FILE "history.sqlite3"
#define DUR_TERM_JOBS	 14 /* closed jobs before the SIGTERM */

/* ---- helpers ---- */

/* The whole answer to `job` (its job and final message), or NULL with *ret_code set. */
static json_object *dur_job(struct harness_client *c, const char *request_id, int *ret_code)
{
	json_object *resp = harness_call(
		c, "job", harness_json("{\"request_id\":\"%s\"}", request_id), HARNESS_WAIT_MS);
	json_object *v;

	*ret_code = 0;
	if (json_object_object_get_ex(resp, "error", &v)) {
		*ret_code = (int)harness_int(v, "code");
		json_object_put(resp);
		return NULL;
	}
	v = json_object_get(harness_get(resp, "result"));
	json_object_put(resp);
	return v;
}

/* dur_job for a job that must exist. */
static json_object *dur_job_ok(struct harness_client *c, const char *request_id)
{
	int code;
	json_object *r = dur_job(c, request_id, &code);

	ck_assert_msg(r != NULL, "job %s: error %d", request_id, code);
	return r;
}

/* Every job in the history (status with the largest page), newest first. */
static json_object *dur_status_all(struct harness_client *c, const char *filter)
{
	json_object *r = harness_ok(
		c, "status",
		harness_json("{\"limit\":10000%s%s}", filter ? "," : "", filter ? filter : ""));

	ck_assert_msg(harness_is_null(r, "next"), "more than 10000 jobs: %s",
		      json_object_to_json_string(r));
	return r;
}

/* Reads the `message` notifications of a subscription from first to last (inclusive). */
static json_object *dur_read_messages(struct harness_client *c, long long first, long long last)
{
	json_object *out = json_object_new_array();

	for (long long want = first; want <= last; want++) {
		json_object *n = harness_notification(c, "message", HARNESS_WAIT_MS);

		ck_assert_msg(n != NULL, "message %lld of %lld..%lld never came", want, first,
			      last);
		ck_assert_int_eq(harness_int(n, "params.message.seq"), want);
		json_object_array_add(out, json_object_get(harness_get(n, "params.message")));
		json_object_put(n);
	}
	return out;
}

/* Subscribes with since_seq; returns the subscription's seq (the newest message). */
static long long dur_subscribe_since(struct harness_client *c, long long since)
{
	json_object *r = harness_ok(c, "subscribe", harness_json("{\"since_seq\":%lld}", since));
	long long seq = harness_int(r, "seq");

	json_object_put(r);
	return seq;
}

static char *dur_slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
	do {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*ret_len = len;
	return buf;
}

static void dur_write_at(const char *path, off_t offset, const void *data, size_t len, bool create)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0600);

	ck_assert_msg(fd >= 0, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(pwrite(fd, data, len, offset), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* Deterministic garbage that is nothing like an SQLite page. */
static void dur_garbage(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

/*
 * Starts the daemon on a state dir that must be refused; returns its exit
 * status and its stderr (caller frees).
 */
static int dur_refused_start(struct harness_daemon *d, char **ret_log)
{
	pid_t pid = harness_daemon_spawn(d);
	int status;

	d->pid = pid;
	status = harness_daemon_wait_exit(d, HARNESS_WAIT_MS);
	if (status < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		d->pid = 0;
		ck_abort_msg("coordinatord did not exit on a state dir it must refuse");
	}
	*ret_log = harness_daemon_log(d);
	return status;
}

/*
 * Live processes whose environment has COORD_REQUEST_ID=<prefix>...: their
 * pids and request_ids (caller frees each id) go into the arrays. With
 * only_sleep, only processes that are `sleep` by now (not still exec'ing).
 */
static size_t dur_task_processes(const char *prefix, bool only_sleep, pid_t *pids, char **ids,
				 size_t max)
{
	static const char key[] = "COORD_REQUEST_ID=";
	DIR *dir = opendir("/proc");
	struct dirent *e;
	size_t found = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) && found < max) {
		char path[300], env[65536], comm[64] = "";
		pid_t pid = (pid_t)atoi(e->d_name);
		size_t n;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(env, 1, sizeof(env) - 1, f);
		fclose(f);
		env[n] = '\0';
		if (only_sleep) {
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
			if ((f = fopen(path, "re"))) {
				if (!fgets(comm, sizeof(comm), f))
					comm[0] = '\0';
				fclose(f);
			}
			if (strcmp(comm, "sleep\n") != 0)
				continue;
		}
		for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
			const char *v = env + i;

			if (strncmp(v, key, sizeof(key) - 1) != 0 ||
			    strncmp(v + sizeof(key) - 1, prefix, strlen(prefix)) != 0)
				continue;
			if (!harness_pid_alive(pid))
				break;
			pids[found] = pid;
			ids[found] = strdup(v + sizeof(key) - 1);
			ck_assert_ptr_nonnull(ids[found]);
			found++;
			break;
		}
	}
	closedir(dir);
	return found;
}

static void dur_free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
}

struct dur_procs_wait {
	const char *prefix;
	bool only_sleep;
	size_t want; /* at least this many (or, with none, exactly zero) */
	bool none;
	pid_t pids[64];
	char *ids[64];
	size_t found;
};

static bool dur_procs_cb(void *arg)
{
	struct dur_procs_wait *w = arg;

	dur_free_ids(w->ids, w->found);
	w->found = dur_task_processes(w->prefix, w->only_sleep, w->pids, w->ids, 64);
	return w->none ? w->found == 0 : w->found >= w->want;
}

/* ---- 1. SIGKILL with hundreds in flight ---- */

/* Whether no job is opened any more (arg: a client). */
static bool dur_none_opened_cb(void *arg)
{
	json_object *r = harness_ok(arg, "status", harness_json("{\"limit\":1}"));
	bool none = harness_int(r, "counts.opened") == 0;

	json_object_put(r);
	return none;
}

/* clang-format off */
#define DUR_CRASH_CONFIG                                                                           \
	"[daemon]\n"                                                                               \
	"log_level = info\n"                                                                       \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	"max_queue = 10000\n"
/* clang-format on */

struct dur_crash {
	char prefix[64];
	char stop[192]; /* once it exists, a sleeper exits at once: those queued at the crash */
	bool answered[DUR_CRASH_TASKS];
	long long first_id; /* the JSON-RPC id of task 0's submit */
	size_t answers;
	json_object *seen; /* what the first subscriber received, indexed by seq */
	long long seen_last;
};

static void dur_crash_submit(struct harness_client *c, struct dur_crash *cr, int i)
{
	bool sleeps = i % DUR_SLEEP_EVERY == 0;
	char sleeper[256];
	long long id;

	snprintf(sleeper, sizeof(sleeper), "[\"sh\",\"-c\",\"[ -e %s ] || exec sleep 120\"]",
		 cr->stop);
	id = harness_call_async(c, "submit",
				harness_json("{\"request_id\":\"%s%d\",\"node\":{\"argv\":%s}}",
					     cr->prefix, i, sleeps ? sleeper : "[\"true\"]"));

	if (i == 0)
		cr->first_id = id;
	ck_assert_int_eq(id, cr->first_id + i);
}

/* Takes one answer to a submit; false on timeout or the end of the connection. */
static bool dur_crash_take_answer(struct harness_client *c, struct dur_crash *cr, int timeout_ms)
{
	bool eof;
	json_object *o = harness_next_json(c, timeout_ms, &eof), *err;
	long long i;

	if (!o)
		return false;
	i = harness_int(o, "id") - cr->first_id;
	ck_assert_msg(i >= 0 && i < DUR_CRASH_TASKS, "%s", json_object_to_json_string(o));
	ck_assert_msg(!json_object_object_get_ex(o, "error", &err), "submit %lld refused: %s", i,
		      json_object_to_json_string(o));
	ck_assert_msg(!cr->answered[i], "submit %lld answered twice", i);
	ck_assert_int_eq(
		strncmp(harness_str(o, "result.job.request_id"), cr->prefix, strlen(cr->prefix)),
		0);
	cr->answered[i] = true;
	cr->answers++;
	json_object_put(o);
	return true;
}

/* Takes one notification of the first subscriber; false on timeout or the end. */
static bool dur_crash_take_message(struct harness_client *sub, struct dur_crash *cr, int timeout_ms)
{
	json_object *o = harness_next_json(sub, timeout_ms, NULL);
	long long seq;

	if (!o)
		return false;
	ck_assert_str_eq(harness_str(o, "method"), "message");
	seq = harness_int(o, "params.message.seq");
	/* Live from the start: every seq once, in order, from 1. */
	ck_assert_msg(seq == cr->seen_last + 1, "seq %lld after %lld", seq, cr->seen_last);
	json_object_array_put_idx(cr->seen, (size_t)seq,
				  json_object_get(harness_get(o, "params.message")));
	cr->seen_last = seq;
	json_object_put(o);
	return true;
}

static bool dur_is_lost(json_object *msg)
{
	json_object *err;

	return strcmp(harness_str(msg, "type"), "request_failure") == 0 &&
	       json_object_object_get_ex(msg, "error", &err) &&
	       json_object_is_type(err, json_type_object) &&
	       strcmp(harness_str(err, "kind"), "lost") == 0;
}

START_TEST(test_sigkill_hundreds_in_flight)
{
	struct harness_daemon d;
	struct harness_client *c, *sub, *q, *sub2, *c2;
	struct dur_crash cr = {0};
	struct dur_procs_wait running = {.only_sleep = true, .want = DUR_CRASH_SLOTS};
	struct dur_procs_wait leftovers = {.none = true};
	json_object *r, *all, *replay, *ids_in_history, *created, *closed;
	long long mid_seq, last, old_max = 0, deadline, lost = 0, successes = 0, failures = 0;
	long long requeued = 0;
	FILE *stop;
	pid_t sleepers[DUR_CRASH_SLOTS];
	char *running_ids[DUR_CRASH_SLOTS];
	int status;

	snprintf(cr.prefix, sizeof(cr.prefix), "crash%d-", (int)getpid());
	cr.seen = json_object_new_array();
	harness_daemon_new(&d, DUR_CRASH_CONFIG);
	snprintf(cr.stop, sizeof(cr.stop), "%s/stop", d.dir);
	sub = harness_client_new(d.sock);
	r = harness_ok(sub, "subscribe", NULL);
	ck_assert_int_eq(harness_int(r, "seq"), 0);
	json_object_put(r);
	q = harness_client_new(d.sock);
	c = harness_client_new(d.sock);

	/* The first half, answered; the four slots fill with sleeps, the rest queues. */
	for (int i = 0; i < DUR_CRASH_TASKS / 2; i++)
		dur_crash_submit(c, &cr, i);
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (cr.answers < DUR_CRASH_TASKS / 2) {
		ck_assert_msg(harness_now_ms() < deadline, "only %zu of %d submits answered",
			      cr.answers, DUR_CRASH_TASKS / 2);
		dur_crash_take_answer(c, &cr, 1000);
	}
	running.prefix = cr.prefix;
	ck_assert_msg(harness_until(dur_procs_cb, &running, HARNESS_WAIT_MS),
		      "%zu of %d sleeps run", running.found, DUR_CRASH_SLOTS);
	ck_assert_int_eq(running.found, DUR_CRASH_SLOTS);
	for (size_t i = 0; i < DUR_CRASH_SLOTS; i++) {
		sleepers[i] = running.pids[i];
		running_ids[i] = running.ids[i];
	}
	r = harness_ok(q, "modes", NULL);
	ck_assert_int_eq(harness_int(r, "modes.0.running"), DUR_CRASH_SLOTS);
	ck_assert_int_gt(harness_int(r, "modes.0.queued"), 100);
	json_object_put(r);
	/* The subscriber has seen some of it: the point to resume from after the crash. */
	deadline = harness_now_ms() + HARNESS_WAIT_MS;
	while (cr.seen_last < 100) {
		ck_assert_msg(harness_now_ms() < deadline, "the subscriber got %lld messages",
			      cr.seen_last);
		dur_crash_take_message(sub, &cr, 1000);
	}
	mid_seq = cr.seen_last;

	/* The second half in one go, and the daemon dies while it reads it. */
	for (int i = DUR_CRASH_TASKS / 2; i < DUR_CRASH_TASKS; i++)
		dur_crash_submit(c, &cr, i);
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Everything that reached the clients before the end counts as heard. */
	while (dur_crash_take_answer(c, &cr, HARNESS_WAIT_MS))
		;
	while (dur_crash_take_message(sub, &cr, HARNESS_WAIT_MS))
		;
	harness_client_free(c);
	harness_client_free(sub);
	harness_client_free(q);

	/* The jobs queued at the crash run after the restart (v2): let their sleepers end at once.
	 */
	stop = fopen(cr.stop, "w");
	ck_assert_ptr_nonnull(stop);
	fclose(stop);
	harness_daemon_start(&d);
	/* Recovery stops what the lost jobs left running. */
	leftovers.prefix = cr.prefix;
	ck_assert_msg(harness_until(dur_procs_cb, &leftovers, HARNESS_WAIT_MS),
		      "%zu processes of lost jobs survive (e.g. pid %d)", leftovers.found,
		      leftovers.found ? (int)leftovers.pids[0] : 0);
	for (size_t i = 0; i < DUR_CRASH_SLOTS; i++)
		ck_assert_msg(!harness_pid_alive(sleepers[i]), "sleep %d of %s survives",
			      (int)sleepers[i], running_ids[i]);

	/* Resume from before the crash, once the requeued jobs have run: every later message once,
	 * in order, no gap. */
	q = harness_client_new(d.sock);
	ck_assert(harness_until(dur_none_opened_cb, q, HARNESS_WAIT_MS));
	harness_client_free(q);
	sub2 = harness_client_new(d.sock);
	last = dur_subscribe_since(sub2, mid_seq);
	ck_assert_int_gt(last, cr.seen_last);
	replay = dur_read_messages(sub2, mid_seq + 1, last);
	/* What the subscriber heard before the crash is what is stored. */
	for (long long seq = mid_seq + 1; seq <= cr.seen_last; seq++) {
		json_object *heard = json_object_array_get_idx(cr.seen, (size_t)seq);
		json_object *stored =
			json_object_array_get_idx(replay, (size_t)(seq - mid_seq - 1));

		ck_assert_msg(json_object_equal(heard, stored), "seq %lld: heard %s, stored %s",
			      seq, json_object_to_json_string(heard),
			      json_object_to_json_string(stored));
	}
	/*
	 * The recovery's lost messages come right after the last message of
	 * the old run; then only the ends of the jobs queued at the crash.
	 */
	for (long long seq = mid_seq + 1; seq <= last; seq++) {
		json_object *m = json_object_array_get_idx(replay, (size_t)(seq - mid_seq - 1));

		if (dur_is_lost(m)) {
			if (!old_max)
				old_max = seq - 1;
			ck_assert_msg(!requeued, "seq %lld: lost after a requeued job's end", seq);
			lost++;
		} else if (old_max) {
			ck_assert_msg(strcmp(harness_str(m, "type"), "request_success") == 0,
				      "seq %lld after the recovery: %s", seq,
				      json_object_to_json_string(m));
			requeued++;
		}
	}
	ck_assert_msg(old_max > 0, "no job was lost");
	ck_assert_int_ge(old_max, cr.seen_last);
	ck_assert_int_eq(last - old_max, lost + requeued);
	ck_assert_msg(requeued > 0, "no queued job ran after the restart");

	/* What the old run published, by request_id: created, and closed (before the crash). */
	created = json_object_new_object();
	closed = json_object_new_object();
	for (long long seq = 1; seq <= old_max; seq++) {
		json_object *m =
			seq <= mid_seq
				? json_object_array_get_idx(cr.seen, (size_t)seq)
				: json_object_array_get_idx(replay, (size_t)(seq - mid_seq - 1));
		const char *id = harness_str(m, "request_id");

		ck_assert_str_ne(harness_str(m, "type"), "request_creation_failure");
		if (strcmp(harness_str(m, "type"), "request_creation") == 0) {
			ck_assert_msg(!json_object_object_get_ex(created, id, NULL), "%s twice",
				      id);
			json_object_object_add(created, id, json_object_new_int64(seq));
		} else {
			ck_assert_msg(json_object_object_get_ex(created, id, NULL),
				      "%s closed before it was created", id);
			ck_assert_msg(!json_object_object_get_ex(closed, id, NULL),
				      "%s closed twice", id);
			json_object_object_add(closed, id, json_object_get(m));
			if (strcmp(harness_str(m, "type"), "request_success") == 0)
				successes++;
			else
				failures++;
		}
	}
	/* Each job still opened at the crash closes exactly once (lost, or it ran), and no other.
	 */
	for (long long seq = old_max + 1; seq <= last; seq++) {
		json_object *m = json_object_array_get_idx(replay, (size_t)(seq - mid_seq - 1));
		const char *id = harness_str(m, "request_id");

		ck_assert_msg(json_object_object_get_ex(created, id, NULL), "lost %s never existed",
			      id);
		ck_assert_msg(!json_object_object_get_ex(closed, id, NULL),
			      "%s closed before the crash, and again", id);
		json_object_object_add(closed, id, json_object_get(m));
	}
	ck_assert_int_eq(json_object_object_length(closed), json_object_object_length(created));
	/* The running ones were among them. */
	for (size_t i = 0; i < DUR_CRASH_SLOTS; i++) {
		json_object *m;

		ck_assert(json_object_object_get_ex(closed, running_ids[i], &m));
		ck_assert_msg(dur_is_lost(m), "%s ran at the crash: %s", running_ids[i],
			      json_object_to_json_string(m));
	}

	/* The history agrees: nothing opened, one closed job per creation. */
	q = harness_client_new(d.sock);
	all = dur_status_all(q, NULL);
	ck_assert_int_eq(harness_int(all, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(all, "counts.closed"), json_object_object_length(created));
	ck_assert_int_eq(harness_int(all, "counts.success"), successes + requeued);
	ck_assert_int_eq(harness_int(all, "counts.failure"), failures + lost);
	ck_assert_int_eq(json_object_array_length(harness_get(all, "jobs")),
			 json_object_object_length(created));
	ids_in_history = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(harness_get(all, "jobs")); i++) {
		json_object *job = json_object_array_get_idx(harness_get(all, "jobs"), i), *m;
		const char *id = harness_str(job, "request_id");

		ck_assert_msg(json_object_object_get_ex(closed, id, &m), "%s was never published",
			      id);
		ck_assert_str_eq(harness_str(job, "status"), "closed");
		ck_assert_str_eq(harness_str(job, "phase"), "finished");
		if (dur_is_lost(m)) {
			ck_assert_str_eq(harness_str(job, "result"), "failure");
			ck_assert_str_eq(harness_str(job, "error.kind"), "lost");
		}
		json_object_object_add(ids_in_history, id, NULL);
	}
	json_object_put(all);
	r = harness_ok(q, "status", harness_json("{\"status\":\"opened\"}"));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 0);
	ck_assert_int_eq(harness_int(r, "counts.opened"), 0);
	json_object_put(r);

	/* Every answered submit is on disk, closed, with its final message. */
	ck_assert_int_ge(cr.answers, DUR_CRASH_TASKS / 2);
	for (int i = 0; i < DUR_CRASH_TASKS; i++) {
		char id[96];
		json_object *job;

		if (!cr.answered[i])
			continue;
		snprintf(id, sizeof(id), "%s%d", cr.prefix, i);
		ck_assert_msg(json_object_object_get_ex(ids_in_history, id, NULL),
			      "answered %s is not in the history", id);
		job = dur_job_ok(q, id);
		ck_assert_str_eq(harness_str(job, "job.status"), "closed");
		ck_assert_int_eq(harness_int(job, "message.seq"),
				 harness_int(json_object_object_get(closed, id), "seq"));
		for (size_t k = 0; k < DUR_CRASH_SLOTS; k++)
			if (strcmp(id, running_ids[k]) == 0)
				ck_assert_str_eq(harness_str(job, "job.error.kind"), "lost");
		json_object_put(job);
	}

	/* And the resumed subscription goes on live. */
	c2 = harness_client_new(d.sock);
	r = harness_ok(c2, "submit",
		       harness_json("{\"request_id\":\"%safter\",\"wait\":true,"
				    "\"node\":{\"argv\":[\"true\"]}}",
				    cr.prefix));
	ck_assert_str_eq(harness_str(r, "job.result"), "success");
	json_object_put(r);
	json_object_put(replay);
	replay = dur_read_messages(sub2, last + 1, last + 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *m = json_object_array_get_idx(replay, i);
		char want[96];

		snprintf(want, sizeof(want), "%safter", cr.prefix);
		ck_assert_str_eq(harness_str(m, "request_id"), want);
	}
	ck_assert_str_eq(harness_str(json_object_array_get_idx(replay, 1), "type"),
			 "request_success");
	ck_assert(harness_silent(sub2, 200));

	dur_free_ids(running_ids, DUR_CRASH_SLOTS);
	dur_free_ids(leftovers.ids, leftovers.found);
	json_object_put(replay);
	json_object_put(created);
	json_object_put(closed);
	json_object_put(ids_in_history);
	json_object_put(cr.seen);
	harness_client_free(c2);
	harness_client_free(sub2);
	harness_client_free(q);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 2. SIGTERM and restart ---- */

/* clang-format off */
#define DUR_TERM_CONFIG                                                                            \
	"[daemon]\n"                                                                               \
	"shutdown_grace_sec = 60\n"                                                                \
	HARNESS_CONFIG_MODE("async", "4")                                                          \
	"[mode:other]\n"                                                                           \
	"max_concurrency = 2\n"
/* clang-format on */

static void dur_wait_submit(struct harness_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Submits with wait; the answer's job must be closed. */
static void dur_wait_submit(struct harness_client *c, const char *fmt, ...)
{
	va_list ap;
	char *text;
	json_object *r;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	r = harness_ok(c, "submit", harness_json("%s", text));
	ck_assert_str_eq(harness_str(r, "job.status"), "closed");
	json_object_put(r);
	free(text);
}

START_TEST(test_sigterm_restart_keeps_everything)
{
	struct harness_daemon d;
	struct harness_client *c, *sub;
	json_object *r, *before, *before_other, *before_run, *after, *heard, *replay, *jobs;
	json_object *answers;
	long long heard_last = 0, last, seq;
	int status;

	harness_daemon_new(&d, DUR_TERM_CONFIG);
	sub = harness_client_new(d.sock);
	ck_assert_int_eq(dur_subscribe_since(sub, 0), 0);
	c = harness_client_new(d.sock);
	/* Every kind of ending there is, in two modes and one tree. */
	for (int i = 0; i < 6; i++)
		dur_wait_submit(c,
				"{\"request_id\":\"ok%d\",\"wait\":true,\"node\":{\"argv\":"
				"[\"sh\",\"-c\",\"echo out %d; echo err %d >&2\"]}}",
				i, i, i);
	dur_wait_submit(c, "{\"request_id\":\"exit3\",\"wait\":true,\"node\":{\"argv\":"
			   "[\"sh\",\"-c\",\"exit 3\"]}}");
	dur_wait_submit(c, "{\"request_id\":\"slow\",\"wait\":true,\"node\":{\"argv\":"
			   "[\"sleep\",\"60\"],\"timeout_ms\":100}}");
	dur_wait_submit(c, "{\"request_id\":\"nosuch\",\"wait\":true,\"node\":{\"argv\":"
			   "[\"/nonexistent/program\"]}}");
	dur_wait_submit(c, "{\"request_id\":\"root\",\"wait\":true,\"mode\":\"other\","
			   "\"node\":{\"id\":\"root-node\",\"argv\":[\"true\"]}}");
	for (int i = 0; i < 3; i++)
		dur_wait_submit(c,
				"{\"request_id\":\"kid%d\",\"wait\":true,\"mode\":\"other\","
				"\"parent_node_id\":\"root-node\",\"node\":{\"argv\":[\"true\"]}}",
				i);
	harness_submit_json(c, "{\"request_id\":\"victim\",\"node\":{\"argv\":"
			       "[\"sleep\",\"60\"]}}");
	json_object_put(harness_wait_running(c, "victim"));
	r = harness_ok(c, "cancel", harness_json("{\"request_id\":\"victim\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	/* A refused task publishes a creation failure: that is part of the log too. */
	ck_assert_int_eq(harness_err(c, "submit",
				     harness_json("{\"request_id\":\"refused\",\"mode\":\"nope\","
						  "\"node\":{\"argv\":[\"true\"]}}"),
				     NULL),
			 1003);

	before = dur_status_all(c, NULL);
	before_other = dur_status_all(c, "\"mode\":\"other\"");
	before_run = dur_status_all(c, "\"run_id\":\"root\"");
	ck_assert_int_eq(harness_int(before, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(before, "counts.closed"), DUR_TERM_JOBS);
	ck_assert_int_eq(harness_int(before_run, "counts.closed"), 4);
	jobs = harness_get(before, "jobs");
	answers = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		json_object *job = json_object_array_get_idx(jobs, i);

		json_object_array_add(answers, dur_job_ok(c, harness_str(job, "request_id")));
	}
	/* One more, still running when SIGTERM comes: the drain lets it finish. */
	harness_submit_json(c, "{\"request_id\":\"drained\",\"node\":{\"argv\":"
			       "[\"sleep\",\"1\"]}}");
	json_object_put(harness_wait_running(c, "drained"));
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	status = harness_daemon_wait_exit(&d, HARNESS_WAIT_MS * 2);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	heard = json_object_new_array();
	for (;;) {
		json_object *n = harness_next_json(sub, HARNESS_WAIT_MS, NULL);

		if (!n)
			break;
		seq = harness_int(n, "params.message.seq");
		ck_assert_int_eq(seq, heard_last + 1);
		json_object_array_put_idx(heard, (size_t)seq,
					  json_object_get(harness_get(n, "params.message")));
		heard_last = seq;
		json_object_put(n);
	}
	harness_client_free(sub);
	harness_client_free(c);
	/* The jobs, each created and closed, a creation failure, the drained job's two. */
	ck_assert_int_eq(heard_last, DUR_TERM_JOBS * 2 + 1 + 2);
	ck_assert_str_eq(harness_str(json_object_array_get_idx(heard, (size_t)heard_last), "type"),
			 "request_success");

	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	/* Every job as it was, the drained one finished; the counts with it. */
	after = dur_status_all(c, NULL);
	ck_assert_int_eq(harness_int(after, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(after, "counts.closed"),
			 harness_int(before, "counts.closed") + 1);
	ck_assert_int_eq(harness_int(after, "counts.success"),
			 harness_int(before, "counts.success") + 1);
	ck_assert_int_eq(harness_int(after, "counts.failure"),
			 harness_int(before, "counts.failure"));
	ck_assert_str_eq(harness_str(after, "jobs.0.request_id"), "drained");
	ck_assert_str_eq(harness_str(after, "jobs.0.result"), "success");
	json_object_array_del_idx(harness_get(after, "jobs"), 0, 1);
	ck_assert_msg(json_object_equal(harness_get(before, "jobs"), harness_get(after, "jobs")),
		      "%s became %s", json_object_to_json_string(harness_get(before, "jobs")),
		      json_object_to_json_string(harness_get(after, "jobs")));
	json_object_put(after);
	after = dur_status_all(c, "\"mode\":\"other\"");
	ck_assert(json_object_equal(before_other, after));
	json_object_put(after);
	after = dur_status_all(c, "\"run_id\":\"root\"");
	ck_assert(json_object_equal(before_run, after));
	json_object_put(after);
	for (size_t i = 0; i < json_object_array_length(answers); i++) {
		json_object *was = json_object_array_get_idx(answers, i);
		json_object *now = dur_job_ok(c, harness_str(was, "job.request_id"));

		ck_assert_msg(json_object_equal(was, now), "%s became %s",
			      json_object_to_json_string(was), json_object_to_json_string(now));
		json_object_put(now);
	}
	/* Every message as heard, and seq goes on after the last. */
	last = dur_subscribe_since(c, 0);
	ck_assert_int_eq(last, heard_last);
	replay = dur_read_messages(c, 1, last);
	for (long long s = 1; s <= last; s++)
		ck_assert_msg(json_object_equal(json_object_array_get_idx(heard, (size_t)s),
						json_object_array_get_idx(replay, (size_t)s - 1)),
			      "message %lld changed", s);
	json_object_put(replay);
	harness_submit_json(c, "{\"request_id\":\"next\",\"node\":{\"argv\":"
			       "[\"true\"]}}");
	replay = dur_read_messages(c, last + 1, last + 1);
	ck_assert_str_eq(harness_str(replay, "0.request_id"), "next");
	ck_assert_str_eq(harness_str(replay, "0.type"), "request_creation");
	json_object_put(replay);
	json_object_put(heard);
	json_object_put(answers);
	json_object_put(before);
	json_object_put(before_other);
	json_object_put(before_run);
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 3. corrupt and foreign history files ---- */

static void dur_sqlite(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	int rc = sqlite3_open(path, &db);

	ck_assert_msg(rc == SQLITE_OK, "cannot create %s: %s", path, sqlite3_errstr(rc));
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : sqlite3_errstr(rc));
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/*
 * The daemon must refuse the history file as it is, say why (want) and
 * name it, change no byte of it, and never listen.
 */
static void dur_assert_refused_file(struct harness_daemon *d, const char *want)
{
	char path[256], side[300], *log;
	size_t len_before, len_after;
	char *before, *after;
	int status;

	snprintf(path, sizeof(path), "%s/%s", d->state, DUR_HISTORY_FILE);
	before = dur_slurp(path, &len_before);
	status = dur_refused_start(d, &log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x: %s", status, log);
	ck_assert_msg(strstr(log, path), "the error does not name %s: %s", path, log);
	ck_assert_msg(strstr(log, want), "the error does not say \"%s\": %s", want, log);
	ck_assert_msg(access(d->sock, F_OK) != 0, "the refused daemon made its socket");
	after = dur_slurp(path, &len_after);
	ck_assert_msg(len_before == len_after && memcmp(before, after, len_before) == 0,
		      "%s was modified (%zu bytes, then %zu)", path, len_before, len_after);
	snprintf(side, sizeof(side), "%s-wal", path);
	ck_assert_msg(access(side, F_OK) != 0, "%s was made", side);
	snprintf(side, sizeof(side), "%s-journal", path);
	ck_assert_msg(access(side, F_OK) != 0, "%s was made", side);
	free(before);
	free(after);
	free(log);
	/* The next attempt starts from a clean log. */
	ck_assert_int_eq(truncate(d->log, 0), 0);
}

START_TEST(test_garbage_history_refused)
{
	struct harness_daemon d;
	unsigned char garbage[65536];
	char path[256];

	harness_daemon_init(&d, NULL);
	snprintf(path, sizeof(path), "%s/%s", d.state, DUR_HISTORY_FILE);
	ck_assert_int_eq(mkdir(d.state, 0700), 0);
	dur_garbage(garbage, sizeof(garbage), 1);
	dur_write_at(path, 0, garbage, sizeof(garbage), true);
	dur_assert_refused_file(&d, "not a database");
	/* Plain text is no better. */
	dur_write_at(path, 0, "jobs: none\n", 11, true);
	dur_assert_refused_file(&d, "not a database");
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_damaged_history_refused)
{
	struct harness_daemon d;
	struct harness_client *c;
	unsigned char garbage[100];
	char path[256], *good;
	size_t len;

	/* A real history with a few jobs, stopped cleanly. */
	harness_daemon_new(&d, NULL);
	c = harness_client_new(d.sock);
	for (int i = 0; i < 20; i++)
		dur_wait_submit(c,
				"{\"wait\":true,\"node\":{\"argv\":[\"sh\",\"-c\","
				"\"echo %d\"]}}",
				i);
	harness_client_free(c);
	ck_assert_int_eq(harness_daemon_stop(&d), 0);
	snprintf(path, sizeof(path), "%s/%s", d.state, DUR_HISTORY_FILE);
	good = dur_slurp(path, &len);
	ck_assert_int_gt(len, 4096);

	/* Its header overwritten. */
	dur_garbage(garbage, sizeof(garbage), 2);
	dur_write_at(path, 0, garbage, sizeof(garbage), false);
	dur_assert_refused_file(&d, "not a database");
	/* Its header intact, every page after the first overwritten. */
	dur_write_at(path, 0, good, len, true);
	{
		unsigned char *junk = malloc(len - 4096);

		ck_assert_ptr_nonnull(junk);
		dur_garbage(junk, len - 4096, 3);
		dur_write_at(path, 4096, junk, len - 4096, false);
		free(junk);
	}
	dur_assert_refused_file(&d, "malformed");
	/* Put back as it was, it is accepted again. */
	dur_write_at(path, 0, good, len, true);
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	{
		json_object *r = dur_status_all(c, NULL);

		ck_assert_int_eq(harness_int(r, "counts.success"), 20);
		json_object_put(r);
	}
	harness_client_free(c);
	free(good);
	harness_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_foreign_sqlite_refused)
{
	struct harness_daemon d;
	char path[256];

	harness_daemon_init(&d, NULL);
	snprintf(path, sizeof(path), "%s/%s", d.state, DUR_HISTORY_FILE);
	ck_assert_int_eq(mkdir(d.state, 0700), 0);
	/* Another program's database, tables of its own and no application id. */
	dur_sqlite(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT);"
			 "INSERT INTO accounts (owner) VALUES ('alice'), ('bob');");
	dur_assert_refused_file(&d, "another program");
	/* One that says whose it is. */
	unlink(path);
	dur_sqlite(path, "PRAGMA application_id = 305419896;"
			 "CREATE TABLE jobs (request_id TEXT);");
	dur_assert_refused_file(&d, "0x12345678");
	/* Ours, from a newer coordinatord. */
	unlink(path);
	dur_sqlite(path, "PRAGMA application_id = 1129271122; PRAGMA user_version = 99;"
			 "CREATE TABLE jobs (request_id TEXT);");
	dur_assert_refused_file(&d, "newer");
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 4. a read-only state directory ---- */

enum dur_ro {
	DUR_RO_PERMISSIONS, /* not root: mode 0555 is enough */
	DUR_RO_MOUNT,	    /* a read-only bind mount in a mount namespace of this test */
	DUR_RO_IMMUTABLE,   /* chattr +i */
	DUR_RO_OTHER_USER,  /* the daemon runs as nobody against root's 0755 dir */
};

static bool dur_cannot_write(const char *dir)
{
	char probe[300];
	int fd;

	snprintf(probe, sizeof(probe), "%s/probe", dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return true;
	close(fd);
	unlink(probe);
	return false;
}

static int dur_set_immutable(const char *dir, bool on)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags = 0, r = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return r;
}

/* Makes dir read-only for the daemon by the first way that works here. */
static enum dur_ro dur_make_read_only(const char *dir)
{
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(dir, 0555), 0);
		ck_assert(dur_cannot_write(dir));
		return DUR_RO_PERMISSIONS;
	}
	/* Private mounts first, so nothing propagates out of this test's namespace. */
	if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount(dir, dir, NULL, MS_BIND, NULL) == 0) {
		if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0 &&
		    dur_cannot_write(dir))
			return DUR_RO_MOUNT;
		umount2(dir, MNT_DETACH);
	}
	if (dur_set_immutable(dir, true) == 0) {
		if (dur_cannot_write(dir))
			return DUR_RO_IMMUTABLE;
		dur_set_immutable(dir, false);
	}
	return DUR_RO_OTHER_USER;
}

static void dur_undo_read_only(const char *dir, enum dur_ro how)
{
	switch (how) {
	case DUR_RO_PERMISSIONS:
		chmod(dir, 0700);
		break;
	case DUR_RO_MOUNT:
		umount2(dir, MNT_DETACH);
		break;
	case DUR_RO_IMMUTABLE:
		dur_set_immutable(dir, false);
		break;
	case DUR_RO_OTHER_USER:
		break;
	}
}

static const char *dur_find_setpriv(void)
{
	static const char *const paths[] = {"/usr/bin/setpriv", "/bin/setpriv"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Starts the daemon on state_dir, which it must refuse; its exit status and stderr. */
static int dur_start_read_only(struct harness_daemon *d, enum dur_ro how, char **ret_log)
{
	const char *setpriv;

	if (how != DUR_RO_OTHER_USER)
		return dur_refused_start(d, ret_log);
	setpriv = dur_find_setpriv();
	ck_assert_msg(setpriv != NULL, "no read-only bind mount, no chattr +i and no setpriv: "
				       "cannot make a read-only state directory for root here");
	{
		char *const argv[] = {(char *)setpriv,
				      "--reuid=65534",
				      "--regid=65534",
				      "--clear-groups",
				      (char *)getenv("COORDINATORD"),
				      "--socket",
				      d->sock,
				      "--state-dir",
				      d->state,
				      NULL};

		return harness_run(argv, ret_log);
	}
}

START_TEST(test_read_only_state_dir_refused)
{
	struct harness_daemon d;
	char base[192], history[256], *log;
	enum dur_ro how;
	int status, status_sub;
	char *log_sub;

	harness_daemon_init(&d, NULL);
	ck_assert_int_eq(mkdir(d.state, 0755), 0);
	/* As nobody, the daemon must at least reach the directory. */
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	how = dur_make_read_only(d.state);
	status = dur_start_read_only(&d, how, &log);
	/* And one level below: a state dir that cannot be made. */
	snprintf(base, sizeof(base), "%s", d.state);
	ck_assert_int_lt(snprintf(d.state, sizeof(d.state), "%s/sub", base), (int)sizeof(d.state));
	status_sub = dur_start_read_only(&d, how, &log_sub);
	snprintf(d.state, sizeof(d.state), "%s", base);
	dur_undo_read_only(d.state, how);
	ck_assert_int_eq(chmod(d.dir, 0700), 0);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x (%d): %s", status,
		      how, log);
	ck_assert_msg(strstr(log, d.state), "the error does not name %s: %s", d.state, log);
	ck_assert_msg(strstr(log, "cannot write"), "the error does not say what: %s", log);
	ck_assert_msg(WIFEXITED(status_sub) && WEXITSTATUS(status_sub) != 0, "status %#x: %s",
		      status_sub, log_sub);
	ck_assert_msg(strstr(log_sub, base) && strstr(log_sub, "/sub"),
		      "the error does not name %s/sub: %s", base, log_sub);
	ck_assert_msg(strstr(log_sub, "cannot create"), "the error does not say what: %s", log_sub);
	snprintf(history, sizeof(history), "%s/%s", d.state, DUR_HISTORY_FILE);
	ck_assert_int_ne(access(history, F_OK), 0);
	ck_assert_int_ne(access(d.sock, F_OK), 0);
	free(log);
	free(log_sub);
	/* Writable again, the same directory is fine. */
	harness_daemon_start(&d);
	harness_daemon_cleanup(&d);
}
END_TEST

/* ---- 5. retention ---- */

#define DUR_KEEP 20

/* clang-format off */
#define DUR_RETENTION_CONFIG                                                                       \
	HARNESS_CONFIG_DAEMON                                                                      \
	"retention_max_jobs = 20\n"                                                                \
	HARNESS_CONFIG_MODE("async", "4")
/* clang-format on */

struct dur_status_wait {
	struct harness_client *c;
	long long max_closed;
};

static bool dur_closed_at_most_cb(void *arg)
{
	struct dur_status_wait *w = arg;
	json_object *r = harness_ok(w->c, "status", harness_json("{\"limit\":1}"));
	bool done = harness_int(r, "counts.closed") <= w->max_closed;

	json_object_put(r);
	return done;
}

struct dur_gone_wait {
	struct harness_client *c;
	const char *request_id;
};

static bool dur_job_gone_cb(void *arg)
{
	struct dur_gone_wait *w = arg;
	int code;
	json_object *r = dur_job(w->c, w->request_id, &code);

	json_object_put(r);
	return r == NULL && code == 1001;
}

/* The counts agree with the jobs listed; returns the listing. */
static json_object *dur_status_consistent(struct harness_client *c)
{
	json_object *all = dur_status_all(c, NULL), *jobs = harness_get(all, "jobs");
	long long opened = 0, success = 0, failure = 0;

	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		json_object *job = json_object_array_get_idx(jobs, i);

		if (strcmp(harness_str(job, "status"), "opened") == 0)
			opened++;
		else if (strcmp(harness_str(job, "result"), "success") == 0)
			success++;
		else
			failure++;
	}
	ck_assert_int_eq(harness_int(all, "counts.opened"), opened);
	ck_assert_int_eq(harness_int(all, "counts.closed"), success + failure);
	ck_assert_int_eq(harness_int(all, "counts.success"), success);
	ck_assert_int_eq(harness_int(all, "counts.failure"), failure);
	return all;
}

/* subscribe with since_seq 0 must fail with 1001; returns data.oldest_seq. */
static long long dur_oldest_seq(struct harness_client *c)
{
	json_object *resp =
		harness_call(c, "subscribe", harness_json("{\"since_seq\":0}"), HARNESS_WAIT_MS);
	json_object *err;
	long long oldest;

	ck_assert_msg(json_object_object_get_ex(resp, "error", &err),
		      "nothing was pruned from the message log: %s",
		      json_object_to_json_string(resp));
	ck_assert_int_eq(harness_int(err, "code"), 1001);
	oldest = harness_int(err, "data.oldest_seq");
	json_object_put(resp);
	return oldest;
}

static long long dur_creation_seq(json_object *messages, const char *request_id)
{
	for (size_t i = 0; i < json_object_array_length(messages); i++) {
		json_object *m = json_object_array_get_idx(messages, i);

		if (strcmp(harness_str(m, "type"), "request_creation") == 0 &&
		    strcmp(harness_str(m, "request_id"), request_id) == 0)
			return harness_int(m, "seq");
	}
	return 0;
}

START_TEST(test_retention)
{
	struct harness_daemon d;
	struct harness_client *c, *sub;
	struct dur_status_wait w = {.max_closed = DUR_KEEP};
	struct dur_gone_wait gone;
	json_object *all, *jobs, *replay, *r;
	long long oldest, last, oldest2;
	int code;

	harness_daemon_new(&d, DUR_RETENTION_CONFIG);
	c = harness_client_new(d.sock);
	w.c = c;
	/* 30 old jobs, an opened one, 60 newer ones, and the newest, opened too. */
	for (int i = 0; i < 30; i++)
		dur_wait_submit(c,
				"{\"request_id\":\"old%d\",\"wait\":true,\"node\":{\"argv\":"
				"[\"true\"]}}",
				i);
	harness_submit_json(c, "{\"request_id\":\"keeper\",\"node\":{\"argv\":"
			       "[\"sleep\",\"300\"]}}");
	for (int i = 0; i < 60; i++)
		dur_wait_submit(c,
				"{\"request_id\":\"new%d\",\"wait\":true,\"node\":{\"argv\":"
				"[\"sh\",\"-c\",\"exit %d\"]}}",
				i, i % 3 == 0);
	harness_submit_json(c, "{\"request_id\":\"fresh\",\"node\":{\"argv\":"
			       "[\"sleep\",\"300\"]}}");
	ck_assert_msg(harness_until(dur_closed_at_most_cb, &w, HARNESS_WAIT_MS),
		      "retention kept more than %d closed jobs", DUR_KEEP);

	/* The newest closed jobs are kept, both opened ones too, and the counts agree. */
	all = dur_status_consistent(c);
	jobs = harness_get(all, "jobs");
	ck_assert_int_eq(harness_int(all, "counts.opened"), 2);
	ck_assert_int_eq(harness_int(all, "counts.closed"), DUR_KEEP);
	ck_assert_int_eq(json_object_array_length(jobs), DUR_KEEP + 2);
	ck_assert_str_eq(harness_str(jobs, "0.request_id"), "fresh");
	for (int i = 0; i < DUR_KEEP; i++) {
		char want[32];

		snprintf(want, sizeof(want), "new%d", 59 - i);
		ck_assert_str_eq(
			harness_str(json_object_array_get_idx(jobs, (size_t)i + 1), "request_id"),
			want);
	}
	ck_assert_str_eq(harness_str(jobs, "21.request_id"), "keeper");
	ck_assert_str_eq(harness_str(jobs, "21.status"), "opened");
	json_object_put(all);
	ck_assert_ptr_null(dur_job(c, "old0", &code));
	ck_assert_int_eq(code, 1001);
	ck_assert_ptr_null(dur_job(c, "new39", &code));
	ck_assert_int_eq(code, 1001);

	/* The log lost its prefix up to the keeper's first message, and no more. */
	oldest = dur_oldest_seq(c);
	ck_assert_int_gt(oldest, 1);
	{
		json_object *resp = harness_call(c, "subscribe",
						 harness_json("{\"since_seq\":%lld}", oldest - 2),
						 HARNESS_WAIT_MS);

		ck_assert_int_eq(harness_int(resp, "error.code"), 1001);
		json_object_put(resp);
	}
	sub = harness_client_new(d.sock);
	last = dur_subscribe_since(sub, oldest - 1);
	replay = dur_read_messages(sub, oldest, last);
	ck_assert_int_eq(dur_creation_seq(replay, "keeper"), oldest);
	ck_assert_int_gt(dur_creation_seq(replay, "fresh"), 0);
	for (int i = 40; i < 60; i++) {
		char id[32];
		json_object *job;

		snprintf(id, sizeof(id), "new%d", i);
		ck_assert_int_gt(dur_creation_seq(replay, id), oldest);
		job = dur_job_ok(c, id);
		ck_assert_int_gt(harness_int(job, "message.seq"), oldest);
		ck_assert_int_le(harness_int(job, "message.seq"), last);
		json_object_put(job);
	}
	json_object_put(replay);
	harness_client_free(sub);

	/* Closed, the keeper goes too, and the log's start moves on with it. */
	r = harness_ok(c, "cancel", harness_json("{\"request_id\":\"keeper\"}"));
	ck_assert_str_eq(harness_str(r, "job.error.kind"), "cancelled");
	json_object_put(r);
	gone.c = c;
	gone.request_id = "keeper";
	ck_assert_msg(harness_until(dur_job_gone_cb, &gone, HARNESS_WAIT_MS),
		      "retention never removed the closed keeper");
	ck_assert(harness_until(dur_closed_at_most_cb, &w, HARNESS_WAIT_MS));
	all = dur_status_consistent(c);
	ck_assert_int_eq(harness_int(all, "counts.closed"), DUR_KEEP);
	json_object_put(all);
	oldest2 = dur_oldest_seq(c);
	ck_assert_int_gt(oldest2, oldest);
	sub = harness_client_new(d.sock);
	last = dur_subscribe_since(sub, oldest2 - 1);
	replay = dur_read_messages(sub, oldest2, last);
	json_object_put(replay);
	harness_client_free(sub);
	harness_client_free(c);

	/* After a restart the counts still agree (the drain cancels "fresh"). */
	ck_assert_int_eq(harness_daemon_stop(&d), 0);
	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	w.c = c;
	ck_assert(harness_until(dur_closed_at_most_cb, &w, HARNESS_WAIT_MS));
	all = dur_status_consistent(c);
	ck_assert_int_eq(harness_int(all, "counts.opened"), 0);
	ck_assert_int_eq(harness_int(all, "counts.closed"), DUR_KEEP);
	ck_assert_str_eq(harness_str(all, "jobs.0.request_id"), "fresh");
	json_object_put(all);
	ck_assert_int_ge(dur_oldest_seq(c), oldest2);
	/* A pruned request_id may be used again. */
	dur_wait_submit(c, "{\"request_id\":\"old0\",\"wait\":true,\"node\":{\"argv\":"
			   "[\"true\"]}}");
	harness_client_free(c);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *dur_suite(void)
{
	Suite *s = suite_create("daemon-durability");
	TCase *tc = tcase_create("durability");

	tcase_add_test(tc, test_sigkill_hundreds_in_flight);
	tcase_add_test(tc, test_sigterm_restart_keeps_everything);
	tcase_add_test(tc, test_garbage_history_refused);
	tcase_add_test(tc, test_damaged_history_refused);
	tcase_add_test(tc, test_foreign_sqlite_refused);
	tcase_add_test(tc, test_read_only_state_dir_refused);
	tcase_add_test(tc, test_retention);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(dur_suite());
}
