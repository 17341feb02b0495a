/*
 * jsontext: batch lengths, NUL characters in keys, and a member's raw text,
 * read off JSON text; and times written as printf's "%.6f" would.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <check.h>

#include "jsontext.h"
#include "jsonutil.h"
#include "testutil.h"

static struct jsontext_outline outline(const char *text)
{
	struct jsontext_outline o;

	jsontext_outline(text, strlen(text), &o);
	return o;
}

START_TEST(test_outline_batches)
{
	ck_assert(!outline("{\"a\":[1,2,3]}").array);
	ck_assert(outline("  [1]").array);
	ck_assert_uint_eq(outline("[]").elements, 0);
	ck_assert_uint_eq(outline("[ ]").elements, 0);
	ck_assert_uint_eq(outline("[1]").elements, 1);
	ck_assert_uint_eq(outline("[1,2,3]").elements, 3);
	/* Commas inside elements and strings do not count. */
	ck_assert_uint_eq(outline("[{\"a\":[1,2],\"b\":\"x,y\"},\"],[\",[3,4]]").elements, 3);
	ck_assert_uint_eq(outline("[\"a\\\",\",2]").elements, 2);
}
END_TEST

START_TEST(test_outline_nul_in_key)
{
	ck_assert(!outline("{\"a\":\"x\\u0000y\"}").nul_in_key);
	ck_assert(outline("{\"a\\u0000b\":1}").nul_in_key);
	ck_assert(outline("[{\"ok\":1},{\"x\":{\"y\\u0000\":2}}]").nul_in_key);
	ck_assert(outline("{\"a\":1,\"\\u0000\":2}").nul_in_key);
	/* An escaped backslash followed by u0000 is text, not NUL. */
	ck_assert(!outline("{\"a\\\\u0000\":1}").nul_in_key);
	/* Values in arrays are not keys. */
	ck_assert(!outline("{\"a\":[\"\\u0000\",\"b\"]}").nul_in_key);
	/* Garbage: no crash, no read past the end. */
	ck_assert(!outline("{\"a\\").nul_in_key);
	outline("}}]]{{[[\"");
}
END_TEST

/* The raw text of key in the element at index (-1: the top object), or NULL. */
static char *member(const char *text, long index, const char *key)
{
	static char buf[256];
	size_t len = strlen(text), off = jsontext_skip_space(text, len, 0), start, n;

	if (index >= 0) {
		off = jsontext_array_first(text, len, off);
		for (long i = 0; i < index && off < len; i++)
			off = jsontext_array_next(text, len, off);
		if (off >= len)
			return NULL;
	}
	if (!jsontext_member(text, len, off, key, &start, &n))
		return NULL;
	memcpy(buf, text + start, n);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_member)
{
	ck_assert_str_eq(member("{\"id\":123456789012345678901234567890}", -1, "id"),
			 "123456789012345678901234567890");
	ck_assert_str_eq(member("{ \"params\" : {\"id\":1} , \"id\" : -0 }", -1, "id"), "-0");
	/* The last of a repeated member, as json-c keeps. */
	ck_assert_str_eq(member("{\"id\":1,\"x\":[1,{\"id\":2}],\"id\":3}", -1, "id"), "3");
	ck_assert_str_eq(member("{\"\\u0069d\":7}", -1, "id"), "7");
	ck_assert_str_eq(member("{\"i\\u0064\":\"s\"}", -1, "id"), "\"s\"");
	ck_assert_ptr_null(member("{\"idx\":1,\"i\":2}", -1, "id"));
	ck_assert_ptr_null(member("{}", -1, "id"));
	ck_assert_str_eq(member("[{\"id\":1},{\"a\":\"}\",\"id\":2e5},{\"id\":[3]}]", 1, "id"),
			 "2e5");
	ck_assert_str_eq(member("[{\"id\":1},{\"id\":2},{\"id\":[3, 4]}]", 2, "id"), "[3, 4]");
	ck_assert_ptr_null(member("[{\"id\":1}]", 1, "id"));
	ck_assert_ptr_null(member("[]", 0, "id"));
}
END_TEST

START_TEST(test_footprint)
{
	json_object *small = json_tokener_parse("{\"a\":\"b\"}");
	json_object *big = json_tokener_parse("{\"ids\":[\"q1\",\"q2\",\"q3\",\"q4\"]}");

	ck_assert_uint_gt(json_footprint(small), 64);
	/* Every value adds to it. */
	ck_assert_uint_gt(json_footprint(big), json_footprint(small) + 4 * 64);
	json_object_put(small);
	json_object_put(big);
}
END_TEST

/* Whether json_time_new writes t as "%.6f" does (a message in why when not). */
static bool time_text_agrees(double t, char *why, size_t size)
{
	json_object *o = json_time_new(t);
	const char *got = json_object_to_json_string(o);
	char want[512];
	bool same;

	snprintf(want, sizeof(want), "%.6f", t);
	same = strcmp(got, want) == 0 && json_object_get_double(o) == t;
	if (!same)
		snprintf(why, size, "%.17g: %.64s, not %.64s", t, got, want);
	json_object_put(o);
	return same;
}

/* One Check assertion per time would be 200000 of them: compare by hand, report the first. */
static void check_time(double t)
{
	char why[256];

	if (!time_text_agrees(t, why, sizeof(why)))
		ck_abort_msg("%s", why);
}

/* json_time_new's own digits agree with "%.6f", halves of a microsecond included. */
START_TEST(test_time_text)
{
	static const double edges[] = {
		0,
		1e-7,
		5e-7,
		1.5e-6,
		2.5e-6,
		0.5,
		1,
		123.000001,
		1764500000.9999996,
		1764500000.0000004,
		1764500000.123456,
		8589934591.7,
		8589934592.5,
		-1.25,
		1e300,
	};
	uint64_t x = 88172645463325252ull; /* xorshift64: the same sweep every run */

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		check_time(edges[i]);
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check_time(i % 2 ? 1.7e9 + (double)(x % 100000000000000ull) / 1e6
				 : (double)(x % 10000000ull) / 1e6 * 7);
	}
}
END_TEST

static Suite *jsontext_suite(void)
{
	Suite *s = suite_create("jsontext");
	TCase *tc = tcase_create("jsontext");

	tcase_add_test(tc, test_outline_batches);
	tcase_add_test(tc, test_outline_nul_in_key);
	tcase_add_test(tc, test_member);
	tcase_add_test(tc, test_footprint);
	tcase_add_test(tc, test_time_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(jsontext_suite());
}
