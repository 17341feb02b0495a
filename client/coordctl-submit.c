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
#include "wire_kinds.h"

extern char **environ;

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
	SUBMIT_OPT_ENV_ALL,
	SUBMIT_OPT_AFTER,
	SUBMIT_OPT_AFTER_ANY,
};

struct submit_args {
	const char *mode, *name, *request_id, *parent, *cwd, *stdin_path, *batch;
	double timeout;
	int wait, shell, env_all, after_any;
	json_object *env;   /* owned */
	json_object *after; /* owned: the --after IDs as typed */
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
	if (strcmp(kind, WIRE_KIND_EXIT) == 0 &&
	    coordctl_format_number(error, "exit_code", &v) == 0 && v >= 1 && v <= 255)
		return (int)v;
	if (strcmp(kind, WIRE_KIND_SIGNAL) == 0 &&
	    coordctl_format_number(error, "signal", &v) == 0 && v >= 1 && v < 128)
		return COORDCTL_EXIT_SIGNAL_BASE + (int)v;
	if (strcmp(kind, WIRE_KIND_TIMEOUT) == 0)
		return COORDCTL_EXIT_TIMEOUT;
	if (strcmp(kind, WIRE_KIND_CANCELLED) == 0)
		return COORDCTL_EXIT_CANCELLED;
	if (strcmp(kind, WIRE_KIND_SPAWN) == 0)
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

/* Adds NAME=VALUE, or NAME with the caller's value; -1 when NAME is empty or not set here. */
static int submit_add_env(struct submit_args *a, const char *kv)
{
	const char *eq = strchr(kv, '='), *value;
	char *key;

	if (eq == kv || *kv == '\0')
		return -1;
	key = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
	value = eq ? eq + 1 : getenv(kv);
	if (!key || !value || (!a->env && !(a->env = json_object_new_object()))) {
		free(key);
		return -1;
	}
	json_object_object_add(a->env, key, json_object_new_string(value));
	free(key);
	return 0;
}

/* The caller's whole environment (but the COORD_ variables the daemon sets) into env. */
static void submit_env_all(json_object *env)
{
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		char *key;

		if (!eq || eq == *e || strncmp(*e, "COORD_", 6) == 0)
			continue;
		key = strndup(*e, (size_t)(eq - *e));
		/* The first of a name seen twice, as getenv() reads it; -e wins over all. */
		if (key && !json_object_object_get_ex(env, key, NULL))
			json_object_object_add(env, key, json_object_new_string(eq + 1));
		free(key);
	}
}

/* Adds the IDs of one --after (comma-separated); -1 on an empty one. */
static int submit_add_after(struct submit_args *a, const char *list)
{
	const char *p = list;

	if (!a->after && !(a->after = json_object_new_array()))
		return -1;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (len == 0)
			return -1;
		json_object_array_add(a->after, json_object_new_string_len(p, (int)len));
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* The directory as the task will see it: a relative one is taken from where coordctl runs. */
static char *submit_cwd(const char *cwd)
{
	char *here, *abs;

	if (cwd && cwd[0] == '/')
		return strdup(cwd);
	here = getcwd(NULL, 0);
	if (!cwd || !here)
		return here;
	if (asprintf(&abs, "%s%s%s", here, strcmp(here, "/") == 0 ? "" : "/", cwd) < 0)
		abs = NULL;
	free(here);
	return abs;
}

/* Fills node with the node-level options; returns 0 or an exit code. */
static int submit_fill_node(struct coordctl *ctl, struct submit_args *a, json_object *node)
{
	json_object *input;
	char *cwd;

	if (a->name)
		json_object_object_add(node, "name", json_object_new_string(a->name));
	if (a->env_all && !a->env)
		a->env = json_object_new_object();
	if (a->env_all && a->env)
		submit_env_all(a->env);
	if (a->env)
		json_object_object_add(node, "env", json_object_get(a->env));
	if (a->timeout > 0)
		json_object_object_add(node, "timeout_ms",
				       json_object_new_int64((int64_t)(a->timeout * 1000 + 0.5)));
	/* Default: where coordctl runs, as a shell would. */
	cwd = submit_cwd(a->cwd);
	if (cwd) {
		json_object_object_add(node, "cwd", json_object_new_string(cwd));
		free(cwd);
	}
	if (a->stdin_path) {
		input = submit_read_file(a->stdin_path);
		if (!input) {
			return coordctl_fail(ctl, COORDCTL_EXIT_NOINPUT, "input", NULL,
					     "cannot read %s: %s", a->stdin_path, strerror(errno));
		}
		json_object_object_add(node, "stdin", input);
	}
	return 0;
}

/* The --after IDs resolved to request_ids (a new array in *ret), or an exit code. */
static int submit_resolve_after(struct coordctl *ctl, const struct submit_args *a,
				json_object **ret)
{
	json_object *ids = json_object_new_array();
	char *id;
	int r = ids ? 0 : COORDCTL_EXIT_SOFTWARE;

	for (size_t i = 0; r == 0 && i < json_object_array_length(a->after); i++) {
		r = coordctl_resolve(
			ctl, json_object_get_string(json_object_array_get_idx(a->after, i)), &id);
		if (r == 0) {
			json_object_array_add(ids, json_object_new_string(id));
			free(id);
		}
	}
	if (r != 0) {
		json_object_put(ids);
		return r;
	}
	*ret = ids;
	return 0;
}

/* argv for -c: /bin/sh -c STRING [sh ARG...]; NULL on ENOMEM. The strings are borrowed. */
static const char **submit_shell_argv(char **argv)
{
	size_t n = 0;
	const char **v;

	while (argv[n])
		n++;
	v = calloc(n + 4, sizeof(*v));
	if (!v)
		return NULL;
	v[0] = "/bin/sh";
	v[1] = "-c";
	v[2] = argv[0];
	if (n > 1) {
		v[3] = "sh"; /* $0; the rest are $1... */
		for (size_t i = 1; i < n; i++)
			v[3 + i] = argv[i];
	}
	return v;
}

/* A shell string's label: the basename of its first word, as for a plain command. */
static json_object *submit_shell_name(const char *cmd)
{
	const char *start = cmd + strspn(cmd, " \t\n"), *slash;
	size_t len = strcspn(start, " \t\n;&|<>()");

	for (slash = memchr(start, '/', len); slash; slash = memchr(start, '/', len)) {
		len -= (size_t)(slash + 1 - start);
		start = slash + 1;
	}
	if (len == 0)
		return json_object_new_string("sh");
	return json_object_new_string_len(start, (int)(len > 64 ? 64 : len));
}

/* The Task for argv; *ret_task is the caller's. Returns 0 or an exit code. */
static int submit_build(struct coordctl *ctl, struct submit_args *a, char **argv,
			json_object **ret_task)
{
	const char **shell = a->shell ? submit_shell_argv(argv) : NULL;
	json_object *task, *node, *after = NULL;
	int r;

	if (a->shell && !shell)
		return COORDCTL_EXIT_SOFTWARE;
	task = coord_task_new(shell ? shell : (const char *const *)argv);
	free(shell);
	if (!task)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_get_ex(task, "node", &node);
	if (a->shell && !a->name)
		json_object_object_add(node, "name", submit_shell_name(argv[0]));
	if (a->after) {
		r = submit_resolve_after(ctl, a, &after);
		if (r != 0) {
			json_object_put(task);
			return r;
		}
		json_object_object_add(task, "after", after);
		if (a->after_any)
			json_object_object_add(task, "after_policy",
					       json_object_new_string("closed"));
	}
	if (a->mode)
		json_object_object_add(task, "mode", json_object_new_string(a->mode));
	if (a->request_id)
		json_object_object_add(task, "request_id", json_object_new_string(a->request_id));
	if (a->parent) /* "" makes a root request even inside a task */
		json_object_object_add(task, "parent_node_id",
				       *a->parent ? json_object_new_string(a->parent) : NULL);
	if (a->wait)
		json_object_object_add(task, "wait", json_object_new_boolean(1));
	r = submit_fill_node(ctl, a, node);
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
	json_object *message = NULL, *task_result = NULL, *error = NULL, *job = NULL, *v;
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
		char label[256];

		msg = json_get_string(error, "message");
		json_object_object_get_ex(result, "job", &job);
		fprintf(stderr, "coordctl submit: task %s failed: %s: %s\n",
			coordctl_job_label(ctl, job, label, sizeof(label)),
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
		r = coordctl_rpc_fail(ctl, "submit", &err);
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
		r = coordctl_rpc_fail(ctl, "submit", &call_err);
	else if (r == 0)
		r = submit_report_wait(ctl, result, followed);
	json_object_put(result);
	json_object_put(prepared);
	coordctl_output_clear(&o);
	return r;
}

static int submit_send(struct coordctl *ctl, struct submit_args *a, char **argv)
{
	json_object *task = NULL, *result = NULL, *job = NULL;
	struct coord_error err;
	char id[40];
	int r;

	r = submit_build(ctl, a, argv, &task);
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
		r = coordctl_rpc_fail(ctl, "submit", &err);
	json_object_put(task);
	if (r != 0)
		return r;
	if (a->wait) {
		r = submit_report_wait(ctl, result, 0);
	} else {
		json_object_object_get_ex(result, "job", &job);
		if (ctl->json) {
			/* Like job and submit --wait, with the message still to come. */
			json_object_object_add(result, "message", NULL);
			coordctl_format_json(ctl, result);
		} else {
			printf("%s\n", json_get_string(job, "request_id") ?: "");
		}
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
	case 'c':
		a->shell = 1;
		return 0;
	case SUBMIT_OPT_ENV_ALL:
		a->env_all = 1;
		return 0;
	case SUBMIT_OPT_AFTER_ANY:
		a->after_any = 1;
		return 0;
	case SUBMIT_OPT_AFTER:
		return submit_add_after(a, arg);
	case 'e':
	case SUBMIT_OPT_ENV:
		return submit_add_env(a, arg);
	case SUBMIT_OPT_TIMEOUT:
		return coordctl_format_parse_seconds(arg, &a->timeout);
	}
	return 1;
}

/* The checks on a submit's words once options are parsed; COORDCTL_CONTINUE when they hold. */
static int submit_check(struct coordctl *ctl, const struct submit_args *a, int argc, char **argv)
{
	int dashes = optind > 0 && strcmp(argv[optind - 1], "--") == 0;

	if (a->batch && optind < argc)
		return coordctl_usage_error(ctl, "--batch takes no COMMAND");
	if (a->batch && (a->wait || a->name || a->request_id || a->parent || a->cwd || a->env ||
			 a->env_all || a->stdin_path || a->timeout > 0 || a->shell || a->after))
		return coordctl_usage_error(ctl, "--batch only combines with --mode");
	if (a->after_any && !a->after)
		return coordctl_usage_error(ctl, "--after-any needs --after ID");
	if (a->batch)
		return COORDCTL_CONTINUE;
	if (optind >= argc)
		return coordctl_usage_error(ctl, a->shell ? "-c needs a shell command string"
							  : "no COMMAND given");
	/* 'echo hi; exit 3' as one word would fail to spawn: say how to run it instead. */
	if (!a->shell && !dashes && argc - optind == 1 && strpbrk(argv[optind], " \t\n"))
		return coordctl_usage_error(
			ctl,
			"'%s' is one argument with spaces: run it with a shell as "
			"\"coordctl submit -c '%s'\", or put -- before a program whose name has "
			"spaces",
			argv[optind], argv[optind]);
	return COORDCTL_CONTINUE;
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
		{"env-all", no_argument, NULL, SUBMIT_OPT_ENV_ALL},
		{"stdin", required_argument, NULL, SUBMIT_OPT_STDIN},
		{"timeout", required_argument, NULL, SUBMIT_OPT_TIMEOUT},
		{"wait", no_argument, NULL, SUBMIT_OPT_WAIT},
		{"batch", required_argument, NULL, SUBMIT_OPT_BATCH},
		{"shell", no_argument, NULL, 'c'},
		{"after", required_argument, NULL, SUBMIT_OPT_AFTER},
		{"after-any", no_argument, NULL, SUBMIT_OPT_AFTER_ANY},
		COORDCTL_COMMON_OPTIONS,
	};
	struct submit_args a = {0};
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE &&
	       (c = coordctl_getopt(ctl, argc, argv, "+:hce:", opts)) != -1) {
		int o = submit_option(&a, c, optarg);

		if (o < 0 && (c == 'e' || c == SUBMIT_OPT_ENV) && !strchr(optarg, '=') && *optarg)
			r = coordctl_usage_error(ctl,
						 "%s %s: %s is not set in coordctl's environment",
						 ctl->optname, optarg, optarg);
		else if (o < 0)
			r = coordctl_bad_value(ctl, optarg);
		else if (o > 0)
			r = coordctl_option(ctl, entry, c);
	}
	if (r == COORDCTL_CONTINUE)
		r = submit_check(ctl, &a, argc, argv);
	if (r != COORDCTL_CONTINUE)
		goto out;
	if (a.batch)
		r = coordctl_batch_run(ctl, a.batch, a.mode);
	else
		r = submit_send(ctl, &a, argv + optind);
out:
	json_object_put(a.env);
	json_object_put(a.after);
	return r;
}

const struct coordctl_entry coordctl_submit_entry = {
	.name = "submit",
	.usage = "[OPTION]... [--] COMMAND [ARG]...\n"
		 "       coordctl submit [OPTION]... -c 'SHELL COMMANDS' [ARG]...\n"
		 "       coordctl submit [--mode M] --batch FILE|-",
	.summary = "Submit a task; print its request_id (with --json: {\"job\", \"message\"}).",
	.help = "  --mode M          execution mode (default: async)\n"
		"  --name N          label (default: the command's basename)\n"
		"  --request-id ID   the request_id (default: a generated UUID)\n"
		"  --parent NODE     parent_node_id (default: $COORD_NODE_ID; '' for a root)\n"
		"  --cwd DIR         the task's working directory (default: the current one;\n"
		"                    a relative DIR is taken from the current one)\n"
		"  -c, --shell       COMMAND is one string run by /bin/sh -c (ARGs are $1...)\n"
		"  -e, --env K=V     add K=V to the task's environment (repeatable)\n"
		"  -e, --env K       add K with its value in coordctl's environment\n"
		"  --env-all         add coordctl's whole environment (without this, a task sees\n"
		"                    the daemon's environment plus --env, not yours)\n"
		"  --after ID[,ID]   start only once these jobs have closed (repeatable); if one\n"
		"                    fails, this job fails as 'dependency' without running\n"
		"  --after-any       with --after: run whatever their result\n"
		"  --stdin FILE|-    feed FILE (or coordctl's stdin) to the task\n"
		"  --timeout SECONDS kill the task after SECONDS\n"
		"  --wait            wait for the task; print its output as it comes and\n"
		"                    exit with its status\n"
		"  --batch FILE|-    submit one task per line, pipelined: a JSON Task, or a\n"
		"                    shell command line run by /bin/sh -c; print one\n"
		"                    request_id per accepted line\n",
	.exec = submit_exec,
};
