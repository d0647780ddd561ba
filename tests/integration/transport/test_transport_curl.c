/*
 * libcognition-curl against real sockets: a loopback HTTP/1.1 server started
 * by each test (loopback_server.c) and, for TLS, `openssl s_server` with a
 * certificate made at test time.
 */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "cognition/curl.h"
#include "loopback_server.h"

/* ---- helpers ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static lb_server *server_start(void)
{
	lb_server *server = NULL;

	ck_assert_msg(lb_server_start(&server) == 0, "loopback server did not start");
	return server;
}

static cog_transport *transport_new(void)
{
	cog_transport *transport = NULL;
	int rc = cog_curl_transport_new(&transport, NULL);

	ck_assert_msg(rc == 0, "cog_curl_transport_new: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(transport);
	return transport;
}

static void url_for(char *out, size_t size, lb_server *server, const char *path)
{
	snprintf(out, size, "http://127.0.0.1:%u%s", lb_server_port(server), path);
}

static int get(cog_transport *transport, const char *url, cog_http_response *response)
{
	cog_http_request request = COG_HTTP_REQUEST_INIT;

	request.url = url;
	return cog_transport_perform(transport, &request, response);
}

static void assert_error_mentions(const char *what)
{
	ck_assert_msg(strstr(cog_error_last(), what) != NULL,
	              "cog_error_last() is '%s', expected it to mention '%s'",
	              cog_error_last(), what);
}

static void assert_header(const cog_http_response *response, const char *name,
                          const char *expected)
{
	char *value = cog_http_response_header(response, name);

	ck_assert_msg(value != NULL, "header %s missing in:\n%s", name,
	              response->headers != NULL ? response->headers : "(null)");
	ck_assert_str_eq(value, expected);
	cog_free(value);
}

/* ---- plain requests ---- */

START_TEST(test_get_ok)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];
	char *json = NULL;
	int rc;

	url_for(url, sizeof(url), server, "/hello");
	rc = get(transport, url, &response);
	ck_assert_msg(rc == 0, "GET: %d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	ck_assert_uint_eq(response.body_len, 11);
	ck_assert_str_eq(response.body, "hello world");
	assert_header(&response, "x-test", "yes");
	assert_header(&response, "Content-Length", "11");
	ck_assert_ptr_null(strstr(response.headers, "HTTP/1.1"));
	ck_assert_ptr_null(strchr(response.headers, '\r'));
	cog_http_response_dispose(&response);

	ck_assert_int_eq(cog_transport_describe(transport, &json), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"backend\":\"curl\""));
	ck_assert_ptr_nonnull(strstr(json, "\"curl_version\":\""));
	ck_assert_ptr_nonnull(strstr(json, "\"http2\":"));
	cog_free(json);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_post_echo)
{
	static const char body[] = "{\"a\":1}\0binary\xff tail";
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	const char *headers[] = { "Content-Type: application/json" };
	char url[128];
	int rc;

	url_for(url, sizeof(url), server, "/echo");
	request.url = url;
	request.body = body;
	request.body_len = sizeof(body) - 1;
	request.headers = headers;
	request.header_count = 1;
	rc = cog_transport_perform(transport, &request, &response);
	ck_assert_msg(rc == 0, "POST: %d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	assert_header(&response, "X-Echo-Method", "POST");
	ck_assert_uint_eq(response.body_len, sizeof(body) - 1);
	ck_assert_mem_eq(response.body, body, sizeof(body) - 1);
	ck_assert_int_eq(response.body[response.body_len], '\0');
	cog_http_response_dispose(&response);

	/* Other methods, with and without a body. */
	request.method = "PUT";
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	assert_header(&response, "X-Echo-Method", "PUT");
	ck_assert_mem_eq(response.body, body, sizeof(body) - 1);
	cog_http_response_dispose(&response);
	request.method = "DELETE";
	request.body = NULL;
	request.body_len = 0;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	assert_header(&response, "X-Echo-Method", "DELETE");
	ck_assert_uint_eq(response.body_len, 0);
	cog_http_response_dispose(&response);
	request.method = "POST";
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	assert_header(&response, "X-Echo-Method", "POST");
	cog_http_response_dispose(&response);

	url_for(url, sizeof(url), server, "/hello");
	request.method = "HEAD";
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	ck_assert_int_eq(response.status, 200);
	ck_assert_uint_eq(response.body_len, 0);
	assert_header(&response, "Content-Length", "11");
	cog_http_response_dispose(&response);
	ck_assert_uint_eq(lb_server_accepts(server), 1);

	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_request_headers_and_user_agent)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	const char *headers[] = { "X-Custom: 42", "X-Empty:" };
	cog_curl_options options;
	char url[128];

	url_for(url, sizeof(url), server, "/headers");
	request.url = url;
	request.headers = headers;
	request.header_count = 2;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	ck_assert_ptr_nonnull(strstr(response.body, "GET /headers HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(response.body, "\r\nX-Custom: 42\r\n"));
	ck_assert_ptr_nonnull(strstr(response.body, "\r\nX-Empty:"));
	ck_assert_ptr_nonnull(strstr(response.body,
	                             "\r\nUser-Agent: libcognition/" COG_VERSION_STRING "\r\n"));
	cog_http_response_dispose(&response);
	cog_transport_free(transport);

	ck_assert_int_eq(cog_curl_options_init(&options, COG_CURL_OPTIONS_VERSION), 0);
	options.user_agent = "test-agent/7";
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), 0);
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	ck_assert_ptr_nonnull(strstr(response.body, "\r\nUser-Agent: test-agent/7\r\n"));
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_http_error_statuses)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];

	url_for(url, sizeof(url), server, "/status/404");
	ck_assert_int_eq(get(transport, url, &response), 0);
	ck_assert_int_eq(response.status, 404);
	ck_assert_str_eq(response.body, "status 404 body\n");
	cog_http_response_dispose(&response);

	url_for(url, sizeof(url), server, "/status/500");
	ck_assert_int_eq(get(transport, url, &response), 0);
	ck_assert_int_eq(response.status, 500);
	ck_assert_str_eq(response.body, "status 500 body\n");
	cog_http_response_dispose(&response);

	/* Redirects are answers too: not followed. */
	url_for(url, sizeof(url), server, "/redirect");
	ck_assert_int_eq(get(transport, url, &response), 0);
	ck_assert_int_eq(response.status, 302);
	ck_assert_str_eq(response.body, "moved");
	assert_header(&response, "Location", "/hello");
	cog_http_response_dispose(&response);
	ck_assert_uint_eq(lb_server_requests(server), 3);

	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_interim_response_headers_dropped)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];
	char *interim;

	url_for(url, sizeof(url), server, "/continue");
	ck_assert_int_eq(get(transport, url, &response), 0);
	ck_assert_int_eq(response.status, 200);
	ck_assert_str_eq(response.body, "final");
	assert_header(&response, "X-Final", "yes");
	interim = cog_http_response_header(&response, "X-Interim");
	ck_assert_msg(interim == NULL, "headers of the 100 answer kept:\n%s",
	              response.headers);
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_big_body)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];
	size_t i;

	url_for(url, sizeof(url), server, "/big/3000000");
	ck_assert_int_eq(get(transport, url, &response), 0);
	ck_assert_uint_eq(response.body_len, 3000000);
	for (i = 0; i < response.body_len; i++) {
		if (response.body[i] != 'x')
			ck_abort_msg("byte %zu is %d", i, response.body[i]);
	}
	ck_assert_int_eq(response.body[response.body_len], '\0');
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

/* ---- streaming ---- */

typedef struct chunk_log {
	char data[4096];
	size_t len;
	unsigned int calls;
	double first_ms;
	double last_ms;
	unsigned int fail_at;       /* call number that fails (0: never) */
	int fail_status;
	bool fail_with_message;
} chunk_log;

static int log_chunk(const char *data, size_t len, void *user)
{
	chunk_log *log = user;

	log->calls++;
	if (log->calls == 1)
		log->first_ms = now_ms();
	log->last_ms = now_ms();
	if (log->fail_at != 0 && log->calls == log->fail_at) {
		if (log->fail_with_message)
			return cog_error_set(log->fail_status, "consumer refused chunk %u",
			                     log->calls);
		return log->fail_status;
	}
	if (len > sizeof(log->data) - 1 - log->len)
		len = sizeof(log->data) - 1 - log->len;
	memcpy(log->data + log->len, data, len);
	log->len += len;
	log->data[log->len] = '\0';
	return 0;
}

START_TEST(test_chunked_streaming)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	chunk_log log;
	double start, end;
	char url[128];
	int rc;

	memset(&log, 0, sizeof(log));
	url_for(url, sizeof(url), server, "/chunked/5/100");
	request.url = url;
	request.on_chunk = log_chunk;
	request.chunk_user_data = &log;
	start = now_ms();
	rc = cog_transport_perform(transport, &request, &response);
	end = now_ms();
	ck_assert_msg(rc == 0, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	ck_assert_ptr_null(response.body);
	ck_assert_uint_eq(response.body_len, 0);
	assert_header(&response, "Transfer-Encoding", "chunked");
	ck_assert_str_eq(log.data, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
	/* Incremental: one call per chunk, the first long before the end. */
	ck_assert_uint_ge(log.calls, 5);
	ck_assert_msg(log.first_ms - start < 150.0, "first chunk after %.0f ms",
	              log.first_ms - start);
	ck_assert_msg(log.last_ms - log.first_ms >= 350.0,
	              "chunks came together (%.0f ms apart)", log.last_ms - log.first_ms);
	ck_assert_msg(end - start >= 400.0, "whole transfer took %.0f ms", end - start);
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_chunk_callback_error)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	chunk_log log;
	char url[128];
	int rc;

	memset(&log, 0, sizeof(log));
	log.fail_at = 2;
	log.fail_status = COG_EUSER;
	url_for(url, sizeof(url), server, "/chunked/5/20");
	request.url = url;
	request.on_chunk = log_chunk;
	request.chunk_user_data = &log;
	rc = cog_transport_perform(transport, &request, &response);
	ck_assert_int_eq(rc, COG_EUSER);
	ck_assert_uint_eq(log.calls, 2);
	ck_assert_str_eq(log.data, "chunk 0\n");
	assert_error_mentions(url);
	assert_error_mentions("chunk callback");

	/* A callback that explains itself keeps its message. */
	memset(&log, 0, sizeof(log));
	log.fail_at = 1;
	log.fail_status = COG_EBUDGET;
	log.fail_with_message = true;
	rc = cog_transport_perform(transport, &request, &response);
	ck_assert_int_eq(rc, COG_EBUDGET);
	assert_error_mentions("consumer refused chunk 1");
	assert_error_mentions(url);
	cog_http_response_dispose(&response);

	/* The transport is still fine afterwards. */
	request.on_chunk = NULL;
	url_for(url, sizeof(url), server, "/hello");
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), 0);
	ck_assert_str_eq(response.body, "hello world");
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

/* ---- time limits and cancellation ---- */

START_TEST(test_timeout)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	double start, elapsed;
	char url[128];
	int rc;

	url_for(url, sizeof(url), server, "/slow/5000");
	request.url = url;
	request.timeout_ms = 500;
	start = now_ms();
	rc = cog_transport_perform(transport, &request, &response);
	elapsed = now_ms() - start;
	ck_assert_msg(rc == COG_ETIMEOUT, "got %d: %s", rc, cog_error_last());
	ck_assert_msg(elapsed >= 450.0 && elapsed < 1000.0,
	              "timed out after %.0f ms, limit 500", elapsed);
	assert_error_mentions(url);
	assert_error_mentions("GET");
	ck_assert_ptr_null(response.body);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

typedef struct cancel_run {
	cog_transport *transport;
	const char *url;
	atomic_int cancel;
	atomic_uint chunks;
	int rc;
	double returned_ms;
	char error[1024];
} cancel_run;

static int cancel_requested(void *user)
{
	cancel_run *run = user;

	return atomic_load(&run->cancel);
}

static int count_chunk(const char *data, size_t len, void *user)
{
	cancel_run *run = user;

	(void)data;
	(void)len;
	atomic_fetch_add(&run->chunks, 1);
	return 0;
}

static void *cancel_worker(void *arg)
{
	cancel_run *run = arg;
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;

	request.url = run->url;
	request.on_chunk = count_chunk;
	request.chunk_user_data = run;
	request.is_canceled = cancel_requested;
	request.cancel_user_data = run;
	run->rc = cog_transport_perform(run->transport, &request, &response);
	run->returned_ms = now_ms();
	snprintf(run->error, sizeof(run->error), "%s", cog_error_last());
	cog_http_response_dispose(&response);
	return NULL;
}

/* Start a request on another thread, cancel it once `ready` holds, and
 * check that it ends with COG_ECANCELED within 100 ms. */
static void check_cancel(const char *path, unsigned int min_chunks,
                         unsigned int wait_ms)
{
	lb_server *server = server_start();
	cancel_run run;
	pthread_t thread;
	char url[128];
	double canceled_ms, latency;
	unsigned int waited = 0;

	memset(&run, 0, sizeof(run));
	url_for(url, sizeof(url), server, path);
	run.url = url;
	run.transport = transport_new();
	atomic_init(&run.cancel, 0);
	atomic_init(&run.chunks, 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, cancel_worker, &run), 0);
	while (atomic_load(&run.chunks) < min_chunks && waited < 5000) {
		sleep_ms(5);
		waited += 5;
	}
	ck_assert_uint_ge(atomic_load(&run.chunks), min_chunks);
	sleep_ms(wait_ms);
	canceled_ms = now_ms();
	atomic_store(&run.cancel, 1);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	latency = run.returned_ms - canceled_ms;
	ck_assert_msg(run.rc == COG_ECANCELED, "got %d: %s", run.rc, run.error);
	ck_assert_msg(latency < 100.0, "cancel took %.1f ms", latency);
	ck_assert_msg(strstr(run.error, url) != NULL, "error '%s' lacks the URL",
	              run.error);
	fprintf(stderr, "cancel %s: returned %.1f ms after the cancel\n", path, latency);
	cog_transport_free(run.transport);
	lb_server_stop(server);
}

START_TEST(test_cancel_mid_stream)
{
	check_cancel("/stream", 3, 0);
}
END_TEST

START_TEST(test_cancel_silent_peer)
{
	/* No data at all: only the poll timeout can notice the cancel. */
	check_cancel("/slow/10000", 0, 330);
}
END_TEST

START_TEST(test_cancel_before_start)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cancel_run run;
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];

	memset(&run, 0, sizeof(run));
	atomic_init(&run.cancel, 1);
	url_for(url, sizeof(url), server, "/hello");
	request.url = url;
	request.is_canceled = cancel_requested;
	request.cancel_user_data = &run;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response),
	                 COG_ECANCELED);
	ck_assert_uint_eq(lb_server_accepts(server), 0);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

/* ---- connections ---- */

START_TEST(test_connection_refused)
{
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	unsigned short port;
	char url[128];
	int rc;

	ck_assert_int_eq(lb_unused_port(&port), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/nothing-here", port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "got %d: %s", rc, cog_error_last());
	assert_error_mentions(url);
	cog_transport_free(transport);
}
END_TEST

START_TEST(test_keep_alive)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];
	int i;

	url_for(url, sizeof(url), server, "/hello");
	for (i = 0; i < 50; i++) {
		int rc = get(transport, url, &response);

		ck_assert_msg(rc == 0, "request %d: %d %s", i, rc, cog_error_last());
		ck_assert_str_eq(response.body, "hello world");
		cog_http_response_dispose(&response);
	}
	ck_assert_uint_eq(lb_server_requests(server), 50);
	ck_assert_uint_eq(lb_server_accepts(server), 1);

	/* A server that closes is not an error; the next request reconnects. */
	url_for(url, sizeof(url), server, "/close");
	ck_assert_int_eq(get(transport, url, &response), 0);
	cog_http_response_dispose(&response);
	url_for(url, sizeof(url), server, "/hello");
	ck_assert_int_eq(get(transport, url, &response), 0);
	cog_http_response_dispose(&response);
	ck_assert_uint_eq(lb_server_accepts(server), 2);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

#define THREADS 4
#define PER_THREAD 25

typedef struct thread_run {
	cog_transport *transport;
	const char *url;
	int failures;
	char error[512];
} thread_run;

static void *thread_worker(void *arg)
{
	thread_run *run = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		cog_http_response response = COG_HTTP_RESPONSE_INIT;
		int rc = get(run->transport, run->url, &response);

		if (rc != 0 || response.status != 200 ||
		    strcmp(response.body, "hello world") != 0) {
			run->failures++;
			snprintf(run->error, sizeof(run->error), "%d %s", rc,
			         cog_error_last());
		}
		cog_http_response_dispose(&response);
	}
	return NULL;
}

START_TEST(test_threads_share_transport)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	thread_run runs[THREADS];
	pthread_t threads[THREADS];
	char url[128];
	int i;

	url_for(url, sizeof(url), server, "/hello");
	for (i = 0; i < THREADS; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].transport = transport;
		runs[i].url = url;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, thread_worker, &runs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
		ck_assert_msg(runs[i].failures == 0, "thread %d: %d failures, last %s",
		              i, runs[i].failures, runs[i].error);
	}
	ck_assert_uint_eq(lb_server_requests(server), THREADS * PER_THREAD);
	ck_assert_msg(lb_server_accepts(server) <= THREADS, "%u connections",
	              lb_server_accepts(server));
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_proxy_from_environment)
{
	lb_server *proxy = server_start();
	cog_transport *transport;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char proxy_url[128], line[512];
	int rc;

	url_for(proxy_url, sizeof(proxy_url), proxy, "");
	ck_assert_int_eq(setenv("http_proxy", proxy_url, 1), 0);
	transport = transport_new();
	/* .invalid never resolves: only the proxy can answer this. */
	rc = get(transport, "http://example.invalid/via/proxy", &response);
	ck_assert_msg(rc == 0, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	ck_assert_str_eq(response.body, "proxied");
	lb_server_last_request_line(proxy, line, sizeof(line));
	ck_assert_str_eq(line, "GET http://example.invalid/via/proxy HTTP/1.1");
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	ck_assert_int_eq(unsetenv("http_proxy"), 0);
	lb_server_stop(proxy);
}
END_TEST

/* ---- TLS, against openssl s_server ---- */

typedef struct tls_server {
	char dir[64];
	char cert[128];
	char key[128];
	pid_t pid;
	int stdin_fd;              /* kept open: s_server reads its stdin */
	unsigned short port;
} tls_server;

/* Run argv with output to log; its exit status, or -1. */
static int run_quiet(char *const argv[], const char *log)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static bool port_accepts(unsigned short port)
{
	struct sockaddr_in addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(port);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static void tls_server_start(tls_server *tls)
{
	char log[128], accept_arg[32];
	int pipe_fds[2];
	int waited;

	memset(tls, 0, sizeof(*tls));
	snprintf(tls->dir, sizeof(tls->dir), "/tmp/cog-tls-XXXXXX");
	ck_assert_msg(mkdtemp(tls->dir) != NULL, "mkdtemp failed");
	snprintf(tls->cert, sizeof(tls->cert), "%s/cert.pem", tls->dir);
	snprintf(tls->key, sizeof(tls->key), "%s/key.pem", tls->dir);
	snprintf(log, sizeof(log), "%s/req.log", tls->dir);
	{
		char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
		                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		                 "-keyout", tls->key, "-out", tls->cert, "-days", "2",
		                 "-subj", "/CN=localhost", "-addext",
		                 "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL };
		int rc = run_quiet(argv, log);

		ck_assert_msg(rc == 0, "`openssl req` failed (exit %d, see %s); the "
		              "TLS tests need the openssl command", rc, log);
	}
	ck_assert_int_eq(lb_unused_port(&tls->port), 0);
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", tls->port);
	snprintf(log, sizeof(log), "%s/server.log", tls->dir);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	tls->pid = fork();
	ck_assert_int_ge(tls->pid, 0);
	if (tls->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(pipe_fds[0], 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg,
		       "-cert", tls->cert, "-key", tls->key, "-www", "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	close(pipe_fds[0]);
	tls->stdin_fd = pipe_fds[1];
	for (waited = 0; waited < 10000 && !port_accepts(tls->port); waited += 20) {
		int status;

		ck_assert_msg(waitpid(tls->pid, &status, WNOHANG) == 0,
		              "openssl s_server exited early, see %s", log);
		sleep_ms(20);
	}
	ck_assert_msg(port_accepts(tls->port), "openssl s_server did not listen "
	              "on %s within 10 s, see %s", accept_arg, log);
}

static void tls_server_stop(tls_server *tls)
{
	char path[160];

	kill(tls->pid, SIGTERM);
	waitpid(tls->pid, NULL, 0);
	close(tls->stdin_fd);
	unlink(tls->cert);
	unlink(tls->key);
	snprintf(path, sizeof(path), "%s/req.log", tls->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/server.log", tls->dir);
	unlink(path);
	rmdir(tls->dir);
}

START_TEST(test_tls_self_signed_rejected)
{
	tls_server tls;
	cog_transport *transport;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	cog_curl_options options;
	char url[128];
	int rc;

	tls_server_start(&tls);
	transport = transport_new();
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", tls.port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EPROTO, "got %d: %s", rc, cog_error_last());
	assert_error_mentions(url);
	cog_transport_free(transport);

	/* The same server is trusted once its certificate is the CA. */
	ck_assert_int_eq(cog_curl_options_init(&options, COG_CURL_OPTIONS_VERSION), 0);
	options.ca_file = tls.cert;
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), 0);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == 0, "with ca_file: %d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	cog_http_response_dispose(&response);

	/* Host name checking stays on: the certificate is not for 127.0.0.2. */
	snprintf(url, sizeof(url), "https://127.0.0.2:%u/", tls.port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EPROTO || rc == COG_EUNAVAILABLE, "got %d: %s", rc,
	              cog_error_last());
	cog_transport_free(transport);
	tls_server_stop(&tls);
}
END_TEST

/* ---- arguments ---- */

START_TEST(test_invalid_requests)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	const char *no_colon[] = { "X-Fine: 1", "NoColonHere" };
	const char *crlf[] = { "X-A: b\r\nX-Injected: 1" };
	const char *lf[] = { "X-A: b\nX-Injected: 1" };
	char url[128];

	url_for(url, sizeof(url), server, "/hello");
	request.url = NULL;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	request.url = "ftp://127.0.0.1/file";
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	request.url = "file:///etc/passwd";
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	request.url = url;
	request.headers = no_colon;
	request.header_count = 2;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	request.headers = crlf;
	request.header_count = 1;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	request.headers = lf;
	ck_assert_int_eq(cog_transport_perform(transport, &request, &response), COG_EINVAL);
	ck_assert_uint_eq(lb_server_accepts(server), 0);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_options)
{
	cog_curl_options options;
	cog_transport *transport = NULL;

	ck_assert_int_eq(cog_curl_options_init(&options, 0), COG_EVERSION);
	ck_assert_int_eq(cog_curl_options_init(&options, COG_CURL_OPTIONS_VERSION + 1),
	                 COG_EVERSION);
	ck_assert_int_eq(cog_curl_options_init(NULL, COG_CURL_OPTIONS_VERSION), COG_EINVAL);
	ck_assert_int_eq(cog_curl_options_init(&options, COG_CURL_OPTIONS_VERSION), 0);
	ck_assert_uint_eq(options.version, COG_CURL_OPTIONS_VERSION);
	ck_assert_ptr_null(options.user_agent);

	ck_assert_int_eq(cog_curl_transport_new(NULL, &options), COG_EINVAL);
	options.version = 99;
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), COG_EVERSION);
	ck_assert_ptr_null(transport);
	options.version = COG_CURL_OPTIONS_VERSION;
	options.ca_file = "/nonexistent/ca.pem";
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), COG_EINVAL);
	assert_error_mentions("/nonexistent/ca.pem");
	options.ca_file = NULL;
	options.user_agent = "agent\r\nX-Injected: 1";
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), COG_EINVAL);
	options.user_agent = NULL;
	options.max_connections = 2;
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), 0);
	cog_transport_free(transport);
}
END_TEST

/* ---- allocator ---- */

static atomic_ulong counted_allocs;
/* Allocations still to succeed before one fails; negative: none fails. */
static atomic_long fail_countdown = -1;

static bool inject_failure(void)
{
	return atomic_load(&fail_countdown) >= 0 &&
	       atomic_fetch_sub(&fail_countdown, 1) == 0;
}

static void *counting_malloc(size_t size, void *user)
{
	(void)user;
	atomic_fetch_add(&counted_allocs, 1);
	return inject_failure() ? NULL : malloc(size);
}

static void *counting_realloc(void *ptr, size_t size, void *user)
{
	(void)user;
	atomic_fetch_add(&counted_allocs, 1);
	return inject_failure() ? NULL : realloc(ptr, size);
}

static void counting_free(void *ptr, void *user)
{
	(void)user;
	free(ptr);
}

/* Each test runs in a fresh process (Check's fork mode), so the library
 * has not allocated anything yet; without fork there is nothing to test. */
static bool install_counting_allocator(void)
{
	cog_allocator allocator = COG_ALLOCATOR_INIT;
	int rc;

	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0) {
		fprintf(stderr, "allocator tests need CK_FORK=yes\n");
		return false;
	}
	allocator.malloc = counting_malloc;
	allocator.realloc = counting_realloc;
	allocator.free = counting_free;
	rc = cog_set_allocator(&allocator);
	ck_assert_msg(rc == 0, "cog_set_allocator: %d %s", rc, cog_error_last());
	return true;
}

START_TEST(test_allocator_reaches_curl)
{
	cog_transport *transport;
	unsigned long before;
	CURL *easy;

	if (!install_counting_allocator())
		return;
	transport = transport_new();
	before = atomic_load(&counted_allocs);
	easy = curl_easy_init();
	ck_assert_ptr_nonnull(easy);
	ck_assert_msg(atomic_load(&counted_allocs) > before,
	              "curl_easy_init did not use the cog allocator");
	curl_easy_cleanup(easy);
	cog_transport_free(transport);
}
END_TEST

/* Fail the 1st, 2nd, ... allocation of "create a transport, GET, free it"
 * until a run needs no failure: every run must end cleanly (the sanitizer
 * build checks for leaks and double frees). */
START_TEST(test_allocation_failures)
{
	lb_server *server;
	char url[128];
	long k;
	unsigned int failed = 0;

	if (!install_counting_allocator())
		return;
	server = server_start();
	url_for(url, sizeof(url), server, "/hello");
	for (k = 0; k < 20000; k++) {
		cog_http_response response = COG_HTTP_RESPONSE_INIT;
		cog_transport *transport = NULL;
		bool injected;
		int rc;

		atomic_store(&fail_countdown, k);
		rc = cog_curl_transport_new(&transport, NULL);
		if (rc == 0) {
			rc = get(transport, url, &response);
			cog_http_response_dispose(&response);
			cog_transport_free(transport);
		}
		injected = atomic_load(&fail_countdown) < 0;
		atomic_store(&fail_countdown, -1);
		if (!injected) {
			ck_assert_msg(rc == 0, "no failure injected, yet %d %s", rc,
			              cog_error_last());
			break;
		}
		if (rc != 0) {
			failed++;
			ck_assert_msg(rc == COG_ENOMEM || rc == COG_EIO ||
			              rc == COG_EUNAVAILABLE || rc == COG_EPROTO,
			              "allocation %ld failed: %d %s", k, rc, cog_error_last());
			ck_assert_str_ne(cog_error_last(), "no error");
		}
	}
	ck_assert_msg(k < 20000, "never got through without a failure");
	fprintf(stderr, "allocation failures: %ld points tried, %u made the call fail\n",
	        k, failed);
	lb_server_stop(server);
}
END_TEST

static Suite *transport_suite(void)
{
	Suite *suite = suite_create("transport-curl");
	TCase *basic = tcase_create("basic");
	TCase *streaming = tcase_create("streaming");
	TCase *connections = tcase_create("connections");
	TCase *tls = tcase_create("tls");
	TCase *api = tcase_create("api");

	tcase_add_test(basic, test_get_ok);
	tcase_add_test(basic, test_post_echo);
	tcase_add_test(basic, test_request_headers_and_user_agent);
	tcase_add_test(basic, test_http_error_statuses);
	tcase_add_test(basic, test_interim_response_headers_dropped);
	tcase_add_test(basic, test_big_body);
	tcase_add_test(streaming, test_chunked_streaming);
	tcase_add_test(streaming, test_chunk_callback_error);
	tcase_add_test(streaming, test_timeout);
	tcase_add_test(streaming, test_cancel_mid_stream);
	tcase_add_test(streaming, test_cancel_silent_peer);
	tcase_add_test(streaming, test_cancel_before_start);
	tcase_add_test(connections, test_connection_refused);
	tcase_add_test(connections, test_keep_alive);
	tcase_add_test(connections, test_threads_share_transport);
	tcase_add_test(connections, test_proxy_from_environment);
	tcase_add_test(tls, test_tls_self_signed_rejected);
	tcase_add_test(api, test_invalid_requests);
	tcase_add_test(api, test_options);
	tcase_add_test(api, test_allocator_reaches_curl);
	tcase_add_test(api, test_allocation_failures);
	suite_add_tcase(suite, basic);
	suite_add_tcase(suite, streaming);
	suite_add_tcase(suite, connections);
	suite_add_tcase(suite, tls);
	suite_add_tcase(suite, api);
	return suite;
}

int main(void)
{
	static const char *const proxy_vars[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
		"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
	};
	SRunner *runner;
	size_t i;
	int failed;

	/* The tests talk to 127.0.0.1 directly; a proxy from the environment
	 * would intercept them. The proxy test sets its own. */
	for (i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
		unsetenv(proxy_vars[i]);
	runner = srunner_create(transport_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
