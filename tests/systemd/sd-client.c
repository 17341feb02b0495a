/*
 * A minimal NDJSON client for the access-control tests, run as another
 * uid through setpriv: connects to SOCKET, sends each LINE, and prints one
 * response line per LINE that has an "id"; at "@wait" it prints the answers
 * so far and waits for a byte on stdin. Needs nothing but libc, so a
 * copy in a world-readable directory runs as any user. Exit status: 0 when
 * every answer came, 3 when the daemon hung up first (what came is
 * printed), 1 otherwise (with the reason on stderr).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_CLIENT_TIMEOUT_MS 30000

static int sd_client_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Prints the next expected answers; -1 when they do not come, -2 when the daemon hangs up first. */
static int sd_client_answers(int fd, char *buf, size_t *len, size_t cap, int expected)
{
	while (expected > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char *nl;
		ssize_t n;

		while (expected > 0 && (nl = memchr(buf, '\n', *len))) {
			fwrite(buf, 1, (size_t)(nl - buf) + 1, stdout);
			*len -= (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, *len);
			expected--;
		}
		if (expected == 0)
			break;
		if (poll(&pfd, 1, SD_CLIENT_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "sd-client: no answer in time\n");
			return -1;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n <= 0) {
			fprintf(stderr, "sd-client: the daemon closed the connection\n");
			fflush(stdout);
			return -2;
		}
		*len += (size_t)n;
		if (*len == cap) {
			fprintf(stderr, "sd-client: answer too long\n");
			return -1;
		}
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static char buf[65536];
	size_t len = 0;
	int fd, expected = 0, r;
	char c;

	if (argc < 3) {
		fprintf(stderr, "usage: sd-client SOCKET LINE|@wait...\n");
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "sd-client: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		/* @wait: print the answers so far, then wait for a byte on stdin. */
		if (strcmp(argv[i], "@wait") == 0) {
			if ((r = sd_client_answers(fd, buf, &len, sizeof(buf), expected)) < 0)
				return r == -2 ? 3 : 1;
			expected = 0;
			if (read(0, &c, 1) != 1) {
				fprintf(stderr, "sd-client: nothing on stdin\n");
				return 1;
			}
			continue;
		}
		if (strstr(argv[i], "\"id\""))
			expected++;
		if (sd_client_write_all(fd, argv[i], strlen(argv[i])) < 0 ||
		    sd_client_write_all(fd, "\n", 1) < 0) {
			/*
			 * The daemon may have hung up (a refused peer): the lines not sent
			 * are still owed an answer; print what did come.
			 */
			fprintf(stderr, "sd-client: write: %s\n", strerror(errno));
			for (int j = i + 1; j < argc; j++)
				expected += strstr(argv[j], "\"id\"") != NULL;
			break;
		}
	}
	if ((r = sd_client_answers(fd, buf, &len, sizeof(buf), expected)) < 0)
		return r == -2 ? 3 : 1;
	close(fd);
	return 0;
}
