/* Who is at the other end of a client socket (SO_PEERCRED, SO_PEERGROUPS), and whether they may use
 * the daemon. */
#ifndef COORD_PEER_H
#define COORD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon;

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *groups; /* supplementary groups, owned */
	size_t ngroups;
};

/* Reads the credentials of the client on fd into *ret (clear it with peer_clear). */
int peer_read(int fd, struct peer *ret);

/* Frees what peer holds. */
void peer_clear(struct peer *peer);

/*
 * Whether the peer is root, the daemon's own uid, or in the configured
 * users or groups, by the settings in force now.
 */
bool peer_allowed(const struct peer *peer, struct daemon *daemon);

/* root and the daemon's own uid (which tasks run as): never capped per uid. */
bool peer_is_privileged(const struct peer *peer);

#endif
