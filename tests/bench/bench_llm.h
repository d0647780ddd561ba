/* What the files of bench_llm share (bench_llm.c has the description). */
#ifndef BENCH_LLM_H
#define BENCH_LLM_H

#include <stddef.h>

#include <cognition.h>
#include <cognition/curl.h>

#include "peer.h"

double now_s(void);
double cpu_s(void);                     /* this process, user + system */
double median(double *values, unsigned int n);
void die(const char *what);             /* prints cog_error_last(), exits */

/* The loopback server (peers/llm_server.c) in its own process, serving
 * stream_file on /stream/ when given. */
peer *server_start(const char *stream_file);

/* A host transport answering from memory: every request gets `body` (as a
 * stream, in pieces of `piece` bytes (0: at once), when it has a chunk
 * callback). It keeps a copy of the last request's body and headers. */
typedef struct mem_transport {
	const char *body;
	size_t len;
	const char *content_type;
	size_t piece;
	char *last_body;                    /* malloc'd */
	char **last_headers;                /* malloc'd, n_headers of them */
	size_t n_headers;
} mem_transport;

cog_transport *mem_transport_new(mem_transport *m);   /* m stays the caller's */
void mem_transport_dispose(mem_transport *m);

/* A context over `transport` (owned from now on). */
cog_ctx *ctx_over(cog_transport *transport);
/* The OpenAI provider on ctx at base_url ("http://127.0.0.1:<port>/v1"). */
cog_llm *provider_at(cog_ctx *ctx, const char *base_url);

/* The chat request every section sends. */
extern const char *const bench_request;

int bench_rate(double scale);           /* bench_llm_rate.c */
int bench_stream(double scale);         /* bench_llm_load.c */
int bench_concurrency(double scale);

#endif
