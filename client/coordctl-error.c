/* coordctl's errors: one line "coordctl CMD: ..." on stderr, or with --json one JSON object
 * {"error": {"kind", "code", "message", "exit_status", ...}}; nothing here is kept. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

static void error_prefix(struct coordctl *ctl)
{
	fprintf(stderr, "coordctl%s%s: ", ctl->entry ? " " : "",
		ctl->entry ? ctl->entry->name : "");
}

/* Writes the JSON error; code < 0 (or kind not "rpc") is null. */
static void error_json(int exit_code, const char *kind, int code, json_object *extra,
		       const char *message)
{
	json_object *wrap = json_object_new_object(), *error = json_object_new_object();

	if (!wrap || !error) {
		json_object_put(wrap);
		json_object_put(error);
		fprintf(stderr, "{\"error\":null}\n");
		return;
	}
	json_object_object_add(error, "kind", json_object_new_string(kind));
	json_object_object_add(error, "code", code ? json_object_new_int(code) : NULL);
	json_object_object_add(error, "message", json_object_new_string(message));
	json_object_object_add(error, "exit_status", json_object_new_int(exit_code));
	if (extra) {
		json_object_object_foreach (extra, key, value)
			json_object_object_add(error, key, json_object_get(value));
	}
	json_object_object_add(wrap, "error", error);
	fprintf(stderr, "%s\n",
		json_object_to_json_string_ext(wrap, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(wrap);
}

static int error_vreport(struct coordctl *ctl, int exit_code, const char *kind, int code,
			 json_object *extra, const char *fmt, va_list ap)
{
	char *message = NULL;

	if (!ctl->json) {
		error_prefix(ctl);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		return exit_code;
	}
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	error_json(exit_code, kind, code, extra, message ? message : "out of memory");
	free(message);
	return exit_code;
}

int coordctl_fail(struct coordctl *ctl, int exit_code, const char *kind, json_object *extra,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vreport(ctl, exit_code, kind, 0, extra, fmt, ap);
	va_end(ap);
	return exit_code;
}

int coordctl_usage_error(struct coordctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vreport(ctl, COORDCTL_EXIT_USAGE, "usage", 0, NULL, fmt, ap);
	va_end(ap);
	if (ctl->json)
		return COORDCTL_EXIT_USAGE;
	if (ctl->entry)
		fprintf(stderr, "usage: coordctl %s %s\nTry 'coordctl help %s'.\n",
			ctl->entry->name, ctl->entry->usage, ctl->entry->name);
	else
		fprintf(stderr, "Try 'coordctl help'.\n");
	return COORDCTL_EXIT_USAGE;
}

int coordctl_bad_value(struct coordctl *ctl, const char *arg)
{
	return coordctl_usage_error(ctl, "bad value '%s' for %s", arg, ctl->optname);
}

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

static void error_print_names(json_object *names)
{
	fprintf(stderr, "coordctl: the modes are:");
	for (size_t i = 0; i < json_object_array_length(names); i++)
		fprintf(stderr, "%s %s", i ? "," : "",
			json_object_get_string(json_object_array_get_idx(names, i)));
	fputc('\n', stderr);
}

int coordctl_rpc_fail(struct coordctl *ctl, const char *what, const struct coord_error *err)
{
	int exit_code = coordctl_rpc_exit_code(err);
	json_object *extra = NULL, *names = NULL;

	if (err->kind == COORD_ERR_RPC && err->code == COORD_RPC_UNKNOWN_MODE &&
	    coordctl_rpc_mode_names(ctl, &names) == 0 && (extra = json_object_new_object()))
		json_object_object_add(extra, "modes", json_object_get(names));
	/* "coordctl job: not found: ...", not "coordctl job: job: not found: ...". */
	if (ctl->entry && strcmp(what, ctl->entry->name) == 0)
		what = NULL;
	if (err->kind == COORD_ERR_RPC && !ctl->json)
		coordctl_fail(ctl, exit_code, "rpc", NULL, "%s%s%s (%s, %d)", what ? what : "",
			      what ? ": " : "", err->message, coord_error_code_name(err->code),
			      err->code);
	else if (err->kind == COORD_ERR_RPC)
		error_json(exit_code, "rpc", err->code, extra, err->message);
	else
		coordctl_fail(ctl, exit_code, coord_error_kind_name(err->kind), extra, "%s%s%s",
			      what ? what : "", what ? ": " : "", err->message);
	if (!ctl->json && names)
		error_print_names(names);
	if (!ctl->json && (err->kind == COORD_ERR_CLOSED || err->kind == COORD_ERR_IO))
		fprintf(stderr, "coordctl: did coordinatord stop? its socket is %s\n",
			err->socket_path);
	if (!ctl->json && err->kind == COORD_ERR_RPC && err->code == COORD_RPC_NOT_FOUND &&
	    ctl->no_prefix)
		fprintf(stderr, "coordctl: note: this coordinatord does not look up short ids "
				"(its status has no request_id_prefix): give whole request_ids\n");
	json_object_put(extra);
	json_object_put(names);
	return exit_code;
}
