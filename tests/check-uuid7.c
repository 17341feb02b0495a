/* uuid7: the RFC 9562 layout (version, variant, time), text form, and order across calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
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

/* The text uuid7_format writes reads back; any other text (case, shape, variant) does not. */
START_TEST(test_uuid7_parse)
{
	static const char *const refused[] = {
		"",
		"0190f3a2-7b1c-7def-8abc-0123456789a",	 /* short */
		"0190f3a2-7b1c-7def-8abc-0123456789abc", /* long */
		"0190F3A2-7B1C-7DEF-8ABC-0123456789AB",	 /* upper case */
		"0190f3a2_7b1c-7def-8abc-0123456789ab",	 /* not a dash */
		"0190f3a27b1c-7def-8abc-0123456789ab-",	 /* dash elsewhere */
		"0190f3a2-7b1c-7def-cabc-0123456789ab",	 /* variant 110 */
		"0190f3a2-7b1c-7def-7abc-0123456789ab",	 /* variant 0 */
		"0190f3a2-7b1c-7def-8abc-0123456789ag",	 /* not hex */
		"job-1",
	};
	char text[UUID7_STR_LEN], back[UUID7_STR_LEN];
	struct uuid7 u, v;

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(uuid7_generate(&u), 0);
		uuid7_format(&u, text);
		ck_assert_int_eq(uuid7_parse(text, &v), 0);
		ck_assert_mem_eq(u.b, v.b, sizeof(u.b));
	}
	/* Any version (a client's v4) with the RFC variant. */
	ck_assert_int_eq(uuid7_parse("f47ac10b-58cc-4372-a567-0e02b2c3d479", &v), 0);
	uuid7_format(&v, back);
	ck_assert_str_eq(back, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_msg(uuid7_parse(refused[i], &v) == -EINVAL, "took %s", refused[i]);
}
END_TEST

/* Ids drawn from one pool of random bytes: many in a row still differ in their random part. */
START_TEST(test_uuid7_pool_distinct)
{
	enum { N = 1000 };
	static uint8_t tails[N][7];
	struct uuid7 u;

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uuid7_generate(&u), 0);
		memcpy(tails[i], &u.b[9], 7);
		/* Checked by hand: a Check assertion per pair costs a write each. */
		for (int j = 0; j < i; j++)
			if (memcmp(tails[i], tails[j], 7) == 0)
				ck_abort_msg("ids %d and %d share their random part", i, j);
	}
}
END_TEST

/* A forked child does not hand out the random bytes its parent will use next. */
START_TEST(test_uuid7_fork)
{
	struct uuid7 mine, theirs;
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(uuid7_generate(&mine), 0); /* the pool is full now */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (uuid7_generate(&theirs) < 0 ||
		    write(fds[1], &theirs, sizeof(theirs)) != (ssize_t)sizeof(theirs))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &theirs, sizeof(theirs)), (ssize_t)sizeof(theirs));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(uuid7_generate(&mine), 0);
	ck_assert_msg(memcmp(&mine.b[9], &theirs.b[9], 7) != 0,
		      "parent and child drew the same bytes");
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
	tcase_add_test(tc, test_uuid7_parse);
	tcase_add_test(tc, test_uuid7_pool_distinct);
	tcase_add_test(tc, test_uuid7_fork);
	tcase_add_test(tc, test_uuid7_same_ms); /* last: it leaves the clock far ahead */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(uuid7_suite());
}
