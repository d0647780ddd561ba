/*
 * The scripted wire server (tests/common/wire_server.c) over raw sockets,
 * so the bytes it sends are checked exactly: keep-alive, Content-Length and
 * chunked answers, cuts, raw bodies, the answer queue, recorded requests
 * (Content-Length, chunked and Expect: 100-continue bodies), and that
 * ws_stop() returns promptly whatever a connection is doing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "core_int.h"
#include "wire_file.h"
#include "wire_server.h"

TCase *wire_server_tcase(void);

static ws_server *server;

static void setup(void)
{
	ck_assert_int_eq(ws_start(&server), 0);
}

static void teardown(void)
{
	ws_stop(server);
	server = NULL;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to_server(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(ws_port(server));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

static void send_text(int fd, const char *s)
{
	size_t len = strlen(s);
	ck_assert_int_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read what arrives within 5 s into out; 0 at EOF. */
static size_t read_some(int fd, cog_buf *out)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ck_assert_msg(poll(&pfd, 1, 5000) == 1, "nothing from the server in 5 s");
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_ge(n, 0);
	cog_buf_put(out, buf, (size_t)n);
	return (size_t)n;
}

/* Read one whole answer (Content-Length or chunked) into out. */
static void read_answer(int fd, cog_buf *out)
{
	cog_buf_clear(out);
	for (;;) {
		const char *end = out->ptr ? strstr(out->ptr, "\r\n\r\n") : NULL;
		if (end) {
			size_t head = (size_t)(end + 4 - out->ptr);
			const char *cl = strstr(out->ptr, "Content-Length: ");
			if (cl && cl < end && out->len >= head + strtoul(cl + 16, NULL, 10))
				return;
			if (!cl && out->len >= 5 &&
			    memcmp(out->ptr + out->len - 5, "0\r\n\r\n", 5) == 0)
				return;
		}
		ck_assert_msg(read_some(fd, out) > 0, "the server closed mid-answer: %s",
		              out->ptr);
	}
}

static void read_to_eof(int fd, cog_buf *out)
{
	cog_buf_clear(out);
	while (read_some(fd, out) > 0) {
	}
}

START_TEST(test_keep_alive)
{
	ws_answer a = ws_answer_body(200, "text/plain", "hello");
	ck_assert_int_eq(ws_push(server, &a), 0);
	a = ws_answer_body(201, NULL, "{\"ok\":true}");
	a.extra_headers = "X-One: 1\r\nRetry-After: 2\r\n";
	ck_assert_int_eq(ws_push(server, &a), 0);

	int fd = connect_to_server();
	cog_buf in = COG_BUF_INIT;
	send_text(fd, "GET /first?q=1 HTTP/1.1\r\nHost: x\r\nX-Mixed-Case: A b\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: 5\r\n\r\nhello");
	/* Second request on the same connection. */
	send_text(fd, "POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	read_answer(fd, &in);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
	                 "Content-Length: 11\r\nX-One: 1\r\nRetry-After: 2\r\n\r\n{\"ok\":true}");
	close(fd);

	ck_assert_uint_eq(ws_requests(server), 2);
	char *r = ws_request(server, 0);
	ck_assert_str_eq(r, "GET /first?q=1\nhost: x\nx-mixed-case: A b\n\n");
	free(r);
	r = ws_request(server, 1);
	ck_assert_str_eq(r, "POST /v1/chat\nhost: x\ncontent-length: 3\n\nabc");
	free(r);
	r = ws_request_body(server, 1);
	ck_assert_str_eq(r, "abc");
	free(r);
	r = ws_request_body(server, 0);
	ck_assert_str_eq(r, "");
	free(r);
	r = ws_request_header(server, 0, "X-MIXED-case");
	ck_assert_str_eq(r, "A b");
	free(r);
	ck_assert_ptr_null(ws_request_header(server, 0, "x-mixed"));
	ck_assert_ptr_null(ws_request_header(server, 1, "x-mixed-case"));
	ck_assert_ptr_null(ws_request(server, 2));
	ck_assert_ptr_null(ws_request_body(server, 2));
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_chunked_answer)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", "0123456789");
	a.chunked = true;
	a.chunk_bytes = 4;
	a.chunk_delay_ms = 5;
	ck_assert_int_eq(ws_push(server, &a), 0);
	a.chunk_bytes = 0;
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	cog_buf in = COG_BUF_INIT;
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n"
	                 "4\r\n0123\r\n4\r\n4567\r\n2\r\n89\r\n0\r\n\r\n");
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"));
	close(fd);
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_close_after)
{
	ws_answer a = ws_answer_body(200, "text/plain", "0123456789");
	a.close_after = 3;
	ck_assert_int_eq(ws_push(server, &a), 0);
	a.chunked = true;
	a.chunk_bytes = 2;
	ck_assert_int_eq(ws_push(server, &a), 0);
	cog_buf in = COG_BUF_INIT;

	int fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_to_eof(fd, &in);
	close(fd);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: 10\r\n\r\n012");

	/* Chunked: whole chunks up to the cut, no last chunk. */
	fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_to_eof(fd, &in);
	close(fd);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n2\r\n01\r\n1\r\n2\r\n");
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_raw_answer)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", "zz\r\ndata: x\r\n");
	a.raw = true;
	a.extra_headers = "Transfer-Encoding: chunked\r\n";
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	cog_buf in = COG_BUF_INIT;
	while (strstr(in.ptr ? in.ptr : "", "data: x\r\n") == NULL)
		ck_assert_uint_gt(read_some(fd, &in), 0);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\nzz\r\ndata: x\r\n");
	close(fd);
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_request_bodies)
{
	ws_answer a = ws_answer_body(200, NULL, "{}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	cog_buf in = COG_BUF_INIT;
	/* Chunked, with an extension and a trailer. */
	send_text(fd, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	              "3;ext=1\r\nabc\r\n");
	send_text(fd, "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "\r\n\r\n{}"));
	/* Expect: 100-continue: the interim answer comes before the body is sent. */
	send_text(fd, "POST /e HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
	cog_buf_clear(&in);
	while (in.len < 25)
		ck_assert_uint_gt(read_some(fd, &in), 0);
	ck_assert_str_eq(in.ptr, "HTTP/1.1 100 Continue\r\n\r\n");
	send_text(fd, "wxyz");
	read_answer(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "HTTP/1.1 200 OK"));
	close(fd);
	char *body = ws_request_body(server, 0);
	ck_assert_str_eq(body, "abc0123456789");
	free(body);
	body = ws_request_body(server, 1);
	ck_assert_str_eq(body, "wxyz");
	free(body);
	/* Connection: close ends the connection after the answer. */
	fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_to_eof(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "\r\n\r\n{}"));
	close(fd);
	/* A malformed request gets a 400 and the connection closes. */
	fd = connect_to_server();
	send_text(fd, "NONSENSE\r\n\r\n");
	read_to_eof(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "HTTP/1.1 400 Bad Request"));
	close(fd);
	ck_assert_uint_eq(ws_requests(server), 3);
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_queue)
{
	ws_answer a = ws_answer_body(500, NULL, "{\"n\":1}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	a = ws_answer_body(200, NULL, "{\"n\":2}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	cog_buf in = COG_BUF_INIT;
	static const char *const want[] = { "{\"n\":1}", "{\"n\":2}", "{\"n\":2}", "{\"n\":2}" };
	for (size_t i = 0; i < 4; i++) {
		send_text(fd, "GET / HTTP/1.1\r\n\r\n");
		read_answer(fd, &in);
		ck_assert_str_eq(strstr(in.ptr, "\r\n\r\n") + 4, want[i]);
	}
	ck_assert_uint_eq(ws_requests(server), 4);
	/* After a reset, an answer marked once is not reused. */
	ws_reset(server);
	ck_assert_uint_eq(ws_requests(server), 0);
	a = ws_answer_body(200, NULL, "{\"n\":3}");
	a.once = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_str_eq(strstr(in.ptr, "\r\n\r\n") + 4, "{\"n\":3}");
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	read_answer(fd, &in);
	ck_assert_ptr_nonnull(strstr(in.ptr, "HTTP/1.1 500 "));
	ck_assert_ptr_nonnull(strstr(in.ptr, "no answer queued"));
	close(fd);
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_push_file)
{
	static const char name[] = "anthropic_messages_stream_tool_use.sse";
	size_t file_len;
	char *file = wire_file(name, &file_len);
	const char *path = wire_file_path(name);

	ws_answer a = ws_answer_body(200, "text/event-stream", NULL);
	a.chunked = true;
	a.chunk_bytes = 100;
	ck_assert_int_eq(ws_push_file(server, &a, path), 0);
	ck_assert_int_eq(ws_push_file(server, &a, "/nonexistent/file"), -1);
	int fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	cog_buf in = COG_BUF_INIT;
	read_answer(fd, &in);
	close(fd);
	/* Undo the chunking and compare. */
	const char *p = strstr(in.ptr, "\r\n\r\n") + 4;
	cog_buf body = COG_BUF_INIT;
	for (;;) {
		char *end;
		unsigned long size = strtoul(p, &end, 16);
		ck_assert(end[0] == '\r' && end[1] == '\n');
		if (size == 0)
			break;
		ck_assert_uint_le(size, 100);
		cog_buf_put(&body, end + 2, size);
		p = end + 2 + size + 2;
	}
	ck_assert_uint_eq(body.len, file_len);
	ck_assert(memcmp(body.ptr, file, file_len) == 0);
	cog_buf_dispose(&body);
	free(file);
	cog_buf_dispose(&in);
}
END_TEST

START_TEST(test_delay)
{
	ws_answer a = ws_answer_body(200, NULL, "{}");
	a.delay_ms = 150;
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	double t0 = now_seconds();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	cog_buf in = COG_BUF_INIT;
	read_answer(fd, &in);
	ck_assert_double_ge(now_seconds() - t0, 0.14);
	close(fd);
	cog_buf_dispose(&in);
}
END_TEST

/* ws_stop must not wait for a long delay, a drip, or an idle keep-alive
 * connection. */
START_TEST(test_stop_is_prompt)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", "data: 1\n\n");
	a.drip = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	a = ws_answer_body(200, NULL, "{}");
	a.delay_ms = 60000;
	ck_assert_int_eq(ws_push(server, &a), 0);

	int drip = connect_to_server();
	send_text(drip, "GET / HTTP/1.1\r\n\r\n");
	cog_buf in = COG_BUF_INIT;
	/* The body, then pings, chunk after chunk. */
	while (strstr(in.ptr ? in.ptr : "", ": ping\n\n\r\n8\r\n: ping") == NULL)
		ck_assert_uint_gt(read_some(drip, &in), 0);
	ck_assert_ptr_nonnull(strstr(in.ptr, "Transfer-Encoding: chunked\r\n\r\n"
	                             "9\r\ndata: 1\n\n\r\n8\r\n: ping\n\n\r\n"));
	int slow = connect_to_server();
	send_text(slow, "GET / HTTP/1.1\r\n\r\n");
	int idle = connect_to_server();
	/* Let the server take the slow request. */
	for (int i = 0; i < 200 && ws_requests(server) < 2; i++)
		usleep(5000);
	ck_assert_uint_eq(ws_requests(server), 2);

	double t0 = now_seconds();
	ws_stop(server);
	server = NULL;
	double t = now_seconds() - t0;
	ck_assert_msg(t < 2.0, "ws_stop took %.3f s", t);
	/* Every connection is closed now. */
	read_to_eof(slow, &in);
	ck_assert_str_eq(in.ptr ? in.ptr : "", "");
	read_to_eof(idle, &in);
	ck_assert_uint_eq(in.len, 0);
	close(drip);
	close(slow);
	close(idle);
	cog_buf_dispose(&in);
}
END_TEST

/* A client that goes away in the middle of a drip or a delay frees its
 * connection thread without waiting for ws_stop. */
START_TEST(test_client_goes)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", "data: 1\n\n");
	a.drip = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	for (int i = 0; i < 3; i++) {
		int fd = connect_to_server();
		send_text(fd, "GET / HTTP/1.1\r\n\r\n");
		cog_buf in = COG_BUF_INIT;
		while (strstr(in.ptr ? in.ptr : "", ": ping") == NULL)
			ck_assert_uint_gt(read_some(fd, &in), 0);
		close(fd);
		cog_buf_dispose(&in);
	}
	a = ws_answer_body(200, NULL, "{}");
	a.delay_ms = 60000;
	ck_assert_int_eq(ws_push(server, &a), 0);
	int fd = connect_to_server();
	send_text(fd, "GET / HTTP/1.1\r\n\r\n");
	for (int i = 0; i < 200 && ws_requests(server) < 4; i++)
		usleep(5000);
	ck_assert_uint_eq(ws_requests(server), 4);
	close(fd);
	/* Each closed connection is noticed within a few polls. */
	double t0 = now_seconds();
	while (ws_connections(server) > 0 && now_seconds() - t0 < 2.0)
		usleep(5000);
	ck_assert_uint_eq(ws_connections(server), 0);
	ck_assert_double_lt(now_seconds() - t0, 1.5);
}
END_TEST

START_TEST(test_url)
{
	char want[64];
	snprintf(want, sizeof(want), "http://127.0.0.1:%u", (unsigned int)ws_port(server));
	ck_assert_str_eq(ws_url(server), want);
	ck_assert_uint_gt(ws_port(server), 0);
	ck_assert_uint_eq(ws_connections(server), 0);
	int fd = connect_to_server();
	double t0 = now_seconds();
	while (ws_connections(server) == 0 && now_seconds() - t0 < 2.0)
		usleep(5000);
	ck_assert_uint_eq(ws_connections(server), 1);
	close(fd);
	ws_stop(NULL);
}
END_TEST

TCase *wire_server_tcase(void)
{
	TCase *tc = tcase_create("wire_server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_chunked_answer);
	tcase_add_test(tc, test_close_after);
	tcase_add_test(tc, test_raw_answer);
	tcase_add_test(tc, test_request_bodies);
	tcase_add_test(tc, test_queue);
	tcase_add_test(tc, test_push_file);
	tcase_add_test(tc, test_delay);
	tcase_add_test(tc, test_stop_is_prompt);
	tcase_add_test(tc, test_client_goes);
	tcase_add_test(tc, test_url);
	return tc;
}
