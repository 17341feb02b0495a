/*
 * coordctl web: the command as coordctl-web runs it. Checks that the
 * address is a loopback one, makes the token, listens, prints the URL and
 * runs the loop until SIGINT or SIGTERM. Everything it allocates is freed
 * before it returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "coordctl.h"
#include "coordctl-web.h"

enum { WEB_OPT_LISTEN = COORDCTL_OPT_FIRST_OWN, WEB_OPT_TOKEN_FILE };

/* The shortest token a --token-file may hold. */
#define WEB_TOKEN_MIN 16
/* What evhttp accepts from a browser: the page sends GETs with small headers. */
#define WEB_MAX_HEADERS (64 * 1024)
#define WEB_MAX_BODY	(64 * 1024)

/* Whether addr is on the loopback network (127.0.0.0/8, ::1, or v4-mapped 127/8). */
static int web_is_loopback(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

/* ADDRESS:PORT; libevent refuses port 0 (any free port), which is ADDRESS alone to it. */
static int web_parse_address(const char *text, struct sockaddr_storage *addr, int *len)
{
	char host[128];
	size_t n = strlen(text);

	if (n >= 2 && strcmp(text + n - 2, ":0") == 0 && n - 2 < sizeof(host)) {
		memcpy(host, text, n - 2);
		host[n - 2] = '\0';
		text = host;
	}
	return evutil_parse_sockaddr_port(text, (struct sockaddr *)addr, len);
}

/* The token: 32 bytes from getrandom, in hex. */
static int web_make_token(char *token)
{
	unsigned char raw[COORDCTL_WEB_TOKEN_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* A token as a --token-file holds it: letters, digits, '-', '_' and '.'. */
static int web_token_valid(const char *token)
{
	size_t n = strlen(token);

	return n >= WEB_TOKEN_MIN && n <= COORDCTL_WEB_TOKEN_LEN &&
	       strspn(token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		       n;
}

/*
 * --token-file: the token it holds (its first line), so that it stays the
 * same across restarts (a Prometheus credentials_file); a file that does
 * not exist yet is created (mode 0600) with a new random token. 0, or a
 * negative errno with *why set (-EINVAL: the file holds no valid token).
 */
static int web_token_file(const char *path, char *token, const char **why)
{
	FILE *f = fopen(path, "re");
	int fd, r;

	if (f) {
		char line[COORDCTL_WEB_TOKEN_LEN + 2] = "";

		r = fgets(line, sizeof(line), f) ? 0 : -EINVAL;
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		*why = "it must hold one line of 16 to 64 letters, digits, '-', '_' or '.'";
		if (r < 0 || !web_token_valid(line))
			return -EINVAL;
		memcpy(token, line, strlen(line) + 1);
		return 0;
	}
	*why = "cannot read or create it";
	if (errno != ENOENT)
		return -errno;
	r = web_make_token(token);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = dprintf(fd, "%s\n", token) < 0 ? -EIO : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static void web_signal_cb(evutil_socket_t sig, short what, void *base)
{
	(void)sig;
	(void)what;
	event_base_loopexit(base, NULL);
}

/* Listens on addr; prints the URL once the port is known. */
static int web_listen(struct coordctl_web *web, const struct sockaddr_storage *addr, int len)
{
	struct evhttp_bound_socket *bound;
	struct evconnlistener *listener;
	struct sockaddr_storage got;
	socklen_t got_len = sizeof(got);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	listener = evconnlistener_new_bind(web->base, NULL, NULL,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						   LEV_OPT_REUSEABLE,
					   -1, (const struct sockaddr *)addr, len);
	if (!listener)
		return errno ? -errno : -EADDRNOTAVAIL;
	bound = evhttp_bind_listener(web->http, listener);
	if (!bound) {
		evconnlistener_free(listener);
		return -ENOMEM;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&got, &got_len) < 0)
		return -errno;
	if (got.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&got)->sin6_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
		printf("http://[%s]:%u/?token=%s\n", host, port, web->token);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&got)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&got)->sin_port);
		printf("http://%s:%u/?token=%s\n", host, port, web->token);
	}
	snprintf(web->cookie, sizeof(web->cookie), "coordweb_%u", port);
	fflush(stdout);
	return 0;
}

static int web_run(struct coordctl_web *web, const struct sockaddr_storage *addr, int len)
{
	struct event *sigs[2] = {NULL, NULL};
	int r;

	web->base = event_base_new();
	web->http = web->base ? evhttp_new(web->base) : NULL;
	if (!web->http)
		return -ENOMEM;
	evhttp_set_allowed_methods(web->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(web->http, WEB_MAX_HEADERS);
	evhttp_set_max_body_size(web->http, WEB_MAX_BODY);
	evhttp_set_gencb(web->http, coordctl_web_http_cb, web);
	/* Signals first: whoever reads the URL may stop us at once. */
	sigs[0] = evsignal_new(web->base, SIGINT, web_signal_cb, web->base);
	sigs[1] = evsignal_new(web->base, SIGTERM, web_signal_cb, web->base);
	r = 0;
	for (size_t i = 0; i < 2; i++)
		if (!sigs[i] || event_add(sigs[i], NULL) < 0)
			r = -ENOMEM;
	if (r == 0)
		r = web_listen(web, addr, len);
	if (r == 0 && event_base_dispatch(web->base) < 0)
		r = -EIO;
	for (size_t i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	return r;
}

static void web_free(struct coordctl_web *web)
{
	coordctl_web_sse_close_all(web);
	if (web->http)
		evhttp_free(web->http);
	coord_conn_close(web->conn);
	if (web->base)
		event_base_free(web->base);
}

int coordctl_web_exec(struct coordctl *ctl, const struct coordctl_entry *entry, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, WEB_OPT_LISTEN},
		{"token-file", required_argument, NULL, WEB_OPT_TOKEN_FILE},
		COORDCTL_COMMON_OPTIONS,
	};
	const char *listen = "127.0.0.1:0", *token_file = NULL, *why = NULL;
	struct coordctl_web web = {0};
	struct sockaddr_storage addr;
	int c, len = sizeof(addr), r = COORDCTL_CONTINUE;

	while (r == COORDCTL_CONTINUE && (c = coordctl_getopt(ctl, argc, argv, ":h", opts)) != -1) {
		if (c == WEB_OPT_LISTEN)
			listen = optarg;
		else if (c == WEB_OPT_TOKEN_FILE)
			token_file = optarg;
		else
			r = coordctl_option(ctl, entry, c);
	}
	if (r != COORDCTL_CONTINUE)
		return r;
	if (optind < argc)
		return coordctl_usage_error(ctl, "unexpected argument '%s'", argv[optind]);
	memset(&addr, 0, sizeof(addr));
	if (web_parse_address(listen, &addr, &len) < 0)
		return coordctl_usage_error(ctl, "--listen takes ADDRESS:PORT, not '%s'", listen);
	if (!web_is_loopback(&addr))
		return coordctl_usage_error(ctl,
					    "--listen %s is not a loopback address; the web view "
					    "listens on 127.0.0.1 or ::1 only",
					    listen);
	if (token_file) {
		r = web_token_file(token_file, web.token, &why);
		if (r < 0) {
			return coordctl_fail(ctl, COORDCTL_EXIT_NOINPUT, "input", NULL,
					     "--token-file %s: %s (%s)", token_file, why,
					     strerror(-r));
		}
	} else if (web_make_token(web.token) < 0) {
		perror("coordctl: web: getrandom");
		return COORDCTL_EXIT_SOFTWARE;
	}
	web.socket = ctl->socket;
	TAILQ_INIT(&web.streams);
	signal(SIGPIPE, SIG_IGN);
	r = web_run(&web, &addr, len);
	web_free(&web);
	if (r < 0)
		return coordctl_fail(
			ctl, r == -ENOMEM ? COORDCTL_EXIT_SOFTWARE : COORDCTL_EXIT_UNAVAILABLE,
			"io", NULL, "cannot serve on %s: %s", listen, strerror(-r));
	return COORDCTL_EXIT_OK;
}
