/*
 * Check suite for request ids in 16 bytes (reqkey) and the set of them
 * (idset): both forms of id, add/has/remove with back-shifts, the 3/4
 * load limit at its boundary, and growth.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "checkrun.h"
#include "idset.h"
#include "reqkey.h"
#include "uuid7.h"

#define IS_COUNT 5000

/* Ids half UUIDs (binary keys) and half a client's own (text keys). */
static void is_id(int i, char out[64])
{
	if (i % 2)
		snprintf(out, 64, "job-%d", i);
	else
		snprintf(out, 64, "0190f3a2-7b1c-7def-8abc-%012x", (unsigned)i);
}

START_TEST(test_reqkey_forms)
{
	char buf[REQKEY_STR_LEN];
	struct reqkey k = {0}, t = {0}, p;
	struct uuid7 u;

	ck_assert(reqkey_empty(&k));
	ck_assert_int_eq(uuid7_generate(&u), 0);
	uuid7_format(&u, buf);
	{
		char text[REQKEY_STR_LEN];

		memcpy(text, buf, sizeof(text));
		ck_assert_int_eq(reqkey_set(&k, text), 0);
		memset(text, 'x', sizeof(text) - 1); /* the binary key does not point at it */
		ck_assert_mem_eq(k.b, u.b, sizeof(u.b));
	}
	ck_assert(!reqkey_empty(&k));
	ck_assert_str_eq(reqkey_str(&k, buf), buf);
	p = reqkey_probe(buf);
	ck_assert(reqkey_equal(&k, &p));
	ck_assert_uint_eq(reqkey_hash(&k), reqkey_hash(&p));
	/* The same text in upper case is another id, kept as text. */
	for (char *c = buf; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	ck_assert_int_eq(reqkey_set(&t, buf), 0);
	p = reqkey_probe(buf);
	ck_assert(reqkey_equal(&t, &p));
	ck_assert(!reqkey_equal(&t, &k));
	ck_assert(!reqkey_equal(&k, &t));
	ck_assert_str_eq(reqkey_str(&t, (char[REQKEY_STR_LEN]){0}), buf);
	ck_assert_ptr_ne(reqkey_str(&t, (char[REQKEY_STR_LEN]){0}), buf); /* its own copy */
	reqkey_clear(&k);
	reqkey_clear(&t);
	ck_assert(reqkey_empty(&k));
	ck_assert(reqkey_empty(&t));
	/* A long client id (128 characters, the contract's most). */
	{
		char id[129];

		memset(id, 'a', 128);
		id[128] = '\0';
		ck_assert_int_eq(reqkey_set(&t, id), 0);
		ck_assert_str_eq(reqkey_str(&t, buf), id);
		reqkey_clear(&t);
	}
}
END_TEST

START_TEST(test_idset_add_has_remove)
{
	char id[64];
	struct idset set;

	idset_init(&set);
	ck_assert(!idset_has(&set, "job-1"));
	ck_assert(!idset_remove(&set, "job-1"));
	for (int i = 0; i < IS_COUNT; i++) {
		is_id(i, id);
		ck_assert_int_eq(idset_add(&set, id), 0);
	}
	ck_assert_uint_eq(set.count, IS_COUNT);
	ck_assert_uint_ge(set.size * 3, IS_COUNT * 4);
	ck_assert_int_eq(idset_add(&set, "job-1"), -EEXIST);
	ck_assert_int_eq(idset_add(&set, "0190f3a2-7b1c-7def-8abc-000000000000"), -EEXIST);
	ck_assert_uint_eq(set.count, IS_COUNT);
	for (int i = 0; i < IS_COUNT; i++) {
		is_id(i, id);
		ck_assert_msg(idset_has(&set, id), "lost %s", id);
	}
	ck_assert(!idset_has(&set, "job-nope"));
	ck_assert(!idset_has(&set, "0190f3a2-7b1c-7def-8abc-ffffffffffff"));
	/* Every third out: the rest are still found past the holes the back-shifts closed. */
	for (int i = 0; i < IS_COUNT; i += 3) {
		is_id(i, id);
		ck_assert(idset_remove(&set, id));
		ck_assert(!idset_remove(&set, id));
	}
	for (int i = 0; i < IS_COUNT; i++) {
		is_id(i, id);
		ck_assert_int_eq(idset_has(&set, id), i % 3 != 0);
	}
	ck_assert_uint_eq(set.count, IS_COUNT - (IS_COUNT + 2) / 3);
	idset_clear(&set); /* frees the text keys' copies: ASan tells */
	ck_assert(!idset_has(&set, "job-1"));
	ck_assert_uint_eq(set.count, 0);
}
END_TEST

/* Fills to exactly 3/4 without growing; one more doubles the array. */
START_TEST(test_idset_load_boundary)
{
	char id[64];
	struct idset set;
	size_t size;
	int i;

	idset_init(&set);
	is_id(0, id);
	ck_assert_int_eq(idset_add(&set, id), 0);
	size = set.size;
	ck_assert_uint_ge(size, 4);
	for (i = 1; (size_t)i < size * 3 / 4; i++) {
		is_id(i, id);
		ck_assert_int_eq(idset_add(&set, id), 0);
	}
	ck_assert_uint_eq(set.size, size);
	ck_assert_uint_eq(set.count, size * 3 / 4);
	is_id(i, id);
	ck_assert_int_eq(idset_add(&set, id), 0);
	ck_assert_uint_eq(set.size, size * 2);
	for (int j = 0; j <= i; j++) {
		is_id(j, id);
		ck_assert_msg(idset_has(&set, id), "lost %s after growing", id);
	}
	idset_clear(&set);
}
END_TEST

/*
 * A run of keys that share one home, taken out from the front, the middle
 * and the end: those behind each hole move back and stay found, also
 * across the end of the array.
 */
START_TEST(test_idset_back_shift)
{
	enum { RUN = 12 };
	char ids[RUN][64], id[64];
	struct idset set;
	int found = 0;

	idset_init(&set);
	ck_assert_int_eq(idset_add(&set, "job-seed"), 0); /* the array's size is known from here */
	/* Keys whose home is the last slot (a run that wraps) or the one before. */
	for (int i = 0; found < RUN && i < 1000000; i++) {
		struct reqkey p;
		size_t home;

		is_id(i, id);
		p = reqkey_probe(id);
		home = (size_t)reqkey_hash(&p) & (set.size - 1);
		if (home < set.size - 2 || strcmp(id, "job-seed") == 0)
			continue;
		memcpy(ids[found++], id, sizeof(id));
	}
	ck_assert_int_eq(found, RUN);
	ck_assert_uint_le(RUN + 1, set.size * 3 / 4); /* no growth in between */
	for (int i = 0; i < RUN; i++)
		ck_assert_int_eq(idset_add(&set, ids[i]), 0);
	for (int gone = 0; gone < RUN; gone += 5) {
		ck_assert(idset_remove(&set, ids[gone]));
		for (int i = 0; i < RUN; i++)
			ck_assert_int_eq(idset_has(&set, ids[i]), i % 5 != 0 || i > gone);
	}
	ck_assert(idset_has(&set, "job-seed"));
	idset_clear(&set);
}
END_TEST

static Suite *idset_suite(void)
{
	Suite *s = suite_create("idset");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_reqkey_forms);
	tcase_add_test(tc, test_idset_add_has_remove);
	tcase_add_test(tc, test_idset_load_boundary);
	tcase_add_test(tc, test_idset_back_shift);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(idset_suite());
}
