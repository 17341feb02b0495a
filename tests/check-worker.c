/* Worker threads: started with every signal blocked, stopped and joined on request. */
#include <signal.h>
#include <stdbool.h>
#include <check.h>

#include "checkrun.h"
#include "worker.h"

struct worker_probe {
	struct worker worker;
	bool all_blocked; /* what the thread found of its signal mask */
	bool saw_stop;
};

static void *worker_probe_thread(void *arg)
{
	struct worker_probe *p = arg;
	sigset_t mask;

	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	p->all_blocked = sigismember(&mask, SIGTERM) == 1 && sigismember(&mask, SIGCHLD) == 1 &&
			 sigismember(&mask, SIGHUP) == 1 && sigismember(&mask, SIGINT) == 1;
	pthread_mutex_lock(&p->worker.lock);
	while (!p->worker.stopping)
		pthread_cond_wait(&p->worker.wake, &p->worker.lock);
	p->saw_stop = true;
	pthread_mutex_unlock(&p->worker.lock);
	return NULL;
}

START_TEST(test_worker_blocks_signals_and_stops)
{
	struct worker_probe p = {0};
	sigset_t none, before, after;

	/* The caller's own mask is left as it was. */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, &before);
	ck_assert_int_eq(worker_start(&p.worker, worker_probe_thread, &p), 0);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	ck_assert_int_eq(sigismember(&after, SIGTERM), 0);
	worker_stop(&p.worker);
	ck_assert(p.saw_stop);
	ck_assert(p.all_blocked);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
}
END_TEST

/* A stop that comes before the thread first waits still ends it. */
START_TEST(test_worker_stop_at_once)
{
	for (int i = 0; i < 50; i++) {
		struct worker_probe p = {0};

		ck_assert_int_eq(worker_start(&p.worker, worker_probe_thread, &p), 0);
		worker_stop(&p.worker);
		ck_assert(p.saw_stop);
	}
}
END_TEST

static Suite *worker_suite(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_worker_blocks_signals_and_stops);
	tcase_add_test(tc, test_worker_stop_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(worker_suite());
}
