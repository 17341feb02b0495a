/* coordctl's link to the daemon: connects lazily (ctl owns the conn) and maps errors to exit codes.
 */
#include <errno.h>
#include <stdio.h>

#include "coordctl.h"

int coordctl_rpc_exit_code(const struct coord_error *err)
{
	switch (err->kind) {
	case COORD_ERR_NONE:
		return COORDCTL_EXIT_OK;
	case COORD_ERR_CONNECT:
		if (err->sys_errno == EACCES || err->sys_errno == EPERM)
			return COORDCTL_EXIT_NOPERM;
		return COORDCTL_EXIT_UNAVAILABLE;
	case COORD_ERR_IO:
	case COORD_ERR_CLOSED:
		return COORDCTL_EXIT_UNAVAILABLE;
	case COORD_ERR_PROTOCOL:
		return COORDCTL_EXIT_PROTOCOL;
	case COORD_ERR_TIMEOUT:
		return COORDCTL_EXIT_TIMEOUT;
	case COORD_ERR_INVALID:
	case COORD_ERR_NOMEM:
		return COORDCTL_EXIT_SOFTWARE;
	case COORD_ERR_RPC:
		break;
	}
	switch (err->code) {
	case COORD_RPC_PERMISSION_DENIED:
		return COORDCTL_EXIT_NOPERM;
	case COORD_RPC_BUSY:
	case COORD_RPC_SHUTTING_DOWN:
		return COORDCTL_EXIT_TEMPFAIL;
	case COORD_RPC_TIMEOUT:
		return COORDCTL_EXIT_TIMEOUT;
	case -32603: /* internal error */
		return COORDCTL_EXIT_SOFTWARE;
	default:
		return COORDCTL_EXIT_FAILED;
	}
}

int coordctl_rpc_fail(const char *what, const struct coord_error *err)
{
	if (err->kind == COORD_ERR_RPC)
		fprintf(stderr, "coordctl: %s: %s (%s, %d)\n", what, err->message,
			coord_error_code_name(err->code), err->code);
	else
		fprintf(stderr, "coordctl: %s: %s\n", what, err->message);
	if (err->kind == COORD_ERR_CLOSED || err->kind == COORD_ERR_IO)
		fprintf(stderr, "coordctl: did coordinatord stop? its socket is %s\n",
			err->socket_path);
	return coordctl_rpc_exit_code(err);
}

int coordctl_rpc_connect(struct coordctl *ctl)
{
	struct coord_error err;

	if (ctl->conn)
		return 0;
	if (coord_conn_open(ctl->socket, &ctl->conn, &err) < 0)
		return coordctl_rpc_fail("connect", &err);
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
		return coordctl_rpc_fail(method, &err);
	return 0;
}
