/*
 * A worker thread of the daemon's (the spawner, the checkpointer, the
 * Slurm collector): it sleeps on a condition until its owner wakes it, and
 * shares one lock with its owner. The owner embeds the worker and keeps
 * what the two share under its lock; the worker only knows how to start
 * and stop the thread.
 */
#ifndef COORD_WORKER_H
#define COORD_WORKER_H

#include <pthread.h>
#include <stdbool.h>

struct worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping; /* under lock: the thread is to end */
};

/*
 * Makes the lock and the condition and starts fn(arg) on a new thread
 * with every signal blocked (signals are the event loop's). 0, or a
 * negative errno with nothing left to undo.
 */
int worker_start(struct worker *w, void *(*fn)(void *), void *arg);

/*
 * For the thread, holding the lock: waits on wake for at most ms
 * milliseconds (the monotonic clock's). false once they passed, true when
 * woken (or spuriously) before: either way the caller looks again at what
 * it waits for.
 */
bool worker_wait_ms(struct worker *w, unsigned ms);

/*
 * Sets stopping and wakes the thread, waits for it to end (fn returns once
 * it sees stopping), then frees the lock and the condition.
 */
void worker_stop(struct worker *w);

#endif
