/*
 * Task parsing and validation. A struct task owns every string it points
 * to; task_free releases them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "job.h"
#include "jsonout.h"
#include "jsonspec.h"
#include "task.h"
#include "uuid7.h"

static const struct task_limits task_limits_default = TASK_LIMITS_DEFAULT;

bool task_request_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TASK_REQUEST_ID_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

char *task_generate_id(void)
{
	struct uuid7 uuid;
	char *out;

	if (uuid7_generate(&uuid) < 0 || !(out = malloc(UUID7_STR_LEN)))
		return NULL;
	uuid7_format(&uuid, out);
	return out;
}

static void task_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void task_free(struct task *task)
{
	if (!task)
		return;
	free(task->request_id);
	free(task->parent_node_id);
	free(task->mode);
	free(task->node_id);
	free(task->name);
	task_free_strv(task->argv);
	free(task->cwd);
	task_free_strv(task->env);
	free(task->stdin_data);
	free(task->run_id);
	free(task->rerun_of);
	task_free_strv(task->after);
	json_object_put(task->after_json);
	free(task->stored);
	free(task);
}

/* strdup of s, or NULL for NULL; *failed set on ENOMEM. */
static char *task_dup(const char *s, bool *failed)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*failed = true;
	return copy;
}

struct task *task_new_from_job(const struct job *job)
{
	struct task *task = calloc(1, sizeof(*task));
	bool failed = false;

	if (!task)
		return NULL;
	task->request_id = task_dup(job->request_id, &failed);
	task->parent_node_id = task_dup(job->parent_node_id, &failed);
	task->mode = task_dup(job->mode, &failed);
	task->node_id = task_dup(job->child_node_id, &failed);
	task->name = task_dup(job->name, &failed);
	task->run_id = task_dup(job->run_id, &failed);
	task->owner_uid = job->owner_uid;
	task->argv = calloc(2, sizeof(char *));
	task->env = calloc(1, sizeof(char *));
	if (task->argv)
		task->argv[0] = task_dup(job->name, &failed);
	if (failed || !task->argv || !task->env || !task->argv[0]) {
		task_free(task);
		return NULL;
	}
	return task;
}

/* The Task's keys (contract v2). */
struct task_json {
	const char *request_id, *parent_node_id, *mode;
	json_object *node;
	bool wait;
	json_object *after;
	const char *after_policy;
};

static const char *const task_after_policies[] = {"success", "closed", NULL};

const struct jsonspec task_spec[] = {
	JSONSPEC_STRING(struct task_json, request_id, 0),
	JSONSPEC_STRING(struct task_json, parent_node_id, JSONSPEC_NULLABLE),
	JSONSPEC_STRING(struct task_json, mode, 0, .def.s = "async"),
	JSONSPEC_OBJECT(struct task_json, node, JSONSPEC_REQUIRED | JSONSPEC_NULLABLE),
	JSONSPEC_BOOL(struct task_json, wait, JSONSPEC_NULLABLE, false),
	JSONSPEC_STRINGS(struct task_json, after, JSONSPEC_NULLABLE, 0, 0),
	JSONSPEC_CHOICE(struct task_json, after_policy, JSONSPEC_NULLABLE, task_after_policies),
	{0},
};

/* The keys of node. */
struct task_node_json {
	const char *id, *name;
	json_object *argv;
	const char *cwd;
	json_object *env;
	struct jsonspec_bytes stdin_data;
	uint64_t timeout_ms;
};

const struct jsonspec task_node_spec[] = {
	JSONSPEC_STRING(struct task_node_json, id, 0, .lmin = 1),
	JSONSPEC_STRING(struct task_node_json, name, 0),
	JSONSPEC_STRINGS(struct task_node_json, argv, JSONSPEC_REQUIRED | JSONSPEC_NULLABLE, 1, 0),
	JSONSPEC_STRING(struct task_node_json, cwd, JSONSPEC_NULLABLE),
	JSONSPEC_OBJECT(struct task_node_json, env, JSONSPEC_NULLABLE),
	JSONSPEC_BYTES("stdin", struct task_node_json, stdin_data, JSONSPEC_NULLABLE),
	JSONSPEC_UINT(struct task_node_json, timeout_ms, JSONSPEC_NULLABLE, 0, INT64_C(1) << 40, 0),
	{0},
};

/* A copy of s (NULL stays NULL). 0 or -ENOMEM. */
static int task_strdup(const char *s, char **ret)
{
	*ret = NULL;
	if (s && !(*ret = strdup(s)))
		return -ENOMEM;
	return 0;
}

static int task_parse_argv(struct task *task, json_object *argv, const struct task_limits *limits,
			   char **error)
{
	size_t n = json_object_array_length(argv), bytes = 0;

	if (n > limits->max_argv)
		return cause_set(error, -EINVAL,
				 "node.argv has %zu items, more than the %zu allowed "
				 "(max_task_argv)",
				 n, limits->max_argv);
	task->argv = calloc(n + 1, sizeof(char *));
	if (!task->argv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(argv, i);

		bytes += (size_t)json_object_get_string_len(item) + 1;
		if (bytes > limits->max_argv_bytes)
			return cause_set(error, -EINVAL,
					 "node.argv is longer than the %zu bytes allowed "
					 "(max_task_argv_bytes)",
					 limits->max_argv_bytes);
		task->argv[i] = strdup(json_object_get_string(item));
		if (!task->argv[i])
			return -ENOMEM;
	}
	if (task->argv[0][0] == '\0')
		return cause_set(error, -EINVAL, "node.argv[0] must not be empty");
	return 0;
}

static bool task_env_key_valid(const char *key)
{
	return *key && !strchr(key, '=');
}

/* The variables the daemon sets itself (see taskenv.c): a client's would win or clash. */
static bool task_env_key_reserved(const char *key)
{
	return strncmp(key, "COORD_", 6) == 0;
}

static int task_parse_env(struct task *task, json_object *env, const struct task_limits *limits,
			  char **error)
{
	size_t i = 0, n, bytes = 0;

	if (!env) {
		task->env = calloc(1, sizeof(char *));
		return task->env ? 0 : -ENOMEM;
	}
	n = (size_t)json_object_object_length(env);
	if (n > limits->max_env)
		return cause_set(error, -EINVAL,
				 "node.env has %zu variables, more than the %zu allowed "
				 "(max_task_env)",
				 n, limits->max_env);
	task->env = calloc(n + 1, sizeof(char *));
	if (!task->env)
		return -ENOMEM;
	json_object_object_foreach (env, key, val) {
		if (!task_env_key_valid(key))
			return cause_set(error, -EINVAL, "node.env has an invalid name \"%s\"",
					 key);
		if (task_env_key_reserved(key))
			return cause_set(error, -EINVAL,
					 "node.env.%s: names starting with COORD_ are "
					 "reserved for the daemon",
					 key);
		if (!json_object_is_type(val, json_type_string))
			return cause_set(error, -EINVAL, "node.env.%s must be a string", key);
		if (memchr(json_object_get_string(val), '\0',
			   (size_t)json_object_get_string_len(val)))
			return cause_set(error, -EINVAL,
					 "node.env.%s must not hold a NUL character (\\u0000)",
					 key);
		bytes += strlen(key) + 1 + (size_t)json_object_get_string_len(val) + 1;
		if (bytes > limits->max_env_bytes)
			return cause_set(error, -EINVAL,
					 "node.env is longer than the %zu bytes allowed "
					 "(max_task_env_bytes)",
					 limits->max_env_bytes);
		if (asprintf(&task->env[i], "%s=%s", key, json_object_get_string(val)) < 0) {
			task->env[i] = NULL;
			return -ENOMEM;
		}
		i++;
	}
	return 0;
}

static int task_parse_stdin(struct task *task, const struct jsonspec_bytes *in,
			    const struct task_limits *limits, char **error)
{
	if (!in->data)
		return 0;
	if (in->len > limits->max_stdin_bytes)
		return cause_set(error, -EINVAL,
				 "node.stdin has %zu bytes, more than the %zu allowed "
				 "(max_task_stdin_bytes)",
				 in->len, limits->max_stdin_bytes);
	task->stdin_data = malloc(in->len + 1);
	if (!task->stdin_data)
		return -ENOMEM;
	memcpy(task->stdin_data, in->data, in->len + 1);
	task->stdin_len = in->len;
	return 0;
}

static int task_default_name(struct task *task)
{
	const char *slash = strrchr(task->argv[0], '/');
	const char *base = slash && slash[1] ? slash + 1 : task->argv[0];

	task->name = strdup(base);
	return task->name ? 0 : -ENOMEM;
}

static int task_parse_ids(struct task *task, const struct task_json *in, char **error)
{
	int r;

	if (in->request_id && !task_request_id_valid(in->request_id))
		return cause_set(error, -EINVAL,
				 "request_id must be 1-%d characters of A-Z a-z 0-9 . _ : -",
				 TASK_REQUEST_ID_MAX);
	if (in->parent_node_id && !*in->parent_node_id)
		return cause_set(error, -EINVAL,
				 "parent_node_id must not be empty (null or absent: a root "
				 "request)");
	if ((r = task_strdup(in->request_id, &task->request_id)) < 0 ||
	    (r = task_strdup(in->parent_node_id, &task->parent_node_id)) < 0 ||
	    (r = task_strdup(in->mode, &task->mode)) < 0)
		return r;
	if (!task->request_id) {
		task->request_id = task_generate_id();
		if (!task->request_id)
			return -ENOMEM;
		task->request_id_made = true;
	}
	task->wait = in->wait;
	return 0;
}

static int task_parse_cwd(struct task *task, const char *cwd, const struct task_limits *limits,
			  char **error)
{
	if (!cwd)
		return 0;
	if (cwd[0] != '/')
		return cause_set(error, -EINVAL, "node.cwd must be an absolute path");
	if (strlen(cwd) > limits->max_cwd_bytes)
		return cause_set(error, -EINVAL,
				 "node.cwd is longer than the %zu bytes allowed "
				 "(max_task_cwd_bytes)",
				 limits->max_cwd_bytes);
	return task_strdup(cwd, &task->cwd);
}

static int task_parse_node(struct task *task, json_object *node, const struct task_limits *limits,
			   char **error)
{
	static const struct jsonspec_where where = {.path = "node", .what = "node"};
	struct task_node_json in;
	int r;

	if ((r = jsonspec_read(task_node_spec, node, &where, &in, error)) < 0)
		return r;
	if ((r = task_strdup(in.id, &task->node_id)) < 0)
		return r;
	if (!task->node_id && !(task->node_id = task_generate_id()))
		return -ENOMEM;
	if ((r = task_parse_argv(task, in.argv, limits, error)) < 0 ||
	    (r = task_strdup(in.name, &task->name)) < 0)
		return r;
	if (!task->name && (r = task_default_name(task)) < 0)
		return r;
	if ((r = task_parse_cwd(task, in.cwd, limits, error)) < 0 ||
	    (r = task_parse_env(task, in.env, limits, error)) < 0 ||
	    (r = task_parse_stdin(task, &in.stdin_data, limits, error)) < 0)
		return r;
	task->timeout_ms = (int64_t)in.timeout_ms;
	return 0;
}

/* Whether id is among the first n items of v. */
static bool task_strv_has(char *const *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], id) == 0)
			return true;
	return false;
}

/* after: request_ids (strings, as the spec checked), each kept once. */
static int task_parse_after(struct task *task, const struct task_json *in,
			    const struct task_limits *limits, char **error)
{
	size_t n;

	task->after_policy = in->after_policy && strcmp(in->after_policy, "closed") == 0
				     ? TASK_AFTER_CLOSED
				     : TASK_AFTER_SUCCESS;
	if (!in->after)
		return 0;
	task->after_json = json_object_get(in->after);
	n = json_object_array_length(in->after);
	if (n > limits->max_after)
		return cause_set(error, -EINVAL,
				 "after has %zu items, more than the %zu allowed (max_task_after)",
				 n, limits->max_after);
	task->after = calloc(n + 1, sizeof(char *));
	if (!task->after)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(in->after, i));

		if (!task_request_id_valid(id))
			return cause_set(error, -EINVAL,
					 "after[%zu] must be a request_id: 1-%d characters of A-Z "
					 "a-z 0-9 . _ : -",
					 i, TASK_REQUEST_ID_MAX);
		if (task_strv_has(task->after, task->after_count, id))
			continue;
		task->after[task->after_count] = strdup(id);
		if (!task->after[task->after_count])
			return -ENOMEM;
		task->after_count++;
	}
	return 0;
}

/* The separator before a member of the stored Task ("{" first, then ","), its key and ":". */
static void task_store_key(struct jsonout *out, char *sep, const char *key)
{
	jsonout_raw(out, sep, 1);
	*sep = ',';
	jsonout_string(out, key);
	jsonout_lit(out, ":");
}

/*
 * The Task as submitted, without wait (a stored task is never waited for
 * again), with the request_id and mode the job got (a generated id is
 * written in; node.id and node.name stay as given, so a re-run with a new
 * argv gets new defaults).
 */
static int task_store_text(struct task *task, json_object *params)
{
	bool has_id = false, has_mode = false;
	struct jsonout out;
	char sep = '{';

	/*
	 * Written as json-c writes a copy of params with the two members set
	 * (a member it has keeps its place, a new one goes last), without
	 * building that copy. As the wire writes JSON (no "\/"): a job shows
	 * this text as it is (job_write_members).
	 */
	jsonout_init(&out);
	json_object_object_foreach (params, key, val) {
		if (strcmp(key, "wait") == 0)
			continue;
		task_store_key(&out, &sep, key);
		if (strcmp(key, "request_id") == 0) {
			has_id = true;
			jsonout_string(&out, task->request_id);
		} else if (strcmp(key, "mode") == 0) {
			has_mode = true;
			jsonout_string(&out, task->mode);
		} else {
			jsonout_value(&out, val);
		}
	}
	if (!has_id) {
		task_store_key(&out, &sep, "request_id");
		jsonout_string(&out, task->request_id);
	}
	if (!has_mode) {
		task_store_key(&out, &sep, "mode");
		jsonout_string(&out, task->mode);
	}
	jsonout_lit(&out, "}");
	task->stored = jsonout_take(&out);
	return task->stored ? 0 : -ENOMEM;
}

int task_from_json(json_object *params, const struct task_limits *limits, struct task **ret,
		   char **error)
{
	static const struct jsonspec_where where = {.what = "the Task"};
	struct task_json in;
	struct task *task;
	int r;

	*error = NULL;
	if (!limits)
		limits = &task_limits_default;
	if (!json_object_is_type(params, json_type_object))
		return cause_set(error, -EINVAL, "params must be a Task object");
	if ((r = jsonspec_read(task_spec, params, &where, &in, error)) < 0)
		return r;

	task = calloc(1, sizeof(*task));
	if (!task)
		return -ENOMEM;
	r = task_parse_ids(task, &in, error);
	if (r == 0)
		r = task_parse_node(task, in.node, limits, error);
	if (r == 0)
		r = task_parse_after(task, &in, limits, error);
	if (r == 0)
		r = task_store_text(task, params);
	if (r < 0) {
		task_free(task);
		return r;
	}
	*ret = task;
	return 0;
}

/* Replaces *dst by a copy of src (NULL stays NULL). 0 or -ENOMEM. */
static int task_set(char **dst, const char *src)
{
	char *copy = src ? strdup(src) : NULL;

	if (src && !copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

int task_from_stored(const char *text, const struct job *job, struct task **ret)
{
	static const struct task_limits none = {
		.max_argv = SIZE_MAX,
		.max_argv_bytes = SIZE_MAX,
		.max_env = SIZE_MAX,
		.max_env_bytes = SIZE_MAX,
		.max_stdin_bytes = SIZE_MAX,
		.max_cwd_bytes = SIZE_MAX,
		.max_after = SIZE_MAX,
	};
	json_object *params;
	struct task *task;
	char *error = NULL;
	int r;

	if (!text)
		return -EINVAL;
	params = json_tokener_parse(text);
	if (!params)
		return -EINVAL;
	r = task_from_json(params, &none, &task, &error);
	json_object_put(params);
	free(error);
	if (r < 0)
		return r;
	if (task_set(&task->request_id, job->request_id) < 0 ||
	    task_set(&task->parent_node_id, job->parent_node_id) < 0 ||
	    task_set(&task->node_id, job->child_node_id) < 0 ||
	    task_set(&task->run_id, job->run_id) < 0 || task_set(&task->name, job->name) < 0 ||
	    task_set(&task->mode, job->mode) < 0) {
		task_free(task);
		return -ENOMEM;
	}
	task->owner_uid = job->owner_uid;
	task->admitted = true;
	*ret = task;
	return 0;
}
