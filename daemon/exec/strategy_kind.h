/* The table of strategy kinds (see strategy_kind.c). */
#ifndef COORD_STRATEGY_KIND_H
#define COORD_STRATEGY_KIND_H

#include <stdbool.h>

struct event_base;
struct publisher;
struct strategy;
struct strategy_config;

/*
 * Builds the strategy config->kind names for one mode. Returns 0 and the
 * strategy in *ret, or a negative errno and a reason in *error (caller
 * frees) for an unknown kind or a bad setting.
 */
int strategy_kind_new(struct event_base *base, struct publisher *publisher,
		      const struct strategy_config *config, struct strategy **ret, char **error);

/* Whether kind names a known strategy. */
bool strategy_kind_known(const char *kind);

/* Whether key looks like a strategy's own setting: a known kind, "_", a name. */
bool strategy_kind_setting_known(const char *key);

/* The async strategy, see strategy_async.c. */
int strategy_async_new(struct event_base *base, struct publisher *publisher,
		       const struct strategy_config *config, struct strategy **ret, char **error);

/* The slurm strategy (jobs on a Slurm cluster), see strategy_slurm.c. */
int strategy_slurm_new(struct event_base *base, struct publisher *publisher,
		       const struct strategy_config *config, struct strategy **ret, char **error);

#endif
