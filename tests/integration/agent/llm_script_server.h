/*
 * An OpenAI-compatible chat-completions server on 127.0.0.1 whose answers
 * a test computes from each request (llm_script_server.c): the scripted
 * wire server answers from a queue in arrival order, which cannot follow
 * the tasks of a plan running in parallel, nor read a request's max_tokens
 * before answering. Real HTTP/1.1 with keep-alive, real OpenAI JSON in and
 * out; every chat request is recorded, other paths get a 404. One thread
 * accepts, one serves each connection. The server is llm_script_server.c,
 * answers, requests and contexts llm_script_wire.c.
 */
#ifndef LLM_SCRIPT_SERVER_H
#define LLM_SCRIPT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct lss lss;

/*
 * Answer request number `index` (0-based) with body `request` (parsed; NULL
 * when the body is not JSON). Return a malloc'd JSON body for a 200 answer
 * (or set *status for another), or NULL to hold the request: it is never
 * answered, and the connection stays open until the client goes away (a
 * killed process, a canceled call) or the server stops. Called on the
 * connection's thread, several at once when requests come in parallel.
 */
typedef char *(*lss_fn)(unsigned int index, const cJSON *request, int *status,
                        void *user_data);

/* Start; the test fails when the server cannot start. */
lss *lss_start(lss_fn fn, void *user_data);
/* "http://127.0.0.1:<port>/v1" (the OpenAI base URL). */
const char *lss_base_url(const lss *s);
/* Chat-completion requests (POST /v1/chat/completions) received so far,
 * held ones included. */
unsigned int lss_requests(lss *s);
/* Requests to other paths (answered 404, not recorded). */
unsigned int lss_other_requests(lss *s);
/* Requests held so far. */
unsigned int lss_held(lss *s);
/* Wait until at least n requests were held, at most timeout_ms (a guard
 * against a hang, not a measurement). Whether they were. */
bool lss_wait_held(lss *s, unsigned int n, unsigned int timeout_ms);
/* The body of request i parsed (cJSON_Delete it), NULL if none. */
cJSON *lss_request(lss *s, unsigned int i);
/* Stop, close every connection, join, free. NULL-safe. */
void lss_stop(lss *s);

/* ---- building answers and reading requests ---- */

/*
 * An OpenAI chat.completion body: `content` (NULL: null) and, when `calls`
 * is a non-empty array of {"id","name","arguments":{...}}, tool_calls with
 * their arguments as JSON text; usage prompt_tokens / completion_tokens.
 * malloc'd.
 */
char *lss_completion(const char *content, const cJSON *calls,
                     unsigned long input_tokens, unsigned long output_tokens);
/* One call for lss_completion's array (added to `calls`). */
void lss_add_call(cJSON *calls, const char *id, const char *name,
                  const char *arguments_json);

/* The request's messages array, its last message, and that message's role
 * ("" when none). */
const cJSON *lss_messages(const cJSON *request);
const char *lss_last_role(const cJSON *request);
/* Whether some message's content contains `text`. */
bool lss_mentions(const cJSON *request, const char *text);
/* The content of the last message of role `role` (NULL when none). */
const char *lss_last_content(const cJSON *request, const char *role);
/* Messages of role `role`. */
int lss_count_role(const cJSON *request, const char *role);
/* The request's "max_tokens" (0 when absent). */
unsigned long lss_max_tokens(const cJSON *request);
/* A lower bound of the request's input tokens as any byte-level bound
 * counts them: the bytes of the messages' text contents. */
unsigned long lss_content_bytes(const cJSON *request);

/* ---- a context that talks to it ---- */

#include <cognition.h>
#include <cognition/agent.h>
#include <cognition/trace.h>

#define lss_ok(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/*
 * A context: real libcurl transport; SQLite storage at db_path (NULL:
 * none); `workers` worker threads (0: the default); the OpenAI provider at
 * the server as endpoint "main" (model "m1"), wrapped by a recorder writing
 * to record_path when that is not NULL; "m1" priced price_in / price_out
 * per million tokens; one attempt per call (no retries), no cache.
 */
cog_ctx *lss_ctx(lss *s, const char *db_path, unsigned int workers, double price_in,
                 double price_out, const char *record_path);
/* The same for a server at base_url (another process's). */
cog_ctx *lss_ctx_url(const char *base_url, const char *db_path, unsigned int workers,
                     double price_in, double price_out, const char *record_path);
/* The same over an LLM backend of the caller's (e.g. a replay), owned by
 * the context from now on. */
cog_ctx *lss_ctx_with(cog_llm *llm, const char *db_path, unsigned int workers,
                      double price_in, double price_out);
/* The number at a path of object members ("spent", "cost", NULL); the test
 * fails when it is not there. */
double lss_num(const cJSON *root, ...);
/* A cog_malloc'd copy of text (for tool results). */
char *lss_cog_strdup(const char *text);

#endif
