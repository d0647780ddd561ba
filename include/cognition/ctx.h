/*
 * libcognition: the context.
 *
 * A cog_ctx holds what a host configures once: backends (storage,
 * transport; LLM endpoints through llm.h), hooks (log, event), default limits and the
 * cancellation flag. Every other handle is created from a context.
 *
 * Threads: a cog_ctx may be shared between threads once configured. The
 * setters (cog_ctx_set_*) must not race with calls that use the same member.
 * cog_ctx_cancel() may be called from any thread, including a signal
 * handler's deferred work. Hooks may be called from any thread that uses the
 * context, concurrently: they must be thread safe.
 */
#ifndef COGNITION_CTX_H
#define COGNITION_CTX_H

#include "common.h"
#include "storage.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_ctx cog_ctx;

typedef enum cog_log_level {
	COG_LOG_TRACE = 0,
	COG_LOG_DEBUG = 1,
	COG_LOG_INFO = 2,
	COG_LOG_WARN = 3,
	COG_LOG_ERROR = 4,
	COG_LOG_OFF = 5
} cog_log_level;

/*
 * Receives one log record as a single-line JSON object:
 * {"time":"2026-11-25T13:30:00.123Z","level":"info","trace_id":"...",
 *  "span_id":null,"message":"...","fields":{...}}
 * Values of fields whose names suggest secrets (authorization, api_key,
 * password, token, secret, cookie, ...) are replaced by "[REDACTED]", as are
 * bearer tokens and API keys found in the message. `line` is valid during
 * the call only.
 */
typedef void (*cog_log_fn)(int level, const char *line, void *user_data);

/*
 * Receives one event as a JSON object {"type":"...","time":...,"data":{...}}
 * (task state, streamed tokens, tool calls, budget, ...). `event` is valid
 * during the call only.
 */
typedef void (*cog_event_fn)(const char *event, void *user_data);

typedef struct cog_ctx_options {
	unsigned int version;
	int log_level;                 /* cog_log_level; default COG_LOG_INFO */
	cog_log_fn log_fn;             /* NULL: no logging */
	void *log_user_data;
	cog_event_fn event_fn;         /* NULL: no events */
	void *event_user_data;
	unsigned int worker_threads;   /* 0: number of CPUs (1..256) */
	unsigned int http_timeout_ms;  /* default per-request timeout; 0: 30000 */
} cog_ctx_options;

#define COG_CTX_OPTIONS_VERSION 1
#define COG_CTX_OPTIONS_INIT { COG_CTX_OPTIONS_VERSION, COG_LOG_INFO, NULL, \
	NULL, NULL, NULL, 0, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_ctx_options_init(cog_ctx_options *options, unsigned int version);

/*
 * Override `options` from the environment: COG_LOG_LEVEL (trace, debug,
 * info, warn, error, off), COG_WORKERS (1..256), COG_HTTP_TIMEOUT_MS
 * (1..86400000). Unset or empty variables leave the option as it is.
 * Errors: COG_EINVAL naming the variable, its value and what is expected;
 * `options` is left unchanged then.
 */
COG_API int cog_ctx_options_from_env(cog_ctx_options *options);

/*
 * Create a context (options may be NULL for the defaults). Initialises the
 * library (cog_global_init) if needed.
 * Errors: COG_EVERSION, COG_EINVAL (bad option), COG_ENOMEM.
 */
COG_API int cog_ctx_new(cog_ctx **out, const cog_ctx_options *options);

/* Free the context and the backends it owns. NULL-safe. */
COG_API void cog_ctx_free(cog_ctx *ctx);

/*
 * Attach a storage backend. The context takes ownership of `storage` (even
 * on failure) and frees the one it held before. NULL detaches.
 */
COG_API int cog_ctx_set_storage(cog_ctx *ctx, cog_storage *storage);

/* The attached storage (borrowed, valid until replaced), or NULL. */
COG_API cog_storage *cog_ctx_storage(cog_ctx *ctx);

/* Attach a transport; same ownership rules as cog_ctx_set_storage(). */
COG_API int cog_ctx_set_transport(cog_ctx *ctx, cog_transport *transport);

/* The attached transport (borrowed), or NULL. */
COG_API cog_transport *cog_ctx_transport(cog_ctx *ctx);

/*
 * Perform an HTTP request through the context's transport, with the
 * context's default timeout when the request has none, aborted by
 * cog_ctx_cancel() (as well as by the request's own is_canceled).
 * Errors: COG_EUNAVAILABLE without a transport, and those of
 * cog_transport_perform().
 */
COG_API int cog_ctx_http_perform(cog_ctx *ctx, const cog_http_request *request,
                                 cog_http_response *response);

/*
 * Ask everything running under this context to stop: blocking calls return
 * COG_ECANCELED soon (within 100 ms for HTTP). Async-signal-safe.
 */
COG_API void cog_ctx_cancel(cog_ctx *ctx);

/* Non-zero once cog_ctx_cancel() was called and not reset. */
COG_API int cog_ctx_is_canceled(const cog_ctx *ctx);

/* Clear the cancellation flag so the context can be used again. */
COG_API void cog_ctx_reset_cancel(cog_ctx *ctx);

/*
 * Write a log record through the context's log hook (hosts and backends use
 * this to log alongside the library). `fields_json` is a JSON object or
 * NULL; secrets in it are redacted as described for cog_log_fn.
 * Errors: COG_EINVAL (fields not a JSON object).
 */
COG_API int cog_ctx_log(cog_ctx *ctx, int level, const char *message,
                        const char *fields_json);

/* The context's trace id: 32 lowercase hex digits, valid as long as ctx. */
COG_API const char *cog_ctx_trace_id(const cog_ctx *ctx);

/* Effective options as a JSON object, to cog_free(). */
COG_API int cog_ctx_describe(cog_ctx *ctx, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_CTX_H */
