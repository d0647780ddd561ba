/*
 * Helpers the LLM integration tests share (llm_test.c): a context over
 * real libcurl, the scripted wire server and a provider pointed at it, one
 * chat with what its stream callback saw and its answer parsed, the bodies
 * the server got as JSON, and a log hook that keeps every line (to look for
 * secrets in). Public API only.
 */
#ifndef LLM_TEST_H
#define LLM_TEST_H

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "wire_server.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* A context (options may be NULL) whose transport is real libcurl. */
cog_ctx *ctx_with_curl(const cog_ctx_options *options);

/* The wire server, started; the test fails when it cannot start. */
ws_server *start_wire_server(void);

/* A provider of `kind` (COG_LLM_OPENAI, ...) of ctx at the server's URL
 * followed by `path` (e.g. "/v1"), with this key and default model (either
 * may be NULL). */
cog_llm *provider_at(cog_ctx *ctx, int kind, const ws_server *server, const char *path,
                     const char *key, const char *model);

/* What a stream callback saw: the text pieces joined, and for each tool
 * call (by index, up to 4) its id, name and argument pieces joined. */
typedef struct llm_events {
	char text[4096];
	struct { char id[64], name[64], args[1024]; } calls[4];
	int n_calls, events;
} llm_events;

/* A cog_llm_stream_fn filling the llm_events at user_data (zero it first). */
int llm_events_add(const char *json, size_t len, void *user_data);

/* One chat with llm, its events to `events` (zeroed first) when not NULL:
 * the status, *response the answer parsed (NULL on failure: cJSON_Delete
 * it), *call (may be NULL) the call as it ended (status, streamed...). */
int chat_parsed(cog_llm *llm, const char *request, llm_events *events, cJSON **response,
                cog_llm_call *call);

/* item equals the JSON text `expected` (member order aside). */
void assert_json(const cJSON *item, const char *expected);

/* The body of request i (0-based) the server got, parsed (cJSON_Delete
 * it); the test fails when there is no such request or it is not JSON. */
cJSON *sent_json(ws_server *server, unsigned int i);

/* A cog_log_fn that keeps every line it gets (any thread). */
void log_keep(int level, const char *line, void *user_data);
/* The lines kept so far, one per line ("" when none; free() it). */
char *log_kept(void);
/* Forget them. */
void log_forget(void);

#endif
