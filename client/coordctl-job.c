/* coordctl job: shows one job with its final message's captured output; frees its reply. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordctl.h"
#include "jsonutil.h"

static void job_field(const char *key, const char *value)
{
	printf("%-15s %s\n", key, value ? value : "-");
}

static void job_time(const char *key, json_object *job, double now)
{
	char when[64], ago[32];
	double t;
	time_t secs;
	struct tm tm;

	if (coordctl_format_number(job, key, &t) < 0) {
		job_field(key, NULL);
		return;
	}
	secs = (time_t)t;
	if (!localtime_r(&secs, &tm) || strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "%.6f", t);
	coordctl_format_ago(ago, sizeof(ago), t, now);
	printf("%-15s %s (%s)\n", key, when, ago);
}

static void job_output(json_object *message, const char *key)
{
	json_object *result = NULL, *v;
	char trunc[32];

	if (!json_object_object_get_ex(message, "result", &result) || !result ||
	    !json_object_object_get_ex(result, key, &v) || json_object_get_string_len(v) == 0)
		return;
	snprintf(trunc, sizeof(trunc), "%s_truncated", key);
	printf("--- %s%s ---\n", key,
	       json_object_object_get_ex(result, trunc, &v) && json_object_get_boolean(v)
		       ? " (truncated)"
		       : "");
	json_object_object_get_ex(result, key, &v);
	fwrite(json_object_get_string(v), 1, (size_t)json_object_get_string_len(v), stdout);
	if (json_object_get_string(v)[json_object_get_string_len(v) - 1] != '\n')
		putchar('\n');
}

/* What the stored Task says: command, cwd, the names (never the values) of its env. */
static void job_task(json_object *job)
{
	json_object *task = NULL, *node = NULL, *v;
	char *words;

	if (!json_object_object_get_ex(job, "task", &task) || !task ||
	    !json_object_object_get_ex(task, "node", &node)) {
		job_field("command", "- (shown to the job's owner and root only)");
		return;
	}
	words = json_object_object_get_ex(node, "argv", &v) ? coordctl_format_shell_words(v) : NULL;
	job_field("command", words);
	free(words);
	job_field("cwd", json_get_string(node, "cwd"));
	if (json_object_object_get_ex(node, "env", &v) && v && json_object_object_length(v) > 0) {
		const char *sep = "";

		printf("%-15s ", "env");
		json_object_object_foreach (v, key, val) {
			(void)val;
			printf("%s%s", sep, key);
			sep = " ";
		}
		putchar('\n');
	}
}

/* Run time and wait time, from run_start_time. */
static void job_durations(json_object *job, double now)
{
	double run, waited;
	char buf[64];

	if (coordctl_format_times(job, now, &run, &waited) < 0)
		return;
	if (run >= 0)
		coordctl_format_duration(buf, sizeof(buf), run);
	else
		snprintf(buf, sizeof(buf), "- (not started)");
	job_field("run time", buf);
	coordctl_format_duration(buf, sizeof(buf), waited);
	job_field("waited", buf);
}

static void job_print(struct coordctl *ctl, json_object *result)
{
	json_object *job = NULL, *message = NULL, *error = NULL;
	double now = time_now(), code;
	char buf[64];

	json_object_object_get_ex(result, "job", &job);
	json_object_object_get_ex(result, "message", &message);
	job_field("request_id", json_get_string(job, "request_id"));
	job_field("name", json_get_string(job, "name"));
	job_field("mode", json_get_string(job, "mode"));
	job_field("run_id", json_get_string(job, "run_id"));
	job_field("parent_node_id", json_get_string(job, "parent_node_id"));
	job_field("child_node_id", json_get_string(job, "child_node_id"));
	if (json_get_string(job, "rerun_of"))
		job_field("rerun_of", json_get_string(job, "rerun_of"));
	job_task(job);
	job_field("status", coordctl_format_state(job));
	job_field("result", coordctl_format_result(job, buf, sizeof(buf)));
	job_time("start_time", job, now);
	job_time("run_start_time", job, now);
	job_time("end_time", job, now);
	job_durations(job, now);
	if (coordctl_format_number(job, "exit_code", &code) == 0) {
		snprintf(buf, sizeof(buf), "%.0f", code);
		job_field("exit_code", buf);
	}
	if (json_object_object_get_ex(job, "error", &error) && error)
		printf("%-15s %s: %s\n", "error", json_get_string(error, "kind") ?: "?",
		       json_get_string(error, "message") ?: "");
	job_output(message, "stdout");
	job_output(message, "stderr");
	(void)ctl;
}

static int job_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc, char **argv)
{
	static const struct option opts[] = {COORDCTL_COMMON_OPTIONS};
	json_object *result = NULL;
	struct coord_error err;
	int c, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		r = coordctl_option(ctl, entry, c);
	if (r != COORDCTL_CONTINUE)
		return r;
	if (argc - optind != 1)
		return coordctl_usage_error(entry, "give exactly one request ID");
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	if (coord_job(ctl->conn, argv[optind], &result, &err) < 0)
		return coordctl_rpc_fail("job", &err);
	if (ctl->json)
		coordctl_format_json(ctl, result);
	else
		job_print(ctl, result);
	json_object_put(result);
	return 0;
}

const struct coordctl_entry coordctl_job_entry = {
	.name = "job",
	.usage = "ID",
	.summary = "Show everything about one job, with the output its task captured.",
	.exec = job_exec,
};
