/*
 * The history's WAL checkpoints run in a thread of the daemon: with a
 * wake-up every few pages, checkpoints run all the time while submits
 * stream in; SIGKILL then loses no answered submit, the restarted daemon
 * (with a WAL left behind, recovered before its checkpoint thread copies
 * anything) finds them all, and a clean stop leaves no WAL behind.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <sqlite3.h>

#include "harness.h"

#define CKI_TASKS     1200
#define CKI_BATCH     100
#define CKI_KILL_AT   8 /* the batch the daemon is killed while it reads */
#define CKI_PAD_BYTES 1500

#define CKI_CONFIG                                                                                 \
	"[daemon]\n"                                                                               \
	"log_level = info\n"                                                                       \
	"checkpoint_pages = 8\n"                                                                   \
	"[mode:held]\n"                                                                            \
	"strategy = async\n"                                                                       \
	"max_queue = 100000\n"                                                                     \
	"paused = true\n"

struct cki_run {
	char prefix[64];
	char pad[CKI_PAD_BYTES + 1];
	long long first_id;
	bool answered[CKI_TASKS];
	size_t answers;
};

static off_t cki_size(const struct harness_daemon *d, const char *suffix)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/history.sqlite3%s", d->state, suffix);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void cki_submit(struct harness_client *c, struct cki_run *run, int i)
{
	long long id = harness_call_async(
		c, "submit",
		harness_json("{\"request_id\":\"%s%d\",\"mode\":\"held\",\"node\":{\"argv\":"
			     "[\"true\"],\"env\":{\"PAD\":\"%s\"}}}",
			     run->prefix, i, run->pad));

	if (i == 0)
		run->first_id = id;
	ck_assert_int_eq(id, run->first_id + i);
}

/* Takes one answer to a submit; false on timeout or the end of the connection. */
static bool cki_take_answer(struct harness_client *c, struct cki_run *run, int timeout_ms)
{
	json_object *o = harness_next_json(c, timeout_ms, NULL), *err;
	long long i;

	if (!o)
		return false;
	i = harness_int(o, "id") - run->first_id;
	ck_assert_msg(i >= 0 && i < CKI_TASKS, "%s", json_object_to_json_string(o));
	ck_assert_msg(!json_object_object_get_ex(o, "error", &err), "submit %lld refused: %s", i,
		      json_object_to_json_string(o));
	ck_assert_msg(!run->answered[i], "submit %lld answered twice", i);
	run->answered[i] = true;
	run->answers++;
	json_object_put(o);
	return true;
}

START_TEST(test_sigkill_with_checkpoints_running)
{
	static struct cki_run run;
	struct harness_daemon d;
	struct harness_client *c;
	sqlite3 *db;
	json_object *r;
	off_t db_start;
	char sql[256];
	int status;

	memset(&run, 0, sizeof(run));
	snprintf(run.prefix, sizeof(run.prefix), "ck%d-", (int)getpid());
	memset(run.pad, 'x', CKI_PAD_BYTES);
	harness_daemon_new(&d, CKI_CONFIG);
	db_start = cki_size(&d, "");
	c = harness_client_new(d.sock);
	for (int b = 0; b < CKI_KILL_AT; b++) {
		long long deadline = harness_now_ms() + HARNESS_WAIT_MS;

		for (int i = b * CKI_BATCH; i < (b + 1) * CKI_BATCH; i++)
			cki_submit(c, &run, i);
		while (run.answers < (size_t)(b + 1) * CKI_BATCH) {
			ck_assert_msg(harness_now_ms() < deadline, "%zu submits answered",
				      run.answers);
			cki_take_answer(c, &run, 1000);
		}
	}
	/* The WAL was copied into the database while the submits went on. */
	ck_assert_int_gt(cki_size(&d, ""), db_start);

	/* One more batch, and the daemon dies while it reads, commits and checkpoints it. */
	for (int i = CKI_KILL_AT * CKI_BATCH; i < (CKI_KILL_AT + 1) * CKI_BATCH; i++)
		cki_submit(c, &run, i);
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Every answer that reached the client before the end counts. */
	while (cki_take_answer(c, &run, HARNESS_WAIT_MS))
		;
	harness_client_free(c);
	ck_assert_int_ge(run.answers, (size_t)CKI_KILL_AT * CKI_BATCH);
	ck_assert_int_gt(cki_size(&d, "-wal"), 0);

	harness_daemon_start(&d);
	c = harness_client_new(d.sock);
	db = harness_db_open(&d);
	for (int i = 0; i < CKI_TASKS; i++) {
		if (!run.answered[i])
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE request_id = '%s%d'",
			 run.prefix, i);
		ck_assert_msg(harness_db_int(db, sql) == 1, "answered submit %d is lost", i);
	}
	sqlite3_close(db);
	r = harness_ok(c, "status", harness_json("{\"limit\":1}"));
	ck_assert_int_ge(harness_int(r, "counts.opened"), (long long)run.answers);
	json_object_put(r);
	/*
	 * The restarted daemon takes writes and checkpoints them. A submit
	 * not answered before the kill may be stored all the same (1002).
	 */
	for (int i = CKI_KILL_AT * CKI_BATCH; i < CKI_TASKS; i++) {
		if (run.answered[i])
			continue;
		r = harness_call(c, "submit",
				 harness_json("{\"request_id\":\"%s%d\",\"mode\":\"held\",\"node\":"
					      "{\"argv\":[\"true\"],\"env\":{\"PAD\":\"%s\"}}}",
					      run.prefix, i, run.pad),
				 HARNESS_WAIT_MS);
		ck_assert_msg(json_object_object_get_ex(r, "result", NULL) ||
				      harness_int(r, "error.code") == 1002,
			      "%s", json_object_to_json_string(r));
		json_object_put(r);
	}
	harness_client_free(c);

	/* A clean stop: the last connection's close copies the WAL and removes it. */
	ck_assert_int_eq(harness_daemon_stop(&d), 0);
	ck_assert_int_eq(cki_size(&d, "-wal"), -1);
	db = harness_db_open(&d);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE request_id LIKE '%s%%'",
		 run.prefix);
	ck_assert_int_eq(harness_db_int(db, sql), CKI_TASKS);
	sqlite3_close(db);
	harness_daemon_cleanup(&d);
}
END_TEST

static Suite *checkpoint_suite(void)
{
	Suite *s = suite_create("daemon-checkpoint");
	TCase *tc = tcase_create("crash");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_sigkill_with_checkpoints_running);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(checkpoint_suite());
}
