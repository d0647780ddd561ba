/*
 * LLM provider benchmarks (docs/PERFORMANCE.md, "LLM providers"):
 *
 *   rate         sequential chat completions against a loopback server in
 *                its own process (peers/llm_server.c) answering a fixed
 *                OpenAI chat completion: client CPU per request and request
 *                rate of cog_llm_backend_chat (OpenAI provider over
 *                libcognition-curl), of raw libcurl doing the same POST
 *                and parsing nothing, and of python3-aiohttp
 *                (peers/aiohttp_client.py, parsing the JSON), interleaved
 *                in rounds in the same run (bench_llm_rate.c)
 *   stream       chunk events parsed and assembled per second on a
 *                100,000-chunk OpenAI stream, fed from memory through a host
 *                transport, then over loopback from the server
 *                (bench_llm_load.c, as the next one)
 *   concurrency  1,000 requests from 64 threads sharing one provider, to a
 *                server that answers after 50 ms: wall time vs the ideal
 *
 *   bench_llm [all|rate|stream|concurrency] [scale=1]
 *
 * python3-aiohttp is installed with apt-get when missing (as root or through
 * sudo); without it the aiohttp column is left out and said so.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_llm.h"

#ifndef BENCH_LLM_SERVER
#define BENCH_LLM_SERVER "bench_llm_server"
#endif

const char *const bench_request =
	"{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
	"{\"role\":\"user\",\"content\":\"Say hello.\"}],\"max_tokens\":64,\"temperature\":0.2}";

/* ---- shared helpers ---- */

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *values, unsigned int n)
{
	qsort(values, n, sizeof(values[0]), compare_double);
	return n % 2 != 0 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void die(const char *what)
{
	fprintf(stderr, "bench_llm: %s: %s\n", what, cog_error_last());
	exit(EXIT_FAILURE);
}

peer *server_start(const char *stream_file)
{
	const char *argv[] = { BENCH_LLM_SERVER, stream_file, NULL };
	peer_options o = { 0 };
	peer *p = NULL;

	o.name = "bench-llm-server";
	o.argv = argv;
	o.ready_path = "/health";
	if (peer_start(&p, &o) != 0) {
		fprintf(stderr, "bench_llm: %s\n", peer_error());
		exit(EXIT_FAILURE);
	}
	return p;
}

static int mem_perform(void *self, const cog_http_request *request,
                       cog_http_response *response)
{
	mem_transport *m = self;
	const char *type = m->content_type != NULL ? m->content_type : "application/json";
	size_t i, n;

	free(m->last_body);
	m->last_body = strndup(request->body != NULL ? request->body : "", request->body_len);
	for (i = 0; i < m->n_headers; i++)
		free(m->last_headers[i]);
	free(m->last_headers);
	m->last_headers = calloc(request->header_count + 1, sizeof(char *));
	m->n_headers = request->header_count;
	for (i = 0; i < request->header_count; i++)
		m->last_headers[i] = strdup(request->headers[i]);
	response->status = 200;
	n = strlen(type) + 16;
	response->headers = cog_malloc(n);
	if (response->headers == NULL)
		return COG_ENOMEM;
	snprintf(response->headers, n, "Content-Type: %s\n", type);
	if (request->on_chunk != NULL) {
		size_t piece = m->piece != 0 ? m->piece : m->len;

		for (i = 0; i < m->len; i += n) {
			int rc;

			n = m->len - i < piece ? m->len - i : piece;
			if ((rc = request->on_chunk(m->body + i, n, request->chunk_user_data)) != 0)
				return rc;
		}
		return 0;
	}
	response->body = cog_malloc(m->len + 1);
	if (response->body == NULL)
		return COG_ENOMEM;
	memcpy(response->body, m->body, m->len);
	response->body[m->len] = '\0';
	response->body_len = m->len;
	return 0;
}

cog_transport *mem_transport_new(mem_transport *m)
{
	cog_transport_vtable vt = COG_TRANSPORT_VTABLE_INIT;
	cog_transport *t = NULL;

	vt.self = m;
	vt.perform = mem_perform;
	if (cog_transport_new(&t, &vt) != 0)
		die("cog_transport_new");
	return t;
}

void mem_transport_dispose(mem_transport *m)
{
	for (size_t i = 0; i < m->n_headers; i++)
		free(m->last_headers[i]);
	free(m->last_headers);
	free(m->last_body);
	m->last_headers = NULL;
	m->last_body = NULL;
	m->n_headers = 0;
}

cog_ctx *ctx_over(cog_transport *transport)
{
	cog_ctx *ctx = NULL;

	if (cog_ctx_new(&ctx, NULL) != 0)
		die("cog_ctx_new");
	if (cog_ctx_set_transport(ctx, transport) != 0)
		die("cog_ctx_set_transport");
	return ctx;
}

cog_llm *provider_at(cog_ctx *ctx, const char *base_url)
{
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	cog_llm *llm = NULL;

	o.provider = COG_LLM_OPENAI;
	o.base_url = base_url;
	o.api_key = "sk-bench";
	o.model = "gpt-4.1";
	o.timeout_ms = 30000;
	o.max_response_bytes = 256u << 20;
	if (cog_llm_provider_new(&llm, ctx, &o) != 0)
		die("cog_llm_provider_new");
	return llm;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	double scale = argc > 2 ? atof(argv[2]) : 1.0;
	bool all = strcmp(what, "all") == 0;

	if (scale <= 0 || scale > 100 || (!all && strcmp(what, "rate") != 0 &&
	    strcmp(what, "stream") != 0 && strcmp(what, "concurrency") != 0)) {
		fprintf(stderr, "usage: bench_llm [all|rate|stream|concurrency] [scale=1]\n");
		return 2;
	}
	printf("bench_llm: libcognition %s, %s\n", COG_VERSION_STRING, curl_version());
	if (all || strcmp(what, "rate") == 0)
		bench_rate(scale);
	if (all || strcmp(what, "stream") == 0)
		bench_stream(scale);
	if (all || strcmp(what, "concurrency") == 0)
		bench_concurrency(scale);
	return 0;
}
