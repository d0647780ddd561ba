/*
 * libcognition: tracing and metrics.
 *
 * Spans. The library opens a span for each plan run ("plan"), each task
 * attempt ("task"), each agent turn ("agent.turn"), each LLM call through
 * the router ("llm") and each tool call ("tool"), nested in that order
 * (a tool call made by an agent turn is a child of the turn; a task's
 * span is a child of its plan's, even on a worker thread). When a span
 * ends it is handed to the context's span hook as one JSON object:
 *
 *   {"trace_id":"<32 hex>","span_id":"<16 hex>","parent_span_id":"<16 hex>"|null,
 *    "name":"chat gpt-4o-mini","kind":"llm",
 *    "start_time_unix_nano":n,"end_time_unix_nano":n,"duration_ms":x,
 *    "status":{"code":"ok"|"error","message":"..."?,"error_code":-12?},
 *    "attributes":{...}}
 *
 * Attribute names follow the OpenTelemetry semantic conventions for
 * generative AI where one exists:
 *   llm:   gen_ai.operation.name ("chat"), gen_ai.provider.name,
 *          gen_ai.request.model, gen_ai.response.model,
 *          gen_ai.request.max_tokens, gen_ai.request.temperature,
 *          gen_ai.usage.input_tokens, gen_ai.usage.output_tokens,
 *          gen_ai.response.finish_reasons, cog.llm.role, cog.llm.endpoint,
 *          cog.llm.cost, cog.llm.cached, cog.llm.attempts
 *   tool:  gen_ai.operation.name ("execute_tool"), gen_ai.tool.name,
 *          gen_ai.tool.call.id, cog.tool.outcome
 *   agent.turn: gen_ai.operation.name ("invoke_agent"), gen_ai.agent.name,
 *          gen_ai.agent.id, cog.agent.turn, cog.task.id, cog.plan.id
 *   task:  cog.plan.id, cog.task.id, cog.task.kind, cog.task.attempt,
 *          cog.task.state
 *   plan:  cog.plan.id, cog.plan.goal, cog.plan.tasks, cog.plan.status
 * Error status: "error_code" is the libcognition status, "message" the
 * error text (redacted like log messages).
 *
 * A durable plan run (see cog_plan_run) also appends each of its spans to
 * the storage log "trace/<plan id>", so a timeline of the run can be read
 * later (cog_trace_read) even from another process.
 *
 * Metrics. Every span that ends is also counted, whether or not a hook is
 * set: latencies (p50, p95, p99 from a log-scale histogram with 2 %
 * resolution), counts, errors by kind (the status names of cog_strerror
 * codes: "timeout", "budget", ...), tokens and cost of LLM calls, tool calls
 * by tool. Read them with cog_ctx_metrics().
 *
 * Threads: the span hook is called on the thread that ends the span, from
 * several threads at once; it must be thread safe and must not call back
 * into the library with the same context except cog_ctx_log().
 */
#ifndef COGNITION_TRACE_H
#define COGNITION_TRACE_H

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one finished span (see above); `span_json` is valid during the
 * call only. */
typedef void (*cog_span_fn)(const char *span_json, void *user_data);

/*
 * Install (or with NULL remove) the context's span hook. Spans that ended
 * before it was installed are not replayed. Must not race with spans ending
 * on other threads if user_data is freed after a replacement: free the old
 * user_data only once the calls that used it are over.
 * Errors: COG_EINVAL (ctx NULL).
 */
COG_API int cog_ctx_set_span_hook(cog_ctx *ctx, cog_span_fn fn, void *user_data);

/*
 * The context's metrics since it was created (or last reset) as JSON, to
 * cog_free():
 *   {"since":"<ISO 8601>",
 *    "spans":{"llm":{"count":n,"errors":n,"latency_ms":{"p50":x,"p95":x,
 *                    "p99":x,"max":x,"mean":x}}, "tool":{...}, "task":{...},
 *             "agent.turn":{...}, "plan":{...}},
 *    "llm":{"calls":n,"input_tokens":n,"output_tokens":n,"cost":x,
 *           "by_model":{"m":{"calls":n,"input_tokens":n,"output_tokens":n,
 *                            "cost":x}}},
 *    "tools":{"calls":n,"by_tool":{"python":{"calls":n,"errors":n}}},
 *    "errors":{"timeout":n,"budget":n,...}}
 * Errors: COG_EINVAL, COG_ENOMEM.
 */
COG_API int cog_ctx_metrics(cog_ctx *ctx, char **json);

/* Start counting again from zero. */
COG_API void cog_ctx_metrics_reset(cog_ctx *ctx);

/*
 * The spans stored for a durable run of plan `plan_id` (log "trace/<id>"),
 * in the order they ended, as a JSON array of span objects, to cog_free().
 * Errors: COG_EINVAL (not a plan id), COG_EUNAVAILABLE (no storage),
 * COG_ENOTFOUND (no span stored for that plan), COG_EIO.
 */
COG_API int cog_trace_read(cog_ctx *ctx, const char *plan_id, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_TRACE_H */
