/*
 * Shared by the test_transport_curl*.c sources: helpers defined in
 * test_transport_curl.c (loopback server, transport, requests, assertions)
 * and the factories of the test cases main() puts in the suite.
 */
#ifndef TEST_TRANSPORT_CURL_H
#define TEST_TRANSPORT_CURL_H

#include <stddef.h>

#include <check.h>

#include "cognition/curl.h"
#include "loopback_server.h"

double now_ms(void);   /* CLOCK_MONOTONIC */
void sleep_ms(unsigned int ms);

/* A started loopback server, or the test fails. */
lb_server *server_start(void);
/* A transport with default options, or the test fails. */
cog_transport *transport_new(void);
/* http://127.0.0.1:<port of server><path> */
void url_for(char *out, size_t size, lb_server *server, const char *path);
/* A plain GET of url. */
int get(cog_transport *transport, const char *url, cog_http_response *response);

void assert_error_mentions(const char *what);
void assert_header(const cog_http_response *response, const char *name,
                   const char *expected);

/* The test cases of the "transport-curl" suite, in the order main() adds
 * them. */
TCase *transport_basic_tcase(void);        /* test_transport_curl.c */
TCase *transport_streaming_tcase(void);    /* test_transport_curl_streaming.c */
TCase *transport_connections_tcase(void);  /* test_transport_curl_connections.c */
TCase *transport_tls_tcase(void);          /* test_transport_curl_connections.c */
TCase *transport_api_tcase(void);          /* test_transport_curl_api.c */

#endif /* TEST_TRANSPORT_CURL_H */
