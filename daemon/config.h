/* The daemon's settings: defaults, the INI config file, and what each mode runs. */
#ifndef COORD_CONFIG_H
#define COORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "build-config.h"

#include "history.h"
#include "strategy.h"
#include "task.h"

struct config_mode {
	char *name;
	char *strategy;
	unsigned max_concurrency; /* 0: online CPUs */
	size_t max_queue;
	size_t output_limit;
	unsigned kill_grace_ms;
	size_t queue_hot_tasks; /* default STRATEGY_DEFAULT_QUEUE_HOT_TASKS; 0 keeps none */
	bool paused;		/* starts paused (mode_set resumes it) */
	/* Settings of the strategy itself, "KEY=VALUE" with KEY prefixed by its kind ("slurm_...").
	 */
	char **settings;
	size_t setting_count;
};

/* Who a task runs as (run_as). */
enum config_run_as {
	CONFIG_RUN_AS_DAEMON,	 /* every task as the daemon's user */
	CONFIG_RUN_AS_SUBMITTER, /* each as its submitter, through the exec helper */
};

struct config {
	char *socket_path; /* NULL: paths_socket's default */
	unsigned socket_mode;
	char *state_dir; /* NULL: paths_state_dir's default */
	int log_level;
	unsigned max_connections;
	unsigned max_connections_per_uid; /* root and the daemon's own uid are not counted */
	size_t max_line_bytes;
	size_t max_batch;	  /* requests in one batch */
	size_t max_answer_bytes;  /* answers waiting for one client before it is held back */
	size_t max_pending_calls; /* calls in flight on one connection */
	size_t max_pending_bytes; /* what those calls may hold (json_footprint of their requests) */
	size_t subscriber_buffer_bytes;
	unsigned notify_coalesce_ms; /* notifications to one connection go out together within it */
	unsigned shutdown_grace_sec;
	size_t max_wait_ids;	       /* request_ids in one wait */
	size_t max_waiting_task_bytes; /* stored Tasks of the jobs waiting on their after */
	size_t max_wait_answer_bytes;  /* the Jobs one wait answer shows, copies included */
	size_t max_status_task_bytes;  /* stored Tasks in one status page (see history_query) */
	unsigned cancel_slice_ms;      /* the longest a cascading cancel holds the loop at a time */
	enum history_durability durability;
	unsigned checkpoint_pages; /* WAL pages that wake the checkpoint thread (checkpointer.h) */
	uint64_t wal_size_limit;   /* the WAL's bytes kept after a burst, 0: any (checkpointer.h) */
	uint64_t retention_max_jobs;
	double retention_max_age_sec;
	uid_t *allowed_uids;
	size_t allowed_uid_count;
	gid_t *allowed_gids;
	size_t allowed_gid_count;
	struct task_limits task_limits;
	enum config_run_as run_as; /* default: submitter for root, else daemon */
	char *exec_helper;	   /* NULL: the default (see exechelper.h) */
	struct config_mode *modes;
	size_t mode_count;
};

#define CONFIG_DEFAULT_PATH COORD_SYSCONFDIR "/coordinator/coordinatord.conf"

/* Fills cfg with the defaults (and an "async" mode). 0 or -ENOMEM. */
int config_init(struct config *cfg);

/*
 * Reads path over what cfg holds. Returns 0, or a negative errno with
 * "PATH:LINE: reason" in *error (caller frees).
 */
int config_load(struct config *cfg, const char *path, char **error);

/* Frees what cfg holds; cfg may be reused after config_init. */
void config_clear(struct config *cfg);

/*
 * Calls cb with each [daemon] key whose value differs between a and b, as
 * the config file spells it (allowed_users and allowed_groups by what
 * they resolve to).
 */
void config_diff_daemon(const struct config *a, const struct config *b,
			void (*cb)(const char *key, void *userdata), void *userdata);

/* Whether a and b build the same strategy (kind and its own settings); limits aside. */
bool config_mode_same_strategy(const struct config_mode *a, const struct config_mode *b);

/* The mode called name, or NULL. */
const struct config_mode *config_find_mode(const struct config *cfg, const char *name);

#endif
