/* Check suite for the spawner thread with processes: start, failure, terminate and free while
 * starting. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <check.h>
#include <event2/event.h>

#include "process.h"
#include "spawner.h"
#include "testutil.h"

extern char **environ;

static struct event_base *base;
static struct spawner *sp;
static int started; /* 1 started, -1 failed */
static char start_error[256];
static bool finished;
static struct process_result result;

static void sp_started_cb(struct process *proc, const char *error, void *userdata)
{
	started = error ? -1 : 1;
	if (error)
		snprintf(start_error, sizeof(start_error), "%s", error);
}

static void sp_done_cb(struct process *proc, const struct process_result *res, void *userdata)
{
	finished = true;
	result = *res;
}

static void sp_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(spawner_new(base, &sp), 0);
	started = 0;
	finished = false;
	start_error[0] = '\0';
}

static void sp_teardown(void)
{
	spawner_free(sp);
	event_base_free(base);
}

static struct process *sp_spawn(char *const *argv)
{
	struct process_spec spec = {
		.argv = argv,
		.envp = environ,
		.result_tail = 4096,
		.kill_grace_ms = 100,
		.spawner = sp,
		.started = sp_started_cb,
	};
	struct process *proc = NULL;
	char *error = NULL;

	ck_assert_int_eq(process_spawn(base, &spec, sp_done_cb, NULL, &proc, &error), 0);
	ck_assert_ptr_null(error);
	return proc;
}

static void sp_turn_until(const bool *flag, const int *value)
{
	time_t deadline = time(NULL) + 20;

	while ((flag ? !*flag : *value == 0) && time(NULL) < deadline)
		event_base_loop(base, EVLOOP_ONCE);
}

START_TEST(test_spawner_runs)
{
	char *argv[] = {"sh", "-c", "echo hi; exit 3", NULL};
	struct process *proc = sp_spawn(argv);

	/* Nothing is decided inside the call: the loop hears of it. */
	ck_assert_int_eq(started, 0);
	ck_assert_int_eq(process_pid(proc), 0);
	sp_turn_until(NULL, &started);
	ck_assert_int_eq(started, 1);
	ck_assert_int_gt(process_pid(proc), 0);
	sp_turn_until(&finished, NULL);
	ck_assert(finished);
	ck_assert(!result.signaled);
	ck_assert_int_eq(result.exit_code, 3);
	ck_assert_uint_eq(result.stdout_len, 3);
	process_free(proc);
}
END_TEST

START_TEST(test_spawner_fails)
{
	char *argv[] = {"coord-no-such-program", NULL};
	struct process *proc = sp_spawn(argv);

	sp_turn_until(NULL, &started);
	ck_assert_int_eq(started, -1);
	ck_assert_ptr_nonnull(strstr(start_error, "coord-no-such-program"));
	ck_assert_ptr_nonnull(strstr(start_error, strerror(ENOENT)));
	process_free(proc);
}
END_TEST

START_TEST(test_spawner_terminate_while_starting)
{
	char *argv[] = {"sleep", "30", NULL};
	struct process *proc = sp_spawn(argv);

	process_terminate(proc);
	sp_turn_until(&finished, NULL);
	ck_assert_int_eq(started, 1);
	ck_assert(finished);
	ck_assert(result.signaled);
	ck_assert_int_eq(result.signal, SIGTERM);
	process_free(proc);
}
END_TEST

START_TEST(test_spawner_free_while_starting)
{
	char *argv[] = {"sleep", "30", NULL};
	struct process *proc = sp_spawn(argv);

	process_free(proc);
	spawner_free(sp); /* delivers the start: the orphan is killed and reaped */
	sp = NULL;
	ck_assert_int_eq(started, 0);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

static Suite *spawner_suite(void)
{
	Suite *s = suite_create("spawner");
	TCase *tc = tcase_create("spawner");

	tcase_add_checked_fixture(tc, sp_setup, sp_teardown);
	tcase_add_test(tc, test_spawner_runs);
	tcase_add_test(tc, test_spawner_fails);
	tcase_add_test(tc, test_spawner_terminate_while_starting);
	tcase_add_test(tc, test_spawner_free_while_starting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(spawner_suite());
}
