/* The parts every strategy shares (the table of kinds is exec/strategy_kind.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "message.h"
#include "publisher.h"
#include "strategy.h"
#include "task.h"

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

int strategy_task_starting_turn(struct strategy *s, const struct task *task)
{
	if (!s->hooks.task_starting_turn)
		return strategy_task_starting(s, task);
	return s->hooks.task_starting_turn(s->hooks.ctx, task->request_id);
}

bool strategy_can_load(const struct strategy *s)
{
	return s->hooks.task_load != NULL;
}

int strategy_load_task(struct strategy *s, const char *request_id, struct task **ret)
{
	if (!s->hooks.task_load)
		return -ENOENT;
	return s->hooks.task_load(s->hooks.ctx, request_id, ret);
}
