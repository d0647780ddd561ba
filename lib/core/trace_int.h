/*
 * Spans and metrics inside the library (public face: cognition/trace.h).
 *
 * A span is opened by the layer doing the work and ended by it:
 *
 *     cog_span *s = cog__span_begin(ctx, "llm", "chat gpt-4o", NULL);
 *     cog__span_attr_str(s, "gen_ai.request.model", model);
 *     ...
 *     cog__span_end(s, rc, rc ? cog_error_last() : NULL);
 *
 * parent NULL means the calling thread's current span (cog__span_enter), so
 * layers nest without passing spans around; work handed to another thread
 * passes its parent explicitly (or enters it there). Every function accepts
 * a NULL span and does nothing then, and cog__span_begin() returns NULL
 * when out of memory: tracing never fails the work it traces.
 *
 * Ending a span counts it in the context's metrics, hands its JSON to the
 * span hook (when one is set) and, when the span or an ancestor was given a
 * store log (cog__span_set_store), queues it for that storage log; queued
 * spans are written in batches (one storage transaction) when the span
 * that set the store ends, or every 64 spans.
 *
 * Not installed.
 */
#ifndef COG_CORE_TRACE_INT_H
#define COG_CORE_TRACE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct cog_ctx;
typedef struct cog_span cog_span;

/* Open a span of `kind` ("plan", "task", "agent.turn", "llm", "tool")
 * named `name` (copied) under `parent` (NULL: the thread's current span,
 * if any, when it belongs to the same context). */
cog_span *cog__span_begin(struct cog_ctx *ctx, const char *kind, const char *name,
                          cog_span *parent);
/* Attributes (copied; a key set twice keeps the last value). */
void cog__span_attr_str(cog_span *span, const char *key, const char *value);
void cog__span_attr_num(cog_span *span, const char *key, double value);
void cog__span_attr_bool(cog_span *span, const char *key, bool value);
/* value is consumed (deleted even when span is NULL). */
void cog__span_attr_json(cog_span *span, const char *key, cJSON *value);
/* The span's id (16 hex digits) or "" for NULL. */
const char *cog__span_id(const cog_span *span);
/* Queue this span and its descendants for the storage log `log` of the
 * context's storage (copied), written in batches; see above. */
void cog__span_set_store(cog_span *span, const char *log);
/* End and free the span: status 0 is "ok", a negative status is "error"
 * with `message` (may be NULL; redacted). The span must not be the current
 * span of another thread any more. */
void cog__span_end(cog_span *span, int status, const char *message);

/* The calling thread's current span (NULL: none). */
cog_span *cog__span_current(void);
/* Make `span` the thread's current one; returns the previous one, which
 * the caller gives back to cog__span_leave() before ending `span`. */
cog_span *cog__span_enter(cog_span *span);
void cog__span_leave(cog_span *previous);

/* Used by cog_ctx_free() and ctx creation (trace.c keeps the per-context
 * state in the context). */
int cog__trace_ctx_init(struct cog_ctx *ctx);
void cog__trace_ctx_free(struct cog_ctx *ctx);

#endif /* COG_CORE_TRACE_INT_H */
