/* The one test for an admin uid. */
#include <unistd.h>

#include "privilege.h"

bool privilege_is_admin(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}
