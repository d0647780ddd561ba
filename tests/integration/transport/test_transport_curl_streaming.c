/*
 * libcognition-curl: streamed responses, time limits and cancellation,
 * against the loopback server.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "test_transport_curl.h"

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
	const cog_http_response *response; /* the one being filled, or NULL */
	int first_status;           /* its status when the first chunk came */
} chunk_log;

static int log_chunk(const char *data, size_t len, void *user)
{
	chunk_log *log = user;

	log->calls++;
	if (log->calls == 1) {
		log->first_ms = now_ms();
		if (log->response != NULL)
			log->first_status = log->response->status;
	}
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
	log.response = &response;
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
	/* The status was set before the first chunk; status and headers of
	 * the answer the callback stopped are still handed over. */
	ck_assert_int_eq(log.first_status, 200);
	ck_assert_int_eq(response.status, 200);
	assert_header(&response, "Transfer-Encoding", "chunked");
	ck_assert_ptr_null(response.body);
	cog_http_response_dispose(&response);

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
	int status;                 /* of the canceled answer */
	char *encoding;             /* its Transfer-Encoding header */
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
	run->status = response.status;
	run->encoding = cog_http_response_header(&response, "Transfer-Encoding");
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
	/* Once the answer began, its status and headers are handed over. */
	if (min_chunks > 0) {
		ck_assert_int_eq(run.status, 200);
		ck_assert_msg(run.encoding != NULL && strcmp(run.encoding, "chunked") == 0,
		              "Transfer-Encoding of the canceled answer: %s",
		              run.encoding ? run.encoding : "(none)");
	}
	cog_free(run.encoding);
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

TCase *transport_streaming_tcase(void)
{
	TCase *streaming = tcase_create("streaming");

	tcase_add_test(streaming, test_chunked_streaming);
	tcase_add_test(streaming, test_chunk_callback_error);
	tcase_add_test(streaming, test_timeout);
	tcase_add_test(streaming, test_cancel_mid_stream);
	tcase_add_test(streaming, test_cancel_silent_peer);
	tcase_add_test(streaming, test_cancel_before_start);
	return streaming;
}
