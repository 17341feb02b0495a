/* coordctl tree: draws the task tree of a run from status replies; owns the job array it builds. */
#include <stdlib.h>
#include <string.h>

#include "coordctl.h"
#include "jsonutil.h"

/* Pages fetched at most: 10000 jobs each. */
#define TREE_MAX_PAGES 100

struct tree {
	struct coordctl *ctl;
	json_object *jobs;	 /* owned: every job fetched */
	json_object **by_parent; /* borrowed from jobs, sorted by parent_node_id */
	json_object **by_child;	 /* borrowed from jobs, sorted by child_node_id */
	size_t n;
};

static const char *tree_str(json_object *job, const char *key)
{
	return json_get_string(job, key) ?: "";
}

static double tree_start(json_object *job)
{
	double t = 0;

	coordctl_format_number(job, "start_time", &t);
	return t;
}

static int tree_cmp_parent(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	int c = strcmp(tree_str(x, "parent_node_id"), tree_str(y, "parent_node_id"));
	double tx = tree_start(x), ty = tree_start(y);

	if (c)
		return c;
	return (tx > ty) - (tx < ty);
}

static int tree_cmp_child(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;

	return strcmp(tree_str(x, "child_node_id"), tree_str(y, "child_node_id"));
}

static int tree_cmp_child_key(const void *key, const void *elem)
{
	return strcmp(key, tree_str(*(json_object *const *)elem, "child_node_id"));
}

static void tree_add_cb(json_object *job, void *data)
{
	json_object_array_add(data, json_object_get(job));
}

/* Fetches every job of run_id (all recent jobs when NULL); returns 0 or an exit code. */
static int tree_fetch(struct tree *t, const char *run_id)
{
	json_object *params = json_object_new_object();
	int r;

	t->jobs = json_object_new_array();
	if (!params || !t->jobs) {
		json_object_put(params);
		return COORDCTL_EXIT_SOFTWARE;
	}
	if (run_id)
		json_object_object_add(params, "run_id", json_object_new_string(run_id));
	json_object_object_add(params, "limit", json_object_new_int(run_id ? 10000 : 1000));
	r = coordctl_rpc_status_pages(t->ctl, params, run_id ? TREE_MAX_PAGES : 1, tree_add_cb,
				      t->jobs);
	json_object_put(params);
	return r;
}

/* Replaces *id (a job that is not a run's root) by its run_id; -1 when there is no such job. */
static int tree_run_of(struct tree *t, char **id)
{
	json_object *params = json_object_new_object(), *result = NULL, *job = NULL;
	const char *run;
	char *copy = NULL;

	if (!params)
		return -1;
	json_object_object_add(params, "request_id", json_object_new_string(*id));
	if (coord_call(t->ctl->conn, "job", params, -1, &result, NULL) == 0 &&
	    json_object_object_get_ex(result, "job", &job) &&
	    (run = json_get_string(job, "run_id")))
		copy = strdup(run);
	json_object_put(result);
	json_object_put(params);
	if (!copy)
		return -1;
	free(*id);
	*id = copy;
	return 0;
}

/* The children of node (a child_node_id): a run of by_parent; *ret_n is its length. */
static json_object **tree_children(struct tree *t, const char *node, size_t *ret_n)
{
	size_t lo = 0, hi = t->n, first;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(tree_str(t->by_parent[mid], "parent_node_id"), node) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < t->n && strcmp(tree_str(t->by_parent[lo], "parent_node_id"), node) == 0)
		lo++;
	*ret_n = lo - first;
	return t->by_parent + first;
}

static int tree_is_root(struct tree *t, json_object *job)
{
	const char *parent = json_get_string(job, "parent_node_id");

	if (!parent)
		return 1;
	return !bsearch(parent, t->by_child, t->n, sizeof(*t->by_child), tree_cmp_child_key);
}

static void tree_print_node(struct tree *t, json_object *job, const char *prefix, int last,
			    int depth)
{
	const int uni = t->ctl->is_tty;
	const char *res = json_get_string(job, "result");
	json_object **kids;
	size_t nkids;
	char buf[64], *sub;

	printf("%s%s%s%s %s [%s%s%s]\n", prefix,
	       depth == 0 ? "" : (last ? (uni ? "└─ " : "`- ") : (uni ? "├─ " : "|- ")),
	       tree_str(job, "request_id"), "", tree_str(job, "name"),
	       coordctl_format_color(t->ctl, res),
	       res ? coordctl_format_result(job, buf, sizeof(buf)) : coordctl_format_state(job),
	       res && *coordctl_format_color(t->ctl, res) ? coordctl_format_reset(t->ctl) : "");
	if (depth > 64)
		return;
	kids = tree_children(t, tree_str(job, "child_node_id"), &nkids);
	if (nkids == 0 || !*tree_str(job, "child_node_id"))
		return;
	if (asprintf(&sub, "%s%s", prefix,
		     depth == 0 ? "" : (last ? "   " : (uni ? "│  " : "|  "))) < 0)
		return;
	for (size_t i = 0; i < nkids; i++)
		tree_print_node(t, kids[i], sub, i + 1 == nkids, depth + 1);
	free(sub);
}

/* The JSON form: {"job": Job, "children": [...]} (new reference). */
static json_object *tree_json(struct tree *t, json_object *job, int depth)
{
	json_object *node = json_object_new_object(), *children = json_object_new_array();
	json_object **kids;
	size_t nkids = 0;

	json_object_object_add(node, "job", json_object_get(job));
	json_object_object_add(node, "children", children);
	if (depth > 64 || !*tree_str(job, "child_node_id"))
		return node;
	kids = tree_children(t, tree_str(job, "child_node_id"), &nkids);
	for (size_t i = 0; i < nkids; i++)
		json_object_array_add(children, tree_json(t, kids[i], depth + 1));
	return node;
}

static void tree_print(struct tree *t)
{
	json_object *roots = json_object_new_array();
	json_object **order = calloc(t->n ? t->n : 1, sizeof(*order));
	size_t nroots = 0;

	if (!roots || !order) {
		json_object_put(roots);
		free(order);
		return;
	}
	/* Roots oldest first, like their children. */
	for (size_t i = t->n; i-- > 0;) {
		json_object *job = json_object_array_get_idx(t->jobs, i);

		if (tree_is_root(t, job))
			order[nroots++] = job;
	}
	for (size_t i = 0; i < nroots; i++) {
		if (t->ctl->json)
			json_object_array_add(roots, tree_json(t, order[i], 0));
		else
			tree_print_node(t, order[i], "", 1, 0);
	}
	if (t->ctl->json) {
		json_object *wrap = json_object_new_object();

		json_object_object_add(wrap, "roots", json_object_get(roots));
		coordctl_format_json(t->ctl, wrap);
		json_object_put(wrap);
	}
	json_object_put(roots);
	free(order);
}

static int tree_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		     char **argv)
{
	struct tree t = {.ctl = ctl};
	char *run = NULL;
	int r = coordctl_common_args(ctl, entry, argc, argv, 0, 1);

	if (r != COORDCTL_CONTINUE)
		return r;
	r = optind < argc ? coordctl_resolve(ctl, argv[optind], &run) : 0;
	if (r == 0)
		r = tree_fetch(&t, run);
	if (r == 0 && run && json_object_array_length(t.jobs) == 0 && tree_run_of(&t, &run) == 0) {
		json_object_put(t.jobs);
		r = tree_fetch(&t, run);
	}
	if (r == 0 && run && json_object_array_length(t.jobs) == 0)
		r = coordctl_fail(ctl, COORDCTL_EXIT_FAILED, "not_found", NULL,
				  "no job has run_id '%s'", run);
	free(run);
	if (r == 0) {
		t.n = json_object_array_length(t.jobs);
		t.by_parent = calloc(t.n ? t.n : 1, sizeof(*t.by_parent));
		t.by_child = calloc(t.n ? t.n : 1, sizeof(*t.by_child));
		if (!t.by_parent || !t.by_child)
			r = COORDCTL_EXIT_SOFTWARE;
	}
	if (r == 0) {
		for (size_t i = 0; i < t.n; i++)
			t.by_parent[i] = t.by_child[i] = json_object_array_get_idx(t.jobs, i);
		qsort(t.by_parent, t.n, sizeof(*t.by_parent), tree_cmp_parent);
		qsort(t.by_child, t.n, sizeof(*t.by_child), tree_cmp_child);
		tree_print(&t);
	}
	free(t.by_parent);
	free(t.by_child);
	json_object_put(t.jobs);
	return r;
}

const struct coordctl_entry coordctl_tree_entry = {
	.name = "tree",
	.usage = "[RUN_ID]",
	.summary = "Draw the task tree of a run (or of the recent jobs) by parent and child node.",
	.help = "  RUN_ID may be any job of the run: the tree is drawn from its run's root\n",
	.exec = tree_exec,
};
