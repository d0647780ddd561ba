/*
 * The loopback server of bench_llm: a small HTTP/1.1 server in its own
 * process, so that its CPU time is not counted as the client's. It listens
 * on 127.0.0.1:$PORT, serves every connection on its own thread with
 * keep-alive, and answers by path:
 *
 *   GET  /health                      200 {"status":"ok"}
 *   POST /v1/...                      200, a fixed OpenAI chat completion
 *   POST /delay/<ms>/v1/...           the same after <ms> milliseconds
 *   POST /stream/v1/...               200 text/event-stream: the bytes of
 *                                     the file given as argv[1]
 *
 *   PORT=8080 bench_llm_server [stream-file]
 *
 * It never looks at the request body beyond reading it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A chat completion as api.openai.com sends it (gpt-4.1, 2025). */
static const char completion[] =
	"{\n  \"id\": \"chatcmpl-BbR6nXJ0mQx3RqzvTtGd2yDLfz8Ks\",\n"
	"  \"object\": \"chat.completion\",\n  \"created\": 1748368921,\n"
	"  \"model\": \"gpt-4.1-2025-04-14\",\n  \"choices\": [\n    {\n"
	"      \"index\": 0,\n      \"message\": {\n        \"role\": \"assistant\",\n"
	"        \"content\": \"Hello! How can I help you today?\",\n"
	"        \"refusal\": null,\n        \"annotations\": []\n      },\n"
	"      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n    }\n  ],\n"
	"  \"usage\": {\n    \"prompt_tokens\": 19,\n    \"completion_tokens\": 10,\n"
	"    \"total_tokens\": 29,\n    \"prompt_tokens_details\": {\n"
	"      \"cached_tokens\": 0,\n      \"audio_tokens\": 0\n    },\n"
	"    \"completion_tokens_details\": {\n      \"reasoning_tokens\": 0,\n"
	"      \"audio_tokens\": 0,\n      \"accepted_prediction_tokens\": 0,\n"
	"      \"rejected_prediction_tokens\": 0\n    }\n  },\n"
	"  \"service_tier\": \"default\",\n  \"system_fingerprint\": \"fp_b3f1157249\"\n}\n";

static char *stream_bytes;
static size_t stream_len;

static int send_all(int fd, const char *p, size_t len)
{
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

static int answer(int fd, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n", type, len);

	/* One send for a small answer: one segment, as a real server would. */
	if (len < 8192) {
		char buf[8192 + 256];

		memcpy(buf, head, (size_t)n);
		memcpy(buf + n, body, len);
		return send_all(fd, buf, (size_t)n + len);
	}
	return send_all(fd, head, (size_t)n) != 0 ? -1 : send_all(fd, body, len);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Serve one request at the start of buf[0..len); bytes it used, 0 when
 * incomplete, -1 to close. */
static long serve(int fd, char *buf, size_t len)
{
	char *end = NULL, *cl;
	size_t head_len, body_len = 0;
	char method[8], path[256];

	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	if (end == NULL)
		return len > 60000 ? -1 : 0;
	head_len = (size_t)(end - buf) + 4;
	*end = '\0';
	if (sscanf(buf, "%7s %255s", method, path) != 2)
		return -1;
	for (cl = buf; (cl = strchr(cl, '\n')) != NULL; cl++)
		if (strncasecmp(cl + 1, "content-length:", 15) == 0)
			body_len = strtoul(cl + 16, NULL, 10);
	if (strcasestr(buf, "\nexpect: 100-continue") != NULL && len == head_len &&
	    send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
		return -1;
	*end = '\r';
	if (len < head_len + body_len)
		return 0;
	if (strcmp(path, "/health") == 0) {
		if (answer(fd, "application/json", "{\"status\":\"ok\"}", 15) != 0)
			return -1;
	} else if (strncmp(path, "/stream/", 8) == 0) {
		if (stream_bytes == NULL ||
		    answer(fd, "text/event-stream", stream_bytes, stream_len) != 0)
			return -1;
	} else {
		if (strncmp(path, "/delay/", 7) == 0)
			sleep_ms(strtol(path + 7, NULL, 10));
		if (answer(fd, "application/json", completion, sizeof(completion) - 1) != 0)
			return -1;
	}
	return (long)(head_len + body_len);
}

static void *connection(void *arg)
{
	int fd = (int)(long)arg;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		long used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while (len > 0 && (used = serve(fd, buf, len)) != 0) {
			if (used < 0)
				goto done;
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
		}
		if (len == cap) {
			char *grown = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;

			if (grown == NULL)
				break;
			buf = grown;
			cap *= 2;
		}
	}
done:
	free(buf);
	close(fd);
	return NULL;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (stream_bytes = malloc((size_t)size + 1)) == NULL ||
	    fread(stream_bytes, 1, (size_t)size, f) != (size_t)size) {
		perror(path);
		return -1;
	}
	stream_len = (size_t)size;
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *port_text = getenv("PORT");
	struct sockaddr_in addr;
	pthread_attr_t attr;
	int one = 1, fd;

	signal(SIGPIPE, SIG_IGN);
	if (port_text == NULL) {
		fprintf(stderr, "bench_llm_server: set PORT\n");
		return 2;
	}
	if (argc > 1 && load(argv[1]) != 0)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(port_text));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(fd, 512) != 0) {
		perror("bench_llm_server: listen");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		pthread_t thread;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("bench_llm_server: accept");
			return 1;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&thread, &attr, connection, (void *)(long)c) != 0)
			close(c);
	}
}
