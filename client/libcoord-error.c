/* libcoord's structured errors: plain data written into caller-provided structs, nothing allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "jsonutil.h"
#include "libcoord-private.h"
#include "wire_errors.h"

/* coord.h is installed alone, so it keeps its own copy of the codes: tied to the daemon's here. */
#define LIBCOORD_SAME_CODE(ours, wire) _Static_assert((int)(ours) == (int)(wire), #ours " differs")
LIBCOORD_SAME_CODE(COORD_RPC_NOT_FOUND, WIRE_NOT_FOUND);
LIBCOORD_SAME_CODE(COORD_RPC_CONFLICT, WIRE_CONFLICT);
LIBCOORD_SAME_CODE(COORD_RPC_UNKNOWN_MODE, WIRE_UNKNOWN_MODE);
LIBCOORD_SAME_CODE(COORD_RPC_PERMISSION_DENIED, WIRE_PERMISSION_DENIED);
LIBCOORD_SAME_CODE(COORD_RPC_BUSY, WIRE_BUSY);
LIBCOORD_SAME_CODE(COORD_RPC_SHUTTING_DOWN, WIRE_SHUTTING_DOWN);
LIBCOORD_SAME_CODE(COORD_RPC_TIMEOUT, WIRE_TIMEOUT);

const char *coord_version(void)
{
	return COORD_VERSION;
}

const char *coord_error_kind_name(enum coord_error_kind kind)
{
	switch (kind) {
	case COORD_ERR_NONE:
		return "none";
	case COORD_ERR_RPC:
		return "rpc";
	case COORD_ERR_CONNECT:
		return "connect";
	case COORD_ERR_IO:
		return "io";
	case COORD_ERR_CLOSED:
		return "closed";
	case COORD_ERR_PROTOCOL:
		return "protocol";
	case COORD_ERR_TIMEOUT:
		return "timeout";
	case COORD_ERR_INVALID:
		return "invalid";
	case COORD_ERR_NOMEM:
		return "nomem";
	}
	return "unknown";
}

const char *coord_error_code_name(int code)
{
	return wire_error_name(code);
}

int coord_error_fail(const struct coord_conn *conn, struct coord_error *err,
		     enum coord_error_kind kind, int detail, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	memset(err, 0, sizeof(*err));
	err->kind = kind;
	if (kind == COORD_ERR_RPC)
		err->code = detail;
	else if (kind == COORD_ERR_CONNECT || kind == COORD_ERR_IO)
		err->sys_errno = detail;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (conn && conn->socket_path)
		snprintf(err->socket_path, sizeof(err->socket_path), "%s", conn->socket_path);
	return -1;
}

int coord_error_from_rpc(const struct coord_conn *conn, struct coord_error *err, json_object *error)
{
	json_object *code_obj = NULL;
	const char *message;
	int code = 0;

	if (json_object_object_get_ex(error, "code", &code_obj) &&
	    json_object_is_type(code_obj, json_type_int))
		code = json_object_get_int(code_obj);
	else
		return coord_error_fail(conn, err, COORD_ERR_PROTOCOL, 0,
					"daemon sent an error response without an integer code");
	message = json_get_string(error, "message");
	return coord_error_fail(conn, err, COORD_ERR_RPC, code, "%s",
				message ? message : wire_error_name(code));
}
