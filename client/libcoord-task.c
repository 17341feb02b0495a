/* libcoord's Task builders; every json_object returned is a new reference for the caller. */
#include <stdlib.h>

#include "libcoord-private.h"

json_object *coord_task_new(const char *const *argv)
{
	json_object *task, *node, *args;

	if (!argv || !argv[0])
		return NULL;
	task = json_object_new_object();
	node = json_object_new_object();
	args = json_object_new_array();
	if (!task || !node || !args)
		goto fail;
	for (size_t i = 0; argv[i]; i++) {
		json_object *s = json_object_new_string(argv[i]);

		if (!s || json_object_array_add(args, s) < 0) {
			json_object_put(s);
			goto fail;
		}
	}
	json_object_object_add(node, "argv", args);
	json_object_object_add(task, "node", node);
	return task;
fail:
	json_object_put(args);
	json_object_put(node);
	json_object_put(task);
	return NULL;
}

json_object *coord_task_prepare(json_object *task)
{
	const char *parent = getenv("COORD_NODE_ID");
	json_object *copy;

	if (!json_object_is_type(task, json_type_object))
		return NULL;
	copy = json_object_new_object();
	if (!copy)
		return NULL;
	json_object_object_foreach (task, key, value) {
		if (json_object_object_add(copy, key, json_object_get(value)) < 0) {
			json_object_put(value);
			json_object_put(copy);
			return NULL;
		}
	}
	if (!json_object_object_get_ex(copy, "parent_node_id", NULL) && parent && *parent)
		json_object_object_add(copy, "parent_node_id", json_object_new_string(parent));
	return copy;
}
