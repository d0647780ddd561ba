/*
 * Helpers the agent integration tests share (agent_test.c). Public API
 * only: a context over a real SQLite file in a temporary directory and real
 * libcurl, the scripted wire server with an OpenAI endpoint "main" pointed
 * at it (model "agent-model", priced), builders of OpenAI chat completion
 * answers, host tools, an event collector and JSON helpers.
 *
 * Typical fixture:
 *     static void setup(void) { at_setup(); }
 *     static void teardown(void) { at_teardown(); }
 * then at_ctx / at_server are ready; queue answers with at_push_text() and
 * at_push_tools(), run with at_run().
 */
#ifndef AGENT_TEST_H
#define AGENT_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "test_tmp.h"
#include "wire_server.h"

#ifndef ck_assert_cog
#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)
#endif

/* The model the endpoint asks for, and its price per million tokens. */
#define AT_MODEL "agent-model"
#define AT_PRICE_INPUT 1.0
#define AT_PRICE_OUTPUT 2.0

/* The fixture: a temporary directory, the wire server and a context over
 * tmp_file("agent.db"). */
extern cog_ctx *at_ctx;
extern ws_server *at_server;

/* Make them (fails the test when a piece does not start). */
void at_setup(void);
/* Free them (context, server, events, directory). */
void at_teardown(void);

/*
 * A new context: storage SQLite at db_path (NULL: no storage), real libcurl,
 * the event collector as its event hook, endpoint "main" (OpenAI at
 * at_server's URL + "/v1", model AT_MODEL), routes "executor", "critic" and
 * "planner" to it naming AT_MODEL (so calls are priced), the price table,
 * no retries (max_attempts 1). For tests that reopen a database (a re-run after
 * a crash). cog_ctx_free() it (at_teardown frees at_ctx only).
 */
cog_ctx *at_ctx_new(const char *db_path);

/* ---- answers the wire server gives (OpenAI chat completion JSON) ---- */

/* A final text answer with this usage. */
void at_push_text(const char *content, unsigned int input_tokens,
                  unsigned int output_tokens);

/* One tool call of an answer: function name and arguments JSON text (sent
 * as the string OpenAI sends; may be deliberately not JSON). */
typedef struct at_call {
	const char *name;
	const char *arguments;
} at_call;

/* An answer asking for n tool calls (ids "call_1".."call_n"), with this
 * usage, finish_reason "tool_calls". */
void at_push_tools(const at_call *calls, size_t n, unsigned int input_tokens,
                   unsigned int output_tokens);
/* The same with one call. */
void at_push_tool(const char *name, const char *arguments,
                  unsigned int input_tokens, unsigned int output_tokens);
/* An HTTP error answer (e.g. 400 with an OpenAI error body). */
void at_push_error(int status);

/* The body of request i (0-based) the server got, parsed (cJSON_Delete
 * it); fails the test when there is none or it is not JSON. */
cJSON *at_sent(unsigned int i);
/* The "messages" array of that body's request i as one string (the
 * contents joined with "\n", tool results included; free()). */
char *at_sent_text(unsigned int i);
/* The n-th (0-based) message of role `role` in request i, a copy
 * (cJSON_Delete), or NULL. */
cJSON *at_sent_message(unsigned int i, const char *role, int n);
/* Requests the wire server answered so far. */
unsigned int at_requests(void);

/* ---- tools ---- */

/* Define host tool `name` on ctx (input: any object unless schema given;
 * flags COG_TOOL_*), runner fn with user data ud. */
void at_define_tool(cog_ctx *ctx, const char *name, const char *schema,
                    unsigned int flags, cog_tool_fn fn, void *ud);
/* Define host tool `name` described as `description`, whose input is an
 * object of one required string member `field` and nothing else. */
void at_define_text_tool(cog_ctx *ctx, const char *name, const char *description,
                         const char *field, unsigned int flags, cog_tool_fn fn, void *ud);
/* A runner that answers `ud` (JSON text, a const char *) and counts its
 * calls in at_tool_calls (atomic). */
int at_tool_answer(const cog_tool_request *req, char **result, void *ud);
/* A runner that fails with COG_EUSER and the message "it broke: <args>". */
int at_tool_fail(const cog_tool_request *req, char **result, void *ud);
/* Calls of at_tool_answer / at_tool_fail so far. */
unsigned int at_tool_calls(void);
/* The last call id an at_tool_answer call got (copy kept; "" none). */
const char *at_tool_last_call_id(void);

/* ---- agents ---- */

/* cog_agent_define that must succeed. */
void at_define_agent(cog_ctx *ctx, const char *definition_json);
/* An instance of `name` (must succeed). */
cog_agent *at_spawn(cog_ctx *ctx, const char *name);
/* cog_agent_run; *result parsed (NULL when there is none: the test fails
 * if the result is present and not JSON). Returns the status. */
int at_run(cog_agent *agent, const char *task_json,
           const cog_agent_run_options *options, cJSON **result);

/* ---- events (every context made here sends them to the collector) ---- */

/* The contexts' event hook (at_ctx_new installs it). */
void at_on_event(const char *event, void *ud);
/* Events of this type so far ("agent.turn", ...). */
unsigned int at_events_count(const char *type);
/* The data object of the n-th (0-based) event of this type, a copy
 * (cJSON_Delete), or NULL. */
cJSON *at_event(const char *type, unsigned int n);
/* Forget them. */
void at_events_clear(void);

/* ---- spans (cognition/trace.h) ---- */

/* Collect the spans of ctx from now on (its span hook). */
void at_spans_start(cog_ctx *ctx);
/* Spans of this kind ("agent.turn", "llm", "tool") ended so far. */
unsigned int at_spans_count(const char *kind);
/* The n-th (0-based) span of this kind, a copy (cJSON_Delete), or NULL. */
cJSON *at_span(const char *kind, unsigned int n);
/* Forget them (at_teardown does). */
void at_spans_clear(void);

/* ---- JSON ---- */

/* Parse or fail the test. */
cJSON *at_parse(const char *text);
/* The member at a dotted path ("usage.input_tokens", "critiques.0"),
 * array items by number; NULL when absent. */
const cJSON *at_get(const cJSON *root, const char *path);
/* Its string (fails the test when absent or not a string). */
const char *at_str(const cJSON *root, const char *path);
/* Its number (fails the test when absent or not a number). */
double at_num(const cJSON *root, const char *path);
/* item equals the JSON text `expected` (member order aside). */
void at_assert_json(const cJSON *item, const char *expected);
/* The text contains / does not contain needle (with a message). */
void at_assert_has(const char *text, const char *needle, bool contains);

#endif
