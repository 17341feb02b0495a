/* Task: parsing and validating the contract's Task object. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "task.h"
#include "testutil.h"

/* task_from_json on JSON text under limits (NULL: the defaults). */
static int task_parse_text(const char *json, const struct task_limits *limits, struct task **ret,
			   char **error)
{
	json_object *params = json_tokener_parse(json);
	int r;

	ck_assert_msg(params != NULL, "bad test JSON: %s", json);
	*ret = NULL;
	r = task_from_json(params, limits, ret, error);
	json_object_put(params);
	return r;
}

/* Parses json under limits (NULL: the defaults), expects -EINVAL naming want. */
static void task_expect_refusal_within(const char *json, const struct task_limits *limits,
				       const char *want)
{
	struct task *task = NULL;
	char *error = NULL;
	int r = task_parse_text(json, limits, &task, &error);

	ck_assert_msg(r == -EINVAL, "%s: expected -EINVAL, got %d", json, r);
	ck_assert_ptr_null(task);
	ck_assert_msg(error && strstr(error, want), "%s: error \"%s\" does not name \"%s\"", json,
		      error ? error : "(null)", want);
	free(error);
}

static void task_expect_refusal(const char *json, const char *want)
{
	task_expect_refusal_within(json, NULL, want);
}

/* Parses json under limits, expects success. */
static void task_expect_accepted(const char *json, const struct task_limits *limits)
{
	struct task *task = NULL;
	char *error = NULL;
	int r = task_parse_text(json, limits, &task, &error);

	ck_assert_msg(r == 0, "%s: %s", json, error ? error : strerror(-r));
	task_free(task);
}

START_TEST(test_task_defaults)
{
	struct task *task = tu_task("{\"node\": {\"argv\": [\"/usr/bin/env\", \"a\"]}}");

	ck_assert(task_request_id_valid(task->request_id));
	ck_assert_uint_eq(strlen(task->request_id), 36);
	ck_assert(task->request_id_made);
	ck_assert_ptr_null(task->parent_node_id);
	ck_assert_str_eq(task->mode, "async");
	ck_assert_ptr_nonnull(task->node_id);
	ck_assert_str_ne(task->node_id, task->request_id);
	ck_assert_str_eq(task->name, "env");
	ck_assert_str_eq(task->argv[0], "/usr/bin/env");
	ck_assert_str_eq(task->argv[1], "a");
	ck_assert_ptr_null(task->argv[2]);
	ck_assert_ptr_null(task->cwd);
	ck_assert_ptr_nonnull(task->env);
	ck_assert_ptr_null(task->env[0]);
	ck_assert_uint_eq(task->stdin_len, 0);
	ck_assert_int_eq(task->timeout_ms, 0);
	ck_assert(!task->wait);
	ck_assert_ptr_null(task->run_id);
	task_free(task);
}
END_TEST

START_TEST(test_task_full)
{
	struct task *task = tu_task(
		"{\"request_id\": \"req-1.a:b_c\", \"parent_node_id\": \"pn\", \"mode\": \"batch\","
		" \"wait\": true, \"node\": {\"id\": \"n\", \"name\": \"label\","
		" \"argv\": [\"sh\"], \"cwd\": \"/tmp\", \"env\": {\"A\": \"1\", \"B\": \"x=y\"},"
		" \"stdin\": \"in\", \"timeout_ms\": 1500}}");

	ck_assert_str_eq(task->request_id, "req-1.a:b_c");
	ck_assert(!task->request_id_made);
	ck_assert_str_eq(task->parent_node_id, "pn");
	ck_assert_str_eq(task->mode, "batch");
	ck_assert(task->wait);
	ck_assert_str_eq(task->node_id, "n");
	ck_assert_str_eq(task->name, "label");
	ck_assert_str_eq(task->cwd, "/tmp");
	ck_assert_str_eq(task->env[0], "A=1");
	ck_assert_str_eq(task->env[1], "B=x=y");
	ck_assert_ptr_null(task->env[2]);
	ck_assert_uint_eq(task->stdin_len, 2);
	ck_assert_mem_eq(task->stdin_data, "in", 2);
	ck_assert_int_eq(task->timeout_ms, 1500);
	task_free(task);
}
END_TEST

START_TEST(test_task_null_parent)
{
	struct task *task = tu_task("{\"parent_node_id\": null, \"node\": {\"argv\": [\"x\"],"
				    " \"cwd\": null, \"env\": null, \"stdin\": null}}");

	ck_assert_ptr_null(task->parent_node_id);
	ck_assert_ptr_null(task->cwd);
	ck_assert_ptr_null(task->env[0]);
	task_free(task);
}
END_TEST

START_TEST(test_task_stdin_with_nul)
{
	struct task *task = tu_task("{\"node\": {\"argv\": [\"cat\"], \"stdin\": \"a\\u0000b\"}}");

	ck_assert_uint_eq(task->stdin_len, 3);
	ck_assert_mem_eq(task->stdin_data, "a\0b", 3);
	task_free(task);
}
END_TEST

START_TEST(test_task_refusals)
{
	task_expect_refusal("[]", "params");
	task_expect_refusal("{}", "node");
	task_expect_refusal("{\"node\": 3}", "node");
	task_expect_refusal("{\"node\": {}}", "node.argv");
	task_expect_refusal("{\"node\": {\"argv\": \"ls\"}}", "node.argv");
	task_expect_refusal("{\"node\": {\"argv\": []}}", "node.argv");
	task_expect_refusal("{\"node\": {\"argv\": [\"ls\", 1]}}", "node.argv[1]");
	task_expect_refusal("{\"node\": {\"argv\": [\"\"]}}", "node.argv[0]");
	task_expect_refusal("{\"node\": {\"argv\": [\"a\\u0000b\"]}}", "node.argv[0]");
	task_expect_refusal("{\"request_id\": \"a b\", \"node\": {\"argv\": [\"x\"]}}",
			    "request_id");
	task_expect_refusal("{\"request_id\": \"\", \"node\": {\"argv\": [\"x\"]}}", "request_id");
	task_expect_refusal("{\"request_id\": 7, \"node\": {\"argv\": [\"x\"]}}", "request_id");
	task_expect_refusal("{\"request_id\": null, \"node\": {\"argv\": [\"x\"]}}", "request_id");
	task_expect_refusal("{\"parent_node_id\": 1, \"node\": {\"argv\": [\"x\"]}}",
			    "parent_node_id");
	task_expect_refusal("{\"parent_node_id\": \"\", \"node\": {\"argv\": [\"x\"]}}",
			    "parent_node_id must not be empty");
	task_expect_refusal("{\"mode\": [], \"node\": {\"argv\": [\"x\"]}}", "mode");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"id\": \"\"}}", "node.id");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"name\": 5}}", "node.name");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"cwd\": \"tmp\"}}", "node.cwd");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": []}}", "node.env");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"A\": 1}}}", "node.env.A");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"A=B\": \"1\"}}}",
			    "node.env");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"\": \"1\"}}}", "node.env");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"stdin\": 1}}", "node.stdin");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"timeout_ms\": -1}}",
			    "node.timeout_ms");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"timeout_ms\": 1.5}}",
			    "node.timeout_ms");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"timeout_ms\": \"10\"}}",
			    "node.timeout_ms");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"timeout_ms\": 9007199254740993}}",
			    "node.timeout_ms");
	task_expect_refusal("{\"wait\": 1, \"node\": {\"argv\": [\"x\"]}}", "wait");
}
END_TEST

START_TEST(test_task_unknown_keys)
{
	/* Contract v2: a typo never falls back to a default; the message names the key. */
	task_expect_refusal("{\"unknown\": 1, \"node\": {\"argv\": [\"x\"]}}",
			    "unknown key \"unknown\" in the Task");
	task_expect_refusal("{\"wiat\": true, \"node\": {\"argv\": [\"x\"]}}", "\"wiat\"");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"argvv\": [\"y\"]}}",
			    "unknown key \"node.argvv\" in node");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"timeout\": 5}}", "node.timeout");
	/* The v2 keys after and after_policy are known, and typed. */
	task_expect_accepted("{\"after\": [\"a\"], \"after_policy\": \"closed\","
			     " \"node\": {\"argv\": [\"x\"]}}",
			     NULL);
	task_expect_accepted("{\"after\": null, \"after_policy\": null,"
			     " \"node\": {\"argv\": [\"x\"]}}",
			     NULL);
	task_expect_refusal("{\"after\": \"a\", \"node\": {\"argv\": [\"x\"]}}", "after");
	task_expect_refusal("{\"after\": [1], \"node\": {\"argv\": [\"x\"]}}", "after[0]");
	task_expect_refusal("{\"after_policy\": \"always\", \"node\": {\"argv\": [\"x\"]}}",
			    "after_policy must be \"success\" or \"closed\"");
}
END_TEST

START_TEST(test_task_env_reserved)
{
	/* The daemon's own variables are not the client's to set. */
	task_expect_refusal(
		"{\"node\": {\"argv\": [\"x\"], \"env\": {\"COORD_NODE_ID\": \"spoof\"}}}",
		"node.env.COORD_NODE_ID");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"COORD_SOCKET\": \"/x\"}}}",
			    "reserved");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"COORD_ANY\": \"1\"}}}",
			    "node.env.COORD_ANY");
	/* A name that only looks alike is the client's. */
	task_expect_accepted("{\"node\": {\"argv\": [\"x\"], \"env\": {\"COORDX\": \"1\","
			     " \"coord_node_id\": \"1\"}}}",
			     NULL);
}
END_TEST

START_TEST(test_task_limits)
{
	struct task_limits limits = {
		.max_argv = 3,
		.max_argv_bytes = 12, /* "abc" "def" "gh": 4 + 4 + 3 = 11 */
		.max_env = 2,
		.max_env_bytes = 10, /* "A=1" "B=22": 4 + 5 = 9 */
		.max_stdin_bytes = 4,
		.max_cwd_bytes = 5,
	};

	/* At each limit: accepted. */
	task_expect_accepted("{\"node\": {\"argv\": [\"abc\", \"def\", \"gh\"],"
			     " \"env\": {\"A\": \"1\", \"B\": \"22\"}, \"stdin\": \"a\\u0000bc\","
			     " \"cwd\": \"/tmp\"}}",
			     &limits);
	/* Past each: refused, naming what and the setting. */
	task_expect_refusal_within("{\"node\": {\"argv\": [\"a\", \"b\", \"c\", \"d\"]}}", &limits,
				   "node.argv has 4 items");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"a\", \"b\", \"c\", \"d\"]}}", &limits,
				   "max_task_argv");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"abcd\", \"defgh\", \"g\"]}}", &limits,
				   "max_task_argv_bytes");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"x\"], \"env\": {\"A\": \"1\","
				   " \"B\": \"2\", \"C\": \"3\"}}}",
				   &limits, "max_task_env");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"x\"], \"env\": {\"A\": \"1\","
				   " \"B\": \"2234\"}}}",
				   &limits, "max_task_env_bytes");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"x\"], \"stdin\": \"12345\"}}", &limits,
				   "node.stdin");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"x\"], \"stdin\": \"12345\"}}", &limits,
				   "max_task_stdin_bytes");
	task_expect_refusal_within("{\"node\": {\"argv\": [\"x\"], \"cwd\": \"/tmp/a\"}}", &limits,
				   "max_task_cwd_bytes");
	/* The defaults hold a long argv, and not an endless one. */
	ck_assert_uint_ge(TASK_LIMITS_DEFAULT.max_argv, 1024);
	ck_assert_uint_le(TASK_LIMITS_DEFAULT.max_argv, 100000);
}
END_TEST

START_TEST(test_task_nul_refused)
{
	/* Every string but stdin is refused with a NUL anywhere, never cut short. */
	task_expect_refusal("{\"node\": {\"argv\": [\"x\", \"a\\u0000\"]}}", "node.argv[1]");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"env\": {\"A\": \"1\\u00002\"}}}",
			    "node.env.A");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"cwd\": \"/tmp\\u0000/x\"}}",
			    "node.cwd");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"name\": \"n\\u0000\"}}", "node.name");
	task_expect_refusal("{\"node\": {\"argv\": [\"x\"], \"id\": \"n\\u0000\"}}", "node.id");
	task_expect_refusal("{\"parent_node_id\": \"p\\u0000\", \"node\": {\"argv\": [\"x\"]}}",
			    "parent_node_id");
	task_expect_refusal("{\"mode\": \"async\\u0000\", \"node\": {\"argv\": [\"x\"]}}", "mode");
	task_expect_refusal("{\"request_id\": \"r\\u0000\", \"node\": {\"argv\": [\"x\"]}}",
			    "request_id");
}
END_TEST

START_TEST(test_task_request_id_valid)
{
	char id[TASK_REQUEST_ID_MAX + 2];

	ck_assert(task_request_id_valid("a"));
	ck_assert(task_request_id_valid("A-Z.a_z:0-9"));
	ck_assert(!task_request_id_valid(""));
	ck_assert(!task_request_id_valid("a/b"));
	ck_assert(!task_request_id_valid("é"));
	ck_assert(!task_request_id_valid("a\n"));
	memset(id, 'x', sizeof(id));
	id[TASK_REQUEST_ID_MAX] = '\0';
	ck_assert(task_request_id_valid(id));
	id[TASK_REQUEST_ID_MAX] = 'x';
	id[TASK_REQUEST_ID_MAX + 1] = '\0';
	ck_assert(!task_request_id_valid(id));
}
END_TEST

START_TEST(test_task_generate_id)
{
	char *a = task_generate_id(), *b = task_generate_id();

	ck_assert_uint_eq(strlen(a), 36);
	ck_assert(task_request_id_valid(a));
	/* Version 7, the RFC 9562 variant, and made later sorts later. */
	ck_assert_int_eq(a[14], '7');
	ck_assert(strchr("89ab", a[19]) != NULL);
	ck_assert_int_lt(strcmp(a, b), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_task_name_of_dir_path)
{
	struct task *task = tu_task("{\"node\": {\"argv\": [\"./bin/run\"]}}");

	ck_assert_str_eq(task->name, "run");
	task_free(task);
	task = tu_task("{\"node\": {\"argv\": [\"weird/\"]}}");
	ck_assert_str_eq(task->name, "weird/");
	task_free(task);
	task_free(NULL);
}
END_TEST

/* The stored Task: what was given, the ids it got, never wait, never unknown keys. */
START_TEST(test_task_stored)
{
	struct task *task = NULL;
	char *error = NULL;
	json_object *stored, *node, *v;

	ck_assert_int_eq(task_parse_text("{\"wait\": true, \"after\": [\"a\"],"
					 " \"node\": {\"argv\": [\"/bin/echo\", \"x\"],"
					 " \"env\": {\"K\": \"V\"}}}",
					 NULL, &task, &error),
			 0);
	ck_assert_ptr_nonnull(task->stored);
	stored = json_tokener_parse(task->stored);
	ck_assert_ptr_nonnull(stored);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(stored, "request_id")),
			 task->request_id);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(stored, "mode")), "async");
	ck_assert(!json_object_object_get_ex(stored, "wait", NULL));
	ck_assert(json_object_object_get_ex(stored, "after", &v));
	ck_assert_int_eq(json_object_array_length(v), 1);
	node = json_object_object_get(stored, "node");
	/* A defaulted node id and name are not kept: a re-run makes its own. */
	ck_assert(!json_object_object_get_ex(node, "id", NULL));
	ck_assert(!json_object_object_get_ex(node, "name", NULL));
	ck_assert_str_eq(json_object_get_string(
				 json_object_object_get(json_object_object_get(node, "env"), "K")),
			 "V");
	json_object_put(stored);
	task_free(task);
}
END_TEST

/* What json-c writes for params without wait, with the ids the task got set in it. */
static char *task_stored_by_json_c(const char *params_text, const struct task *task)
{
	json_object *params = json_tokener_parse(params_text), *copy = json_object_new_object();
	char *text;

	json_object_object_foreach (params, key, val) {
		if (strcmp(key, "wait") != 0)
			json_object_object_add(copy, key, json_object_get(val));
	}
	json_object_object_add(copy, "request_id", json_object_new_string(task->request_id));
	json_object_object_add(copy, "mode", json_object_new_string(task->mode));
	text = strdup(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(copy);
	json_object_put(params);
	return text;
}

/*
 * The stored text is byte for byte what json-c writes for the same Task:
 * members in their order, a given request_id or mode replaced where it
 * stands, generated ones last, strings escaped as json-c escapes them.
 */
START_TEST(test_task_stored_text_as_json_c)
{
	static const char *const shapes[] = {
		"{\"node\": {\"argv\": [\"true\"]}}",
		"{\"mode\": \"async\", \"wait\": false, \"node\": {\"argv\": [\"a/b\", "
		"\"\\u00e9\\t\\\"\"]},"
		" \"request_id\": \"r.1\"}",
		"{\"request_id\": \"r2\", \"after\": [\"x\", \"y\"], \"node\": {\"argv\": [\"sh\"],"
		" \"env\": {\"K\": \"V\\n\"}, \"stdin\": \"in\", \"timeout_ms\": 1500}, \"wait\": "
		"true}",
		"{\"wait\": true, \"node\": {\"argv\": [\"x\"]}, \"parent_node_id\": null}",
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct task *task = NULL;
		char *error = NULL, *want;

		ck_assert_msg(task_parse_text(shapes[i], NULL, &task, &error) == 0, "%s: %s",
			      shapes[i], error ? error : "?");
		want = task_stored_by_json_c(shapes[i], task);
		ck_assert_str_eq(task->stored, want);
		free(want);
		task_free(task);
	}
}
END_TEST

static Suite *task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_task_defaults);
	tcase_add_test(tc, test_task_full);
	tcase_add_test(tc, test_task_null_parent);
	tcase_add_test(tc, test_task_unknown_keys);
	tcase_add_test(tc, test_task_stdin_with_nul);
	tcase_add_test(tc, test_task_refusals);
	tcase_add_test(tc, test_task_env_reserved);
	tcase_add_test(tc, test_task_limits);
	tcase_add_test(tc, test_task_nul_refused);
	tcase_add_test(tc, test_task_request_id_valid);
	tcase_add_test(tc, test_task_generate_id);
	tcase_add_test(tc, test_task_name_of_dir_path);
	tcase_add_test(tc, test_task_stored);
	tcase_add_test(tc, test_task_stored_text_as_json_c);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(task_suite());
}
