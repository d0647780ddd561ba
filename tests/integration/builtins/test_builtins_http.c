/*
 * http_fetch through cog_tool_call(), over the real libcurl transport
 * against the loopback HTTP server of the transport tests.
 */
#include <stdio.h>
#include <string.h>

#include "cognition/curl.h"
#include "loopback_server.h"
#include "test_builtins.h"

static lb_server *server;
static char grant[128];          /* ["127.0.0.1"] */

static void http_setup(void)
{
	cog_transport *transport = NULL;

	tb_setup();
	ck_assert_int_eq(lb_server_start(&server), 0);
	ck_assert_int_eq(cog_curl_transport_new(&transport, NULL), 0);
	ck_assert_int_eq(cog_ctx_set_transport(tb_ctx, transport), 0);
	snprintf(grant, sizeof(grant), "[\"127.0.0.1\"]");
}

static void http_teardown(void)
{
	tb_teardown();
	lb_server_stop(server);
	server = NULL;
}

/* {"url":"http://127.0.0.1:<port><path>"<extra>} */
static const char *fetch_args(const char *path, const char *extra)
{
	static char args[1024];

	snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%u%s\"%s}",
	         lb_server_port(server), path, extra != NULL ? extra : "");
	return args;
}

START_TEST(test_get)
{
	cJSON *r = tb_ok("http_fetch", fetch_args("/hello", NULL), grant);
	ck_assert_int_eq((int)tb_num(r, "status"), 200);
	ck_assert_str_eq(tb_str(r, "body"), "hello world");
	ck_assert_str_eq(tb_str(r, "encoding"), "utf-8");
	ck_assert(!tb_bool(r, "truncated"));
	const cJSON *headers = cJSON_GetObjectItem(r, "headers");
	ck_assert_str_eq(tb_str(headers, "x-test"), "yes");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_post_query_headers)
{
	cJSON *r = tb_ok("http_fetch", fetch_args("/echo", ",\"method\":\"PUT\","
	                 "\"body\":\"payload\",\"headers\":{\"X-Custom\":\"1\"}"), grant);
	ck_assert_int_eq((int)tb_num(r, "status"), 200);
	ck_assert_str_eq(tb_str(r, "body"), "payload");
	ck_assert_str_eq(tb_str(cJSON_GetObjectItem(r, "headers"), "x-echo-method"),
	                 "PUT");
	cJSON_Delete(r);

	r = tb_ok("http_fetch", fetch_args("/q?x=0", ",\"query\":{\"a\":1,"
	          "\"b\":\"x y&z\",\"c\":true}"), grant);
	ck_assert_int_eq((int)tb_num(r, "status"), 404);
	cJSON_Delete(r);
	char line[256];
	lb_server_last_request_line(server, line, sizeof(line));
	ck_assert_str_eq(line, "GET /q?x=0&a=1&b=x%20y%26z&c=true HTTP/1.1");
}
END_TEST

START_TEST(test_grant_patterns)
{
	char with_port[128], wrong_port[128];

	snprintf(with_port, sizeof(with_port), "[\"127.0.0.1:%u\"]",
	         lb_server_port(server));
	snprintf(wrong_port, sizeof(wrong_port), "[\"127.0.0.1:%u\"]",
	         lb_server_port(server) == 1 ? 2u : 1u);
	cJSON *r = tb_ok("http_fetch", fetch_args("/hello", NULL), with_port);
	cJSON_Delete(r);
	r = tb_ok("http_fetch", fetch_args("/hello", NULL), "[\"*\"]");
	cJSON_Delete(r);
	r = tb_ok("http_fetch", fetch_args("/hello", NULL), "[\"example.org\",\"127.0.0.1.\"]");
	cJSON_Delete(r);
	tb_fails("http_fetch", fetch_args("/hello", NULL), wrong_port,
	         COG_EDENIED, "denied", "127.0.0.1");
	/* A host outside the grant: denied, naming the host and the grant. */
	tb_fails("http_fetch", fetch_args("/hello", NULL), "[\"example.org\"]",
	         COG_EDENIED, "denied", "\"127.0.0.1\"");
	tb_fails("http_fetch", fetch_args("/hello", NULL), "[\"example.org\"]",
	         COG_EDENIED, "denied", "example.org");
	/* Wildcards stand for subdomains, never for the domain itself, and
	 * never match IP addresses. */
	tb_fails("http_fetch", fetch_args("/hello", NULL), "[\"*.0.0.1\"]",
	         COG_EDENIED, "denied", "127.0.0.1");
	tb_fails("http_fetch", "{\"url\":\"http://localhost:9/\"}", "[\"*.localhost\"]",
	         COG_EDENIED, "denied", "localhost");
	tb_fails("http_fetch", "{\"url\":\"http://evil-example.org:9/\"}",
	         "[\"*.example.org\"]", COG_EDENIED, "denied", "evil-example.org");
	/* No grant at all: the registry denies tools that need the network. */
	tb_fails("http_fetch", fetch_args("/hello", NULL), NULL, COG_EDENIED,
	         "denied", "network");
	tb_fails("http_fetch", fetch_args("/hello", NULL), "[]", COG_EDENIED,
	         "denied", "network");
}
END_TEST

START_TEST(test_url_tricks_refused)
{
	/* Forms where parsers disagree about the host are refused outright. */
	tb_fails("http_fetch", "{\"url\":\"http://127.0.0.1@example.org/\"}", grant,
	         COG_EUSER, "tool_error", "credentials");
	tb_fails("http_fetch", "{\"url\":\"http://example.org\\\\@127.0.0.1/\"}", grant,
	         COG_EUSER, "tool_error", "backslash");
	tb_fails("http_fetch", "{\"url\":\"http://127.0.0.1%2f@x/\"}", grant,
	         COG_EUSER, "tool_error", NULL);
	tb_fails("http_fetch", "{\"url\":\"http://127.0.0.1:99999/\"}", grant,
	         COG_EUSER, "tool_error", "port");
	tb_fails("http_fetch", "{\"url\":\"ftp://127.0.0.1/\"}", grant,
	         COG_ESCHEMA, "invalid_arguments", NULL);
	/* A fragment naming another host is just a fragment. */
	char args[256];
	snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%u/hello"
	         "#@example.org\"}", lb_server_port(server));
	cJSON *r = tb_ok("http_fetch", args, grant);
	ck_assert_int_eq((int)tb_num(r, "status"), 200);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_header_injection_refused)
{
	tb_fails("http_fetch", fetch_args("/hello", ",\"headers\":{\"X-A\":"
	         "\"v\\r\\nHost: evil\"}"), grant, COG_EUSER, "tool_error",
	         "control character");
	tb_fails("http_fetch", fetch_args("/hello", ",\"headers\":{\"Host\":"
	         "\"example.org\"}"), grant, COG_EUSER, "tool_error", "Host");
	tb_fails("http_fetch", fetch_args("/hello", ",\"headers\":{\"Proxy-Authorization\":"
	         "\"x\"}"), grant, COG_EUSER, "tool_error", "Proxy-Authorization");
	tb_fails("http_fetch", fetch_args("/hello", ",\"headers\":{\"X A\":\"1\"}"),
	         grant, COG_ESCHEMA, "invalid_arguments", NULL);
	tb_fails("http_fetch", fetch_args("/hello", ",\"body\":\"x\""), grant,
	         COG_EUSER, "tool_error", "GET");
}
END_TEST

START_TEST(test_body_capped)
{
	/* 3 MB answer, 1000 bytes wanted: the rest is drained, so status and
	 * headers are still known. */
	cJSON *r = tb_ok("http_fetch", fetch_args("/big/3000000", ",\"max_bytes\":1000"),
	                 grant);
	ck_assert_int_eq((int)tb_num(r, "status"), 200);
	ck_assert_uint_eq(strlen(tb_str(r, "body")), 1000);
	ck_assert(tb_bool(r, "truncated"));
	cJSON_Delete(r);

	/* Without max_bytes the tool's cap (about 1 MiB) applies, and the
	 * whole result stays within the tool's output limit. */
	char *result = NULL;
	ck_assert_int_eq(tb_call("http_fetch", fetch_args("/big/2000000", NULL),
	                         grant, &result), 0);
	ck_assert_uint_le(strlen(result), 1024 * 1024);
	r = cJSON_Parse(result);
	cog_free(result);
	ck_assert(tb_bool(r, "truncated"));
	ck_assert_uint_gt(strlen(tb_str(r, "body")), 1000 * 1000);
	cJSON_Delete(r);

	/* An endless body: stopped after the grace period, status unknown. */
	r = tb_ok("http_fetch", fetch_args("/stream", ",\"max_bytes\":10"), grant);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "status")));
	ck_assert(tb_bool(r, "truncated"));
	ck_assert_str_eq(tb_str(r, "body"), "tick\ntick\n");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_redirect_not_followed)
{
	cJSON *r = tb_ok("http_fetch", fetch_args("/redirect", NULL), grant);
	char expected[128];

	ck_assert_int_eq((int)tb_num(r, "status"), 302);
	snprintf(expected, sizeof(expected), "http://127.0.0.1:%u/hello",
	         lb_server_port(server));
	ck_assert_str_eq(tb_str(r, "location"), expected);
	ck_assert_str_eq(tb_str(r, "body"), "moved");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_transport_failures)
{
	unsigned short port = 0;
	char args[128];

	ck_assert_int_eq(lb_unused_port(&port), 0);
	snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%u/\"}", port);
	tb_fails("http_fetch", args, grant, COG_EUNAVAILABLE, "unavailable", NULL);
	/* No transport on the context. */
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	ck_assert_int_eq(cog_tool_define_builtins(ctx, "http_fetch"), 0);
	tb_fails_in(ctx, "http_fetch", fetch_args("/hello", NULL), NULL, grant,
	            COG_EUNAVAILABLE, "unavailable", "transport");
	cog_ctx_free(ctx);
}
END_TEST

TCase *tb_http_tcase(void)
{
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, http_setup, http_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_post_query_headers);
	tcase_add_test(tc, test_grant_patterns);
	tcase_add_test(tc, test_url_tricks_refused);
	tcase_add_test(tc, test_header_injection_refused);
	tcase_add_test(tc, test_body_capped);
	tcase_add_test(tc, test_redirect_not_followed);
	tcase_add_test(tc, test_transport_failures);
	return tc;
}
