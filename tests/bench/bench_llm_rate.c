/* bench_llm: sequential rate and client CPU, against raw libcurl and
 * python3-aiohttp (see bench_llm.c). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_llm.h"

#ifndef COG_BENCH_DIR
#define COG_BENCH_DIR "tests/bench"
#endif

typedef struct raw_client {
	CURL *easy;
	struct curl_slist *headers;
	char *answer;
	size_t len, cap;
} raw_client;

static size_t raw_write(char *data, size_t size, size_t count, void *user)
{
	raw_client *raw = user;
	size_t len = size * count;

	if (raw->len + len + 1 > raw->cap) {
		size_t cap = (raw->len + len + 1) * 2;
		char *grown = realloc(raw->answer, cap);

		if (grown == NULL)
			return 0;
		raw->answer = grown;
		raw->cap = cap;
	}
	memcpy(raw->answer + raw->len, data, len);
	raw->len += len;
	raw->answer[raw->len] = '\0';
	return len;
}

/* The POST the provider sends (its body and headers), with the transfer
 * options libcognition-curl sets, minus its callbacks. */
static void raw_setup(raw_client *raw, const char *url, const mem_transport *seen)
{
	CURLcode cc = CURLE_OK;

	raw->easy = curl_easy_init();
	for (size_t i = 0; i < seen->n_headers; i++)
		raw->headers = curl_slist_append(raw->headers, seen->last_headers[i]);
	raw->headers = curl_slist_append(raw->headers, "Expect:");
#define RAW_SET(option, value) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(raw->easy, option, value); } while (0)
	RAW_SET(CURLOPT_URL, url);
	RAW_SET(CURLOPT_NOSIGNAL, 1L);
	RAW_SET(CURLOPT_USERAGENT, "libcognition/" COG_VERSION_STRING);
	RAW_SET(CURLOPT_WRITEFUNCTION, raw_write);
	RAW_SET(CURLOPT_WRITEDATA, (void *)raw);
	RAW_SET(CURLOPT_TIMEOUT_MS, 30000L);
	RAW_SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	RAW_SET(CURLOPT_TCP_KEEPALIVE, 1L);
	RAW_SET(CURLOPT_HTTPHEADER, raw->headers);
	RAW_SET(CURLOPT_POSTFIELDS, seen->last_body);
	RAW_SET(CURLOPT_POSTFIELDSIZE, (long)strlen(seen->last_body));
#undef RAW_SET
	if (raw->easy == NULL || cc != CURLE_OK) {
		fprintf(stderr, "bench_llm: raw libcurl setup: %s\n", curl_easy_strerror(cc));
		exit(EXIT_FAILURE);
	}
}

static void run_raw(raw_client *raw, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		long status = 0;
		CURLcode cc;

		raw->len = 0;
		cc = curl_easy_perform(raw->easy);
		if (cc == CURLE_OK)
			cc = curl_easy_getinfo(raw->easy, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status != 200 || raw->len < 100) {
			fprintf(stderr, "bench_llm: raw request %u: %s, HTTP %ld\n", i,
			        curl_easy_strerror(cc), status);
			exit(EXIT_FAILURE);
		}
	}
}

static void run_cog(cog_llm *llm, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		char *out = NULL;

		if (cog_llm_backend_chat(llm, bench_request, NULL, &out) != 0)
			die("cog_llm_backend_chat");
		if (strstr(out, "How can I help you today?") == NULL) {
			fprintf(stderr, "bench_llm: unexpected answer %s\n", out);
			exit(EXIT_FAILURE);
		}
		cog_free(out);
	}
}

/* Whether `import aiohttp` works in /usr/bin/python3, installing
 * python3-aiohttp with apt-get when it does not. */
#define INSTALL_AIOHTTP \
	"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiohttp >&2"

static int have_aiohttp(void)
{
	const char *check = "/usr/bin/python3 -c 'import aiohttp' 2>/dev/null";

	if (system(check) == 0)
		return 1;
	fprintf(stderr, "bench_llm: installing python3-aiohttp (apt-get)\n");
	if (system(geteuid() == 0 ? INSTALL_AIOHTTP : "sudo " INSTALL_AIOHTTP) != 0 ||
	    system(check) != 0) {
		fprintf(stderr, "bench_llm: no python3-aiohttp: the aiohttp peer is left out\n");
		return 0;
	}
	return 1;
}

/* One round of the aiohttp peer: n requests after a warm-up, in its own
 * process; its own wall and CPU times (it measures them itself). */
static int run_aiohttp(const char *url, const char *body, const char *headers_json,
                       unsigned int n, double *wall, double *cpu)
{
	char count[16], line[256];
	const char *argv[] = { "/usr/bin/python3", COG_BENCH_DIR "/peers/aiohttp_client.py",
	                       url, body, headers_json, count, "200", NULL };
	peer_options o = { 0 };
	peer *p = NULL;
	size_t len = 0;
	ssize_t got;
	unsigned int done = 0;

	snprintf(count, sizeof(count), "%u", n);
	o.name = "aiohttp-client";
	o.argv = argv;
	o.stdio = true;
	if (peer_start(&p, &o) != 0) {
		fprintf(stderr, "bench_llm: %s\n", peer_error());
		return -1;
	}
	while (len < sizeof(line) - 1 &&
	       (got = read(peer_stdout_fd(p), line + len, sizeof(line) - 1 - len)) > 0)
		len += (size_t)got;
	line[len] = '\0';
	if (peer_stop(p) != 0 || sscanf(line, "{\"requests\": %u, \"wall_s\": %lf, "
	                                "\"cpu_s\": %lf}", &done, wall, cpu) != 3 || done != n) {
		fprintf(stderr, "bench_llm: aiohttp peer said: '%s'\n", line);
		return -1;
	}
	return 0;
}

static char *headers_as_json(const mem_transport *seen)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	for (size_t i = 0; i < seen->n_headers; i++) {
		char *colon = strchr(seen->last_headers[i], ':');
		char name[128];

		if (colon == NULL || (size_t)(colon - seen->last_headers[i]) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(colon - seen->last_headers[i]),
		         seen->last_headers[i]);
		cJSON_AddStringToObject(o, name, colon + 1 + strspn(colon + 1, " "));
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* The provider's POST through the same transport, parsing nothing: what
 * the provider costs on top of its transport. */
static void run_transport(cog_transport *transport, const char *url,
                          const mem_transport *seen, unsigned int n)
{
	cog_http_request request = COG_HTTP_REQUEST_INIT;

	request.method = "POST";
	request.url = url;
	request.headers = (const char *const *)seen->last_headers;
	request.header_count = seen->n_headers;
	request.body = seen->last_body;
	request.body_len = strlen(seen->last_body);
	for (unsigned int i = 0; i < n; i++) {
		cog_http_response response = COG_HTTP_RESPONSE_INIT;

		if (cog_transport_perform(transport, &request, &response) != 0 ||
		    response.status != 200 || response.body_len < 100)
			die("cog_transport_perform");
		cog_http_response_dispose(&response);
	}
}

enum { COG, TRANSPORT, RAW, AIOHTTP, CLIENTS };

int bench_rate(double scale)
{
	enum { ROUNDS = 6 };
	unsigned int n = (unsigned int)(2000 * scale) + 1, r, c;
	double wall[CLIENTS] = { 0 }, cpu[CLIENTS] = { 0 };
	double ratio_raw[ROUNDS], ratio_transport[ROUNDS], ratio_py[ROUNDS];
	const char *names[CLIENTS] = {
		"cog_llm_backend_chat (OpenAI provider)",
		"cog_transport_perform, same POST",
		"raw libcurl, same POST, no parsing",
		"python3-aiohttp, same POST, resp.json()" };
	mem_transport seen = { 0 };
	raw_client raw = { 0 };
	char base[64], url[96], *headers_json, *out = NULL;
	cog_transport *transport = NULL;
	int py = have_aiohttp();
	peer *server = server_start(NULL);
	cog_ctx *ctx, *probe_ctx;
	cog_llm *llm, *probe;

	/* What the provider sends, seen by a transport in memory. */
	snprintf(base, sizeof(base), "%s/v1", peer_url(server));
	snprintf(url, sizeof(url), "%s/chat/completions", base);
	seen.body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
	            "\"finish_reason\":\"stop\"}]}";
	seen.len = strlen(seen.body);
	probe_ctx = ctx_over(mem_transport_new(&seen));
	probe = provider_at(probe_ctx, base);
	if (cog_llm_backend_chat(probe, bench_request, NULL, &out) != 0)
		die("cog_llm_backend_chat from memory");
	cog_free(out);
	headers_json = headers_as_json(&seen);
	if (cog_curl_transport_new(&transport, NULL) != 0)
		die("cog_curl_transport_new");
	ctx = ctx_over(transport);
	llm = provider_at(ctx, base);
	raw_setup(&raw, url, &seen);
	run_cog(llm, 200);
	run_transport(transport, url, &seen, 200);
	run_raw(&raw, 200);
	for (r = 0; r < ROUNDS; r++) {
		double w[CLIENTS] = { 0 }, u[CLIENTS] = { 0 };

		/* A different order each round, so drift hits each alike. */
		for (c = 0; c < CLIENTS; c++) {
			unsigned int which = (r + c) % CLIENTS;
			double w0 = now_s(), u0 = cpu_s();

			if (which == COG)
				run_cog(llm, n);
			else if (which == TRANSPORT)
				run_transport(transport, url, &seen, n);
			else if (which == RAW)
				run_raw(&raw, n);
			else if (py && run_aiohttp(url, seen.last_body, headers_json, n,
			                           &w[AIOHTTP], &u[AIOHTTP]) != 0)
				py = 0;
			if (which != AIOHTTP) {
				w[which] = now_s() - w0;
				u[which] = cpu_s() - u0;
			}
		}
		for (c = 0; c < CLIENTS; c++) {
			wall[c] += w[c];
			cpu[c] += u[c];
		}
		ratio_raw[r] = w[RAW] / w[COG];
		ratio_transport[r] = w[TRANSPORT] / w[COG];
		ratio_py[r] = py ? w[AIOHTTP] / w[COG] : 0;
	}
	printf("rate: %d rounds x %u sequential keep-alive chat completions per client "
	       "(%zu-byte POST, %zu-byte OpenAI answer), 127.0.0.1, server in its own process\n",
	       ROUNDS, n, strlen(seen.last_body), strlen(raw.answer));
	for (c = 0; c < CLIENTS; c++) {
		if (c == AIOHTTP && !py) {
			printf("  %-42s left out (no python3-aiohttp)\n", names[c]);
			continue;
		}
		printf("  %-42s %8.0f req/s  %6.1f us CPU/req\n", names[c],
		       n * ROUNDS / wall[c], cpu[c] / (n * ROUNDS) * 1e6);
	}
	printf("  rate provider/raw libcurl: %.3f over the run, %.3f median of rounds "
	       "(goal >= 0.90)\n", wall[RAW] / wall[COG], median(ratio_raw, ROUNDS));
	printf("  rate provider/transport alone: %.3f over the run, %.3f median of rounds\n",
	       wall[TRANSPORT] / wall[COG], median(ratio_transport, ROUNDS));
	if (py)
		printf("  rate provider/aiohttp: %.2f over the run, %.2f median of rounds "
		       "(goal >= 2); CPU per request aiohttp/provider: %.2f\n",
		       wall[AIOHTTP] / wall[COG], median(ratio_py, ROUNDS),
		       cpu[AIOHTTP] / cpu[COG]);
	printf("  CPU per request provider/raw libcurl: %.2f, transport/raw libcurl: %.2f\n",
	       cpu[COG] / cpu[RAW], cpu[TRANSPORT] / cpu[RAW]);
	/* The provider's own work: the same answer from a transport in memory. */
	seen.body = raw.answer;
	seen.len = raw.len;
	{
		double u0 = cpu_s(), w0 = now_s();

		run_cog(probe, n * 2);
		printf("  the provider alone (same answer from a host transport in memory): "
		       "%.1f us CPU/req, %.0f req/s\n", (cpu_s() - u0) / (n * 2) * 1e6,
		       n * 2 / (now_s() - w0));
	}
	cJSON_free(headers_json);
	curl_slist_free_all(raw.headers);
	curl_easy_cleanup(raw.easy);
	free(raw.answer);
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	cog_llm_free(probe);
	cog_ctx_free(probe_ctx);
	mem_transport_dispose(&seen);
	peer_stop(server);
	return 0;
}

