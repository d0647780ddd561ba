/* bench_llm: streaming throughput and concurrency (see bench_llm.c). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_llm.h"

/* ---- stream: 100,000 chunk events ---- */

#define CHUNK_HEAD "data: {\"id\":\"chatcmpl-BbR6nXJ0mQx3RqzvTtGd2yDLfz8Ks\"," \
	"\"object\":\"chat.completion.chunk\",\"created\":1748368921," \
	"\"model\":\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\"," \
	"\"system_fingerprint\":\"fp_b3f1157249\",\"choices\":[{\"index\":0,\"delta\":"

/* An OpenAI stream as api.openai.com sends it with include_usage: a role
 * chunk, `chunks` content chunks (" w<i>" each), a finish chunk, a usage
 * chunk, [DONE]. */
static char *make_stream(unsigned int chunks, size_t *len, size_t *text_len)
{
	size_t cap = (size_t)chunks * (sizeof(CHUNK_HEAD) + 96) + 4096, n = 0;
	char *s = malloc(cap);

	if (s == NULL)
		exit(EXIT_FAILURE);
	*text_len = 0;
	n += (size_t)sprintf(s + n, CHUNK_HEAD "{\"role\":\"assistant\",\"content\":\"\","
	                     "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],"
	                     "\"usage\":null}\n\n");
	for (unsigned int i = 0; i < chunks; i++) {
		int w = sprintf(s + n, CHUNK_HEAD "{\"content\":\" w%u\"},\"logprobs\":null,"
		                "\"finish_reason\":null}],\"usage\":null}\n\n", i);

		n += (size_t)w;
		*text_len += (size_t)snprintf(NULL, 0, " w%u", i);
	}
	n += (size_t)sprintf(s + n, CHUNK_HEAD "{},\"logprobs\":null,\"finish_reason\":"
	                     "\"stop\"}],\"usage\":null}\n\n");
	n += (size_t)sprintf(s + n, "data: {\"id\":\"chatcmpl-BbR6nXJ0mQx3RqzvTtGd2yDLfz8Ks\","
	                     "\"object\":\"chat.completion.chunk\",\"created\":1748368921,"
	                     "\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[],\"usage\":"
	                     "{\"prompt_tokens\":19,\"completion_tokens\":%u,"
	                     "\"total_tokens\":%u}}\n\ndata: [DONE]\n\n", chunks, chunks + 19);
	*len = n;
	return s;
}

typedef struct counted {
	unsigned long events, text_events;
	size_t text_bytes;
} counted;

/* What a host does with each event: look at its type, keep the text. The
 * event JSON is not parsed again here. */
static int count_event(const char *event_json, size_t len, void *user_data)
{
	counted *c = user_data;
	const char *text = strstr(event_json, "\"text\":\"");

	c->events++;
	if (len > 15 && strncmp(event_json, "{\"type\":\"text\"", 14) == 0 && text != NULL) {
		c->text_events++;
		c->text_bytes += len - (size_t)(text + 8 - event_json) - 2;
	}
	return 0;
}

/* One streamed call; seconds of wall and CPU. */
static void stream_once(cog_llm *llm, unsigned int chunks, size_t text_len,
                        double *wall, double *cpu)
{
	cog_llm_call call = COG_LLM_CALL_INIT;
	counted c = { 0, 0, 0 };
	char *out = NULL;
	double w0 = now_s(), u0 = cpu_s();

	call.on_event = count_event;
	call.event_user_data = &c;
	if (cog_llm_backend_chat(llm, bench_request, &call, &out) != 0)
		die("streamed cog_llm_backend_chat");
	*wall = now_s() - w0;
	*cpu = cpu_s() - u0;
	if (c.text_events != chunks || c.text_bytes != text_len ||
	    strstr(out, "\"completion_tokens\"") != NULL /* not our shape */) {
		fprintf(stderr, "bench_llm: stream: %lu text events (%zu bytes), expected %u "
		        "(%zu bytes)\n", c.text_events, c.text_bytes, chunks, text_len);
		exit(EXIT_FAILURE);
	}
	cog_free(out);
}

static void stream_report(const char *how, cog_llm *llm, unsigned int chunks,
                          size_t text_len, size_t bytes)
{
	enum { RUNS = 7 };
	double rate[RUNS], cpu_rate[RUNS], wall, cpu, best = 0;

	stream_once(llm, chunks, text_len, &wall, &cpu);   /* warm-up */
	for (int i = 0; i < RUNS; i++) {
		stream_once(llm, chunks, text_len, &wall, &cpu);
		rate[i] = chunks / wall;
		cpu_rate[i] = chunks / cpu;
		if (rate[i] > best)
			best = rate[i];
	}
	printf("  %-34s %6.2f M events/s median, %.2f best, %.2f per CPU-second; "
	       "%.0f MB/s of SSE\n", how, median(rate, RUNS) / 1e6, best / 1e6,
	       median(cpu_rate, RUNS) / 1e6, median(rate, RUNS) * (double)bytes / chunks / 1e6);
}

int bench_stream(double scale)
{
	unsigned int chunks = (unsigned int)(100000 * scale);
	mem_transport mem = { 0 };
	size_t len, text_len;
	char *stream = make_stream(chunks, &len, &text_len);
	char path[] = "/tmp/bench_llm_stream_XXXXXX", base[96];
	int fd = mkstemp(path);
	cog_transport *curl = NULL;
	cog_ctx *ctx;
	cog_llm *llm;
	peer *server;

	if (fd < 0 || write(fd, stream, len) != (ssize_t)len || close(fd) != 0) {
		perror("bench_llm: stream file");
		exit(EXIT_FAILURE);
	}
	printf("stream: %u content chunks (%zu bytes of SSE, %zu of text), 7 runs each, "
	       "a stream callback per event (goal >= 1 M events/s)\n", chunks, len, text_len);
	mem.body = stream;
	mem.len = len;
	mem.content_type = "text/event-stream";
	mem.piece = 16384;
	ctx = ctx_over(mem_transport_new(&mem));
	llm = provider_at(ctx, "http://127.0.0.1:9/v1");
	stream_report("from memory (16 KiB pieces)", llm, chunks, text_len, len);
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	mem_transport_dispose(&mem);

	server = server_start(path);
	snprintf(base, sizeof(base), "%s/stream/v1", peer_url(server));
	if (cog_curl_transport_new(&curl, NULL) != 0)
		die("cog_curl_transport_new");
	ctx = ctx_over(curl);
	llm = provider_at(ctx, base);
	stream_report("over loopback (libcognition-curl)", llm, chunks, text_len, len);
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	peer_stop(server);
	unlink(path);
	free(stream);
	return 0;
}

/* ---- concurrency: 1,000 requests, 64 threads, 50 ms answers ---- */

enum { THREADS = 64, DELAY_MS = 50 };

typedef struct conc_run {
	cog_llm *llm;                 /* NULL: raw libcurl, one handle per thread */
	const char *url;              /* raw: the full URL */
	const mem_transport *seen;    /* raw: what the provider sends */
	unsigned int total;
	atomic_uint next;
	atomic_int failures;
	pthread_barrier_t start;
} conc_run;

static size_t discard(char *data, size_t size, size_t count, void *user)
{
	(void)data, (void)user;
	return size * count;
}

static void *conc_worker(void *arg)
{
	conc_run *run = arg;
	struct curl_slist *headers = NULL;
	CURL *easy = NULL;
	unsigned int i;

	if (run->llm == NULL) {
		easy = curl_easy_init();
		for (size_t h = 0; h < run->seen->n_headers; h++)
			headers = curl_slist_append(headers, run->seen->last_headers[h]);
		curl_easy_setopt(easy, CURLOPT_URL, run->url);
		curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, run->seen->last_body);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
	}
	pthread_barrier_wait(&run->start);
	while ((i = atomic_fetch_add(&run->next, 1)) < run->total) {
		if (run->llm != NULL) {
			char *out = NULL;

			if (cog_llm_backend_chat(run->llm, bench_request, NULL, &out) != 0) {
				if (atomic_fetch_add(&run->failures, 1) == 0)
					fprintf(stderr, "bench_llm: request %u: %s\n", i,
					        cog_error_last());
			}
			cog_free(out);
		} else if (curl_easy_perform(easy) != CURLE_OK) {
			atomic_fetch_add(&run->failures, 1);
		}
	}
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	return NULL;
}

/* One batch of `total` requests; wall seconds. */
static double conc_once(cog_llm *llm, const char *url, const mem_transport *seen,
                        unsigned int total)
{
	pthread_t threads[THREADS];
	conc_run run;
	double t0, t1;

	memset(&run, 0, sizeof(run));
	run.llm = llm;
	run.url = url;
	run.seen = seen;
	run.total = total;
	pthread_barrier_init(&run.start, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&threads[i], NULL, conc_worker, &run) != 0) {
			fprintf(stderr, "bench_llm: pthread_create failed\n");
			exit(EXIT_FAILURE);
		}
	pthread_barrier_wait(&run.start);
	t0 = now_s();
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	t1 = now_s();
	pthread_barrier_destroy(&run.start);
	if (atomic_load(&run.failures) != 0) {
		fprintf(stderr, "bench_llm: %d of %u requests failed\n",
		        atomic_load(&run.failures), total);
		exit(EXIT_FAILURE);
	}
	return t1 - t0;
}

static void conc_report(const char *how, cog_llm *llm, const char *url,
                        const mem_transport *seen, unsigned int total, double ideal)
{
	enum { RUNS = 5 };
	double walls[RUNS];

	printf("  %-40s", how);
	for (int i = 0; i < RUNS; i++) {
		walls[i] = conc_once(llm, url, seen, total);
		printf(" %4.0f", walls[i] * 1e3);
	}
	printf(" ms; warm median %.0f ms = %.3f x ideal\n", median(walls + 1, RUNS - 1) * 1e3,
	       median(walls + 1, RUNS - 1) / ideal);
}

int bench_concurrency(double scale)
{
	unsigned int total = (unsigned int)(1000 * scale);
	double ideal = (double)total / THREADS * DELAY_MS / 1e3;
	unsigned int waves = (total + THREADS - 1) / THREADS;
	peer *server = server_start(NULL);
	mem_transport seen = { 0 };
	char base[96], url[128], *out = NULL;
	unsigned int limits[2] = { 0, THREADS };

	snprintf(base, sizeof(base), "%s/delay/%d/v1", peer_url(server), DELAY_MS);
	snprintf(url, sizeof(url), "%s/chat/completions", base);
	printf("concurrency: %u requests from %d threads sharing one provider, answers after "
	       "%d ms; ideal %.0f ms (%u waves: %u ms); runs 1-5 (1 cold) (goal <= 1.15 x ideal)\n",
	       total, THREADS, DELAY_MS, ideal * 1e3, waves, waves * DELAY_MS);
	/* What the provider sends, for the raw libcurl reference. */
	seen.body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
	            "\"finish_reason\":\"stop\"}]}";
	seen.len = strlen(seen.body);
	{
		cog_ctx *ctx = ctx_over(mem_transport_new(&seen));
		cog_llm *llm = provider_at(ctx, base);

		if (cog_llm_backend_chat(llm, bench_request, NULL, &out) != 0)
			die("cog_llm_backend_chat from memory");
		cog_free(out);
		cog_llm_free(llm);
		cog_ctx_free(ctx);
	}
	for (int l = 0; l < 2; l++) {
		cog_curl_options co = COG_CURL_OPTIONS_INIT;
		cog_transport *transport = NULL;
		char how[64];

		co.max_connections = limits[l];
		if (cog_curl_transport_new(&transport, &co) != 0)
			die("cog_curl_transport_new");
		cog_ctx *ctx = ctx_over(transport);
		cog_llm *llm = provider_at(ctx, base);

		snprintf(how, sizeof(how), "cog, curl max_connections %u%s:",
		         limits[l] ? limits[l] : 16, limits[l] ? "" : " (default)");
		conc_report(how, llm, NULL, NULL, total, ideal);
		cog_llm_free(llm);
		cog_ctx_free(ctx);
	}
	conc_report("raw libcurl, one easy handle per thread:", NULL, url, &seen, total, ideal);
	mem_transport_dispose(&seen);
	peer_stop(server);
	return 0;
}
