/*
 * What a coordctl start costs (issue 13, bench section 5: one coordctl per
 * task): coordctl maps no libcoord.so and no libevent (the web view is
 * coordctl-web, which "coordctl web" execs with the options in force), and
 * a coordctl without its helper says so.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkrun.h"
#include "testd.h"

/* Runs coordctl (argv[0] replaced by path) with args; output in *run. */
static void startup_run(struct testd_run *run, const char *path, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)path;
	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	ck_assert_int_eq(testd_run(argv, NULL, run), 0);
}

/* readelf -d of path: the shared objects it needs as "[name]" (none when static). */
static char *startup_needed(const char *path)
{
	char *argv[] = {"/usr/bin/readelf", "-d", (char *)path, NULL};
	struct testd_run run;
	char *needed;

	if (access(argv[0], X_OK) != 0)
		return NULL;
	ck_assert_int_eq(testd_run(argv, NULL, &run), 0);
	ck_assert_int_eq(run.status, 0);
	needed = strdup(run.out);
	testd_run_free(&run);
	return needed;
}

START_TEST(test_coordctl_maps_no_libcoord_nor_libevent)
{
	char *needed = startup_needed(getenv("COORDCTL"));

	if (!needed)
		return; /* no readelf here: nothing to look at */
	ck_assert_msg(strstr(needed, "[libevent") == NULL, "coordctl links libevent:\n%s", needed);
	ck_assert_msg(strstr(needed, "[libcoord") == NULL, "coordctl links libcoord.so:\n%s",
		      needed);
	free(needed);
}
END_TEST

START_TEST(test_web_gets_the_options_in_force)
{
	const char *json_usage[] = {"--json", "web", "--listen", "10.0.0.1:0", NULL};
	const char *help[] = {"web", "--help", NULL};
	struct testd_run run;

	/* --json before the command reaches coordctl-web: its refusal is JSON. */
	startup_run(&run, getenv("COORDCTL"), json_usage);
	ck_assert_int_eq(run.status, 2);
	ck_assert_msg(strstr(run.err, "{\"error\":{\"kind\":\"usage\"") == run.err, "%s", run.err);
	ck_assert_msg(strstr(run.err, "not a loopback address") != NULL, "%s", run.err);
	testd_run_free(&run);
	startup_run(&run, getenv("COORDCTL"), help);
	ck_assert_int_eq(run.status, 0);
	ck_assert_msg(strstr(run.out, "usage: coordctl web ") == run.out, "%s", run.out);
	testd_run_free(&run);
}
END_TEST

START_TEST(test_web_without_its_helper)
{
	const char *args[] = {"--json", "web", NULL};
	char dir[] = "/tmp/coordctl-startup.XXXXXX", copy[64], installed[512];
	char *cp[] = {"/bin/cp", (char *)getenv("COORDCTL"), copy, NULL};
	struct testd_run run;

	snprintf(installed, sizeof(installed), "%s/coordctl-web", getenv("COORD_LIBEXECDIR"));
	if (access(installed, X_OK) == 0)
		return; /* installed on this machine: a copy would run that one */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/coordctl", dir);
	ck_assert_int_eq(testd_run(cp, NULL, &run), 0);
	ck_assert_int_eq(run.status, 0);
	testd_run_free(&run);
	startup_run(&run, copy, args);
	ck_assert_int_eq(run.status, 69);
	ck_assert_msg(strstr(run.err, "\"kind\":\"helper\"") != NULL, "%s", run.err);
	ck_assert_msg(strstr(run.err, installed) != NULL, "%s", run.err);
	testd_run_free(&run);
	unlink(copy);
	rmdir(dir);
}
END_TEST

static Suite *startup_suite(void)
{
	Suite *s = suite_create("coordctl-startup");
	TCase *tc = tcase_create("startup");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_coordctl_maps_no_libcoord_nor_libevent);
	tcase_add_test(tc, test_web_gets_the_options_in_force);
	tcase_add_test(tc, test_web_without_its_helper);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkrun(startup_suite());
}
