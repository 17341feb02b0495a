/*
 * The table of strategy kinds: builds the strategy a mode's config names.
 * Only daemon.c (and config.c, to check names) needs it; the coordinator
 * sees strategies through core/strategy.h alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cause.h"
#include "strategy.h"
#include "strategy_kind.h"

struct strategy_kind_entry {
	const char *kind;
	int (*create)(struct event_base *base, struct publisher *publisher,
		      const struct strategy_config *config, struct strategy **ret, char **error);
};

static const struct strategy_kind_entry strategy_kinds[] = {
	{.kind = "async", .create = strategy_async_new},
	{.kind = "slurm", .create = strategy_slurm_new},
};

static const struct strategy_kind_entry *strategy_kind_lookup(const char *kind)
{
	for (size_t i = 0; i < sizeof(strategy_kinds) / sizeof(strategy_kinds[0]); i++)
		if (strcmp(strategy_kinds[i].kind, kind) == 0)
			return &strategy_kinds[i];
	return NULL;
}

bool strategy_kind_known(const char *kind)
{
	return strategy_kind_lookup(kind) != NULL;
}

bool strategy_kind_setting_known(const char *key)
{
	for (size_t i = 0; i < sizeof(strategy_kinds) / sizeof(strategy_kinds[0]); i++) {
		size_t n = strlen(strategy_kinds[i].kind);

		if (strncmp(key, strategy_kinds[i].kind, n) == 0 && key[n] == '_' && key[n + 1])
			return true;
	}
	return false;
}

/* Every setting must belong to the mode's strategy. */
static int strategy_kind_check_settings(const struct strategy_config *config, char **error)
{
	size_t n = strlen(config->kind);

	for (size_t i = 0; i < config->setting_count; i++) {
		const char *key = config->settings[i];

		if (strncmp(key, config->kind, n) != 0 || key[n] != '_') {
			return cause_set(error, -EINVAL,
					 "mode \"%s\" uses strategy %s: setting \"%.*s\" is not "
					 "one of its settings",
					 config->mode, config->kind, (int)strcspn(key, "="), key);
		}
	}
	return 0;
}

int strategy_kind_new(struct event_base *base, struct publisher *publisher,
		      const struct strategy_config *config, struct strategy **ret, char **error)
{
	const struct strategy_kind_entry *k = strategy_kind_lookup(config->kind);
	int r;

	*error = NULL;
	if (!k) {
		return cause_set(error, -EINVAL, "unknown strategy \"%s\" for mode \"%s\"",
				 config->kind, config->mode);
	}
	r = strategy_kind_check_settings(config, error);
	if (r < 0)
		return r;
	return k->create(base, publisher, config, ret, error);
}
