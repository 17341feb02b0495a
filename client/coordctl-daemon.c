/* coordctl ping and shutdown: the daemon-wide commands; replies are freed here. */
#include "coordctl.h"
#include "jsonutil.h"

static int ping_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	json_object *result = NULL;
	double pid = 0, uptime = 0;
	char up[32];
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, 0);

	if (r != COORDCTL_CONTINUE)
		return r;
	r = coordctl_rpc_call(ctl, "ping", NULL, &result);
	if (r != 0)
		return r;
	if (ctl->json) {
		coordctl_format_json(ctl, result);
	} else {
		coordctl_format_number(result, "pid", &pid);
		coordctl_format_number(result, "uptime", &uptime);
		coordctl_format_duration(up, sizeof(up), uptime);
		printf("coordinatord %s at %s: pid %.0f, up %s\n",
		       json_get_string(result, "version") ?: "?", coord_conn_socket_path(ctl->conn),
		       pid, up);
	}
	json_object_put(result);
	return 0;
}

static int shutdown_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
			 char **argv)
{
	json_object *result = NULL;
	struct coord_error err;
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, 0);

	if (r != COORDCTL_CONTINUE)
		return r;
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	if (coord_call(ctl->conn, "shutdown", NULL, -1, &result, &err) < 0) {
		/* A daemon that hangs up instead of answering has still done as asked. */
		if (err.kind != COORD_ERR_CLOSED)
			return coordctl_rpc_fail(ctl, "shutdown", &err);
		result = json_object_new_object();
	}
	if (ctl->json)
		coordctl_format_json(ctl, result);
	json_object_put(result);
	return 0;
}

const struct coordctl_entry coordctl_ping_entry = {
	.name = "ping",
	.usage = "",
	.summary = "Check that the daemon answers; print its version, pid and uptime.",
	.exec = ping_exec,
};

const struct coordctl_entry coordctl_shutdown_entry = {
	.name = "shutdown",
	.usage = "",
	.summary = "Ask the daemon to drain its running tasks and exit.",
	.exec = shutdown_exec,
};
