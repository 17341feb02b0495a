/* Who is an admin of the daemon: root and the daemon's own uid (which tasks run as). */
#ifndef COORD_PRIVILEGE_H
#define COORD_PRIVILEGE_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Whether uid is root or the daemon's own uid: it may shut the daemon
 * down, is never capped per uid, and may join any owner's tree.
 */
bool privilege_is_admin(uid_t uid);

#endif
