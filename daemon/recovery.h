/* Start-up recovery: jobs the previous run left opened are closed as lost. */
#ifndef COORD_RECOVERY_H
#define COORD_RECOVERY_H

#include <stddef.h>

struct coordinator;
struct history;
struct state;

/*
 * Stops the leftover processes of every job still opened in the history
 * (only those that are provably the same processes), and publishes each
 * job's failure of kind lost. *ret_count says how many. 0 or negative errno.
 */
int recovery_run(struct history *history, struct state *state, struct coordinator *coordinator,
		 size_t *ret_count);

#endif
