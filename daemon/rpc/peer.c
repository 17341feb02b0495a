/* Peer credentials. A struct peer owns its groups array; peer_clear frees it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "peer.h"

/* The peer's supplementary groups, however many (ERANGE tells how much room). */
static int peer_read_groups(struct peer *peer, int fd)
{
	socklen_t len = 64 * sizeof(gid_t);

	for (;;) {
		gid_t *groups = realloc(peer->groups, len ? len : sizeof(gid_t));

		if (!groups)
			return -ENOMEM;
		peer->groups = groups;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			peer->ngroups = len / sizeof(gid_t);
			return 0;
		}
		if (errno != ERANGE) {
			peer->ngroups = 0; /* no SO_PEERGROUPS: the primary group only */
			return 0;
		}
	}
}

int peer_read(int fd, struct peer *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	memset(ret, 0, sizeof(*ret));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	ret->uid = cred.uid;
	ret->gid = cred.gid;
	ret->pid = cred.pid;
	if ((r = peer_read_groups(ret, fd)) < 0)
		peer_clear(ret);
	return r;
}

void peer_clear(struct peer *peer)
{
	free(peer->groups);
	memset(peer, 0, sizeof(*peer));
}

bool peer_is_privileged(const struct peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

bool peer_allowed(const struct peer *peer, struct daemon *daemon)
{
	return peer_is_privileged(peer) ||
	       daemon_peer_allowed(daemon, peer->uid, peer->gid, peer->groups, peer->ngroups);
}
