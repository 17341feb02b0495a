/* The table of known strategies and the parts every strategy shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "job.h"
#include "message.h"
#include "publisher.h"
#include "strategy.h"
#include "task.h"

struct strategy_kind {
	const char *kind;
	int (*create)(struct event_base *base, struct publisher *publisher,
		      const struct strategy_config *config, struct strategy **ret, char **error);
};

static const struct strategy_kind strategy_kinds[] = {
	{.kind = "async", .create = strategy_async_new},
	{.kind = "slurm", .create = strategy_slurm_new},
};

static const struct strategy_kind *strategy_kind_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(strategy_kinds) / sizeof(strategy_kinds[0]); i++)
		if (strcmp(strategy_kinds[i].kind, kind) == 0)
			return &strategy_kinds[i];
	return NULL;
}

int strategy_kind_known(const char *kind)
{
	return strategy_kind_find(kind) != NULL;
}

bool strategy_setting_known(const char *key)
{
	for (size_t i = 0; i < sizeof(strategy_kinds) / sizeof(strategy_kinds[0]); i++) {
		size_t n = strlen(strategy_kinds[i].kind);

		if (strncmp(key, strategy_kinds[i].kind, n) == 0 && key[n] == '_' && key[n + 1])
			return true;
	}
	return false;
}

/* Every setting must belong to the mode's strategy. */
static int strategy_check_settings(const struct strategy_config *config, char **error)
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

int strategy_new(struct event_base *base, struct publisher *publisher,
		 const struct strategy_config *config, struct strategy **ret, char **error)
{
	const struct strategy_kind *k = strategy_kind_find(config->kind);
	int r;

	*error = NULL;
	if (!k) {
		return cause_set(error, -EINVAL, "unknown strategy \"%s\" for mode \"%s\"",
				 config->kind, config->mode);
	}
	r = strategy_check_settings(config, error);
	if (r < 0)
		return r;
	return k->create(base, publisher, config, ret, error);
}

void strategy_free(struct strategy *s)
{
	if (!s)
		return;
	s->ops->free(s);
}

int strategy_init_base(struct strategy *s, const struct strategy_ops *ops,
		       struct publisher *publisher, const char *mode)
{
	s->ops = ops;
	s->publisher = publisher;
	s->mode = strdup(mode);
	return s->mode ? 0 : -ENOMEM;
}

int strategy_publish_failure(struct strategy *s, const struct task *task, enum error_kind kind,
			     const char *error_message)
{
	struct message_ids ids;
	struct message *msg;
	int r;

	message_ids_of_task(task, &ids);
	msg = message_new_error(MESSAGE_REQUEST_FAILURE, &ids, kind, error_message);
	if (!msg)
		return -ENOMEM;
	r = publisher_publish(s->publisher, msg);
	message_unref(msg);
	return r;
}

int strategy_task_starting(struct strategy *s, const struct task *task)
{
	if (!s->hooks.task_starting)
		return 0;
	return s->hooks.task_starting(s->hooks.ctx, task->request_id);
}
