/*
 * coordctl rerun: a new job from a closed job's stored Task, with a new
 * argv after -- or the node edited in $EDITOR; prints the new request ID.
 * Every JSON object and the temporary file are freed or removed here.
 */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordctl.h"
#include "jsonutil.h"

extern char **environ;

enum {
	RERUN_OPT_REQUEST_ID = COORDCTL_OPT_FIRST_OWN,
	RERUN_OPT_EDIT,
};

/* {"argv": [...]} for the words of argv (NULL-terminated); NULL on ENOMEM. */
static json_object *rerun_argv_node(char **argv)
{
	json_object *node = json_object_new_object(), *list = json_object_new_array();

	if (!node || !list) {
		json_object_put(list);
		json_object_put(node);
		return NULL;
	}
	for (char **p = argv; *p; p++)
		json_object_array_add(list, json_object_new_string(*p));
	json_object_object_add(node, "argv", list);
	return node;
}

/* Runs $EDITOR (or vi) on path through sh, so EDITOR may hold arguments. 0 or -1. */
static int rerun_run_editor(const char *path)
{
	const char *editor = getenv("VISUAL");
	char *args[] = {"sh", "-c", "exec $0 \"$1\"", NULL, (char *)path, NULL};
	int status;
	pid_t pid;

	if (!editor || !*editor)
		editor = getenv("EDITOR");
	if (!editor || !*editor)
		editor = "vi";
	args[3] = (char *)editor;
	if (posix_spawnp(&pid, "sh", NULL, NULL, args, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * The stored node, as edited: the replacements that turn the stored node
 * into the edited one (a field the user deleted becomes null, its
 * default). 0 and *ret, or an exit code after saying why.
 */
static int rerun_edit_node(json_object *stored, json_object **ret)
{
	char path[] = "/tmp/coordctl-rerun-XXXXXX.json";
	const char *text = json_object_to_json_string_ext(
		stored,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	json_object *edited;
	int fd = mkstemps(path, 5), r = 0;
	FILE *f;

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "coordctl rerun: cannot write a temporary file: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return COORDCTL_EXIT_SOFTWARE;
	}
	fprintf(f, "%s\n", text);
	if (fclose(f) != 0 || rerun_run_editor(path) < 0) {
		fprintf(stderr, "coordctl rerun: the editor failed; nothing was re-run\n");
		r = COORDCTL_EXIT_FAILED;
	} else if (!(edited = json_object_from_file(path)) ||
		   !json_object_is_type(edited, json_type_object)) {
		json_object_put(edited);
		fprintf(stderr,
			"coordctl rerun: %s does not hold a JSON object; nothing was "
			"re-run\n",
			path);
		r = COORDCTL_EXIT_FAILED;
	} else {
		json_object_object_foreach (stored, key, val) {
			(void)val;
			if (!json_object_object_get_ex(edited, key, NULL))
				json_object_object_add(edited, key, NULL);
		}
		*ret = edited;
	}
	unlink(path);
	return r;
}

/* The node of the job's stored Task (a new reference), or an exit code. */
static int rerun_stored_node(struct coordctl *ctl, const char *id, json_object **ret)
{
	json_object *result = NULL, *node = NULL;
	struct coord_error err;

	if (coord_job(ctl->conn, id, &result, &err) < 0)
		return coordctl_rpc_fail("rerun", &err);
	node = json_object_object_get(
		json_object_object_get(json_object_object_get(result, "job"), "task"), "node");
	if (!node) {
		json_object_put(result);
		fprintf(stderr,
			"coordctl rerun: job %s shows no stored task to edit (only its "
			"owner and root see it)\n",
			id);
		return COORDCTL_EXIT_NOPERM;
	}
	*ret = json_object_get(node);
	json_object_put(result);
	return 0;
}

static int rerun_send(struct coordctl *ctl, const char *id, const char *new_id, int edit,
		      char **new_argv)
{
	json_object *result = NULL, *node = NULL, *stored = NULL, *job = NULL;
	struct coord_error err;
	int r = coordctl_rpc_connect(ctl);

	if (r == 0 && edit && (r = rerun_stored_node(ctl, id, &stored)) == 0) {
		r = rerun_edit_node(stored, &node);
		json_object_put(stored);
	}
	if (r == 0 && !edit && *new_argv && !(node = rerun_argv_node(new_argv)))
		r = COORDCTL_EXIT_SOFTWARE;
	if (r != 0)
		return r;
	if (coord_rerun(ctl->conn, id, new_id, node, &result, &err) < 0) {
		json_object_put(node);
		return coordctl_rpc_fail("rerun", &err);
	}
	json_object_put(node);
	json_object_object_get_ex(result, "job", &job);
	if (ctl->json)
		coordctl_format_json(ctl, job);
	else
		printf("%s\n", json_get_string(job, "request_id") ?: "?");
	json_object_put(result);
	return 0;
}

static int rerun_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{"request-id", required_argument, NULL, RERUN_OPT_REQUEST_ID},
		{"edit", no_argument, NULL, RERUN_OPT_EDIT},
		COORDCTL_COMMON_OPTIONS,
	};
	const char *new_id = NULL, *id;
	int c, edit = 0, r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = getopt_long(argc, argv, "+he", opts, NULL)) != -1) {
		if (c == RERUN_OPT_REQUEST_ID)
			new_id = optarg;
		else if (c == RERUN_OPT_EDIT || c == 'e')
			edit = 1;
		else
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind >= argc)
		return coordctl_usage_error(entry, "give the request ID of a closed job");
	id = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	else if (optind < argc)
		return coordctl_usage_error(entry, "put the new command after --");
	if (edit && optind < argc)
		return coordctl_usage_error(entry, "give --edit or a new command, not both");
	return rerun_send(ctl, id, new_id, edit, argv + optind);
}

const struct coordctl_entry coordctl_rerun_entry = {
	.name = "rerun",
	.usage = "[--request-id NEW] [--edit] ID [-- ARGV...]",
	.summary = "Run a closed job's task again as a new job; print the new request ID.",
	.help = "  --request-id NEW  the new job's request_id (default: a generated one)\n"
		"  -e, --edit        edit the task's node (JSON) in $VISUAL or $EDITOR first\n"
		"  -- ARGV...        run this command instead of the stored one\n",
	.exec = rerun_exec,
};
