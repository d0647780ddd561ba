/*
 * libcognition-curl against real sockets: a loopback HTTP/1.1 server started
 * by each test (loopback_server.c) and, for TLS, `openssl s_server` with a
 * certificate made at test time.
 *
 * This file holds the shared helpers (test_transport_curl.h), the plain
 * request cases and main(); the other cases are in
 *   test_transport_curl_streaming.c    streaming, time limits, cancellation
 *   test_transport_curl_connections.c  refused connections, keep-alive,
 *                                      threads, proxies, TLS
 *   test_transport_curl_api.c          invalid requests and options, the
 *                                      allocator hook and allocation failures
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_transport_curl.h"

/* ---- helpers ---- */

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

lb_server *server_start(void)
{
	lb_server *server = NULL;

	ck_assert_msg(lb_server_start(&server) == 0, "loopback server did not start");
	return server;
}

cog_transport *transport_new(void)
{
	cog_transport *transport = NULL;
	int rc = cog_curl_transport_new(&transport, NULL);

	ck_assert_msg(rc == 0, "cog_curl_transport_new: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(transport);
	return transport;
}

void url_for(char *out, size_t size, lb_server *server, const char *path)
{
	snprintf(out, size, "http://127.0.0.1:%u%s", lb_server_port(server), path);
}

int get(cog_transport *transport, const char *url, cog_http_response *response)
{
	cog_http_request request = COG_HTTP_REQUEST_INIT;

	request.url = url;
	return cog_transport_perform(transport, &request, response);
}

void assert_error_mentions(const char *what)
{
	ck_assert_msg(strstr(cog_error_last(), what) != NULL,
	              "cog_error_last() is '%s', expected it to mention '%s'",
	              cog_error_last(), what);
}

void assert_header(const cog_http_response *response, const char *name,
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

TCase *transport_basic_tcase(void)
{
	TCase *basic = tcase_create("basic");

	tcase_add_test(basic, test_get_ok);
	tcase_add_test(basic, test_post_echo);
	tcase_add_test(basic, test_request_headers_and_user_agent);
	tcase_add_test(basic, test_http_error_statuses);
	tcase_add_test(basic, test_interim_response_headers_dropped);
	tcase_add_test(basic, test_big_body);
	return basic;
}

static Suite *transport_suite(void)
{
	Suite *suite = suite_create("transport-curl");

	suite_add_tcase(suite, transport_basic_tcase());
	suite_add_tcase(suite, transport_streaming_tcase());
	suite_add_tcase(suite, transport_connections_tcase());
	suite_add_tcase(suite, transport_tls_tcase());
	suite_add_tcase(suite, transport_api_tcase());
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
