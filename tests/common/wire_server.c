/*
 * The scripted HTTP/1.1 server of wire_server.h. Plain libc and pthreads
 * (the integration tests link only the public library).
 *
 * Every wait polls with short timeouts and looks at the stop flag and at
 * the client, so a test never hangs on a client that went away, and
 * ws_stop() returns promptly: it shuts every connection's socket down
 * (which also wakes a blocked send) and joins every thread.
 */
#include "wire_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct ws_record {
	char *text;                   /* as ws_request() returns it */
	char *body;
	size_t body_len;
} ws_record;

typedef struct ws_conn {
	ws_server *server;
	pthread_t thread;
	int fd;                       /* -1 once the thread closed it */
} ws_conn;

struct ws_server {
	int listen_fd;
	unsigned short port;
	char url[40];
	pthread_t accept_thread;
	atomic_bool stopping;
	pthread_mutex_t mu;           /* guards everything below */
	ws_answer *answers;
	size_t n_answers, next_answer;
	ws_record *records;
	unsigned int n_records;
	ws_conn **conns;
	size_t n_conns;
};

static void *ws_conn_main(void *arg);

#define WS_MAX_HEAD (64u * 1024u)
#define WS_MAX_BODY (256u * 1024u * 1024u)

ws_answer ws_answer_body(int status, const char *content_type, const char *body)
{
	ws_answer a;
	memset(&a, 0, sizeof(a));
	a.status = status;
	a.content_type = content_type;
	a.body = body;
	a.close_after = -1;
	return a;
}

static char *ws_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void ws_answer_free(ws_answer *a)
{
	free((char *)a->content_type);
	free((char *)a->extra_headers);
	free((char *)a->body);
	memset(a, 0, sizeof(*a));
}

/* A deep copy with body_len filled in; -1 on OOM. */
static int ws_answer_copy(ws_answer *dst, const ws_answer *src)
{
	*dst = *src;
	size_t len = src->body_len;
	if (src->body && !len)
		len = strlen(src->body);
	dst->body_len = len;
	dst->content_type = ws_strdup(src->content_type);
	dst->extra_headers = ws_strdup(src->extra_headers);
	char *body = malloc(len + 1);
	if (body) {
		if (len)
			memcpy(body, src->body, len);
		body[len] = '\0';
	}
	dst->body = body;
	if (!body || (src->content_type && !dst->content_type) ||
	    (src->extra_headers && !dst->extra_headers)) {
		ws_answer_free(dst);
		return -1;
	}
	return 0;
}

/* ---- waiting ---- */

static void ws_nap(unsigned int ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* Has the peer of fd closed or reset the connection? Data waiting to be
 * read (a pipelined request) does not count. */
static bool ws_peer_gone(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
		return true;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Sleep ms in short slices; false as soon as the server stops or the
 * client goes. */
static bool ws_wait(ws_server *server, int fd, unsigned int ms)
{
	for (;;) {
		if (atomic_load(&server->stopping) || ws_peer_gone(fd))
			return false;
		if (ms == 0)
			return true;
		unsigned int slice = ms < 10 ? ms : 10;
		ws_nap(slice);
		ms -= slice;
	}
}

/* ---- one connection: reading requests ---- */

typedef struct ws_in {
	ws_conn *conn;
	char *buf;
	size_t pos, len, cap;         /* unread bytes: buf[pos..len) */
} ws_in;

/* Read more bytes; false when the client closed, the server stops, or the
 * request grows past the limits. */
static bool ws_fill(ws_in *in)
{
	if (in->pos) {
		memmove(in->buf, in->buf + in->pos, in->len - in->pos);
		in->len -= in->pos;
		in->pos = 0;
	}
	if (in->len == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 16384;
		char *grown = cap <= WS_MAX_HEAD + WS_MAX_BODY ? realloc(in->buf, cap) : NULL;
		if (!grown)
			return false;
		in->buf = grown;
		in->cap = cap;
	}
	int fd = in->conn->fd;
	while (!atomic_load(&in->conn->server->stopping)) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int r = poll(&pfd, 1, 20);
		if (r < 0 && errno != EINTR)
			return false;
		if (r <= 0)
			continue;
		ssize_t n = recv(fd, in->buf + in->len, in->cap - in->len, 0);
		if (n > 0) {
			in->len += (size_t)n;
			return true;
		}
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			return false;
	}
	return false;
}

/* Make n unread bytes available. */
static bool ws_need(ws_in *in, size_t n)
{
	while (in->len - in->pos < n)
		if (!ws_fill(in))
			return false;
	return true;
}

/* The next line (LF or CRLF ended) starts at in->pos; *n is its length
 * up to the LF (a CR before it included). */
static bool ws_line(ws_in *in, size_t *n, size_t limit)
{
	size_t scanned = 0;
	for (;;) {
		char *lf = in->len > in->pos + scanned ?
			memchr(in->buf + in->pos + scanned, '\n', in->len - in->pos - scanned) : NULL;
		if (lf) {
			*n = (size_t)(lf - (in->buf + in->pos));
			return true;
		}
		scanned = in->len - in->pos;
		if (scanned > limit || !ws_fill(in))
			return false;
	}
}

typedef struct ws_req {
	char *text;                   /* the record */
	char *body;
	size_t body_len;
	bool close;                   /* Connection: close or HTTP/1.0 */
	bool expect_continue;
	long long content_length;     /* -1 none */
	bool chunked;
} ws_req;

static bool ws_append(char **s, size_t *len, const char *add, size_t n)
{
	char *grown = realloc(*s, *len + n + 1);
	if (!grown)
		return false;
	memcpy(grown + *len, add, n);
	*len += n;
	grown[*len] = '\0';
	*s = grown;
	return true;
}

/* One header line: recorded as "name: value\n" (name lowercased); the
 * ones that shape the body are noted. */
static bool ws_header(ws_req *req, size_t *text_len, char *line, size_t n)
{
	if (n && line[n - 1] == '\r')
		n--;
	char *colon = memchr(line, ':', n);
	if (!colon || colon == line)
		return false;
	size_t name_len = (size_t)(colon - line);
	for (size_t i = 0; i < name_len; i++)
		if (line[i] >= 'A' && line[i] <= 'Z')
			line[i] = (char)(line[i] - 'A' + 'a');
	const char *v = colon + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	if (!ws_append(&req->text, text_len, line, name_len) ||
	    !ws_append(&req->text, text_len, ": ", 2) ||
	    !ws_append(&req->text, text_len, v, vlen) ||
	    !ws_append(&req->text, text_len, "\n", 1))
		return false;
#define WS_IS(name, value) (name_len == strlen(name) && memcmp(line, name, name_len) == 0 && \
	vlen == strlen(value) && strncasecmp(v, value, vlen) == 0)
	if (name_len == 14 && memcmp(line, "content-length", 14) == 0) {
		req->content_length = 0;
		for (const char *d = v; d < end; d++) {
			if (*d < '0' || *d > '9' || req->content_length > (long long)WS_MAX_BODY)
				return false;
			req->content_length = req->content_length * 10 + (*d - '0');
		}
	} else if (WS_IS("transfer-encoding", "chunked")) {
		req->chunked = true;
	} else if (WS_IS("connection", "close")) {
		req->close = true;
	} else if (WS_IS("expect", "100-continue")) {
		req->expect_continue = true;
	}
#undef WS_IS
	return true;
}

static bool ws_send(ws_conn *c, const void *data, size_t len);

/* A chunked request body. */
static bool ws_chunked_body(ws_in *in, ws_req *req)
{
	for (;;) {
		size_t n;
		if (!ws_line(in, &n, 1024))
			return false;
		char *end;
		unsigned long size = strtoul(in->buf + in->pos, &end, 16);
		if (end == in->buf + in->pos || size > WS_MAX_BODY)
			return false;
		in->pos += n + 1;
		if (size == 0)
			break;
		if (!ws_need(in, size + 2) ||
		    !ws_append(&req->body, &req->body_len, in->buf + in->pos, size))
			return false;
		in->pos += size;
		in->pos += in->buf[in->pos] == '\r' ? 2 : 1;
	}
	for (;;) { /* trailers, up to the blank line */
		size_t n;
		if (!ws_line(in, &n, WS_MAX_HEAD))
			return false;
		bool blank = n == 0 || (n == 1 && in->buf[in->pos] == '\r');
		in->pos += n + 1;
		if (blank)
			return true;
	}
}

/* 1: a request; 0: the client went (or the server stops) before one
 * began; -1: a malformed request. */
static int ws_read_request(ws_in *in, ws_req *req)
{
	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	size_t n, text_len = 0;
	do { /* blank lines before a request are allowed */
		if (!ws_line(in, &n, WS_MAX_HEAD))
			return in->len > in->pos ? -1 : 0;
		if (n > 1 || (n == 1 && in->buf[in->pos] != '\r'))
			break;
		in->pos += n + 1;
	} while (true);
	char *line = in->buf + in->pos;
	size_t len = n && line[n - 1] == '\r' ? n - 1 : n;
	char *sp1 = memchr(line, ' ', len);
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1)) : NULL;
	if (!sp2)
		return -1;
	if ((size_t)(line + len - sp2 - 1) == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		req->close = true;
	if (!ws_append(&req->text, &text_len, line, (size_t)(sp2 - line)) ||
	    !ws_append(&req->text, &text_len, "\n", 1))
		return -1;
	in->pos += n + 1;
	for (;;) {
		if (!ws_line(in, &n, WS_MAX_HEAD))
			return -1;
		line = in->buf + in->pos;
		in->pos += n + 1;
		if (n == 0 || (n == 1 && line[0] == '\r'))
			break;
		if (!ws_header(req, &text_len, line, n))
			return -1;
	}
	if (req->expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (!ws_send(in->conn, cont, sizeof(cont) - 1))
			return -1;
	}
	if (!ws_append(&req->body, &req->body_len, "", 0))
		return -1;
	if (req->chunked) {
		if (!ws_chunked_body(in, req))
			return -1;
	} else if (req->content_length > 0) {
		size_t cl = (size_t)req->content_length;
		if (!ws_need(in, cl) ||
		    !ws_append(&req->body, &req->body_len, in->buf + in->pos, cl))
			return -1;
		in->pos += cl;
	}
	if (!ws_append(&req->text, &text_len, "\n", 1) ||
	    !ws_append(&req->text, &text_len, req->body, req->body_len))
		return -1;
	return 1;
}

/* ---- one connection: answering ---- */

static bool ws_send(ws_conn *c, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		if (atomic_load(&c->server->stopping))
			return false;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static const char *ws_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* Send one answer; false when the connection must close afterwards. */
static bool ws_reply(ws_conn *c, const ws_answer *a)
{
	ws_server *server = c->server;
	if (a->delay_ms && !ws_wait(server, c->fd, a->delay_ms))
		return false;
	bool chunked = (a->chunked || a->drip) && !a->raw;
	char head[512];
	int hn = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n",
	                  a->status, ws_reason(a->status),
	                  a->content_type ? a->content_type : "application/json");
	if (!a->raw && chunked)
		hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "Transfer-Encoding: chunked\r\n");
	else if (!a->raw)
		hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "Content-Length: %zu\r\n",
		               a->body_len);
	if (!ws_send(c, head, (size_t)hn) ||
	    (a->extra_headers && !ws_send(c, a->extra_headers, strlen(a->extra_headers))) ||
	    !ws_send(c, "\r\n", 2))
		return false;
	size_t limit = a->body_len;
	if (a->close_after >= 0 && (size_t)a->close_after < limit)
		limit = (size_t)a->close_after;
	for (size_t off = 0; off < limit;) {
		size_t n = limit - off;
		if (a->chunk_bytes && a->chunk_bytes < n)
			n = a->chunk_bytes;
		if (a->chunk_delay_ms && !ws_wait(server, c->fd, a->chunk_delay_ms))
			return false;
		char size_line[32];
		int sn = snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
		if ((chunked && !ws_send(c, size_line, (size_t)sn)) ||
		    !ws_send(c, a->body + off, n) ||
		    (chunked && !ws_send(c, "\r\n", 2)))
			return false;
		off += n;
	}
	if (a->close_after >= 0)
		return false;
	if (a->drip) {
		static const char ping[] = "8\r\n: ping\n\n\r\n";
		while (ws_wait(server, c->fd, 20) && ws_send(c, ping, sizeof(ping) - 1)) {
		}
		return false;
	}
	return !chunked || ws_send(c, "0\r\n\r\n", 5);
}

/* Record the request and copy the answer it gets (under the lock: the
 * test may reset the queue meanwhile). */
static bool ws_take(ws_server *server, ws_req *req, ws_answer *answer)
{
	static const char none[] = "{\"error\":\"wire_server: no answer queued\"}";
	bool ok = true;
	pthread_mutex_lock(&server->mu);
	ws_record *grown = realloc(server->records, (server->n_records + 1) * sizeof(*grown));
	if (grown) {
		server->records = grown;
		grown[server->n_records++] = (ws_record){ req->text, req->body, req->body_len };
		req->text = req->body = NULL;
	}
	const ws_answer *a = NULL;
	if (server->next_answer < server->n_answers)
		a = &server->answers[server->next_answer++];
	else if (server->n_answers && !server->answers[server->n_answers - 1].once)
		a = &server->answers[server->n_answers - 1];
	ws_answer fallback = ws_answer_body(500, NULL, none);
	if (!a) {
		fprintf(stderr, "wire_server: request %u: no answer queued\n", server->n_records);
		a = &fallback;
	}
	if (!grown || ws_answer_copy(answer, a) != 0)
		ok = false;
	pthread_mutex_unlock(&server->mu);
	return ok;
}

static void *ws_conn_main(void *arg)
{
	ws_conn *c = arg;
	ws_in in = { c, NULL, 0, 0, 0 };
	for (;;) {
		ws_req req;
		int r = ws_read_request(&in, &req);
		if (r < 0) {
			static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			if (!atomic_load(&c->server->stopping))
				fprintf(stderr, "wire_server: a malformed request\n");
			ws_send(c, bad, sizeof(bad) - 1);
		}
		ws_answer answer;
		bool keep = r > 0 && ws_take(c->server, &req, &answer);
		free(req.text);
		free(req.body);
		if (!keep)
			break;
		keep = ws_reply(c, &answer) && !req.close;
		ws_answer_free(&answer);
		if (!keep)
			break;
	}
	free(in.buf);
	pthread_mutex_lock(&c->server->mu);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->server->mu);
	return NULL;
}

/* ---- the server ---- */

static void *ws_accept_main(void *arg)
{
	ws_server *server = arg;
	while (!atomic_load(&server->stopping)) {
		struct pollfd pfd = { server->listen_fd, POLLIN, 0 };
		int r = poll(&pfd, 1, 20);
		if (r <= 0)
			continue;
		int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* The head and the body go out in separate writes: without this,
		 * Nagle's algorithm and the client's delayed ACK hold the second
		 * one back ~40 ms on every reused connection. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ws_conn *conn = calloc(1, sizeof(*conn));
		pthread_mutex_lock(&server->mu);
		ws_conn **grown = conn ? realloc(server->conns,
			(server->n_conns + 1) * sizeof(*grown)) : NULL;
		if (grown)
			server->conns = grown;
		if (!grown) {
			pthread_mutex_unlock(&server->mu);
			fprintf(stderr, "wire_server: out of memory for a connection\n");
			free(conn);
			close(fd);
			continue;
		}
		conn->server = server;
		conn->fd = fd;
		if (pthread_create(&conn->thread, NULL, ws_conn_main, conn) != 0) {
			pthread_mutex_unlock(&server->mu);
			fprintf(stderr, "wire_server: cannot start a connection thread\n");
			free(conn);
			close(fd);
			continue;
		}
		server->conns[server->n_conns++] = conn;
		pthread_mutex_unlock(&server->mu);
	}
	return NULL;
}

int ws_start(ws_server **out)
{
	*out = NULL;
	ws_server *server = calloc(1, sizeof(*server));
	if (!server) {
		fprintf(stderr, "wire_server: out of memory\n");
		return -1;
	}
	pthread_mutex_init(&server->mu, NULL);
	server->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(addr);
	if (server->listen_fd < 0 ||
	    bind(server->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(server->listen_fd, 64) != 0 ||
	    getsockname(server->listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
		fprintf(stderr, "wire_server: cannot listen on 127.0.0.1: %s\n",
		        strerror(errno));
		if (server->listen_fd >= 0)
			close(server->listen_fd);
		pthread_mutex_destroy(&server->mu);
		free(server);
		return -1;
	}
	server->port = ntohs(addr.sin_port);
	snprintf(server->url, sizeof(server->url), "http://127.0.0.1:%u",
	         (unsigned int)server->port);
	if (pthread_create(&server->accept_thread, NULL, ws_accept_main, server) != 0) {
		fprintf(stderr, "wire_server: cannot start the accept thread\n");
		close(server->listen_fd);
		pthread_mutex_destroy(&server->mu);
		free(server);
		return -1;
	}
	*out = server;
	return 0;
}

unsigned short ws_port(const ws_server *server)
{
	return server->port;
}

const char *ws_url(const ws_server *server)
{
	return server->url;
}

int ws_push(ws_server *server, const ws_answer *answer)
{
	ws_answer copy;
	if (ws_answer_copy(&copy, answer) != 0)
		return -1;
	pthread_mutex_lock(&server->mu);
	ws_answer *grown = realloc(server->answers,
		(server->n_answers + 1) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&server->mu);
		ws_answer_free(&copy);
		return -1;
	}
	server->answers = grown;
	server->answers[server->n_answers++] = copy;
	pthread_mutex_unlock(&server->mu);
	return 0;
}

int ws_push_file(ws_server *server, const ws_answer *answer, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "wire_server: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *data = NULL;
	size_t len = 0, cap = 0;
	bool bad = false;
	for (;;) {
		if (len + 1 >= cap) {
			char *grown = realloc(data, cap ? cap * 2 : 65536);
			if (!grown) {
				bad = true;
				break;
			}
			data = grown;
			cap = cap ? cap * 2 : 65536;
		}
		size_t n = fread(data + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	bad = bad || ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "wire_server: cannot read %s\n", path);
		free(data);
		return -1;
	}
	data[len] = '\0';
	ws_answer a = *answer;
	a.body = data;
	a.body_len = len; /* 0: strlen("") is 0 too */
	int rc = ws_push(server, &a);
	free(data);
	return rc;
}

static void ws_forget_requests(ws_server *server)
{
	for (unsigned int i = 0; i < server->n_records; i++) {
		free(server->records[i].text);
		free(server->records[i].body);
	}
	free(server->records);
	server->records = NULL;
	server->n_records = 0;
}

void ws_reset(ws_server *server)
{
	pthread_mutex_lock(&server->mu);
	for (size_t i = 0; i < server->n_answers; i++)
		ws_answer_free(&server->answers[i]);
	free(server->answers);
	server->answers = NULL;
	server->n_answers = 0;
	server->next_answer = 0;
	ws_forget_requests(server);
	pthread_mutex_unlock(&server->mu);
}

unsigned int ws_requests(ws_server *server)
{
	pthread_mutex_lock(&server->mu);
	unsigned int n = server->n_records;
	pthread_mutex_unlock(&server->mu);
	return n;
}

char *ws_request(ws_server *server, unsigned int i)
{
	pthread_mutex_lock(&server->mu);
	char *copy = i < server->n_records ? ws_strdup(server->records[i].text) : NULL;
	pthread_mutex_unlock(&server->mu);
	return copy;
}

char *ws_request_body(ws_server *server, unsigned int i)
{
	char *copy = NULL;
	pthread_mutex_lock(&server->mu);
	if (i < server->n_records) {
		const ws_record *r = &server->records[i];
		copy = malloc(r->body_len + 1);
		if (copy) {
			memcpy(copy, r->body, r->body_len);
			copy[r->body_len] = '\0';
		}
	}
	pthread_mutex_unlock(&server->mu);
	return copy;
}

char *ws_request_header(ws_server *server, unsigned int i, const char *name)
{
	char *copy = NULL;
	size_t nlen = strlen(name);
	pthread_mutex_lock(&server->mu);
	if (i < server->n_records) {
		/* The header lines sit between the request line and the blank
		 * line; names are stored lowercased. */
		const char *p = strchr(server->records[i].text, '\n');
		while (p && p[1] != '\n' && p[1] != '\0') {
			const char *line = p + 1;
			const char *eol = strchr(line, '\n');
			if (!eol)
				break;
			if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
				const char *v = line + nlen + 1;
				while (*v == ' ')
					v++;
				copy = strndup(v, (size_t)(eol - v));
				break;
			}
			p = eol;
		}
	}
	pthread_mutex_unlock(&server->mu);
	return copy;
}

unsigned int ws_connections(ws_server *server)
{
	unsigned int n = 0;
	pthread_mutex_lock(&server->mu);
	for (size_t i = 0; i < server->n_conns; i++)
		n += server->conns[i]->fd >= 0;
	pthread_mutex_unlock(&server->mu);
	return n;
}

void ws_stop(ws_server *server)
{
	if (!server)
		return;
	atomic_store(&server->stopping, true);
	pthread_join(server->accept_thread, NULL);
	close(server->listen_fd);
	/* No new connection can appear now. */
	pthread_mutex_lock(&server->mu);
	for (size_t i = 0; i < server->n_conns; i++)
		if (server->conns[i]->fd >= 0)
			shutdown(server->conns[i]->fd, SHUT_RDWR);
	pthread_mutex_unlock(&server->mu);
	for (size_t i = 0; i < server->n_conns; i++) {
		pthread_join(server->conns[i]->thread, NULL);
		free(server->conns[i]);
	}
	free(server->conns);
	ws_reset(server);
	pthread_mutex_destroy(&server->mu);
	free(server);
}
