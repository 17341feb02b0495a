/*
 * Start-up recovery: jobs the previous run left opened are taken back by
 * their strategy when it can find them (strategy_ops.reattach), else
 * closed as lost.
 */
#ifndef COORD_RECOVERY_H
#define COORD_RECOVERY_H

#include <stddef.h>

struct daemon;

/*
 * Hands every job still opened in the history to its mode's strategy
 * (reattach); of the others, stops the leftover processes (only those that
 * are provably the same processes) and publishes each job's failure of
 * kind lost. How many were lost and taken back go in *ret_lost and
 * *ret_taken_back. 0 or negative errno.
 */
int recovery_run(struct daemon *d, size_t *ret_lost, size_t *ret_taken_back);

#endif
