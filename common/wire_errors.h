/* Every error code that can appear in a JSON-RPC error object on the wire. */
#ifndef COORD_WIRE_ERRORS_H
#define COORD_WIRE_ERRORS_H

/* JSON-RPC 2.0 standard codes. */
enum wire_error {
	WIRE_PARSE_ERROR = -32700,
	WIRE_INVALID_REQUEST = -32600,
	WIRE_METHOD_NOT_FOUND = -32601,
	WIRE_INVALID_PARAMS = -32602,
	WIRE_INTERNAL_ERROR = -32603,

	/* Application codes, see docs/protocol.md. */
	WIRE_NOT_FOUND = 1001,
	WIRE_CONFLICT = 1002,
	WIRE_UNKNOWN_MODE = 1003,
	WIRE_PERMISSION_DENIED = 1004,
	WIRE_BUSY = 1005,
	WIRE_SHUTTING_DOWN = 1006,
	WIRE_TIMEOUT = 1007,
};

/* A short stable name for a code ("not_found"), for logs and coordctl. */
const char *wire_error_name(int code);

#endif
