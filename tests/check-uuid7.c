/* uuid7: the RFC 9562 layout (version, variant, time), text form, and order across calls. */
#include <string.h>
#include <time.h>
#include <check.h>

#include "testutil.h"
#include "uuid7.h"

static unsigned hex_value(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

START_TEST(test_uuid7_layout)
{
	struct uuid7 u;

	ck_assert_int_eq(uuid7_make(0x0123456789abULL, &u), 0);
	ck_assert_uint_eq(uuid7_unix_ms(&u), 0x0123456789abULL);
	ck_assert_uint_eq(u.b[6] >> 4, 7); /* version */
	ck_assert_uint_eq(u.b[8] >> 6, 2); /* variant 10 */
	ck_assert_uint_eq(u.b[0], 0x01);   /* big-endian time first */
	ck_assert_uint_eq(u.b[5], 0xab);
}
END_TEST

START_TEST(test_uuid7_format)
{
	struct uuid7 u;
	char text[UUID7_STR_LEN];

	ck_assert_int_eq(uuid7_generate(&u), 0);
	uuid7_format(&u, text);
	ck_assert_uint_eq(strlen(text), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(text[i], '-');
		else
			ck_assert_msg(strchr("0123456789abcdef", text[i]), "bad digit in %s", text);
	}
	ck_assert_int_eq(text[14], '7');
	ck_assert_uint_eq(hex_value(text[19]) >> 2, 2);
	/* The text's first 12 digits are the time. */
	ck_assert_uint_eq(uuid7_unix_ms(&u) >> 16,
			  (uint64_t)((hex_value(text[0]) << 28) | (hex_value(text[1]) << 24) |
				     (hex_value(text[2]) << 20) | (hex_value(text[3]) << 16) |
				     (hex_value(text[4]) << 12) | (hex_value(text[5]) << 8) |
				     (hex_value(text[6]) << 4) | hex_value(text[7])));
}
END_TEST

START_TEST(test_uuid7_now)
{
	struct uuid7 u;
	struct timespec ts;
	uint64_t before, after;

	clock_gettime(CLOCK_REALTIME, &ts);
	before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	ck_assert_int_eq(uuid7_generate(&u), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	after = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* At most one millisecond ahead, when an earlier test spent a millisecond's counter. */
	ck_assert_uint_ge(uuid7_unix_ms(&u), before);
	ck_assert_uint_le(uuid7_unix_ms(&u), after + 1);
}
END_TEST

/* Made one after the other, ids sort (as bytes and as text) in the order they were made. */
START_TEST(test_uuid7_order)
{
	char prev[UUID7_STR_LEN], text[UUID7_STR_LEN];
	struct uuid7 u;

	ck_assert_int_eq(uuid7_generate(&u), 0);
	uuid7_format(&u, prev);
	for (int i = 0; i < 100000; i++) {
		ck_assert_int_eq(uuid7_generate(&u), 0);
		uuid7_format(&u, text);
		ck_assert_msg(strcmp(prev, text) < 0, "%s then %s", prev, text);
		memcpy(prev, text, sizeof(text));
	}
}
END_TEST

/* Many in one millisecond: the counter orders them, and past its end time moves on. */
START_TEST(test_uuid7_same_ms)
{
	struct uuid7 a, b;
	/* Far ahead of the clock (and of what earlier tests made without a fork). */
	uint64_t ms = 0xf00000000000ULL;

	ck_assert_int_eq(uuid7_make(ms, &a), 0);
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(uuid7_make(ms, &b), 0);
		ck_assert_msg(memcmp(a.b, b.b, sizeof(a.b)) < 0, "not after the one before at %d",
			      i);
		ck_assert_uint_eq(b.b[6] >> 4, 7);
		ck_assert_uint_eq(b.b[8] >> 6, 2);
		a = b;
	}
	/* 10001 ids need three or four milliseconds' counters (4096 values at most each). */
	ck_assert_uint_ge(uuid7_unix_ms(&b), ms + 2);
	ck_assert_uint_le(uuid7_unix_ms(&b), ms + 3);
	/* A clock that steps back does not break the order. */
	ck_assert_int_eq(uuid7_make(ms - 1000, &b), 0);
	ck_assert_int_lt(memcmp(a.b, b.b, sizeof(a.b)), 0);
}
END_TEST

START_TEST(test_uuid7_random_part)
{
	struct uuid7 a, b;

	ck_assert_int_eq(uuid7_generate(&a), 0);
	ck_assert_int_eq(uuid7_generate(&b), 0);
	/* 62 random bits: two ids differ there. */
	ck_assert_int_ne(memcmp(&a.b[9], &b.b[9], 7), 0);
}
END_TEST

static Suite *uuid7_suite(void)
{
	Suite *s = suite_create("uuid7");
	TCase *tc = tcase_create("uuid7");

	tcase_add_test(tc, test_uuid7_layout);
	tcase_add_test(tc, test_uuid7_format);
	tcase_add_test(tc, test_uuid7_now);
	tcase_add_test(tc, test_uuid7_order);
	tcase_add_test(tc, test_uuid7_random_part);
	tcase_add_test(tc, test_uuid7_same_ms); /* last: it leaves the clock far ahead */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(uuid7_suite());
}
