/*
 * Start-up recovery: jobs the previous run handed to a strategy that can
 * find them again (strategy_ops.reattach) are followed again; the other
 * jobs it left running are closed as lost; those that never started wait
 * or are queued again.
 */
#ifndef COORD_RECOVERY_H
#define COORD_RECOVERY_H

#include <stddef.h>

struct coordinator;
struct history;
struct state;

/*
 * Hands every opened job of the history that its strategy started and
 * can find again (a strategy_ref) back to it (reattach); of the others
 * stored as running, stops the leftover processes (only those that are
 * provably the same processes) and publishes each job's failure of kind
 * lost. How many were lost and taken back go in *ret_lost and
 * *ret_taken_back. 0 or negative errno.
 */
int recovery_run(struct history *history, struct state *state, struct coordinator *coordinator,
		 size_t *ret_lost, size_t *ret_taken_back);

/*
 * Takes up every job still opened in the history that never started
 * (waiting or queued), oldest first, so the queue keeps its order (see
 * coordinator_restore). Call it once the socket listens: tasks may start
 * on the next loop turn. *ret_count says how many. 0 or negative errno.
 */
int recovery_requeue(struct history *history, struct state *state, struct coordinator *coordinator,
		     size_t *ret_count);

#endif
