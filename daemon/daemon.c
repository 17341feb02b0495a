/*
 * The daemon's life: start-up in dependency order, recovery, signals, the
 * graceful drain and tear-down in reverse order. struct daemon owns every
 * component it points to.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <event2/event.h>

#include "build-config.h"
#include "cause.h"
#include "config.h"
#include "coordinator.h"
#include "daemon.h"
#include "history.h"
#include "jsonutil.h"
#include "log.h"
#include "message.h"
#include "methods.h"
#include "output_store.h"
#include "paths.h"
#include "peer.h"
#include "publisher.h"
#include "recovery.h"
#include "rpc.h"
#include "sdnotify.h"
#include "server.h"
#include "services.h"
#include "state.h"
#include "statedir.h"
#include "strategy.h"
#include "strategy_kind.h"
#include "waiter.h"

#define DAEMON_OUTPUT_DIR      "output"
#define DAEMON_PRUNE_BATCH     500
#define DAEMON_PRUNE_PERIOD_MS 1000
#define DAEMON_HARD_STOP_SEC   5
#define DAEMON_FLUSH_SEC       2

/* SIGTERM, SIGINT and SIGHUP. */
#define DAEMON_SIGNAL_COUNT 3

struct daemon {
	struct event_base *base;
	struct config config;
	struct daemon_options options;
	char *config_path; /* the file actually read, or NULL */
	char *socket_path;
	char *state_dir;
	struct statedir *statedir;
	struct history *history;
	struct output_store *output; /* the jobs' kept output */
	struct state *state;
	struct publisher *publisher;
	struct coordinator *coordinator;
	struct waiter *waiter;
	struct services services; /* what the methods see of all this */
	struct rpc_methods methods;
	struct server *server;
	struct sdnotify *sdnotify;
	struct event *signal_evs[DAEMON_SIGNAL_COUNT];
	struct event *drain_ev; /* grace period, then the hard deadline */
	struct event *prune_ev; /* retention steps */
	double flush_deadline;	/* when exiting: stop waiting for clients to read */
	bool draining;
	bool strategies_shut_down;
	bool finishing;	      /* the last step of the drain is scheduled */
	bool storage_failing; /* a commit failed: messages are held until it is made */
	int exit_code;
};

struct event_base *daemon_event_base(struct daemon *d)
{
	return d->base;
}

static void daemon_running_cb(const struct strategy_info *info, void *userdata)
{
	*(unsigned *)userdata += info->running;
}

bool daemon_idle(struct daemon *d)
{
	unsigned running = 0;

	coordinator_foreach_mode(d->coordinator, daemon_running_cb, &running);
	return running == 0 && !history_in_transaction(d->history) &&
	       server_pending_output(d->server) == 0;
}

bool daemon_draining(struct daemon *d)
{
	return d->draining;
}

size_t daemon_connection_count(struct daemon *d)
{
	return server_connection_count(d->server);
}

/* Output waits while the history has writes of this loop turn not yet committed. */
static bool daemon_output_must_wait(void *ctx)
{
	struct daemon *d = ctx;

	return d->history && history_in_transaction(d->history);
}

/* The history failed to store a turn: nothing more is said until it has. */
static void daemon_storage_failed(struct daemon *d, int result)
{
	d->storage_failing = true;
	log_error("cannot commit to the history: %s; until it can: clients waiting for that "
		  "commit are disconnected, submits are refused, messages are held back, and what "
		  "happens is kept in memory and stored as soon as there is room (tried every "
		  "second)",
		  history_strerror(d->history, result));
	publisher_hold_after(d->publisher, history_stored_seq(d->history));
}

static void daemon_storage_recovered(struct daemon *d)
{
	int r;

	d->storage_failing = false;
	/* The counts moved with writes that were lost and made again: count the rows. */
	r = state_load(d->state);
	if (r < 0)
		log_error("cannot count the jobs in the history: %s",
			  history_strerror(d->history, r));
	log_notice("the history can be written again: everything held back is stored and goes "
		   "out now");
	publisher_release(d->publisher);
}

/*
 * The turn's messages reach the coordinator and the waiter before its
 * commit: what they change (the jobs they close, the waits they end) goes
 * in the same transaction, one commit a turn rather than one for the
 * messages and one for the rest. Clients hear of them after the commit.
 */
static void daemon_before_commit(void *userdata)
{
	struct daemon *d = userdata;

	publisher_deliver_early(d->publisher);
}

static void daemon_commit_hook(int result, void *userdata)
{
	struct daemon *d = userdata;

	if (result < 0 && !d->storage_failing)
		daemon_storage_failed(d, result);
	else if (result == 0 && d->storage_failing && !history_failing(d->history))
		daemon_storage_recovered(d);
	if (result == 0)
		publisher_stored(d->publisher, history_stored_seq(d->history));
	if (d->server)
		server_release_held(d->server, result == 0);
}

/* Root, our own uid, and the configured users and groups, by the settings in force now. */
static bool daemon_peer_allowed(void *ctx, const struct peer *peer)
{
	struct daemon *d = ctx;
	const struct config *cfg = &d->config;

	if (peer_is_privileged(peer))
		return true;
	for (size_t i = 0; i < cfg->allowed_uid_count; i++)
		if (cfg->allowed_uids[i] == peer->uid)
			return true;
	for (size_t i = 0; i < cfg->allowed_gid_count; i++) {
		if (cfg->allowed_gids[i] == peer->gid)
			return true;
		for (size_t j = 0; j < peer->ngroups; j++)
			if (cfg->allowed_gids[i] == peer->groups[j])
				return true;
	}
	return false;
}

static void daemon_line_cb(void *ctx, struct connection *conn, const char *line, size_t len)
{
	struct daemon *d = ctx;

	rpc_handle_line(&d->methods, conn, line, len);
}

static const struct server_ops daemon_server_ops = {
	.on_line = daemon_line_cb,
	.must_hold_output = daemon_output_must_wait,
	.peer_allowed = daemon_peer_allowed,
};

static void daemon_shutdown_cb(void *ctx, const char *why)
{
	daemon_begin_shutdown(ctx, why);
}

static size_t daemon_connection_count_cb(void *ctx)
{
	struct daemon *d = ctx;

	return d->server ? server_connection_count(d->server) : 0;
}

/* What the methods see: the parts, the settings they read, and a way to shut down. */
static void daemon_init_services(struct daemon *d)
{
	struct services *svc = &d->services; /* start_time is set already */

	svc->coordinator = d->coordinator;
	svc->state = d->state;
	svc->history = d->history;
	svc->publisher = d->publisher;
	svc->waiter = d->waiter;
	svc->config.task_limits = d->config.task_limits;
	svc->config.max_wait_ids = d->config.max_wait_ids;
	svc->config.max_wait_answer_bytes = d->config.max_wait_answer_bytes;
	svc->config.max_status_task_bytes = d->config.max_status_task_bytes;
	svc->output = d->output;
	svc->statedir = d->statedir;
	svc->shutdown = daemon_shutdown_cb;
	svc->connection_count = daemon_connection_count_cb;
	svc->ctx = d;
	methods_table_init(&d->methods, &d->services);
}

static int daemon_load_config(struct daemon *d, struct config *cfg, char **error)
{
	const char *path = d->options.config_path;
	int r = config_init(cfg);

	if (r < 0)
		return cause_set(error, r, "out of memory");
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (!path)
		return 0;
	r = config_load(cfg, path, error);
	if (r < 0)
		return r;
	free(d->config_path);
	d->config_path = strdup(path);
	return 0;
}

static void daemon_apply_log_level(struct daemon *d)
{
	log_set_level(d->options.log_level >= 0 ? d->options.log_level : d->config.log_level);
}

/* The socket: --socket, $COORD_SOCKET, systemd's, the config's, the default. */
static int daemon_pick_socket(struct daemon *d, int *ret_fd)
{
	const char *env = getenv("COORD_SOCKET");

	*ret_fd = -1;
	if (!d->options.socket_path && !(env && *env)) {
		*ret_fd = sdnotify_listen_fd();
		if (*ret_fd >= 0) {
			d->socket_path = sdnotify_socket_path(*ret_fd);
			return d->socket_path ? 0 : -ENOMEM;
		}
		if (d->config.socket_path) {
			d->socket_path = strdup(d->config.socket_path);
			return d->socket_path ? 0 : -ENOMEM;
		}
	}
	d->socket_path = paths_socket(d->options.socket_path);
	return d->socket_path ? 0 : -ENOMEM;
}

static int daemon_store_cb(struct message *msg, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	/*
	 * A refusal while the history cannot be written is not published: it
	 * could not be stored, and a client sending submits in a loop must not
	 * grow what waits in memory.
	 */
	if (msg->type == MESSAGE_REQUEST_CREATION_FAILURE && history_failing(d->history))
		return -EAGAIN;
	r = coordinator_admit_message(d->coordinator, msg);
	if (r < 0)
		return r; /* a second final message for a job: refused */
	coordinator_complete_message(d->coordinator, msg);
	/* Stored, or (while the history is failing) kept to be stored: either way it counts. */
	r = history_insert_message(d->history, msg);
	if (r == 0)
		coordinator_message_stored(d->coordinator, msg);
	return r; /* the publisher's caller logs a failure */
}

static int daemon_open_history(struct daemon *d, char **error)
{
	uint64_t last_seq = 0;
	char *path, *why = NULL;
	int r;

	d->state_dir =
		paths_state_dir(d->options.state_dir ? d->options.state_dir : d->config.state_dir);
	if (!d->state_dir)
		return cause_set(error, -ENOMEM, "out of memory");
	r = statedir_open(d->state_dir, &d->statedir, error);
	if (r < 0)
		return r;
	path = statedir_file(d->statedir, DAEMON_OUTPUT_DIR);
	if (!path)
		return cause_set(error, -ENOMEM, "out of memory");
	r = output_store_open(path, &d->output, error);
	free(path);
	if (r < 0)
		return r;
	path = statedir_file(d->statedir, HISTORY_FILE);
	if (!path)
		return cause_set(error, -ENOMEM, "out of memory");
	r = history_open(path, d->base, d->config.durability, &d->history, &why);
	if (r < 0) {
		cause_set(error, r, "cannot use the history %s: %s", path,
			  why ? why : strerror(-r));
		free(why);
		free(path);
		return r;
	}
	history_set_checkpoint_pages(d->history, d->config.checkpoint_pages);
	history_set_wal_size_limit(d->history, d->config.wal_size_limit);
	r = history_last_seq(d->history, &last_seq);
	if (r == 0) {
		d->publisher = publisher_new(d->base, last_seq + 1);
		d->state = state_new(d->history);
		if (!d->publisher || !d->state) {
			free(path);
			return cause_set(error, -ENOMEM, "out of memory");
		}
		publisher_set_store(d->publisher, daemon_store_cb, d);
		publisher_gate_on_store(d->publisher, last_seq);
		history_set_before_commit(d->history, daemon_before_commit, d);
		r = history_add_commit_hook(d->history, daemon_commit_hook, d);
		if (r == 0)
			r = state_load(d->state);
	}
	/* A damaged page past the header shows only now: name the file all the same. */
	if (r < 0)
		cause_set(error, r, "cannot read the history %s: %s", path,
			  history_strerror(d->history, r));
	free(path);
	return r;
}

/* What a mode's config section sets that may change while it runs. */
static struct strategy_tuning daemon_mode_tuning(const struct config_mode *m)
{
	return (struct strategy_tuning){
		.max_concurrency = m->max_concurrency,
		.max_queue = m->max_queue,
		.output_limit = m->output_limit,
		.kill_grace_ms = m->kill_grace_ms,
		.paused = m->paused,
		.queue_hot_tasks = m->queue_hot_tasks,
	};
}

/* Builds the strategy of m and adds it as a mode (paused if m says so). */
static int daemon_add_mode(struct daemon *d, const struct config_mode *m, char **error)
{
	struct strategy_config sc = {
		.mode = m->name,
		.kind = m->strategy,
		.max_concurrency = m->max_concurrency,
		.max_queue = m->max_queue,
		.output_limit = m->output_limit,
		.kill_grace_ms = m->kill_grace_ms,
		.queue_hot_tasks = m->queue_hot_tasks,
		.socket_path = d->socket_path,
		.state_dir = d->state_dir,
		.output_store = d->output,
		.run_as_submitter = d->config.run_as == CONFIG_RUN_AS_SUBMITTER,
		.exec_helper = d->config.exec_helper,
		.settings = m->settings,
		.setting_count = m->setting_count,
	};
	struct strategy_tuning tuning = daemon_mode_tuning(m);
	struct strategy *s;
	int r = strategy_kind_new(d->base, d->publisher, &sc, &s, error);

	if (r < 0)
		return r;
	r = coordinator_add_mode(d->coordinator, s);
	if (r < 0) {
		strategy_free(s);
		return cause_set(error, r, "cannot add mode %s", m->name);
	}
	if (m->paused && coordinator_tune_mode(d->coordinator, m->name, &tuning) < 0)
		return cause_set(error, -EOPNOTSUPP, "mode %s: its strategy cannot be paused",
				 m->name);
	return 0;
}

static int daemon_add_modes(struct daemon *d, char **error)
{
	for (size_t i = 0; i < d->config.mode_count; i++) {
		int r = daemon_add_mode(d, &d->config.modes[i], error);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Exits the loop once every client has its output, or the deadline passed. */
static void daemon_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	static const struct timeval tick = {0, 10000};

	if (server_pending_output(d->server) == 0 || time_now() > d->flush_deadline) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	event_base_once(d->base, -1, EV_TIMEOUT, daemon_flush_cb, d, &tick);
}

static void daemon_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int r;

	if (!d->strategies_shut_down) {
		d->strategies_shut_down = true;
		coordinator_shutdown(d->coordinator);
	}
	publisher_shutdown(d->publisher);
	/* Jobs kept for the next start never close in this run: their waiters hear why. */
	waiter_stop(d->waiter);
	r = history_commit(d->history);
	if (r < 0 && history_failing(d->history))
		log_error("%zu writes could not be stored before the exit (%s); the next start "
			  "closes the jobs they were about as lost",
			  history_backlog_count(d->history), history_strerror(d->history, r));
	/* Last, let the final answers and messages reach their clients. */
	server_stop_listening(d->server);
	d->flush_deadline = time_now() + DAEMON_FLUSH_SEC;
	daemon_flush_cb(-1, 0, d);
}

/* Called for every message: finishes a drain once nothing is opened. */
static void daemon_message_cb(struct message *msg, void *userdata)
{
	struct daemon *d = userdata;
	static const struct timeval now = {0, 0};

	if (d->draining && !d->finishing && message_closes_job(msg) &&
	    state_started_count(d->state) == 0) {
		d->finishing = true;
		event_base_once(d->base, -1, EV_TIMEOUT, daemon_finish_cb, d, &now);
	}
	if (message_closes_job(msg) || msg->type == MESSAGE_REQUEST_CREATION)
		sdnotify_status_changed(d->sdnotify);
}

static int daemon_start_coordinator(struct daemon *d, char **error)
{
	uint64_t id;
	size_t lost = 0, taken_back = 0;
	int r;

	d->coordinator = coordinator_new(d->base, d->state, d->config.cancel_slice_ms);
	if (d->coordinator) {
		coordinator_set_max_waiting_bytes(d->coordinator, d->config.max_waiting_task_bytes);
		d->sdnotify = sdnotify_new(d->base, d->coordinator);
	}
	if (!d->coordinator || !d->sdnotify)
		return cause_set(error, -ENOMEM, "out of memory");
	r = daemon_add_modes(d, error);
	if (r < 0)
		return r;
	r = coordinator_start(d->coordinator, d->publisher);
	if (r == 0)
		r = waiter_new(d->base, d->publisher, d->state, &d->waiter);
	if (r == 0)
		r = publisher_subscribe(d->publisher, daemon_message_cb, d, "daemon", &id);
	if (r < 0)
		return cause_set(error, r, "cannot start the coordinator: %s", strerror(-r));
	r = recovery_run(d->history, d->state, d->coordinator, &lost, &taken_back);
	if (r < 0)
		return cause_set(error, r,
				 "cannot recover the jobs of the previous run from the history "
				 "in %s: %s",
				 d->state_dir, history_strerror(d->history, r));
	/* Deliver the lost messages and commit them before anyone connects. */
	event_base_loop(d->base, EVLOOP_NONBLOCK);
	r = history_commit(d->history);
	if (r < 0)
		return cause_set(error, r, "cannot store the recovery: %s",
				 history_strerror(d->history, r));
	if (lost > 0)
		log_warning("%zu jobs of the previous run were running: closed them as lost", lost);
	if (taken_back > 0)
		log_notice("%zu jobs of the previous run still run: their modes follow them again",
			   taken_back);
	return 0;
}

/* The queue of the previous run, once clients (and its tasks) can connect. */
static int daemon_requeue(struct daemon *d, char **error)
{
	size_t count = 0;
	int r = recovery_requeue(d->history, d->state, d->coordinator, &count);

	if (r < 0)
		return cause_set(error, r,
				 "cannot take up the queue of the previous run from the history in "
				 "%s: %s",
				 d->state_dir, history_last_error(d->history));
	if (count > 0)
		log_notice("%zu job(s) of the previous run never started: waiting or queued again",
			   count);
	return 0;
}

static int daemon_listen(struct daemon *d, int fd, char **error)
{
	struct server_config sc = {
		.path = d->socket_path,
		.fd = fd,
		.mode = d->config.socket_mode,
		.max_connections = d->config.max_connections,
		.max_connections_per_uid = d->config.max_connections_per_uid,
		.limits =
			{
				.max_line = d->config.max_line_bytes,
				.max_batch = d->config.max_batch,
				.max_answer_bytes = d->config.max_answer_bytes,
				.max_pending_calls = d->config.max_pending_calls,
				.max_pending_bytes = d->config.max_pending_bytes,
				.subscriber_max = d->config.subscriber_buffer_bytes,
				.notify_coalesce_ms = d->config.notify_coalesce_ms,
			},
	};

	daemon_init_services(d);
	return server_new(d->base, &sc, &daemon_server_ops, d, &d->server, error);
}

static void daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sig == SIGHUP)
		daemon_reload(d);
	else
		daemon_begin_shutdown(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* A job retention removed takes its output with it. */
static void daemon_pruned_cb(const char *request_id, void *userdata)
{
	struct daemon *d = userdata;
	int r = output_store_remove(d->output, request_id);

	if (r < 0)
		log_warning("retention: cannot remove the output of %s: %s", request_id,
			    strerror(-r));
}

static void daemon_prune_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	size_t removed = 0;
	struct timeval tv = {0, DAEMON_PRUNE_PERIOD_MS * 1000};

	int r = state_prune(d->state, d->config.retention_max_jobs, d->config.retention_max_age_sec,
			    DAEMON_PRUNE_BATCH, daemon_pruned_cb, d, &removed);

	if (r < 0)
		log_warning("retention: %s", history_strerror(d->history, r));
	else if (removed > 0)
		log_debug("retention removed %zu jobs", removed);
	/* Go on at once while there is more to remove, else check again later. */
	if (removed == DAEMON_PRUNE_BATCH)
		tv.tv_usec = 0;
	evtimer_add(d->prune_ev, &tv);
}

/* The signals the daemon handles, one event each in signal_evs. */
static const int daemon_signals[DAEMON_SIGNAL_COUNT] = {SIGTERM, SIGINT, SIGHUP};

static int daemon_events(struct daemon *d)
{
	struct timeval now = {0, 0};

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < DAEMON_SIGNAL_COUNT; i++) {
		d->signal_evs[i] = evsignal_new(d->base, daemon_signals[i], daemon_signal_cb, d);
		if (!d->signal_evs[i] || evsignal_add(d->signal_evs[i], NULL) < 0)
			return -ENOMEM;
	}
	d->prune_ev = evtimer_new(d->base, daemon_prune_cb, d);
	if (!d->prune_ev)
		return -ENOMEM;
	if (d->config.retention_max_jobs || d->config.retention_max_age_sec > 0)
		evtimer_add(d->prune_ev, &now);
	return 0;
}

/*
 * The open files the daemon wants: what its systemd unit gives it
 * (LimitNOFILE=65536), or max_connections and room for the history and
 * running tasks' pipes when that is more.
 */
#define DAEMON_NOFILE_WANTED  65536
#define DAEMON_NOFILE_RESERVE 1024

/*
 * Raises the soft limit on open files up to the hard one, as far as the
 * daemon wants: started from a shell (soft limit often 1024), it ran out
 * of descriptors before max_connections, so clients waited unanswered
 * instead of getting 1005, and tasks could not be spawned. Tasks inherit
 * the raised limit, as they do under the unit.
 */
static void daemon_raise_fd_limit(struct daemon *d)
{
	rlim_t want = d->config.max_connections + DAEMON_NOFILE_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (want < DAEMON_NOFILE_WANTED)
		want = DAEMON_NOFILE_WANTED;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning("cannot raise the open file limit to %llu: %s",
				    (unsigned long long)want, strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < d->config.max_connections + DAEMON_NOFILE_RESERVE)
		log_warning("the open file limit (%llu) leaves no room for max_connections (%u) "
			    "and the tasks' pipes: raise it (ulimit -n, LimitNOFILE=)",
			    (unsigned long long)rl.rlim_cur, d->config.max_connections);
}

int daemon_new(const struct daemon_options *options, struct daemon **ret, char **error)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int fd = -1, r;

	*error = NULL;
	if (!d)
		return -ENOMEM;
	d->options = *options;
	d->services.start_time = time_now();
	d->base = event_base_new();
	if (!d->base) {
		free(d);
		return cause_set(error, -ENOMEM, "cannot create the event loop");
	}
	*ret = d;
	r = daemon_load_config(d, &d->config, error);
	if (r < 0)
		return r;
	daemon_apply_log_level(d);
	daemon_raise_fd_limit(d);
	r = daemon_pick_socket(d, &fd);
	if (r < 0)
		return cause_set(error, r, "out of memory");
	r = daemon_open_history(d, error);
	if (r == 0)
		r = daemon_start_coordinator(d, error);
	/*
	 * Signals are taken before the socket accepts: a client that sees the
	 * daemon ready may stop it at once (nothing runs them before
	 * daemon_run, so the server exists when one is handled).
	 */
	if (r == 0 && (r = daemon_events(d)) < 0)
		cause_set(error, r, "cannot set up signal handling");
	if (r == 0)
		r = daemon_listen(d, fd, error);
	if (r == 0)
		r = daemon_requeue(d, error);
	return r;
}

/*
 * What the start-up read (the counts, recovery, the queue) stays in the
 * file: SQLite's page cache fills with it, up to 2 MiB at a big history,
 * which an idle daemon does not need. Given back, and the heap's free
 * pages with it, before the daemon says it is ready.
 */
static void daemon_shed_startup_memory(struct daemon *d)
{
	size_t cached = history_release_memory(d->history);

	malloc_trim(0);
	log_debug("gave back %zu bytes of cached database pages after start-up", cached);
}

int daemon_run(struct daemon *d)
{
	daemon_shed_startup_memory(d);
	log_info("coordinatord %s ready: socket %s, state %s, %zu mode(s)", COORD_VERSION,
		 d->socket_path, d->state_dir, d->config.mode_count);
	sdnotify_ready(d->sdnotify);
	event_base_dispatch(d->base);
	log_info("stopped");
	return d->exit_code;
}

/* The longest any mode waits between SIGTERM and SIGKILL. */
static unsigned daemon_max_kill_grace_ms(const struct daemon *d)
{
	unsigned max = 0;

	for (size_t i = 0; i < d->config.mode_count; i++) {
		unsigned ms = d->config.modes[i].kill_grace_ms;

		if (ms == 0)
			ms = STRATEGY_DEFAULT_KILL_GRACE_MS;
		if (ms > max)
			max = ms;
	}
	return max;
}

static void daemon_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	unsigned kill_ms = daemon_max_kill_grace_ms(d);
	/* Every mode's SIGKILL comes before the deadline, with time to reap and record. */
	struct timeval hard = {DAEMON_HARD_STOP_SEC + kill_ms / 1000,
			       (suseconds_t)(kill_ms % 1000) * 1000};

	if (!d->strategies_shut_down) {
		log_notice("grace period over: cancelling %zu running task(s)",
			   state_started_count(d->state));
		d->strategies_shut_down = true;
		coordinator_shutdown(d->coordinator);
		evtimer_add(d->drain_ev, &hard);
		return;
	}
	log_warning("%zu task(s) did not stop in time; the next start closes them as lost",
		    state_started_count(d->state));
	daemon_finish_cb(-1, 0, d);
}

void daemon_begin_shutdown(struct daemon *d, const char *why)
{
	struct timeval grace = {d->config.shutdown_grace_sec, 0};
	static const struct timeval now = {0, 0};

	if (d->draining)
		return;
	d->draining = true;
	log_notice("shutting down (%s): %zu job(s) running, %zu waiting or queued (kept for the "
		   "next start), grace period %u s",
		   why, state_started_count(d->state),
		   state_open_count(d->state) - state_started_count(d->state),
		   d->config.shutdown_grace_sec);
	sdnotify_stopping(d->sdnotify);
	/* Nothing more starts; what never started stays queued in the history. */
	coordinator_stop_accepting(d->coordinator);
	d->drain_ev = evtimer_new(d->base, daemon_drain_cb, d);
	if (d->drain_ev)
		evtimer_add(d->drain_ev, &grace);
	if (state_started_count(d->state) == 0 || !d->drain_ev) {
		d->finishing = true;
		event_base_once(d->base, -1, EV_TIMEOUT, daemon_finish_cb, d, &now);
	}
}

/* Logs what a reload changed in one mode, comparing what it reported before and after. */
static void daemon_log_mode_changes(const char *mode, const struct strategy_info *a,
				    const struct strategy_info *b)
{
	if (a->max_concurrency != b->max_concurrency)
		log_notice("mode %s: max_concurrency %u -> %u", mode, a->max_concurrency,
			   b->max_concurrency);
	if (a->max_queue != b->max_queue)
		log_notice("mode %s: max_queue %zu -> %zu", mode, a->max_queue, b->max_queue);
	if (a->output_limit != b->output_limit)
		log_notice("mode %s: output_limit_bytes %zu -> %zu (for tasks started from now on)",
			   mode, a->output_limit, b->output_limit);
	if (a->kill_grace_ms != b->kill_grace_ms)
		log_notice("mode %s: kill_grace_ms %u -> %u (for tasks started from now on)", mode,
			   a->kill_grace_ms, b->kill_grace_ms);
	if (a->queue_hot_tasks != b->queue_hot_tasks)
		log_notice("mode %s: queue_hot_tasks %zu -> %zu (for tasks queued from now on)",
			   mode, a->queue_hot_tasks, b->queue_hot_tasks);
	if (a->paused != b->paused)
		log_notice("mode %s: %s", mode, b->paused ? "paused" : "resumed");
}

/* Applies the limits of a mode that runs already; its strategy stays as it was built. */
static void daemon_reload_mode(struct daemon *d, struct config_mode *running,
			       const struct config_mode *fresh)
{
	struct strategy_tuning tuning = daemon_mode_tuning(fresh);
	struct strategy_info before, after;

	if (!config_mode_same_strategy(running, fresh))
		log_warning("mode %s: its strategy or its strategy's settings changed: that needs "
			    "a restart",
			    running->name);
	if (coordinator_describe_mode(d->coordinator, running->name, &before) < 0 ||
	    coordinator_tune_mode(d->coordinator, running->name, &tuning) < 0 ||
	    coordinator_describe_mode(d->coordinator, running->name, &after) < 0) {
		log_warning("mode %s: its limits cannot change while it runs: that needs a restart",
			    running->name);
		return;
	}
	daemon_log_mode_changes(running->name, &before, &after);
	running->max_concurrency = fresh->max_concurrency;
	running->max_queue = fresh->max_queue;
	running->output_limit = fresh->output_limit;
	running->kill_grace_ms = fresh->kill_grace_ms;
	running->queue_hot_tasks = fresh->queue_hot_tasks;
	running->paused = fresh->paused;
}

/* Adds a mode new in the config, moving its section into the running config. */
static void daemon_reload_add_mode(struct daemon *d, struct config_mode *fresh)
{
	struct config_mode *modes;
	char *error = NULL;
	int r;

	if (d->draining) {
		log_warning("mode %s: not added while the daemon stops", fresh->name);
		return;
	}
	modes = realloc(d->config.modes, (d->config.mode_count + 1) * sizeof(*modes));
	if (!modes) {
		log_error("mode %s: cannot add it: out of memory", fresh->name);
		return;
	}
	d->config.modes = modes;
	r = daemon_add_mode(d, fresh, &error);
	if (r < 0) {
		log_error("mode %s: cannot add it: %s", fresh->name, error ? error : strerror(-r));
		free(error);
		return;
	}
	modes[d->config.mode_count++] = *fresh;
	memset(fresh, 0, sizeof(*fresh)); /* config_clear frees NULLs */
	log_notice("mode %s: added (strategy %s)", modes[d->config.mode_count - 1].name,
		   modes[d->config.mode_count - 1].strategy);
}

static void daemon_reload_modes(struct daemon *d, struct config *fresh)
{
	size_t running = d->config.mode_count;

	for (size_t i = 0; i < running; i++)
		if (!config_find_mode(fresh, d->config.modes[i].name))
			log_warning("mode %s: no longer in the config; it stays until a restart",
				    d->config.modes[i].name);
	for (size_t i = 0; i < fresh->mode_count; i++) {
		struct config_mode *m = &fresh->modes[i];
		struct config_mode *old =
			(struct config_mode *)config_find_mode(&d->config, m->name);

		if (old)
			daemon_reload_mode(d, old, m);
		else
			daemon_reload_add_mode(d, m);
	}
}

/* The [daemon] keys a reload applies; every other one needs a restart. */
static const char *const daemon_live_keys[] = {
	"log_level",	 "shutdown_grace_sec",	  "retention_max_jobs",
	"allowed_users", "retention_max_age_sec", "allowed_groups",
};

struct daemon_reload_keys {
	char live[256];
	char restart[512];
};

static void daemon_reload_key_cb(const char *key, void *userdata)
{
	struct daemon_reload_keys *k = userdata;
	size_t n = sizeof(daemon_live_keys) / sizeof(daemon_live_keys[0]), i = 0;
	char *list;
	size_t used;

	while (i < n && strcmp(daemon_live_keys[i], key) != 0)
		i++;
	list = i < n ? k->live : k->restart;
	used = strlen(list);
	snprintf(list + used, (i < n ? sizeof(k->live) : sizeof(k->restart)) - used, "%s%s",
		 used ? ", " : "", key);
}

void daemon_reload(struct daemon *d)
{
	struct daemon_reload_keys keys = {"", ""};
	struct config fresh;
	char *error = NULL;
	int r;

	sdnotify_reloading(d->sdnotify);
	r = daemon_load_config(d, &fresh, &error);
	if (r < 0) {
		log_error("reload refused, keeping the running settings: %s",
			  error ? error : strerror(-r));
		free(error);
		config_clear(&fresh);
		sdnotify_ready(d->sdnotify);
		return;
	}
	config_diff_daemon(&d->config, &fresh, daemon_reload_key_cb, &keys);
	daemon_reload_modes(d, &fresh);
	/* What can change at run time; the rest needs a restart. */
	d->config.log_level = fresh.log_level;
	d->config.shutdown_grace_sec = fresh.shutdown_grace_sec;
	d->config.retention_max_jobs = fresh.retention_max_jobs;
	d->config.retention_max_age_sec = fresh.retention_max_age_sec;
	free(d->config.allowed_uids);
	free(d->config.allowed_gids);
	d->config.allowed_uids = fresh.allowed_uids;
	d->config.allowed_uid_count = fresh.allowed_uid_count;
	d->config.allowed_gids = fresh.allowed_gids;
	d->config.allowed_gid_count = fresh.allowed_gid_count;
	fresh.allowed_uids = NULL;
	fresh.allowed_gids = NULL;
	config_clear(&fresh);
	daemon_apply_log_level(d);
	if (d->prune_ev && (d->config.retention_max_jobs || d->config.retention_max_age_sec > 0) &&
	    !evtimer_pending(d->prune_ev, NULL)) {
		struct timeval now = {0, 0};

		evtimer_add(d->prune_ev, &now);
	}
	log_notice("reloaded %s: [daemon] %s%s; the modes' limits apply now",
		   d->config_path ? d->config_path : "(no config file)",
		   keys.live[0] ? keys.live : "nothing changed that applies at once",
		   keys.live[0] ? " apply now" : "");
	if (keys.restart[0])
		log_warning("changed in the config but still running as before until a restart: "
			    "%s",
			    keys.restart);
	sdnotify_ready(d->sdnotify);
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	/* Whatever the history's last commit does, the parts its hook tells are going. */
	if (d->history)
		history_remove_commit_hook(d->history, daemon_commit_hook, d);
	server_free(d->server);
	waiter_free(d->waiter);
	sdnotify_free(d->sdnotify);
	coordinator_free(d->coordinator);
	state_free(d->state);
	publisher_free(d->publisher);
	output_store_free(d->output);
	history_close(d->history);
	statedir_close(d->statedir);
	for (size_t i = 0; i < DAEMON_SIGNAL_COUNT; i++)
		if (d->signal_evs[i])
			event_free(d->signal_evs[i]);
	if (d->drain_ev)
		event_free(d->drain_ev);
	if (d->prune_ev)
		event_free(d->prune_ev);
	config_clear(&d->config);
	free(d->config_path);
	free(d->socket_path);
	free(d->state_dir);
	if (d->base)
		event_base_free(d->base);
	free(d);
}
