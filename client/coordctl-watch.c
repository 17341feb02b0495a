/* coordctl watch: follows the daemon's messages until SIGINT; owns its subscription params. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

enum {
	WATCH_OPT_SINCE = COORDCTL_OPT_FIRST_OWN,
	WATCH_OPT_TYPE,
	WATCH_OPT_RUN,
	WATCH_OPT_COUNT,
};

/* How often the loop looks at the signal flag. */
#define WATCH_TICK_MS 200
/* Job names remembered; past this the memory starts over. */
#define WATCH_NAMES_MAX 4096

static volatile sig_atomic_t watch_stop;

static void watch_signal_cb(int sig)
{
	(void)sig;
	watch_stop = 1;
}

struct watch {
	struct coordctl *ctl;
	json_object *params;	   /* owned: subscribe's params */
	json_object *subscription; /* owned: the current subscription's id */
	json_object *names;	   /* owned: request_id -> job name, looked up once each */
	long long count;	   /* messages left to print; <0: no limit */
};

/* The name of the job a message is about ("-" when it has none), asked of the daemon once. */
static const char *watch_name(struct watch *w, json_object *msg)
{
	const char *id = json_get_string(msg, "request_id"), *type = json_get_string(msg, "type");
	json_object *params, *result = NULL, *job = NULL, *name;

	if (!id || !type || strcmp(type, "request_creation_failure") == 0)
		return "-";
	if (!w->names || json_object_object_length(w->names) >= WATCH_NAMES_MAX) {
		json_object_put(w->names);
		w->names = json_object_new_object();
		if (!w->names)
			return "-";
	}
	if (json_object_object_get_ex(w->names, id, &name))
		return json_object_get_string(name);
	params = json_object_new_object();
	json_object_object_add(params, "request_id", json_object_new_string(id));
	if (coord_call(w->ctl->conn, "job", params, -1, &result, NULL) == 0 &&
	    json_object_object_get_ex(result, "job", &job))
		json_object_object_add(w->names, id,
				       json_object_new_string(json_get_string(job, "name") ?: "-"));
	json_object_put(result);
	json_object_put(params);
	if (json_object_object_get_ex(w->names, id, &name))
		return json_object_get_string(name);
	return "-";
}

static int watch_subscribe(struct watch *w)
{
	json_object *result = NULL, *sub = NULL;
	struct coord_error err;

	if (coord_subscribe(w->ctl->conn, w->params, &result, &err) < 0)
		return coordctl_rpc_fail(w->ctl, "subscribe", &err);
	json_object_object_get_ex(result, "subscription", &sub);
	json_object_put(w->subscription);
	w->subscription = json_object_get(sub);
	json_object_put(result);
	return 0;
}

static void watch_print_message(struct watch *w, json_object *msg)
{
	json_object *error = NULL, *result = NULL;
	const char *type = json_get_string(msg, "type") ?: "?";
	char clock[32] = "-", sid[COORDCTL_SHORT_ID + 1];
	double seq = 0, t, code;

	if (w->ctl->json) {
		puts(json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		fflush(stdout);
		return;
	}
	coordctl_format_number(msg, "seq", &seq);
	if (coordctl_format_number(msg, "time", &t) == 0)
		coordctl_format_clock(clock, sizeof(clock), t);
	if (strncmp(type, "request_", 8) == 0)
		type += 8;
	printf("%.0f %s %-16s %s (%s) mode=%s", seq, clock, type,
	       coordctl_short_id(w->ctl, json_get_string(msg, "request_id"), sid, sizeof(sid)),
	       watch_name(w, msg), json_get_string(msg, "mode") ?: "-");
	if (json_get_string(msg, "parent_node_id"))
		printf(" parent=%s", json_get_string(msg, "parent_node_id"));
	if (json_object_object_get_ex(msg, "result", &result) &&
	    coordctl_format_number(result, "exit_code", &code) == 0)
		printf(" exit=%.0f", code);
	if (json_object_object_get_ex(msg, "error", &error) && error)
		printf(" %s: %s", json_get_string(error, "kind") ?: "?",
		       json_get_string(error, "message") ?: "");
	putchar('\n');
	fflush(stdout);
}

/* Handles one notification; returns COORDCTL_CONTINUE or an exit code. */
static int watch_handle(struct watch *w, json_object *note)
{
	const char *method = json_get_string(note, "method");
	json_object *params = NULL, *sub = NULL, *msg = NULL;
	const char *reason;
	double resume;
	int r;

	json_object_object_get_ex(note, "params", &params);
	json_object_object_get_ex(params, "subscription", &sub);
	if (!method || !json_object_equal(sub, w->subscription))
		return COORDCTL_CONTINUE; /* an old subscription's leftovers */
	if (strcmp(method, "message") == 0 && json_object_object_get_ex(params, "message", &msg)) {
		watch_print_message(w, msg);
		return --w->count == 0 ? COORDCTL_EXIT_OK : COORDCTL_CONTINUE;
	}
	if (strcmp(method, "subscription_ended") != 0)
		return COORDCTL_CONTINUE;
	reason = json_get_string(params, "reason") ?: "?";
	if (strcmp(reason, "lagged") != 0 ||
	    coordctl_format_number(params, "resume_seq", &resume) < 0) {
		fprintf(stderr, "coordctl: watch: the daemon ended the subscription (%s)\n",
			reason);
		return COORDCTL_EXIT_FAILED;
	}
	/* We fell behind: pick up exactly where the daemon stopped sending. */
	json_object_object_add(w->params, "since_seq", json_object_new_int64((int64_t)resume - 1));
	r = watch_subscribe(w);
	return r == 0 ? COORDCTL_CONTINUE : r;
}

static int watch_loop(struct watch *w)
{
	struct sigaction sa = {.sa_handler = watch_signal_cb};
	struct coord_error err;
	json_object *note;
	int r = COORDCTL_CONTINUE;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = watch_subscribe(w);
	if (r != 0)
		return r;
	r = COORDCTL_CONTINUE;
	while (r == COORDCTL_CONTINUE && !watch_stop) {
		if (coord_notify_next(w->ctl->conn, WATCH_TICK_MS, &note, &err) < 0) {
			if (err.kind != COORD_ERR_TIMEOUT)
				r = coordctl_rpc_fail(w->ctl, "watch", &err);
			continue;
		}
		r = watch_handle(w, note);
		json_object_put(note);
	}
	return r == COORDCTL_CONTINUE ? COORDCTL_EXIT_OK : r;
}

/* The full message type for arg ("success" or "request_success"), or NULL. */
static const char *watch_type(const char *arg)
{
	static const char *const types[] = {
		"request_creation",
		"request_success",
		"request_failure",
		"request_creation_failure",
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(arg, types[i]) == 0 || strcmp(arg, types[i] + 8) == 0)
			return types[i];
	return NULL;
}

static int watch_option(struct watch *w, int c, const char *arg)
{
	json_object *types;
	const char *type;
	char *end;
	long long v;

	switch (c) {
	case WATCH_OPT_SINCE:
	case WATCH_OPT_COUNT:
		errno = 0;
		v = strtoll(arg, &end, 10);
		if (errno || *arg == '\0' || *end || v < 0 || (c == WATCH_OPT_COUNT && v == 0))
			return -1;
		if (c == WATCH_OPT_COUNT)
			w->count = v;
		else
			json_object_object_add(w->params, "since_seq", json_object_new_int64(v));
		return 0;
	case WATCH_OPT_TYPE:
		type = watch_type(arg);
		if (!type)
			return -2;
		if (!json_object_object_get_ex(w->params, "types", &types)) {
			types = json_object_new_array();
			json_object_object_add(w->params, "types", types);
		}
		json_object_array_add(types, json_object_new_string(type));
		return 0;
	case WATCH_OPT_RUN:
		json_object_object_add(w->params, "run_id", json_object_new_string(arg));
		return 0;
	}
	return 1;
}

/* --run takes a job as any command does: a prefix or a name becomes its request_id. */
static int watch_resolve_run(struct watch *w)
{
	json_object *run;
	char *id;
	int r;

	if (!json_object_object_get_ex(w->params, "run_id", &run))
		return 0;
	r = coordctl_resolve(w->ctl, json_object_get_string(run), &id);
	if (r != 0)
		return r;
	json_object_object_add(w->params, "run_id", json_object_new_string(id));
	free(id);
	return 0;
}

static int watch_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, WATCH_OPT_SINCE},
		{"type", required_argument, NULL, WATCH_OPT_TYPE},
		{"run", required_argument, NULL, WATCH_OPT_RUN},
		{"count", required_argument, NULL, WATCH_OPT_COUNT},
		COORDCTL_COMMON_OPTIONS,
	};
	struct watch w = {.ctl = ctl, .count = -1, .params = json_object_new_object()};
	int c, r = COORDCTL_CONTINUE;

	if (!w.params)
		return COORDCTL_EXIT_SOFTWARE;
	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		int o = watch_option(&w, c, optarg);

		if (o == -2)
			r = coordctl_usage_error(ctl,
						 "bad value '%s' for --type (creation, success, "
						 "failure or creation_failure)",
						 optarg);
		else if (o < 0)
			r = coordctl_bad_value(ctl, optarg);
		else if (o > 0)
			r = coordctl_option(ctl, entry, c);
	}
	if (r == COORDCTL_CONTINUE && optind < argc)
		r = coordctl_usage_error(ctl, "unexpected argument '%s'", argv[optind]);
	if (r == COORDCTL_CONTINUE) {
		r = coordctl_rpc_connect(ctl);
		if (r == 0)
			r = watch_resolve_run(&w);
		if (r == 0)
			r = watch_loop(&w);
	}
	json_object_put(w.subscription);
	json_object_put(w.names);
	json_object_put(w.params);
	return r;
}

const struct coordctl_entry coordctl_watch_entry = {
	.name = "watch",
	.usage = "[--since SEQ] [--type T]... [--run ID] [--count N]",
	.summary = "Print the daemon's messages as they are published, until interrupted.",
	.help = "  --since SEQ       first replay the stored messages after SEQ\n"
		"  --type T          only messages of type T (creation, success, failure,\n"
		"                    creation_failure, or the full request_* name); repeatable\n"
		"  --run ID          only messages of run ID\n"
		"  --count N         exit after N messages\n",
	.exec = watch_exec,
};
