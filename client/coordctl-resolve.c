/* coordctl's job names: what a user types for a job (a request_id, a unique prefix of one, the
 * name of an open job) to a request_id, and a job back to a short label. Callers own results. */
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

/* Candidates fetched per lookup: one more than we list, to know there are more. */
#define RESOLVE_LIMIT 11

const char *coordctl_short_id(const struct coordctl *ctl, const char *id, char *buf, size_t size)
{
	if (!id)
		return "?";
	if (ctl->full || ctl->json)
		return id;
	snprintf(buf, size, "%.*s", COORDCTL_SHORT_ID, id);
	return buf;
}

const char *coordctl_job_label(const struct coordctl *ctl, json_object *job, char *buf, size_t size)
{
	const char *id = json_get_string(job, "request_id"), *name = json_get_string(job, "name");
	char sid[COORDCTL_SHORT_ID + 1];

	if (!ctl->full && id && name)
		snprintf(buf, size, "%s (%s)", coordctl_short_id(ctl, id, sid, sizeof(sid)), name);
	else if (id && name)
		snprintf(buf, size, "%s (%s)", id, name);
	else
		snprintf(buf, size, "%s", id ? id : "?");
	return buf;
}

/* Adds job to found unless a job with its request_id is there already. */
static void resolve_add(json_object *found, json_object *job)
{
	const char *id = json_get_string(job, "request_id");

	if (!id)
		return;
	for (size_t i = 0; i < json_object_array_length(found); i++)
		if (strcmp(json_get_string(json_object_array_get_idx(found, i), "request_id") ?: "",
			   id) == 0)
			return;
	json_object_array_add(found, json_object_get(job));
}

/*
 * Runs status with filter key=arg (plus extra_key=extra_value when given) and
 * adds the jobs whose field matches (a prefix of request_id, or exactly the
 * name) to found. A daemon that refuses the filter (-32602), or ignores it,
 * sets *ret_unsupported. Returns 0 or an exit code after reporting.
 */
static int resolve_lookup(struct coordctl *ctl, const char *key, const char *arg,
			  const char *status, json_object *found, int *ret_unsupported)
{
	json_object *params = json_object_new_object(), *result = NULL, *jobs = NULL;
	int prefix = strcmp(key, "request_id_prefix") == 0;
	struct coord_error err;

	if (!params)
		return COORDCTL_EXIT_SOFTWARE;
	json_object_object_add(params, key, json_object_new_string(arg));
	json_object_object_add(params, "limit", json_object_new_int(RESOLVE_LIMIT));
	if (status)
		json_object_object_add(params, "status", json_object_new_string(status));
	if (coord_call(ctl->conn, "status", params, -1, &result, &err) < 0) {
		json_object_put(params);
		if (err.kind == COORD_ERR_RPC && err.code == -32602) {
			*ret_unsupported = 1;
			return 0;
		}
		return coordctl_rpc_fail(ctl, "status", &err);
	}
	json_object_put(params);
	json_object_object_get_ex(result, "jobs", &jobs);
	for (size_t i = 0; jobs && i < json_object_array_length(jobs); i++) {
		json_object *job = json_object_array_get_idx(jobs, i);
		const char *v = json_get_string(job, prefix ? "request_id" : "name");

		if (v && (prefix ? strncmp(v, arg, strlen(arg)) == 0 : strcmp(v, arg) == 0))
			resolve_add(found, job);
		else
			*ret_unsupported = 1; /* an older daemon that ignored the filter */
	}
	json_object_put(result);
	return 0;
}

/* 1 when request_id names a job (the exact id wins over any longer id it prefixes). */
static int resolve_exists(struct coordctl *ctl, const char *request_id)
{
	json_object *params = json_object_new_object(), *result = NULL;
	int r;

	if (!params)
		return 0;
	json_object_object_add(params, "request_id", json_object_new_string(request_id));
	r = coord_call(ctl->conn, "job", params, -1, &result, NULL) == 0;
	json_object_put(params);
	json_object_put(result);
	return r;
}

static int resolve_ambiguous(struct coordctl *ctl, const char *arg, json_object *found)
{
	size_t n = json_object_array_length(found);
	json_object *extra = json_object_new_object();
	char more[32] = "";

	if (n >= RESOLVE_LIMIT)
		snprintf(more, sizeof(more), " or more");
	json_object_object_add(extra, "candidates", json_object_get(found));
	coordctl_fail(ctl, COORDCTL_EXIT_FAILED, "ambiguous", extra,
		      "'%s' is ambiguous: it names %zu%s jobs", arg, n, more);
	json_object_put(extra);
	if (ctl->json)
		return COORDCTL_EXIT_FAILED;
	for (size_t i = 0; i < n && i < RESOLVE_LIMIT - 1; i++) {
		json_object *job = json_object_array_get_idx(found, i);

		fprintf(stderr, "  %s  %-24s %s\n", json_get_string(job, "request_id") ?: "?",
			json_get_string(job, "name") ?: "-", coordctl_format_state(job));
	}
	return COORDCTL_EXIT_FAILED;
}

/* A generated request_id (a UUID) is taken as it is: no lookup needed. */
static int resolve_is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	}
	return 1;
}

int coordctl_resolve(struct coordctl *ctl, const char *arg, char **ret_id)
{
	json_object *found;
	int r, unsupported = 0;
	char *id;

	/* Callers go on with ctl->conn, whatever the lookup needed. */
	r = coordctl_rpc_connect(ctl);
	if (r != 0)
		return r;
	if (resolve_is_uuid(arg)) {
		id = strdup(arg);
		if (!id)
			return COORDCTL_EXIT_SOFTWARE;
		*ret_id = id;
		return 0;
	}
	found = json_object_new_array();
	r = found ? 0 : COORDCTL_EXIT_SOFTWARE;
	if (r == 0 && strlen(arg) >= 4)
		r = resolve_lookup(ctl, "request_id_prefix", arg, NULL, found, &unsupported);
	if (unsupported)
		ctl->no_prefix = 1;
	if (r == 0 && json_object_array_length(found) == 1 &&
	    strcmp(json_get_string(json_object_array_get_idx(found, 0), "request_id"), arg) == 0) {
		/* the whole request_id: no name can take its place */
	} else if (r == 0 && json_object_array_length(found) != 1 && resolve_exists(ctl, arg)) {
		json_object_put(found);
		found = json_object_new_array();
	} else if (r == 0) {
		r = resolve_lookup(ctl, "name", arg, "opened", found, &unsupported);
	}
	if (r == 0 && found && json_object_array_length(found) > 1)
		r = resolve_ambiguous(ctl, arg, found);
	if (r == 0 && found && json_object_array_length(found) == 1)
		id = strdup(json_get_string(json_object_array_get_idx(found, 0), "request_id"));
	else
		id = strdup(arg); /* unknown: the daemon says so in its own words */
	json_object_put(found);
	if (r != 0 || !id) {
		free(id);
		return r ? r : COORDCTL_EXIT_SOFTWARE;
	}
	*ret_id = id;
	return 0;
}

int coordctl_resolve_all(struct coordctl *ctl, int argc, char **argv, char ***ret_ids)
{
	char **ids = calloc((size_t)argc + 1, sizeof(*ids));
	int r = ids ? 0 : COORDCTL_EXIT_SOFTWARE;

	for (int i = 0; r == 0 && i < argc; i++)
		r = coordctl_resolve(ctl, argv[i], &ids[i]);
	if (r != 0) {
		coordctl_resolve_free(ids);
		return r;
	}
	*ret_ids = ids;
	return 0;
}

void coordctl_resolve_free(char **ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		free(ids[i]);
	free(ids);
}
