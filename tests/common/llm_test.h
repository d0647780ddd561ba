/*
 * Helpers the LLM integration tests share (llm_test.c): a context over
 * real libcurl, the scripted wire server and a provider pointed at it, one
 * chat with what its stream callback saw and its answer parsed, the bodies
 * the server got as JSON, and a log hook that keeps every line (to look for
 * secrets in), and what the planner tests (test_llm_planner.c,
 * test_llm_replay.c) share. Public API only.
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

/* ---- the planner tests (test_llm_planner.c, test_llm_replay.c) ---- */

/* The warnings kept by log_keep (the planner's fallback says why) do or
 * do not contain text. */
void assert_warned(const char *text, bool contain);
/* Nothing was logged at all. */
void assert_no_warnings(void);

/* The schema of the "note" tool: {"text": string}. */
extern const char NOTE_SCHEMA[];
/* Define an idempotent tool of c that answers {}. */
void define_tool(cog_ctx *c, const char *name, const char *description,
                 const char *schema);
/* Only the template directory the test makes (one template, for goals
 * that say "deploy", in a tmp_dir_make() directory); no keys from outside. */
void make_templates(void);
/* A context that logs warnings (log_kept()), with make_templates()'s
 * templates and the note tool; its transport real libcurl, or none. */
cog_ctx *planner_ctx(bool with_curl);
/* llm as endpoint "main" of c; the planner's route names its own model
 * ("planner-model"), so the wire shows which route was taken. */
void use_llm(cog_ctx *c, cog_llm *llm);
/* The OpenAI provider of c at the wire server (key "sk-test-secret"). */
cog_llm *openai_llm(cog_ctx *c, const ws_server *server);
/* Queue an OpenAI chat completion whose text is `content`. */
void push_plan_answer(ws_server *server, const char *content);
/* A plan the model may answer: tool task "write" (note), llm task
 * "review" after it. */
extern const char VALID_PLAN[];
/* cog_plan_from_goal() that must succeed. */
cog_plan *plan_ok(cog_ctx *ctx, const char *goal);
/* rc is expected and the last error contains text. */
void assert_error(int rc, int expected, const char *text);
/* plan is VALID_PLAN's, with this goal. */
void assert_is_valid_plan(cog_plan *plan, const char *goal);

#endif
