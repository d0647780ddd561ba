/* What starting a peer needs around the process itself (peer_int.h): the
 * program, a port, argv and environment, the log, the readiness probe, and
 * where the Node peers live. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "peer_int.h"

extern char **environ;

static char error_text[4096];

void peer_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_text, sizeof(error_text), fmt, ap);
	va_end(ap);
}

const char *peer_error(void)
{
	return error_text[0] != '\0' ? error_text : "no error";
}

long long peer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void peer_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int peer_find_program(const char *program, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(program, '/') != NULL) {
		snprintf(out, size, "%s", program);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		const char *colon = strchr(path, ':');
		size_t len = colon != NULL ? (size_t)(colon - path) : strlen(path);

		if (len > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)len, path,
		                                program) < size && access(out, X_OK) == 0)
			return 0;
		path += len;
		if (*path == ':')
			path++;
	}
	return -1;
}

int peer_free_port(unsigned short *port)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(addr.sin_port);
	close(fd);
	return 0;
}

/* A copy of s with every "{port}" replaced by the port. */
static char *substitute_port(const char *s, unsigned short port)
{
	char digits[8];
	size_t dlen = (size_t)snprintf(digits, sizeof(digits), "%u", port);
	size_t n = 0;
	const char *p;
	char *out, *w;

	for (p = strstr(s, "{port}"); p != NULL; p = strstr(p + 6, "{port}"))
		n++;
	out = malloc(strlen(s) + n * dlen + 1);
	if (out == NULL)
		return NULL;
	for (w = out; *s != '\0';) {
		if (strncmp(s, "{port}", 6) == 0) {
			memcpy(w, digits, dlen);
			w += dlen;
			s += 6;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
	return out;
}

char **peer_child_argv(const char *const *argv, unsigned short port)
{
	size_t argc = 0;
	char **copy;

	while (argv[argc] != NULL)
		argc++;
	copy = calloc(argc + 1, sizeof(copy[0]));
	for (size_t i = 0; copy != NULL && i < argc; i++)
		if ((copy[i] = substitute_port(argv[i], port)) == NULL) {
			peer_free_argv(copy);
			return NULL;
		}
	return copy;
}

void peer_free_argv(char **argv)
{
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static bool same_name(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");

	return la == lb && strncmp(a, b, la) == 0;
}

char **peer_child_env(const char *const *extra, const char *port_entry)
{
	size_t n_env = 0, n_extra = 0, i, j, k = 0;
	char **env;

	while (environ[n_env] != NULL)
		n_env++;
	while (extra != NULL && extra[n_extra] != NULL)
		n_extra++;
	env = calloc(n_env + n_extra + 2, sizeof(env[0]));
	if (env == NULL)
		return NULL;
	for (i = 0; i < n_env; i++) {
		bool replaced = port_entry != NULL && same_name(environ[i], port_entry);

		for (j = 0; j < n_extra && !replaced; j++)
			replaced = same_name(environ[i], extra[j]);
		if (!replaced)
			env[k++] = environ[i];
	}
	for (j = 0; j < n_extra; j++)
		env[k++] = (char *)extra[j];
	if (port_entry != NULL)
		env[k++] = (char *)port_entry;
	env[k] = NULL;
	return env;
}

void peer_default_log_path(char *out, size_t size, const char *name)
{
	const char *build = getenv("COG_TEST_BUILD_ROOT");
	const char *tmp = getenv("TMPDIR");
	char dir[400];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/meson-logs", build != NULL ? build : "");
	if (build == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		snprintf(dir, sizeof(dir), "%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	snprintf(out, size, "%s/peer-%s-%ld.log", dir, name, (long)getpid());
}

const char *peer_log_tail(const char *path)
{
	static char tail[1500];
	FILE *f = fopen(path, "rb");
	long size;

	tail[0] = '\0';
	if (f == NULL)
		return "(no log)";
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0) {
		long from = size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0;

		if (fseek(f, from, SEEK_SET) == 0)
			tail[fread(tail, 1, sizeof(tail) - 1, f)] = '\0';
	}
	fclose(f);
	return tail[0] != '\0' ? tail : "(empty log)";
}

int peer_probe(unsigned short port, const char *path)
{
	struct sockaddr_in addr;
	char request[512], answer[64];
	size_t got = 0;
	int fd, status = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		goto done;
	snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
	         "Connection: close\r\n\r\n", path, port);
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request))
		goto done;
	while (got < 12) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 2000) <= 0)
			goto done;
		n = recv(fd, answer + got, sizeof(answer) - 1 - got, 0);
		if (n <= 0)
			goto done;
		got += (size_t)n;
	}
	answer[got] = '\0';
	if (strncmp(answer, "HTTP/1.", 7) == 0 && answer[8] == ' ')
		status = atoi(answer + 9);
done:
	close(fd);
	return status;
}

int peer_node_module(char *out, size_t size, const char *relative)
{
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	struct stat st;

	error_text[0] = '\0';
	if (root == NULL || *root == '\0') {
		peer_set_error("COG_TEST_SOURCE_ROOT is not set (run the test through "
		               "`meson test`, or set it to the source tree)");
		return -1;
	}
	if ((size_t)snprintf(out, size, "%s/tests/peers/node_modules/%s", root,
	                     relative) >= size) {
		peer_set_error("path of %s too long", relative);
		return -1;
	}
	if (stat(out, &st) != 0) {
		peer_set_error("%s is missing (%s): the test peers are not installed; %s",
		               out, strerror(errno), PEER_NODE_HINT);
		return -1;
	}
	return 0;
}
