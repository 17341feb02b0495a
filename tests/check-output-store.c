/*
 * The output store on its own: head and tail ring past the limit, reads
 * that cross the ring's end, appends larger than the tail, counts that
 * survive reopening, watchers, removal, and the UTF-8 helper it relies on.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "checkrun.h"
#include "jsonutil.h"
#include "output_follow.h"
#include "output_store.h"

static char dir[64];
static struct output_store *store;

static void store_setup(void)
{
	char *error = NULL;

	snprintf(dir, sizeof(dir), "/tmp/check-output-store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(output_store_open(dir, &store, &error), 0);
}

static void store_teardown(void)
{
	char cmd[128];

	output_store_free(store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Everything kept of stream s from offset on, with '|' where the middle was dropped. */
static char *store_kept(const char *id, enum output_stream s, uint64_t offset)
{
	static char all[4096];
	size_t len = 0;
	uint64_t expect = offset;
	bool first = true;

	for (;;) {
		char *got = all + len + 1; /* room for a '|' before it */
		uint64_t at;
		size_t n;

		ck_assert_int_eq(output_store_read(store, id, s, offset, got, sizeof(all) - len - 2,
						   &at, &n),
				 0);
		if (n == 0)
			break;
		if (at != expect && !first)
			all[len++] = '|';
		first = false;
		memmove(all + len, got, n);
		len += n;
		offset = expect = at + n;
	}
	all[len] = '\0';
	return all;
}

static int store_calls;

static void store_watch_cb(void *userdata)
{
	store_calls++;
	if (userdata)
		output_watch_free(userdata); /* freeing itself from inside is allowed */
}

START_TEST(test_below_limit_is_the_stream)
{
	struct output_writer *w;
	struct output_extent e;

	ck_assert_int_eq(output_store_writer(store, "a", 10, &w), 0);
	output_writer_append(w, OUTPUT_STDOUT, "hello", 5);
	output_writer_append(w, OUTPUT_STDERR, "e", 1);
	ck_assert_str_eq(store_kept("a", OUTPUT_STDOUT, 0), "hello");
	ck_assert_str_eq(store_kept("a", OUTPUT_STDOUT, 3), "lo");
	ck_assert_str_eq(store_kept("a", OUTPUT_STDERR, 0), "e");
	output_writer_free(w);
	/* Read back from the file once the writer is gone. */
	ck_assert_int_eq(output_store_extent(store, "a", OUTPUT_STDOUT, &e), 0);
	ck_assert_uint_eq(e.written, 5);
	ck_assert_uint_eq(e.head, 5);
	ck_assert_uint_eq(e.tail_start, 5);
	ck_assert_str_eq(store_kept("a", OUTPUT_STDOUT, 0), "hello");
	/* No such job: nothing, not an error. */
	ck_assert_int_eq(output_store_extent(store, "none", OUTPUT_STDOUT, &e), 0);
	ck_assert_uint_eq(e.written, 0);
	ck_assert_str_eq(store_kept("none", OUTPUT_STDOUT, 0), "");
}
END_TEST

START_TEST(test_head_and_ring)
{
	struct output_writer *w;
	struct output_extent e;

	/* 4 bytes of head, 5 of tail. */
	ck_assert_int_eq(output_store_writer(store, "b", 9, &w), 0);
	ck_assert_int_eq(9 / 2, 4);
	output_writer_append(w, OUTPUT_STDOUT, "0123", 4);
	output_writer_append(w, OUTPUT_STDOUT, "456789", 6);
	output_writer_append(w, OUTPUT_STDOUT, "abc", 3);
	output_writer_append(w, OUTPUT_STDOUT, "d", 1);
	ck_assert_int_eq(output_store_extent(store, "b", OUTPUT_STDOUT, &e), 0);
	ck_assert_uint_eq(e.written, 14);
	ck_assert_uint_eq(e.head, 4);
	ck_assert_uint_eq(e.tail_start, 9);
	ck_assert_str_eq(store_kept("b", OUTPUT_STDOUT, 0), "0123|9abcd");
	/* From inside the dropped middle: the tail is next. */
	ck_assert_str_eq(store_kept("b", OUTPUT_STDOUT, 6), "9abcd");
	/* An append larger than the tail keeps its end. */
	output_writer_append(w, OUTPUT_STDOUT, "ABCDEFGHIJKLMNOP", 16);
	ck_assert_str_eq(store_kept("b", OUTPUT_STDOUT, 0), "0123|LMNOP");
	output_writer_free(w);
	ck_assert_str_eq(store_kept("b", OUTPUT_STDOUT, 0), "0123|LMNOP");
	ck_assert_int_eq(output_store_extent(store, "b", OUTPUT_STDOUT, &e), 0);
	ck_assert_uint_eq(e.written, 30);
	ck_assert_int_eq(output_store_remove(store, "b"), 0);
	ck_assert_int_eq(output_store_extent(store, "b", OUTPUT_STDOUT, &e), 0);
	ck_assert_uint_eq(e.written, 0);
}
END_TEST

START_TEST(test_watch)
{
	struct output_writer *w;
	struct output_watch *keep, *once;

	keep = output_store_watch(store, "c", store_watch_cb, NULL);
	once = output_store_watch(store, "c", store_watch_cb, NULL);
	ck_assert_ptr_nonnull(keep);
	ck_assert_ptr_nonnull(once);
	output_watch_free(once);
	once = output_store_watch(store, "c", store_watch_cb, NULL);
	/* The second one frees itself when called. */
	output_watch_free(once);
	once = output_store_watch(store, "c", store_watch_cb, NULL);
	ck_assert_ptr_nonnull(once);
	output_watch_free(once);
	ck_assert_int_eq(output_store_writer(store, "c", 100, &w), 0);
	store_calls = 0;
	output_writer_append(w, OUTPUT_STDOUT, "x", 1);
	ck_assert_int_eq(store_calls, 1);
	output_writer_append(w, OUTPUT_STDOUT, "", 0);
	ck_assert_int_eq(store_calls, 1);
	output_writer_free(w);
	ck_assert(!output_watch_gone(keep));
	/* Removing the output tells its watchers once, and only them. */
	once = output_store_watch(store, "other", store_watch_cb, NULL);
	ck_assert_int_eq(output_store_remove(store, "c"), 0);
	ck_assert_int_eq(store_calls, 2);
	ck_assert(output_watch_gone(keep));
	ck_assert(!output_watch_gone(once));
	output_watch_free(once);
	output_watch_free(keep);
	/* A request_id with a '/' reaches nothing outside the folder. */
	ck_assert_int_lt(output_store_writer(store, "../x", 100, &w), 0);
}
END_TEST

START_TEST(test_utf8_whole_len)
{
	ck_assert_uint_eq(utf8_whole_len("abc", 3), 3);
	ck_assert_uint_eq(utf8_whole_len("a\xc3", 2), 1);
	ck_assert_uint_eq(utf8_whole_len("a\xc3\xa9", 3), 3);
	ck_assert_uint_eq(utf8_whole_len("\xe2\x82", 2), 0);
	ck_assert_uint_eq(utf8_whole_len("\xe2\x82\xac", 3), 3);
	ck_assert_uint_eq(utf8_whole_len("x\xf0\x9f\x98", 4), 1);
	/* Not the start of anything: nothing to wait for. */
	ck_assert_uint_eq(utf8_whole_len("a\xff", 2), 2);
	ck_assert_uint_eq(utf8_whole_len("\x80\x80\x80\x80", 4), 4);
	ck_assert_uint_eq(utf8_whole_len("", 0), 0);
}
END_TEST

START_TEST(test_follow_read_holds_a_cut_character)
{
	struct output_writer *w;
	char buf[16];
	uint64_t at;
	size_t len;

	ck_assert_int_eq(output_store_writer(store, "d", 100, &w), 0);
	output_writer_append(w, OUTPUT_STDOUT, "ab\xc3", 3);
	ck_assert_int_eq(output_follow_read(store, "d", OUTPUT_STDOUT, 0, false, buf, sizeof(buf),
					    &at, &len),
			 0);
	ck_assert_uint_eq(len, 2);
	/* At the end of the stream for good, the byte goes as it is. */
	ck_assert_int_eq(
		output_follow_read(store, "d", OUTPUT_STDOUT, 0, true, buf, sizeof(buf), &at, &len),
		0);
	ck_assert_uint_eq(len, 3);
	output_writer_free(w);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("output-store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, test_below_limit_is_the_stream);
	tcase_add_test(tc, test_head_and_ring);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_utf8_whole_len);
	tcase_add_test(tc, test_follow_read_holds_a_cut_character);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(store_suite());
}
