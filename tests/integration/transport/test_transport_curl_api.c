/*
 * libcognition-curl's API edges: invalid requests and options, the allocator
 * hook reaching libcurl, and every allocation failing in turn.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_transport_curl.h"

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

TCase *transport_api_tcase(void)
{
	TCase *api = tcase_create("api");

	tcase_add_test(api, test_invalid_requests);
	tcase_add_test(api, test_options);
	tcase_add_test(api, test_allocator_reaches_curl);
	tcase_add_test(api, test_allocation_failures);
	return api;
}
