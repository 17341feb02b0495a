/* coordctl's link to the daemon: connects lazily (ctl owns the conn); failures go to
 * coordctl-error.c. */
#include <stdio.h>

#include "coordctl.h"

int coordctl_rpc_connect(struct coordctl *ctl)
{
	struct coord_error err;

	if (ctl->conn)
		return 0;
	if (coord_conn_open(ctl->socket, &ctl->conn, &err) < 0)
		return coordctl_rpc_fail(ctl, "connect", &err);
	return 0;
}

int coordctl_rpc_call(struct coordctl *ctl, const char *method, json_object *params,
		      json_object **ret_result)
{
	struct coord_error err;
	int r = coordctl_rpc_connect(ctl);

	if (r != 0)
		return r;
	if (coord_call(ctl->conn, method, params, -1, ret_result, &err) < 0)
		return coordctl_rpc_fail(ctl, method, &err);
	return 0;
}
