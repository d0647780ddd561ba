/*
 * libcognition: large language models.
 *
 * Three layers:
 *
 *   - a backend (cog_llm) answers one chat or embedding request. Built-in
 *     providers speak OpenAI chat completions (also vLLM, llama.cpp server,
 *     LM Studio, OpenRouter and any compatible endpoint), Anthropic Messages
 *     and Ollama's native API over the context's transport; a host plugs in
 *     its own through cog_llm_vtable; a recorder wraps any backend and
 *     writes what it saw to a JSONL file that a replay backend answers from.
 *   - the router of a context: named endpoints (a backend each, with a
 *     token-bucket rate limit and a circuit breaker), routes per role
 *     (planner, executor, critic, or the host's own) as ordered fallback
 *     lists of endpoint + model, prices per model, retries with full-jitter
 *     backoff honouring Retry-After, an overall timeout, cancellation, a
 *     cache of deterministic answers, and structured-output validation that
 *     re-asks the model with the validation errors.
 *   - cog_llm_chat() / cog_llm_embed(): what agents and hosts call.
 *
 * One request shape and one response shape for every provider, as JSON text
 * (docs/llm.md has the full description):
 *
 * request  {"model":"...",                     optional with the router
 *           "messages":[{"role":"system"|"user"|"assistant"|"tool",
 *                        "content":"text" | null,
 *                        "tool_calls":[{"id","name","arguments":{...}}],
 *                        "tool_call_id":"...", "name":"..."}],
 *           "tools":[{"name","description","input_schema"}],
 *           "tool_choice":"auto"|"none"|"required"|{"name":"..."},
 *           "response_format":{"type":"json_schema",
 *                              "json_schema":{"name","schema","strict"}}
 *                              | {"type":"json_object"} | {"type":"text"},
 *           "temperature":0.2, "max_tokens":512, "stop":["..."],
 *           "metadata":{...}}                  kept locally, never sent
 *
 * response {"message":{"role":"assistant","content":"text"|null,
 *                      "tool_calls":[{"id","name","arguments":{...}}]},
 *           "finish_reason":"stop"|"length"|"tool_calls"|"content_filter",
 *           "usage":{"input_tokens":n,"output_tokens":n,"cached_tokens":n},
 *           "model":"...", "latency_ms":n, "provider":"openai",
 *           and from the router: "endpoint", "cost", "cached", "attempts",
 *           "parsed" (the structured answer when response_format asked for
 *           JSON)}
 *
 * Tool-call arguments are always a JSON object in both shapes; a model that
 * produced arguments that are not a JSON object gets "arguments":null and
 * "arguments_text" with what it sent, so the caller can tell it so. A
 * response's message may go back into the next request as it is (such a
 * call too: OpenAI gets the text back, Anthropic and Ollama get {}).
 *
 * Threads: cog_llm handles may be used by several threads at once (the
 * built-in providers, recorder and replay are thread safe; a host backend
 * must be too, or be used from one thread). The router functions may be
 * called from any thread once the context is configured; cog_llm_configure
 * and cog_llm_add_endpoint must not race with calls. Stream callbacks run on
 * the calling thread.
 */
#ifndef COGNITION_LLM_H
#define COGNITION_LLM_H

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_llm cog_llm;

/*
 * Receives one streamed event as JSON text (valid during the call only):
 *   {"type":"text","text":"piece"}
 *   {"type":"tool_call","index":0,"id":"call_1","name":"f","arguments":"piece"}
 *     (id and name on the first piece of a call when the provider sends
 *      them there; a piece that brings one later carries it then; other
 *      pieces carry only index and arguments text, to be concatenated)
 *   {"type":"retry","attempt":2,"endpoint":"...","delay_ms":n,
 *    "reason":"rate_limited"|"timeout"|"server_error"|"malformed_answer"|
 *    "schema"}  (router; after "schema" the text streamed so far is void)
 * Return 0 to go on, or a negative status to stop the call with it.
 */
typedef int (*cog_llm_stream_fn)(const char *event_json, size_t len,
                                 void *user_data);

/* Polled while a call waits (at least every 50 ms); non-zero cancels it. */
typedef int (*cog_llm_cancel_fn)(void *user_data);

/*
 * Per-call parameters and results between the library and a backend.
 * Input members are set by the caller; output members are set by the
 * backend (they help the router decide whether to retry).
 */
typedef struct cog_llm_call {
	unsigned int version;
	/* in */
	cog_llm_stream_fn on_event;     /* NULL: no streaming */
	void *event_user_data;
	cog_llm_cancel_fn is_canceled;  /* optional */
	void *cancel_user_data;
	unsigned int timeout_ms;        /* this attempt; 0: the backend's default */
	/* out */
	int http_status;                /* last HTTP status, 0 when none */
	unsigned int retry_after_ms;    /* from Retry-After (or the provider's
	                                   own header), 0 when none */
	int streamed;                   /* non-zero once an event was delivered */
} cog_llm_call;

#define COG_LLM_CALL_VERSION 1
#define COG_LLM_CALL_INIT { COG_LLM_CALL_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, 0 }

/*
 * The backend interface. A backend returns 0 with *response (cog_malloc'd
 * JSON in the response shape), or a negative status with cog_error_set():
 * COG_EBUSY (rate limited, e.g. HTTP 429), COG_EUNAVAILABLE (cannot connect,
 * or HTTP 5xx), COG_ETIMEOUT, COG_ECANCELED, COG_EDENIED (HTTP 401/403),
 * COG_EINVAL (the provider refused the request, HTTP 400/404/422),
 * COG_EPROTO (malformed answer or stream cut short), COG_ERANGE (answer over
 * the size cap). The router retries COG_EBUSY, COG_ETIMEOUT, COG_EPROTO
 * and COG_EUNAVAILABLE with an http_status of 5xx (a backend that learns of
 * an overload inside a 200 answer reports 503); after the retries, and at
 * once for COG_EUNAVAILABLE without a status, it falls back to the next
 * endpoint. COG_EDENIED, COG_EINVAL and COG_ERANGE fail the call.
 *
 * chat(): the request reaches the backend validated and normalised (see the
 * shape above; "model" set). embed(): request {"model","input":["text",...]}
 * → {"model","data":[[0.1,...],...],"dimensions":n,"usage":{"input_tokens"}}.
 * count_tokens() is optional: an estimate of the request's input tokens.
 */
typedef struct cog_llm_vtable {
	unsigned int version;
	void *self;
	void (*close)(void *self);    /* optional */
	int (*chat)(void *self, const char *request_json, cog_llm_call *call,
	            char **response_json);
	int (*embed)(void *self, const char *request_json, cog_llm_call *call,
	             char **response_json);   /* optional: COG_EUNAVAILABLE */
	int (*count_tokens)(void *self, const char *request_json,
	                    uint64_t *tokens);  /* optional */
	int (*describe)(void *self, char **json); /* optional */
} cog_llm_vtable;

#define COG_LLM_VTABLE_VERSION 1
#define COG_LLM_VTABLE_INIT { COG_LLM_VTABLE_VERSION, NULL, NULL, NULL, NULL, \
	NULL, NULL }

/* cog_llm_vtable_init() and cog_llm_call_init(): zero `vtable` (or
 * `call`) and set its version. COG_EVERSION for an unknown version. */
COG_API int cog_llm_vtable_init(cog_llm_vtable *vtable, unsigned int version);
COG_API int cog_llm_call_init(cog_llm_call *call, unsigned int version);

/*
 * Wrap a backend. Ownership as cog_storage_new(): vtable->self belongs to
 * the handle from now on (close() runs in cog_llm_free(), or here on
 * failure). Errors: COG_EINVAL (NULL, no chat), COG_EVERSION.
 */
COG_API int cog_llm_new(cog_llm **out, const cog_llm_vtable *vtable);

/* Close the backend and free the handle. NULL-safe. */
COG_API void cog_llm_free(cog_llm *llm);

/*
 * One request straight to a backend (no routing, retries or cache): a chat
 * with cog_llm_backend_chat(), an embedding with cog_llm_backend_embed()
 * (COG_EUNAVAILABLE when the backend has no embed). The request is checked
 * against its request shape first (COG_EINVAL naming the member); `call`
 * may be NULL. *response_json to cog_free().
 */
COG_API int cog_llm_backend_chat(cog_llm *llm, const char *request_json,
                                 cog_llm_call *call, char **response_json);
COG_API int cog_llm_backend_embed(cog_llm *llm, const char *request_json,
                                  cog_llm_call *call, char **response_json);
/* The backend's estimate, or ~4 bytes per token of the messages' text. */
COG_API int cog_llm_count_tokens(cog_llm *llm, const char *request_json,
                                 uint64_t *tokens);
/* A JSON object describing the backend, to cog_free(). */
COG_API int cog_llm_describe(cog_llm *llm, char **json);

/* ---------------------------------------------------------------- */
/* Built-in providers                                                */
/* ---------------------------------------------------------------- */

typedef enum cog_llm_provider {
	COG_LLM_OPENAI = 0,     /* POST {base}/chat/completions, /embeddings */
	COG_LLM_ANTHROPIC = 1,  /* POST {base}/messages */
	COG_LLM_OLLAMA = 2      /* POST {base}/api/chat, /api/embed */
} cog_llm_provider;

typedef struct cog_llm_provider_options {
	unsigned int version;
	int provider;                 /* cog_llm_provider */
	/* Base URL. NULL: https://api.openai.com/v1, https://api.anthropic.com/v1,
	 * http://127.0.0.1:11434. */
	const char *base_url;
	/* NULL: $OPENAI_API_KEY or $ANTHROPIC_API_KEY (Ollama: none). Sent as
	 * "Authorization: Bearer" (OpenAI, Ollama) or "x-api-key" (Anthropic);
	 * never logged, never in describe(). */
	const char *api_key;
	const char *model;            /* default model when a request has none */
	const char *const *headers;   /* extra "Name: value" headers, copied */
	size_t header_count;
	unsigned int timeout_ms;      /* per request; 0: the context's */
	size_t max_response_bytes;    /* 0: 16 MiB; over it: COG_ERANGE */
	const char *anthropic_version;/* NULL: "2023-06-01" */
	unsigned int default_max_tokens; /* Anthropic requires one; 0: 4096 */
} cog_llm_provider_options;

#define COG_LLM_PROVIDER_OPTIONS_VERSION 1
#define COG_LLM_PROVIDER_OPTIONS_INIT { COG_LLM_PROVIDER_OPTIONS_VERSION, \
	COG_LLM_OPENAI, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_llm_provider_options_init(cog_llm_provider_options *options,
                                          unsigned int version);

/*
 * Fill options from the environment: COG_LLM_PROVIDER (openai | anthropic |
 * ollama), COG_LLM_URL, COG_MODEL, COG_API_KEY (else the provider's usual
 * variable). Unset variables leave members as they are. The strings point
 * into the environment. Errors: COG_EINVAL naming the variable and value.
 */
COG_API int cog_llm_provider_options_from_env(cog_llm_provider_options *options);

/*
 * A provider backend that sends its requests through ctx's transport (so
 * cog_ctx_cancel() aborts them). `ctx` must outlive the handle. Strings
 * are copied. Errors: COG_EINVAL (bad provider, URL or header),
 * COG_EVERSION.
 */
COG_API int cog_llm_provider_new(cog_llm **out, cog_ctx *ctx,
                                 const cog_llm_provider_options *options);

/* ---------------------------------------------------------------- */
/* Record and replay                                                 */
/* ---------------------------------------------------------------- */

/*
 * A backend that passes requests to `inner` (owned from now on, even on
 * failure) and appends each successful exchange to the JSONL file at
 * `path` as {"key":"<hash>","kind":"chat"|"embed","request":{...},
 * "response":{...}}, key = BLAKE2b of the normalised request (object
 * members sorted, "metadata" left out). The file is created if missing.
 * Errors: COG_EIO (cannot open), COG_EINVAL.
 */
COG_API int cog_llm_recorder_new(cog_llm **out, cog_llm *inner, const char *path);

/*
 * A backend that answers from a recording: the answer of the last line
 * whose key matches the normalised request; a request it has not seen is
 * COG_ENOTFOUND naming the key, the model and the start of the last
 * message. A streamed call gets the recorded answer as events (text, then
 * each tool call). Errors at open: COG_EIO, COG_EPROTO naming the line.
 */
COG_API int cog_llm_replay_new(cog_llm **out, const char *path);

/* ---------------------------------------------------------------- */
/* The router of a context                                           */
/* ---------------------------------------------------------------- */

typedef struct cog_llm_endpoint_options {
	unsigned int version;
	double requests_per_minute;   /* 0: unlimited */
	double tokens_per_minute;     /* 0: unlimited (input estimate + max_tokens) */
	unsigned int breaker_failures; /* consecutive failures that open the
	                                  breaker; 0: 5 */
	unsigned int breaker_cooldown_ms; /* open → half-open; 0: 30000 */
} cog_llm_endpoint_options;

#define COG_LLM_ENDPOINT_OPTIONS_VERSION 1
#define COG_LLM_ENDPOINT_OPTIONS_INIT { COG_LLM_ENDPOINT_OPTIONS_VERSION, 0, 0, 0, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_llm_endpoint_options_init(cog_llm_endpoint_options *options,
                                          unsigned int version);

/*
 * Give the context a named endpoint. The context owns `llm` from now on
 * (even on failure). The first endpoint added also serves every role that
 * has no route. The backend's cog_llm_describe() is taken once here: a hash
 * of it is part of every cache key of the endpoint, so answers of another
 * server or default model are never served from the cache.
 * Errors: COG_EINVAL (bad name: 1..64 of [A-Za-z0-9_.-]), COG_EEXISTS,
 * COG_EVERSION, and the status of a failing describe().
 */
COG_API int cog_llm_add_endpoint(cog_ctx *ctx, const char *name, cog_llm *llm,
                                 const cog_llm_endpoint_options *options);

/*
 * Configure the router from JSON (members absent keep their values):
 * {"routes":{"executor":{"tier":1,"choose":"order"|"cheapest",
 *                        "models":[{"endpoint":"main","model":"m","tier":2}]}},
 *  "prices":{"m":{"input":0.15,"output":0.60,"cached_input":0.075}},
 *  "retry":{"max_attempts":4,"base_ms":250,"cap_ms":20000},
 *  "timeout_ms":120000,
 *  "cache":{"enabled":true,"ttl_s":86400},
 *  "schema_retries":2}
 * Prices are per million tokens. A route's models are tried in order
 * ("order") or cheapest first ("cheapest": price of the request's estimated
 * input and max_tokens output) among those whose tier is at least the
 * route's. Errors: COG_EINVAL naming the member (unknown endpoint, bad
 * number, unknown key).
 */
COG_API int cog_llm_configure(cog_ctx *ctx, const char *config_json);

/* Whether the context has at least one endpoint. */
COG_API int cog_llm_available(cog_ctx *ctx);

typedef struct cog_llm_chat_options {
	unsigned int version;
	const char *role;             /* NULL: "executor" */
	cog_llm_stream_fn on_event;   /* NULL: no streaming */
	void *event_user_data;
	cog_llm_cancel_fn is_canceled;/* besides cog_ctx_cancel() */
	void *cancel_user_data;
	unsigned int timeout_ms;      /* whole call, retries included; 0: config */
	int cacheable;                /* 1: cache even with temperature > 0;
	                                 -1: never; 0: when temperature is 0 */
	int schema_retries;           /* -1: config (default 2) */
} cog_llm_chat_options;

#define COG_LLM_CHAT_OPTIONS_VERSION 1
#define COG_LLM_CHAT_OPTIONS_INIT { COG_LLM_CHAT_OPTIONS_VERSION, NULL, NULL, \
	NULL, NULL, NULL, 0, 0, -1 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_llm_chat_options_init(cog_llm_chat_options *options,
                                      unsigned int version);

/*
 * Ask the context's router (options may be NULL). The answer is the
 * response shape with "endpoint", "cost" (in the price table's currency;
 * 0 for unpriced models), "cached", "attempts" and, for structured output,
 * "parsed". Errors: COG_EUNAVAILABLE (no endpoint, or every model of the
 * route failed: the message lists each), COG_ESCHEMA (still invalid after
 * the schema retries, the last errors in the message), COG_ECANCELED,
 * COG_ETIMEOUT, COG_EINVAL (bad request), COG_EBUSY (rate limited past the
 * retries or the deadline), COG_ERANGE (larger than an endpoint's
 * tokens_per_minute), and a backend's status.
 */
COG_API int cog_llm_chat(cog_ctx *ctx, const char *request_json,
                         const cog_llm_chat_options *options,
                         char **response_json);

/* Embeddings through the router ({"model"?,"input":[...]}); role as for
 * chat (NULL: "embedder", else the first endpoint). */
COG_API int cog_llm_embed(cog_ctx *ctx, const char *role,
                          const char *request_json, char **response_json);

/*
 * Router statistics as JSON, to cog_free():
 * {"cache":{"hits":n,"misses":n},"calls":n,"retries":n,"cost":x,
 *  "input_tokens":n,"output_tokens":n,
 *  "endpoints":{"main":{"breaker":"closed"|"open"|"half_open","calls":n,
 *               "failures":n}}}
 */
COG_API int cog_llm_stats(cog_ctx *ctx, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_LLM_H */
