/*
 * What finished tasks left behind in their process groups, held by the
 * leaders' pidfds and stopped with SIGKILL when the grace period is over.
 */
#ifndef COORD_SWEEPER_H
#define COORD_SWEEPER_H

#include <stdbool.h>

struct event_base;
struct sweeper;

/* NULL on ENOMEM. */
struct sweeper *sweeper_new(struct event_base *base);

/* SIGKILLs every group still waiting for its grace period to end, and frees. Accepts NULL. */
void sweeper_free(struct sweeper *sw);

/*
 * Sends sig to the process group whose leader pidfd refers to (see
 * sweeper.c): 0, -ESRCH when the group is empty, -EINVAL when the kernel
 * cannot (before Linux 6.9), -EBADF for no pidfd.
 */
int sweeper_signal_group(int pidfd, int sig);

/*
 * Whether the kernel signals a group through a pidfd, asked once with
 * pidfd (a leader not reaped yet) and remembered. False for no sweeper.
 */
bool sweeper_supported(struct sweeper *sw, int pidfd);

/*
 * Takes pidfd (of a reaped leader whose group still has members) and
 * SIGKILLs that group after grace_ms. On error the caller keeps pidfd:
 * -ENOMEM.
 */
int sweeper_add(struct sweeper *sw, int pidfd, unsigned grace_ms);

#endif
