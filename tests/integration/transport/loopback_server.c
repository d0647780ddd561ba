/*
 * The loopback HTTP/1.1 server described in loopback_server.h.
 *
 * Every blocking point polls with a short timeout so that stop() is prompt,
 * and every wait also watches the client socket so that a handler ends as
 * soon as the client hangs up (cancellation tests depend on it).
 */
#include "loopback_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LB_POLL_MS 50
#define LB_MAX_HEAD 65536
#define LB_MAX_BODY (64u * 1024 * 1024)

typedef struct lb_conn {
	struct lb_conn *next;
	lb_server *server;
	int fd;
	pthread_t thread;
	char *buf;                 /* bytes received, not yet consumed */
	size_t len;
	size_t cap;
} lb_conn;

struct lb_server {
	int listen_fd;
	unsigned short port;
	atomic_int stop;
	pthread_t accept_thread;
	pthread_mutex_t lock;
	lb_conn *conns;
	unsigned int accepts;
	unsigned int requests;
	char last_line[512];
};

typedef struct lb_request {
	char method[16];
	char target[1024];
	const char *head;          /* request line + headers, in conn->buf */
	size_t head_len;
	const char *body;
	size_t body_len;
	bool close;                /* Connection: close, or HTTP/1.0 */
} lb_request;

/* ---- socket helpers ---- */

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait ms milliseconds; -1 early if the client hung up or we stop. */
static int conn_wait(lb_conn *conn, unsigned int ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { conn->fd, POLLIN, 0 };
		long elapsed;
		int left;

		if (atomic_load(&conn->server->stop))
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 +
		          (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= (long)ms)
			return 0;
		left = (int)((long)ms - elapsed);
		if (poll(&pfd, 1, left < 10 ? left : 10) > 0) {
			char c;
			ssize_t n = recv(conn->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return -1;
			/* A pipelined request: nothing to do but wait. */
			if (n > 0) {
				struct timespec pause = { 0, 5 * 1000000L };
				nanosleep(&pause, NULL);
			}
		}
	}
}

/* Read more bytes into conn->buf: >0 read, 0 EOF, -1 error or stop. */
static ssize_t conn_read(lb_conn *conn)
{
	if (conn->cap - conn->len < 4096) {
		size_t cap = conn->cap != 0 ? conn->cap * 2 : 16384;
		char *grown = realloc(conn->buf, cap);

		if (grown == NULL)
			return -1;
		conn->buf = grown;
		conn->cap = cap;
	}
	for (;;) {
		struct pollfd pfd = { conn->fd, POLLIN, 0 };
		int ready;
		ssize_t n;

		if (atomic_load(&conn->server->stop))
			return -1;
		ready = poll(&pfd, 1, LB_POLL_MS);
		if (ready < 0 && errno != EINTR)
			return -1;
		if (ready <= 0)
			continue;
		n = recv(conn->fd, conn->buf + conn->len, conn->cap - conn->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			conn->len += (size_t)n;
		return n;
	}
}

/* ---- parsing ---- */

static const char *find_head_end(const lb_conn *conn)
{
	size_t i;

	for (i = 3; i < conn->len; i++) {
		if (memcmp(conn->buf + i - 3, "\r\n\r\n", 4) == 0)
			return conn->buf + i + 1;
	}
	return NULL;
}

/* Value of header `name` within the head, copied into out; false if absent. */
static bool head_header(const lb_request *req, const char *name, char *out,
                        size_t size)
{
	const char *line = memchr(req->head, '\n', req->head_len);
	const char *end = req->head + req->head_len;
	size_t name_len = strlen(name);

	while (line != NULL && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t len = eol != NULL ? (size_t)(eol - line) : (size_t)(end - line);

		if (len > name_len && line[name_len] == ':' &&
		    strncasecmp(line, name, name_len) == 0) {
			const char *v = line + name_len + 1;
			size_t vlen;

			while (*v == ' ')
				v++;
			vlen = (size_t)(line + len - v);
			while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			if (vlen >= size)
				vlen = size - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		line = eol;
	}
	return false;
}

/* Parse the next request out of conn->buf (reading as needed); *used gets
 * the bytes it spans. 0, or -1 when the connection should end. */
static int read_request(lb_conn *conn, lb_request *req, size_t *used)
{
	const char *head_end;
	char value[64], version[16];
	size_t content_length = 0;

	while ((head_end = find_head_end(conn)) == NULL) {
		if (conn->len > LB_MAX_HEAD || conn_read(conn) <= 0)
			return -1;
	}
	memset(req, 0, sizeof(*req));
	req->head = conn->buf;
	req->head_len = (size_t)(head_end - conn->buf);
	if (sscanf(conn->buf, "%15s %1023s %15s", req->method, req->target,
	           version) != 3)
		return -1;
	req->close = strcmp(version, "HTTP/1.0") == 0;
	if (head_header(req, "Connection", value, sizeof(value)))
		req->close = strcasecmp(value, "close") == 0;
	if (head_header(req, "Content-Length", value, sizeof(value)))
		content_length = strtoul(value, NULL, 10);
	if (content_length > LB_MAX_BODY)
		return -1;
	if (head_header(req, "Expect", value, sizeof(value)) &&
	    strcasecmp(value, "100-continue") == 0 &&
	    send_all(conn->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
		return -1;
	while (conn->len < req->head_len + content_length) {
		if (conn_read(conn) <= 0)
			return -1;
	}
	/* conn_read may have moved the buffer. */
	req->head = conn->buf;
	req->body = conn->buf + req->head_len;
	req->body_len = content_length;
	*used = req->head_len + content_length;
	return 0;
}

static void record_request(lb_server *server, const lb_request *req)
{
	const char *eol = memchr(req->head, '\r', req->head_len);
	size_t len = eol != NULL ? (size_t)(eol - req->head) : 0;

	pthread_mutex_lock(&server->lock);
	server->requests++;
	if (len >= sizeof(server->last_line))
		len = sizeof(server->last_line) - 1;
	memcpy(server->last_line, req->head, len);
	server->last_line[len] = '\0';
	pthread_mutex_unlock(&server->lock);
}

/* ---- answers ---- */

static int respond(lb_conn *conn, const lb_request *req, int status,
                   const char *reason, const char *extra_headers,
                   const void *body, size_t body_len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
	                 "Content-Type: text/plain\r\n%s%s\r\n", status, reason,
	                 body_len, extra_headers, req->close ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	/* One write for small answers: fewer packets, faster benchmark. */
	if (body_len <= 4096) {
		char all[1024 + 4096];

		memcpy(all, head, (size_t)n);
		if (body_len != 0)
			memcpy(all + n, body, body_len);
		return send_all(conn->fd, all, (size_t)n + body_len);
	}
	if (send_all(conn->fd, head, (size_t)n) != 0)
		return -1;
	return send_all(conn->fd, body, body_len);
}

static int send_chunk(lb_conn *conn, const char *data, size_t len)
{
	char size_line[32];
	int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);

	if (send_all(conn->fd, size_line, (size_t)n) != 0 ||
	    send_all(conn->fd, data, len) != 0)
		return -1;
	return send_all(conn->fd, "\r\n", 2);
}

static const char chunked_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";

static int serve_chunked(lb_conn *conn, unsigned int count, unsigned int delay_ms)
{
	unsigned int i;

	if (send_all(conn->fd, chunked_head, sizeof(chunked_head) - 1) != 0)
		return -1;
	for (i = 0; i < count; i++) {
		char text[32];
		int n = snprintf(text, sizeof(text), "chunk %u\n", i);

		if (i > 0 && conn_wait(conn, delay_ms) != 0)
			return -1;
		if (send_chunk(conn, text, (size_t)n) != 0)
			return -1;
	}
	return send_all(conn->fd, "0\r\n\r\n", 5);
}

/* Until the client goes away (at most 30 s); the connection ends after. */
static int serve_stream(lb_conn *conn)
{
	unsigned int i;

	if (send_all(conn->fd, chunked_head, sizeof(chunked_head) - 1) != 0)
		return -1;
	for (i = 0; i < 1500; i++) {
		if (send_chunk(conn, "tick\n", 5) != 0 || conn_wait(conn, 20) != 0)
			return -1;
	}
	return -1;
}

static int serve_big(lb_conn *conn, const lb_request *req, size_t size)
{
	char *body = malloc(size != 0 ? size : 1);
	int rc;

	if (body == NULL)
		return -1;
	memset(body, 'x', size);
	rc = respond(conn, req, 200, "OK", "", body, size);
	free(body);
	return rc;
}

static int serve_continue(lb_conn *conn, const lb_request *req)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n";

	if (send_all(conn->fd, interim, sizeof(interim) - 1) != 0)
		return -1;
	return respond(conn, req, 200, "OK", "X-Final: yes\r\n", "final", 5);
}

static int serve_echo(lb_conn *conn, const lb_request *req)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "X-Echo-Method: %s\r\n", req->method);
	return respond(conn, req, 200, "OK", extra, req->body, req->body_len);
}

static int serve_status(lb_conn *conn, const lb_request *req, unsigned int code)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "status %u body\n", code);

	return respond(conn, req, (int)code, code >= 500 ? "Server Error" :
	               "Client Error", "", body, (size_t)n);
}

/* 0 to keep the connection, -1 to close it. */
static int route(lb_conn *conn, const lb_request *req)
{
	const char *t = req->target;
	unsigned int a, b;

	if (strncmp(t, "http://", 7) == 0)
		return respond(conn, req, 200, "OK", "", "proxied", 7);
	if (strcmp(t, "/hello") == 0)
		return respond(conn, req, 200, "OK", "X-Test: yes\r\n", "hello world", 11);
	if (strcmp(t, "/echo") == 0)
		return serve_echo(conn, req);
	if (strcmp(t, "/headers") == 0)
		return respond(conn, req, 200, "OK", "", req->head, req->head_len);
	if (sscanf(t, "/chunked/%u/%u", &a, &b) == 2)
		return serve_chunked(conn, a, b);
	if (strcmp(t, "/stream") == 0)
		return serve_stream(conn);
	if (sscanf(t, "/slow/%u", &a) == 1) {
		if (conn_wait(conn, a) != 0)
			return -1;
		return respond(conn, req, 200, "OK", "", "late", 4);
	}
	if (sscanf(t, "/status/%u", &a) == 1)
		return serve_status(conn, req, a);
	if (strcmp(t, "/continue") == 0)
		return serve_continue(conn, req);
	if (strcmp(t, "/redirect") == 0)
		return respond(conn, req, 302, "Found", "Location: /hello\r\n", "moved", 5);
	if (sscanf(t, "/big/%u", &a) == 1)
		return serve_big(conn, req, a);
	if (strcmp(t, "/close") == 0) {
		lb_request closing = *req;

		closing.close = true;
		return respond(conn, &closing, 200, "OK", "", "bye", 3);
	}
	return respond(conn, req, 404, "Not Found", "", "no route", 8);
}

static void *conn_main(void *arg)
{
	lb_conn *conn = arg;

	for (;;) {
		lb_request req;
		size_t used;

		if (read_request(conn, &req, &used) != 0)
			break;
		record_request(conn->server, &req);
		if (route(conn, &req) != 0 || req.close)
			break;
		memmove(conn->buf, conn->buf + used, conn->len - used);
		conn->len -= used;
	}
	close(conn->fd);
	conn->fd = -1;
	return NULL;
}

/* ---- accepting ---- */

static void accept_one(lb_server *server)
{
	lb_conn *conn;
	int one = 1;
	int fd = accept(server->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	/* Count the connection before its thread can answer anything: a test
	 * that reads the count right after a response must see it. */
	pthread_mutex_lock(&server->lock);
	server->accepts++;
	pthread_mutex_unlock(&server->lock);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		close(fd);
		return;
	}
	conn->server = server;
	conn->fd = fd;
	if (pthread_create(&conn->thread, NULL, conn_main, conn) != 0) {
		close(fd);
		free(conn);
		return;
	}
	pthread_mutex_lock(&server->lock);
	conn->next = server->conns;
	server->conns = conn;
	pthread_mutex_unlock(&server->lock);
}

static void *accept_main(void *arg)
{
	lb_server *server = arg;

	while (!atomic_load(&server->stop)) {
		struct pollfd pfd = { server->listen_fd, POLLIN, 0 };

		if (poll(&pfd, 1, LB_POLL_MS) > 0)
			accept_one(server);
	}
	return NULL;
}

static int listen_loopback(unsigned short *port)
{
	struct sockaddr_in addr;
	socklen_t addr_len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

int lb_server_start(lb_server **out)
{
	lb_server *server = calloc(1, sizeof(*server));

	*out = NULL;
	if (server == NULL)
		return -1;
	atomic_init(&server->stop, 0);
	server->listen_fd = listen_loopback(&server->port);
	if (server->listen_fd < 0) {
		fprintf(stderr, "loopback server: cannot listen: %s\n", strerror(errno));
		free(server);
		return -1;
	}
	if (pthread_mutex_init(&server->lock, NULL) != 0 ||
	    pthread_create(&server->accept_thread, NULL, accept_main, server) != 0) {
		fprintf(stderr, "loopback server: cannot start its thread\n");
		close(server->listen_fd);
		free(server);
		return -1;
	}
	*out = server;
	return 0;
}

unsigned short lb_server_port(const lb_server *server)
{
	return server->port;
}

unsigned int lb_server_accepts(lb_server *server)
{
	unsigned int n;

	pthread_mutex_lock(&server->lock);
	n = server->accepts;
	pthread_mutex_unlock(&server->lock);
	return n;
}

unsigned int lb_server_requests(lb_server *server)
{
	unsigned int n;

	pthread_mutex_lock(&server->lock);
	n = server->requests;
	pthread_mutex_unlock(&server->lock);
	return n;
}

void lb_server_last_request_line(lb_server *server, char *out, size_t size)
{
	pthread_mutex_lock(&server->lock);
	snprintf(out, size, "%s", server->last_line);
	pthread_mutex_unlock(&server->lock);
}

void lb_server_stop(lb_server *server)
{
	lb_conn *conn, *next;

	if (server == NULL)
		return;
	atomic_store(&server->stop, 1);
	pthread_join(server->accept_thread, NULL);
	close(server->listen_fd);
	for (conn = server->conns; conn != NULL; conn = next) {
		next = conn->next;
		pthread_join(conn->thread, NULL);
		free(conn->buf);
		free(conn);
	}
	pthread_mutex_destroy(&server->lock);
	free(server);
}

int lb_unused_port(unsigned short *port)
{
	int fd = listen_loopback(port);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}
