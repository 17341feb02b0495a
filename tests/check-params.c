/*
 * Declarative params: the spec engine (common/jsonspec.c) on every type,
 * and every method's spec walked entry by entry: a missing required key,
 * a value of the wrong type, a value out of bounds and an unknown key are
 * each refused with a message naming the key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "jsonspec.h"
#include "methods.h"
#include "params.h"
#include "task.h"
#include "testutil.h"

/* One method and the spec it reads its params by. */
struct params_method {
	const char *name;
	const struct jsonspec *spec;
};

static const struct params_method params_methods[] = {
	{"ping", params_none},
	{"modes", params_none},
	{"shutdown", params_none},
	{"metrics", params_none},
	{"job", methods_job_spec},
	{"status", methods_status_spec},
	{"wait", methods_wait_spec},
	{"cancel", methods_cancel_spec},
	{"rerun", methods_rerun_spec},
	{"subscribe", methods_subscribe_spec},
	{"unsubscribe", methods_unsubscribe_spec},
	{"output", methods_output_spec},
	{"mode_set", methods_mode_set_spec},
};

/* How a spec is read: a method's params, the Task, or node. */
struct params_reader {
	const char *label;
	const struct jsonspec *spec;
	struct jsonspec_where where;
};

static json_object *params_parse_text(const char *json)
{
	json_object *o = json_tokener_parse(json);

	ck_assert_msg(o != NULL, "bad test JSON: %s", json);
	return o;
}

/* Reads obj (borrowed) by r; the error (caller frees) or NULL on success. */
static char *params_read(const struct params_reader *r, json_object *obj)
{
	char *error = NULL;
	int ret = jsonspec_read(r->spec, obj, &r->where, NULL, &error);

	if (ret == 0) {
		ck_assert_ptr_null(error);
		return NULL;
	}
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_msg(error != NULL, "%s: refusal without a reason", r->label);
	return error;
}

/* Expects obj (taken) refused with a message holding want. */
static void params_expect_refused(const struct params_reader *r, json_object *obj, const char *want)
{
	char *error = params_read(r, obj);

	ck_assert_msg(error != NULL, "%s: %s was accepted", r->label,
		      json_object_to_json_string(obj));
	ck_assert_msg(strstr(error, want), "%s: %s: error \"%s\" does not name \"%s\"", r->label,
		      json_object_to_json_string(obj), error, want);
	free(error);
	json_object_put(obj);
}

static void params_expect_accepted(const struct params_reader *r, json_object *obj)
{
	char *error = params_read(r, obj);

	ck_assert_msg(error == NULL, "%s: %s refused: %s", r->label,
		      json_object_to_json_string(obj), error);
	json_object_put(obj);
}

/* A value of e's type that passes its checks (new reference). */
static json_object *params_good_value(const struct jsonspec *e)
{
	json_object *a;

	switch (e->type) {
	case JSONSPEC_T_STRING:
		return json_object_new_string(e->choices ? e->choices[0] : "a");
	case JSONSPEC_T_BYTES:
		return json_object_new_string("a");
	case JSONSPEC_T_BOOL:
		return json_object_new_boolean(1);
	case JSONSPEC_T_UINT:
		return json_object_new_uint64(e->umin);
	case JSONSPEC_T_INT:
		return json_object_new_int64(e->imin);
	case JSONSPEC_T_NUMBER:
		return json_object_new_double(e->dmin);
	case JSONSPEC_T_STRINGS:
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("a"));
		return a;
	case JSONSPEC_T_OBJECT:
		return json_object_new_object();
	case JSONSPEC_T_END:
		break;
	}
	ck_abort_msg("entry %s has no type", e->name);
	return NULL;
}

/* A value of another type than e's (new reference). */
static json_object *params_bad_value(const struct jsonspec *e)
{
	switch (e->type) {
	case JSONSPEC_T_STRING:
	case JSONSPEC_T_BYTES:
		return json_object_new_int(5);
	case JSONSPEC_T_BOOL:
	case JSONSPEC_T_UINT:
	case JSONSPEC_T_INT:
	case JSONSPEC_T_NUMBER:
	case JSONSPEC_T_STRINGS:
		return json_object_new_string("1");
	case JSONSPEC_T_OBJECT:
		return json_object_new_array();
	case JSONSPEC_T_END:
		break;
	}
	ck_abort_msg("entry %s has no type", e->name);
	return NULL;
}

/* Every required key of spec with a good value (new reference). */
static json_object *params_minimal(const struct jsonspec *spec)
{
	json_object *o = json_object_new_object();

	for (const struct jsonspec *e = spec; e->name; e++)
		if (e->flags & JSONSPEC_REQUIRED)
			json_object_object_add(o, e->name, params_good_value(e));
	return o;
}

/* minimal with key set to v (taken). */
static json_object *params_with(const struct jsonspec *spec, const char *key, json_object *v)
{
	json_object *o = params_minimal(spec);

	json_object_object_add(o, key, v);
	return o;
}

/* "node.argv" or "argv", as messages name the key. */
static const char *params_field(const struct params_reader *r, const char *name, char *buf,
				size_t size)
{
	if (r->where.path)
		snprintf(buf, size, "%s.%s", r->where.path, name);
	else
		snprintf(buf, size, "%s", name);
	return buf;
}

static void params_walk_bounds(const struct params_reader *r, const struct jsonspec *e,
			       const char *field)
{
	json_object *a;

	if (e->type == JSONSPEC_T_UINT && e->umax < UINT64_MAX)
		params_expect_refused(
			r, params_with(r->spec, e->name, json_object_new_uint64(e->umax + 1)),
			field);
	if (e->type == JSONSPEC_T_UINT)
		params_expect_refused(r, params_with(r->spec, e->name, json_object_new_int(-1)),
				      field);
	if (e->type == JSONSPEC_T_UINT && e->umin > 0)
		params_expect_refused(
			r, params_with(r->spec, e->name, json_object_new_uint64(e->umin - 1)),
			field);
	if (e->type == JSONSPEC_T_INT && e->imax < INT64_MAX)
		params_expect_refused(
			r, params_with(r->spec, e->name, json_object_new_int64(e->imax + 1)),
			field);
	if (e->type == JSONSPEC_T_STRINGS && e->lmin > 0)
		params_expect_refused(r, params_with(r->spec, e->name, json_object_new_array()),
				      field);
	if (e->type == JSONSPEC_T_STRINGS) {
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_int(1));
		params_expect_refused(r, params_with(r->spec, e->name, a), field);
	}
	if (e->type == JSONSPEC_T_STRING && e->lmin > 0)
		params_expect_refused(r, params_with(r->spec, e->name, json_object_new_string("")),
				      field);
	if (e->type == JSONSPEC_T_STRING)
		params_expect_refused(
			r, params_with(r->spec, e->name, json_object_new_string_len("a\0b", 3)),
			field);
	if (e->choices)
		params_expect_refused(
			r, params_with(r->spec, e->name, json_object_new_string("no-such-choice")),
			field);
}

/* Walks every entry of r's spec: good, wrong type, out of bounds, missing, unknown. */
static void params_walk(const struct params_reader *r)
{
	char field[128], want[192];
	json_object *o;

	params_expect_accepted(r, params_minimal(r->spec));
	for (const struct jsonspec *e = r->spec; e->name; e++) {
		params_field(r, e->name, field, sizeof(field));
		params_expect_accepted(r, params_with(r->spec, e->name, params_good_value(e)));
		params_expect_refused(r, params_with(r->spec, e->name, params_bad_value(e)), field);
		params_walk_bounds(r, e, field);
		if (!(e->flags & JSONSPEC_REQUIRED))
			continue;
		o = params_minimal(r->spec);
		json_object_object_del(o, e->name);
		snprintf(want, sizeof(want), "%s is required", field);
		params_expect_refused(r, o, want);
	}
	/* A typo never falls back to a default. */
	snprintf(want, sizeof(want), "unknown key \"%s\" in %s",
		 params_field(r, "cascde", field, sizeof(field)), r->where.what);
	params_expect_refused(r, params_with(r->spec, "cascde", json_object_new_boolean(0)), want);
	/* Not an object at all. */
	params_expect_refused(r, json_object_new_array(), r->where.what);
}

/* Whether the daemon's method table has name. */
static bool params_in_table(const char *name)
{
	struct rpc_methods table;

	methods_table_init(&table, NULL);
	for (size_t i = 0; i < table.count; i++)
		if (strcmp(table.methods[i].name, name) == 0)
			return true;
	return false;
}

START_TEST(test_params_every_method)
{
	for (size_t i = 0; i < sizeof(params_methods) / sizeof(params_methods[0]); i++) {
		const struct params_method *m = &params_methods[i];
		char what[64];
		struct params_reader r = {.label = m->name,
					  .spec = m->spec,
					  .where = {.what = what, .null_absent = true}};

		snprintf(what, sizeof(what), "params of %s", m->name);
		ck_assert_msg(params_in_table(m->name), "%s is not in the table", m->name);
		params_walk(&r);
	}
}
END_TEST

START_TEST(test_params_task_and_node)
{
	struct params_reader task = {
		.label = "submit", .spec = task_spec, .where = {.what = "the Task"}};
	struct params_reader node = {
		.label = "node", .spec = task_node_spec, .where = {.path = "node", .what = "node"}};

	params_walk(&task);
	params_walk(&node);
}
END_TEST

/* params_check: the exact sentence a client reads, and the values a handler gets. */
START_TEST(test_params_cancel)
{
	struct {
		const char *request_id;
		bool cascade;
	} out;
	json_object *o = params_parse_text("{\"request_id\": \"x\", \"cascde\": false}");
	char *error = NULL;

	ck_assert_int_eq(params_check("cancel", methods_cancel_spec, o, NULL, &error), -EINVAL);
	ck_assert_str_eq(error, "unknown key \"cascde\" in params of cancel (known keys: "
				"request_id, cascade)");
	free(error);
	json_object_put(o);

	/* cascade defaults to true; null counts as absent in a method's params. */
	o = params_parse_text("{\"request_id\": \"x\", \"cascade\": null}");
	ck_assert_int_eq(params_check("cancel", methods_cancel_spec, o, &out, &error), 0);
	ck_assert_str_eq(out.request_id, "x");
	ck_assert(out.cascade);
	json_object_put(o);
	o = params_parse_text("{\"request_id\": \"x\", \"cascade\": false}");
	ck_assert_int_eq(params_check("cancel", methods_cancel_spec, o, &out, &error), 0);
	ck_assert(!out.cascade);
	json_object_put(o);
	o = params_parse_text("{\"request_id\": null}");
	ck_assert_int_eq(params_check("cancel", methods_cancel_spec, o, &out, &error), -EINVAL);
	ck_assert_str_eq(error, "request_id is required");
	free(error);
	json_object_put(o);
}
END_TEST

START_TEST(test_params_none)
{
	json_object *o = params_parse_text("{\"verbose\": true}");
	char *error = NULL;

	ck_assert_int_eq(params_check("ping", params_none, o, NULL, &error), -EINVAL);
	ck_assert_str_eq(error, "unknown key \"verbose\" in params of ping (known keys: none)");
	free(error);
	json_object_put(o);
	o = params_parse_text("{}");
	ck_assert_int_eq(params_check("ping", params_none, o, NULL, &error), 0);
	json_object_put(o);
}
END_TEST

/* Every type of the engine, on a spec of its own. */
struct params_all {
	const char *s, *choice;
	struct jsonspec_bytes bytes;
	bool b;
	uint64_t u;
	bool u_seen;
	int64_t i;
	double d;
	json_object *strings, *object;
};

static const char *const params_colours[] = {"red", "green", "blue", NULL};

static const struct jsonspec params_all_spec[] = {
	JSONSPEC_STRING(struct params_all, s, 0, .lmin = 2, .lmax = 4, .def.s = "dflt"),
	JSONSPEC_CHOICE(struct params_all, choice, 0, params_colours),
	JSONSPEC_BYTES("bytes", struct params_all, bytes, 0),
	JSONSPEC_BOOL(struct params_all, b, 0, true),
	JSONSPEC_UINT(struct params_all, u, 0, 0, INT64_MAX, 7,
		      JSONSPEC_SEEN(struct params_all, u_seen)),
	JSONSPEC_INT(struct params_all, i, 0, -10, 10, -1),
	JSONSPEC_NUMBER(struct params_all, d, 0, 0, 1e12, 0.5),
	JSONSPEC_STRINGS(struct params_all, strings, 0, 1, 2),
	JSONSPEC_OBJECT(struct params_all, object, JSONSPEC_NULLABLE),
	{0},
};

static int params_all_read(const char *json, struct params_all *out, char **error)
{
	static const struct jsonspec_where where = {.what = "the test object"};
	json_object *o = params_parse_text(json);
	int r;

	*error = NULL;
	r = jsonspec_read(params_all_spec, o, &where, out, error);
	json_object_put(o);
	return r;
}

static void params_all_refused(const char *json, const char *want)
{
	struct params_all out;
	char *error;

	ck_assert_msg(params_all_read(json, &out, &error) == -EINVAL, "%s accepted", json);
	ck_assert_msg(error && strcmp(error, want) == 0, "%s: \"%s\", not \"%s\"", json, error,
		      want);
	free(error);
}

START_TEST(test_params_defaults)
{
	struct params_all out;
	char *error;

	ck_assert_int_eq(params_all_read("{}", &out, &error), 0);
	ck_assert_str_eq(out.s, "dflt");
	ck_assert_ptr_null(out.choice);
	ck_assert_ptr_null(out.bytes.data);
	ck_assert(out.b);
	ck_assert_uint_eq(out.u, 7);
	ck_assert(!out.u_seen);
	ck_assert_int_eq(out.i, -1);
	ck_assert_double_eq(out.d, 0.5);
	ck_assert_ptr_null(out.strings);
	ck_assert_ptr_null(out.object);
}
END_TEST

START_TEST(test_params_values)
{
	json_object *o = params_parse_text(
		"{\"s\": \"abc\", \"choice\": \"blue\", \"bytes\": \"a\\u0000b\", \"b\": false,"
		" \"u\": 9223372036854775807, \"i\": -10, \"d\": 1764500000.123456,"
		" \"strings\": [\"x\", \"y\"], \"object\": {\"k\": 1}}");
	static const struct jsonspec_where where = {.what = "the test object"};
	struct params_all out;
	char *error = NULL;

	ck_assert_int_eq(jsonspec_read(params_all_spec, o, &where, &out, &error), 0);
	ck_assert_str_eq(out.s, "abc");
	ck_assert_str_eq(out.choice, "blue");
	ck_assert_uint_eq(out.bytes.len, 3);
	ck_assert_mem_eq(out.bytes.data, "a\0b", 3);
	ck_assert(!out.b);
	ck_assert_uint_eq(out.u, INT64_MAX);
	ck_assert(out.u_seen);
	ck_assert_int_eq(out.i, -10);
	ck_assert_double_eq_tol(out.d, 1764500000.123456, 1e-6);
	ck_assert_int_eq((int)json_object_array_length(out.strings), 2);
	ck_assert(json_object_is_type(out.object, json_type_object));
	json_object_put(o);
}
END_TEST

START_TEST(test_params_refusals)
{
	params_all_refused("[]", "the test object must be an object");
	params_all_refused("{\"s\": \"a\"}", "s holds 1 bytes; it must hold 2 to 4");
	params_all_refused("{\"s\": \"abcde\"}", "s holds 5 bytes; it must hold 2 to 4");
	params_all_refused("{\"s\": null}", "s must be a string");
	params_all_refused("{\"s\": \"a\\u0000b\"}", "s must not hold a NUL character (\\u0000)");
	params_all_refused("{\"choice\": \"pink\"}",
			   "choice must be one of \"red\", \"green\", \"blue\", not \"pink\"");
	params_all_refused("{\"bytes\": 1}", "bytes must be a string");
	params_all_refused("{\"b\": 1}", "b must be true or false");
	params_all_refused("{\"u\": -1}", "u must be a whole number from 0 to 9223372036854775807");
	params_all_refused("{\"u\": 9223372036854775808}",
			   "u must be a whole number from 0 to 9223372036854775807");
	params_all_refused("{\"u\": 1.5}",
			   "u must be a whole number from 0 to 9223372036854775807");
	params_all_refused("{\"i\": 11}", "i must be a whole number from -10 to 10");
	params_all_refused("{\"i\": -11}", "i must be a whole number from -10 to 10");
	params_all_refused("{\"i\": 18446744073709551615}",
			   "i must be a whole number from -10 to 10");
	params_all_refused("{\"d\": -0.5}", "d must be a number from 0 to 1000000000000");
	params_all_refused("{\"d\": \"1\"}", "d must be a number from 0 to 1000000000000");
	params_all_refused("{\"strings\": []}", "strings must not be empty");
	params_all_refused("{\"strings\": [\"a\", \"b\", \"c\"]}",
			   "strings holds 3 items; it must hold 1 to 2");
	params_all_refused("{\"strings\": [\"a\", 2]}", "strings[1] must be a string");
	params_all_refused("{\"object\": [1]}", "object must be an object");
	params_all_refused("{\"s\": \"ab\", \"S\": 1}",
			   "unknown key \"S\" in the test object (known keys: s, choice, bytes, b, "
			   "u, i, d, strings, object)");
}
END_TEST

/*
 * Which fault a reader names first does not hang on the order of the
 * object's members: an unknown key before any bad value, then the first bad
 * value in the spec's order; a repeated key counts its last value (json-c's).
 */
START_TEST(test_params_refusal_order)
{
	struct params_all out;
	char *error;

	params_all_refused("{\"i\": 11, \"b\": 1, \"s\": \"a\"}",
			   "s holds 1 bytes; it must hold 2 to 4");
	params_all_refused("{\"b\": 1, \"X\": 1, \"Y\": 2}",
			   "unknown key \"X\" in the test object (known keys: s, choice, bytes, b, "
			   "u, i, d, strings, object)");
	params_all_refused("{\"i\": 0, \"i\": 11}", "i must be a whole number from -10 to 10");
	ck_assert_int_eq(params_all_read("{\"i\": 11, \"i\": 3}", &out, &error), 0);
	ck_assert_int_eq(out.i, 3);
}
END_TEST

START_TEST(test_params_number_accepts_integers)
{
	struct params_all out;
	char *error;

	ck_assert_int_eq(params_all_read("{\"d\": 12}", &out, &error), 0);
	ck_assert_double_eq(out.d, 12.0);
}
END_TEST

/* The single getters left for code not yet on a spec read the same way. */
START_TEST(test_params_one)
{
	static const struct jsonspec e = {.name = "n", .type = JSONSPEC_T_UINT, .umax = 5};
	json_object *o = params_parse_text("{\"n\": 6, \"other\": 1}");
	char *error = NULL;
	uint64_t n = 0;

	ck_assert_int_eq(jsonspec_read_one(&e, o, NULL, &n, &error), -EINVAL);
	ck_assert_str_eq(error, "n must be a whole number from 0 to 5");
	free(error);
	ck_assert_str_eq(jsonspec_unknown_key(params_none, o), "n");
	json_object_put(o);
}
END_TEST

static Suite *params_suite(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("spec");

	tcase_add_test(tc, test_params_every_method);
	tcase_add_test(tc, test_params_task_and_node);
	tcase_add_test(tc, test_params_cancel);
	tcase_add_test(tc, test_params_none);
	tcase_add_test(tc, test_params_defaults);
	tcase_add_test(tc, test_params_values);
	tcase_add_test(tc, test_params_refusals);
	tcase_add_test(tc, test_params_refusal_order);
	tcase_add_test(tc, test_params_number_accepts_integers);
	tcase_add_test(tc, test_params_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(params_suite());
}
