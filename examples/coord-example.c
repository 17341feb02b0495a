/* Example libcoord client: pings coordinatord, then runs a command through it and mirrors its exit
 * status. */
#include <stdio.h>
#include <stdlib.h>

#include <coord.h>

static int fail(const char *what, const struct coord_error *err)
{
	fprintf(stderr, "coord-example: %s: %s\n", what, err->message);
	return err->kind == COORD_ERR_CONNECT ? 69 : 1;
}

/* Prints how the job ended; returns its exit code, or 1 when it never ran to an exit. */
static int report(json_object *result)
{
	json_object *job = NULL, *code = NULL, *error = NULL;
	const char *id, *res;

	json_object_object_get_ex(result, "job", &job);
	id = json_object_get_string(json_object_object_get(job, "request_id"));
	res = json_object_get_string(json_object_object_get(job, "result"));
	/* exit_code is null when the task was not started, was killed or was lost. */
	if (json_object_object_get_ex(job, "exit_code", &code) && code) {
		printf("%s: %s (exit %d)\n", id, res, json_object_get_int(code));
		return json_object_get_int(code);
	}
	json_object_object_get_ex(job, "error", &error);
	printf("%s: %s (%s: %s)\n", id, res,
	       json_object_get_string(json_object_object_get(error, "kind")),
	       json_object_get_string(json_object_object_get(error, "message")));
	return 1;
}

int main(int argc, char **argv)
{
	struct coord_conn *conn = NULL;
	struct coord_error err;
	json_object *result = NULL, *task;
	int code = 0;

	printf("libcoord %s\n", coord_version());
	if (coord_conn_open(NULL, &conn, &err) < 0)
		return fail("connect", &err);
	if (coord_call(conn, "ping", NULL, 5000, &result, &err) < 0) {
		coord_conn_close(conn);
		return fail("ping", &err);
	}
	printf("ping: %s\n", json_object_to_json_string(result));
	json_object_put(result);
	if (argc > 1) {
		task = coord_task_new((const char *const *)argv + 1);
		json_object_object_add(task, "wait", json_object_new_boolean(1));
		if (coord_submit(conn, task, -1, &result, &err) < 0) {
			code = fail("submit", &err);
		} else {
			code = report(result);
			json_object_put(result);
		}
		json_object_put(task);
	}
	coord_conn_close(conn);
	return code;
}
