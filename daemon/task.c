/*
 * Task parsing and validation. A struct task owns every string it points
 * to; task_free releases them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "cause.h"
#include "task.h"

static const struct task_limits task_limits_default = TASK_LIMITS_DEFAULT;

/* The members of a Task's node, and the members of a Task kept with its job. */
static const char *const task_node_keys[] = {"id",  "name",  "argv",	  "cwd",
					     "env", "stdin", "timeout_ms"};
static const char *const task_stored_keys[] = {"parent_node_id", "after", "after_policy"};

static bool task_key_in(const char *key, const char *const *keys, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

bool task_node_key_known(const char *key)
{
	return task_key_in(key, task_node_keys, sizeof(task_node_keys) / sizeof(*task_node_keys));
}

/* A copy of the members of from named in keys, added to to. */
static int task_copy_keys(json_object *to, json_object *from, const char *const *keys, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		json_object *v, *copy = NULL;

		if (!json_object_object_get_ex(from, keys[i], &v))
			continue;
		if (v && json_object_deep_copy(v, &copy, NULL) < 0)
			return -ENOMEM;
		if (json_object_object_add(to, keys[i], copy) < 0) {
			json_object_put(copy);
			return -ENOMEM;
		}
	}
	return 0;
}

/* task->stored: the Task as the client gave it, with the ids it ended up with. */
static int task_build_stored(struct task *task, json_object *params, json_object *node)
{
	json_object *stored = json_object_new_object(), *stored_node = json_object_new_object();
	int r = -ENOMEM;

	if (!stored || !stored_node)
		goto out;
	if (json_object_object_add(stored, "request_id", json_object_new_string(task->request_id)) <
		    0 ||
	    json_object_object_add(stored, "mode", json_object_new_string(task->mode)) < 0)
		goto out;
	r = task_copy_keys(stored, params, task_stored_keys,
			   sizeof(task_stored_keys) / sizeof(*task_stored_keys));
	if (r == 0)
		r = task_copy_keys(stored_node, node, task_node_keys,
				   sizeof(task_node_keys) / sizeof(*task_node_keys));
	if (r < 0)
		goto out;
	json_object_object_add(stored, "node", stored_node);
	task->stored = stored;
	return 0;
out:
	json_object_put(stored_node);
	json_object_put(stored);
	return r;
}

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
	uuid_t uuid;
	char *out = malloc(UUID_STR_LEN);

	if (!out)
		return NULL;
	uuid_generate_random(uuid);
	uuid_unparse_lower(uuid, out);
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
	json_object_put(task->stored);
	free(task->run_id);
	free(task->rerun_of);
	free(task);
}

/*
 * Reads an optional string member. Absent (and null, when null_ok) leaves
 * *ret NULL. A present value of another type is an error naming the field.
 */
static int task_opt_string(json_object *obj, const char *key, const char *field, bool null_ok,
			   char **ret, char **error)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!v && null_ok)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return cause_set(error, -EINVAL, "%s must be a string%s", field,
				 null_ok ? " or null" : "");
	if (memchr(json_object_get_string(v), '\0', (size_t)json_object_get_string_len(v)))
		return cause_set(error, -EINVAL, "%s must not contain a NUL character", field);
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static int task_parse_argv(struct task *task, json_object *node, const struct task_limits *limits,
			   char **error)
{
	json_object *argv;
	size_t n, bytes = 0;

	if (!json_object_object_get_ex(node, "argv", &argv) || !argv)
		return cause_set(error, -EINVAL,
				 "node.argv is required: a non-empty array of strings");
	if (!json_object_is_type(argv, json_type_array))
		return cause_set(error, -EINVAL, "node.argv must be an array of strings");
	n = json_object_array_length(argv);
	if (n == 0)
		return cause_set(error, -EINVAL, "node.argv must not be empty");
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

		if (!json_object_is_type(item, json_type_string))
			return cause_set(error, -EINVAL, "node.argv[%zu] must be a string", i);
		if (memchr(json_object_get_string(item), '\0',
			   (size_t)json_object_get_string_len(item)))
			return cause_set(error, -EINVAL,
					 "node.argv[%zu] must not contain a NUL character", i);
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

static int task_parse_env(struct task *task, json_object *node, const struct task_limits *limits,
			  char **error)
{
	json_object *env;
	size_t i = 0, n, bytes = 0;

	if (!json_object_object_get_ex(node, "env", &env) || !env) {
		task->env = calloc(1, sizeof(char *));
		return task->env ? 0 : -ENOMEM;
	}
	if (!json_object_is_type(env, json_type_object))
		return cause_set(error, -EINVAL, "node.env must be an object of strings");
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
					 "node.env.%s must not contain a NUL character", key);
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

static int task_parse_stdin(struct task *task, json_object *node, const struct task_limits *limits,
			    char **error)
{
	json_object *v;
	size_t len;

	if (!json_object_object_get_ex(node, "stdin", &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return cause_set(error, -EINVAL, "node.stdin must be a string");
	len = (size_t)json_object_get_string_len(v);
	if (len > limits->max_stdin_bytes)
		return cause_set(error, -EINVAL,
				 "node.stdin has %zu bytes, more than the %zu allowed "
				 "(max_task_stdin_bytes)",
				 len, limits->max_stdin_bytes);
	task->stdin_data = malloc(len + 1);
	if (!task->stdin_data)
		return -ENOMEM;
	memcpy(task->stdin_data, json_object_get_string(v), len + 1);
	task->stdin_len = len;
	return 0;
}

static int task_parse_timeout(struct task *task, json_object *node, char **error)
{
	json_object *v;

	if (!json_object_object_get_ex(node, "timeout_ms", &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return cause_set(error, -EINVAL,
				 "node.timeout_ms must be an integer number of milliseconds");
	errno = 0;
	task->timeout_ms = json_object_get_int64(v);
	if (errno == EINVAL || task->timeout_ms < 0)
		return cause_set(error, -EINVAL, "node.timeout_ms must not be negative");
	if (task->timeout_ms > INT64_C(1) << 40)
		return cause_set(error, -EINVAL, "node.timeout_ms is too large");
	return 0;
}

static int task_parse_wait(struct task *task, json_object *params, char **error)
{
	json_object *v;

	if (!json_object_object_get_ex(params, "wait", &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return cause_set(error, -EINVAL, "wait must be true or false");
	task->wait = json_object_get_boolean(v);
	return 0;
}

static int task_default_name(struct task *task)
{
	const char *slash = strrchr(task->argv[0], '/');
	const char *base = slash && slash[1] ? slash + 1 : task->argv[0];

	task->name = strdup(base);
	return task->name ? 0 : -ENOMEM;
}

static int task_parse_ids(struct task *task, json_object *params, char **error)
{
	int r;

	r = task_opt_string(params, "request_id", "request_id", false, &task->request_id, error);
	if (r < 0)
		return r;
	if (task->request_id && !task_request_id_valid(task->request_id))
		return cause_set(error, -EINVAL,
				 "request_id must be 1-%d characters of A-Z a-z 0-9 . _ : -",
				 TASK_REQUEST_ID_MAX);
	if (!task->request_id && !(task->request_id = task_generate_id()))
		return -ENOMEM;
	r = task_opt_string(params, "parent_node_id", "parent_node_id", true, &task->parent_node_id,
			    error);
	if (r < 0)
		return r;
	if (task->parent_node_id && !*task->parent_node_id)
		return cause_set(error, -EINVAL,
				 "parent_node_id must not be empty (null or absent: a root "
				 "request)");
	r = task_opt_string(params, "mode", "mode", false, &task->mode, error);
	if (r < 0)
		return r;
	if (!task->mode && !(task->mode = strdup("async")))
		return -ENOMEM;
	return 0;
}

static int task_parse_node(struct task *task, json_object *node, const struct task_limits *limits,
			   char **error)
{
	int r;

	r = task_opt_string(node, "id", "node.id", false, &task->node_id, error);
	if (r < 0)
		return r;
	if (task->node_id && !*task->node_id)
		return cause_set(error, -EINVAL, "node.id must not be empty");
	if (!task->node_id && !(task->node_id = task_generate_id()))
		return -ENOMEM;
	r = task_parse_argv(task, node, limits, error);
	if (r < 0)
		return r;
	r = task_opt_string(node, "name", "node.name", false, &task->name, error);
	if (r < 0)
		return r;
	if (!task->name && (r = task_default_name(task)) < 0)
		return r;
	r = task_opt_string(node, "cwd", "node.cwd", true, &task->cwd, error);
	if (r < 0)
		return r;
	if (task->cwd && task->cwd[0] != '/')
		return cause_set(error, -EINVAL, "node.cwd must be an absolute path");
	if (task->cwd && strlen(task->cwd) > limits->max_cwd_bytes)
		return cause_set(error, -EINVAL,
				 "node.cwd is longer than the %zu bytes allowed "
				 "(max_task_cwd_bytes)",
				 limits->max_cwd_bytes);
	r = task_parse_env(task, node, limits, error);
	if (r < 0)
		return r;
	r = task_parse_stdin(task, node, limits, error);
	if (r < 0)
		return r;
	return task_parse_timeout(task, node, error);
}

int task_from_json(json_object *params, const struct task_limits *limits, struct task **ret,
		   char **error)
{
	struct task *task;
	json_object *node;
	int r;

	*error = NULL;
	if (!limits)
		limits = &task_limits_default;
	if (!json_object_is_type(params, json_type_object))
		return cause_set(error, -EINVAL, "params must be a Task object");
	if (!json_object_object_get_ex(params, "node", &node) || !node)
		return cause_set(error, -EINVAL, "node is required: an object with at least argv");
	if (!json_object_is_type(node, json_type_object))
		return cause_set(error, -EINVAL, "node must be an object");

	task = calloc(1, sizeof(*task));
	if (!task)
		return -ENOMEM;
	r = task_parse_ids(task, params, error);
	if (r == 0)
		r = task_parse_node(task, node, limits, error);
	if (r == 0)
		r = task_parse_wait(task, params, error);
	if (r == 0)
		r = task_build_stored(task, params, node);
	if (r < 0) {
		task_free(task);
		return r;
	}
	*ret = task;
	return 0;
}
