/* coordctl's link to the daemon: connects lazily (ctl owns the conn); failures go to
 * coordctl-error.c. */
#include <stdio.h>

#include "jsonutil.h"

#include "coordctl.h"
#include "jsonutil.h"

int coordctl_rpc_connect(struct coordctl *ctl)
{
	struct coord_error err;

	if (ctl->conn)
		return 0;
	if (coord_conn_open(ctl->socket, &ctl->conn, &err) < 0)
		return coordctl_rpc_fail(ctl, "connect", &err);
	return 0;
}

int coordctl_rpc_call(struct coordctl *ctl, const char *method, json_object *params,
		      json_object **ret_result)
{
	struct coord_error err;
	int r = coordctl_rpc_connect(ctl);

	if (r != 0)
		return r;
	if (coord_call(ctl->conn, method, params, -1, ret_result, &err) < 0)
		return coordctl_rpc_fail(ctl, method, &err);
	return 0;
}

int coordctl_rpc_status_pages(struct coordctl *ctl, json_object *params, size_t max_pages,
			      void (*each_cb)(json_object *job, void *data), void *data)
{
	json_object *result, *jobs, *next;
	int r = 0;

	for (size_t page = 0; r == 0 && page < max_pages; page++) {
		result = jobs = next = NULL;
		r = coordctl_rpc_call(ctl, "status", params, &result);
		if (r != 0)
			break;
		json_object_object_get_ex(result, "jobs", &jobs);
		for (size_t i = 0; jobs && i < json_object_array_length(jobs); i++)
			each_cb(json_object_array_get_idx(jobs, i), data);
		json_object_object_get_ex(result, "next", &next);
		if (next)
			json_object_object_add(params, "cursor", json_object_get(next));
		json_object_put(result);
		if (!next)
			break;
	}
	return r;
}

int coordctl_rpc_mode_names(struct coordctl *ctl, json_object **ret_names)
{
	json_object *result = NULL, *modes = NULL, *names;
	int r = coordctl_rpc_call(ctl, "modes", NULL, &result);

	if (r != 0)
		return r;
	names = json_object_new_array();
	json_object_object_get_ex(result, "modes", &modes);
	for (size_t i = 0; names && json_object_is_type(modes, json_type_array) &&
			   i < json_object_array_length(modes);
	     i++) {
		const char *name = json_get_string(json_object_array_get_idx(modes, i), "name");

		if (name)
			json_object_array_add(names, json_object_new_string(name));
	}
	json_object_put(result);
	if (!names)
		return COORDCTL_EXIT_SOFTWARE;
	*ret_names = names;
	return 0;
}
