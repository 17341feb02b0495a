/*
 * submit-child: what a task runs to fan out a child, as a node does in the
 * seed. Connects to $COORD_SOCKET, submits ARGV with parent_node_id =
 * $COORD_NODE_ID (and "wait": true unless -n), prints the response line and
 * exits 0 when the submit succeeded (with wait: when the child succeeded).
 *
 * With -a ID the child is submitted with "after": [ID]. With -W ID it
 * submits nothing: it waits for the job ID (the wait method) instead.
 *
 * Usage: submit-child [-m MODE] [-i REQUEST_ID] [-a AFTER] [-n] ARGV...
 *        submit-child -W REQUEST_ID
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

static int submit_child_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	return fd;
}

/* {"jsonrpc":"2.0","id":1,"method":method,"params":params (taken)}. */
static json_object *submit_child_envelope(const char *method, json_object *params)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	json_object_object_add(req, "params", params);
	return req;
}

static json_object *submit_child_wait_request(const char *id)
{
	json_object *params = json_object_new_object(), *ids = json_object_new_array();

	json_object_array_add(ids, json_object_new_string(id));
	json_object_object_add(params, "request_ids", ids);
	return submit_child_envelope("wait", params);
}

static json_object *submit_child_request(int argc, char **argv, const char *mode, const char *id,
					 const char *after, bool wait)
{
	json_object *params = json_object_new_object();
	json_object *node = json_object_new_object(), *args = json_object_new_array();
	const char *parent = getenv("COORD_NODE_ID");

	for (int i = 0; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(node, "argv", args);
	json_object_object_add(params, "node", node);
	json_object_object_add(params, "parent_node_id",
			       parent ? json_object_new_string(parent) : NULL);
	json_object_object_add(params, "wait", json_object_new_boolean(wait));
	if (mode)
		json_object_object_add(params, "mode", json_object_new_string(mode));
	if (id)
		json_object_object_add(params, "request_id", json_object_new_string(id));
	if (after) {
		json_object *list = json_object_new_array();

		json_object_array_add(list, json_object_new_string(after));
		json_object_object_add(params, "after", list);
	}
	return submit_child_envelope("submit", params);
}

/* Reads up to the first newline; NULL on error. */
static char *submit_child_read_line(int fd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n;
		char *nl = memchr(buf, '\n', len);

		if (nl) {
			*nl = '\0';
			return buf;
		}
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("COORD_SOCKET"), *mode = NULL, *id = NULL, *text;
	const char *after = NULL, *wait_for = NULL;
	json_object *req, *resp, *result, *job, *v;
	bool wait = true;
	int fd, c, ok;
	char *line;

	while ((c = getopt(argc, argv, "+m:i:a:W:n")) != -1) {
		switch (c) {
		case 'a':
			after = optarg;
			break;
		case 'W':
			wait_for = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'n':
			wait = false;
			break;
		default:
			return 2;
		}
	}
	if ((optind >= argc && !wait_for) || !sock) {
		fprintf(stderr, "usage: submit-child [-m MODE] [-i ID] [-a AFTER] [-n] ARGV... "
				"| -W ID (with COORD_SOCKET set)\n");
		return 2;
	}
	fd = submit_child_connect(sock);
	if (fd < 0) {
		fprintf(stderr, "submit-child: cannot connect to %s: %s\n", sock, strerror(errno));
		return 1;
	}
	req = wait_for ? submit_child_wait_request(wait_for)
		       : submit_child_request(argc - optind, argv + optind, mode, id, after, wait);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (write(fd, text, strlen(text)) < 0 || write(fd, "\n", 1) < 0) {
		fprintf(stderr, "submit-child: write: %s\n", strerror(errno));
		return 1;
	}
	json_object_put(req);
	line = submit_child_read_line(fd);
	close(fd);
	if (!line) {
		fprintf(stderr, "submit-child: no answer\n");
		return 1;
	}
	printf("%s\n", line);
	resp = json_tokener_parse(line);
	free(line);
	ok = resp && json_object_object_get_ex(resp, "result", &result);
	if (ok && wait && !wait_for)
		ok = json_object_object_get_ex(result, "job", &job) &&
		     json_object_object_get_ex(job, "result", &v) && v &&
		     strcmp(json_object_get_string(v), "success") == 0;
	json_object_put(resp);
	return ok ? 0 : 1;
}
