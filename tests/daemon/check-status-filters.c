/*
 * status by name, by request_id prefix (how a client resolves a short
 * id) and by start_time, over the real socket; counts honour them too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "harness.h"

#define SF_CONFIG                                                                                  \
	HARNESS_CONFIG_DAEMON                                                                      \
	"[mode:async]\n"                                                                           \
	"max_concurrency = 2\n"

static struct harness_fixture fx;

static void sf_setup(void)
{
	harness_fixture_start(&fx, SF_CONFIG);
}

static void sf_teardown(void)
{
	harness_fixture_stop(&fx);
}

/* One job at a time, each closed before the next: start_times strictly grow. */
static void sf_fixture(void)
{
	static const char *const subs[][3] = {
		{"build.a_1", "compile", "true"},
		{"build.ab2", "compile", "false"},
		{"buildx", "link", "true"},
		{"deploy-1", "deploy", "true"},
	};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"%s\",\"wait\":true,\"node\":{\"name\":"
				    "\"%s\",\"argv\":[\"%s\"]}}",
				    subs[i][0], subs[i][1], subs[i][2]);
}

/* Asserts status(params) has these counts and exactly these request_ids, newest first. */
static void sf_check(const char *params, long long closed, long long success, long long failure,
		     const char *ids)
{
	json_object *r = harness_ok(fx.client, "status", harness_json("%s", params));
	json_object *jobs = harness_get(r, "jobs");
	char got[512] = "";

	ck_assert_msg(
		harness_int(r, "counts.opened") == 0 && harness_int(r, "counts.closed") == closed &&
			harness_int(r, "counts.success") == success &&
			harness_int(r, "counts.failure") == failure,
		"%s: counts %s", params, json_object_to_json_string(harness_get(r, "counts")));
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		if (i)
			strcat(got, " ");
		strcat(got, harness_str(json_object_array_get_idx(jobs, i), "request_id"));
	}
	ck_assert_msg(strcmp(got, ids) == 0, "%s: jobs \"%s\", expected \"%s\"", params, got, ids);
	json_object_put(r);
}

/* The start_time of a job as JSON text, exactly as the daemon gave it. */
static char *sf_start_time(const char *request_id)
{
	json_object *r =
		harness_ok(fx.client, "job", harness_json("{\"request_id\":\"%s\"}", request_id));
	char *text = strdup(json_object_to_json_string(harness_get(r, "job.start_time")));

	json_object_put(r);
	return text;
}

START_TEST(test_status_by_name)
{
	sf_fixture();
	sf_check("{\"name\":\"compile\"}", 2, 1, 1, "build.ab2 build.a_1");
	sf_check("{\"name\":\"link\"}", 1, 1, 0, "buildx");
	/* Exact, not a prefix nor a pattern. */
	sf_check("{\"name\":\"comp\"}", 0, 0, 0, "");
	sf_check("{\"name\":\"compil_\"}", 0, 0, 0, "");
	/* With the other filters: counts follow name, the list also status and result. */
	sf_check("{\"name\":\"compile\",\"result\":\"failure\"}", 2, 1, 1, "build.ab2");
	sf_check("{\"name\":\"compile\",\"mode\":\"async\"}", 2, 1, 1, "build.ab2 build.a_1");
	ck_assert_int_eq(harness_err(fx.client, "status", harness_json("{\"name\":7}"), NULL),
			 -32602);
}
END_TEST

START_TEST(test_status_by_prefix)
{
	char *msg = NULL;

	sf_fixture();
	sf_check("{\"request_id_prefix\":\"build\"}", 3, 2, 1, "buildx build.ab2 build.a_1");
	sf_check("{\"request_id_prefix\":\"build.\"}", 2, 1, 1, "build.ab2 build.a_1");
	/* _ is a character like any other, not LIKE's wildcard. */
	sf_check("{\"request_id_prefix\":\"build.a_\"}", 1, 1, 0, "build.a_1");
	/* The whole id is a prefix of itself; case matters. */
	sf_check("{\"request_id_prefix\":\"deploy-1\"}", 1, 1, 0, "deploy-1");
	sf_check("{\"request_id_prefix\":\"Build\"}", 0, 0, 0, "");
	sf_check("{\"request_id_prefix\":\"deploy-10\"}", 0, 0, 0, "");
	/* Nothing that could not start a request_id: no pattern characters, no empty prefix. */
	ck_assert_int_eq(harness_err(fx.client, "status",
				     harness_json("{\"request_id_prefix\":\"b%%\"}"), &msg),
			 -32602);
	ck_assert_msg(strstr(msg, "request_id_prefix") != NULL, "%s", msg);
	free(msg);
	ck_assert_int_eq(harness_err(fx.client, "status",
				     harness_json("{\"request_id_prefix\":\"\"}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "status",
				     harness_json("{\"request_id_prefix\":\"a b\"}"), NULL),
			 -32602);
}
END_TEST

/* Generated ids (UUID v7) resolved by a prefix, as a client does with a short id. */
START_TEST(test_status_prefix_of_generated_ids)
{
	json_object *a = harness_submit(fx.client, NULL, (const char *const[]){"true", NULL});
	json_object *b = harness_submit(fx.client, NULL, (const char *const[]){"true", NULL});
	char pa[64], pb[64], params[128];
	json_object *r;

	/* Made one after the other, in the same second: they share their time digits. */
	snprintf(pa, sizeof(pa), "%.30s", harness_str(a, "request_id"));
	snprintf(pb, sizeof(pb), "%.30s", harness_str(b, "request_id"));
	ck_assert_str_ne(pa, pb);
	ck_assert_int_lt(strcmp(harness_str(a, "request_id"), harness_str(b, "request_id")), 0);
	snprintf(params, sizeof(params), "{\"request_id_prefix\":\"%s\"}", pa);
	r = harness_ok(fx.client, "status", harness_json("%s", params));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 1);
	ck_assert_str_eq(harness_str(r, "jobs.0.request_id"), harness_str(a, "request_id"));
	json_object_put(r);
	/* A prefix both share finds both: the client calls that ambiguous. */
	snprintf(params, sizeof(params), "{\"request_id_prefix\":\"%.6s\"}",
		 harness_str(a, "request_id"));
	r = harness_ok(fx.client, "status", harness_json("%s", params));
	ck_assert_int_eq(json_object_array_length(harness_get(r, "jobs")), 2);
	json_object_put(r);
	json_object_put(harness_wait_job(fx.client, harness_str(a, "request_id")));
	json_object_put(harness_wait_job(fx.client, harness_str(b, "request_id")));
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(test_status_by_time)
{
	char *t1, *t3, params[256];

	sf_fixture();
	t1 = sf_start_time("build.ab2");
	t3 = sf_start_time("deploy-1");
	/* Both ends inclusive. */
	snprintf(params, sizeof(params), "{\"since\":%s}", t1);
	sf_check(params, 3, 2, 1, "deploy-1 buildx build.ab2");
	snprintf(params, sizeof(params), "{\"until\":%s}", t1);
	sf_check(params, 2, 1, 1, "build.ab2 build.a_1");
	snprintf(params, sizeof(params), "{\"since\":%s,\"until\":%s}", t1, t1);
	sf_check(params, 1, 0, 1, "build.ab2");
	snprintf(params, sizeof(params), "{\"since\":%s,\"until\":%s}", t1, t3);
	sf_check(params, 3, 2, 1, "deploy-1 buildx build.ab2");
	snprintf(params, sizeof(params), "{\"since\":%s,\"until\":%s}", t3, t1);
	sf_check(params, 0, 0, 0, "");
	/* With a name and a prefix. */
	snprintf(params, sizeof(params),
		 "{\"since\":%s,\"name\":\"compile\",\"request_id_prefix\":\"build\"}", t1);
	sf_check(params, 1, 0, 1, "build.ab2");
	/* Whole seconds are fine; far ahead there is nothing. */
	sf_check("{\"since\":0}", 4, 3, 1, "deploy-1 buildx build.ab2 build.a_1");
	sf_check("{\"since\":99999999999}", 0, 0, 0, "");
	ck_assert_int_eq(harness_err(fx.client, "status", harness_json("{\"since\":\"1h\"}"), NULL),
			 -32602);
	ck_assert_int_eq(harness_err(fx.client, "status", harness_json("{\"until\":true}"), NULL),
			 -32602);
	free(t1);
	free(t3);
}
END_TEST

/* Pages through status(filter) 5 at a time: want jobs in all, each once, newest first. */
static void sf_pages(const char *filter, int want)
{
	char params[256], cursor[32] = "", last[32] = "";
	int seen = 0;
	json_object *r;

	do {
		json_object *jobs;

		snprintf(params, sizeof(params), "{%s,\"limit\":5%s%s%s}", filter,
			 cursor[0] ? ",\"cursor\":\"" : "", cursor, cursor[0] ? "\"" : "");
		r = harness_ok(fx.client, "status", harness_json("%s", params));
		ck_assert_int_eq(harness_int(r, "counts.closed"), want);
		jobs = harness_get(r, "jobs");
		for (size_t i = 0; i < json_object_array_length(jobs); i++) {
			const char *id =
				harness_str(json_object_array_get_idx(jobs, i), "request_id");

			/* pg-NN: newest first is descending, across pages too. */
			ck_assert_msg(!last[0] || strcmp(id, last) < 0, "%s: %s after %s", filter,
				      id, last);
			snprintf(last, sizeof(last), "%s", id);
			seen++;
		}
		cursor[0] = '\0';
		if (!harness_is_null(r, "next"))
			snprintf(cursor, sizeof(cursor), "%s", harness_str(r, "next"));
		json_object_put(r);
	} while (cursor[0]);
	ck_assert_int_eq(seen, want);
}

/* Pages of a filtered status go on where they stopped, the counts staying those of the filter. */
START_TEST(test_status_filtered_pages)
{
	for (int i = 0; i < 25; i++)
		harness_submit_json(fx.client,
				    "{\"request_id\":\"pg-%02d\",\"node\":{\"name\":\"%s\","
				    "\"argv\":[\"true\"]}}",
				    i, i % 2 ? "odd" : "even");
	for (int i = 0; i < 25; i++) {
		char id[16];

		snprintf(id, sizeof(id), "pg-%02d", i);
		json_object_put(harness_wait_job(fx.client, id));
	}
	sf_pages("\"name\":\"odd\",\"request_id_prefix\":\"pg-\"", 12);
	/* A start_time window pages in its own index order: still each job once, newest first. */
	sf_pages("\"since\":0", 25);
	sf_pages("\"since\":0,\"until\":99999999999,\"name\":\"even\"", 13);
}
END_TEST

static Suite *sf_suite(void)
{
	Suite *s = suite_create("daemon-status-filters");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, sf_setup, sf_teardown);
	tcase_add_test(tc, test_status_by_name);
	tcase_add_test(tc, test_status_by_prefix);
	tcase_add_test(tc, test_status_prefix_of_generated_ids);
	tcase_add_test(tc, test_status_by_time);
	tcase_add_test(tc, test_status_filtered_pages);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(sf_suite());
}
