/* coordctl submit: builds one Task from the command line and sends it; the task object is ours. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "coordctl-output.h"
#include "jsonutil.h"

enum {
	SUBMIT_OPT_MODE = COORDCTL_OPT_FIRST_OWN,
	SUBMIT_OPT_NAME,
	SUBMIT_OPT_REQUEST_ID,
	SUBMIT_OPT_PARENT,
	SUBMIT_OPT_CWD,
	SUBMIT_OPT_ENV,
	SUBMIT_OPT_STDIN,
	SUBMIT_OPT_TIMEOUT,
	SUBMIT_OPT_WAIT,
	SUBMIT_OPT_BATCH,
};

struct submit_args {
	const char *mode, *name, *request_id, *parent, *cwd, *stdin_path, *batch;
	double timeout;
	int wait;
	json_object *env; /* owned */
};

int coordctl_submit_exit_code(json_object *message)
{
	const char *type = json_get_string(message, "type");
	const char *kind;
	json_object *error = NULL;
	double v;

	if (type && strcmp(type, "request_success") == 0)
		return COORDCTL_EXIT_OK;
	if (!json_object_object_get_ex(message, "error", &error) ||
	    !(kind = json_get_string(error, "kind")))
		return COORDCTL_EXIT_FAILED;
	if (strcmp(kind, "exit") == 0 && coordctl_format_number(error, "exit_code", &v) == 0 &&
	    v >= 1 && v <= 255)
		return (int)v;
	if (strcmp(kind, "signal") == 0 && coordctl_format_number(error, "signal", &v) == 0 &&
	    v >= 1 && v < 128)
		return COORDCTL_EXIT_SIGNAL_BASE + (int)v;
	if (strcmp(kind, "timeout") == 0)
		return COORDCTL_EXIT_TIMEOUT;
	if (strcmp(kind, "cancelled") == 0)
		return COORDCTL_EXIT_CANCELLED;
	if (strcmp(kind, "spawn") == 0)
		return COORDCTL_EXIT_SPAWN;
	return COORDCTL_EXIT_FAILED;
}

/* Reads all of path ("-": stdin) into a JSON string (new reference), or NULL with errno. */
static json_object *submit_read_file(const char *path)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 0;
	json_object *s = NULL;
	char *buf = NULL, *p;
	ssize_t n;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap);
			if (!p)
				goto out;
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	s = json_string_from_bytes(buf ? buf : "", len);
out:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return s;
}

static int submit_add_env(struct submit_args *a, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key;

	if (!eq || eq == kv)
		return -1;
	if (!a->env && !(a->env = json_object_new_object()))
		return -1;
	key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return -1;
	json_object_object_add(a->env, key, json_object_new_string(eq + 1));
	free(key);
	return 0;
}

/* Fills node with the node-level options; returns 0 or an exit code. */
static int submit_fill_node(const struct submit_args *a, json_object *node)
{
	json_object *input;
	char *cwd;

	if (a->name)
		json_object_object_add(node, "name", json_object_new_string(a->name));
	if (a->env)
		json_object_object_add(node, "env", json_object_get(a->env));
	if (a->timeout > 0)
		json_object_object_add(node, "timeout_ms",
				       json_object_new_int64((int64_t)(a->timeout * 1000 + 0.5)));
	/* Default: where coordctl runs, as a shell would. */
	cwd = a->cwd ? strdup(a->cwd) : getcwd(NULL, 0);
	if (cwd) {
		json_object_object_add(node, "cwd", json_object_new_string(cwd));
		free(cwd);
	}
	if (a->stdin_path) {
		input = submit_read_file(a->stdin_path);
		if (!input) {
			fprintf(stderr, "coordctl: submit: cannot read %s: %s\n", a->stdin_path,
				strerror(errno));
			return COORDCTL_EXIT_NOINPUT;
		}
		json_object_object_add(node, "stdin", input);
	}
	return 0;
}

/* The Task for argv; *ret_task is the caller's. Returns 0 or an exit code. */
static int submit_build(const struct submit_args *a, char **argv, json_object **ret_task)
{
	json_object *task = coord_task_new((const char *const *)argv);
	json_object *node;
	int r;

	if (!task)
		return COORDCTL_EXIT_SOFTWARE;
	if (a->mode)
		json_object_object_add(task, "mode", json_object_new_string(a->mode));
	if (a->request_id)
		json_object_object_add(task, "request_id", json_object_new_string(a->request_id));
	if (a->parent) /* "" makes a root request even inside a task */
		json_object_object_add(task, "parent_node_id",
				       *a->parent ? json_object_new_string(a->parent) : NULL);
	if (a->wait)
		json_object_object_add(task, "wait", json_object_new_boolean(1));
	json_object_object_get_ex(task, "node", &node);
	r = submit_fill_node(a, node);
	if (r != 0) {
		json_object_put(task);
		return r;
	}
	*ret_task = task;
	return 0;
}

static void submit_write_output(json_object *result, const char *key, FILE *out)
{
	json_object *v;

	if (!result || !json_object_object_get_ex(result, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	fwrite(json_object_get_string(v), 1, (size_t)json_object_get_string_len(v), out);
	fflush(out);
}

/*
 * A UUID v7 (RFC 9562) as the daemon would make one, so that submit --wait
 * knows the request_id to follow before the submit is answered.
 */
static void submit_uuid7(char *buf, size_t size)
{
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* Prints what --wait promises and returns the task's exit code; streamed: the output was. */
static int submit_report_wait(struct coordctl *ctl, json_object *result, int streamed)
{
	json_object *message = NULL, *task_result = NULL, *error = NULL, *v;
	const char *msg;

	json_object_object_get_ex(result, "message", &message);
	if (ctl->json) {
		coordctl_format_json(ctl, result);
		return coordctl_submit_exit_code(message);
	}
	json_object_object_get_ex(message, "result", &task_result);
	if (!streamed) {
		submit_write_output(task_result, "stdout", stdout);
		submit_write_output(task_result, "stderr", stderr);
		if (json_object_object_get_ex(task_result, "stdout_truncated", &v) &&
		    json_object_get_boolean(v))
			fprintf(stderr, "coordctl: note: the task's stdout was truncated\n");
		if (json_object_object_get_ex(task_result, "stderr_truncated", &v) &&
		    json_object_get_boolean(v))
			fprintf(stderr, "coordctl: note: the task's stderr was truncated\n");
	}
	if (json_object_object_get_ex(message, "error", &error) && error) {
		msg = json_get_string(error, "message");
		fprintf(stderr, "coordctl: task %s failed: %s: %s\n",
			json_get_string(message, "request_id") ?: "?",
			json_get_string(error, "kind") ?: "?", msg ? msg : "");
	}
	return coordctl_submit_exit_code(message);
}

/*
 * submit --wait in text: the submit waits on the daemon while the task's
 * output is followed on the same connection and printed as it comes.
 */
static int submit_send_streaming(struct coordctl *ctl, json_object *task)
{
	json_object *result = NULL, *prepared = coord_task_prepare(task);
	struct coordctl_output o;
	struct coord_error err, call_err;
	int r, followed = 0;
	uint64_t id;

	if (!prepared)
		return COORDCTL_EXIT_SOFTWARE;
	coordctl_output_init(&o, json_get_string(prepared, "request_id"), 1, 1);
	o.quiet = 1; /* a refused submit leaves nothing to follow: its own answer says why */
	r = coordctl_rpc_connect(ctl);
	if (r == 0 && coord_call_send(ctl->conn, "submit", prepared, &id, &err) < 0)
		r = coordctl_rpc_fail("submit", &err);
	if (r == 0)
		followed = coordctl_output_follow(ctl, &o) == 0;
	/* A refusal is answered before the follow is: nothing of it is printed then. */
	if (r == 0 && coord_call_recv(ctl->conn, id, 0, &result, &call_err) == 0) {
		if (followed)
			r = coordctl_output_wait(ctl, &o, 0, NULL, NULL);
	} else if (r == 0 && call_err.kind == COORD_ERR_TIMEOUT) {
		for (int i = 0; i < 2 && !followed; i++)
			o.s[i].ended = 1;
		r = coordctl_output_wait(ctl, &o, 1, &result, &call_err);
	} else if (r == 0) {
		result = NULL;
	}
	if (r == 0 && !result)
		r = coordctl_rpc_fail("submit", &call_err);
	else if (r == 0)
		r = submit_report_wait(ctl, result, followed);
	json_object_put(result);
	json_object_put(prepared);
	coordctl_output_clear(&o);
	return r;
}

static int submit_send(struct coordctl *ctl, const struct submit_args *a, char **argv)
{
	json_object *task = NULL, *result = NULL, *job = NULL;
	struct coord_error err;
	char id[40];
	int r;

	r = submit_build(a, argv, &task);
	if (r != 0)
		return r;
	if (a->wait && !ctl->json) {
		if (!a->request_id) {
			submit_uuid7(id, sizeof(id));
			json_object_object_add(task, "request_id", json_object_new_string(id));
		}
		r = submit_send_streaming(ctl, task);
		json_object_put(task);
		return r;
	}
	r = coordctl_rpc_connect(ctl);
	if (r == 0 && coord_submit(ctl->conn, task, -1, &result, &err) < 0)
		r = coordctl_rpc_fail("submit", &err);
	json_object_put(task);
	if (r != 0)
		return r;
	if (a->wait) {
		r = submit_report_wait(ctl, result, 0);
	} else {
		json_object_object_get_ex(result, "job", &job);
		if (ctl->json)
			coordctl_format_json(ctl, job);
		else
			printf("%s\n", json_get_string(job, "request_id") ?: "");
	}
	json_object_put(result);
	return r;
}

static int submit_option(struct submit_args *a, int c, const char *arg)
{
	switch (c) {
	case SUBMIT_OPT_MODE:
		a->mode = arg;
		return 0;
	case SUBMIT_OPT_NAME:
		a->name = arg;
		return 0;
	case SUBMIT_OPT_REQUEST_ID:
		a->request_id = arg;
		return 0;
	case SUBMIT_OPT_PARENT:
		a->parent = arg;
		return 0;
	case SUBMIT_OPT_CWD:
		a->cwd = arg;
		return 0;
	case SUBMIT_OPT_STDIN:
		a->stdin_path = arg;
		return 0;
	case SUBMIT_OPT_BATCH:
		a->batch = arg;
		return 0;
	case SUBMIT_OPT_WAIT:
		a->wait = 1;
		return 0;
	case SUBMIT_OPT_ENV:
		return submit_add_env(a, arg);
	case SUBMIT_OPT_TIMEOUT:
		return coordctl_format_parse_seconds(arg, &a->timeout);
	}
	return 1;
}

static int submit_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, SUBMIT_OPT_MODE},
		{"name", required_argument, NULL, SUBMIT_OPT_NAME},
		{"request-id", required_argument, NULL, SUBMIT_OPT_REQUEST_ID},
		{"parent", required_argument, NULL, SUBMIT_OPT_PARENT},
		{"cwd", required_argument, NULL, SUBMIT_OPT_CWD},
		{"env", required_argument, NULL, SUBMIT_OPT_ENV},
		{"stdin", required_argument, NULL, SUBMIT_OPT_STDIN},
		{"timeout", required_argument, NULL, SUBMIT_OPT_TIMEOUT},
		{"wait", no_argument, NULL, SUBMIT_OPT_WAIT},
		{"batch", required_argument, NULL, SUBMIT_OPT_BATCH},
		COORDCTL_COMMON_OPTIONS,
	};
	struct submit_args a = {0};
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		int o = submit_option(&a, c, optarg);

		if (o < 0)
			r = coordctl_usage_error(entry, "bad value '%s' for %s", optarg,
						 argv[optind - 1]);
		else if (o > 0)
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		goto out;
	if (a.batch && optind < argc)
		r = coordctl_usage_error(entry, "--batch takes no COMMAND");
	else if (a.batch && (a.wait || a.name || a.request_id || a.parent || a.cwd || a.env ||
			     a.stdin_path || a.timeout > 0))
		r = coordctl_usage_error(entry, "--batch only combines with --mode");
	else if (a.batch)
		r = coordctl_batch_run(ctl, a.batch, a.mode);
	else if (optind >= argc)
		r = coordctl_usage_error(entry, "no COMMAND given");
	else
		r = submit_send(ctl, &a, argv + optind);
out:
	json_object_put(a.env);
	return r;
}

const struct coordctl_entry coordctl_submit_entry = {
	.name = "submit",
	.usage =
		"[--mode M] [--name N] [--request-id ID] [--parent NODE] [--cwd DIR] "
		"[--env K=V]... [--stdin FILE|-] [--timeout SECONDS] [--wait] -- COMMAND [ARG]...\n"
		"       coordctl submit [--mode M] --batch FILE|-",
	.summary = "Submit a task; print its request_id (with --json: its job).",
	.help = "  --mode M          execution mode (default: async)\n"
		"  --name N          label (default: the command's basename)\n"
		"  --request-id ID   the request_id (default: a generated UUID)\n"
		"  --parent NODE     parent_node_id (default: $COORD_NODE_ID; '' for a root)\n"
		"  --cwd DIR         the task's working directory (default: the current one)\n"
		"  --env K=V         add K=V to the task's environment (repeatable)\n"
		"  --stdin FILE|-    feed FILE (or coordctl's stdin) to the task\n"
		"  --timeout SECONDS kill the task after SECONDS\n"
		"  --wait            wait for the task; print its output as it comes and\n"
		"                    exit with its status\n"
		"  --batch FILE|-    submit one JSON Task per line, pipelined; print one\n"
		"                    request_id per line\n",
	.exec = submit_exec,
};
