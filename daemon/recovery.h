/*
 * Start-up recovery: jobs the previous run left running are closed as
 * lost; those that never started wait or are queued again.
 */
#ifndef COORD_RECOVERY_H
#define COORD_RECOVERY_H

#include <stddef.h>

struct daemon;

/*
 * Stops the leftover processes of every job stored as running in the
 * history (only those that are provably the same processes), and
 * publishes each job's failure of kind lost. *ret_count says how many. 0
 * or negative errno.
 */
int recovery_run(struct daemon *d, size_t *ret_count);

/*
 * Takes up every job still opened in the history that never started
 * (waiting or queued), oldest first, so the queue keeps its order (see
 * coordinator_restore). Call it once the socket listens: tasks may start
 * on the next loop turn. *ret_count says how many. 0 or negative errno.
 */
int recovery_requeue(struct daemon *d, size_t *ret_count);

#endif
