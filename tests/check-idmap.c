/* Check suite for the id index: insert, find, remove (with back-shifts), growth, foreach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "checkrun.h"
#include "idmap.h"
#include "reqkey.h"

#define IM_COUNT 5000

struct im_rec {
	char id[16];
	int visits;
};

static const char *im_id(const void *record)
{
	return ((const struct im_rec *)record)->id;
}

static struct im_rec *im_recs(void)
{
	struct im_rec *recs = calloc(IM_COUNT, sizeof(*recs));

	ck_assert_ptr_nonnull(recs);
	for (int i = 0; i < IM_COUNT; i++)
		snprintf(recs[i].id, sizeof(recs[i].id), "r%d", i);
	return recs;
}

START_TEST(test_idmap_insert_find_remove)
{
	struct im_rec *recs = im_recs();
	struct idmap m;

	idmap_init(&m, im_id);
	ck_assert_ptr_null(idmap_find(&m, "r0"));
	idmap_remove(&m, &recs[0]); /* not in: nothing */
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_int_eq(idmap_insert(&m, &recs[i]), 0);
	ck_assert_uint_eq(m.count, IM_COUNT);
	ck_assert_uint_ge(m.size, 2 * IM_COUNT);
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_ptr_eq(idmap_find(&m, recs[i].id), &recs[i]);
	ck_assert_ptr_null(idmap_find(&m, "nope"));
	/* Every other one out: the rest are still found past the holes. */
	for (int i = 0; i < IM_COUNT; i += 2)
		idmap_remove(&m, &recs[i]);
	ck_assert_uint_eq(m.count, IM_COUNT / 2);
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_ptr_eq(idmap_find(&m, recs[i].id), i % 2 ? &recs[i] : NULL);
	/* A record with the same id that is not the one in the map is not removed. */
	{
		struct im_rec twin = {.id = "r1"};

		idmap_remove(&m, &twin);
		ck_assert_ptr_eq(idmap_find(&m, "r1"), &recs[1]);
	}
	idmap_clear(&m);
	ck_assert_ptr_null(idmap_find(&m, "r1"));
	free(recs);
}
END_TEST

static void im_visit_remove_cb(void *record, void *ctx)
{
	struct im_rec *rec = record;

	rec->visits++;
	if (atoi(rec->id + 1) % 3 != 0)
		idmap_remove(ctx, rec);
}

START_TEST(test_idmap_foreach_removing)
{
	struct im_rec *recs = im_recs();
	struct idmap m;

	idmap_init(&m, im_id);
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_int_eq(idmap_insert(&m, &recs[i]), 0);
	/* Each seen exactly once even while the ones seen are taken out. */
	idmap_foreach(&m, im_visit_remove_cb, &m);
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_int_eq(recs[i].visits, 1);
	ck_assert_uint_eq(m.count, (IM_COUNT + 2) / 3);
	for (int i = 0; i < IM_COUNT; i++)
		ck_assert_ptr_eq(idmap_find(&m, recs[i].id), i % 3 ? NULL : &recs[i]);
	idmap_clear(&m);
	free(recs);
}
END_TEST

struct im_keyed {
	struct reqkey key;
};

static const struct reqkey *im_key(const void *record)
{
	return &((const struct im_keyed *)record)->key;
}

/* Records keyed by a reqkey: UUIDs (binary) and other ids (text) found by their text. */
START_TEST(test_idmap_keyed)
{
	struct im_keyed *recs = calloc(IM_COUNT, sizeof(*recs));
	char id[64];
	struct idmap m;

	ck_assert_ptr_nonnull(recs);
	idmap_init_keyed(&m, im_key);
	ck_assert_ptr_null(idmap_find(&m, "r0"));
	for (int i = 0; i < IM_COUNT; i++) {
		if (i % 2)
			snprintf(id, sizeof(id), "r%d", i);
		else
			snprintf(id, sizeof(id), "0190f3a2-7b1c-7def-8abc-%012x", (unsigned)i);
		ck_assert_int_eq(reqkey_set(&recs[i].key, id), 0);
		ck_assert_int_eq(idmap_insert(&m, &recs[i]), 0);
	}
	for (int i = 0; i < IM_COUNT; i++) {
		char buf[REQKEY_STR_LEN];

		ck_assert_ptr_eq(idmap_find(&m, reqkey_str(&recs[i].key, buf)), &recs[i]);
	}
	ck_assert_ptr_null(idmap_find(&m, "0190F3A2-7B1C-7DEF-8ABC-000000000000"));
	ck_assert_ptr_null(idmap_find(&m, "r0"));
	for (int i = 0; i < IM_COUNT; i += 2)
		idmap_remove(&m, &recs[i]);
	ck_assert_uint_eq(m.count, IM_COUNT / 2);
	for (int i = 0; i < IM_COUNT; i++) {
		char buf[REQKEY_STR_LEN];

		ck_assert_ptr_eq(idmap_find(&m, reqkey_str(&recs[i].key, buf)),
				 i % 2 ? &recs[i] : NULL);
	}
	idmap_clear(&m);
	for (int i = 0; i < IM_COUNT; i++)
		reqkey_clear(&recs[i].key);
	free(recs);
}
END_TEST

static Suite *idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_idmap_insert_find_remove);
	tcase_add_test(tc, test_idmap_foreach_removing);
	tcase_add_test(tc, test_idmap_keyed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(idmap_suite());
}
