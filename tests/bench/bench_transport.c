/*
 * Transport benchmark: sequential keep-alive GETs of a small body from a
 * loopback HTTP/1.1 server, through cog_transport_perform() (libcognition-curl)
 * and through the peer, a raw libcurl easy handle reused for every request
 * with the same transfer options. Both run in the same process, in
 * interleaved rounds, so machine noise hits both alike.
 *
 *   bench_transport [requests [rounds]]     defaults: 20000 20
 *
 * Prints requests per second for each and the ratio cog/raw (target >= 0.9):
 * over the whole run, and the median of the rounds' ratios, which a burst
 * of load from elsewhere on the machine moves less.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cognition/curl.h"

/* The server the integration tests use; it is small enough to compile in. */
#include "../integration/transport/loopback_server.c"

typedef struct raw_body {
	char *ptr;
	size_t len;
	size_t cap;
} raw_body;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t raw_write(char *data, size_t size, size_t count, void *user)
{
	raw_body *body = user;
	size_t len = size * count;

	if (body->len + len + 1 > body->cap) {
		size_t cap = (body->len + len + 1) * 2;
		char *grown = realloc(body->ptr, cap);

		if (grown == NULL)
			return 0;
		body->ptr = grown;
		body->cap = cap;
	}
	memcpy(body->ptr + body->len, data, len);
	body->len += len;
	body->ptr[body->len] = '\0';
	return len;
}

/* What libcognition-curl sets on every request, minus its own callbacks. */
static int raw_setup(CURL *easy, const char *url, raw_body *body)
{
	CURLcode cc = CURLE_OK;

#define RAW_SET(option, value) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(easy, option, value); } while (0)
	RAW_SET(CURLOPT_URL, url);
	RAW_SET(CURLOPT_NOSIGNAL, 1L);
	RAW_SET(CURLOPT_USERAGENT, "libcognition/" COG_VERSION_STRING);
	RAW_SET(CURLOPT_WRITEFUNCTION, raw_write);
	RAW_SET(CURLOPT_WRITEDATA, (void *)body);
	RAW_SET(CURLOPT_TIMEOUT_MS, 30000L);
	RAW_SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	RAW_SET(CURLOPT_TCP_KEEPALIVE, 1L);
	RAW_SET(CURLOPT_SSL_VERIFYPEER, 1L);
	RAW_SET(CURLOPT_SSL_VERIFYHOST, 2L);
	RAW_SET(CURLOPT_HTTPGET, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	RAW_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	RAW_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	if (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)
		RAW_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
#undef RAW_SET
	if (cc != CURLE_OK) {
		fprintf(stderr, "raw setup: %s\n", curl_easy_strerror(cc));
		return -1;
	}
	return 0;
}

static int run_cog(cog_transport *transport, const char *url, unsigned int n)
{
	cog_http_request request = COG_HTTP_REQUEST_INIT;
	unsigned int i;

	request.url = url;
	for (i = 0; i < n; i++) {
		cog_http_response response = COG_HTTP_RESPONSE_INIT;
		int rc = cog_transport_perform(transport, &request, &response);

		if (rc != 0 || response.status != 200 || response.body_len != 11) {
			fprintf(stderr, "cog request %u: %d %s\n", i, rc, cog_error_last());
			cog_http_response_dispose(&response);
			return -1;
		}
		cog_http_response_dispose(&response);
	}
	return 0;
}

static int run_raw(CURL *easy, raw_body *body, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		long status = 0;
		CURLcode cc;

		body->len = 0;
		cc = curl_easy_perform(easy);
		if (cc == CURLE_OK)
			cc = curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status != 200 || body->len != 11) {
			fprintf(stderr, "raw request %u: %s\n", i, curl_easy_strerror(cc));
			return -1;
		}
	}
	return 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *values, unsigned int n)
{
	qsort(values, n, sizeof(values[0]), compare_double);
	return n % 2 != 0 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static unsigned int parse_count(const char *arg, const char *what)
{
	char *end;
	unsigned long value = strtoul(arg, &end, 10);

	if (*end != '\0' || value == 0 || value > 100000000ul) {
		fprintf(stderr, "bench_transport: bad %s '%s'\n", what, arg);
		exit(2);
	}
	return (unsigned int)value;
}

int main(int argc, char **argv)
{
	unsigned int requests = argc > 1 ? parse_count(argv[1], "request count") : 20000;
	unsigned int rounds = argc > 2 ? parse_count(argv[2], "round count") : 20;
	unsigned int per_round = requests / rounds != 0 ? requests / rounds : 1;
	double cog_s = 0, raw_s = 0;
	double *ratios;
	raw_body body = { NULL, 0, 0 };
	cog_transport *transport = NULL;
	lb_server *server = NULL;
	CURL *easy = NULL;
	char url[128];
	unsigned int r;
	int status = 1;

	if (rounds > 10000) {
		fprintf(stderr, "bench_transport: at most 10000 rounds\n");
		return 2;
	}
	ratios = calloc(rounds, sizeof(ratios[0]));
	if (ratios == NULL)
		return 1;
	/* The transport first: its curl_global_init_mem() then serves both. */
	if (cog_curl_transport_new(&transport, NULL) != 0) {
		fprintf(stderr, "cog_curl_transport_new: %s\n", cog_error_last());
		free(ratios);
		return 1;
	}
	if (lb_server_start(&server) != 0)
		goto done;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", lb_server_port(server));
	easy = curl_easy_init();
	if (easy == NULL || raw_setup(easy, url, &body) != 0)
		goto done;
	/* Warm up: connections open, caches filled. */
	if (run_cog(transport, url, 200) != 0 || run_raw(easy, &body, 200) != 0)
		goto done;
	for (r = 0; r < rounds; r++) {
		double t0, t1, t2, cog_round, raw_round;
		bool cog_first = r % 2 == 0;

		t0 = now_s();
		if ((cog_first ? run_cog(transport, url, per_round) :
		                 run_raw(easy, &body, per_round)) != 0)
			goto done;
		t1 = now_s();
		if ((cog_first ? run_raw(easy, &body, per_round) :
		                 run_cog(transport, url, per_round)) != 0)
			goto done;
		t2 = now_s();
		cog_round = cog_first ? t1 - t0 : t2 - t1;
		raw_round = cog_first ? t2 - t1 : t1 - t0;
		cog_s += cog_round;
		raw_s += raw_round;
		ratios[r] = raw_round / cog_round;
	}
	printf("bench_transport: %u sequential keep-alive GETs (11-byte body) per "
	       "client over 127.0.0.1, %u interleaved rounds, %s\n",
	       per_round * rounds, rounds, curl_version());
	printf("  cog_transport_perform (libcognition-curl): %10.0f req/s\n",
	       per_round * rounds / cog_s);
	printf("  raw libcurl easy handle (peer):            %10.0f req/s\n",
	       per_round * rounds / raw_s);
	printf("  ratio cog/raw: %.3f over the run, %.3f median of rounds "
	       "(target >= 0.90)\n", raw_s / cog_s, median(ratios, rounds));
	printf("  TCP connections opened: %u (one per client expected)\n",
	       lb_server_accepts(server));
	status = 0;
done:
	if (easy != NULL)
		curl_easy_cleanup(easy);
	free(body.ptr);
	free(ratios);
	cog_transport_free(transport);
	lb_server_stop(server);
	return status;
}
