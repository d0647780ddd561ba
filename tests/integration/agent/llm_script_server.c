/* The scripted OpenAI-compatible server of the agent tests (llm_script_server.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "llm_script_server.h"

struct lss {
	int listen_fd;
	char url[64];
	lss_fn fn;
	void *ud;
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	struct conn *conns;        /* live and finished, not yet joined */
	char **bodies;
	size_t n_bodies, cap_bodies;
	unsigned int held;
	unsigned int others;       /* requests to other paths */
};

typedef struct conn {
	lss *s;
	int fd;
	pthread_t thread;
	bool done;
	struct conn *next;
} conn;

static bool send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Keep the connection open without answering until the client goes. */
static void hold(lss *s, int fd)
{
	for (;;) {
		pthread_mutex_lock(&s->mu);
		bool stop = s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			return;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, 20);
		if (r > 0) {
			char b[256];
			ssize_t n = recv(fd, b, sizeof(b), 0);
			if (n <= 0)
				return;
		}
	}
}

/* Record the body; its index. */
static unsigned int record(lss *s, const char *body)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_bodies == s->cap_bodies) {
		s->cap_bodies = s->cap_bodies ? s->cap_bodies * 2 : 64;
		s->bodies = realloc(s->bodies, s->cap_bodies * sizeof(*s->bodies));
		ck_assert_ptr_nonnull(s->bodies);
	}
	unsigned int i = (unsigned int)s->n_bodies;
	s->bodies[s->n_bodies++] = strdup(body);
	pthread_mutex_unlock(&s->mu);
	return i;
}

/* Serve one chat request with this body. false: close the connection. */
static bool serve(lss *s, int fd, const char *body)
{
	unsigned int index = record(s, body);
	cJSON *req = cJSON_Parse(body);
	int status = 200;
	char *answer = s->fn(index, req, &status, s->ud);
	cJSON_Delete(req);
	if (!answer) {
		pthread_mutex_lock(&s->mu);
		s->held++;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		hold(s, fd);
		return false;
	}
	/* Head and body in one write (no Nagle stall between them). */
	size_t n = strlen(answer);
	char *out = malloc(n + 256);
	ck_assert_ptr_nonnull(out);
	int hl = snprintf(out, 256, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n", status,
		status == 200 ? "OK" : "Error", n);
	memcpy(out + hl, answer, n);
	bool ok = send_all(fd, out, (size_t)hl + n);
	free(out);
	free(answer);
	return ok;
}

static bool not_found(lss *s, int fd)
{
	static const char body[] = "{\"error\":{\"message\":\"Not found\","
		"\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}";
	char out[512];
	int hl = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Type: "
		"application/json\r\nContent-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
	pthread_mutex_lock(&s->mu);
	s->others++;
	pthread_mutex_unlock(&s->mu);
	return send_all(fd, out, (size_t)hl);
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	lss *s = c->s;
	int fd = c->fd;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		char *end = NULL;
		while (!(buf[len] = '\0', end = strstr(buf, "\r\n\r\n"))) {
			if (len == cap) {
				cap *= 2;
				buf = realloc(buf, cap + 1);
				ck_assert_ptr_nonnull(buf);
			}
			ssize_t r = recv(fd, buf + len, cap - len, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		size_t head_len = (size_t)(end - buf) + 4;
		size_t body_len = 0;
		bool expect = false;
		for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
			char *l = line + 2;
			if (strncasecmp(l, "content-length:", 15) == 0)
				body_len = strtoul(l + 15, NULL, 10);
			else if (strncasecmp(l, "expect:", 7) == 0 && strstr(l, "100-continue") &&
			         strstr(l, "100-continue") < strstr(l, "\r\n"))
				expect = true;
		}
		if (expect && len == head_len && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
			goto out;
		while (len < head_len + body_len) {
			if (len == cap) {
				cap = head_len + body_len > cap * 2 ? head_len + body_len : cap * 2;
				buf = realloc(buf, cap + 1);
				ck_assert_ptr_nonnull(buf);
			}
			ssize_t r = recv(fd, buf + len, cap - len, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		char saved = buf[head_len + body_len];
		buf[head_len + body_len] = '\0';
		/* "POST /v1/chat/completions HTTP/1.1": anything else is not
		 * served here (an embeddings probe: a 404, as a chat-only server
		 * answers). */
		char *sp = strchr(buf, ' ');
		bool chat = sp && strncmp(sp + 1, "/v1/chat/completions ", 21) == 0;
		bool ok = chat ? serve(s, fd, buf + head_len) : not_found(s, fd);
		buf[head_len + body_len] = saved;
		if (!ok)
			goto out;
		memmove(buf, buf + head_len + body_len, len - head_len - body_len);
		len -= head_len + body_len;
	}
out:
	free(buf);
	shutdown(fd, SHUT_RDWR);
	pthread_mutex_lock(&s->mu);
	c->done = true;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void *accept_main(void *arg)
{
	lss *s = arg;
	for (;;) {
		int fd = accept(s->listen_fd, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		if (s->stopping || fd < 0) {
			bool stop = s->stopping;
			pthread_mutex_unlock(&s->mu);
			if (fd >= 0)
				close(fd);
			if (stop)
				return NULL;
			continue;
		}
		/* Join the connections that ended. */
		for (conn **pp = &s->conns; *pp;) {
			conn *d = *pp;
			if (!d->done) {
				pp = &d->next;
				continue;
			}
			*pp = d->next;
			pthread_join(d->thread, NULL);
			close(d->fd);
			free(d);
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conn *c = calloc(1, sizeof(*c));
		ck_assert_ptr_nonnull(c);
		c->s = s;
		c->fd = fd;
		c->next = s->conns;
		s->conns = c;
		ck_assert_int_eq(pthread_create(&c->thread, NULL, conn_main, c), 0);
		pthread_mutex_unlock(&s->mu);
	}
}

lss *lss_start(lss_fn fn, void *user_data)
{
	lss *s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	s->fn = fn;
	s->ud = user_data;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(s->listen_fd >= 0, "llm script server: socket: %s", strerror(errno));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	              listen(s->listen_fd, 128) == 0,
	              "llm script server: cannot listen: %s", strerror(errno));
	socklen_t al = sizeof(a);
	ck_assert_int_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &al), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/v1", (unsigned)ntohs(a.sin_port));
	ck_assert_int_eq(pthread_create(&s->acceptor, NULL, accept_main, s), 0);
	return s;
}

const char *lss_base_url(const lss *s)
{
	return s->url;
}

unsigned int lss_requests(lss *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned int n = (unsigned int)s->n_bodies;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned int lss_other_requests(lss *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned int n = s->others;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned int lss_held(lss *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned int n = s->held;
	pthread_mutex_unlock(&s->mu);
	return n;
}

bool lss_wait_held(lss *s, unsigned int n, unsigned int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (s->held < n && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
		;
	bool ok = s->held >= n;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

cJSON *lss_request(lss *s, unsigned int i)
{
	pthread_mutex_lock(&s->mu);
	cJSON *j = i < s->n_bodies ? cJSON_Parse(s->bodies[i]) : NULL;
	pthread_mutex_unlock(&s->mu);
	return j;
}

void lss_stop(lss *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (conn *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->acceptor, NULL);
	while (s->conns) {
		conn *c = s->conns;
		s->conns = c->next;
		pthread_join(c->thread, NULL);
		close(c->fd);
		free(c);
	}
	close(s->listen_fd);
	for (size_t i = 0; i < s->n_bodies; i++)
		free(s->bodies[i]);
	free(s->bodies);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
