/*
 * The scripted HTTP/1.1 server of wire_server.h: its public functions, the
 * queue of answers, the recorded requests, and the thread that accepts
 * connections (each one is served by wire_server_conn.c). Plain libc and
 * pthreads (the integration tests link only the public library).
 *
 * ws_stop() returns promptly: every wait polls the stop flag, and it shuts
 * every connection's socket down (which also wakes a blocked send) and
 * joins every thread.
 */
#include "wire_server_int.h"

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
#include <unistd.h>

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

void ws_answer_free(ws_answer *a)
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

/* Record the request and copy the answer it gets (under the lock: the
 * test may reset the queue meanwhile). */
bool ws_take(ws_server *server, ws_req *req, ws_answer *answer)
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
