/*
 * One connection of the wire server (wire_server.h), with keep-alive:
 * reading requests and writing the answers the queue (wire_server.c) gives
 * them. Every wait polls with short timeouts and looks at the stop flag
 * and at the client, so a test never hangs on a client that went away.
 */
#include "wire_server_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_MAX_HEAD (64u * 1024u)
#define WS_MAX_BODY (256u * 1024u * 1024u)

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

void *ws_conn_main(void *arg)
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
