/* Helpers shared by the Check suites; see testutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "checkrun.h"
#include "coordinator.h"
#include "history.h"
#include "jsonout.h"
#include "procstat.h"
#include "publisher.h"
#include "state.h"
#include "strategy_kind.h"
#include "task.h"
#include "testutil.h"

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	ck_assert_int_ge(asprintf(&dir, "%s/coord-test-XXXXXX", tmp && *tmp ? tmp : "/tmp"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static int tu_rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void tu_rmtree(const char *path)
{
	if (path)
		nftw(path, tu_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

bool tu_under_valgrind(void)
{
	const char *v = getenv("COORD_UNDER_VALGRIND");

	return v && *v && strcmp(v, "0") != 0;
}

double tu_scale(double seconds)
{
	return tu_under_valgrind() ? seconds * 10 : seconds;
}

static double tu_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tu_tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

bool tu_run_until(struct event_base *base, bool (*cond)(void *data), void *data, double timeout_s)
{
	double deadline = tu_monotonic() + tu_scale(timeout_s);
	struct event *tick = evtimer_new(base, tu_tick_cb, NULL);
	bool ok;

	ck_assert_ptr_nonnull(tick);
	while (!(ok = cond(data)) && tu_monotonic() < deadline) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};

		evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(tick);
	return ok;
}

void tu_collect_cb(struct message *msg, void *collector)
{
	struct tu_collector *c = collector;

	if (c->count == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->msgs = realloc(c->msgs, c->cap * sizeof(*c->msgs));
		ck_assert_ptr_nonnull(c->msgs);
	}
	c->msgs[c->count++] = message_ref(msg);
}

void tu_collector_clear(struct tu_collector *c)
{
	for (size_t i = 0; i < c->count; i++)
		message_unref(c->msgs[i]);
	free(c->msgs);
	memset(c, 0, sizeof(*c));
}

static bool tu_message_matches(const struct message *msg, enum message_type type,
			       const char *request_id)
{
	return msg->type == type &&
	       (!request_id || (msg->request_id && strcmp(msg->request_id, request_id) == 0));
}

struct message *tu_collector_find(const struct tu_collector *c, enum message_type type,
				  const char *request_id)
{
	for (size_t i = 0; i < c->count; i++)
		if (tu_message_matches(c->msgs[i], type, request_id))
			return c->msgs[i];
	return NULL;
}

size_t tu_collector_count(const struct tu_collector *c, enum message_type type,
			  const char *request_id)
{
	size_t n = 0;

	for (size_t i = 0; i < c->count; i++)
		if (tu_message_matches(c->msgs[i], type, request_id))
			n++;
	return n;
}

struct task *tu_task(const char *json)
{
	json_object *params = json_tokener_parse(json);
	struct task *task = NULL;
	char *error = NULL;
	int r;

	ck_assert_msg(params != NULL, "bad test JSON: %s", json);
	r = task_from_json(params, NULL, &task, &error);
	ck_assert_msg(r == 0, "task_from_json(%s): %s", json, error ? error : strerror(-r));
	json_object_put(params);
	return task;
}

/* Parses text the daemon wrote, which must be one JSON object. */
static json_object *tu_parse_written(const char *text, size_t len, const char *what)
{
	json_object *o;

	ck_assert_msg(text != NULL, "%s: no text", what);
	ck_assert_uint_eq(strlen(text), len);
	o = json_tokener_parse(text);
	ck_assert_msg(json_object_is_type(o, json_type_object), "%s is no JSON object: %s", what,
		      text);
	return o;
}

json_object *tu_job_json(const struct job *job, uid_t viewer)
{
	struct jsonout out;
	json_object *o;
	size_t len;
	char *text;

	jsonout_init(&out);
	job_write_members(job, viewer, &out);
	jsonout_lit(&out, "}");
	len = out.len;
	text = jsonout_take(&out);
	o = tu_parse_written(text, len, "a Job");
	free(text);
	return o;
}

json_object *tu_message_json(struct message *msg)
{
	size_t len = 0;
	const char *text = message_wire(msg, &len);

	return tu_parse_written(text, len, "a Message");
}

bool tu_pid_gone(pid_t pid)
{
	struct procstat st;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	return procstat_read(pid, &st) < 0 || st.state == 'Z' || st.state == 'X';
}

bool tu_wait_pid_gone(pid_t pid, double timeout_s)
{
	double deadline = tu_monotonic() + tu_scale(timeout_s);

	while (!tu_pid_gone(pid)) {
		if (tu_monotonic() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

char *tu_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 65536);
	n = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static int tu_store_cb(struct message *msg, void *history)
{
	return history_insert_message(history, msg);
}

void tu_env_setup(struct tu_env *env)
{
	uint64_t last_seq;
	char *error = NULL;
	int r;

	memset(env, 0, sizeof(*env));
	env->dir = tu_mkdtemp();
	ck_assert_int_ge(asprintf(&env->db_path, "%s/history.db", env->dir), 0);
	env->base = event_base_new();
	ck_assert_ptr_nonnull(env->base);
	r = history_open(env->db_path, env->base, HISTORY_DURABILITY_NORMAL, &env->history, &error);
	ck_assert_msg(r == 0, "history_open: %s", error ? error : strerror(-r));
	env->state = state_new(env->history);
	ck_assert_ptr_nonnull(env->state);
	ck_assert_int_eq(state_load(env->state), 0);
	ck_assert_int_eq(history_last_seq(env->history, &last_seq), 0);
	env->pub = publisher_new(env->base, last_seq + 1);
	ck_assert_ptr_nonnull(env->pub);
	publisher_set_store(env->pub, tu_store_cb, env->history);
	ck_assert_int_eq(publisher_subscribe(env->pub, tu_collect_cb, &env->msgs, "test", NULL), 0);
}

void tu_env_teardown(struct tu_env *env)
{
	publisher_free(env->pub);
	state_free(env->state);
	history_close(env->history);
	if (env->base)
		event_base_free(env->base);
	tu_collector_clear(&env->msgs);
	tu_rmtree(env->dir);
	free(env->dir);
	free(env->db_path);
	memset(env, 0, sizeof(*env));
}

struct tu_wait_message {
	struct tu_env *env;
	enum message_type type;
	const char *request_id;
};

static bool tu_has_message(void *data)
{
	struct tu_wait_message *w = data;

	return tu_collector_find(&w->env->msgs, w->type, w->request_id) != NULL;
}

struct message *tu_env_wait_message(struct tu_env *env, enum message_type type,
				    const char *request_id, double timeout_s)
{
	struct tu_wait_message w = {.env = env, .type = type, .request_id = request_id};

	tu_run_until(env->base, tu_has_message, &w, timeout_s);
	return tu_collector_find(&env->msgs, type, request_id);
}

int tu_run_suite(Suite *suite)
{
	return checkrun(suite);
}

struct coordinator *tu_coordinator_new(struct tu_env *env, const struct strategy_config *config,
				       struct strategy **ret_strategy)
{
	struct coordinator *coord;
	char *error = NULL;
	int r = strategy_kind_new(env->base, env->pub, config, ret_strategy, &error);

	ck_assert_msg(r == 0, "strategy_new: %s", error ? error : strerror(-r));
	coord = coordinator_new(env->base, env->state, 0);
	ck_assert_ptr_nonnull(coord);
	ck_assert_int_eq(coordinator_add_mode(coord, *ret_strategy), 0);
	return coord;
}
