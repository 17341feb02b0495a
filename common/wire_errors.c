/* Names of the wire error codes. */
#include "wire_errors.h"

const char *wire_error_name(int code)
{
	switch (code) {
	case WIRE_PARSE_ERROR:
		return "parse_error";
	case WIRE_INVALID_REQUEST:
		return "invalid_request";
	case WIRE_METHOD_NOT_FOUND:
		return "method_not_found";
	case WIRE_INVALID_PARAMS:
		return "invalid_params";
	case WIRE_INTERNAL_ERROR:
		return "internal_error";
	case WIRE_NOT_FOUND:
		return "not_found";
	case WIRE_CONFLICT:
		return "conflict";
	case WIRE_UNKNOWN_MODE:
		return "unknown_mode";
	case WIRE_PERMISSION_DENIED:
		return "permission_denied";
	case WIRE_BUSY:
		return "busy";
	case WIRE_SHUTTING_DOWN:
		return "shutting_down";
	case WIRE_TIMEOUT:
		return "timeout";
	}
	return "unknown_error";
}
