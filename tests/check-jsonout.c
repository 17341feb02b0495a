/*
 * jsonout: JSON text written without json-c trees must be what json-c
 * writes for the same values (json_to_wire), byte for byte: strings,
 * integers, times, and the Job and message texts built with it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "job.h"
#include "jsonout.h"
#include "jsonutil.h"
#include "message.h"
#include "task.h"
#include "testutil.h"

/* out's text must equal json_to_wire(o); takes o. */
static void jo_expect_same(struct jsonout *out, json_object *o, const char *what)
{
	size_t len;
	const char *want = json_to_wire(o, &len);

	ck_assert_msg(!out->failed, "%s: failed", what);
	ck_assert_msg(out->len == len && memcmp(out->buf, want, len) == 0,
		      "%s:\n got  %.*s\n want %s", what, (int)out->len, out->buf, want);
	json_object_put(o);
}

/* Every byte but NUL, alone and amid others, escaped as json-c escapes it. */
START_TEST(test_jsonout_string_every_byte)
{
	char s[24];
	struct jsonout out;

	/* At every place of a string long enough to be read eight bytes at a time. */
	for (int c = 1; c < 256; c++) {
		for (size_t at = 0; at < sizeof(s) - 1; at++) {
			memcpy(s, "abcdefghijklmn/pqrstuvw", sizeof(s));
			s[at] = (char)c;
			jsonout_init(&out);
			jsonout_string(&out, s);
			jo_expect_same(&out, json_object_new_string(s), "byte");
			jsonout_free(&out);
		}
	}
	jsonout_init(&out);
	jsonout_string(&out, NULL);
	jo_expect_same(&out, NULL, "null");
	jsonout_string(&out, ""); /* appended after "null" */
	ck_assert_int_eq(out.len, 6);
	ck_assert_int_eq(memcmp(out.buf, "null\"\"", 6), 0);
	jsonout_free(&out);
}
END_TEST

START_TEST(test_jsonout_numbers)
{
	const int64_t ints[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN, INT32_MIN};
	const double times[] = {0, 1, 0.5, 1764500000.123456, 1764500000.9999996, 12.0000005};
	struct jsonout out;

	for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
		jsonout_init(&out);
		jsonout_int64(&out, ints[i]);
		jo_expect_same(&out, json_object_new_int64(ints[i]), "int");
		jsonout_free(&out);
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++) {
		jsonout_init(&out);
		jsonout_time(&out, times[i]);
		jo_expect_same(&out, json_time_new(times[i]), "time");
		jsonout_free(&out);
	}
}
END_TEST

/* Past the inline buffer it grows on the heap; take hands the text over. */
START_TEST(test_jsonout_grows)
{
	size_t n = 5 * JSONOUT_INLINE;
	char *big = malloc(n + 1), *text;
	struct jsonout out;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	big[7] = '\n';
	jsonout_init(&out);
	jsonout_string(&out, big);
	ck_assert_ptr_ne(out.buf, out.inline_buf);
	jo_expect_same(&out, json_object_new_string(big), "big");
	text = jsonout_take(&out);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), n + 3); /* quotes and the \n's backslash */
	ck_assert_ptr_eq(out.buf, out.inline_buf);
	ck_assert_uint_eq(out.len, 0);
	free(text);
	jsonout_lit(&out, "{}");
	text = jsonout_take(&out);
	ck_assert_str_eq(text, "{}");
	free(text);
	free(big);
}
END_TEST

/* Raw text (inline in the header) grows the buffer too, by a byte as by a block. */
START_TEST(test_jsonout_raw_grows)
{
	size_t n = 3 * JSONOUT_INLINE;
	char *block = malloc(n), *text;
	struct jsonout out;

	ck_assert_ptr_nonnull(block);
	memset(block, 'x', n);
	jsonout_init(&out);
	for (size_t i = 0; i < JSONOUT_INLINE + 1; i++)
		jsonout_lit(&out, "1");
	ck_assert_ptr_ne(out.buf, out.inline_buf);
	jsonout_raw(&out, block, n);
	ck_assert_uint_eq(out.len, JSONOUT_INLINE + 1 + n);
	text = jsonout_take(&out);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), JSONOUT_INLINE + 1 + n);
	ck_assert_int_eq(text[JSONOUT_INLINE], '1');
	ck_assert_int_eq(text[JSONOUT_INLINE + 1], 'x');
	ck_assert_int_eq(text[JSONOUT_INLINE + n], 'x');
	free(text);
	free(block);
}
END_TEST

/*
 * Text the daemon wrote is one JSON object, byte for byte as json-c writes
 * the same values once parsed (the wire's one form: json_to_wire), so a
 * Job or a Message reads the same whichever path of the daemon wrote it.
 */
static void jo_expect_canonical(struct jsonout *out, const char *what)
{
	char *text = strndup(out->buf, out->len);
	json_object *parsed = text ? json_tokener_parse(text) : NULL;

	ck_assert_msg(json_object_is_type(parsed, json_type_object), "%s: no object: %s", what,
		      text);
	free(text);
	jo_expect_same(out, parsed, what);
}

/* job_write_members + '}' for a job in every shape it can have. */
static void jo_expect_job(const struct job *job, uid_t viewer, const char *what)
{
	struct jsonout out;

	jsonout_init(&out);
	job_write_members(job, viewer, &out);
	jsonout_lit(&out, "}");
	jo_expect_canonical(&out, what);
	jsonout_free(&out);
}

START_TEST(test_jsonout_job_canonical)
{
	struct task *task =
		tu_task("{\"request_id\": \"r1\", \"parent_node_id\": \"p\", \"mode\": \"m\","
			" \"after\": [\"a\", \"b.c\"], \"node\": {\"id\": \"n1\", \"name\": \"n\","
			" \"argv\": [\"/bin/echo\", \"x\\ny\"], \"stdin\": \"secret\"}}");
	struct task *root = tu_task("{\"node\": {\"argv\": [\"true\"]}}");
	struct job *job, *plain;

	task->owner_uid = 1000;
	job = job_new_from_task(task);
	plain = job_new_from_task(root);
	ck_assert_ptr_nonnull(job);
	ck_assert_ptr_nonnull(plain);
	/* What the wire may carry in a name: escapes, UTF-8, DEL and a slash. */
	free(job->name);
	job->name = strdup("n\xc3\xa9\t\x7f/\"\\\x1f");
	jo_expect_job(plain, 0, "a root job, queued");
	jo_expect_job(plain, JOB_VIEWER_NONE, "a root job, to nobody");
	jo_expect_job(job, 1000, "owner");
	jo_expect_job(job, 0, "root");
	jo_expect_job(job, 1001, "another user");
	job->rerun_of = strdup("old\\one");
	job->phase = JOB_RUNNING;
	job_set_run_start(job);
	jo_expect_job(job, 1000, "running, a rerun");
	job_end(job, JOB_FAILURE, -3, ERROR_EXIT, "exited with \"status\" 3\n");
	jo_expect_job(job, 1000, "closed as a failure");
	job_end(plain, JOB_SUCCESS, 0, ERROR_NONE, NULL);
	jo_expect_job(plain, 0, "closed as a success");
	free(plain->task);
	plain->task = strdup("[1]");
	jo_expect_job(plain, 0, "a task that is no object");
	job_unref(job);
	job_unref(plain);
	task_free(task);
	task_free(root);
}
END_TEST

/* message_wire for each type, with and without output and errors. */
START_TEST(test_jsonout_message_canonical)
{
	struct message_ids ids = {
		.request_id = "r\"1", .child_node_id = "n1", .run_id = "r\"1", .mode = "m/x"};
	struct message_ids child = ids;

	child.parent_node_id = "p";
	struct message_output output = {.exit_code = 2,
					.stdout_data = "out\n\x01",
					.stdout_len = 5,
					.stderr_data = "",
					.stderr_len = 0};

	for (int t = 0; t < MESSAGE_TYPE_COUNT; t++) {
		for (int variant = 0; variant < 3; variant++) {
			struct message *msg =
				message_new((enum message_type)t, variant == 2 ? &child : &ids,
					    variant == 1 ? &output : NULL);
			struct jsonout out;
			const char *wire;
			size_t len;

			ck_assert_ptr_nonnull(msg);
			msg->seq = 42 + (uint64_t)variant;
			msg->time = 1764500000.25;
			if (variant == 2) {
				message_set_error(msg, ERROR_SIGNAL, "killed \\ by 9", -1, 9);
				msg->run_start_time = 1764499999.5;
			}
			wire = message_wire(msg, &len);
			ck_assert_ptr_nonnull(wire);
			ck_assert_uint_eq(strlen(wire), len);
			jsonout_init(&out);
			jsonout_raw(&out, wire, len);
			jo_expect_canonical(&out, message_type_name(msg->type));
			jsonout_free(&out);
			message_unref(msg);
		}
	}
}
END_TEST

static Suite *jsonout_suite(void)
{
	Suite *s = suite_create("jsonout");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_jsonout_string_every_byte);
	tcase_add_test(tc, test_jsonout_numbers);
	tcase_add_test(tc, test_jsonout_grows);
	tcase_add_test(tc, test_jsonout_raw_grows);
	tcase_add_test(tc, test_jsonout_job_canonical);
	tcase_add_test(tc, test_jsonout_message_canonical);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(jsonout_suite());
}
