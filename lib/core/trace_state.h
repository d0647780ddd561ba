/*
 * What the files of tracing share (trace.c: spans and the hook;
 * trace_metrics.c: counting ended spans, cog_ctx_metrics; trace_store.c:
 * spans queued for a storage log, cog_trace_read), and the per-context
 * state that ctx.c holds in the context. Not installed.
 */
#ifndef COG_CORE_TRACE_STATE_H
#define COG_CORE_TRACE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core_int.h"
#include "trace_int.h"
#include "cognition/trace.h"

/* ---- metrics (trace_metrics.c) ---- */

/* Latency buckets: bucket k holds [1 µs * 1.02^k, 1 µs * 1.02^(k+1)),
 * bucket 0 also everything shorter; 1200 of them reach ~5.8 hours and the
 * last takes everything longer (max is kept exactly). */
#define TRACE_BUCKETS 1200u
#define TRACE_BUCKET_RATIO 1.02
#define TRACE_BUCKET_MIN_NS 1000.0
/* Span kinds counted apart; more kinds than this go to "other". */
#define TRACE_KINDS 12u
/* Models and tools counted apart; more go to "(other)". */
#define TRACE_NAMES_MAX 256u

typedef struct trace_kind_stats {
	char kind[24];
	uint64_t count, errors;
	uint64_t sum_ns, max_ns;
	uint32_t *buckets;          /* TRACE_BUCKETS, made on first use */
} trace_kind_stats;

typedef struct trace_name_stats {
	char *name;
	uint64_t calls, errors, input_tokens, output_tokens;
	double cost;
} trace_name_stats;

typedef struct trace_metrics {
	int64_t since_ms;
	trace_kind_stats kinds[TRACE_KINDS];
	size_t n_kinds;
	uint64_t llm_calls, llm_input_tokens, llm_output_tokens;
	double llm_cost;
	trace_name_stats *models;
	size_t n_models, cap_models;
	uint64_t tool_calls;
	trace_name_stats *tools;
	size_t n_tools, cap_tools;
	uint64_t errors[32];        /* by -status (0: codes past the table) */
} trace_metrics;

/* What metrics need of an ended span (strings borrowed). */
typedef struct trace_ended {
	const char *kind;
	uint64_t duration_ns;
	int status;
	/* llm */
	const char *model;
	double input_tokens, output_tokens, cost;
	/* tool */
	const char *tool;
} trace_ended;

/* Count one ended span; called with the context's trace lock held. */
void trace_metrics_add(trace_metrics *m, const trace_ended *e);
/* Forget everything counted (lock held); since_ms becomes now. */
void trace_metrics_clear(trace_metrics *m);
/* Short name of a status for "errors" ("timeout", "budget", ...). */
const char *trace_status_kind(int status);

/* ---- the per-context state (held in the context by ctx.c) ---- */

struct cog__trace {
	pthread_mutex_t lock;       /* the hook and the metrics */
	cog_span_fn hook;
	void *hook_user_data;
	trace_metrics metrics;
};

/* The context's tracing state (ctx.c). */
struct cog__trace *cog__ctx_trace(struct cog_ctx *ctx);
/* The id of the calling thread's current span if it belongs to ctx, else
 * NULL: log lines carry it (trace.c). */
const char *trace_current_span_id(struct cog_ctx *ctx);

/* ---- spans (trace.c, trace_json.c) ---- */

typedef struct trace_store trace_store;

/* Attributes past this many are dropped (the built-in spans use < 20). */
#define SPAN_ATTRS 32u
#define SPAN_ARENA 768u

enum { ATTR_STR, ATTR_NUM, ATTR_BOOL, ATTR_JSON };

typedef struct span_attr {
	const char *key;            /* in the arena */
	int type;
	union { const char *s; double n; bool b; cJSON *j; } v;
} span_attr;

typedef struct span_chunk {
	struct span_chunk *next;
	char data[];
} span_chunk;

struct cog_span {
	struct cog_ctx *ctx;
	char id[17];
	char parent_id[17];         /* "" for a root span */
	char kind[24];
	const char *name;
	uint64_t start_mono_ns;
	int64_t start_unix_ns;
	trace_store *store;         /* a reference, or NULL */
	bool sets_store;            /* this span set it: write when it ends */
	size_t n_attrs;
	span_attr attrs[SPAN_ATTRS];
	span_chunk *chunks;
	size_t arena_used;
	char arena[SPAN_ARENA];
};

/* The span's JSON (cog_free), status 0 "ok" else "error" with the message
 * (redacted); NULL on OOM (trace_json.c). */
char *trace_span_json(const cog_span *s, uint64_t duration_ns, int status,
                      const char *message);

/* ---- stored spans (trace_store.c) ---- */

/* A storage log that spans are queued for, shared by the span that set it
 * and its descendants (reference counted). */
typedef struct trace_store trace_store;

/* A store for log `log` of ctx's storage; NULL on OOM (nothing stored). */
trace_store *trace_store_new(struct cog_ctx *ctx, const char *log);
void trace_store_ref(trace_store *store);
/* Drop a reference; the last one writes what is still queued. */
void trace_store_unref(trace_store *store);
/* Queue one span's JSON (taken: freed here); writes a batch once
 * TRACE_STORE_BATCH are queued. */
void trace_store_queue(trace_store *store, char *span_json);
/* Write what is queued, in one transaction. A failure is logged as a
 * warning and never reaches the caller (its error stays as it was). */
void trace_store_flush(trace_store *store);

#define TRACE_STORE_BATCH 64u

#endif /* COG_CORE_TRACE_STATE_H */
