/*
 * The settings of the request and notification path (issue 13, speed):
 * notifications to one connection are gathered for 20 ms by default, and
 * a configuration file still sets any window, 0 included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <check.h>

#include "config.h"
#include "testutil.h"

/* Loads text as a configuration file over the defaults; fails the test on an error. */
static void rpcpath_load(struct config *cfg, const char *text)
{
	char path[] = "/tmp/check-rpcpath.XXXXXX";
	int fd = mkstemp(path);
	char *error = NULL;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(config_init(cfg), 0);
	ck_assert_msg(config_load(cfg, path, &error) == 0, "%s", error ? error : "");
	unlink(path);
}

START_TEST(test_coalesce_default)
{
	struct config cfg;

	ck_assert_int_eq(config_init(&cfg), 0);
	ck_assert_uint_eq(cfg.notify_coalesce_ms, 20);
	config_clear(&cfg);
}
END_TEST

START_TEST(test_coalesce_set)
{
	struct config cfg;

	rpcpath_load(&cfg, "[daemon]\nnotify_coalesce_ms = 5\n");
	ck_assert_uint_eq(cfg.notify_coalesce_ms, 5);
	config_clear(&cfg);
	rpcpath_load(&cfg, "[daemon]\nnotify_coalesce_ms = 0\n");
	ck_assert_uint_eq(cfg.notify_coalesce_ms, 0);
	config_clear(&cfg);
}
END_TEST

static Suite *rpcpath_suite(void)
{
	Suite *s = suite_create("rpcpath");
	TCase *tc = tcase_create("rpcpath");

	tcase_add_test(tc, test_coalesce_default);
	tcase_add_test(tc, test_coalesce_set);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(rpcpath_suite());
}
